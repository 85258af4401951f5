"""Seeded random game families that a study can name.

Each family is a frozen dataclass whose fields are its parameters (validated at
construction) and whose :meth:`sample` draws one valid :class:`~sim.game.SecurityGame`
from the ``rng`` it is given, in a fixed order of draws (so one seed gives one game).

Payoff conventions: most families follow the SSG literature (rewards in (0, scale],
penalties in [-scale, 0)); ``negative_rewards`` lets rewards fall below zero and
``integer`` draws integer pairs, so solvers and benches meet those cases too. Every
family has ``reward > penalty`` strictly by construction.

``resources`` is an int (every defender owns that many), a sequence of n ints, or a
mapping ``{"low": a, "high": b}`` (each :math:`k_i` uniform on a..b, inclusive).

``jurisdiction`` below 1 gives each defender a jurisdiction (``docs/jurisdictions.md``
§1): every target has a home defender drawn uniformly, and each defender may guard
her home targets plus random others, ``round(jurisdiction * m)`` targets in all (at
least one; more when she has more home targets), so jurisdictions overlap and every
target has a guard. At 1 (the default) there are no jurisdictions and nothing more
is drawn.

``schedule_size`` above 1 gives the resources schedules (Korzhyk, Conitzer and Parr
2010; ``docs/schedules.md``): one per target, the target with ``schedule_size - 1``
others drawn at random, so every target lies on some schedule. At 1 (the default)
each resource guards one target and nothing more is drawn.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr

from sim.errors import InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.instances import order_payoffs
from sim.registry import Registry

GENERATORS: Registry[GameGenerator] = Registry("generator")
register_generator = GENERATORS.register


def available_generators() -> list[str]:
    """The registered generator names, sorted."""
    return GENERATORS.names()


def make_generator(name: str, **params: Any) -> GameGenerator:
    """Build the generator ``name`` with ``params``."""
    return GENERATORS.make(name, **params)


def _positive(scale: float, size: Any, rng: np.random.Generator) -> FloatArray:
    """Uniform on (0, scale]."""
    return scale - rng.uniform(0.0, scale, size=size)


@dataclass(frozen=True)
class GameGenerator(ABC):
    """Shared parameters and validation of every game family."""

    n_defenders: int = 2
    n_targets: int = 5
    resources: Any = 1
    scale: float = 10.0
    attacker_resources: int = 1
    jurisdiction: float = 1.0
    schedule_size: int = 1

    name: ClassVar[str]

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for field in ("n_defenders", "n_targets"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise InvalidParameterError(f"{owner}.{field} must be an int >= 1; got {value!r}")
        if not (
            isinstance(self.scale, int | float)
            and not isinstance(self.scale, bool)
            and np.isfinite(self.scale)
            and 0 < self.scale <= 1e9
        ):
            raise InvalidParameterError(
                f"{owner}.scale must be a finite number > 0 (at most 1e9); got {self.scale!r}"
            )
        object.__setattr__(
            self, "resources", _resource_spec(self.resources, self.n_defenders, owner)
        )
        na = self.attacker_resources
        if not (
            isinstance(na, int | np.integer)
            and not isinstance(na, bool)
            and 1 <= na <= self.n_targets
        ):
            raise InvalidParameterError(
                f"{owner}.attacker_resources must be an int in [1, n_targets={self.n_targets}]; "
                f"got {na!r}"
            )

        share = self.jurisdiction
        if not (
            isinstance(share, int | float)
            and not isinstance(share, bool)
            and np.isfinite(share)
            and 0.0 < share <= 1.0
        ):
            raise InvalidParameterError(
                f"{owner}.jurisdiction must be a number in (0, 1] (the share of targets "
                f"each defender may guard); got {share!r}"
            )

        size = self.schedule_size
        if not (
            isinstance(size, int | np.integer)
            and not isinstance(size, bool)
            and 1 <= size <= self.n_targets
        ):
            raise InvalidParameterError(
                f"{owner}.schedule_size must be an int in [1, n_targets={self.n_targets}] "
                f"(the targets one resource guards); got {size!r}"
            )

    def draw_schedules(self, rng: np.random.Generator) -> list[list[int]] | None:
        """The schedules (one per target: it and ``schedule_size - 1`` others at random),
        or None at ``schedule_size = 1``."""
        if self.schedule_size == 1:
            return None
        m = self.n_targets
        schedules = []
        for t in range(m):
            others = rng.permutation(np.delete(np.arange(m), t))[: self.schedule_size - 1]
            schedules.append([t, *(int(o) for o in others)])
        return schedules

    def draw_jurisdictions(self, rng: np.random.Generator) -> np.ndarray | None:
        """The jurisdiction mask, shape (n, m), or None at ``jurisdiction = 1``."""
        if self.jurisdiction >= 1.0:
            return None
        n, m = self.n_defenders, self.n_targets
        allowed = np.zeros((n, m), dtype=bool)
        allowed[rng.integers(0, n, size=m), np.arange(m)] = True  # home defenders
        size = max(1, round(self.jurisdiction * m))
        # then the others in a random order until she has `size` targets
        priority = np.where(allowed, -1.0, rng.random((n, m)))
        rank = np.argsort(np.argsort(priority, axis=1, kind="stable"), axis=1, kind="stable")
        return allowed | (rank < size)

    def draw_resources(self, rng: np.random.Generator) -> np.ndarray:
        """The resource profile: fixed, or drawn when ``resources`` is a range."""
        spec = self.resources
        if isinstance(spec, tuple) and spec and spec[0] == "range":
            return rng.integers(spec[1], spec[2] + 1, size=self.n_defenders)
        if isinstance(spec, tuple):
            return np.asarray(spec, dtype=np.int64)
        return np.full(self.n_defenders, spec, dtype=np.int64)

    def game(
        self,
        rng: np.random.Generator,
        defender_reward: ArrayLike,
        defender_penalty: ArrayLike,
        attacker_reward: ArrayLike,
        attacker_penalty: ArrayLike,
    ) -> SecurityGame:
        """The game with these payoffs, its resources (then its jurisdictions, then its
        schedules) drawn last from ``rng`` and the family's ``attacker_resources``
        (what every :meth:`sample` returns)."""
        resources = self.draw_resources(rng)
        return SecurityGame(
            defender_reward=defender_reward,
            defender_penalty=defender_penalty,
            attacker_reward=attacker_reward,
            attacker_penalty=attacker_penalty,
            resources=resources,
            attacker_resources=self.attacker_resources,
            allowed=self.draw_jurisdictions(rng),
            schedules=self.draw_schedules(rng),
        )

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> SecurityGame:
        """Draw one game (every draw from ``rng``, in a fixed order)."""

    def params(self) -> dict[str, Any]:
        """The parameters as plain values (a range prints as ``{"low", "high"}``)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        spec = out["resources"]
        if isinstance(spec, tuple) and spec and spec[0] == "range":
            out["resources"] = {"low": spec[1], "high": spec[2]}
        elif isinstance(spec, tuple):
            out["resources"] = list(spec)
        return out


