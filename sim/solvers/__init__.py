"""Exact fast solvers of the pure game core (``docs/solvers.md``, ``docs/nse.md``).

Slow LP references live in :mod:`sim.solvers.reference` and are used only by tests and
benchmarks.
"""

from sim.solvers.bounds import NSEUtilityRange, excluded_targets, nse_utility_range
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
from sim.solvers.nse import (
    NSEResult,
    canonical_split,
    clear_nse_cache,
    compute_nse,
    find_nse,
    nse_strategies,
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
    "NSEResult",
    "NSEUtilityRange",
    "NSEViolation",
    "ScheduleSSE",
    "StackelbergOutcome",
    "attacker_level",
    "canonical_split",
    "clear_nse_cache",
    "combined_coverage",
    "compute_nse",
    "deviation_value",
    "excluded_targets",
    "find_nse",
    "is_nash_coverage",
    "is_nse",
    "max_coverage",
    "multi_attack_nash",
    "multi_attack_sse",
    "multi_attack_violation",
    "need",
    "nse_strategies",
    "nse_utility_range",
    "nse_violation",
    "origami_level",
    "others_coverage",
    "schedule_sse",
    "schedule_sse_by_enumeration",
    "single_defender_sse",
    "sse_by_enumeration",
    "utilities_at_max_coverage",
]
