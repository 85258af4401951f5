r"""The best and the worst NSE, exactly: in closed form when at most two defenders hold
resources, and from :mod:`sim.nse.levels` with more where its ranges are attained.

Strong and weak utility preservation compare an outcome with the best and the worst NSE
(Gan et al. 2020, Property 2), and the prices of anarchy and stability with their
welfares; ``docs/nse.md`` §3 derives what follows. In an NSE attacking :math:`\tau` at
attacker level :math:`u` every defender gets :math:`v_i(\tau, d_\tau(u))`, which does not
rise with :math:`u`; so for each :math:`\tau` the NSE best for everybody sits at the
lowest level an NSE reaches and the worst at the highest. With the resources held by
two defenders *a* and *b*, whether an NSE reaches :math:`(\tau, u)` is decided exactly
(§3.2): the targets only *a* may cover cost her their demand, likewise for *b*, and on
the targets both may cover *a*'s shares :math:`c` must spend what is left of her budget,
:math:`\sum_t c_t = R`, while *b*'s shares :math:`1 - (1 - d_t)/(1 - c_t)` spend what is
left of hers, :math:`G`. *b*'s spending :math:`F(c)` is concave and
:math:`\{c : \sum c = R\}` a polytope, so the values it takes are an interval: the
largest is the canonical maximum-waste split with one weight ratio, the smallest is at a
vertex (every shared target given whole to one of them but one). The levels where a
structural cell's reachable set begins or ends are then finitely many: its edges, the
roots of linear and of quadratic equations (one per vertex), and the level where the
maximum-waste spending falls below :math:`G` (by bisection: it falls as :math:`u`
rises). Every extreme comes with a profile certified by the exact oracle.
"""

from __future__ import annotations

import functools
import itertools
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from sim.errors import InvalidParameterError, SolverFailedError
from sim.game import FloatArray, SecurityGame
from sim.nse.finder import NSEResult, certify, edges
from sim.nse.levels import level_bounds, level_bounds_apply
from sim.nse.split import Games, may_spare, structure
from sim.numerics import BR_TOL
from sim.solvers.origami import origami_level

#: The exact method enumerates a cell's vertices, q 2^(q-1) for q shared targets; a
#: game with a cell sharing more is beyond it.
MAX_SHARED = 12

#: At most this many targets reaching the pooled level u*_K (the others are never
#: attacked, ``docs/nse.md`` §1.4): each has a structural cell per breakpoint, about
#: 2m of them, so the work grows like m^2 cells (``bench/extremes.py``: m = 12 in
#: 0.01-2 s).
MAX_TARGETS = 12

#: Spending equations hold within this (in coverage).
SPLIT_TOL = 1e-9

#: The interior levels start this far above the floor, where the demands reach 1 and a
#: split's shares lose their precision (a reachable set that reaches down to the floor
#: contains the floor, which :func:`_floor` decides).
FLOOR_STEP = 1e-10


@dataclass(frozen=True, eq=False)
class NSEExtremes:
    """The best and the worst NSEs of a game, each certified (``docs/nse.md`` §3).

    Attributes
    ----------
    best, worst : ndarray, shape (n,)
        Each defender's best and worst utility over all NSEs.
    best_welfare, worst_welfare : float
        The largest and smallest sum of the defenders' utilities over all NSEs.
    best_nse, worst_nse : tuple of NSEResult
        For each defender, a verified NSE attaining her best (worst) utility.
    best_welfare_nse, worst_welfare_nse : NSEResult
        Verified NSEs attaining the best and worst welfare.
    levels : tuple of (int, NSEResult, NSEResult)
        For every target some NSE attacks: the NSEs at the lowest and the highest
        attacker level that attack it.
    """

    best: FloatArray
    worst: FloatArray
    best_welfare: float
    worst_welfare: float
    best_nse: tuple[NSEResult, ...]
    worst_nse: tuple[NSEResult, ...]
    best_welfare_nse: NSEResult
    worst_welfare_nse: NSEResult
    levels: tuple[tuple[int, NSEResult, NSEResult], ...]


