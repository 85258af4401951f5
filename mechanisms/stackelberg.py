"""The pooled Stackelberg mechanism, planned against the game's attacker resources.

The paper's mechanisms (Gan et al. 2020) plan for one attack; against an attacker who
hits ``n_a`` targets at once (Korzhyk, Conitzer and Parr 2011) they keep planning for
one (``planned_attacks = 1``). :class:`PooledStackelberg` plans for all of them: it
pools the reported resources and commits to the strong Stackelberg coverage of the
pooled game against ``n_a`` attacks (:func:`~sim.solvers.multi_attack_sse`, one MILP),
for the utilitarian objective or the dictator's. With one attack its utilitarian
outcome is worth what :class:`~mechanisms.rules.Utilitarian`'s is, and its dictator
outcome gives the dictator what :class:`~mechanisms.rules.Dictatorship` gives her.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mechanisms.base import Mechanism, failed_outcome, register_mechanism
from mechanisms.outcome import MechanismOutcome
from mechanisms.reports import outcomes_by_allocation
from sim.errors import InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.payoffs import set_utility
from sim.registry import params_of
from sim.sampling import Recommendation
from sim.solvers.multi_attack import SSE_TARGET_LIMIT, multi_attack_sse

OBJECTIVES = ("utilitarian", "dictator")


@register_mechanism("pooled_sse")
@dataclass(frozen=True)
class PooledStackelberg:
    """Pool the reported resources and commit to the strong Stackelberg coverage
    against the game's ``attacker_resources`` attacks.

    Parameters
    ----------
    objective : {"utilitarian", "dictator"}
        Whose utility the commitment maximises: the defenders' total (additive over
        the attacked set), or the dictator's (most resources, ties by the lowest
        index, as in ``dictatorship``; her ties are not broken for the others).

    Claims no property: with several attacks the paper's properties are not defined
    (its audits model one attack). Games with more than
    :data:`~sim.solvers.multi_attack.SSE_TARGET_LIMIT` targets get a failed outcome
    (the exact problem is NP-hard).
    """

    objective: str = "utilitarian"

    name: ClassVar[str]
    claims: ClassVar[frozenset[str]] = frozenset()
    conditional_claims: ClassVar[Mapping[str, str]] = {}
    uses_status_quo: ClassVar[bool] = False
    randomised: ClassVar[bool] = False
    planned_attacks: ClassVar[int | None] = None

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise InvalidParameterError(
                f"pooled_sse.objective must be one of {list(OBJECTIVES)}; got {self.objective!r}"
            )

    def prepared(self, true_game: SecurityGame) -> Mechanism:
        return self

    def allocate(self, game: SecurityGame, *, rng: np.random.Generator) -> MechanismOutcome:
        """The pooled game's strong Stackelberg coverage and its attacked set."""
        if game.restricted:
            return failed_outcome(
                self,
                game,
                "pooled_sse pools every resource and cannot respect jurisdictions "
                "(docs/jurisdictions.md); use the outcome-space mechanisms",
            )
        if game.n_targets > SSE_TARGET_LIMIT:
            return failed_outcome(
                self,
                game,
                f"pooled_sse solves games of at most {SSE_TARGET_LIMIT} targets exactly; "
                f"got n_targets={game.n_targets}",
            )
        leader = int(np.argmax(game.resources)) if self.objective == "dictator" else None
        sse = multi_attack_sse(game.pooled(leader))
        coverage = np.array(sse.coverage, dtype=np.float64)
        utility = set_utility(game, coverage, sse.attacked_targets)
        for array in (coverage, utility):
            array.setflags(write=False)
        return MechanismOutcome(
            mechanism=self.name,
            params=params_of(self),
            coverage=coverage,
            attacked_target=sse.attacked_targets[0],
            defender_utility=utility,
            status_quo_utility=None,
            recommendation=Recommendation.from_coverage(coverage, game.resources),
            leader=-1 if leader is None else leader,
            attacked_targets=sse.attacked_targets,
        )

    def outcomes_for_reports(
        self,
        game: SecurityGame,
        defender: int,
        rewards: FloatArray,
        penalties: FloatArray,
        seed: int,
    ) -> tuple[np.ndarray, FloatArray]:
        """One MILP per report (the generic path)."""
        return outcomes_by_allocation(self, game, defender, rewards, penalties, seed)
