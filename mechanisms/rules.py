"""The registered coordination mechanisms (Gan et al. 2020, Sections 3-4).

Each picks a column of :math:`V_{it} = U_i^d(x_t, t)` (see :mod:`mechanisms.base`);
the docstrings give the rule and the properties it claims.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from mechanisms.base import Mechanism, failed_outcome, register_mechanism
from mechanisms.outcome import MechanismOutcome
from mechanisms.outcome_set import Choice, OutcomeSetMechanism
from mechanisms.reports import report_nses
from mechanisms.space import lexicographic_argmax
from sim.errors import InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.nse import NSEResult, compute_nse
from sim.numerics import UTILITY_TOL
from sim.registry import BOUND
from sim.sampling import IndependentRecommendation


def _feasible_up(values: FloatArray, choice: Choice) -> np.ndarray:
    """Constraint (4a): every defender gets at least her status-quo utility (to within
    ``UTILITY_TOL`` of her payoff range)."""
    ok = np.broadcast_to(choice.feasible, values[:, 0, :].shape)
    slack = UTILITY_TOL * choice.units()
    return ok & np.all(values >= (choice.required() - slack)[:, :, None], axis=1)


def _welfare(values: FloatArray, choice: Choice) -> tuple[FloatArray, FloatArray]:
    """The total utility of each outcome (b, m) and its unit (b,): the sum of the
    defenders' ranges."""
    return values.sum(axis=1), choice.units().sum(axis=1)


def _priority(resources: np.ndarray, first: int) -> list[int]:
    """``first``, then the others by most resources, ties by the lowest index."""
    rest = sorted(
        (i for i in range(resources.size) if i != first), key=lambda i: (-resources[i], i)
    )
    return [first, *rest]


@register_mechanism("nse")
@dataclass(frozen=True)
class StatusQuo:
    """No coordination: the uncoordinated NSE (Definition 2.1) played as is.

    Every NSE is weakly UP and IR (Section 5.1); each defender samples her own
    coverage independently, so the recommendation is independent play.
    """

    name: ClassVar[str]
    claims: ClassVar[frozenset[str]] = frozenset({"weakly_up", "individually_rational"})
    conditional_claims: ClassVar[Mapping[str, str]] = {}
    uses_status_quo: ClassVar[bool] = True
    randomised: ClassVar[bool] = False
    planned_attacks: ClassVar[int | None] = 1

    def prepared(self, true_game: SecurityGame) -> Mechanism:
        return self

    def outcomes_for_reports(
        self,
        game: SecurityGame,
        defender: int,
        rewards: FloatArray,
        penalties: FloatArray,
        seed: int,
    ) -> tuple[np.ndarray, FloatArray]:
        """Each report's quick NSE (target -1 where the quick finder misses)."""
        nses = report_nses(game, defender, rewards, penalties)
        return np.where(nses.ok, nses.attacked_target, -1), nses.coverage

    def allocate(self, game: SecurityGame, *, rng: np.random.Generator) -> MechanismOutcome:
        nse = compute_nse(game.one_attack)
        if not nse.verified:
            return failed_outcome(self, game, "no verified NSE")
        return MechanismOutcome(
            mechanism=self.name,
            params={},
            coverage=nse.total_coverage,
            attacked_target=nse.attacked_target,
            defender_utility=nse.defender_utility,
            status_quo_utility=nse.defender_utility,
            recommendation=IndependentRecommendation.from_profile(nse.coverage, game.resources),
        )


@register_mechanism("csw_max")
@dataclass(frozen=True)
class CSWMax(OutcomeSetMechanism):
    """CSW-Max (Section 4.1, eq. 4): the welfare-maximising outcome among those that
    give every defender at least her utility in an NSE of the *reported* game.

    Theorem 4.2: PE and weakly UP (not SP: Theorem 3.3). Ties by the lowest index.
    """

    claims: ClassVar[frozenset[str]] = frozenset({"pareto_efficient", "weakly_up"})
    uses_status_quo: ClassVar[bool] = True

    def choose(self, values: FloatArray, choice: Choice) -> np.ndarray:
        welfare, unit = _welfare(values, choice)
        return lexicographic_argmax([welfare], _feasible_up(values, choice), [unit])


@register_mechanism("csw_max_nse")
@dataclass(frozen=True)
class CSWMaxNSE(OutcomeSetMechanism):
    """CSW-Max-NSE (Section 4.2): solve only LP-tau of a status-quo NSE (X, tau) known
    before the reports.

    :meth:`prepared` binds the NSE of the true game; unbound, it uses the reported
    game's. Theorem 4.3: with non-overlapping payoffs and 0 < cov(X) < 1 it is SP, PE
    and weakly UP; weak UP (constraint 4a) holds on every game.
    """

    known_nse: NSEResult | None = field(default=None, repr=False, metadata=BOUND)

    claims: ClassVar[frozenset[str]] = frozenset({"weakly_up"})
    conditional_claims: ClassVar[Mapping[str, str]] = {
        "strategyproof": "nonoverlapping_interior",
        "pareto_efficient": "nonoverlapping_interior",
    }
    uses_status_quo: ClassVar[bool] = True

    def known_status_quo(self) -> NSEResult | None:
        return self.known_nse

    def prepared(self, true_game: SecurityGame) -> Mechanism:
        return dataclasses.replace(self, known_nse=compute_nse(true_game.one_attack))

    def choose(self, values: FloatArray, choice: Choice) -> np.ndarray:
        """The status quo's own target (LP-tau), when it is in the attack set."""
        tau = choice.status_quo_target
        if tau is None:
            raise InvalidParameterError("csw_max_nse needs the status-quo target")
        return np.where((tau >= 0) & choice.feasible[np.maximum(tau, 0)], tau, -1)


