"""Timing shared by the benches."""

from __future__ import annotations

import time
from collections.abc import Callable

#: Calls per measurement: each time is the fastest of these (``timeit``'s convention:
#: the slower calls differ by what else the machine did, not by the code). On this
#: project's 2-core VM a single call of a 1 ms solve reads 5-15% above its best.
REPEATS = 3


def best_time(call: Callable[[], object], before: Callable[[], object] | None = None) -> float:
    """Seconds of the fastest of :data:`REPEATS` calls of ``call``; ``before`` runs
    untimed ahead of each (e.g. to empty a memo, so every call computes afresh)."""
    best = float("inf")
    for _ in range(REPEATS):
        if before is not None:
            before()
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best