def exact_extremes_apply(game: SecurityGame) -> bool:
    """Whether :func:`nse_extremes` solves ``game``: one attack, resources that guard one
    target each, no jurisdictions, at most two defenders with resources and at most
    :data:`MAX_TARGETS` targets that can be attacked (it is exact where, besides, no
    cell shares more than :data:`MAX_SHARED` targets)."""
    if not (
        game.attacker_resources == 1
        and game.schedules is None
        and not game.restricted
        and np.count_nonzero(game.resources) <= 2
    ):
        return False
    reward = game.attacker_reward
    pooled = origami_level(reward, game.attacker_gap, float(game.total_resources))
    return bool(np.count_nonzero(reward >= pooled - BR_TOL) <= MAX_TARGETS)


def nse_extremes(game: SecurityGame) -> NSEExtremes:
    """The best and the worst NSE of ``game``, per defender and by welfare, each with a
    verified NSE attaining it (``docs/nse.md`` §3).

    Raises
    ------
    InvalidParameterError
        When ``game`` is beyond the exact method (:func:`exact_extremes_apply`, or a
        cell with more than :data:`MAX_SHARED` shared targets).
    SolverFailedError
        When a certificate fails the oracle.
    """
    if not exact_extremes_apply(game):
        raise InvalidParameterError(
            "nse_extremes: exact for one attack, resources guarding one target each, no "
            "jurisdictions, at most two defenders with resources and at most "
            f"MAX_TARGETS={MAX_TARGETS} targets that can be attacked; got "
            f"{np.count_nonzero(game.resources)} defenders with resources, "
            f"attacker_resources={game.attacker_resources}, "
            f"schedules={game.schedules is not None}, jurisdictions={game.restricted}, "
            f"n_targets={game.n_targets}"
        )
    standard = game.standard
    levels = []
    for tau in range(game.n_targets):
        reached = _levels(standard, tau)
        if not reached:
            continue
        ends = []
        for u, profile in (min(reached, key=_level), max(reached, key=_level)):
            found = certify(game, profile, tau, "extreme")
            if found is None:
                raise SolverFailedError(
                    f"nse_extremes: the profile at tau={tau}, u={u!r} failed the oracle"
                )
            ends.append(found)
        levels.append((tau, ends[0], ends[1]))
    if not levels:
        raise SolverFailedError("nse_extremes: no NSE reaches any target")
    return _aggregate(levels)


def _aggregate(levels: list[tuple[int, NSEResult, NSEResult]]) -> NSEExtremes:
    """The extremes of the NSEs at the lowest and the highest level of every target
    some NSE attacks (``docs/nse.md`` §3.1)."""
    low = [lo for _, lo, _ in levels]
    high = [hi for _, _, hi in levels]
    low_u = np.array([r.defender_utility for r in low])
    high_u = np.array([r.defender_utility for r in high])
    best_at, worst_at = low_u.argmax(axis=0), high_u.argmin(axis=0)
    best_w, worst_w = int(low_u.sum(axis=1).argmax()), int(high_u.sum(axis=1).argmin())
    return NSEExtremes(
        best=low_u.max(axis=0),
        worst=high_u.min(axis=0),
        best_welfare=float(low_u[best_w].sum()),
        worst_welfare=float(high_u[worst_w].sum()),
        best_nse=tuple(low[j] for j in best_at),
        worst_nse=tuple(high[j] for j in worst_at),
        best_welfare_nse=low[best_w],
        worst_welfare_nse=high[worst_w],
        levels=tuple(levels),
    )


def certified_extremes(game: SecurityGame) -> NSEExtremes | None:
    """The extremes from :func:`~sim.nse.levels.level_bounds` where its ranges are
    attained at both ends of every target by verified NSEs (the extremes are then
    exact, ``docs/nse.md`` §3.3), else None."""
    if not level_bounds_apply(game):
        return None
    found = level_bounds(game)
    if not (found.exact and found.attacked.any()):
        return None
    return _aggregate(
        [
            (int(t), found.at_low[t], found.at_high[t])  # type: ignore[misc]
            for t in np.flatnonzero(found.attacked)
        ]
    )


_CACHE: OrderedDict[bytes, NSEExtremes | None] = OrderedDict()
_CACHE_SIZE = 512


