"""Attacker models: how the attacker picks its targets each round (a registry).

``informed`` best-responds to the coverage actually in force (the Stackelberg
attacker of Section 2, observing the mixed strategy the defenders really play, as in
Property 4's :math:`BR(\\phi(x))`); ``learning`` best-responds to an estimate built
from the allocations it observed in past rounds; ``quantal`` and ``suqr`` are
boundedly rational logit attackers (:mod:`sim.response`); ``bayesian`` is a mixture of
types, each rational or logit with its own payoffs (``docs/behavioural.md``). Each
draws with one uniform number per attack and round, handed in by the caller, so
counterfactuals reuse the same draws.

Every model attacks as many distinct targets at once as the game's
``attacker_resources`` (Korzhyk, Conitzer and Parr 2011), the one place the attack
count is set: the best responders attack that many best targets, the logit attackers
draw that many distinct targets.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from mechanisms.outcome import MechanismOutcome
from sim.errors import InvalidGameError, InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.numerics import TIE_BREAKING_MODES, TieBreaking
from sim.payoffs import attacked_targets
from sim.registry import Registry
from sim.response import LogitResponse

ATTACKERS: Registry[Any] = Registry("attacker model")


def make_attacker(name: str, **params: Any) -> AttackerModel:
    """Build the attacker model ``name``."""
    model: AttackerModel = ATTACKERS.make(name, **params)
    return model


def _pick(
    game: SecurityGame,
    coverage: FloatArray,
    outcome: MechanismOutcome,
    mode: str,
    u: FloatArray,
    attacks: int,
) -> tuple[int, ...]:
    """The ``attacks`` best targets with tie-breaking ``mode`` (``designated``: the
    outcome's attacked set first); ``u[0]`` seeds the ``random`` mode."""
    designated = outcome.attacked_targets or None
    if mode == "designated" and designated is None:
        mode = "pessimistic"
    return attacked_targets(
        game,
        coverage,
        attacks=attacks,
        tie_breaking=mode,  # type: ignore[arg-type]
        designated=designated,
        rng=np.random.default_rng(int(u[0] * 2**32)) if mode == "random" else None,
    )


def _check_tie_breaking(owner: str, mode: str) -> None:
    if mode not in TIE_BREAKING_MODES:
        raise InvalidParameterError(
            f"{owner}.tie_breaking must be one of {list(TIE_BREAKING_MODES)}; got {mode!r}"
        )


@dataclass
class AttackerModel(ABC):
    """Base of the attacker models."""

    name: ClassVar[str]

    def reset(self, game: SecurityGame) -> None:  # noqa: B027  (an optional hook)
        """Start of a run."""

    def belief(self, outcome: MechanismOutcome, effective: FloatArray) -> FloatArray:
        """The coverage it responds to this round."""
        return effective

    @abstractmethod
    def respond(
        self, game: SecurityGame, coverage: FloatArray, outcome: MechanismOutcome, u: FloatArray
    ) -> tuple[int, ...]:
        """The attacked targets (sorted, :meth:`attacks` of them) given the coverage it
        believes in and one uniform per attack ``u``."""

    def observe(self, covered: np.ndarray) -> None:  # noqa: B027  (an optional hook)
        """The allocation it saw this round (bool, shape (m,))."""

    @property
    def estimate(self) -> FloatArray | None:
        """The coverage it currently believes in, for attackers that learn (else None)."""
        return None

    def logit(self) -> LogitResponse | None:
        """The logit model it attacks by, where it is one (the audits against a
        behavioural attacker use it); None otherwise."""
        return None


@ATTACKERS.register("informed")
@dataclass
class Informed(AttackerModel):
    """Best-responds to the coverage in force, ties by ``tie_breaking`` (``designated``:
    the outcome's own target when it is a best response, else the pessimistic one)."""

    tie_breaking: TieBreaking = "designated"

    def __post_init__(self) -> None:
        _check_tie_breaking("informed", self.tie_breaking)

    def respond(
        self, game: SecurityGame, coverage: FloatArray, outcome: MechanismOutcome, u: FloatArray
    ) -> tuple[int, ...]:
        return _pick(game, coverage, outcome, self.tie_breaking, u, game.attacker_resources)


@ATTACKERS.register("learning")
@dataclass
class Learning(AttackerModel):
    """Estimates the coverage from the allocations it observed (exponential discount
    ``discount``; the published coverage is the prior) and best-responds to the
    estimate, so systematic deviations are noticed."""

    discount: float = 0.9
    tie_breaking: TieBreaking = "designated"
    _estimate: FloatArray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.discount, int | float) and 0.0 <= self.discount < 1.0):
            raise InvalidParameterError(
                f"learning.discount must be in [0, 1); got {self.discount!r}"
            )
        _check_tie_breaking("learning", self.tie_breaking)

    def reset(self, game: SecurityGame) -> None:
        self._estimate = None

    def belief(self, outcome: MechanismOutcome, effective: FloatArray) -> FloatArray:
        if self._estimate is None:
            self._estimate = np.array(outcome.coverage, dtype=np.float64)
        return self._estimate

    def respond(
        self, game: SecurityGame, coverage: FloatArray, outcome: MechanismOutcome, u: FloatArray
    ) -> tuple[int, ...]:
        return _pick(game, coverage, outcome, self.tie_breaking, u, game.attacker_resources)

    @property
    def estimate(self) -> FloatArray | None:
        return self._estimate

    def observe(self, covered: np.ndarray) -> None:
        if self._estimate is not None:
            self._estimate = self.discount * self._estimate + (1 - self.discount) * covered


