"""The pooled Stackelberg mechanisms: against the game's attacker resources, with the
game's schedules, and against a logit attacker (:class:`PooledLogit`).

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

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mechanisms.base import Mechanism, failed_outcome, register_mechanism
from mechanisms.outcome import MechanismOutcome
from mechanisms.reports import outcomes_by_allocation
from sim.errors import InvalidParameterError, SimError
from sim.game import FloatArray, SecurityGame
from sim.nse import compute_nse
from sim.payoffs import best_responses, set_utility, target_utility
from sim.registry import params_of
from sim.response import LogitResponse
from sim.sampling import Recommendation
from sim.solvers.behavioural import pooled_against_logit
from sim.solvers.multi_attack import SSE_TARGET_LIMIT, multi_attack_sse
from sim.solvers.schedules import schedule_sse

OBJECTIVES = ("utilitarian", "dictator")


@dataclass(frozen=True)
class _Pooled(ABC):
    """What the pooled Stackelberg mechanisms share: the objective, its validation, the
    dictator, and the generic path for batches of reports."""

    objective: str = "utilitarian"

    #: The objectives it accepts.
    objectives: ClassVar[tuple[str, ...]] = OBJECTIVES
    name: ClassVar[str]
    claims: ClassVar[frozenset[str]] = frozenset()
    conditional_claims: ClassVar[Mapping[str, str]] = {}
    uses_status_quo: ClassVar[bool] = False
    randomised: ClassVar[bool] = False
    planned_attacks: ClassVar[int | None]
    pools_resources: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.objective not in self.objectives:
            raise InvalidParameterError(
                f"{self.name}.objective must be one of {list(self.objectives)}; "
                f"got {self.objective!r}"
            )

    @abstractmethod
    def allocate(self, game: SecurityGame, *, rng: np.random.Generator) -> MechanismOutcome:
        """The outcome on the reported ``game``."""

    def prepared(self, true_game: SecurityGame) -> Mechanism:
        return self

    def leader(self, game: SecurityGame) -> int | None:
        """The dictator (most resources, ties by the lowest index), or None for the
        utilitarian objective."""
        return int(np.argmax(game.resources)) if self.objective == "dictator" else None

    def outcome(
        self,
        coverage: FloatArray,
        utility: FloatArray,
        attacked: tuple[int, ...],
        recommendation: Recommendation,
        leader: int | None,
    ) -> MechanismOutcome:
        """The outcome of a pooled commitment (arrays made read-only)."""
        for array in (coverage, utility):
            array.setflags(write=False)
        return MechanismOutcome(
            mechanism=self.name,
            params=params_of(self),
            coverage=coverage,
            attacked_target=attacked[0],
            defender_utility=utility,
            status_quo_utility=None,
            recommendation=recommendation,
            leader=-1 if leader is None else leader,
            attacked_targets=attacked,
        )

    def pooling_refused(self, game: SecurityGame) -> MechanismOutcome | None:
        """A failed outcome for a game with jurisdictions (pooled resources could cover
        targets their owners may not), else None."""
        if not game.restricted:
            return None
        return failed_outcome(
            self,
            game,
            f"{self.name} pools every resource and cannot respect jurisdictions "
            "(docs/jurisdictions.md); use the outcome-space mechanisms",
        )

    def outcomes_for_reports(
        self,
        game: SecurityGame,
        defender: int,
        rewards: FloatArray,
        penalties: FloatArray,
        seed: int,
    ) -> tuple[np.ndarray, FloatArray]:
        """One solve per report (the generic path)."""
        return outcomes_by_allocation(self, game, defender, rewards, penalties, seed)


@register_mechanism("pooled_sse")
@dataclass(frozen=True)
class PooledStackelberg(_Pooled):
    """Pool the reported resources and commit to the strong Stackelberg coverage
    against the game's ``attacker_resources`` attacks.

    Parameters
    ----------
    objective : {"utilitarian", "dictator"}
        Whose utility the commitment maximises: the defenders' total (additive over
        the attacked set), or the dictator's (most resources, ties by the lowest
        index, as in ``dictatorship``; her ties are not broken for the others).

    Notes
    -----
    Claims no property: with several attacks the paper's properties are not defined
    (its audits model one attack). Games with more than
    :data:`~sim.solvers.multi_attack.SSE_TARGET_LIMIT` targets get a failed outcome
    (the exact problem is NP-hard).
    """

    planned_attacks: ClassVar[int | None] = None

    def allocate(self, game: SecurityGame, *, rng: np.random.Generator) -> MechanismOutcome:
        """The pooled game's strong Stackelberg coverage and its attacked set."""
        refused = self.pooling_refused(game)
        if refused is not None:
            return refused
        if game.n_targets > SSE_TARGET_LIMIT:
            return failed_outcome(
                self,
                game,
                f"pooled_sse solves games of at most {SSE_TARGET_LIMIT} targets exactly; "
                f"got n_targets={game.n_targets}",
            )
        leader = self.leader(game)
        sse = multi_attack_sse(game.pooled(leader))
        coverage = np.array(sse.coverage, dtype=np.float64)
        return self.outcome(
            coverage,
            set_utility(game, coverage, sse.attacked_targets),
            sse.attacked_targets,
            Recommendation.from_coverage(coverage, game.resources),
            leader,
        )


