r"""One defender's best deviation under pessimistic tie-breaking, and the NSE verifier.

Definition 2.1 of Gan et al. 2020: a profile :math:`X` with attacked target
:math:`\tau \in \mathrm{BR}(X)` is a Nash–Stackelberg equilibrium (NSE) iff no defender
:math:`i` has a deviation :math:`x'` with
:math:`\min_{t' \in \mathrm{BR}(\langle x^{-i}, x' \rangle)} U_i^d(\cdot, t') > U_i^d(X, \tau)`.

The best deviation value is computed exactly in O(m log m) (``docs/solvers.md`` §3).
With the others' combined coverage :math:`q_t = 1 - \prod_{j \ne i} (1 - c^j_t)`, raising
target t to :math:`z_t \in [q_t, 1]` costs :math:`(z_t - q_t)/(1 - q_t)` of her budget, so

.. math::

    \mathrm{cost}(w) = \sum_{t: q_t < 1} \frac{(\bar w_t - w)^+}{\Delta^a(t)(1 - q_t)},
    \qquad \bar w_t = r^a(t) - q_t \Delta^a(t),

which is ORIGAMI's :math:`G` with rewards :math:`\bar w_t` and gaps
:math:`\Delta^a(t)(1 - q_t)`; her lowest enforceable level :math:`w_i` is its root
above the floor :math:`\max_t p^a(t)`. The multiple-LP form of ``docs/nse.md`` §4.2
is the reference (:func:`sim.solvers.reference.lp_deviation_value`).

The public functions solve the game's standard form (:attr:`SecurityGame.standard`), so
their tolerances are fractions of each player's payoff range, and report values in
the game's own units; :func:`best_deviations`, :func:`profile_gains` and
:func:`certify` are the finder's arrays and take standard games.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from sim.errors import InvalidParameterError
from sim.game import FloatArray, PayoffUnits, SecurityGame
from sim.numerics import BR_TOL, BUDGET_TOL, FULL_TOL, GAIN_TOL, UTILITY_TOL
from sim.payoffs import combine, combined_coverage, products_before, utility
from sim.solvers.origami import need, origami_levels


def others_coverage(profile: ArrayLike, defender: int) -> FloatArray:
    """:math:`q^{-i}`: the combined coverage of every defender but ``defender``."""
    return combined_coverage(np.delete(np.asarray(profile, dtype=np.float64), defender, axis=0))


def _leave_one_out(rest: FloatArray, before: FloatArray) -> FloatArray:
    """Every defender's :math:`q^{-i}` at once, shape (..., n, m), from ``rest``
    :math:`= 1 - c` and :func:`~sim.payoffs.products_before` (prefix and suffix
    products, so a defender covering a target fully does not divide by zero)."""
    after = products_before(rest[..., ::-1, :])[..., ::-1, :]
    return np.asarray(1.0 - before * after, dtype=np.float64)


@dataclass(frozen=True)
class DeviationValue:
    """The supremum of a defender's pessimistic deviation value, with its witness.

    Attributes
    ----------
    value : float
        :math:`\\sup_{x'} \\min_{t' \\in BR} U_i^d`; usually approached, not attained.
    target : int
        The attacker response the best deviation induces (the worst one of its BR set
        when a tie cannot be broken).
    level : float
        :math:`w_i`, the lowest attacker utility she can enforce on her own.
    kind : str
        ``"strict"`` (she can make ``target`` the unique best response), ``"spare"``
        (spare budget pushes the rest of the tie below the level) or ``"tie"`` (an
        unbreakable tie; the value is the minimum over it).
    """

    value: float
    target: int
    level: float
    kind: str

    def in_units(self, units: PayoffUnits, defender: int) -> DeviationValue:
        """This value of a standard game, for ``defender``, in the game's units."""
        return DeviationValue(
            float(units.defender_utility(self.value, defender)),
            self.target,
            units.attacker_utility(self.level),
            self.kind,
        )