def _logit_draw(scores: FloatArray, u: FloatArray, attacks: int) -> tuple[int, ...]:
    """``attacks`` distinct targets drawn one at a time without replacement, each from
    the logit weights of the targets not yet drawn (a Plackett-Luce draw), by inverting
    the cumulative weights at one uniform per attack."""
    left = np.ones(scores.size, dtype=bool)
    drawn: list[int] = []
    for draw in u[:attacks]:
        weights = np.where(left, np.exp(scores - scores[left].max()), 0.0)
        cdf = np.cumsum(weights / weights.sum())
        pick = int(min(np.searchsorted(cdf, draw * cdf[-1], side="right"), cdf.size - 1))
        if not left[pick]:  # the clamp at the end landed on a drawn target
            pick = int(np.flatnonzero(left)[-1])
        drawn.append(pick)
        left[pick] = False
    return tuple(sorted(drawn))


@dataclass
class _Logit(AttackerModel):
    """A logit attacker (:class:`~sim.response.LogitResponse`): :meth:`response` gives
    the model; with several attacks the targets are drawn without replacement, each
    from the logit weights of the targets not yet drawn (a Plackett-Luce draw)."""

    @abstractmethod
    def response(self) -> LogitResponse:
        """The logit model of its attack probabilities."""

    def logit(self) -> LogitResponse:
        return self.response()

    def probabilities(self, game: SecurityGame, coverage: FloatArray) -> FloatArray:
        """Its attack distribution (one attack), shape (m,)."""
        return self.response().probabilities(game, coverage)

    def respond(
        self, game: SecurityGame, coverage: FloatArray, outcome: MechanismOutcome, u: FloatArray
    ) -> tuple[int, ...]:
        return _logit_draw(self.response().scores(game, coverage), u, game.attacker_resources)


@ATTACKERS.register("quantal")
@dataclass
class Quantal(_Logit):
    """Logit quantal response (McKelvey and Palfrey 1995; Yang et al. 2011): target t
    with probability proportional to :math:`\\exp(\\lambda U^a(c, t))`, the attacker's
    utility in his standard units (his payoff range is 1), so ``precision``
    :math:`\\lambda \\ge 0` means the same whatever the payoffs' units; large values
    approach a best response, 0 is uniform."""

    precision: float = 1.0

    def __post_init__(self) -> None:
        self.response()  # validates the precision

    def response(self) -> LogitResponse:
        return LogitResponse.quantal(self.precision)


@ATTACKERS.register("suqr")
@dataclass
class SUQR(_Logit):
    """Subjective utility quantal response (Nguyen et al. 2013): target t with
    probability proportional to :math:`\\exp(w_1 c_t + w_2 R^a_t + w_3 P^a_t)`, his
    payoffs in his standard units (lowest penalty 0, largest reward 1). The defaults
    are the signs SUQR's fits found (coverage deters, reward attracts, a higher
    penalty, i.e. a milder one, attracts)."""

    w_coverage: float = -9.0
    w_reward: float = 3.0
    w_penalty: float = 1.0

    def __post_init__(self) -> None:
        for name in ("w_coverage", "w_reward", "w_penalty"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and np.isfinite(value)):
                raise InvalidParameterError(f"suqr.{name} must be a finite number; got {value!r}")

    def response(self) -> LogitResponse:
        return LogitResponse.suqr(self.w_coverage, self.w_reward, self.w_penalty)


