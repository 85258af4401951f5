r"""The multi-defender Stackelberg security game (Gan et al., AAMAS 2020, Section 2).

There are :math:`n` defenders and :math:`m` targets. Defender :math:`i` owns
:math:`k_i \in \mathbb{N}_{\ge 0}` resources; :math:`K = \sum_i k_i`. A coverage vector
:math:`c \in [0, 1]^m` gives the probability that each target is protected. When the
attacker attacks target :math:`t`,

.. math::

    U_i^d(c, t) = c_t\, r_i^d(t) + (1 - c_t)\, p_i^d(t), \qquad
    U^a(c, t) = (1 - c_t)\, r^a(t) + c_t\, p^a(t),

with :math:`r_i^d(t) > p_i^d(t)` and :math:`r^a(t) > p^a(t)` for every :math:`i, t`.
A defender's *type* is :math:`\theta_i = (r_i^d, p_i^d)`; the attacker's type
:math:`\alpha = (r^a, p^a)` is known to everyone.

=====================  ============================  ==========
paper                  attribute                     shape
=====================  ============================  ==========
:math:`r_i^d(t)`       ``defender_reward[i, t]``     (n, m)
:math:`p_i^d(t)`       ``defender_penalty[i, t]``    (n, m)
:math:`r^a(t)`         ``attacker_reward[t]``        (m,)
:math:`p^a(t)`         ``attacker_penalty[t]``       (m,)
:math:`k_i`            ``resources[i]``              (n,)
:math:`K`              ``total_resources``           scalar
jurisdictions          ``allowed[i, t]``             (n, m)
=====================  ============================  ==========

``allowed`` is the jurisdiction extension (``docs/jurisdictions.md``): defender ``i``'s
resources may cover only the targets with ``allowed[i, t]`` (default: every target, the
model of the paper).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sim.errors import InvalidGameError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_OWNER = "SecurityGame"

#: The dynamic range the solvers are exact on. Every payoff's magnitude is at most
#: PAYOFF_LIMIT, and every gap (reward - penalty) is at least GAP_FLOOR times the
#: largest of its reward's and penalty's magnitudes and its player's range, so that
#: utilities, coverage levels and their differences stay far from overflow and from
#: rounding noise in the player's own units (:attr:`SecurityGame.standard`). A game
#: outside it is rejected (rescale its payoffs: every result is invariant to a positive
#: affine map of a player's payoffs), never silently clipped.
PAYOFF_LIMIT = 1e12
GAP_FLOOR = 1e-12

#: The most resources one game may hold in total (beyond m they cover everything).
RESOURCE_LIMIT = 10**9


def _read_only(array: FloatArray) -> FloatArray:
    array.setflags(write=False)
    return array


def _frozen_float(name: str, value: ArrayLike, ndim: int) -> FloatArray:
    try:
        array = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise InvalidGameError(f"{_OWNER}.{name} must be numeric; got {value!r}") from exc
    except OverflowError:  # an integer beyond any float (a 400-digit number)
        raise InvalidGameError(
            f"{_OWNER}.{name} must lie within +-{PAYOFF_LIMIT:g} (rescale the payoffs); got "
            "an integer too large for a float"
        ) from None
    if array.ndim != ndim:
        raise InvalidGameError(f"{_OWNER}.{name} must be a {ndim}-d array; got shape {array.shape}")
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        index = tuple(int(j) for j in bad[0])
        raise InvalidGameError(
            f"{_OWNER}.{name} must be finite; got {array[index]} at index {index}"
        )
    big = np.argwhere(np.abs(array) > PAYOFF_LIMIT)
    if big.size:
        index = tuple(int(j) for j in big[0])
        raise InvalidGameError(
            f"{_OWNER}.{name} must lie within +-{PAYOFF_LIMIT:g} (rescale the payoffs); got "
            f"{array[index]} at index {index}"
        )
    return _read_only(array + 0.0)  # + 0.0 turns -0.0 into 0.0: equal games, equal keys


def _frozen_resources(value: ArrayLike) -> IntArray:
    raw = np.array(value, copy=True)
    if raw.ndim != 1:
        raise InvalidGameError(f"{_OWNER}.resources must be a 1-d array; got shape {raw.shape}")
    if raw.dtype == bool or not (
        np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating)
    ):
        raise InvalidGameError(f"{_OWNER}.resources must be integers; got {raw.tolist()!r}")
    values = raw.tolist()
    for index, k in enumerate(values):
        if isinstance(k, float) and not np.isfinite(k):
            raise InvalidGameError(
                f"{_OWNER}.resources must be whole numbers; got {k!r} at index {index}"
            )
        if not float(k).is_integer():
            raise InvalidGameError(
                f"{_OWNER}.resources must be whole numbers; got {k!r} at index {index}"
            )
        if k < 0:
            raise InvalidGameError(
                f"{_OWNER}.resources must be non-negative; got {k!r} at index {index}"
            )
    total = sum(int(k) for k in values)  # Python integers: no wrap-around
    if total > RESOURCE_LIMIT:
        raise InvalidGameError(
            f"{_OWNER}.resources must total at most {RESOURCE_LIMIT}; got {total}"
        )
    array = np.array([int(k) for k in values], dtype=np.int64).reshape(raw.shape)
    array.setflags(write=False)
    return array


def _frozen_schedules(value: Any, m: int) -> tuple[tuple[int, ...], ...]:
    """Schedules as sorted tuples of distinct targets in [0, m), in the given order."""
    owner = f"{_OWNER}.schedules"
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise InvalidGameError(f"{owner} must be a list of lists of targets; got {value!r}")
    out = []
    for j, schedule in enumerate(value):
        try:
            targets = [int(t) for t in schedule if int(t) == t]
            size = len(schedule)
        except (TypeError, ValueError):
            raise InvalidGameError(
                f"{owner}[{j}] must be a list of target indices; got {schedule!r}"
            ) from None
        if size == 0 or len(targets) != size or len(set(targets)) != size:
            raise InvalidGameError(
                f"{owner}[{j}] must be a non-empty list of distinct target indices; "
                f"got {schedule!r}"
            )
        if min(targets) < 0 or max(targets) >= m:
            raise InvalidGameError(f"{owner}[{j}] must hold targets in [0, {m}); got {schedule!r}")
        out.append(tuple(sorted(targets)))
    if not out:
        raise InvalidGameError(f"{owner} must hold at least one schedule (or be None)")
    return tuple(out)


def _frozen_mask(value: ArrayLike, shape: tuple[int, int], resources: IntArray) -> np.ndarray:
    raw = np.array(value, copy=True)
    if raw.shape != shape:
        raise InvalidGameError(
            f"{_OWNER}.allowed must have shape {shape} (defenders x targets); got {raw.shape}"
        )
    if raw.dtype != bool:
        if not (np.issubdtype(raw.dtype, np.number) and np.all((raw == 0) | (raw == 1))):
            raise InvalidGameError(
                f"{_OWNER}.allowed must be booleans (or 0/1); got {raw.tolist()!r}"
            )
        raw = raw.astype(bool)
    stranded = np.flatnonzero((resources > 0) & ~raw.any(axis=1))
    if stranded.size:
        i = int(stranded[0])
        raise InvalidGameError(
            f"{_OWNER}.allowed must let every defender with resources guard some target; "
            f"defender {i} has {int(resources[i])} and no allowed target"
        )
    raw.setflags(write=False)
    return raw


def _require_gap(name: str, reward: FloatArray, penalty: FloatArray, label: str) -> None:
    bad = np.argwhere(~(reward > penalty))
    if bad.size:
        index = tuple(int(j) for j in bad[0])
        raise InvalidGameError(
            f"{_OWNER}.{name} must exceed {label} strictly at every index; got "
            f"{reward[index]} <= {penalty[index]} at index {index}"
        )
    span = reward.max(axis=-1, keepdims=True) - penalty.min(axis=-1, keepdims=True)
    scale = np.maximum(np.maximum(np.abs(reward), np.abs(penalty)), span)
    thin = np.argwhere(reward - penalty < GAP_FLOOR * scale)
    if thin.size:
        index = tuple(int(j) for j in thin[0])
        raise InvalidGameError(
            f"{_OWNER}.{name} must exceed {label} by at least {GAP_FLOOR:g} x the payoffs' "
            f"magnitude and the player's range (too thin to resolve); got {reward[index]} vs "
            f"{penalty[index]} at index {index}"
        )


@dataclass(frozen=True, eq=False)
class PayoffUnits:
    r"""Each player's payoff unit: the positive affine maps from a game's standard form
    (:attr:`SecurityGame.standard`) back to its payoffs.

    A player's payoffs are ``origin + scale * z`` with ``z`` her standard payoffs,
    which span exactly [0, 1]: ``origin`` is her lowest penalty, ``scale`` her range
    (largest reward minus lowest penalty). Best responses, NSEs, Pareto dominance and
    every gain a defender can make are invariant to such a map of each player's
    payoffs (Gan et al. 2020, Section 2: utilities are affine in them), so the solvers
    work in standard units, where each tolerance of :mod:`sim.numerics` is a fraction
    of the player's range.

    Attributes
    ----------
    defender_origin, defender_scale : ndarray, shape (n,)
    attacker_origin, attacker_scale : float
    """

    defender_origin: FloatArray
    defender_scale: FloatArray
    attacker_origin: float
    attacker_scale: float

    @staticmethod
    def of(reward: FloatArray, penalty: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``(origin, scale)`` of each row of payoffs (the last axis is the targets)."""
        origin = penalty.min(axis=-1)
        return origin, reward.max(axis=-1) - origin

    @property
    def identity(self) -> bool:
        """Whether the game is its own standard form."""
        return bool(
            np.all(self.defender_origin == 0.0)
            and np.all(self.defender_scale == 1.0)
            and self.attacker_origin == 0.0
            and self.attacker_scale == 1.0
        )

    def defender_utility(self, standard: ArrayLike, defender: int | None = None) -> FloatArray:
        """Standard utilities (shape (..., n), or one ``defender``'s) in the game's units."""
        rows = slice(None) if defender is None else defender
        return self.defender_origin[rows] + self.defender_scale[rows] * np.asarray(standard)

    def defender_gain(self, standard: ArrayLike, defender: int | None = None) -> FloatArray:
        """Standard utility differences in the game's units (no origin)."""
        rows = slice(None) if defender is None else defender
        return self.defender_scale[rows] * np.asarray(standard)

    def attacker_utility(self, standard: float) -> float:
        """A standard attacker utility in the game's units."""
        return float(self.attacker_origin + self.attacker_scale * standard)