def _resource_spec(spec: Any, n: int, owner: str) -> Any:
    def whole(value: Any) -> bool:
        return bool(
            isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 0
        )

    if whole(spec):
        return int(spec)
    if isinstance(spec, tuple) and spec and spec[0] == "range":
        return spec
    if isinstance(spec, Mapping):
        if set(spec) != {"low", "high"} or not (whole(spec["low"]) and whole(spec["high"])):
            raise InvalidParameterError(
                f"{owner}.resources as a range must be {{'low': a, 'high': b}} with ints "
                f"0 <= a <= b; got {dict(spec)!r}"
            )
        if spec["low"] > spec["high"]:
            raise InvalidParameterError(
                f"{owner}.resources range needs low <= high; got {dict(spec)!r}"
            )
        return ("range", int(spec["low"]), int(spec["high"]))
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        if len(spec) != n or not all(whole(k) for k in spec):
            raise InvalidParameterError(
                f"{owner}.resources as a list must hold {n} ints >= 0; got {list(spec)!r}"
            )
        return tuple(int(k) for k in spec)
    raise InvalidParameterError(
        f"{owner}.resources must be an int >= 0, a list of n ints or {{'low', 'high'}}; "
        f"got {spec!r}"
    )


def _attacker(rng: np.random.Generator, m: int, scale: float) -> tuple[FloatArray, FloatArray]:
    return _positive(scale, m, rng), -_positive(scale, m, rng)