#: The models a Bayesian attacker's type may follow (stateless ones).
TYPE_MODELS = ("informed", "quantal", "suqr")


@ATTACKERS.register("bayesian")
@dataclass
class Bayesian(AttackerModel):
    """A Bayesian attacker (Paruchuri et al. 2008): each round an attacker of type k
    arrives with probability ``weight`` of type k, and attacks as its model does, with
    its own payoffs.

    Parameters
    ----------
    types : sequence of mappings
        Each type: ``model`` (one of :data:`TYPE_MODELS`), ``weight`` (> 0; the
        weights sum to 1), the model's parameters (``precision``, ``w_coverage``, ...,
        ``tie_breaking``), and optionally its own payoffs ``reward`` and ``penalty``
        (one per target, reward above penalty; default the game's attacker payoffs).

    The type is drawn with the round's first uniform, which, rescaled within the
    type's share of [0, 1), is again uniform and drives the type's own draw: a round
    still uses one uniform per attack.
    """

    types: tuple[Any, ...] = (
        {"model": "informed", "weight": 0.5},
        {"model": "quantal", "precision": 10.0, "weight": 0.5},
    )
    _models: tuple[AttackerModel, ...] = field(default=(), init=False, repr=False)
    _weights: FloatArray = field(default_factory=lambda: np.ones(1), init=False, repr=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.types, list | tuple) and self.types):
            raise InvalidParameterError(
                f"bayesian.types must be a non-empty list of types; got {self.types!r}"
            )
        models, weights = [], []
        for k, entry in enumerate(self.types):
            where = f"bayesian.types[{k}]"
            if not isinstance(entry, dict):
                raise InvalidParameterError(f"{where} must be a table; got {entry!r}")
            params = dict(entry)
            model = params.pop("model", None)
            if model not in TYPE_MODELS:
                raise InvalidParameterError(
                    f"{where}.model must be one of {list(TYPE_MODELS)}; got {model!r}"
                )
            weight = params.pop("weight", None)
            if not (isinstance(weight, int | float) and weight > 0 and np.isfinite(weight)):
                raise InvalidParameterError(f"{where}.weight must be > 0; got {weight!r}")
            for key in ("reward", "penalty"):
                params.pop(key, None)
            try:
                models.append(make_attacker(model, **params))
            except (InvalidParameterError, TypeError) as exc:
                raise InvalidParameterError(f"{where}: {exc}") from None
            weights.append(float(weight))
        if abs(sum(weights) - 1.0) > 1e-9:
            raise InvalidParameterError(f"bayesian.types' weights must sum to 1; got {weights}")
        self.types = tuple(dict(entry) for entry in self.types)
        self._models = tuple(models)
        self._weights = np.array(weights)

    def type_game(self, game: SecurityGame, k: int) -> SecurityGame:
        """``game`` with type k's attacker payoffs."""
        entry = self.types[k]
        if "reward" not in entry and "penalty" not in entry:
            return game
        try:
            return game.with_attacker_payoffs(
                entry.get("reward", game.attacker_reward),
                entry.get("penalty", game.attacker_penalty),
            )
        except InvalidGameError as exc:
            raise InvalidParameterError(f"bayesian.types[{k}]'s payoffs: {exc}") from None

    def probabilities(self, game: SecurityGame, coverage: FloatArray) -> FloatArray:
        """Its attack distribution (one attack), when every type is behavioural."""
        if not all(isinstance(model, _Logit) for model in self._models):
            raise InvalidParameterError(
                "bayesian.probabilities needs behavioural types only (quantal, suqr)"
            )
        return sum(
            (
                w * model.probabilities(self.type_game(game, k), coverage)  # type: ignore[attr-defined]
                for k, (w, model) in enumerate(zip(self._weights, self._models, strict=True))
            ),
            start=np.zeros(game.n_targets),
        )

    def respond(
        self, game: SecurityGame, coverage: FloatArray, outcome: MechanismOutcome, u: FloatArray
    ) -> tuple[int, ...]:
        ends = np.cumsum(self._weights)
        k = int(min(np.searchsorted(ends, u[0], side="right"), ends.size - 1))
        start = ends[k - 1] if k else 0.0
        inner = np.array(u, dtype=np.float64)
        inner[0] = min((u[0] - start) / self._weights[k], np.nextafter(1.0, 0.0))
        return self._models[k].respond(self.type_game(game, k), coverage, outcome, inner)
