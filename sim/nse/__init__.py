"""The Nash-Stackelberg equilibrium of uncoordinated play (Gan et al. 2020,
Definition 2.1; ``docs/nse.md``): the finder and the batch of reported games it shares
its stages with, their building blocks, and bounds on the best and worst NSE.

Modules: :mod:`~sim.nse.finder` (``find_nse``, ``compute_nse``), :mod:`~sim.nse.kernel`
(the typed stages and the batched quick solve), :mod:`~sim.nse.split` (the canonical
split and its spending), :mod:`~sim.nse.exact` (the exact split),
:mod:`~sim.nse.extremes` (the best and the worst NSE, exactly), :mod:`~sim.nse.levels`
(the levels the NSEs attacking each target reach, for three defenders and more),
:mod:`~sim.nse.bounded` (projected Levenberg-Marquardt), :mod:`~sim.nse.linalg`
(stacks of small linear systems) and :mod:`~sim.nse.bounds` (the NSE utility range).
The exact oracle that certifies every NSE is :mod:`sim.solvers.deviation`.
"""

from sim.nse.bounds import NSEUtilityRange, excluded_targets, nse_utility_range
from sim.nse.extremes import (
    NSEExtremes,
    certified_extremes,
    exact_extremes,
    exact_extremes_apply,
    nse_extremes,
)
from sim.nse.finder import (
    NSEResult,
    clear_nse_cache,
    compute_nse,
    find_nse,
    nse_strategies,
)
from sim.nse.kernel import ReportNSEs, Stage, quick_nse_batch
from sim.nse.levels import LevelBounds, level_bounds, level_bounds_apply
from sim.nse.split import canonical_split

__all__ = [
    "LevelBounds",
    "NSEExtremes",
    "NSEResult",
    "NSEUtilityRange",
    "ReportNSEs",
    "Stage",
    "canonical_split",
    "certified_extremes",
    "clear_nse_cache",
    "compute_nse",
    "exact_extremes",
    "exact_extremes_apply",
    "excluded_targets",
    "find_nse",
    "level_bounds",
    "level_bounds_apply",
    "nse_extremes",
    "nse_strategies",
    "nse_utility_range",
    "quick_nse_batch",
]
