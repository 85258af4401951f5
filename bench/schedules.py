"""Run from the repository root: ``python -m bench.schedules`` (or ``make bench``).

Stackelberg strategies with schedules (``sim.solvers.schedule_sse``), each row of
the complexity table on random games (p ~ U(-10, 0), r = p + U(0.1, 10) for both
players):

* the polynomial rows at m = 50 and 200 -- heterogeneous resources on single targets
  (LP + Birkhoff-von Neumann), homogeneous resources on the edges of a bipartite graph
  (LP + decomposition) and of a general graph with odd cycles (column generation) --
  against the LP over every pure strategy, timed in the same run where it fits in
  memory (two resources), and alone with m/10 resources;
* the NP-hard rows (heterogeneous pairs, triples) by column generation with a MILP
  pricing step: the largest m solved within 10 s.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from bench import multi_attack
from sim.errors import InvalidParameterError
from sim.game import SecurityGame
from sim.solvers.schedules import HARD_TARGET_LIMIT, schedule_sse, schedule_sse_by_enumeration

BUDGET_SECONDS = 10.0


def game(rng: np.random.Generator, m: int, resources: int) -> SecurityGame:
    """One defender with ``resources``; the payoff family of ``bench/multi_attack.py``."""
    return multi_attack.game(rng, m, resources, 1)


def instance(rng: np.random.Generator, row: str, m: int, k: int) -> tuple:
    """(schedules, resource_schedules) of a row of the table."""
    if row == "single targets, heterogeneous":
        return [(t,) for t in range(m)], [
            rng.choice(m, m // 2, replace=False).tolist() for _ in range(k)
        ]
    if row == "pairs, homogeneous, bipartite":
        pairs = [(a, b) for a in range(0, m, 2) for b in range(1, m, 2)]
        return [pairs[i] for i in rng.choice(len(pairs), 2 * m, replace=False)], None
    if row == "pairs, homogeneous, odd cycles":
        pairs = list(itertools.combinations(range(m), 2))
        return [pairs[i] for i in rng.choice(len(pairs), 2 * m, replace=False)], None
    size = 2 if row == "pairs, heterogeneous" else 3
    sets = [tuple(sorted(rng.choice(m, size, replace=False).tolist())) for _ in range(2 * m)]
    mine = None
    if row == "pairs, heterogeneous":
        mine = [rng.choice(len(sets), len(sets) // 2, replace=False).tolist() for _ in range(k)]
    return sets, mine


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    out = function(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    rng = np.random.default_rng(2010)
    print("bench/schedules.py  one defender, rewards may be negative")
    print("  polynomial rows: schedule_sse vs the LP over every pure strategy (2 resources)")
    for row in (
        "single targets, heterogeneous",
        "pairs, homogeneous, bipartite",
        "pairs, homogeneous, odd cycles",
    ):
        for m in (50, 200):
            g = game(rng, m, 2)
            schedules, mine = instance(rng, row, m, 2)
            fast, seconds = timed(schedule_sse, g, schedules, resource_schedules=mine)
            try:
                slow, reference = timed(
                    schedule_sse_by_enumeration, g, schedules, resource_schedules=mine
                )
                same = abs(fast.defender_utility - slow.defender_utility) <= 1e-7
                versus = (
                    f"reference {reference:7.2f} s, {reference / seconds:6.0f}x, same value: {same}"
                )
            except InvalidParameterError as exc:
                versus = f"reference does not run ({exc})"
            big = game(rng, m, m // 10)
            schedules, mine = instance(rng, row, m, m // 10)
            _, alone = timed(schedule_sse, big, schedules, resource_schedules=mine)
            print(
                f"    {row:<32} m={m:<4} {fast.method:<11} {seconds * 1e3:8.1f} ms; {versus}; "
                f"K={m // 10}: {alone * 1e3:.0f} ms"
            )
    print(f"  NP-hard rows: the largest m solved within {BUDGET_SECONDS:.0f} s")
    for row in ("pairs, heterogeneous", "triples, homogeneous"):
        for k in (3, 10):
            reached, last = 0, 0.0
            for m in (20, 40, 80, 160, HARD_TARGET_LIMIT):
                g = game(rng, m, k)
                schedules, mine = instance(rng, row, m, k)
                _, seconds = timed(schedule_sse, g, schedules, resource_schedules=mine)
                if seconds > BUDGET_SECONDS:
                    break
                reached, last = m, seconds
            print(
                f"    {row:<32} K={k:<3} m={reached} in {last:.2f} s "
                f"(the exact method's limit: {HARD_TARGET_LIMIT} targets)"
            )


if __name__ == "__main__":
    main()
