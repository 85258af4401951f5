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
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from bench.timing import best_time
from sim.solvers.behavioural import (
    LogitOptimum,
    best_against_logit,
    best_against_logit_by_signal,
    logit_value,
)

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


HEADER = f"{'m':>3} {'lambda':>7} {'optimiser ms':>13} {'brute ms':>9} {'ratio':>7} {'held':>5}"

#: One problem: the optimiser (returning its certified upper bound) and brute force
#: (returning its best; None where the grid is out of reach).
Case = tuple[Callable[[], float], Callable[[], float] | None]


def measure(m: int, precision: float, cases: Iterable[Case]) -> None:
    """Time each case's optimiser and brute force, check the bound, print the row."""
    ours: list[float] = []
    theirs: list[float] = []
    held = True
    for solve, brute in cases:
        upper = solve()
        ours.append(best_time(solve))
        if brute is not None:
            theirs.append(best_time(brute))
            held &= brute() <= upper + 1e-9
    mine = np.median(ours) * 1e3
    if theirs:
        base = np.median(theirs) * 1e3
        print(f"{m:>3} {precision:>7g} {mine:>13.1f} {base:>9.1f} {base / mine:>7.2f} {held!s:>5}")
    else:
        print(f"{m:>3} {precision:>7g} {mine:>13.1f} {'-':>9} {'-':>7} {'-':>5}")


def _upper(solve: Callable[[], LogitOptimum | tuple[LogitOptimum, np.ndarray]]) -> float:
    """The certified upper bound of an optimiser's result (alone or with its y)."""
    found = solve()
    return float((found[0] if isinstance(found, tuple) else found).upper)


def pooled_cases(m: int, precision: float) -> Iterator[Case]:
    rng = np.random.default_rng(m)
    points = grid(m, 40) if m <= 5 else None
    for _ in range(SEEDS):
        a, b, p, g = problem(rng, m, precision)
        solve = functools.partial(best_against_logit, a, b, p, g, budget=1.0, max_gap=1e-3)
        brute = None if points is None else functools.partial(brute_force, a, b, p, g, points)
        yield functools.partial(_upper, solve), brute


def signal_cases(m: int, precision: float) -> Iterator[Case]:
    rng = np.random.default_rng(10 + m)
    own = grid(m, 8) if m <= 4 else None
    for _ in range(SEEDS):
        a, b, p, g = problem(rng, m, precision)
        share = rng.uniform(0.2, 0.5, size=(2, m))
        found, y = best_against_logit_by_signal(a, b, p, g, weight=share, budget=1.0, max_gap=1e-4)
        assert abs(logit_value(a, b, p, g, (share * y).sum(axis=0)) - found.value) < 1e-9
        solve = functools.partial(
            best_against_logit_by_signal, a, b, p, g, weight=share, budget=1.0, max_gap=1e-4
        )
        brute = None
        if own is not None:
            added = ((share[0] * own)[:, None, :] + (share[1] * own)[None, :, :]).reshape(-1, m)
            brute = functools.partial(brute_force, a, b, p, g, added)
        yield functools.partial(_upper, solve), brute


def main() -> None:
    start = time.perf_counter()
    print("best_against_logit (one budget, gap 1e-3) vs brute force on a 1/40 grid")
    print(HEADER)
    for m, precision in itertools.product((2, 3, 4, 5, 10, 20), (1.0, 10.0)):
        measure(m, precision, pooled_cases(m, precision))
    print()
    print("best_against_logit_by_signal (two signals, budget 1, gap 1e-4) vs brute force on")
    print("every pair of the signals' 1/8 grid points")
    print(HEADER)
    for m, precision in itertools.product((2, 3, 4, 10), (1.0, 10.0)):
        measure(m, precision, signal_cases(m, precision))
    print(f"\n({time.perf_counter() - start:.0f} s; times are medians over {SEEDS} problems)")


if __name__ == "__main__":
    main()
