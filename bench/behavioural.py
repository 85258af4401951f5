"""Run from the repository root: ``python -m bench.behavioural`` (or ``make bench``).

The certified optimisers against a logit attacker (``docs/behavioural.md`` §3, §5) on
random problems (scores a ~ N(0, 1), slopes b = -lambda U(0.5, 1.5), utilities
p ~ U(0, 1), gains g ~ U(0, 1), lambda in {1, 10}), each against brute force over a
grid, timed in the same run:

* ``best_against_logit`` (the pooled problem: one budget) to a certified gap of 1e-3
  against every grid point of step 1/40 within the budget;
* ``best_against_logit_by_signal`` (a defender's best modification: a budget per
  signal) to a gap of 1e-4 against every combination of the signals' grid points of
  step 1/8.

Each row prints the median time of both, their ratio (brute force over optimiser), and
whether the brute force's best stays below the optimiser's certified upper bound; the
brute force grows as (steps + m choose m) points and is left out where it would not
fit in memory (m > 5, m > 4), where the optimiser is timed alone. Brute force gives
no certificate: it is the reference the tests compare with, not a rival method.
"""

from __future__ import annotations

import functools
import itertools
import time

import numpy as np

from bench.timing import best_time
from sim.solvers.behavioural import best_against_logit, best_against_logit_by_signal, logit_value

SEEDS = 5


def problem(rng: np.random.Generator, m: int, precision: float) -> tuple[np.ndarray, ...]:
    """(a, b, p, g) of one random problem."""
    return (
        rng.normal(size=m),
        -precision * rng.uniform(0.5, 1.5, size=m),
        rng.uniform(size=m),
        rng.uniform(size=m),
    )


def brute_force(a, b, p, g, points: np.ndarray) -> float:
    """The largest F over ``points`` (rows: coverages)."""
    s = a + b * points
    w = np.exp(s - s.max(axis=1, keepdims=True))
    return float(((w * (p + g * points)).sum(axis=1) / w.sum(axis=1)).max())


def grid(m: int, steps: int) -> np.ndarray:
    """Every point of step 1/steps in [0, 1]^m whose coordinates sum to at most 1
    (stars and bars: m bars among steps + m slots)."""
    bars = np.array(list(itertools.combinations(range(steps + m), m)))
    parts = np.diff(np.concatenate([np.full((len(bars), 1), -1), bars], axis=1), axis=1) - 1
    return parts / steps


def _row(m: int, precision: float, ours: list[float], theirs: list[float], held: bool) -> None:
    mine = np.median(ours) * 1e3
    if theirs:
        base = np.median(theirs) * 1e3
        print(f"{m:>3} {precision:>7g} {mine:>13.1f} {base:>9.1f} {base / mine:>7.2f} {held!s:>5}")
    else:
        print(f"{m:>3} {precision:>7g} {mine:>13.1f} {'-':>9} {'-':>7} {'-':>5}")


HEADER = f"{'m':>3} {'lambda':>7} {'optimiser ms':>13} {'brute ms':>9} {'ratio':>7} {'held':>5}"


def pooled_rows() -> None:
    print("best_against_logit (one budget, gap 1e-3) vs brute force on a 1/40 grid")
    print(HEADER)
    for m, precision in itertools.product((2, 3, 4, 5, 10, 20), (1.0, 10.0)):
        rng = np.random.default_rng(m)
        points = grid(m, 40) if m <= 5 else None
        ours: list[float] = []
        theirs: list[float] = []
        held = True
        for _ in range(SEEDS):
            a, b, p, g = problem(rng, m, precision)

            def solve(a=a, b=b, p=p, g=g):
                return best_against_logit(a, b, p, g, budget=1.0, max_gap=1e-3)

            found = solve()
            ours.append(best_time(solve))
            if points is not None:
                theirs.append(best_time(functools.partial(brute_force, a, b, p, g, points)))
                held &= brute_force(a, b, p, g, points) <= found.upper + 1e-9
        _row(m, precision, ours, theirs, held)


def signal_rows() -> None:
    print("best_against_logit_by_signal (two signals, budget 1, gap 1e-4) vs brute force on")
    print("every pair of the signals' 1/8 grid points")
    print(HEADER)
    for m, precision in itertools.product((2, 3, 4, 10), (1.0, 10.0)):
        rng = np.random.default_rng(10 + m)
        own = grid(m, 8) if m <= 4 else None
        ours: list[float] = []
        theirs: list[float] = []
        held = True
        for _ in range(SEEDS):
            a, b, p, g = problem(rng, m, precision)
            share = rng.uniform(0.2, 0.5, size=(2, m))

            def solve(a=a, b=b, p=p, g=g, share=share):
                return best_against_logit_by_signal(
                    a, b, p, g, weight=share, budget=1.0, max_gap=1e-4
                )

            found, y = solve()
            assert abs(logit_value(a, b, p, g, (share * y).sum(axis=0)) - found.value) < 1e-9
            ours.append(best_time(solve))
            if own is not None:
                added = ((share[0] * own)[:, None, :] + (share[1] * own)[None, :, :]).reshape(-1, m)
                theirs.append(best_time(functools.partial(brute_force, a, b, p, g, added)))
                held &= brute_force(a, b, p, g, added) <= found.upper + 1e-9
        _row(m, precision, ours, theirs, held)


def main() -> None:
    start = time.perf_counter()
    pooled_rows()
    print()
    signal_rows()
    print(f"\n({time.perf_counter() - start:.0f} s; times are medians over {SEEDS} problems)")


if __name__ == "__main__":
    main()