@register_mechanism("dictatorship")
@dataclass(frozen=True)
class Dictatorship(OutcomeSetMechanism):
    """The dictator (most resources, ties by the lowest index) gets her favourite
    outcome; her ties go to the next defender in that order (Section 4).

    SP (nobody else's report matters, and the dictator is best off truthful) and PE
    (serial tie-breaking); not weakly UP (proof of Theorem 3.3).
    """

    claims: ClassVar[frozenset[str]] = frozenset({"pareto_efficient", "strategyproof"})

    def leader(self, resources: np.ndarray, rng: np.random.Generator) -> int | None:
        """The dictator's index."""
        return int(np.argmax(resources))

    def choose(self, values: FloatArray, choice: Choice) -> np.ndarray:
        if choice.leader is None:
            raise InvalidParameterError("dictatorship needs its dictator (Choice.leader)")
        order = _priority(choice.resources, choice.leader)
        units = choice.units()
        return lexicographic_argmax(
            [values[:, i] for i in order], choice.feasible, [units[:, i] for i in order]
        )


@register_mechanism("random_dictatorship")
@dataclass(frozen=True)
class RandomDictatorship(Dictatorship):
    """A dictator drawn with ``rng`` (uniformly, or in proportion to resources), then
    as :class:`Dictatorship`. Every realisation is PE and SP."""

    weights: str = "uniform"

    randomised: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.weights not in ("uniform", "resources"):
            raise InvalidParameterError(
                f"RandomDictatorship.weights must be 'uniform' or 'resources'; got {self.weights!r}"
            )

    def leader(self, resources: np.ndarray, rng: np.random.Generator) -> int | None:
        n = resources.size
        if self.weights == "resources" and resources.sum() > 0:
            p = resources / resources.sum()
            return int(np.searchsorted(np.cumsum(p), rng.random(), side="right").clip(0, n - 1))
        return int(rng.integers(n))


@register_mechanism("utilitarian")
@dataclass(frozen=True)
class Utilitarian(OutcomeSetMechanism):
    """The outcome with the largest total utility, with no UP constraint.

    PE; neither UP nor SP in general.
    """

    claims: ClassVar[frozenset[str]] = frozenset({"pareto_efficient"})

    def choose(self, values: FloatArray, choice: Choice) -> np.ndarray:
        welfare, unit = _welfare(values, choice)
        return lexicographic_argmax([welfare], choice.feasible, [unit])


@register_mechanism("egalitarian")
@dataclass(frozen=True)
class Egalitarian(OutcomeSetMechanism):
    """Maximise the smallest gain over the status-quo NSE subject to weak UP (4a);
    ties by the total utility, then the lowest index. PE and weakly UP."""

    claims: ClassVar[frozenset[str]] = frozenset({"pareto_efficient", "weakly_up"})
    uses_status_quo: ClassVar[bool] = True

    def choose(self, values: FloatArray, choice: Choice) -> np.ndarray:
        ok = _feasible_up(values, choice)
        gains = values - choice.required()[:, :, None]
        welfare, unit = _welfare(values, choice)
        return lexicographic_argmax(
            [gains.min(axis=1), welfare], ok, [choice.units().max(axis=1), unit]
        )


@register_mechanism("nash_bargaining")
@dataclass(frozen=True)
class NashBargaining(OutcomeSetMechanism):
    """Maximise the product of the gains over the status-quo NSE subject to weak UP
    (the Nash bargaining solution on the outcome set); ties (including all products
    zero) by the total utility, then the lowest index. PE and weakly UP."""

    claims: ClassVar[frozenset[str]] = frozenset({"pareto_efficient", "weakly_up"})
    uses_status_quo: ClassVar[bool] = True

    def choose(self, values: FloatArray, choice: Choice) -> np.ndarray:
        ok = _feasible_up(values, choice)
        gains = np.clip(values - choice.required()[:, :, None], 0.0, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_product = np.where(ok, np.log(gains).sum(axis=1), -np.inf)
        log_product = np.nan_to_num(log_product, nan=-np.inf)
        welfare, unit = _welfare(values, choice)
        # a log of a product is unit-free: rescaling a defender shifts every entry alike
        return lexicographic_argmax([log_product, welfare], ok, [1.0, unit])