@dataclass(frozen=True, eq=False, init=False)
class SecurityGame:
    """A multi-defender security game; validated once, immutable afterwards.

    Parameters
    ----------
    defender_reward, defender_penalty : array_like, shape (n, m)
        :math:`r_i^d(t)` and :math:`p_i^d(t)`: defender ``i``'s utility when target ``t``
        is attacked while covered / uncovered. ``reward > penalty`` strictly.
    attacker_reward, attacker_penalty : array_like, shape (m,)
        :math:`r^a(t)` and :math:`p^a(t)`: the attacker's utility when ``t`` is
        uncovered / covered. ``reward > penalty`` strictly.
    resources : array_like of int, shape (n,)
        :math:`k_i \\ge 0`, the number of resources each defender owns.
    attacker_resources : int
        :math:`n_a`, how many distinct targets the attacker attacks at once
        (Korzhyk, Conitzer, Parr 2011), ``1 <= n_a <= m``; utilities add up over the
        attacked targets. Default 1, the model of Gan et al. 2020.
    allowed : array_like of bool, shape (n, m), optional
        Jurisdictions: ``allowed[i, t]`` when defender ``i`` may cover target ``t``
        (``docs/jurisdictions.md``). Default (None, or all True): every target, and
        the game is exactly the paper's. Every defender with resources needs one
        allowed target.
    schedules : sequence of sequences of int, optional
        Resources with schedules (Korzhyk, Conitzer and Parr 2010;
        ``docs/schedules.md``): each resource guards one schedule, a set of targets
        (every subset of one is one too), and a target is covered when a resource's
        schedule holds it. Default None: each resource guards one target, the
        paper's model.

    Raises
    ------
    InvalidGameError
        Naming the parameter, the constraint and the offending value or index.

    Examples
    --------
    >>> g = SecurityGame(defender_reward=[[1.0, 2.0]], defender_penalty=[[0.0, 0.0]],
    ...                  attacker_reward=[1.0, 1.0], attacker_penalty=[0.0, 0.0],
    ...                  resources=[1])
    >>> g.n_defenders, g.n_targets, g.total_resources
    (1, 2, 1)
    """

    defender_reward: FloatArray
    defender_penalty: FloatArray
    attacker_reward: FloatArray
    attacker_penalty: FloatArray
    resources: IntArray
    attacker_resources: int
    allowed: np.ndarray
    schedules: tuple[tuple[int, ...], ...] | None

    def __init__(
        self,
        *,
        defender_reward: ArrayLike,
        defender_penalty: ArrayLike,
        attacker_reward: ArrayLike,
        attacker_penalty: ArrayLike,
        resources: ArrayLike,
        attacker_resources: int = 1,
        allowed: ArrayLike | None = None,
        schedules: Sequence[Sequence[int]] | None = None,
    ) -> None:
        dr = _frozen_float("defender_reward", defender_reward, 2)
        dp = _frozen_float("defender_penalty", defender_penalty, 2)
        ar = _frozen_float("attacker_reward", attacker_reward, 1)
        ap = _frozen_float("attacker_penalty", attacker_penalty, 1)
        k = _frozen_resources(resources)
        n, m = dr.shape
        if n < 1 or m < 1:
            raise InvalidGameError(
                f"{_OWNER}.defender_reward needs n >= 1 defenders and m >= 1 targets; "
                f"got shape {dr.shape}"
            )
        for name, array, shape in (
            ("defender_penalty", dp, (n, m)),
            ("attacker_reward", ar, (m,)),
            ("attacker_penalty", ap, (m,)),
            ("resources", k, (n,)),
        ):
            if array.shape != shape:
                raise InvalidGameError(
                    f"{_OWNER}.{name} must have shape {shape} to match defender_reward "
                    f"{dr.shape}; got {array.shape}"
                )
        _require_gap("defender_reward", dr, dp, "defender_penalty")
        _require_gap("attacker_reward", ar, ap, "attacker_penalty")
        for name, array in (
            ("defender_reward", dr),
            ("defender_penalty", dp),
            ("attacker_reward", ar),
            ("attacker_penalty", ap),
            ("resources", k),
        ):
            object.__setattr__(self, name, array)
        if not (
            isinstance(attacker_resources, int | np.integer)
            and not isinstance(attacker_resources, bool)
            and 1 <= attacker_resources <= m
        ):
            raise InvalidGameError(
                f"{_OWNER}.attacker_resources must be an int in [1, {m}] (the number of "
                f"targets); got {attacker_resources!r}"
            )
        object.__setattr__(self, "attacker_resources", int(attacker_resources))
        mask = np.ones((n, m), dtype=bool) if allowed is None else _frozen_mask(allowed, (n, m), k)
        mask.setflags(write=False)
        object.__setattr__(self, "allowed", mask)
        object.__setattr__(
            self, "schedules", None if schedules is None else _frozen_schedules(schedules, m)
        )

    @functools.cached_property
    def restricted(self) -> bool:
        """Whether some defender may not cover some target (jurisdictions)."""
        return not bool(self.allowed.all())

    def _mask(self) -> np.ndarray | None:
        return self.allowed if self.restricted else None

    # -- derived quantities -------------------------------------------------------------
    @property
    def n_defenders(self) -> int:
        """The number of defenders :math:`n`."""
        return int(self.defender_reward.shape[0])

    @property
    def n_targets(self) -> int:
        """The number of targets :math:`m`."""
        return int(self.defender_reward.shape[1])

    @property
    def total_resources(self) -> int:
        """The pooled budget :math:`K = \\sum_i k_i`."""
        return int(self.resources.sum())

    @functools.cached_property
    def defender_gap(self) -> FloatArray:
        """:math:`r_i^d(t) - p_i^d(t) > 0`, shape (n, m) (computed once, read-only)."""
        return _read_only(self.defender_reward - self.defender_penalty)

    @functools.cached_property
    def attacker_gap(self) -> FloatArray:
        """:math:`\\Delta^a(t) = r^a(t) - p^a(t) > 0`, shape (m,) (computed once, read-only)."""
        return _read_only(self.attacker_reward - self.attacker_penalty)

    @functools.cached_property
    def units(self) -> PayoffUnits:
        """Each player's payoff unit (:class:`PayoffUnits`)."""
        d_origin, d_scale = PayoffUnits.of(self.defender_reward, self.defender_penalty)
        a_origin, a_scale = PayoffUnits.of(self.attacker_reward, self.attacker_penalty)
        return PayoffUnits(
            _read_only(d_origin), _read_only(d_scale), float(a_origin), float(a_scale)
        )

    @functools.cached_property
    def standard(self) -> SecurityGame:
        """The game with each player's payoffs mapped onto [0, 1] (her lowest penalty
        to 0, her largest reward to 1); itself when it is already so. Resources,
        attacks and jurisdictions are unchanged; :attr:`units` maps back."""
        u = self.units
        if u.identity:
            return self
        o, s = u.defender_origin[:, None], u.defender_scale[:, None]
        fields: dict[str, Any] = {
            "defender_reward": (self.defender_reward - o) / s,
            "defender_penalty": (self.defender_penalty - o) / s,
            "attacker_reward": (self.attacker_reward - u.attacker_origin) / u.attacker_scale,
            "attacker_penalty": (self.attacker_penalty - u.attacker_origin) / u.attacker_scale,
        }
        # no validation: the map keeps every gap at least GAP_FLOOR of the range (the
        # constructor's rule), far above the map's rounding, so the game stays valid
        return self._unchecked(fields)

    def on_targets(self, keep: np.ndarray) -> SecurityGame:
        """The game on the targets where ``keep`` (bool, shape (m,)) holds, in their
        order, against one attack, with the jurisdictions restricted alike and no
        schedules (the NSE's model). Not validated anew: every part of it is a part of
        this valid game."""
        names = (*_FIELDS[:4], "allowed")
        game = self._unchecked({name: getattr(self, name)[..., keep] for name in names})
        object.__setattr__(game, "attacker_resources", 1)
        object.__setattr__(game, "schedules", None)
        # the kept targets' gaps, where the cached properties keep them: a gap is one
        # difference, so slicing gives what computing them anew would, bit for bit
        for name in ("defender_gap", "attacker_gap"):
            game.__dict__[name] = _read_only(getattr(self, name)[..., keep])
        return game

    def _unchecked(self, fields: dict[str, Any]) -> SecurityGame:
        """This game with ``fields`` replaced, without the constructor's validation."""
        game = object.__new__(SecurityGame)
        for name in (*_FIELDS, "attacker_resources", "allowed", "schedules"):
            value = fields.get(name, getattr(self, name))
            object.__setattr__(game, name, _read_only(value) if name in fields else value)
        return game

    # -- derived games ------------------------------------------------------------------
    def with_reports(self, defender: int, reward: ArrayLike, penalty: ArrayLike) -> SecurityGame:
        """Return the game in which ``defender`` reports the type ``(reward, penalty)``.

        This is the only way a mechanism sees a misreport (Property 3): every other
        defender's rows, the attacker and the resources are unchanged.

        Raises
        ------
        InvalidGameError
            If ``defender`` is out of range or the report is not a valid type.
        """
        if not (isinstance(defender, int | np.integer) and 0 <= defender < self.n_defenders):
            raise InvalidGameError(
                f"{_OWNER}.with_reports.defender must be in [0, {self.n_defenders}); "
                f"got {defender!r}"
            )
        dr = np.array(self.defender_reward, copy=True)
        dp = np.array(self.defender_penalty, copy=True)
        for name, target, row in (("reward", dr, reward), ("penalty", dp, penalty)):
            values = np.asarray(row, dtype=np.float64)
            if values.shape != (self.n_targets,):
                raise InvalidGameError(
                    f"{_OWNER}.with_reports.{name} must have shape ({self.n_targets},); "
                    f"got {values.shape}"
                )
            target[defender] = values
        return self._derived(defender_reward=dr, defender_penalty=dp)

    def with_resources(self, resources: ArrayLike) -> SecurityGame:
        """Return the same game with another resource profile (validated)."""
        return self._derived(resources=resources)

    def with_attacker_payoffs(self, reward: ArrayLike, penalty: ArrayLike) -> SecurityGame:
        """Return the same game with another attacker type ``(reward, penalty)``
        (validated): a Bayesian attacker's type (``agents.attackers.Bayesian``)."""
        return self._derived(attacker_reward=reward, attacker_penalty=penalty)

    def with_attacker_resources(self, attacker_resources: int) -> SecurityGame:
        """Return the same game against an attacker with ``attacker_resources``
        simultaneous attacks (validated)."""
        return self._derived(attacker_resources=attacker_resources)

    @functools.cached_property
    def one_attack(self) -> SecurityGame:
        """This game against an attacker with one resource (itself when it is one): the
        model of Gan et al. 2020 that the NSE, the paper's mechanisms (which plan for
        one attack) and the property audits are defined on."""
        return self if self.attacker_resources == 1 else self.with_attacker_resources(1)

    def with_schedules(self, schedules: Sequence[Sequence[int]] | None) -> SecurityGame:
        """Return the same game whose resources guard ``schedules`` (None: one target
        each; validated)."""
        return self._derived(schedules=schedules)

    def with_allowed(self, allowed: ArrayLike | None) -> SecurityGame:
        """Return the same game with jurisdictions ``allowed`` (None: none; validated)."""
        return self._derived(allowed=allowed)

    def _derived(self, **changes: Any) -> SecurityGame:
        """This game with ``changes`` to its constructor arguments, validated anew."""
        fields: dict[str, Any] = {name: getattr(self, name) for name in _FIELDS}
        fields.update(
            attacker_resources=self.attacker_resources,
            allowed=self._mask(),
            schedules=self.schedules,
        )
        return SecurityGame(**{**fields, **changes})

    def pooled(self, defender: int | None = None) -> SecurityGame:
        """The coordinated game as one defender holding all :math:`K` resources: her
        payoffs are ``defender``'s, or with None the sum over the defenders (utilities
        are linear in the coverage, so this is the utilitarian objective); the
        attacker is unchanged. Jurisdictions do not pool: a restricted game raises."""
        if self.restricted:
            raise InvalidGameError(
                f"{_OWNER}.pooled needs a game without jurisdictions (allowed is not all "
                f"True): pooled resources could cover targets their owners may not"
            )
        if defender is None:
            reward, penalty = self.defender_reward.sum(axis=0), self.defender_penalty.sum(axis=0)
        elif isinstance(defender, int | np.integer) and 0 <= defender < self.n_defenders:
            reward, penalty = self.defender_reward[defender], self.defender_penalty[defender]
        else:
            raise InvalidGameError(
                f"{_OWNER}.pooled.defender must be None or in [0, {self.n_defenders}); "
                f"got {defender!r}"
            )
        return SecurityGame(
            defender_reward=reward[None],
            defender_penalty=penalty[None],
            attacker_reward=self.attacker_reward,
            attacker_penalty=self.attacker_penalty,
            resources=[self.total_resources],
            attacker_resources=self.attacker_resources,
            schedules=self.schedules,
        )

    # -- comparison and serialisation ---------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecurityGame):
            return NotImplemented
        return (
            self.attacker_resources == other.attacker_resources
            and self.schedules == other.schedules
            and np.array_equal(self.allowed, other.allowed)
            and all(np.array_equal(getattr(self, name), getattr(other, name)) for name in _FIELDS)
        )

    __hash__ = None  # type: ignore[assignment]

    def key(self) -> bytes:
        """A byte string identifying the game exactly (for caches)."""
        parts = [getattr(self, name).tobytes() for name in _FIELDS]
        shape = np.array(
            [*self.defender_reward.shape, self.attacker_resources], dtype=np.int64
        ).tobytes()
        if self.restricted:  # an unrestricted game keeps the key it had before masks
            parts.append(np.packbits(self.allowed).tobytes())
        if self.schedules is not None:  # likewise a game without schedules
            parts.append(repr(self.schedules).encode())
        return b"|".join([shape, *parts])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of plain lists (and ``attacker_resources``, and ``allowed``
        when the game has jurisdictions); :meth:`from_dict` is its exact inverse."""
        out: dict[str, Any] = {name: getattr(self, name).tolist() for name in _FIELDS}
        out["attacker_resources"] = self.attacker_resources
        if self.restricted:
            out["allowed"] = self.allowed.tolist()
        if self.schedules is not None:
            out["schedules"] = [list(schedule) for schedule in self.schedules]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SecurityGame:
        """Build a game from :meth:`to_dict`'s output (validated like the constructor).

        ``attacker_resources`` may be omitted (1, as in files written before it
        existed), ``allowed`` (no jurisdictions) and ``schedules`` (none).

        Raises
        ------
        InvalidGameError
            If a field is missing or unknown, or the game is invalid.
        """
        if not isinstance(data, Mapping):
            raise InvalidGameError(
                f"{_OWNER}.from_dict needs a mapping of the fields {list(_FIELDS)}; "
                f"got {type(data).__name__}"
            )
        missing = [name for name in _FIELDS if name not in data]
        unknown = sorted(set(data) - {*_FIELDS, "attacker_resources", "allowed", "schedules"})
        if missing or unknown:
            raise InvalidGameError(
                f"{_OWNER}.from_dict needs exactly the fields {list(_FIELDS)} (and "
                f"optionally attacker_resources, allowed, schedules); missing {missing}, "
                f"unknown {unknown}"
            )
        return cls(
            **{name: data[name] for name in _FIELDS},
            attacker_resources=data.get("attacker_resources", 1),
            allowed=data.get("allowed"),
            schedules=data.get("schedules"),
        )


_FIELDS: Sequence[str] = (
    "defender_reward",
    "defender_penalty",
    "attacker_reward",
    "attacker_penalty",
    "resources",
)
