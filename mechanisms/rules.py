"""The registered coordination mechanisms (Gan et al. 2020, Sections 3-4).

Each picks a column of :math:`V_{it} = U_i^d(x_t, t)` (see :mod:`mechanisms.base`);
the docstrings give the rule and the properties it claims.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from mechanisms.base import (
    Mechanism,
    OutcomeSetMechanism,
    lexicographic_argmax,
    outcomes_by_allocation,
    outcomes_per_report,
    register_mechanism,
    report_values,
)
from mechanisms.outcome import MechanismOutcome
from sim.errors import InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.numerics import UTILITY_TOL
from sim.registry import params_of
from sim.sampling import IndependentRecommendation
from sim.solvers import NSEResult, compute_nse
from sim.solvers.batch import quick_nse_batch


def _feasible_up(
    values: FloatArray, feasible: np.ndarray, status_quo: FloatArray | None
) -> np.ndarray:
    """Constraint (4a): every defender gets at least her status-quo utility."""
    ok = np.broadcast_to(feasible, values[:, 0, :].shape)
    if status_quo is None:
        return ok.copy()
    return ok & np.all(values >= status_quo[:, :, None] - UTILITY_TOL, axis=1)


def _required(status_quo: FloatArray | None) -> FloatArray:
    if status_quo is None:
        raise InvalidParameterError("this mechanism needs the status-quo utilities")
    return status_quo


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
    conditional_claims: ClassVar[dict[str, str]] = {}
    uses_status_quo: ClassVar[bool] = True
    randomised: ClassVar[bool] = False

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
        """Each report's NSE (quick finder, in one batch where its first proposal
        resolves the report; a miss is skipped as target -1)."""

        def evaluate(reported: SecurityGame) -> tuple[int, FloatArray] | None:
            nse = compute_nse(reported, quick=True)
            return (nse.attacked_target, nse.total_coverage) if nse.verified else None

        batch = quick_nse_batch(game, defender, rewards, penalties)
        targets, coverage = batch.attacked_target.copy(), batch.coverage.copy()
        rest = np.flatnonzero(~batch.ok)
        if rest.size:
            targets[rest], coverage[rest] = outcomes_per_report(
                game, defender, rewards[rest], penalties[rest], evaluate
            )
        return targets, coverage

    def allocate(self, game: SecurityGame, *, rng: np.random.Generator) -> MechanismOutcome:
        nse = compute_nse(game)
        if not nse.verified:
            return MechanismOutcome(
                mechanism=self.name,
                params={},
                coverage=np.zeros(game.n_targets),
                attacked_target=-1,
                defender_utility=np.full(game.n_defenders, np.nan),
                status_quo_utility=None,
                recommendation=None,
                status="failed",
                message="no verified NSE",
            )
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

    def choose(
        self,
        values: FloatArray,
        feasible: np.ndarray,
        status_quo: FloatArray | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        ok = _feasible_up(values, feasible, status_quo)
        return lexicographic_argmax([values.sum(axis=1)], ok)


@register_mechanism("csw_max_nse")
@dataclass(frozen=True)
class CSWMaxNSE(OutcomeSetMechanism):
    """CSW-Max-NSE (Section 4.2): solve only LP-tau of a status-quo NSE (X, tau) known
    before the reports.

    :meth:`prepared` binds the NSE of the true game; unbound, it uses the reported
    game's. Theorem 4.3: with non-overlapping payoffs and 0 < cov(X) < 1 it is SP, PE
    and weakly UP; weak UP (constraint 4a) holds on every game.
    """

    known_nse: NSEResult | None = None

    claims: ClassVar[frozenset[str]] = frozenset({"weakly_up"})
    conditional_claims: ClassVar[dict[str, str]] = {
        "strategyproof": "nonoverlapping_interior",
        "pareto_efficient": "nonoverlapping_interior",
    }
    uses_status_quo: ClassVar[bool] = True

    def status_quo(self, game: SecurityGame, *, quick: bool = False) -> NSEResult | None:
        return compute_nse(game, quick=quick) if self.known_nse is None else self.known_nse

    def prepared(self, true_game: SecurityGame) -> Mechanism:
        return dataclasses.replace(self, known_nse=compute_nse(true_game))

    def allocate(self, game: SecurityGame, *, rng: np.random.Generator) -> MechanismOutcome:
        nse = self.status_quo(game)
        if nse is None or not nse.verified:
            return self.failed(game, "no verified status-quo NSE")
        space = self.space(game, nse.defender_utility)
        tau = nse.attacked_target
        if not space.feasible[tau]:
            return self.failed(game, f"LP-{tau} is infeasible")
        return self.finish(game, space.coverage[tau], tau, nse.defender_utility)

    def choose(
        self,
        values: FloatArray,
        feasible: np.ndarray,
        status_quo: FloatArray | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        raise NotImplementedError("csw_max_nse picks the status quo's own target")

    def outcomes_for_reports(
        self,
        game: SecurityGame,
        defender: int,
        rewards: FloatArray,
        penalties: FloatArray,
        seed: int,
    ) -> tuple[np.ndarray, FloatArray]:
        if self.known_nse is None or self.backend != "closed_form":
            return outcomes_by_allocation(self, game, defender, rewards, penalties, seed)
        # Theorem 4.3: with the NSE known, LP-tau does not read the reports at all
        outcome = self.allocate(game, rng=np.random.default_rng(seed))
        targets = np.full(rewards.shape[0], outcome.attacked_target)
        return targets, np.repeat(outcome.coverage[None], rewards.shape[0], axis=0)

    def finish(
        self,
        game: SecurityGame,
        coverage: FloatArray,
        target: int,
        status_quo: FloatArray | None,
    ) -> MechanismOutcome:
        outcome = super().finish(game, coverage, target, status_quo)
        params = {k: v for k, v in outcome.params.items() if k != "known_nse"}
        params["status_quo"] = "known" if self.known_nse is not None else "reported"
        return dataclasses.replace(outcome, params=params)


@register_mechanism("dictatorship")
@dataclass(frozen=True)
class Dictatorship(OutcomeSetMechanism):
    """The dictator (most resources, ties by the lowest index) gets her favourite
    outcome; her ties go to the next defender in that order (Section 4).

    SP (nobody else's report matters, and the dictator is best off truthful) and PE
    (serial tie-breaking); not weakly UP (proof of Theorem 3.3).
    """

    claims: ClassVar[frozenset[str]] = frozenset({"pareto_efficient", "strategyproof"})

    def dictator(self, game_resources: np.ndarray, rng: np.random.Generator) -> int:
        """The dictator's index."""
        return int(np.argmax(game_resources))

    def allocate(self, game: SecurityGame, *, rng: np.random.Generator) -> MechanismOutcome:
        order = _priority(game.resources, self.dictator(game.resources, rng))
        space = self.space(game, None)
        keys = [space.values[i][None] for i in order]
        target = int(lexicographic_argmax(keys, space.feasible)[0])
        return self.finish(game, space.coverage[target], target, None)

    def choose(
        self,
        values: FloatArray,
        feasible: np.ndarray,
        status_quo: FloatArray | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        raise NotImplementedError("dictatorship chooses in allocate (it needs the resources)")

    def outcomes_for_reports(
        self,
        game: SecurityGame,
        defender: int,
        rewards: FloatArray,
        penalties: FloatArray,
        seed: int,
    ) -> tuple[np.ndarray, FloatArray]:
        if self.backend != "closed_form":
            return outcomes_by_allocation(self, game, defender, rewards, penalties, seed)
        space, values = report_values(game, defender, rewards, penalties)
        cover = space.coverage[0]
        order = _priority(
            game.resources, self.dictator(game.resources, np.random.default_rng(seed))
        )
        targets = lexicographic_argmax([values[:, i] for i in order], space.feasible)
        return targets, self.coverages(cover, targets)


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

    def dictator(self, game_resources: np.ndarray, rng: np.random.Generator) -> int:
        n = game_resources.size
        if self.weights == "resources" and game_resources.sum() > 0:
            p = game_resources / game_resources.sum()
            return int(np.searchsorted(np.cumsum(p), rng.random(), side="right").clip(0, n - 1))
        return int(rng.integers(n))


@register_mechanism("utilitarian")
@dataclass(frozen=True)
class Utilitarian(OutcomeSetMechanism):
    """The outcome with the largest total utility, with no UP constraint.

    PE; neither UP nor SP in general.
    """

    claims: ClassVar[frozenset[str]] = frozenset({"pareto_efficient"})

    def choose(
        self,
        values: FloatArray,
        feasible: np.ndarray,
        status_quo: FloatArray | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        return lexicographic_argmax(
            [values.sum(axis=1)], np.broadcast_to(feasible, values[:, 0].shape)
        )


@register_mechanism("egalitarian")
@dataclass(frozen=True)
class Egalitarian(OutcomeSetMechanism):
    """Maximise the smallest gain over the status-quo NSE subject to weak UP (4a);
    ties by the total utility, then the lowest index. PE and weakly UP."""

    claims: ClassVar[frozenset[str]] = frozenset({"pareto_efficient", "weakly_up"})
    uses_status_quo: ClassVar[bool] = True

    def choose(
        self,
        values: FloatArray,
        feasible: np.ndarray,
        status_quo: FloatArray | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        ok = _feasible_up(values, feasible, status_quo)
        gains = values - _required(status_quo)[:, :, None]
        return lexicographic_argmax([gains.min(axis=1), values.sum(axis=1)], ok)


@register_mechanism("nash_bargaining")
@dataclass(frozen=True)
class NashBargaining(OutcomeSetMechanism):
    """Maximise the product of the gains over the status-quo NSE subject to weak UP
    (the Nash bargaining solution on the outcome set); ties (including all products
    zero) by the total utility, then the lowest index. PE and weakly UP."""

    claims: ClassVar[frozenset[str]] = frozenset({"pareto_efficient", "weakly_up"})
    uses_status_quo: ClassVar[bool] = True

    def choose(
        self,
        values: FloatArray,
        feasible: np.ndarray,
        status_quo: FloatArray | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        ok = _feasible_up(values, feasible, status_quo)
        gains = np.clip(values - _required(status_quo)[:, :, None], 0.0, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_product = np.where(ok, np.log(gains).sum(axis=1), -np.inf)
        log_product = np.nan_to_num(log_product, nan=-np.inf)
        return lexicographic_argmax([log_product, values.sum(axis=1)], ok)


def describe(mechanism: Any) -> dict[str, Any]:
    """Name, claims and parameters of a mechanism, for listings and manifests."""
    return {
        "name": mechanism.name,
        "claims": sorted(mechanism.claims),
        "conditional_claims": dict(getattr(mechanism, "conditional_claims", {})),
        "params": {k: v for k, v in params_of(mechanism).items() if k != "known_nse"},
    }
