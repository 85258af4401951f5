"""Run from the repository root: ``python -m bench.nse`` (or ``make bench``).

Time ``compute_nse`` (NSE found and verified, uncached) on n = 5, m = 50 games.

Issue 3's goal is well under 1 ms so that CSW-Max including its NSE stays >= 200x
faster than the one-LP-per-target implementation; this prints the median and the 90th
percentile per game, the verification time alone, and the ratio against the LP
reference of the pooled solver (m HiGHS LPs) measured in the same run.
"""

from __future__ import annotations

import collections
import time

import numpy as np

from sim.generators import make_generator
from sim.nse import find_nse
from sim.solvers import nse_violation
from sim.solvers.reference import lp_max_coverage


def main() -> None:
    gen = make_generator("uniform", n_defenders=5, n_targets=50, resources={"low": 1, "high": 5})
    rng = np.random.default_rng(2020)
    games = [gen.sample(rng) for _ in range(40)]
    find_nse(games[0])  # warm up imports and caches of numpy/scipy
    nse_times, verify_times, lp_times = [], [], []
    phases: collections.Counter[str] = collections.Counter()
    for game in games:
        start = time.perf_counter()
        result = find_nse(game)
        nse_times.append(time.perf_counter() - start)
        phases[result.phase if result.verified else "failed"] += 1
        if result.verified:
            start = time.perf_counter()
            nse_violation(game, result.coverage, result.attacked_target)
            verify_times.append(time.perf_counter() - start)
    for game in games[:5]:
        start = time.perf_counter()
        lp_max_coverage(game)
        lp_times.append(time.perf_counter() - start)
    t_nse, t_lp = float(np.median(nse_times)), float(np.median(lp_times))
    p90 = float(np.quantile(nse_times, 0.9))
    print(f"bench/nse.py  n=5 m=50  ({len(games)} games; found by {dict(phases)})")
    print(f"  compute_nse (find + verify)  : {t_nse * 1e3:9.3f} ms/game (median; goal well < 1 ms)")
    print(f"  compute_nse, 90th percentile : {p90 * 1e3:9.3f} ms/game")
    if verify_times:
        print(f"  nse_violation (verify only)  : {np.median(verify_times) * 1e3:9.3f} ms/game")
    print(f"  LP reference, m HiGHS LPs    : {t_lp * 1e3:9.3f} ms/game")
    print(f"  LP time / compute_nse time   : {t_lp / t_nse:9.1f}x")


if __name__ == "__main__":
    main()