@register_mechanism("pooled_schedule_sse")
@dataclass(frozen=True)
class PooledSchedules(_Pooled):
    """Pool the reported resources, whose schedules are the game's, and commit to the
    strong Stackelberg strategy of the pooled game with schedules (Korzhyk, Conitzer
    and Parr 2010; :func:`~sim.solvers.schedule_sse`), for the utilitarian objective
    or the dictator's; each defender is recommended the schedules of her own
    resources in the sampled joint strategy.

    Parameters
    ----------
    objective : {"utilitarian", "dictator"}
        As in ``pooled_sse``.

    Notes
    -----
    Plans for one attack (``planned_attacks = 1``) and claims no property: the
    paper's properties compare with the NSE, which is not defined for schedules.
    On a game without schedules each resource guards one target, and the outcome is
    worth what ``pooled_sse``'s is. Jurisdictions are refused (a failed outcome),
    and so are NP-hard schedule games beyond the solver's size limits.
    """

    planned_attacks: ClassVar[int | None] = 1
    plans_schedules: ClassVar[bool] = True

    def allocate(self, game: SecurityGame, *, rng: np.random.Generator) -> MechanismOutcome:
        """The pooled schedule game's strong Stackelberg strategy and its target."""
        refused = self.pooling_refused(game)
        if refused is not None:
            return refused
        leader = self.leader(game)
        try:
            sse = schedule_sse(game.pooled(leader).one_attack)
        except SimError as exc:
            return failed_outcome(self, game, f"pooled_schedule_sse: {exc}")
        coverage = np.array(sse.coverage, dtype=np.float64)
        t = sse.attacked_target
        return self.outcome(
            coverage,
            target_utility(game, t, float(coverage[t])),
            (t,),
            Recommendation.from_schedules(
                sse.assignments, sse.probabilities, sse.schedules, game.resources, game.n_targets
            ),
            leader,
        )