def exact_extremes(game: SecurityGame) -> NSEExtremes | None:
    """The exact extremes of ``game``, memoised (audits of several mechanisms ask for
    the same game's): :func:`nse_extremes` with at most two defenders with resources,
    :func:`certified_extremes` with more; None where neither settles them (beyond
    their scope, or a range whose ends no verified NSE attains)."""
    key = game.key()
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    found: NSEExtremes | None = None
    if exact_extremes_apply(game):
        try:
            found = nse_extremes(game)
        except (InvalidParameterError, SolverFailedError):
            found = None
    else:
        found = certified_extremes(game)
    _CACHE[key] = found
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return found


def _level(item: tuple[float, FloatArray]) -> float:
    return item[0]


# -- the levels an NSE attacking tau reaches -----------------------------------------
@dataclass(frozen=True)
class _Pair:
    """The defenders with resources (``b`` is -1 when only one has any)."""

    a: int
    b: int
    k_a: float
    k_b: float

    @classmethod
    def of(cls, game: SecurityGame) -> _Pair:
        holders = np.flatnonzero(game.resources > 0)
        a = int(holders[0]) if holders.size else 0
        b = int(holders[1]) if holders.size > 1 else -1
        k = game.resources.astype(np.float64)
        return cls(a, b, float(k[a]) if holders.size else 0.0, float(k[b]) if b >= 0 else 0.0)

    def classes(self, allowed: np.ndarray, demanded: np.ndarray) -> tuple[np.ndarray, ...]:
        """The demanded targets only a may cover, only b, and both."""
        on_a = allowed[self.a] & demanded
        on_b = allowed[self.b] & demanded if self.b >= 0 else np.zeros_like(on_a)
        return on_a & ~on_b, on_b & ~on_a, on_a & on_b


def _levels(game: SecurityGame, tau: int) -> list[tuple[float, FloatArray]]:
    """Levels (with a profile each) that an NSE attacking ``tau`` reaches, including the
    lowest and the highest, in a standard game."""
    pair = _Pair.of(game)
    reward, gap = game.attacker_reward, game.attacker_gap
    floor = float(game.attacker_penalty.max())
    top = float(reward[tau])
    if not game.resources.any():  # every best response to no coverage is an NSE
        idle = np.zeros((game.n_defenders, game.n_targets))
        return [(top, idle)] if top >= reward.max() - BR_TOL else []
    pooled = origami_level(reward, gap, float(game.total_resources))
    if top < pooled - BR_TOL:
        return []
    found = []
    if pooled <= floor + BR_TOL:  # a floor game (kernel.quick_stages)
        found += _floor(game, tau, pair, floor)
    cuts = edges(game, tau, pooled, top)
    for low, high in itertools.pairwise(cuts):
        found += _cell(game, tau, pair, low, high, 0.5 * (low + high), floor)
    for point in cuts:  # each edge with its own structure too
        if point >= floor + FLOOR_STEP:
            found += _cell(game, tau, pair, point, point, point, floor)
    return found


@dataclass(frozen=True)
class _Cell:
    """A structural cell's classes of demanded targets (only a may cover them, only b,
    both), on which every demand is linear in the level: d_t(u) = alpha_t - beta_t u."""

    pair: _Pair
    alpha: FloatArray
    beta: FloatArray
    only_a: np.ndarray
    only_b: np.ndarray
    shared: np.ndarray

    def demand(self, u: float) -> FloatArray:
        """d_t(u) on the demanded targets, 0 elsewhere."""
        demanded = self.only_a | self.only_b | self.shared
        return np.where(demanded, np.clip(self.alpha - self.beta * u, 0.0, 1.0), 0.0)

    def remainders(self, u: float) -> tuple[float, float, FloatArray]:
        """What a and b have left for the shared targets at level u, and their demands."""
        d = self.demand(u)
        rest_a = self.pair.k_a - float(d[self.only_a].sum())
        return rest_a, self.pair.k_b - float(d[self.only_b].sum()), d[self.shared]

    def root(self, mask: np.ndarray, budget: float) -> float:
        """The level where the demand of ``mask`` adds up to ``budget`` (NaN: none)."""
        slope = self.beta[mask].sum()
        return (self.alpha[mask].sum() - budget) / slope if slope > 0.0 else np.nan