def deviation_value(
    game: SecurityGame,
    others: ArrayLike,
    defender: int,
    *,
    budget_tol: float = BUDGET_TOL,
    tol: float = BR_TOL,
) -> DeviationValue:
    """The exact best pessimistic deviation value of ``defender`` (``docs/solvers.md`` §3).

    Parameters
    ----------
    game : SecurityGame
        Her payoffs are ``game``'s row ``defender``; her budget is ``resources[defender]``.
    others : array_like, shape (m,)
        :math:`q^{-i}`, the other defenders' combined coverage.
    budget_tol : float
        Spare budget below this counts as none: budgets bind exactly in equilibrium
        (``docs/nse.md`` §4.4).

    Notes
    -----
    The steps:

    1. :math:`w_i` = ORIGAMI level of the transformed game (see the module docstring).
    2. :math:`z_t = \\max(q_t, \\mathrm{need}_t(w_i))`, :math:`S = \\{t : \\bar w_t \\ge w_i\\}`.
    3. The value is the largest of: :math:`U_i(z_t, t)` for :math:`t` with
       :math:`\\bar w_t > w_i` (she covers t and can make it the unique best response);
       with spare budget, :math:`U_i(z_t, t)` for :math:`t \\in S` when no other target of
       S is pinned at :math:`p^a = w_i`; and the pessimistic minimum over the part of S
       she cannot push below the level.

    :func:`deviation_values` computes it for several defenders at once.
    """
    q = np.asarray(others, dtype=np.float64)
    if q.shape != (game.n_targets,):
        raise InvalidParameterError(
            f"deviation_value.others must have shape ({game.n_targets},); got {q.shape}"
        )
    return deviation_values(game, q[None, :], [defender], budget_tol=budget_tol, tol=tol)[0]


def deviation_values(
    game: SecurityGame,
    others: FloatArray,
    defenders: ArrayLike,
    *,
    budget_tol: float = BUDGET_TOL,
    tol: float = BR_TOL,
) -> list[DeviationValue]:
    """:func:`deviation_value` of each of ``defenders`` against her row of ``others``.

    Parameters
    ----------
    others : ndarray, shape (r, m)
        Row ``j`` is :math:`q^{-i}` for defender ``defenders[j]``.
    defenders : array_like of int, shape (r,)

    Notes
    -----
    One vectorised pass (:func:`~sim.solvers.origami.origami_levels` for the levels);
    the witness target is the lowest index among equal values, strict deviations
    before spare ones before an unbreakable tie, as in a scan of the targets.
    """
    rows = np.asarray(defenders, dtype=np.int64)
    standard = game.standard
    value, target, level, kind = best_deviations(
        standard,
        np.asarray(others, dtype=np.float64),
        game.resources[rows].astype(np.float64),
        standard.defender_penalty[rows],
        standard.defender_gap[rows],
        budget_tol=budget_tol,
        tol=tol,
        reach=game.allowed[rows] if game.restricted else None,
    )
    return [
        DeviationValue(v, t, w, _KINDS[c]).in_units(game.units, int(i))
        for i, v, t, w, c in zip(
            rows, value.tolist(), target.tolist(), level.tolist(), kind.tolist(), strict=True
        )
    ]