@register_generator("uniform")
@dataclass(frozen=True)
class UniformGames(GameGenerator):
    """Independent uniform payoffs: rewards on (0, scale], penalties on [-scale, 0)."""

    def sample(self, rng: np.random.Generator) -> SecurityGame:
        n, m, s = self.n_defenders, self.n_targets, self.scale
        reward = _positive(s, (n, m), rng)
        penalty = -_positive(s, (n, m), rng)
        attacker_reward, attacker_penalty = _attacker(rng, m, s)
        return self.game(rng, reward, penalty, attacker_reward, attacker_penalty)


@register_generator("covariant")
@dataclass(frozen=True)
class CovariantGames(GameGenerator):
    """Valuations correlated across players, in the spirit of GAMUT's covariant games.

    A latent importance :math:`z_t \\sim N(0, 1)` drives the attacker's reward
    :math:`r^a(t) = \\text{scale}\\cdot\\Phi(z_t)`. Defender ``i``'s valuation is
    :math:`w_{it} = \\rho z_t + \\sqrt{1 - \\rho^2} e_{it}` and her penalty is
    :math:`p_i(t) = -\\text{scale}\\cdot\\Phi(w_{it})`: with ``correlation`` :math:`\\rho`
    each defender's loss correlates :math:`\\rho` with the attacker's gain and
    :math:`\\rho^2` with every other defender's. Rewards and the attacker's penalties
    are independent uniforms.
    """

    correlation: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        rho = self.correlation
        if not (isinstance(rho, int | float) and -1.0 <= rho <= 1.0):
            raise InvalidParameterError(
                f"CovariantGames.correlation must be in [-1, 1]; got {rho!r}"
            )

    def sample(self, rng: np.random.Generator) -> SecurityGame:
        n, m, s, rho = self.n_defenders, self.n_targets, self.scale, float(self.correlation)
        latent = rng.standard_normal(m)
        noise = rng.standard_normal((n, m))
        valuation = rho * latent + np.sqrt(max(0.0, 1.0 - rho * rho)) * noise
        # Phi maps to (0, 1); clip away the ends so rewards stay > 0 > penalties.
        penalty = -s * np.clip(ndtr(valuation), 1e-12, 1.0)
        reward = _positive(s, (n, m), rng)
        attacker_reward = s * np.clip(ndtr(latent), 1e-12, 1.0)
        attacker_penalty = -_positive(s, m, rng)
        return self.game(rng, reward, penalty, attacker_reward, attacker_penalty)


@register_generator("nonoverlapping")
@dataclass(frozen=True)
class NonOverlappingGames(GameGenerator):
    """Uniformly random preference orders mapped by g(<) (Gan et al. 2020, Section 3.2).

    ``attacker="identical"`` uses the attacker alpha* of Theorem 3.3 (r^a = 0, p^a = -1);
    ``"uniform"`` draws the attacker's payoffs like :class:`UniformGames`.
    """

    attacker: str = "uniform"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.attacker not in ("identical", "uniform"):
            raise InvalidParameterError(
                f"NonOverlappingGames.attacker must be 'identical' or 'uniform'; "
                f"got {self.attacker!r}"
            )

    def sample(self, rng: np.random.Generator) -> SecurityGame:
        n, m = self.n_defenders, self.n_targets
        types = [order_payoffs(rng.permutation(m).tolist()) for _ in range(n)]
        if self.attacker == "identical":
            attacker_reward, attacker_penalty = np.zeros(m), -np.ones(m)
        else:
            attacker_reward, attacker_penalty = _attacker(rng, m, self.scale)
        return self.game(
            rng,
            [reward for reward, _ in types],
            [penalty for _, penalty in types],
            attacker_reward,
            attacker_penalty,
        )


