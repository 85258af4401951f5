"""Exact fast solvers of the pure game core (``docs/solvers.md``): the Stackelberg
solvers (one defender, several attacks, schedules) and the NSE deviation oracle. The
NSE finder is the package :mod:`sim.nse` (``docs/nse.md``).

Slow LP references live in :mod:`sim.solvers.reference` and are used only by tests and
benchmarks.
"""

from sim.solvers.deviation import (
    DeviationValue,
    NSEViolation,
    combined_coverage,
    deviation_value,
    is_nse,
    nse_violation,
    others_coverage,
)
from sim.solvers.multi_attack import (
    MultiAttackNash,
    MultiAttackSSE,
    is_nash_coverage,
    multi_attack_nash,
    multi_attack_sse,
    multi_attack_violation,
    sse_by_enumeration,
)
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
from sim.solvers.schedules import ScheduleSSE, schedule_sse, schedule_sse_by_enumeration

__all__ = [
    "DeviationValue",
    "MaxCoverage",
    "MultiAttackNash",
    "MultiAttackSSE",
    "NSEViolation",
    "ScheduleSSE",
    "StackelbergOutcome",
    "attacker_level",
    "combined_coverage",
    "deviation_value",
    "is_nash_coverage",
    "is_nse",
    "max_coverage",
    "multi_attack_nash",
    "multi_attack_sse",
    "multi_attack_violation",
    "need",
    "nse_violation",
    "origami_level",
    "others_coverage",
    "schedule_sse",
    "schedule_sse_by_enumeration",
    "single_defender_sse",
    "sse_by_enumeration",
    "utilities_at_max_coverage",
]