def best_deviations(
    game: SecurityGame,
    others: FloatArray,
    budget: FloatArray,
    penalty_rows: FloatArray,
    gap_rows: FloatArray,
    *,
    budget_tol: float = BUDGET_TOL,
    tol: float = BR_TOL,
    reach: np.ndarray | None = None,
) -> tuple[FloatArray, np.ndarray, FloatArray, np.ndarray]:
    """The arrays behind :func:`deviation_values`, one row per deviating defender.

    Row ``j`` is a defender with budget ``budget[j]`` and payoffs ``penalty_rows[j]``,
    ``penalty_rows[j] + gap_rows[j]`` facing ``others[j]``; only the attacker's payoffs
    come from ``game``, so the rows may come from different reported games.
    ``reach`` (shape (r, m), optional) holds the targets each deviator may cover (her
    jurisdiction, ``docs/jurisdictions.md`` §2): a target out of reach keeps the
    others' coverage, like a fully covered one, and holds her level at or above
    :math:`\\bar w_t`.

    Returns
    -------
    value, target, level : ndarray, shape (r,)
    kind : ndarray of int, shape (r,)
        0 strict, 1 spare, 2 tie (see :class:`DeviationValue`).
    """
    q = others
    k = budget
    reward, gap, penalty = game.attacker_reward, game.attacker_gap, game.attacker_penalty
    open_ = q < 1.0 - FULL_TOL
    w_bar = reward - q * gap
    scaled_gap = gap * (1.0 - q)
    # the least the attacker can get at each target after her deviation: the penalty
    # where she can cover fully, else what the others leave
    lowest: FloatArray = penalty[None, :]  # broadcast over the rows
    floor: float | FloatArray = float(penalty.max())
    if reach is not None:
        open_ = open_ & reach
        lowest = np.where(open_, penalty, w_bar)
        floor = lowest.max(axis=1)
    level = origami_levels(w_bar, scaled_gap, k, floor, open_)
    excess = np.maximum(w_bar - level[:, None], 0.0)
    cost = np.divide(excess, scaled_gap, out=np.zeros(excess.shape), where=open_).sum(axis=1)
    spare = cost < k - budget_tol
    z = np.maximum(q, need(reward, gap, level[:, None]))
    # without resources she adds nothing: exactly q, not the rounding of a zero-budget
    # level (which a huge gap would turn into a phantom gain)
    movable = k[:, None] > 0 if reach is None else (k[:, None] > 0) & reach
    z = np.where(movable, z, q)
    util = utility(penalty_rows, gap_rows, z)

    in_s = w_bar >= level[:, None] - tol
    strict = in_s & (w_bar > level[:, None] + tol)
    # her optimum ends below t's level by less than tol but more than rounding noise:
    # is t inducible all the same?
    near = ~strict & (w_bar > level[:, None] + FULL_TOL) & open_
    if near.any():
        everywhere = np.broadcast_to(lowest, q.shape)
        strict |= _inducible(near, w_bar, scaled_gap, open_, everywhere, k, budget_tol, tol)
    pinned = in_s & (lowest >= level[:, None] - tol)
    # spare budget makes t the unique best response unless another target is pinned
    alone = in_s & ((pinned.sum(axis=1)[:, None] - pinned) == 0) & spare[:, None]
    stuck = np.where(spare[:, None], pinned, in_s)
    tie = np.asarray((in_s & ~strict).any(axis=1) & stuck.any(axis=1))
    # her value per kind: strict, spare, tie (the least utility of the tied targets);
    # the first kind with the largest value wins
    masks = np.array((strict, alone, stuck & tie[:, None]))
    values = np.where(masks, np.array((util, util, -util)), -np.inf)
    best = values.max(axis=2)
    # the witness: the first target whose value is within UTILITY_TOL of her payoff
    # range of the best (so that rounding, which depends on her units, picks none)
    span = (penalty_rows + gap_rows).max(axis=-1) - penalty_rows.min(axis=-1)
    targets = (values >= best[..., None] - UTILITY_TOL * span[..., None]).argmax(axis=2)
    best[2] = -best[2]
    best[~masks.any(axis=2)] = -np.inf
    kind = best.argmax(axis=0)
    r = np.arange(q.shape[0])
    value = best[kind, r]
    found = value > -np.inf
    target = np.where(found, targets[kind, r], -1)
    kind = np.where(found, kind, 0)
    return value, target, level, kind


def _inducible(
    near: np.ndarray,
    w_bar: FloatArray,
    scaled_gap: FloatArray,
    open_: np.ndarray,
    lowest: FloatArray,
    budget: FloatArray,
    budget_tol: float,
    tol: float,
) -> np.ndarray:
    """Which ``near`` targets she can still make the unique best response, shape (r, m).

    Target t is strictly inducible when no other target's lowest attacker utility
    (its penalty, or what the others leave where she cannot cover) reaches its level
    :math:`\\bar w_t` (those can never be pushed below it) and holding everything at
    :math:`\\bar w_t` leaves budget to spare (so she can push the others strictly
    below). Checked only where her optimal level lies below :math:`\\bar w_t` by less
    than ``tol``: elsewhere the level itself decides (``docs/nse.md`` §4.2).
    """
    rows = np.flatnonzero(near.any(axis=1))
    w = w_bar[rows]
    # cost of holding every target at w[t]: sum_s (w_s - w_t)^+ / scaled gap_s
    excess = np.maximum(w[:, None, :] - w[:, :, None], 0.0)
    inverse = np.divide(1.0, scaled_gap[rows], out=np.zeros(w.shape), where=open_[rows])
    cost = (excess * inverse[:, None, :]).sum(axis=2)
    eye = np.eye(w.shape[1], dtype=bool)
    others_top = np.where(eye[None], -np.inf, lowest[rows][:, None, :]).max(axis=2)
    ok = (cost < budget[rows, None] - budget_tol) & (others_top < w - tol)
    out = np.zeros(near.shape, dtype=bool)
    out[rows] = near[rows] & ok
    return out


