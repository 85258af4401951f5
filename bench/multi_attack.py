"""Run from the repository root: ``python -m bench.multi_attack`` (or ``make bench``).

The multiple-attack Nash equilibrium (``sim.solvers.multi_attack_nash``, the monotone
threshold search) against the explicit bimatrix game solved by the mixed-integer
program of Sandholm, Gilpin and Conitzer (2005) (``sim.solvers.reference``), both
timed in this run on the same games at m = 8; then the search alone at m = 100 and
m = 1000, every answer certified by the equilibrium test.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from sim.game import SecurityGame
from sim.solvers import multi_attack_nash, multi_attack_violation
from sim.solvers.reference import bimatrix_nash, explicit_game


def game(rng: np.random.Generator, m: int, budget: int, attacks: int) -> SecurityGame:
    """Rewards may be negative: p ~ U(-10, 0), r = p + U(0.1, 10), for both players."""
    dp, ap = rng.uniform(-10, 0, m), rng.uniform(-10, 0, m)
    return SecurityGame(
        defender_reward=[dp + rng.uniform(0.1, 10, m)],
        defender_penalty=[dp],
        attacker_reward=ap + rng.uniform(0.1, 10, m),
        attacker_penalty=ap,
        resources=[budget],
        attacker_resources=attacks,
    )


def main() -> None:
    rng = np.random.default_rng(2011)
    small = [game(rng, 8, 3, 2) for _ in range(10)]
    ours, reference = [], []
    for g in small:
        start = time.perf_counter()
        multi_attack_nash(g)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        _, _, defender, attacker = explicit_game(g)
        bimatrix_nash(defender, attacker)
        reference.append(time.perf_counter() - start)
    fast, slow = statistics.median(ours), statistics.median(reference)
    print("bench/multi_attack.py  one defender, rewards may be negative")
    print(f"  m=8, K=3, n_a=2 ({len(small)} games; the explicit game is 56 x 28)")
    print(f"    multi_attack_nash          : {fast * 1e3:9.2f} ms median")
    print(f"    bimatrix MILP reference    : {slow * 1e3:9.2f} ms median")
    print(f"    speed-up                   : {slow / fast:9.0f}x")
    for m in (100, 1000):
        times, worst = [], 0.0
        for _ in range(5):
            g = game(rng, m, m // 5, m // 10)
            start = time.perf_counter()
            nash = multi_attack_nash(g)
            times.append(time.perf_counter() - start)
            v = multi_attack_violation(g, nash.coverage, nash.attack)
            worst = max(worst, v.defender_gain, v.attacker_gain)
        print(
            f"  m={m}, K={m // 5}, n_a={m // 10}: median {statistics.median(times) * 1e3:.1f} ms, "
            f"max {max(times) * 1e3:.1f} ms, worst certificate gain {worst:.1e}"
        )


if __name__ == "__main__":
    main()