@register_generator("zero_sum_like")
@dataclass(frozen=True)
class ZeroSumLikeGames(GameGenerator):
    """Defenders' payoffs mirror the attacker's, up to multiplicative noise.

    :math:`p_i(t) = -r^a(t)\\,e^{\\sigma \\epsilon}` and
    :math:`r_i(t) = -p^a(t)\\,e^{\\sigma \\epsilon'}` with independent standard normal
    :math:`\\epsilon`; ``noise`` :math:`\\sigma = 0` gives a zero-sum game for every defender.
    """

    noise: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (isinstance(self.noise, int | float) and 0.0 <= self.noise < np.inf):
            raise InvalidParameterError(
                f"ZeroSumLikeGames.noise must be a finite number >= 0; got {self.noise!r}"
            )

    def sample(self, rng: np.random.Generator) -> SecurityGame:
        n, m, sigma = self.n_defenders, self.n_targets, float(self.noise)
        attacker_reward, attacker_penalty = _attacker(rng, m, self.scale)
        penalty = -attacker_reward * np.exp(sigma * rng.standard_normal((n, m)))
        reward = -attacker_penalty * np.exp(sigma * rng.standard_normal((n, m)))
        return self.game(rng, reward, penalty, attacker_reward, attacker_penalty)


@register_generator("negative_rewards")
@dataclass(frozen=True)
class NegativeRewardGames(GameGenerator):
    """Penalties uniform on :math:`[-\\text{scale}, 0)` and rewards a positive gap above
    them, uniform on :math:`(0.01\\,\\text{scale}, \\text{scale}]`, for every defender and
    the attacker: rewards may be negative (a covered attack still hurts), which the
    all-positive rewards of ``uniform`` never show."""

    def sample(self, rng: np.random.Generator) -> SecurityGame:
        n, m, s = self.n_defenders, self.n_targets, self.scale
        penalty = -_positive(s, (n, m), rng)
        reward = penalty + 0.01 * s + _positive(0.99 * s, (n, m), rng)
        attacker_penalty = -_positive(s, m, rng)
        attacker_reward = attacker_penalty + 0.01 * s + _positive(0.99 * s, m, rng)
        return self.game(rng, reward, penalty, attacker_reward, attacker_penalty)


def _integer_pairs(
    bound: int, size: Any, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """(penalty, reward): a pair of distinct integers in [-bound, bound], uniform over
    all such pairs, the smaller one the penalty."""
    first = rng.integers(-bound, bound + 1, size=size)
    second = rng.integers(-bound, bound, size=size)
    second = second + (second >= first)  # skip ``first``: uniform over the others
    return np.minimum(first, second).astype(float), np.maximum(first, second).astype(float)


@register_generator("integer")
@dataclass(frozen=True)
class IntegerGames(GameGenerator):
    """Integer payoffs: every (penalty, reward) pair, the defenders' and the
    attacker's, uniform over the pairs of integers in :math:`[-\\text{scale},
    \\text{scale}]` with penalty < reward (Korzhyk et al. 2011 use scale 10). Ties
    between targets and players are common, which is where solvers are delicate."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if float(self.scale) != int(self.scale):
            raise InvalidParameterError(
                f"IntegerGames.scale must be a whole number; got {self.scale!r}"
            )

    def sample(self, rng: np.random.Generator) -> SecurityGame:
        n, m, bound = self.n_defenders, self.n_targets, int(self.scale)
        penalty, reward = _integer_pairs(bound, (n, m), rng)
        attacker_penalty, attacker_reward = _integer_pairs(bound, m, rng)
        return self.game(rng, reward, penalty, attacker_reward, attacker_penalty)


@register_generator("identical_attacker")
@dataclass(frozen=True)
class IdenticalAttackerGames(GameGenerator):
    """Defenders' payoffs as in ``uniform``; the attacker values every target alike
    (one reward and one penalty drawn for all), so he is indifferent wherever the
    coverage is equal: the case of Gan et al.'s Theorems 3.2 and 3.3."""

    def sample(self, rng: np.random.Generator) -> SecurityGame:
        n, m, s = self.n_defenders, self.n_targets, self.scale
        reward = _positive(s, (n, m), rng)
        penalty = -_positive(s, (n, m), rng)
        attacker_reward, attacker_penalty = _attacker(rng, 1, s)
        return self.game(
            rng, reward, penalty, np.repeat(attacker_reward, m), np.repeat(attacker_penalty, m)
        )