@register_mechanism("pooled_logit")
@dataclass(frozen=True)
class PooledLogit(_Pooled):
    """Pool the reported resources and commit to the coverage that maximises the
    objective's expected utility against a logit attacker (``docs/behavioural.md`` §3:
    :func:`~sim.solvers.behavioural.pooled_against_logit`, with a certified gap).

    The attacker attacks target t with probability proportional to
    :math:`\\exp(\\lambda U^a(c, t) + w_c c_t + w_r R^a_t + w_p P^a_t)`, his payoffs in
    his standard units: quantal response with ``precision`` alone, SUQR with the three
    weights and ``precision = 0``, or any weights :func:`sim.fitting.fit_logit` found
    (``defcoord fit``).

    Parameters
    ----------
    objective : {"utilitarian", "dictator", "csw_max"}
        The defenders' total expected utility, or the dictator's; ``csw_max`` is
        CSW-Max's rule (Gan et al. 2020, Section 4.1) against the planned attacker: the
        greatest total among the coverages that give every defender at least her
        expected utility against it under the status quo, the NSE of the reported game
        (which is itself such a coverage, so the rule is always defined).
    precision, w_coverage, w_reward, w_penalty : float
        The planned attacker's weights.
    max_gap : float
        The certified gap it settles for, as a share of the objective's payoff range
        (the sum of the defenders' ranges, or the dictator's).

    Notes
    -----
    Plans for one attack. The outcome is what the paper's audits see: its designated
    target is the rational attacker's best response to the coverage that is best for
    the objective, and its utilities are those at that target, so a study audits how
    the commitment fares against the paper's rational attacker and simulates it against
    the study's attacker. :meth:`planned_utility` gives the expected utilities against
    the planned attacker. It claims none of the paper's properties.
    """

    precision: float = 10.0
    w_coverage: float = 0.0
    w_reward: float = 0.0
    w_penalty: float = 0.0
    max_gap: float = 1e-3

    planned_attacks: ClassVar[int | None] = 1
    objectives: ClassVar[tuple[str, ...]] = (*OBJECTIVES, "csw_max")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.response()  # validates the weights
        if not (isinstance(self.max_gap, int | float) and 0 < self.max_gap < 1):
            raise InvalidParameterError(
                f"pooled_logit.max_gap must be in (0, 1); got {self.max_gap!r}"
            )

    def response(self) -> LogitResponse:
        """The planned attacker."""
        weights = {
            "utility": self.precision,
            "coverage": self.w_coverage,
            "reward": self.w_reward,
            "penalty": self.w_penalty,
        }
        for name, value in weights.items():
            if not (isinstance(value, int | float) and np.isfinite(value)):
                label = "precision" if name == "utility" else f"w_{name}"
                raise InvalidParameterError(
                    f"pooled_logit.{label} must be a finite number; got {value!r}"
                )
        return LogitResponse({k: v for k, v in weights.items() if v != 0.0})

    def allocate(self, game: SecurityGame, *, rng: np.random.Generator) -> MechanismOutcome:
        """The certified coverage against the planned attacker, sampled by comb."""
        refused = self.pooling_refused(game)
        if refused is not None:
            return refused
        one = game.one_attack
        leader = self.leader(one)
        weights = np.ones(one.n_defenders) if leader is None else np.eye(one.n_defenders)[leader]
        scale = float(weights @ one.units.defender_scale)
        response = self.response()
        floors = status_quo = None
        if self.objective == "csw_max":
            nse = compute_nse(one)
            if not nse.verified:
                return failed_outcome(self, game, "pooled_logit: the status-quo NSE failed")
            status_quo = np.asarray(nse.total_coverage, dtype=np.float64)
            floors = response.utilities(one, status_quo)
        try:
            found = pooled_against_logit(
                one,
                response,
                weights=weights,
                floors=floors,
                start=status_quo,
                max_gap=self.max_gap * scale,
                max_resolution=512,
            )
        except SimError as exc:
            return failed_outcome(self, game, f"pooled_logit: {exc}")
        coverage = np.array(found.coverage, dtype=np.float64)
        # the designated target: the rational attacker's best response that is best for
        # the objective (the strong Stackelberg convention of the other pooled mechanisms)
        responses = best_responses(one, coverage)
        values = weights @ (one.defender_penalty + coverage * one.defender_gap)
        target = int(responses[np.argmax(values[responses])])
        return self.outcome(
            coverage,
            target_utility(one, target, coverage[target]),
            (target,),
            Recommendation.from_coverage(coverage, one.resources),
            leader,
        )

    def planned_utility(self, game: SecurityGame, outcome: MechanismOutcome) -> FloatArray:
        """Each defender's expected utility against the planned attacker, shape (n,)."""
        return self.response().utilities(game, outcome.coverage)
