"""Behavioural attacker responses (``docs/behavioural.md`` §1): logit models whose
score of a target is a weighted sum of features of the target and its coverage.

* Quantal response (McKelvey and Palfrey 1995; in security games Yang et al. 2011):
  the score is :math:`\\lambda U^a(c, t)`.
* SUQR (Nguyen et al. 2013): the score is
  :math:`w_1 c_t + w_2 R^a_t + w_3 P^a_t`.

The attacker's payoffs enter in his standard units (:attr:`SecurityGame.standard`:
his lowest penalty 0, his largest reward 1), so a model's weights mean the same
whatever the payoffs' units: :math:`\\lambda = 10` weighs a tenth of his payoff range
as one unit of score. A score is affine in the coverage of its own target,
:math:`a_t + b_t c_t` (:meth:`LogitResponse.affine`), which the optimiser of
:mod:`sim.solvers.behavioural` uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

import numpy as np
from numpy.typing import ArrayLike

from sim.errors import InvalidParameterError
from sim.game import FloatArray, SecurityGame

#: The features a logit response can weigh, per target: the attacker's utility
#: :math:`U^a(c, t)`, the coverage :math:`c_t`, his reward :math:`R^a_t` and his
#: penalty :math:`P^a_t` (payoffs in his standard units).
FEATURES: Final[tuple[str, ...]] = ("utility", "coverage", "reward", "penalty")

#: SUQR's features, in the order of its weights (w1, w2, w3).
SUQR_FEATURES: Final[tuple[str, ...]] = ("coverage", "reward", "penalty")


def features(game: SecurityGame, coverage: ArrayLike) -> FloatArray:
    """The features of every target under ``coverage``, shape (m, 4), columns in the
    order of :data:`FEATURES`."""
    c = np.asarray(coverage, dtype=np.float64)
    if c.shape != (game.n_targets,):
        raise InvalidParameterError(f"coverage must have shape ({game.n_targets},); got {c.shape}")
    s = game.standard
    return np.column_stack(
        [s.attacker_reward - c * s.attacker_gap, c, s.attacker_reward, s.attacker_penalty]
    )


def softmax(scores: FloatArray) -> FloatArray:
    """Probabilities proportional to ``exp(scores)`` along the last axis."""
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class LogitResponse:
    """An attacker who attacks target t with probability proportional to
    :math:`\\exp(\\sum_k w_k f_k(c, t))`, the features :math:`f_k` named in
    :data:`FEATURES`.

    Parameters
    ----------
    weights : mapping of str to float
        A finite weight per feature it uses.
    """

    weights: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(FEATURES))
        if unknown:
            raise InvalidParameterError(
                f"LogitResponse.weights: unknown features {unknown}; known: {list(FEATURES)}"
            )
        for name, value in self.weights.items():
            if not (isinstance(value, int | float) and np.isfinite(value)):
                raise InvalidParameterError(
                    f"LogitResponse.weights[{name!r}] must be a finite number; got {value!r}"
                )
        ordered = {k: float(self.weights[k]) for k in FEATURES if k in self.weights}
        object.__setattr__(self, "weights", MappingProxyType(ordered))

    @classmethod
    def quantal(cls, precision: float) -> LogitResponse:
        """Quantal response with precision :math:`\\lambda \\ge 0` (0: uniform)."""
        if not (isinstance(precision, int | float) and 0.0 <= precision < np.inf):
            raise InvalidParameterError(
                f"quantal precision must be finite and >= 0; got {precision!r}"
            )
        return cls({"utility": float(precision)})

    @classmethod
    def suqr(cls, coverage: float, reward: float, penalty: float) -> LogitResponse:
        """SUQR with weights :math:`(w_1, w_2, w_3)` on coverage, reward and penalty."""
        return cls({"coverage": coverage, "reward": reward, "penalty": penalty})

    @property
    def vector(self) -> FloatArray:
        """The weights as a vector over :data:`FEATURES` (0 for an unused feature)."""
        return np.array([self.weights.get(k, 0.0) for k in FEATURES])

    def scores(self, game: SecurityGame, coverage: ArrayLike) -> FloatArray:
        """Each target's score under ``coverage``, shape (m,)."""
        return features(game, coverage) @ self.vector

    def probabilities(self, game: SecurityGame, coverage: ArrayLike) -> FloatArray:
        """Each target's attack probability under ``coverage``, shape (m,)."""
        return softmax(self.scores(game, coverage))

    def utilities(self, game: SecurityGame, coverage: ArrayLike) -> FloatArray:
        """Each defender's expected utility against this attacker under ``coverage``,
        shape (n,)."""
        c = np.asarray(coverage, dtype=np.float64)
        return np.asarray(
            (game.defender_penalty + c * game.defender_gap) @ self.probabilities(game, c)
        )

    def affine(self, game: SecurityGame) -> tuple[FloatArray, FloatArray]:
        """``(a, b)``, each shape (m,): target t's score is ``a[t] + b[t] * c_t``."""
        s = game.standard
        w = self.weights
        a = (w.get("utility", 0.0) + w.get("reward", 0.0)) * s.attacker_reward
        a = a + w.get("penalty", 0.0) * s.attacker_penalty
        b = w.get("coverage", 0.0) - w.get("utility", 0.0) * s.attacker_gap
        return a, b
