"""Run from the repository root: ``python -m bench.nse`` (or ``make bench``).

Time ``compute_nse`` (NSE found and verified) on n = 5, m = 50 games.

Issue 3's goal is well under 1 ms so that CSW-Max including its NSE stays >= 200x
faster than the one-LP-per-target implementation; this prints the time per game, the
verification time alone, and the ratio against the LP reference of the pooled solver
(m HiGHS LPs) measured in the same run.
"""

from __future__ import annotations

import time

import numpy as np

from sim.generators import make_generator
from sim.solvers import find_nse, nse_violation
from sim.solvers.reference import lp_max_coverage


def main() -> None:
    gen = make_generator("uniform", n_defenders=5, n_targets=50, resources={"low": 1, "high": 5})
    rng = np.random.default_rng(2020)
    games = [gen.sample(rng) for _ in range(5)]
    nse_times, verify_times, lp_times, verified = [], [], [], 0
    for game in games:
        start = time.perf_counter()
        result = find_nse(game)
        nse_times.append(time.perf_counter() - start)
        verified += result.verified
        if result.verified:
            start = time.perf_counter()
            nse_violation(game, result.coverage, result.attacked_target)
            verify_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        lp_max_coverage(game)
        lp_times.append(time.perf_counter() - start)
    t_nse, t_lp = float(np.median(nse_times)), float(np.median(lp_times))
    print(f"bench/nse.py  n=5 m=50  ({len(games)} games, {verified} verified)")
    print(f"  compute_nse (find + verify)  : {t_nse * 1e3:9.2f} ms/game (median)")
    if verify_times:
        print(f"  nse_violation (verify only)  : {np.median(verify_times) * 1e3:9.3f} ms/game")
    print(f"  LP reference, m HiGHS LPs    : {t_lp * 1e3:9.2f} ms/game")
    print(f"  LP time / compute_nse time   : {t_lp / t_nse:9.2f}x  (goal: NSE well under 1 ms)")


if __name__ == "__main__":
    main()