_KINDS = ("strict", "spare", "tie")


@dataclass(frozen=True)
class NSEViolation:
    """How far a profile is from an NSE (Definition 2.1).

    Attributes
    ----------
    gain : float
        The largest gain any defender gets by deviating; ``inf`` when the attacked
        target is not a best response. (The profile is an NSE when every defender's
        gain is at most ``GAIN_TOL`` of her payoff range.)
    defender : int
        Who gains the most (-1 when the target is not a best response).
    deviation : DeviationValue | None
        Her best deviation.
    gains : ndarray, shape (n,)
        Every defender's best gain.
    reason : str
    """

    gain: float
    defender: int
    deviation: DeviationValue | None
    gains: FloatArray
    reason: str

    def relabelled(self, targets: np.ndarray) -> NSEViolation:
        """This violation of a game on a subset of targets, with target ``j`` of the
        subset named ``targets[j]``."""
        if self.deviation is None:
            return self
        deviation = dataclasses.replace(self.deviation, target=int(targets[self.deviation.target]))
        profitable = self.reason != _reason(self.gains, self.defender, self.deviation, False)
        reason = _reason(self.gains, self.defender, deviation, profitable)
        return dataclasses.replace(self, deviation=deviation, reason=reason)


@dataclass(frozen=True, eq=False)
class ProfileGains:
    """The oracle's arrays for r profiles (each with its own defender payoffs).

    Attributes
    ----------
    best : ndarray of bool, shape (r,)
        Whether the attacked target is a best response to the combined coverage.
    coverage : ndarray, shape (r, m)
        The combined coverage (eq. 2).
    own : ndarray, shape (r, n)
        Every defender's utility at the profile.
    value, level : ndarray, shape (r, n)
        Her best pessimistic deviation value, and the attacker level it enforces.
    target, kind : ndarray of int, shape (r, n)
        The target her best deviation induces, and its kind (see
        :class:`DeviationValue`).
    """

    best: np.ndarray
    coverage: FloatArray
    own: FloatArray
    value: FloatArray
    target: np.ndarray
    level: FloatArray
    kind: np.ndarray

    def row(self, j: int) -> ProfileGains:
        """The arrays of profile ``j`` alone (a batch of one, as :func:`certificate`
        reads)."""
        at = slice(j, j + 1)
        return ProfileGains(
            self.best[at],
            self.coverage[at],
            self.own[at],
            self.value[at],
            self.target[at],
            self.level[at],
            self.kind[at],
        )


def profile_gains(
    game: SecurityGame,
    penalty: FloatArray,
    gap: FloatArray,
    profiles: FloatArray,
    attacked_target: np.ndarray,
    *,
    budget_tol: float = BUDGET_TOL,
    tol: float = BR_TOL,
) -> ProfileGains:
    """The exact NSE oracle (Definition 2.1) on r profiles at once: the best-response
    check of each attacked target and every defender's best deviation.

    Parameters
    ----------
    game : SecurityGame
        The attacker's payoffs and the resources.
    penalty, gap : ndarray, shape (r, n, m)
        The defenders' payoffs of each profile's game.
    profiles : ndarray, shape (r, n, m)
        Each defender's own coverage, within her budget.
    attacked_target : ndarray of int, shape (r,)
    """
    r, n, m = profiles.shape
    at = np.arange(r)
    rest = 1.0 - profiles
    before = products_before(rest)
    c = combine(profiles, before)
    attacker = game.attacker_reward - c * game.attacker_gap
    best = attacker[at, attacked_target] >= attacker.max(axis=1) - tol
    own = utility(
        penalty[at, :, attacked_target], gap[at, :, attacked_target], c[at, attacked_target, None]
    )
    value, target, level, kind = best_deviations(
        game,
        _leave_one_out(rest, before).reshape(r * n, m),
        np.repeat(game.resources[None].astype(np.float64), r, axis=0).ravel(),
        penalty.reshape(r * n, m),
        gap.reshape(r * n, m),
        budget_tol=budget_tol,
        tol=tol,
        reach=np.tile(game.allowed, (r, 1)) if game.restricted else None,
    )
    return ProfileGains(
        best,
        c,
        own,
        value.reshape(r, n),
        target.reshape(r, n),
        level.reshape(r, n),
        kind.reshape(r, n),
    )


