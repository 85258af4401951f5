"""Exact fast solvers of the pure game core (``notes/solvers.md``).

Slow LP references live in :mod:`sim.solvers.reference` and are used only by tests and
benchmarks.
"""

from sim.solvers.origami import (
    MaxCoverage,
    StackelbergOutcome,
    attacker_level,
    max_coverage,
    need,
    origami_level,
    single_defender_sse,
    utilities_at_max_coverage,
)

__all__ = [
    "MaxCoverage",
    "StackelbergOutcome",
    "attacker_level",
    "max_coverage",
    "need",
    "origami_level",
    "single_defender_sse",
    "utilities_at_max_coverage",
]