def _cell(
    game: SecurityGame, tau: int, pair: _Pair, low: float, high: float, at: float, floor: float
) -> list[tuple[float, FloatArray]]:
    """The reachable levels of [low, high] with the structure at ``at`` that bound its
    reachable set (``docs/nse.md`` §3.2), each with a profile."""
    st = structure(game, tau, at)
    if st.uncovered > 0.0:
        return []
    classes = pair.classes(st.allowed, st.demand > 0.0)
    if np.count_nonzero(classes[2]) > MAX_SHARED:
        raise InvalidParameterError(
            f"nse_extremes: {np.count_nonzero(classes[2])} targets shared at tau={tau}, "
            f"u={at!r}; the exact method enumerates at most MAX_SHARED={MAX_SHARED}"
        )
    cell = _Cell(pair, game.attacker_reward / game.attacker_gap, 1.0 / game.attacker_gap, *classes)
    start = max(low, floor + FLOOR_STEP)  # at the floor itself: _floor
    if start > high:
        return []
    levels = [low, high, *_candidates(cell, start, high)]
    reached = [
        u
        for u in levels
        if start <= u <= high and _split(*cell.remainders(u), build=False) is not None
    ]
    found = []
    for u in {min(reached), max(reached)} if reached else ():
        c = _split(*cell.remainders(u))
        if c is not None:
            found.append((float(u), _profile(game, cell, cell.demand(u), c)))
    return found


def _candidates(cell: _Cell, low: float, high: float) -> list[float]:
    """The levels of [low, high] where a cell's reachable set can begin or end: where
    a's or b's remainder is 0 or all the shared demand, where a vertex's spending for b
    is exactly b's remainder (a quadratic each), and where the maximum-waste spending
    for b falls below her remainder (bisection)."""
    pair, only_a, only_b, shared = cell.pair, cell.only_a, cell.only_b, cell.shared
    out = [
        cell.root(only_a, pair.k_a),
        cell.root(only_a | shared, pair.k_a),
        cell.root(only_b, pair.k_b),
        cell.root(only_b | shared, pair.k_b),
    ]
    # a's remainder fits the shared demand between the first two (it rises with u, and
    # the shared demand falls)
    fits = (max(low, np.nan_to_num(out[0], nan=low)), min(high, np.nan_to_num(out[1], nan=high)))
    if np.any(shared) and fits[0] <= fits[1]:
        out += _vertex_roots(cell).tolist()
        out.append(_frontier_end(cell, *fits))
    return [u for u in np.unique(out) if low <= u <= high]


def _vertex_roots(cell: _Cell) -> FloatArray:
    """Levels where some vertex (a takes the shared targets S1, b the others but j, j
    split) makes b spend exactly her budget: with c_j = c0 + c1 u, 1 - d_j = e0 + e1 u
    and b's remainder less her whole targets less 1 = l0 + l1 u, the root of
    (e0 + e1 u) + (l0 + l1 u)(1 - c0 - c1 u) = 0."""
    alpha, beta, pair = cell.alpha, cell.beta, cell.pair
    take_a, split = _patterns(int(np.count_nonzero(cell.shared)))
    sa, sb = alpha[cell.shared], beta[cell.shared]
    take_b = ~take_a & (np.arange(sa.size)[None, :] != split[:, None])
    c0 = pair.k_a - alpha[cell.only_a].sum() - take_a @ sa
    c1 = beta[cell.only_a].sum() + take_a @ sb
    e0, e1 = 1.0 - sa[split], sb[split]
    l0 = pair.k_b - alpha[cell.only_b].sum() - take_b @ sa - 1.0
    l1 = beta[cell.only_b].sum() + take_b @ sb
    roots = _quadratic_roots(-l1 * c1, e1 + l1 * (1.0 - c0) - l0 * c1, e0 + l0 * (1.0 - c0))
    # only where the split coordinate is within its bounds is the root this vertex's
    c0, c1, e0, e1 = (np.tile(x, 2) for x in (c0, c1, e0, e1))
    c_split = c0 + c1 * roots
    fits = (c_split >= -SPLIT_TOL) & (c_split <= 1.0 - (e0 + e1 * roots) + SPLIT_TOL)
    return roots[fits]