def nse_violation(
    game: SecurityGame,
    profile: ArrayLike,
    attacked_target: int,
    *,
    budget_tol: float = BUDGET_TOL,
    tol: float = BR_TOL,
) -> NSEViolation:
    """The largest gain any defender gets by deviating from ``(profile, attacked_target)``
    (:func:`profile_gains` on one profile, with a certificate), in the game's units.

    Parameters
    ----------
    profile : array_like, shape (n, m)
        Each defender's own coverage :math:`c^i`; row sums must be within her budget.
    attacked_target : int
        :math:`\\tau`, which must be a best response to the combined coverage (eq. 2).
    """
    x = _profile(game, profile, budget_tol)
    return certify(
        game.standard, x, attacked_target, budget_tol=budget_tol, tol=tol, units=game.units
    )


def _profile(game: SecurityGame, profile: ArrayLike, budget_tol: float) -> FloatArray:
    """``profile`` as coverage within each budget (or a clear error)."""
    x = np.asarray(profile, dtype=np.float64)
    n, m = game.n_defenders, game.n_targets
    if x.shape != (n, m):
        raise InvalidParameterError(
            f"nse_violation.profile must have shape {(n, m)}; got {x.shape}"
        )
    over = x.sum(axis=1) - game.resources
    if np.any(over > budget_tol) or x.min() < -FULL_TOL or x.max() > 1 + FULL_TOL:
        raise InvalidParameterError(
            f"nse_violation.profile must be coverage within each budget; row sums "
            f"{x.sum(axis=1).tolist()} for resources {game.resources.tolist()}"
        )
    return x


def certify(
    game: SecurityGame,
    profile: FloatArray,
    attacked_target: int,
    *,
    budget_tol: float = BUDGET_TOL,
    tol: float = BR_TOL,
    units: PayoffUnits | None = None,
) -> NSEViolation:
    """:func:`nse_violation` of a profile already known to be coverage within each
    budget (the finder's cleaned candidates) in a standard game: the oracle without
    the input checks; gains in ``units`` when given (see :func:`certificate`)."""
    found = profile_gains(
        game,
        game.defender_penalty[None],
        game.defender_gap[None],
        profile[None],
        np.array([attacked_target]),
        budget_tol=budget_tol,
        tol=tol,
    )
    return certificate(found, units)


def certificate(found: ProfileGains, units: PayoffUnits | None = None) -> NSEViolation:
    """The :class:`NSEViolation` of the first profile of :func:`profile_gains` (of a
    standard game), with gains and the deviation in ``units`` when given; it finds a
    profitable deviation when some gain exceeds ``GAIN_TOL`` of its defender's range."""
    if not found.best[0]:
        n = found.own.shape[1]
        return NSEViolation(np.inf, -1, None, np.full(n, np.inf), "target is not a best response")
    relative = found.value[0] - found.own[0]
    gains = relative if units is None else units.defender_gain(relative)
    worst = int(np.argmax(gains))
    deviation = DeviationValue(
        float(found.value[0, worst]),
        int(found.target[0, worst]),
        float(found.level[0, worst]),
        _KINDS[int(found.kind[0, worst])],
    )
    if units is not None:
        deviation = deviation.in_units(units, worst)
    return NSEViolation(
        float(gains[worst]),
        worst,
        deviation,
        gains,
        _reason(gains, worst, deviation, bool(relative.max() > GAIN_TOL)),
    )


def _reason(gains: FloatArray, worst: int, deviation: DeviationValue, profitable: bool) -> str:
    if not profitable:
        return "no profitable deviation"
    return (
        f"defender {worst} gains {gains[worst]:.3g} by making target {deviation.target} "
        f"attacked ({deviation.kind})"
    )


def is_nse(
    game: SecurityGame, profile: ArrayLike, attacked_target: int, *, tol: float = GAIN_TOL
) -> bool:
    """Whether ``(profile, attacked_target)`` is an NSE up to a gain of ``tol`` (a
    fraction of each defender's payoff range)."""
    x = _profile(game, profile, BUDGET_TOL)
    return certify(game.standard, x, attacked_target).gain <= tol
