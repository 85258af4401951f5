"""Named numerical tolerances and tie-breaking modes, in one place.

Every comparison of floating-point utilities in the project goes through one of these
constants (or an explicit ``tol=`` keyword that defaults to one of them), so that no
result is an accident of ``argmax`` or of rounding. Utility tolerances are fractions of
the compared player's payoff range (her largest reward minus her lowest penalty): the
solvers work in the game's standard form and the audits scale them by the range
(``docs/solvers.md`` §0), so no result depends on the payoffs' units.
"""

from __future__ import annotations

from typing import Any, Final, Literal

#: Two attacker utilities closer than this are a tie: both targets are best responses.
BR_TOL: Final = 1e-9

#: A target whose attacker reward is this far below the pooled ORIGAMI level is no
#: best response to any coverage the defenders can afford (every level is at least the
#: pooled one), so the NSE finder leaves it out (``docs/nse.md`` §1.4).
ATTACK_MARGIN: Final = 2 * BR_TOL

#: A budget is "spent" when what is left is below this. Budgets bind exactly in an
#: equilibrium, so a smaller value would read rounding noise as spare resources and
#: make valid equilibria look refutable (``docs/nse.md`` §4.4).
BUDGET_TOL: Final = 1e-7

#: Utility comparisons in property audits (Pareto dominance, utility preservation).
UTILITY_TOL: Final = 1e-9

#: A deviation or misreport "pays" only when it gains more than this.
GAIN_TOL: Final = 1e-7

#: Coverage vectors may exceed their budget or [0, 1] by at most this (rounding).
COVERAGE_TOL: Final = 1e-9

#: A root-finding solve (Newton, least squares) is accepted when every equation holds
#: to this; the oracle then certifies the profile it gives.
RESIDUAL_TOL: Final = 1e-9

#: The damped Newton iterations stop when every residual is below this.
NEWTON_TOL: Final = 1e-12

#: How far above the floor level :math:`\max_t p^a(t)` (relative to its scale) the
#: interior solves start: there every demand is below 1 (floor NSEs are solved at the
#: floor itself).
FLOOR_NUDGE: Final = 1e-12

#: An LP's rounding (HiGHS): two attacker levels of the IR audit's LPs closer than this
#: (in the attacker's standard units) are equal.
LP_TOL: Final = 1e-9

#: The relative optimality gap at which HiGHS's MIP solver stops (through
#: :func:`scipy.optimize.milp`): far below its default of 1e-4, so that the MILPs
#: whose optimum is the answer (the multi-attack SSE, the schedule pricing) return the
#: optimum and not a point within 0.01% of it.
MIP_GAP: Final = 1e-9

#: Rounding noise in a quantity of order 1 (a coverage, a probability, a standard
#: utility): values closer than this are equal where the code needs exact ties.
ROUNDING_TOL: Final = 1e-12

#: Others' coverage at least this close to 1 counts as full: her coverage there is
#: inert (the deviation oracle).
FULL_TOL: Final = 1e-12

#: Matchings are peeled off a coverage until less than this much probability is left
#: (Birkhoff-von Neumann sampling).
PEEL_TOL: Final = 1e-12

#: The canonical split's condition A: two defender utilities this close are equal.
PREFERENCE_TOL: Final = 1e-12

#: The canonical split's rule B: a defender may keep spare resources when she likes a
#: pinned target no better than tau, to within this.
SPARE_TOL: Final = 1e-12

#: A defender's share solved for in the exact split (``docs/nse.md`` §2.2) stays at least
#: this far below 1, and inside a logarithm it is clipped :data:`LOG_GUARD` below 1, so
#: that :math:`\log(1 - c)` stays finite.
SHARE_MARGIN: Final = 1e-12
LOG_GUARD: Final = 1e-15

#: The Levenberg-Marquardt damping of the batched exact split is at least this share
#: of the largest diagonal entry (a share alone on its budget and its target makes two
#: proportional rows of the Jacobian).
DAMPING_FLOOR: Final = 1e-12

#: A report the misreport search builds puts each reward at least this share of the
#: defender's payoff range above its penalty.
REPORT_GAP: Final = 1e-9

#: The schedule solvers' values and probabilities (LP optima and mixture weights)
#: closer than this are equal.
SCHEDULE_TOL: Final = 1e-9

TieBreaking = Literal["designated", "pessimistic", "optimistic", "lowest_index", "random"]
TIE_BREAKING_MODES: Final[tuple[str, ...]] = (
    "designated",
    "pessimistic",
    "optimistic",
    "lowest_index",
    "random",
)


def failure_threshold(payoff_range: Any, min_gain: float = GAIN_TOL) -> Any:
    """The least gain that counts as a failure: ``min_gain`` times the defender's
    payoff range (numbers, arrays or pandas Series)."""
    return min_gain * payoff_range


def is_failure(gain: Any, payoff_range: Any, min_gain: float = GAIN_TOL) -> Any:
    """The failure rule, the one place it is written: a misreport or a deviation makes
    the defender's property fail when its gain exceeds :func:`failure_threshold`
    (False for a NaN gain: callers mark what was not tested)."""
    return gain > failure_threshold(payoff_range, min_gain)
