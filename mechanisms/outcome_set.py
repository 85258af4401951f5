"""The template of the mechanisms that pick one outcome of the finite outcome space.

A subclass implements only :meth:`OutcomeSetMechanism.choose`: given the value matrix
:math:`V_{it} = U_i^d(x_t, t)` of a batch of (reported) games and a :class:`Choice`
context, the chosen target per game. The template does the rest for one game
(:meth:`~OutcomeSetMechanism.allocate`) and for a whole batch of reports in one numpy
call (:meth:`~OutcomeSetMechanism.outcomes_for_reports`).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mechanisms.base import Mechanism, failed_outcome
from mechanisms.outcome import MechanismOutcome
from mechanisms.reports import outcomes_by_allocation, report_nses, report_values
from mechanisms.space import BACKENDS, OutcomeSpace, lp_space, outcome_space
from sim.errors import InvalidParameterError
from sim.game import FloatArray, PayoffUnits, SecurityGame
from sim.nse import NSEResult, compute_nse
from sim.payoffs import target_utility
from sim.registry import params_of
from sim.sampling import Recommendation


@dataclass(frozen=True, eq=False)
class Choice:
    """What a mechanism's rule sees besides the value matrix, for a batch of b games.

    Attributes
    ----------
    feasible : ndarray of bool, shape (m,)
        The attack set (targets some feasible coverage makes a best response).
    resources : ndarray of int, shape (n,)
    rng : numpy.random.Generator
        The allocation's randomness (one draw sequence for the whole batch).
    status_quo : ndarray, shape (b, n), or None
        The status-quo NSE utilities (``inf`` where a report's NSE was not found, so
        no outcome passes the weak-UP test); None unless ``uses_status_quo``.
    status_quo_target : ndarray of int, shape (b,), or None
        The status-quo NSE's attacked target (-1 where not found).
    leader : int or None
        The defender the mechanism distinguishes (:meth:`OutcomeSetMechanism.leader`).
    ranges : ndarray, shape (b, n), or None
        Each defender's payoff range in each (reported) game
        (:attr:`~sim.game.PayoffUnits.defender_scale`): the unit of her utilities, in
        which rules read their tolerances so that a choice does not depend on units.
    """

    feasible: np.ndarray
    resources: np.ndarray
    rng: np.random.Generator
    status_quo: FloatArray | None = None
    status_quo_target: np.ndarray | None = None
    leader: int | None = None
    ranges: FloatArray | None = None

    def required(self) -> FloatArray:
        """The status-quo utilities, for rules that cannot do without them."""
        if self.status_quo is None:
            raise InvalidParameterError("this mechanism needs the status-quo utilities")
        return self.status_quo

    def units(self) -> FloatArray:
        """:attr:`ranges`, for rules that compare utilities."""
        if self.ranges is None:
            raise InvalidParameterError("this mechanism needs the defenders' payoff ranges")
        return self.ranges


@dataclass(frozen=True)
class OutcomeSetMechanism(ABC):
    """Base of the mechanisms that pick one outcome of the finite outcome set.

    Parameters
    ----------
    backend : {"closed_form", "lp"}
        ``lp`` recomputes the outcome space with the paper's LP-t per target (slow;
        the differential reference).
    epsilon : float
        Lower the attacked target's coverage by this much so it is the strict best
        response (0 keeps the paper's designated tie-breaking).
    """

    backend: str = "closed_form"
    epsilon: float = 0.0

    name: ClassVar[str]
    claims: ClassVar[frozenset[str]] = frozenset()
    conditional_claims: ClassVar[Mapping[str, str]] = {}
    uses_status_quo: ClassVar[bool] = False
    randomised: ClassVar[bool] = False
    planned_attacks: ClassVar[int | None] = 1

    def __post_init__(self) -> None:
        owner = type(self).__name__
        if self.backend not in BACKENDS:
            raise InvalidParameterError(
                f"{owner}.backend must be one of {list(BACKENDS)}; got {self.backend!r}"
            )
        if not (isinstance(self.epsilon, int | float) and 0.0 <= self.epsilon < 1.0):
            raise InvalidParameterError(f"{owner}.epsilon must be in [0, 1); got {self.epsilon!r}")

    # -- what a subclass provides ----------------------------------------------------
    @abstractmethod
    def choose(self, values: FloatArray, choice: Choice) -> np.ndarray:
        """The chosen target per game (-1: none).

        Parameters
        ----------
        values : ndarray, shape (b, n, m)
            :math:`U_i^d(x_t, t)` (``-inf`` off the attack set).
        choice : Choice
        """

    def leader(self, resources: np.ndarray, rng: np.random.Generator) -> int | None:
        """The defender this mechanism distinguishes for this allocation (a dictator),
        drawn before :meth:`choose`; None: nobody."""
        return None

    def known_status_quo(self) -> NSEResult | None:
        """A status-quo NSE bound before the reports (:meth:`prepared`), or None: then
        the status quo is the reported game's own NSE."""
        return None

    def prepared(self, true_game: SecurityGame) -> Mechanism:
        """Nothing is known before the reports: the mechanism itself."""
        return self

    # -- the shared pipeline ---------------------------------------------------------
    def status_quo(self, game: SecurityGame) -> NSEResult | None:
        """The status-quo NSE the outcome must preserve (CSW-Max step 1), or None."""
        if not self.uses_status_quo:
            return None
        known = self.known_status_quo()
        return compute_nse(game.one_attack) if known is None else known

    def allocate(self, game: SecurityGame, *, rng: np.random.Generator) -> MechanismOutcome:
        """Run the mechanism on the reported ``game``."""
        nse = self.status_quo(game)
        if nse is not None and not nse.verified:
            return failed_outcome(self, game, "no verified status-quo NSE for the reported game")
        sq = None if nse is None else nse.defender_utility
        space = self.space(game, sq)
        choice = Choice(
            space.feasible,
            game.resources,
            rng,
            None if nse is None else nse.defender_utility[None],
            None if nse is None else np.array([nse.attacked_target]),
            self.leader(game.resources, rng),
            game.units.defender_scale[None],
        )
        target = int(self.choose(space.values[None], choice)[0])
        if target < 0:
            return failed_outcome(self, game, "no feasible target")
        shares = None if space.shares is None else space.shares[target]
        outcome = self.finish(game, space.coverage[target], target, sq, shares)
        if choice.leader is None:
            return outcome
        return dataclasses.replace(outcome, leader=choice.leader)

    def space(self, game: SecurityGame, status_quo: FloatArray | None) -> OutcomeSpace:
        """The outcome space by the configured backend (LP-t's constraint (4a) on the
        status quo for the mechanisms that use one)."""
        if self.backend == "lp":
            return lp_space(game, status_quo)
        return outcome_space(game)

    def finish(
        self,
        game: SecurityGame,
        coverage: FloatArray,
        target: int,
        status_quo: FloatArray | None,
        shares: FloatArray | None = None,
    ) -> MechanismOutcome:
        """Apply the epsilon rule, compute utilities and the recommendation (from the
        defenders' ``shares`` of the coverage where jurisdictions fix them)."""
        c = np.array(coverage, dtype=np.float64)
        before = c[target]
        c[target] = max(0.0, c[target] - self.epsilon)
        if shares is None:
            recommendation = Recommendation.from_coverage(c, game.resources)
        else:  # lower every share of the target in proportion
            x = np.array(shares, dtype=np.float64)
            x[:, target] *= c[target] / before if before > 0.0 else 0.0
            recommendation = Recommendation.from_shares(x, game.resources)
        utility = target_utility(game, target, c[target])
        for array in (c, utility):
            array.setflags(write=False)
        return MechanismOutcome(
            mechanism=self.name,
            params=params_of(self),
            coverage=c,
            attacked_target=target,
            defender_utility=utility,
            status_quo_utility=status_quo,
            recommendation=recommendation,
            epsilon=float(self.epsilon),
        )

    def outcomes_for_reports(
        self,
        game: SecurityGame,
        defender: int,
        rewards: FloatArray,
        penalties: FloatArray,
        seed: int,
    ) -> tuple[np.ndarray, FloatArray]:
        """Targets (b,) and coverages (b, m) when ``defender`` reports each row: one
        :meth:`choose` call for the whole batch (``allocate`` per report on the ``lp``
        backend)."""
        if self.backend != "closed_form":
            return outcomes_by_allocation(self, game, defender, rewards, penalties, seed)
        space, values = report_values(game, defender, rewards, penalties)
        rng = np.random.default_rng(seed)
        ranges = np.repeat(game.units.defender_scale[None], rewards.shape[0], axis=0)
        ranges[:, defender] = PayoffUnits.of(rewards, penalties)[1]
        choice = Choice(
            space.feasible,
            game.resources,
            rng,
            leader=self.leader(game.resources, rng),
            ranges=ranges,
        )
        if self.uses_status_quo:
            choice = self.reported_status_quo(choice, game, defender, rewards, penalties)
        targets = self.choose(values, choice)
        return targets, self.coverages(space.coverage, targets)

    def reported_status_quo(
        self,
        choice: Choice,
        game: SecurityGame,
        defender: int,
        rewards: FloatArray,
        penalties: FloatArray,
    ) -> Choice:
        """``choice`` with the status quo of every reported game: the known one
        broadcast, else each report's quick NSE (``inf`` utilities where it misses)."""
        size = rewards.shape[0]
        known = self.known_status_quo()
        if known is not None:
            utilities = np.repeat(known.defender_utility[None], size, axis=0)
            targets = np.full(size, known.attacked_target if known.verified else -1)
            if not known.verified:
                utilities = np.full((size, game.n_defenders), np.inf)
        else:
            nses = report_nses(game, defender, rewards, penalties)
            utilities = np.where(nses.ok[:, None], nses.defender_utility, np.inf)
            targets = np.where(nses.ok, nses.attacked_target, -1)
        return dataclasses.replace(choice, status_quo=utilities, status_quo_target=targets)

    def coverages(self, cover: FloatArray, targets: np.ndarray) -> FloatArray:
        """The outcome coverage per chosen target (the epsilon rule applied), from the
        space's coverage matrix (m, m)."""
        out = cover[np.maximum(targets, 0)]
        rows = np.flatnonzero(targets >= 0)
        out[rows, targets[rows]] = np.maximum(out[rows, targets[rows]] - self.epsilon, 0.0)
        return out
