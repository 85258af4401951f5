"""Attacker models: how the attacker picks its targets each round (a registry).

``informed`` best-responds to the coverage actually in force (the Stackelberg
attacker of Section 2, observing the mixed strategy the defenders really play, as in
Property 4's :math:`BR(\\phi(x))`); ``learning`` best-responds to an estimate built
from the allocations it observed in past rounds; ``quantal`` is a logit
(SUQR-style) bounded-rational attacker. Each draws with one uniform number per
attack and round, handed in by the caller, so counterfactuals reuse the same draws.

Every model attacks as many distinct targets at once as the game's
``attacker_resources`` (Korzhyk, Conitzer and Parr 2011), the one place the attack
count is set: the best responders attack that many best targets, the quantal attacker
draws that many distinct targets.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from mechanisms.outcome import MechanismOutcome
from sim.errors import InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.numerics import TIE_BREAKING_MODES, TieBreaking
from sim.payoffs import attacked_targets, attacker_utilities
from sim.registry import Registry

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


@ATTACKERS.register("quantal")
@dataclass
class Quantal(AttackerModel):
    """Logit quantal response: target t with probability proportional to
    :math:`\\exp(\\lambda U^a(c, t))` (``precision`` :math:`\\lambda \\ge 0`; large
    values approach a best response, 0 is uniform). With several attacks the targets
    are drawn one at a time without replacement, each from the logit weights of the
    targets not yet drawn (a Plackett-Luce draw)."""

    precision: float = 1.0

    def __post_init__(self) -> None:
        if not (isinstance(self.precision, int | float) and 0.0 <= self.precision < np.inf):
            raise InvalidParameterError(
                f"quantal.precision must be finite and >= 0; got {self.precision!r}"
            )

    def probabilities(self, game: SecurityGame, coverage: FloatArray) -> FloatArray:
        """The logit response distribution, shape (m,)."""
        z = self.precision * attacker_utilities(game, coverage)
        w = np.exp(z - z.max())
        return w / w.sum()

    def respond(
        self, game: SecurityGame, coverage: FloatArray, outcome: MechanismOutcome, u: FloatArray
    ) -> tuple[int, ...]:
        z = self.precision * attacker_utilities(game, coverage)
        left = np.ones(z.size, dtype=bool)
        drawn: list[int] = []
        for draw in u[: game.attacker_resources]:
            weights = np.where(left, np.exp(z - z[left].max()), 0.0)
            cdf = np.cumsum(weights / weights.sum())
            pick = int(min(np.searchsorted(cdf, draw * cdf[-1], side="right"), cdf.size - 1))
            if not left[pick]:  # the clamp at the end landed on a drawn target
                pick = int(np.flatnonzero(left)[-1])
            drawn.append(pick)
            left[pick] = False
        return tuple(sorted(drawn))
