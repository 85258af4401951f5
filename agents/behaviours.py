"""Strategic behaviours of defenders: how they report a type and how they execute a
recommendation (Gan et al. 2020, Properties 3 and 4).

Two registries, each a plug-in family with a conformance suite:

* reporting: ``truthful``, ``fixed_misreport``, ``best_response_misreport``,
  ``learning_misreport``;
* executing: ``follow``, ``optimal_deviation``, ``shirk``, ``learning_deviation``.

Parameters are dataclass fields; a learning behaviour keeps its state in private
fields that start empty, so one instance serves one defender in one run (a profile
builds fresh instances for every run).
All randomness comes from the ``rng`` passed in (the Mesa model's ``model.rng``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from mechanisms.base import Mechanism
from mechanisms.behavioural import LogitDeviation, ir_violation_logit
from mechanisms.outcome import IndependentRecommendation, MechanismOutcome
from mechanisms.properties import Deviation, find_profitable_misreport, ir_violation
from sim.errors import InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.numerics import is_failure
from sim.registry import Registry, params_of
from sim.response import LogitResponse
from sim.sampling import Recommendation, comb_support

REPORTING: Registry[Any] = Registry("reporting behaviour")
EXECUTION: Registry[Any] = Registry("execution behaviour")


def make_reporting(name: str, **params: Any) -> ReportingBehaviour:
    """Build the reporting behaviour ``name``."""
    behaviour: ReportingBehaviour = REPORTING.make(name, **params)
    return behaviour


def make_execution(name: str, **params: Any) -> ExecutionBehaviour:
    """Build the execution behaviour ``name``."""
    behaviour: ExecutionBehaviour = EXECUTION.make(name, **params)
    return behaviour


# -- reporting -----------------------------------------------------------------------
DISTORTIONS = ("scale", "exaggerate_favourite", "exaggerate_least", "reverse")


def distort(
    game: SecurityGame, defender: int, kind: str, factor: float
) -> tuple[FloatArray, FloatArray]:
    """A fixed distortion of ``defender``'s true type (always a valid type).

    ``scale``: multiply rewards and penalties by ``factor`` (> 0; order-preserving).
    ``exaggerate_favourite``: raise her favourite target (largest penalty) by
    ``factor`` times her payoff span. ``exaggerate_least``: lower her least favourite
    likewise. ``reverse``: swap the ranks of her targets (by penalty), keeping values.
    """
    r = np.array(game.defender_reward[defender])
    p = np.array(game.defender_penalty[defender])
    span = float(max(r.max() - p.min(), 1e-9))
    if kind == "scale":
        return r * factor, p * factor
    if kind == "exaggerate_favourite":
        t = int(np.argmax(p))
        r[t] += factor * span
        p[t] += factor * span
        return r, p
    if kind == "exaggerate_least":
        t = int(np.argmin(p))
        r[t] -= factor * span
        p[t] -= factor * span
        return r, p
    order = np.argsort(p, kind="stable")
    reverse = np.empty_like(order)
    reverse[order] = order[::-1]
    return r[reverse], p[reverse]


@dataclass
class ReportingBehaviour:
    """How a defender reports her type; the base is also the ``truthful`` rule."""

    name: ClassVar[str]

    def report(
        self,
        game: SecurityGame,
        defender: int,
        mechanism: Mechanism,
        rng: np.random.Generator,
    ) -> tuple[FloatArray, FloatArray]:
        """Her report ``(reward, penalty)``, shape (m,) each. ``game`` is the true game."""
        return game.defender_reward[defender], game.defender_penalty[defender]

    def observe(self, realised_utility: float) -> None:
        """Her realised utility this round (learning rules update here)."""

    def estimates(self) -> dict[str, float]:
        """A learner's current estimates (its arms' mean realised utility); {} otherwise."""
        return {}


@REPORTING.register("truthful")
@dataclass
class Truthful(ReportingBehaviour):
    """Report the true type."""


@REPORTING.register("fixed_misreport")
@dataclass
class FixedMisreport(ReportingBehaviour):
    """Always report one fixed distortion of the true type (see :func:`distort`)."""

    distortion: str = "exaggerate_favourite"
    factor: float = 2.0

    def __post_init__(self) -> None:
        if self.distortion not in DISTORTIONS:
            raise InvalidParameterError(
                f"fixed_misreport.distortion must be one of {list(DISTORTIONS)}; "
                f"got {self.distortion!r}"
            )
        if not (isinstance(self.factor, int | float) and self.factor > 0):
            raise InvalidParameterError(f"fixed_misreport.factor must be > 0; got {self.factor!r}")

    def report(
        self,
        game: SecurityGame,
        defender: int,
        mechanism: Mechanism,
        rng: np.random.Generator,
    ) -> tuple[FloatArray, FloatArray]:
        return distort(game, defender, self.distortion, float(self.factor))


@REPORTING.register("best_response_misreport")
@dataclass
class BestResponseMisreport(ReportingBehaviour):
    """Report what :func:`~mechanisms.properties.find_profitable_misreport` finds
    against the others' true types (``every="once"``: searched in the first round and
    kept; ``"round"``: searched afresh each round); truthful when it finds nothing.
    The search models one attack (:attr:`~sim.game.SecurityGame.one_attack`)."""

    budget: int = 200
    every: str = "once"
    _cached: tuple[FloatArray, FloatArray] | None = field(default=None, init=False, repr=False)
    _searched: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.every not in ("once", "round"):
            raise InvalidParameterError(
                f"best_response_misreport.every must be 'once' or 'round'; got {self.every!r}"
            )
        if not (isinstance(self.budget, int) and self.budget >= 1):
            raise InvalidParameterError(
                f"best_response_misreport.budget must be an int >= 1; got {self.budget!r}"
            )

    def report(
        self,
        game: SecurityGame,
        defender: int,
        mechanism: Mechanism,
        rng: np.random.Generator,
    ) -> tuple[FloatArray, FloatArray]:
        if self.every == "round" or not self._searched:
            found = find_profitable_misreport(
                mechanism, game.one_attack, defender, rng=rng, budget=self.budget
            )
            self._cached = None if found is None else (found.reward, found.penalty)
            self._searched = True
        if self._cached is None:
            return super().report(game, defender, mechanism, rng)
        return self._cached


class _Bandit:
    """Epsilon-greedy or UCB1 over a finite set of arms, on realised utilities."""

    def __init__(self, arms: int, algorithm: str, epsilon: float) -> None:
        self.algorithm, self.epsilon = algorithm, epsilon
        self.counts = np.zeros(arms)
        self.means = np.zeros(arms)
        self.last = 0

    def pick(self, rng: np.random.Generator) -> int:
        untried = np.flatnonzero(self.counts == 0)
        if untried.size:
            self.last = int(untried[0])
        elif self.algorithm == "ucb":
            bonus = np.sqrt(2.0 * np.log(self.counts.sum()) / self.counts)
            self.last = int(np.argmax(self.means + bonus))
        elif rng.random() < self.epsilon:
            self.last = int(rng.integers(self.counts.size))
        else:
            self.last = int(np.argmax(self.means))
        return self.last

    def estimates(self, arms: tuple[str, ...], prefix: str) -> dict[str, float]:
        """The mean realised utility of every arm tried so far."""
        return {
            f"{prefix}{arm}": float(mean)
            for arm, mean, count in zip(arms, self.means, self.counts, strict=True)
            if count > 0
        }

    def update(self, reward: float) -> None:
        self.counts[self.last] += 1
        self.means[self.last] += (reward - self.means[self.last]) / self.counts[self.last]


def _check_bandit(owner: str, algorithm: str, epsilon: float) -> None:
    if algorithm not in ("epsilon_greedy", "ucb"):
        raise InvalidParameterError(
            f"{owner}.algorithm must be 'epsilon_greedy' or 'ucb'; got {algorithm!r}"
        )
    if not (isinstance(epsilon, int | float) and 0.0 <= epsilon <= 1.0):
        raise InvalidParameterError(f"{owner}.epsilon must be in [0, 1]; got {epsilon!r}")


@REPORTING.register("learning_misreport")
@dataclass
class LearningMisreport(ReportingBehaviour):
    """A bandit over {truthful} and the fixed distortions, learning from realised
    utilities across rounds (``algorithm``: ``epsilon_greedy`` or ``ucb``)."""

    algorithm: str = "epsilon_greedy"
    epsilon: float = 0.1
    factor: float = 2.0
    _bandit: _Bandit | None = field(default=None, init=False, repr=False)

    ARMS: ClassVar[tuple[str, ...]] = ("truthful", *DISTORTIONS)

    def __post_init__(self) -> None:
        _check_bandit("learning_misreport", self.algorithm, self.epsilon)

    @property
    def arm(self) -> str:
        """The arm played last."""
        return self.ARMS[0 if self._bandit is None else self._bandit.last]

    def report(
        self,
        game: SecurityGame,
        defender: int,
        mechanism: Mechanism,
        rng: np.random.Generator,
    ) -> tuple[FloatArray, FloatArray]:
        if self._bandit is None:
            self._bandit = _Bandit(len(self.ARMS), self.algorithm, float(self.epsilon))
        arm = self.ARMS[self._bandit.pick(rng)]
        if arm == "truthful":
            return super().report(game, defender, mechanism, rng)
        return distort(game, defender, arm, float(self.factor))

    def observe(self, realised_utility: float) -> None:
        if self._bandit is not None:
            self._bandit.update(realised_utility)

    def estimates(self) -> dict[str, float]:
        return {} if self._bandit is None else self._bandit.estimates(self.ARMS, "report:")


# -- executing -----------------------------------------------------------------------
@dataclass
class ExecutionBehaviour:
    """How a defender executes her recommended pure strategy; the base is ``follow``.

    :meth:`plan` returns, for her signal (the targets she was told to guard), the
    marginal coverage she actually provides; :meth:`execute` samples a pure strategy
    from it. Effective coverage is computed exactly from the plans.
    """

    name: ClassVar[str]

    def prepare(
        self,
        game: SecurityGame,
        defender: int,
        outcome: MechanismOutcome,
        rng: np.random.Generator,
    ) -> None:
        """The per-round hook: called once per round with the outcome in force, before
        any :meth:`plan` (a learner picks this round's rule here, drawing from ``rng``)."""

    def face(self, response: LogitResponse | None) -> None:
        """The attacker she plays against, once per run before its first round: its
        logit model, or None for the paper's rational attacker."""

    def plan_key(self) -> object:
        """Identifies the plan in force: equal keys (under one outcome) mean equal plans,
        so the exact effective coverage can be cached across rounds."""
        return None

    def plan(self, game: SecurityGame, defender: int, signal: np.ndarray) -> FloatArray:
        """Her marginal coverage given her recommended row ``signal`` (bool, shape (m,))."""
        return signal.astype(np.float64)

    def planned(self, game: SecurityGame, defender: int, signal: np.ndarray) -> FloatArray:
        """:meth:`plan` within her jurisdiction: whatever a rule (or a plugin) plans
        outside it is dropped (``docs/jurisdictions.md`` §5)."""
        coverage = self.plan(game, defender, signal)
        return coverage * game.allowed[defender] if game.restricted else coverage

    def execute(
        self, game: SecurityGame, defender: int, signal: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Her executed pure strategy (bool, shape (m,)) this round."""
        coverage = self.planned(game, defender, signal)
        if np.all((coverage == 0.0) | (coverage == 1.0)):
            return coverage.astype(bool)
        support = comb_support(coverage, int(game.resources[defender]))
        return support.covered[support.sample_index(rng)]

    def observe(self, realised_utility: float) -> None:
        """Her realised utility this round."""

    def estimates(self) -> dict[str, float]:
        """A learner's current estimates (its arms' mean realised utility); {} otherwise."""
        return {}


@EXECUTION.register("follow")
@dataclass
class Follow(ExecutionBehaviour):
    """Execute the recommendation as told."""


@EXECUTION.register("optimal_deviation")
@dataclass
class OptimalDeviation(ExecutionBehaviour):
    """Play the best strategy modification against the outcome's recommendation;
    follow when it gains nothing. Against a logit attacker (:meth:`face`) on a game of
    one attack on targets it is the one of
    :func:`~mechanisms.behavioural.ir_violation_logit`; otherwise the rational one of
    :func:`~mechanisms.properties.ir_violation`, which models one attack
    (:attr:`~sim.game.SecurityGame.one_attack`)."""

    _plans: dict[tuple[int, ...] | None, FloatArray] = field(
        default_factory=dict, init=False, repr=False
    )
    _outcome: object = field(default=None, init=False, repr=False)
    _memo: dict[object, dict[tuple[int, ...] | None, FloatArray]] = field(
        default_factory=dict, init=False, repr=False
    )
    _against: LogitResponse | None = field(default=None, init=False, repr=False)

    def face(self, response: LogitResponse | None) -> None:
        if response != self._against:
            self._against, self._outcome = response, None
            self._memo.clear()

    def plan_key(self) -> object:
        return self._outcome

    def prepare(
        self,
        game: SecurityGame,
        defender: int,
        outcome: MechanismOutcome,
        rng: np.random.Generator,
    ) -> None:
        key = outcome.key()
        if key == self._outcome:
            return
        self._outcome = key
        if key not in self._memo:
            plans: dict[tuple[int, ...] | None, FloatArray] = {}
            against = self._against
            logit = against is not None and game.attacker_resources == 1 and game.schedules is None
            rec = outcome.recommendation
            deviation: Deviation | LogitDeviation | None = None
            if logit and against is not None and rec is not None:
                deviation = ir_violation_logit(game, outcome, defender, against)
            elif isinstance(rec, Recommendation):
                deviation = ir_violation(game.one_attack, outcome, defender)
            if deviation is not None and is_failure(
                deviation.gain, game.units.defender_scale[defender]
            ):
                plans = {signal: y for signal, _, y in deviation.modification}
                if isinstance(rec, IndependentRecommendation):  # one plan, whatever she drew
                    plans = {None: plans[()]}
            self._memo[key] = plans
        self._plans = self._memo[key]

    def plan(self, game: SecurityGame, defender: int, signal: np.ndarray) -> FloatArray:
        key = None if None in self._plans else tuple(np.flatnonzero(signal).tolist())
        if key in self._plans:
            return np.clip(self._plans[key], 0.0, 1.0)
        return super().plan(game, defender, signal)


@EXECUTION.register("shirk")
@dataclass
class Shirk(ExecutionBehaviour):
    """Drop the recommended targets she cares little about: those whose stake
    (reward - penalty) is below the ``quantile`` of her own stakes."""

    quantile: float = 0.5
    _cares: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.quantile, int | float) and 0.0 <= self.quantile <= 1.0):
            raise InvalidParameterError(f"shirk.quantile must be in [0, 1]; got {self.quantile!r}")

    def plan(self, game: SecurityGame, defender: int, signal: np.ndarray) -> FloatArray:
        if self._cares is None:
            stake = game.defender_gap[defender]
            self._cares = stake >= np.quantile(stake, self.quantile)
        return (signal & self._cares).astype(np.float64)


@EXECUTION.register("learning_deviation")
@dataclass
class LearningDeviation(ExecutionBehaviour):
    """A bandit over the deviation rules {follow, shirk, optimal_deviation}, learning
    from realised utilities across rounds."""

    algorithm: str = "epsilon_greedy"
    epsilon: float = 0.1
    _bandit: _Bandit | None = field(default=None, init=False, repr=False)
    _rules: tuple[ExecutionBehaviour, ...] = field(default=(), init=False, repr=False)
    _choice: int = field(default=0, init=False, repr=False)
    _against: LogitResponse | None = field(default=None, init=False, repr=False)

    ARMS: ClassVar[tuple[str, ...]] = ("follow", "shirk", "optimal_deviation")

    def __post_init__(self) -> None:
        _check_bandit("learning_deviation", self.algorithm, self.epsilon)

    @property
    def arm(self) -> str:
        """The rule played last."""
        return self.ARMS[self._choice]

    def face(self, response: LogitResponse | None) -> None:
        self._against = response
        for rule in self._rules:
            rule.face(response)

    def prepare(
        self,
        game: SecurityGame,
        defender: int,
        outcome: MechanismOutcome,
        rng: np.random.Generator,
    ) -> None:
        """Pick this round's rule with ``rng``, then prepare every rule."""
        if self._bandit is None:
            self._bandit = _Bandit(len(self.ARMS), self.algorithm, float(self.epsilon))
            self._rules = tuple(make_execution(arm) for arm in self.ARMS)
            self.face(self._against)
        self._choice = self._bandit.pick(rng)
        for rule in self._rules:
            rule.prepare(game, defender, outcome, rng)

    def plan(self, game: SecurityGame, defender: int, signal: np.ndarray) -> FloatArray:
        if not self._rules:
            return super().plan(game, defender, signal)
        return self._rules[self._choice].plan(game, defender, signal)

    def plan_key(self) -> object:
        return self._choice

    def observe(self, realised_utility: float) -> None:
        if self._bandit is not None:
            self._bandit.update(realised_utility)

    def estimates(self) -> dict[str, float]:
        return {} if self._bandit is None else self._bandit.estimates(self.ARMS, "execute:")


def fresh(plugin: Any) -> Any:
    """A new instance with the same parameters and no learned state (a behaviour or
    an attacker model: state lives only in non-init fields)."""
    return type(plugin)(**params_of(plugin))
