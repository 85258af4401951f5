"""What a mechanism returns: an outcome (coverage, attacked target) with its
recommendation strategy (Gan et al. 2020, Sections 2 and 5.1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from sim.errors import InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.payoffs import attacked_targets
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