def _quadratic_roots(a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    """The real roots of a x^2 + b x + c = 0, elementwise (linear where a is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = b * b - 4.0 * a * c
        sq = np.sqrt(np.where(disc >= 0.0, disc, np.nan))
        q = -0.5 * (b + np.copysign(sq, b))
        quad = a != 0.0
        r1 = np.where(quad, q / a, -c / b)
        r2 = np.where(quad, c / q, np.nan)
    return np.concatenate((r1, r2))


@functools.cache
def _patterns(q: int) -> tuple[np.ndarray, np.ndarray]:
    """The vertices of {c in prod [0, d_t] : sum c = R}: every coordinate at a bound but
    one, ``split``; ``take_a`` marks the coordinates at d_t, shapes (q 2^(q-1), q) and
    (q 2^(q-1),)."""
    bits = np.arange(2 ** (q - 1))[:, None] >> np.arange(q - 1)[None, :] & 1
    take, split = [], []
    for j in range(q):
        take.append(np.insert(bits.astype(bool), j, False, axis=1))
        split.append(np.full(bits.shape[0], j))
    return np.concatenate(take), np.concatenate(split)


def _frontier_end(cell: _Cell, low: float, high: float) -> float:
    """The highest level of [low, high] (where a's remainder fits) at which b's most
    spending still reaches her remainder; it falls as u rises (``docs/nse.md`` §3.2).
    NaN when it never does."""

    def reaches(u: float) -> bool:
        rest_a, rest_b, dd = cell.remainders(u)
        most, _ = _most(float(np.clip(rest_a, 0.0, dd.sum())), dd)
        return rest_b <= most

    if not reaches(low):
        return np.nan
    if reaches(high):
        return high
    for _ in range(200):
        mid = 0.5 * (low + high)
        if mid in (low, high):
            break
        if reaches(mid):
            low = mid
        else:
            high = mid
    return low


# -- one level: does a split exist? ------------------------------------------------------
def _split(
    rest_a: float,
    rest_b: float,
    dd: FloatArray,
    spare_a: bool = False,
    spare_b: bool = False,
    *,
    build: bool = True,
) -> FloatArray | None:
    """a's shares c of the shared targets (demands ``dd``) with sum c = ``rest_a`` (at
    most, if she may spare) and b's spending F(c) = ``rest_b`` (at most, if she may
    spare); None when there are none (``docs/nse.md`` §3.2). Without ``build``, any
    array stands for "some": the decision without the search for the point."""
    total = float(dd.sum())
    if rest_a < -SPLIT_TOL or rest_b < -SPLIT_TOL:
        return None
    if not spare_a and rest_a > total + SPLIT_TOL:
        return None
    r = min(max(rest_a, 0.0), total)
    fewest, c_low = _fewest(r, dd)
    if fewest > rest_b + SPLIT_TOL:
        return None
    if spare_b or rest_b <= fewest + SPLIT_TOL:
        return c_low
    most, c_high = _most(r, dd)
    if rest_b <= most + SPLIT_TOL:
        return _between(c_low, c_high, rest_b, dd) if build else c_high
    if spare_a and rest_b <= total + SPLIT_TOL:  # a spends less: b's spending rises to total
        return _between(c_high, np.zeros_like(dd), rest_b, dd) if build else c_high
    return None


def _spending_b(c: FloatArray, dd: FloatArray) -> FloatArray:
    """b's shares where a's are c and the demands dd: (1 - c)(1 - c_b) = 1 - d."""
    return np.clip(1.0 - (1.0 - dd) / (1.0 - np.minimum(c, dd)), 0.0, 1.0)


def _fewest(r: float, dd: FloatArray) -> tuple[float, FloatArray]:
    """b's least spending over a's shares summing to r, and those shares: a vertex."""
    if dd.size == 0:
        return (0.0, dd.copy()) if r <= SPLIT_TOL else (np.inf, dd.copy())
    take_a, split = _patterns(dd.size)
    c_split = r - take_a @ dd
    d_split = dd[split]
    ok = (c_split >= -SPLIT_TOL) & (c_split <= d_split + SPLIT_TOL)
    c_split = np.clip(c_split, 0.0, d_split)
    take_b = ~take_a & (np.arange(dd.size)[None, :] != split[:, None])
    spend = take_b @ dd + _spending_b(c_split, d_split)
    spend = np.where(ok, spend, np.inf)
    j = int(np.argmin(spend))
    c = np.where(take_a[j], dd, 0.0)
    c[split[j]] = c_split[j]
    return float(spend[j]), c


def _most(r: float, dd: FloatArray) -> tuple[float, FloatArray]:
    """b's most spending over a's shares summing to r, and those shares: the canonical
    maximum-waste split with one weight ratio, c_t = clip(1 - s sqrt(1 - d_t), 0, d_t),
    whose sum falls linearly in s between breakpoints."""
    root = np.sqrt(1.0 - dd)
    with np.errstate(divide="ignore"):
        points = np.unique(np.concatenate(([0.0], root, 1.0 / root)))
    points = points[np.isfinite(points)]
    sums = np.clip(1.0 - points[:, None] * root[None, :], 0.0, dd[None, :]).sum(axis=1)
    j = int(np.searchsorted(-sums, -r, side="left"))  # sums fall with s
    if j == 0:
        s = points[0]
    elif j >= points.size:
        s = points[-1]
    else:
        s0, s1, v0, v1 = points[j - 1], points[j], sums[j - 1], sums[j]
        s = s1 if v0 == v1 else s0 + (v0 - r) * (s1 - s0) / (v0 - v1)
    c = np.clip(1.0 - s * root, 0.0, dd)
    return float(_spending_b(c, dd).sum()), c


def _between(start: FloatArray, end: FloatArray, target: float, dd: FloatArray) -> FloatArray:
    """A point of the segment from ``start`` to ``end`` where b spends ``target`` (her
    spending is continuous along it and ``target`` lies between its ends)."""
    f0 = _spending_b(start, dd).sum() - target
    lo, hi = 0.0, 1.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        f = _spending_b(start + mid * (end - start), dd).sum() - target
        if (f <= 0.0) == (f0 <= 0.0):
            lo = mid
        else:
            hi = mid
    return start + hi * (end - start)


def _profile(game: SecurityGame, cell: _Cell, d: FloatArray, c: FloatArray) -> FloatArray:
    """The profile of a split: a covers her own targets and c, b hers and the rest."""
    pair = cell.pair
    profile = np.zeros((game.n_defenders, game.n_targets))
    profile[pair.a, cell.only_a] = d[cell.only_a]
    profile[pair.a, cell.shared] = c
    if pair.b >= 0:
        profile[pair.b, cell.only_b] = d[cell.only_b]
        profile[pair.b, cell.shared] = _spending_b(c, d[cell.shared])
    return profile


def _floor(
    game: SecurityGame, tau: int, pair: _Pair, floor: float
) -> list[tuple[float, FloatArray]]:
    """A profile at the floor level attacking ``tau``, if there is one: every fully
    covered target has an owner allowed on it, who pays 1 for it (so only how many of
    those both may own go to a matters), and rule B says who may keep spare resources."""
    if game.attacker_reward[tau] < floor:
        return []
    st = structure(game, tau, floor)
    if st.uncovered > 0.0:
        return []
    spare = may_spare(Games.single(game), np.zeros(1, np.int64), np.array([tau]), floor)[0]
    demanded = st.demand > 0.0
    full = demanded & (st.demand >= 1.0)
    partial = pair.classes(st.allowed, demanded & ~full)
    cell = _Cell(pair, game.attacker_reward / game.attacker_gap, 1.0 / game.attacker_gap, *partial)
    full_a, full_b, full_both = (np.flatnonzero(m) for m in pair.classes(st.allowed, full))
    rest_a, rest_b, dd = cell.remainders(floor)
    spare_b = bool(spare[pair.b]) if pair.b >= 0 else False
    for given in range(full_both.size + 1):  # how many of full_both a owns
        c = _split(
            rest_a - full_a.size - given,
            rest_b - full_b.size - (full_both.size - given),
            dd,
            bool(spare[pair.a]),
            spare_b,
        )
        if c is not None:
            profile = _profile(game, cell, cell.demand(floor), c)
            profile[pair.a, np.concatenate((full_a, full_both[:given]))] = 1.0
            if pair.b >= 0:
                profile[pair.b, np.concatenate((full_b, full_both[given:]))] = 1.0
            return [(floor, profile)]
    return []
