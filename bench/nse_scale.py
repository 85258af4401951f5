"""Run from the repository root: ``python -m bench.nse_scale [--games N] [--sizes ...]``.

``find_nse`` (found and verified by the exact oracle, uncached) at (n, m) in
{(2, 10), (5, 20), (5, 50), (12, 100), (20, 200), (20, 1000), (20, 10000)}, k_i uniform
on 1..5, on every payoff family (a goal holds only if it holds on all of them). Per
family and size it prints the median, 95th percentile and maximum time, the worst over
the median, the verified share, and two baselines timed in the same run on the same
games: the pooled solve (``max_coverage``, closed-form ORIGAMI with all K resources)
and one HiGHS LP of the pooled problem at the NSE's attacked target (LP-t, sparse).
Up to m = 200 it also prints the m-LP reference (one LP per target) over the median.
Each game is timed as the best of ``bench.timing.REPEATS`` calls, the baselines
likewise. Last, the goals of issue 28 per family: n = 20, m = 1000 median <= 10 ms;
n = 20, m = 10,000 median <= 100 ms; worst <= 10x the median; n = 5, m = 50 median
<= 0.9 ms.
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np

from bench.timing import REPEATS, best_time
from sim.generators import make_generator
from sim.nse import clear_nse_cache, find_nse
from sim.solvers import max_coverage
from sim.solvers.reference import lp_max_coverage, lp_max_coverage_of

SIZES = ((2, 10), (5, 20), (5, 50), (12, 100), (20, 200), (20, 1000), (20, 10000))
FAMILIES = (
    "uniform",
    "covariant",
    "nonoverlapping",
    "zero_sum_like",
    "negative_rewards",
    "integer",
    "identical_attacker",
)

#: The largest m at which the m-LP reference (one dense-enough LP per target) is timed.
M_LP_UP_TO = 200

#: (n, m): the median goal in ms; and the worst over the median at every size.
MEDIAN_GOALS = {(5, 50): 0.9, (20, 1000): 10.0, (20, 10000): 100.0}
WORST_OVER_MEDIAN = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=8, help="games per family and size")
    parser.add_argument("--lp-games", type=int, default=2, help="games timed with the m LPs")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument(
        "--sizes", default=",".join(f"{n}x{m}" for n, m in SIZES), help="e.g. 20x1000,20x10000"
    )
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes.split(",")]
    print(
        f"bench/nse_scale.py  {args.games} games per family and size, k_i in 1..5; "
        f"each game's time is the best of {REPEATS} calls (ours and the baselines alike)"
    )
    print(
        f"{'family':<19}{'n':>3}{'m':>6}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}"
        f"{'max/med':>9}{'verified':>10}{'/ pooled':>10}{'/ LP-t':>9}{'m-LP / med':>12}"
    )
    checks: list[tuple[str, float, float]] = []  # (what, measured, goal)
    for family in args.families.split(","):
        medians, products = [], []
        for n, m in sizes:
            rng = np.random.default_rng([2026, FAMILIES.index(family), n, m])  # fixed games
            generator = make_generator(
                family, n_defenders=n, n_targets=m, resources={"low": 1, "high": 5}
            )
            games = [generator.sample(rng) for _ in range(args.games)]
            times = [best_time(partial(find_nse, game), clear_nse_cache) for game in games]
            found = [find_nse(game) for game in games]
            pooled = [best_time(partial(max_coverage, game)) for game in games]
            lp_t = [
                best_time(partial(lp_max_coverage_of, g, r.attacked_target, g.total_resources))
                for g, r in zip(games[: args.lp_games], found, strict=False)
                if r.verified
            ]
            median, worst = float(np.median(times)), max(times)
            medians.append(median)
            products.append(n * m)
            m_lp = "-"
            if m <= M_LP_UP_TO and args.lp_games > 0:
                full = [best_time(partial(lp_max_coverage, g)) for g in games[: args.lp_games]]
                m_lp = f"{np.median(full) / median:.1f}x"
            per_lp = f"{median / np.median(lp_t):.2f}x" if lp_t else "-"
            print(
                f"{family:<19}{n:>3}{m:>6}{median * 1e3:>11.2f}"
                f"{np.quantile(times, 0.95) * 1e3:>9.2f}{worst * 1e3:>9.2f}"
                f"{worst / median:>9.1f}"
                f"{np.mean([r.verified for r in found]):>10.0%}"
                f"{median / np.median(pooled):>9.0f}x"
                f"{per_lp:>9}{m_lp:>12}"
            )
            label = f"{family} n={n} m={m}"
            goal = MEDIAN_GOALS.get((n, m))
            if goal is not None:
                checks.append((f"{label} median ms", median * 1e3, goal))
            checks.append((f"{label} max/median", worst / median, WORST_OVER_MEDIAN))
        if len(products) > 1:
            slope = np.polyfit(np.log(products), np.log(medians), 1)[0]
            print(f"{family:<19}slope of log(median) on log(nm): {slope:.2f}")
    print("\ngoals (issue 28, item 4); max/median shown where missed")
    met = 0
    for label, measured, goal in checks:
        ok = measured <= goal
        met += ok
        if not ok or label.endswith("ms"):
            print(f"  {label:<44}{measured:>9.2f}  goal <= {goal:<6g}{'met' if ok else 'MISSED'}")
    print(f"  {met} of {len(checks)} goals met")


if __name__ == "__main__":
    main()
