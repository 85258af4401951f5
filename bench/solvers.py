"""Run from the repository root: ``python -m bench.solvers`` (or ``make bench``).

Time ``attacker_level`` + ``max_coverage`` against the one-LP-per-target reference.

n = 5 defenders, m = 50 targets, uniform games; both timed in this run, ratio printed.
Goal (issue 2): >= 500x.
"""

from __future__ import annotations

import time

import numpy as np

from sim.generators import make_generator
from sim.solvers import attacker_level, max_coverage
from sim.solvers.reference import lp_max_coverage


def best_of(fn, repeat: int) -> float:
    """Best mean time per call over 3 rounds of ``repeat`` calls (seconds)."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        times.append((time.perf_counter() - start) / repeat)
    return min(times)


def main() -> None:
    gen = make_generator("uniform", n_defenders=5, n_targets=50, resources={"low": 1, "high": 5})
    rng = np.random.default_rng(2020)
    games = [gen.sample(rng) for _ in range(20)]

    def fast() -> None:
        for game in games:
            attacker_level(game)
            max_coverage(game)

    def slow() -> None:
        for game in games:
            lp_max_coverage(game)

    t_fast = best_of(fast, 50) / len(games)
    t_slow = best_of(slow, 1) / len(games)
    print(f"bench/solvers.py  n=5 m=50  ({len(games)} games)")
    print(f"  attacker_level + max_coverage : {t_fast * 1e6:9.1f} us/game")
    print(f"  LP reference (m HiGHS LPs)    : {t_slow * 1e6:9.1f} us/game")
    print(f"  speed-up                      : {t_slow / t_fast:9.0f}x  (goal >= 500x)")


if __name__ == "__main__":
    main()
