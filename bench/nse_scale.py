"""Run from the repository root: ``python -m bench.nse_scale [--games N]``.

``find_nse`` (found and verified by the exact oracle, uncached) at
(n, m) in {(2, 10), (5, 20), (5, 50), (12, 100), (20, 200)}, k_i uniform on 1..5, on
every payoff family (issue 12: a goal holds only if it holds on all of them). Per family
and size it prints the median, 95th percentile and maximum time, the verified share,
and the ratio of the m-LP pooled ORIGAMI problem of the same games (one HiGHS LP per
target, timed in this run) to the median; per family, the slope of log(median time)
against log(n m). Each game is timed as the best of ``bench.timing.REPEATS`` calls,
the LPs likewise.
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np

from bench.timing import REPEATS, best_time
from sim.generators import make_generator
from sim.solvers import clear_nse_cache, find_nse
from sim.solvers.reference import lp_max_coverage

SIZES = ((2, 10), (5, 20), (5, 50), (12, 100), (20, 200))
FAMILIES = (
    "uniform",
    "covariant",
    "nonoverlapping",
    "zero_sum_like",
    "negative_rewards",
    "integer",
    "identical_attacker",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=8, help="games per family and size")
    parser.add_argument("--lp-games", type=int, default=2, help="games timed with the LPs")
    parser.add_argument("--families", default=",".join(FAMILIES))
    args = parser.parse_args()
    print(
        f"bench/nse_scale.py  {args.games} games per family and size, k_i in 1..5; "
        f"each game's time is the best of {REPEATS} calls (ours and the LPs alike)"
    )
    print(
        f"{'family':<19}{'n':>3}{'m':>5}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}"
        f"{'verified':>10}{'LP / median':>13}"
    )
    for family in args.families.split(","):
        medians, sizes = [], []
        for n, m in SIZES:
            rng = np.random.default_rng([2026, FAMILIES.index(family), n, m])  # fixed games
            generator = make_generator(
                family, n_defenders=n, n_targets=m, resources={"low": 1, "high": 5}
            )
            games = [generator.sample(rng) for _ in range(args.games)]
            times = [best_time(partial(find_nse, game), clear_nse_cache) for game in games]
            verified = sum(bool(find_nse(game).verified) for game in games)
            lp = [best_time(partial(lp_max_coverage, game)) for game in games[: args.lp_games]]
            median = float(np.median(times))
            medians.append(median)
            sizes.append(n * m)
            print(
                f"{family:<19}{n:>3}{m:>5}{median * 1e3:>11.2f}"
                f"{np.quantile(times, 0.95) * 1e3:>9.2f}{max(times) * 1e3:>9.2f}"
                f"{verified / len(games):>10.0%}{np.median(lp) / median:>12.1f}x"
            )
        slope = np.polyfit(np.log(sizes), np.log(medians), 1)[0]
        print(f"{family:<19}slope of log(median) on log(nm): {slope:.2f}")


if __name__ == "__main__":
    main()
