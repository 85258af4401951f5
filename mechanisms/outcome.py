"""What a mechanism returns: an outcome (coverage, attacked target) with its
recommendation strategy (Gan et al. 2020, Sections 2 and 5.1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import linprog

from sim.errors import InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.numerics import BR_TOL, COVERAGE_TOL
from sim.payoffs import attacked_targets, best_responses
from sim.sampling import IndependentRecommendation, Recommendation

OutcomeStatus = Literal["ok", "failed"]


@dataclass(frozen=True, eq=False)
class MechanismOutcome:
    """A mechanism's outcome on a *reported* game.

    Attributes
    ----------
    mechanism : str
        The registry name.
    params : Mapping
        The mechanism's parameters.
    coverage : ndarray, shape (m,)
        The pooled coverage :math:`\\mathrm{cov}(x)`.
    attacked_target : int
        The designated target t (a best response to ``coverage``; strictly so when
        ``epsilon > 0``).
    defender_utility : ndarray, shape (n,)
        :math:`U_i^d(x, t)` under the reported types.
    status_quo_utility : ndarray, shape (n,) or None
        The utilities the mechanism protected (the NSE's for the UP-constrained ones).
    recommendation : Recommendation or IndependentRecommendation
        Joint pure strategies with ownership (or independent play, for ``nse``).
    status : {"ok", "failed"}
    epsilon : float
        How much the attacked target's coverage was lowered to make it the strict
        best response (0: the paper's designated tie-breaking).
    message : str
    leader : int
        The defender the mechanism distinguished (the dictator; the random dictator's
        draw), or -1 when it distinguishes nobody.
    attacked_targets : tuple of int
        The attacked set the outcome was planned for, sorted: ``(attacked_target,)``
        for the mechanisms that plan for one attack (the default), the ``n_a``
        targets for those that plan for the game's ``attacker_resources``; then
        ``attacked_target`` is its first and ``defender_utility`` is additive over
        it.
    """

    mechanism: str
    params: Mapping[str, Any]
    coverage: FloatArray
    attacked_target: int
    defender_utility: FloatArray
    status_quo_utility: FloatArray | None
    recommendation: Recommendation | IndependentRecommendation | None
    status: OutcomeStatus = "ok"
    epsilon: float = 0.0
    message: str = field(default="")
    leader: int = -1
    attacked_targets: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.attacked_targets and self.attacked_target >= 0:
            object.__setattr__(self, "attacked_targets", (int(self.attacked_target),))

    @property
    def ok(self) -> bool:
        """Whether the mechanism produced an outcome."""
        return self.status == "ok"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MechanismOutcome):
            return NotImplemented
        same_sq = (self.status_quo_utility is None) == (other.status_quo_utility is None) and (
            self.status_quo_utility is None
            or np.array_equal(self.status_quo_utility, other.status_quo_utility)  # type: ignore[arg-type]
        )
        return (
            self.mechanism == other.mechanism
            and self.attacked_targets == other.attacked_targets
            and self.status == other.status
            and np.array_equal(self.coverage, other.coverage)
            and np.array_equal(self.defender_utility, other.defender_utility)
            and bool(same_sq)
        )

    __hash__ = None  # type: ignore[assignment]

    def key(self) -> tuple[str, tuple[int, ...], bytes]:
        """Identifies the outcome by content (mechanism, targets, coverage): caches use
        it, so a randomised mechanism's repeated outcomes are recognised."""
        return (self.mechanism, self.attacked_targets, self.coverage.tobytes())

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (no recommendation support)."""
        return {
            "mechanism": self.mechanism,
            "status": self.status,
            "attacked_target": self.attacked_target,
            "attacked_targets": list(self.attacked_targets),
            "coverage": self.coverage.tolist(),
            "defender_utility": self.defender_utility.tolist(),
            "status_quo_utility": None
            if self.status_quo_utility is None
            else self.status_quo_utility.tolist(),
            "epsilon": self.epsilon,
            "message": self.message,
            "leader": self.leader,
        }


def designated_set(
    game: SecurityGame, outcome: MechanismOutcome, attacks: int | None = None
) -> tuple[int, ...]:
    """The attacked set ``outcome`` designates against ``attacks`` attacks (default:
    the game's ``attacker_resources``): its own ``attacked_targets`` when it planned
    for that many, else completed by the attacker's best response to its coverage
    with the designated targets first (a mechanism that plans for one attack meets a
    stronger attacker)."""
    count = game.attacker_resources if attacks is None else attacks
    if len(outcome.attacked_targets) == count:
        return outcome.attacked_targets
    if not outcome.ok:
        raise InvalidParameterError("designated_set.outcome is a failed outcome")
    return attacked_targets(
        game, outcome.coverage, attacks=count, designated=outcome.attacked_targets
    )


def outcome_problem(game: SecurityGame, outcome: MechanismOutcome) -> str | None:
    """Why a successful ``outcome`` is not an outcome of ``game`` (None when it is):
    its coverage must be finite, within [0, 1], implementable by the defenders'
    resources (within their jurisdictions, by the flow LP of ``docs/jurisdictions.md``
    §4; with schedules, no more than the resources' schedules can hold, and only
    targets of some schedule), its attacked targets in range and, against one
    attack, the designated target a best response of the attacker (to within
    ``BR_TOL`` of the attacker's payoff range); its utilities finite. Studies record
    an outcome that fails this as a failure with the reason, so a faulty plug-in
    never yields certified rows."""
    m, n = game.n_targets, game.n_defenders
    coverage = np.asarray(outcome.coverage, dtype=np.float64)
    if coverage.shape != (m,):
        return f"its coverage has shape {coverage.shape}, not ({m},)"
    if not np.all(np.isfinite(coverage)):
        return f"its coverage is not finite ({coverage.tolist()})"
    if coverage.min() < -COVERAGE_TOL or coverage.max() > 1.0 + COVERAGE_TOL:
        return f"its coverage leaves [0, 1] ({coverage.min():.6g} to {coverage.max():.6g})"
    reach = 1 if game.schedules is None else max(len(s) for s in game.schedules)
    if coverage.sum() > game.total_resources * reach + m * COVERAGE_TOL:
        total = game.total_resources * reach
        return f"its coverage sums to {coverage.sum():.6g}, more than the resources guard ({total})"
    if game.schedules is not None:
        reachable = np.zeros(m, dtype=bool)
        reachable[[t for schedule in game.schedules for t in schedule]] = True
        if np.any(coverage[~reachable] > COVERAGE_TOL):
            return "its coverage covers targets that no schedule holds"
    if game.restricted and not _implementable(game, np.clip(coverage, 0.0, 1.0)):
        return "its coverage cannot be implemented within the defenders' jurisdictions"
    targets = outcome.attacked_targets
    if not targets or any(not 0 <= t < m for t in targets):
        return f"its attacked targets {list(targets)} are not targets of the game"
    if len(targets) == 1:
        if targets[0] not in best_responses(game, coverage, tol=BR_TOL):
            return f"its attacked target {targets[0]} is not a best response to its coverage"
    utility = np.asarray(outcome.defender_utility, dtype=np.float64)
    if utility.shape != (n,) or not np.all(np.isfinite(utility)):
        return f"its defender utilities are not {n} finite numbers ({utility.tolist()})"
    return None


def _implementable(game: SecurityGame, coverage: FloatArray) -> bool:
    """Whether shares x_it >= 0 of the defenders' resources on their allowed targets
    sum to ``coverage`` within every budget (a feasibility LP)."""
    owner, target = np.nonzero(game.allowed & (game.resources > 0)[:, None])
    size = owner.size
    if size == 0:  # nobody can cover anything
        return bool(np.all(np.abs(coverage) <= COVERAGE_TOL))
    to_target = np.zeros((game.n_targets, size))
    to_target[target, np.arange(size)] = 1.0
    budgets = np.zeros((game.n_defenders, size))
    budgets[owner, np.arange(size)] = 1.0
    result = linprog(
        np.zeros(size),
        A_ub=budgets,
        b_ub=game.resources.astype(np.float64) + COVERAGE_TOL,
        A_eq=to_target,
        b_eq=coverage,
        bounds=(0.0, 1.0),
    )
    return bool(result.status == 0)
