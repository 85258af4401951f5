r"""Certified ranges of the attacker's level in the NSEs attacking each target, and
verified NSEs at their ends: the best and the worst NSE beyond two defenders with
resources (``docs/nse.md`` §3.3).

Every NSE attacking :math:`\tau` at level :math:`u` gives defender *i* the utility
:math:`v_i(\tau, d_\tau(u))`, which does not rise with *u* (§3.1), so a range
:math:`[\underline u_\tau, \overline u_\tau]` containing every such level bounds the
best NSE from above and the worst from below, and is exact where verified NSEs attain
both its ends. In each structural cell two necessary tests bound it:

* **The budgets suffice** (it fails below some level): some split keeps every
  defender's spending within her budget. With up to three defenders with resources a
  split exists if one exists on a face of the split polytope of dimension at most 2,
  where it is decided in closed form (:class:`_Faces`); with more, a flow of the
  demands within the budgets (one LP).
* **The demand absorbs the budgets** (it fails above some level): above the floor
  every defender spends her whole budget (rule B). The spending is concave in the
  shares, so a weight vector :math:`w \ge 0` with
  :math:`\phi_u(w) = \max_y w \cdot s(y) - w \cdot k < 0` rules the level out, where
  :math:`\max_y w \cdot s(y)` is the canonical maximum-waste split with weights *w*;
  the highest level no weights rule out is a root of the finder's spending equations
  where one exists, and that root is the candidate NSE.

The high end's witness is the root, from Newton's usual starts or from the weights
that minimise :math:`\phi` at the top (Lemma 6); elsewhere a split within the budgets
moved to spend each budget exactly (:func:`_realise`). Every witness must pass the
oracle. Where a range stays unattained, it is computed again with a slower search
for weights (:func:`_cutting_planes`), which finds some where SLSQP stops at a kink.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares, linprog, minimize

from sim.errors import InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.nse.finder import NSEResult, certify, edges
from sim.nse.split import (
    LOG_WEIGHT_BOUND,
    Games,
    Structure,
    may_spare,
    split_spending,
    structure,
    water_fill,
)
from sim.numerics import BR_TOL, NEWTON_TOL, ROUNDING_TOL
from sim.solvers.origami import need, origami_level

#: At most this many defenders with resources and this many targets reaching the pooled
#: level u*_K; beyond, the audits keep the analytic bounds of ``docs/nse.md`` §3.3.
MAX_HOLDERS = 6
MAX_TARGETS = 12

#: Newton iterations for a cell's root, from each start.
ROOT_ITERATIONS = 60

#: Bisections for a cell's lowest and highest levels stop at brackets this narrow
#: (standard units: the attacker's levels lie in [0, 1]).
LEVEL_RESOLUTION = 1e-15

#: A verified NSE at most this far (standard units) from a range's end attains it: a
#: root Newton finds from the weights that bound a cell from above (Newton solves the
#: spending, so its level carries that error), or one witness of a range this narrow
#: (above the floor, near-full demands make the splits' floats coarser than that).
LEVEL_AGREEMENT = 1e-12

#: The witness search realises the splits of at most this many faces per piece.
WITNESS_FACES = 32

#: A realised profile spends each budget to within this (in resources).
REALISE_TOL = 1e-10

#: Evaluations of each least squares that realises a profile.
REALISE_EVALUATIONS = 100

#: The rounds of :func:`_realise`: after each least squares, the shares within this
#: fraction of the demand of a bound are put on it and kept there for the next round,
#: which runs only if the residual is within REALISE_NEAR (in resources) of zero.
REALISE_SNAPS = (REALISE_TOL, 1e-7, 1e-4)
REALISE_NEAR = 1e-4

#: At most this many faces are enumerated per structure; beyond, the flow bound.
MAX_FACES = 2_000_000

#: A weight vector certifies "too little demand to spend" when its margin is below
#: minus this (budgets are in units of one resource).
FRONTIER_TOL = 1e-12

#: The most rounds of the cutting-plane search for such weights (:func:`_cutting_planes`).
CUT_ROUNDS = 60


@dataclass(frozen=True, eq=False)
class LevelBounds:
    """The levels NSEs attacking each target can reach (``docs/nse.md`` §3.3).

    Attributes
    ----------
    low, high : ndarray, shape (m,)
        Every NSE attacking target t has its attacker level in [low[t], high[t]], in
        standard units; NaN where no NSE attacks t.
    at_low, at_high : tuple of (NSEResult or None)
        Per target, a verified NSE at level low[t] (high[t]), to within
        :data:`LEVEL_AGREEMENT`, in the game's units, where one was found: that side
        of the range is then exact.
    """

    low: FloatArray
    high: FloatArray
    at_low: tuple[NSEResult | None, ...]
    at_high: tuple[NSEResult | None, ...]

    @property
    def attacked(self) -> np.ndarray:
        """The targets some NSE may attack, shape (m,) bool."""
        return np.asarray(~np.isnan(self.low))

    @property
    def exact(self) -> bool:
        """Whether both ends of every target's range are attained by verified NSEs."""
        return all(
            self.at_low[t] is not None and self.at_high[t] is not None
            for t in np.flatnonzero(self.attacked)
        )

    @property
    def witnesses(self) -> tuple[NSEResult, ...]:
        """The verified NSEs found, each once."""
        found = [r for r in (*self.at_low, *self.at_high) if r is not None]
        return tuple({id(r): r for r in found}.values())


def level_bounds_apply(game: SecurityGame) -> bool:
    """Whether :func:`level_bounds` treats ``game``: one attack, resources that guard
    one target each, no jurisdictions, at most :data:`MAX_HOLDERS` defenders with
    resources and :data:`MAX_TARGETS` targets that reach the pooled level."""
    if not (
        game.attacker_resources == 1
        and game.schedules is None
        and not game.restricted
        and 0 < np.count_nonzero(game.resources) <= MAX_HOLDERS
    ):
        return False
    reward = game.attacker_reward
    pooled = origami_level(reward, game.attacker_gap, float(game.total_resources))
    return bool(np.count_nonzero(reward >= pooled - BR_TOL) <= MAX_TARGETS)


def level_bounds(game: SecurityGame) -> LevelBounds:
    """For every target, a range containing the level of every NSE that attacks it,
    and verified NSEs at its ends where found (``docs/nse.md`` §3.3); memoised.

    Raises
    ------
    InvalidParameterError
        When ``game`` is beyond :func:`level_bounds_apply`.
    """
    if not level_bounds_apply(game):
        raise InvalidParameterError(
            "level_bounds: needs one attack, no schedules or jurisdictions, 1 to "
            f"MAX_HOLDERS={MAX_HOLDERS} defenders with resources and at most MAX_TARGETS="
            f"{MAX_TARGETS} attackable targets; got "
            f"{np.count_nonzero(game.resources)} defenders with resources, "
            f"attacker_resources={game.attacker_resources}, "
            f"schedules={game.schedules is not None}, jurisdictions={game.restricted}"
        )
    key = game.key()
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    low, high, at_low, at_high = zip(
        *(_range(game, tau) for tau in range(game.n_targets)), strict=True
    )
    found = LevelBounds(np.array(low), np.array(high), at_low, at_high)
    _CACHE[key] = found
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return found


_CACHE: OrderedDict[bytes, LevelBounds] = OrderedDict()
_CACHE_SIZE = 512


def _range(game: SecurityGame, tau: int) -> tuple[float, float, NSEResult | None, NSEResult | None]:
    """:func:`level_bounds` for one target: its range (NaN: no NSE attacks it) and the
    verified NSEs at its ends (None: not found). Where an end is not attained, the
    range is computed again with the slower search for weights (``robust``)."""
    searched: dict[tuple[float, float, bool, bool], NSEResult | None] = {}
    found: tuple[float, float, NSEResult | None, NSEResult | None] = (np.nan, np.nan, None, None)
    for robust in (False, True):
        ends = _ends(game.standard, tau, robust)
        if ends is None:  # no NSE attacks tau
            return np.nan, np.nan, None, None
        lowest, highest = ends
        one = highest.high - lowest.low <= LEVEL_AGREEMENT  # one level: one witness
        at_low = _witness(game, tau, lowest, False, searched)
        at_high = at_low if one and at_low else _witness(game, tau, highest, True, searched)
        if one:
            at_low = at_high = at_low or at_high
        found = (lowest.low, highest.high, at_low, at_high)
        if at_low is not None and at_high is not None:
            break
    return found


def _witness(
    game: SecurityGame,
    tau: int,
    piece: _Piece,
    top: bool,
    searched: dict[tuple[float, float, bool, bool], NSEResult | None],
) -> NSEResult | None:
    """A verified NSE at ``piece``'s highest level (``top``: its root, or a split
    realised at its witness level) or lowest, memoised in ``searched`` (the robust
    pass often finds the same piece)."""
    key = (piece.at, piece.top if top else piece.low, top, top and piece.root is not None)
    if key not in searched:
        if top and piece.root is not None:
            searched[key] = _first_verified(game, tau, [piece.root])
        else:
            searched[key] = _first_verified(game, tau, piece.realised(key[1]))
    return searched[key]


def _first_verified(
    game: SecurityGame, tau: int, profiles: Iterable[FloatArray]
) -> NSEResult | None:
    """The first of ``profiles`` (standard units) the oracle accepts as an NSE of
    ``game`` attacking ``tau``, in the game's units."""
    for profile in profiles:
        found = certify(game, profile, tau, "extreme")
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class _Piece:
    """A range of levels of one structural cell (or edge, or the floor) that may hold
    NSEs attacking ``tau``: both tests pass on [low, high] and fail outside it."""

    game: SecurityGame
    tau: int
    at: float
    low: float
    high: float
    top: float  # where a witness of the highest level is looked for
    faces: _Faces | None  # the faces with splits within the budgets at ``low`` and above
    root: FloatArray | None  # the canonical split spending each budget at ``high``

    def realised(self, u: float) -> Iterator[FloatArray]:
        """Profiles at level ``u`` of the piece spending the budgets, realised
        (:func:`_realise`) from the splits within them of up to :data:`WITNESS_FACES`
        faces, those closest to spending the budgets first."""
        if self.faces is None:
            return
        st = structure(self.game, self.tau, self.at)
        for f in self.faces.closest(u)[:WITNESS_FACES]:
            start = self.faces.profile(u, int(f))
            profile = _realise(self.game, self.tau, st, u, start)
            if profile is not None:
                yield profile


def _ends(game: SecurityGame, tau: int, robust: bool = False) -> tuple[_Piece, _Piece] | None:
    """The lowest and the highest piece of the levels an NSE attacking ``tau`` can
    reach, in a standard game: the floor, the structural cells and their edges are
    scanned from below and from above, each up to the first that passes both tests
    (they are disjoint and ordered, so that piece holds the lowest, or the highest,
    level)."""
    reward, gap = game.attacker_reward, game.attacker_gap
    floor = float(game.attacker_penalty.max())
    top = float(reward[tau])
    pooled = origami_level(reward, gap, float(game.total_resources))
    if top < pooled - BR_TOL:
        return None
    cuts = edges(game, tau, pooled, top)
    items: list[tuple[float, float, float]] = []  # (low, high, the structure's level)
    if pooled <= floor + BR_TOL and top >= floor - BR_TOL:
        items.append((floor, floor, floor))
    for j, point in enumerate(cuts):  # interior levels lie above the floor
        if point > floor:
            items.append((point, point, point))
        if j + 1 < cuts.size and cuts[j + 1] > floor:
            low = max(point, floor)
            items.append((low, cuts[j + 1], 0.5 * (low + cuts[j + 1])))
    below = (_piece(game, tau, *item, floor, top=False, robust=robust) for item in items)
    lowest = next((p for p in below if p is not None), None)
    if lowest is None:
        return None
    above = (_piece(game, tau, *item, floor, top=True, robust=robust) for item in reversed(items))
    highest = next((p for p in above if p is not None), lowest)
    return lowest, highest


def _piece(
    game: SecurityGame,
    tau: int,
    low: float,
    high: float,
    at: float,
    floor: float,
    *,
    top: bool,
    robust: bool = False,
) -> _Piece | None:
    """The piece of [low, high] (the structure at ``at``) that passes both tests, or
    None; [floor, floor] is the floor itself, whose structure has fully demanded
    targets and rule B. Without ``top``, only its lowest level is settled (its
    ``high`` is the cell's)."""
    lowest = _lowest(game, tau, at, low, high)
    if lowest is None:
        return None
    start, faces = lowest
    if at == floor or not top:
        if _fails(game, tau, at, start, robust=robust) is not None:
            return None
        return _Piece(game, tau, at, start, high, high, faces, None)
    found = _highest(game, tau, at, start, high, robust)
    if found is None:
        return None
    end, witness, root = found
    return _Piece(game, tau, at, start, end, witness, faces, root)


def _lowest(
    game: SecurityGame, tau: int, at: float, low: float, high: float
) -> tuple[float, _Faces | None] | None:
    """The lowest level of [low, high] at which some split of the demand of the
    structure at ``at`` keeps every defender within her budget, and a profile there
    (None: no such level), with the faces that hold such splits. Exact with up to
    three defenders with resources (the faces of ``docs/nse.md`` §3.3); with more, the
    lowest level at which the demand fits the budgets as a flow, without faces."""
    st = structure(game, tau, at)
    if st.uncovered > 0.0:
        return None
    faces = _Faces.of(game, st, within_at=high)  # within at u, within above it too
    if faces is None:
        start = _flow_lowest(game, st, low, high)
        return None if start is None else (start, None)
    if faces.owner.shape[0] == 0:
        return None
    u = low
    if not faces.within(low).any():
        lo, u, narrowed = low, high, faces  # outside at lo, within at u
        while u - lo > LEVEL_RESOLUTION:
            mid = 0.5 * (lo + u)
            within = narrowed.within(mid)
            if within.any():  # only these can be within below mid
                u, narrowed = mid, narrowed.subset(np.flatnonzero(within))
            else:
                lo = mid
    return u, faces


def _realise(
    game: SecurityGame, tau: int, st: Structure, u: float, start: FloatArray
) -> FloatArray | None:
    """A profile at level ``u`` with the structure ``st`` in which every defender
    spends her budget (at most it, where rule B lets her spare), from ``start``, whose
    coverage holds every demanded target at ``u`` and whose spending is within the
    budgets; by least squares over the shares (None: not found).

    On each target split between owners, the owner with the largest share in
    ``start`` pays the rest, :math:`1 - (1 - d_t) / \\prod_{i \\ne \\ell} (1 - c^i_t)`.
    """
    active = np.flatnonzero(game.resources > 0)
    k = game.resources[active].astype(np.float64)
    spare = may_spare(Games.single(game), np.zeros(1, np.int64), np.array([tau]), u)[0][active]
    d = need(game.attacker_reward, game.attacker_gap, u)
    free = [
        (t, owners, owners[int(np.argmax(start[owners, t]))])
        for t in np.flatnonzero((st.demand > 0.0) & (d < 1.0))
        if (owners := active[st.allowed[active, t]]).size >= 2
    ]
    slots = [(t, i) for t, owners, last in free for i in owners if i != last]

    def build(x: FloatArray) -> tuple[FloatArray, FloatArray]:
        profile = start.copy()
        short = np.zeros(len(free))
        for (t, i), c in zip(slots, x, strict=True):
            profile[i, t] = c
        for j, (t, owners, last) in enumerate(free):
            kept = np.prod(1.0 - profile[owners[owners != last], t])
            profile[last, t] = 1.0 - (1.0 - d[t]) / kept
            short[j] = min(profile[last, t], 0.0)
        return profile, short

    def residual(x: FloatArray) -> FloatArray:
        profile, short = build(x)
        gap = profile[active].sum(axis=1) - k
        return np.concatenate((np.where(spare, np.maximum(gap, 0.0), gap), short))

    row_of = {int(i): r for r, i in enumerate(active)}
    target_of = {int(t): j for j, (t, _, _) in enumerate(free)}

    def jacobian(x: FloatArray) -> FloatArray:
        # d c_last / d c_i = -(1 - c_last) / (1 - c_i) on the same target
        profile, short = build(x)
        gap = profile[active].sum(axis=1) - k
        live = ~spare | (gap > 0.0)
        out = np.zeros((active.size + len(free), len(slots)))
        for col, (t, i) in enumerate(slots):
            j = target_of[int(t)]
            last = free[j][2]
            slope = -(1.0 - profile[last, t]) / (1.0 - profile[i, t])
            out[row_of[int(i)], col] = live[row_of[int(i)]]
            out[row_of[int(last)], col] = slope * live[row_of[int(last)]]
            out[active.size + j, col] = slope if short[j] < 0.0 else 0.0
        return out

    x = np.array([start[i, t] for t, i in slots])
    tol = REALISE_TOL * max(1.0, float(k.max()))
    upper = np.array([d[t] for t, _ in slots])
    moving = np.ones(len(slots), dtype=bool)
    for snap in REALISE_SNAPS:  # least squares on the moving shares, then pin near bounds
        if not moving.any() or np.abs(residual(x)).max() <= tol:
            break
        x = _least_squares_on(residual, jacobian, x, upper, moving.copy())
        # the solver keeps to the inside of its bounds: shares within ``snap`` (of
        # the demand) of a bound are put on it and kept there (a witness at a range's
        # end often has some; a defender who may spare then spends exactly her budget)
        low_, high_ = x <= snap * upper, x >= upper * (1.0 - snap)
        x = np.where(low_, 0.0, np.where(high_, upper, x))
        moving &= ~(low_ | high_)
        if np.abs(residual(x)).max() > REALISE_NEAR * max(1.0, float(k.max())):
            break  # far from any split spending the budgets: pinning will not get there
    if np.abs(residual(x)).max(initial=0.0) > tol:
        return None
    return build(x)[0]


def _least_squares_on(
    residual: Callable[[FloatArray], FloatArray],
    jacobian: Callable[[FloatArray], FloatArray],
    x: FloatArray,
    upper: FloatArray,
    moving: np.ndarray,
) -> FloatArray:
    """``x`` with its entries ``moving`` moved within [0, ``upper``] to a least-squares
    minimum of ``residual`` (with its ``jacobian``), the others kept."""

    def full(z: FloatArray) -> FloatArray:
        out = x.copy()
        out[moving] = z
        return out

    found = least_squares(
        lambda z: residual(full(z)),
        np.minimum(x[moving], upper[moving]),
        jac=lambda z: jacobian(full(z))[:, moving],
        bounds=(np.zeros(np.count_nonzero(moving)), upper[moving]),
        xtol=1e-15,
        ftol=1e-15,
        gtol=1e-15,
        max_nfev=REALISE_EVALUATIONS,
    )
    return full(found.x)


def _flow_lowest(game: SecurityGame, st: Structure, low: float, high: float) -> float | None:
    """The lowest level of [low, high] at which the demand of ``st`` fits the budgets as
    a flow on the allowed pairs (None: nowhere), by one LP in (flow, level)."""
    demanded = np.flatnonzero(st.demand > 0.0)
    pairs = np.argwhere(st.allowed[:, demanded])  # (defender, position in demanded)
    full = st.demand[demanded] >= 1.0  # at the floor: a fixed demand of 1
    n_x = pairs.shape[0]
    # sum_i x_it + [not full] u / gap_t = [not full] r_t / gap_t + [full] 1
    a_eq = np.zeros((demanded.size, n_x + 1))
    a_eq[pairs[:, 1], np.arange(n_x)] = 1.0
    g = game.attacker_gap[demanded]
    a_eq[:, -1] = np.where(full, 0.0, 1.0 / g)
    b_eq = np.where(full, 1.0, game.attacker_reward[demanded] / g)
    holders = np.flatnonzero(game.resources > 0)
    a_ub = (pairs[:, 0][None, :] == holders[:, None]).astype(np.float64)
    a_ub = np.hstack((a_ub, np.zeros((holders.size, 1))))
    cost = np.zeros(n_x + 1)
    cost[-1] = 1.0
    result = linprog(
        cost,
        A_ub=a_ub,
        b_ub=game.resources[holders].astype(np.float64),
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=[(0.0, None)] * n_x + [(low, high)],
        method="highs",
    )
    if result.status == 2:
        return None
    if result.status != 0:
        return low  # undecided: keep the whole cell
    return max(low, float(result.x[-1]) - BR_TOL)


@dataclass(frozen=True)
class _Faces:
    """The faces of the split polytope on which a split within the budgets exists if any
    does, for up to three defenders with resources (``docs/nse.md`` §3.3): every
    demanded target whole to one owner but at most two, each split between two owners
    (two such splits share one owner, the *taker*), or one split between three.

    Row f of ``owner`` gives the owner (an index among the active defenders) of each
    demanded target, -1 where it is split; a split is (target, giver, taker): the giver
    takes as much as her budget leaves, up to the demand, and the taker the rest. In a
    three-way split both givers do so, on the same target.
    """

    game: SecurityGame
    targets: np.ndarray  # the demanded targets
    budget: FloatArray  # of the active defenders
    owner: np.ndarray  # (F, T)
    split_target: np.ndarray  # (F, 2) positions in targets, -1: none
    giver: np.ndarray  # (F, 2)
    taker: np.ndarray  # (F,), -1: no split

    @classmethod
    def of(cls, game: SecurityGame, st: Structure, within_at: float | None = None) -> _Faces | None:
        """The faces of the structure ``st`` (None: beyond three defenders with
        resources or :data:`MAX_FACES` faces); with ``within_at``, only those within the
        budgets at that level, kept block by block (one block per split pattern)."""
        active = game.resources > 0
        if np.count_nonzero(active) > 3:
            return None
        targets = np.flatnonzero(st.demand > 0.0)
        owners = [tuple(int(i) for i in np.flatnonzero(st.allowed[active, t])) for t in targets]
        if _face_count(owners) > MAX_FACES:
            return None
        blocks = [(_product(owners, ()), (-1, -1), (-1, -1), -1)]
        shared = [p for p in range(targets.size) if len(owners[p]) >= 2]
        for p in shared:
            rest = _product(owners, (p,))
            blocks += [(rest, (p, -1), (i, -1), j) for i, j in itertools.combinations(owners[p], 2)]
            if len(owners[p]) == 3:
                blocks.append((rest, (p, p), (owners[p][0], owners[p][1]), owners[p][2]))
        for p, q in itertools.combinations(shared, 2):
            rest = _product(owners, (p, q))
            for one in itertools.combinations(owners[p], 2):
                for two in itertools.combinations(owners[q], 2):
                    common = set(one) & set(two)
                    if len(common) != 1:
                        continue  # the same pair twice: one split does (§3.3)
                    (taker,) = common
                    g1, g2 = (x for x in (*one, *two) if x != taker)
                    blocks.append((rest, (p, q), (g1, g2), taker))
        budget = game.resources[active].astype(np.float64)
        parts = []
        for rest, split, giver, taker in blocks:
            size = rest.shape[0]
            part = cls(
                game,
                targets,
                budget,
                rest,
                np.tile(np.array(split, dtype=np.int64), (size, 1)),
                np.tile(np.array(giver, dtype=np.int64), (size, 1)),
                np.full(size, taker, dtype=np.int64),
            )
            if within_at is not None:
                part = part.subset(np.flatnonzero(part.within(within_at)))
            parts.append(part)
        return cls(
            game,
            targets,
            budget,
            *(
                np.concatenate([getattr(q, name) for q in parts])
                for name in ("owner", "split_target", "giver", "taker")
            ),
        )

    def subset(self, rows: np.ndarray) -> _Faces:
        """The faces ``rows``."""
        return dataclasses.replace(
            self,
            owner=self.owner[rows],
            split_target=self.split_target[rows],
            giver=self.giver[rows],
            taker=self.taker[rows],
        )

    def shares(self, u: float) -> tuple[FloatArray, FloatArray]:
        """Per face, each active defender's spending at level ``u`` and the givers'
        shares, shapes (F, a) and (F, 2)."""
        game = self.game
        d = need(game.attacker_reward[self.targets], game.attacker_gap[self.targets], u)
        a = self.budget.size
        whole = (self.owner[:, :, None] == np.arange(a)[None, None, :]) * d[None, :, None]
        spend = whole.sum(axis=1)
        rows = np.arange(self.owner.shape[0])
        split = self.split_target >= 0
        demand = np.append(d, 0.0)[np.where(split, self.split_target, d.size)]
        giver = np.where(split, self.giver, 0)
        room = self.budget[giver] - spend[rows[:, None], giver]
        share = np.where(split, np.clip(room, 0.0, demand), 0.0)
        spend[rows[:, None], giver] += share
        # the taker pays the rest of each split target: prod (1 - c) = 1 - d
        three = split[:, 1] & (self.split_target[:, 0] == self.split_target[:, 1])
        with np.errstate(divide="ignore", invalid="ignore"):
            pays = np.where(split, 1.0 - (1.0 - demand) / (1.0 - share), 0.0)
            joint = 1.0 - (1.0 - demand[:, 0]) / ((1.0 - share[:, 0]) * (1.0 - share[:, 1]))
        paid = np.where(three, np.maximum(joint, 0.0), pays.sum(axis=1))
        taker = np.where(self.taker >= 0, self.taker, 0)
        spend[rows, taker] += np.where(self.taker >= 0, paid, 0.0)
        ok = np.all(np.where(split, room >= 0.0, True), axis=1)
        spend[~ok] = np.inf
        return spend, share

    def within(self, u: float) -> np.ndarray:
        """Per face, whether its split at level ``u`` keeps every defender within her
        budget (to :data:`ROUNDING_TOL`)."""
        spend, _ = self.shares(u)
        return self._within(spend)

    def closest(self, u: float) -> np.ndarray:
        """The faces whose splits at level ``u`` keep every defender within her budget,
        those that leave the least unspent first."""
        spend, _ = self.shares(u)
        within = np.flatnonzero(self._within(spend))
        slack = (self.budget[None, :] - spend[within]).sum(axis=1)
        return within[np.argsort(slack, kind="stable")]

    def _within(self, spend: FloatArray) -> np.ndarray:
        return np.all(spend <= self.budget[None, :] * (1.0 + ROUNDING_TOL), axis=1)

    def profile(self, u: float, f: int) -> FloatArray:
        """Face ``f``'s profile at level ``u`` (shape (n, m))."""
        game = self.game
        d = need(game.attacker_reward[self.targets], game.attacker_gap[self.targets], u)
        _, share = self.shares(u)
        active = np.flatnonzero(game.resources > 0)
        profile = np.zeros((game.n_defenders, game.n_targets))
        for p, t in enumerate(self.targets):
            if self.owner[f, p] >= 0:
                profile[active[self.owner[f, p]], t] = d[p]
        slots = [s for s in range(2) if self.split_target[f, s] >= 0]
        kept: dict[int, float] = {}
        for s in slots:
            p = int(self.split_target[f, s])
            g = active[self.giver[f, s]]
            profile[g, self.targets[p]] = share[f, s]
            kept[p] = kept.get(p, 1.0) * (1.0 - share[f, s])
        for p, left in kept.items():
            t = self.targets[p]
            profile[active[self.taker[f]], t] = max(0.0, 1.0 - (1.0 - d[p]) / left)
        return profile


def _product(owners: list[tuple[int, ...]], split: tuple[int, ...]) -> np.ndarray:
    """Every assignment of the targets to one of their owners each, -1 on ``split``,
    shape (R, T)."""
    options = [np.array([-1]) if p in split else np.array(o) for p, o in enumerate(owners)]
    if not options:
        return np.zeros((1, 0), dtype=np.int64)
    grid = np.meshgrid(*options, indexing="ij")
    return np.stack(grid, axis=-1).reshape(-1, len(options)).astype(np.int64)


def _face_count(owners: list[tuple[int, ...]]) -> int:
    """How many faces :class:`_Faces` enumerates for the owner sets ``owners``."""
    sizes = [len(o) for o in owners]
    total = int(np.prod(sizes))
    count = total
    for s in sizes:
        if s >= 2:
            count += (s * (s - 1) // 2 + (s == 3)) * total // s
    for s, r in itertools.combinations(sizes, 2):
        if s >= 2 and r >= 2:
            count += (s * (s - 1) // 2) * (r * (r - 1) // 2) * total // (s * r)
    return count


def _highest(
    game: SecurityGame, tau: int, at: float, low: float, high: float, robust: bool = False
) -> tuple[float, float, FloatArray | None] | None:
    """The highest level of [low, high] where the structure at ``at`` may let every
    defender spend her budget (None: none), the level to look for a witness at, and
    the root's profile where the highest level is a root (``docs/nse.md`` §3.3).
    Without a root, bisection brackets it between a level no weights rule out (the
    witness level) and one they do (the bound), adjacent floats apart."""
    if high <= low + BR_TOL:  # an edge, or a cell squeezed by the flow test
        if _fails(game, tau, at, high, robust=robust) is not None:
            return None
        return high, high, None
    games = Games.single(game)
    active = game.resources > 0
    st = structure(game, tau, at)
    if np.any(active & ~st.allowed.any(axis=1)):
        return None  # a defender with resources and nowhere to spend them
    root = _root(games, tau, low, high)
    if root is not None and root[0] > low:  # at low, the structure is the edge's
        u, coverage = root
        profile = np.zeros((game.n_defenders, game.n_targets))
        profile[active] = coverage
        return u, u, profile
    certificate = _fails(game, tau, at, high, robust=robust)
    if certificate is None:
        return high, high, None
    if _fails(game, tau, at, low, robust=robust) is not None:
        return None
    lo, hi = low, high  # no certificate at lo, one at hi
    while hi - lo > LEVEL_RESOLUTION:
        mid = 0.5 * (lo + hi)
        found = _fails(game, tau, at, mid, certificate, robust=robust)
        if found is None:
            lo = mid
        else:
            hi, certificate = mid, found
    # with positive weights the top is a root whose log-weights are those that
    # minimise phi there, which Newton's usual starts may miss: Newton from there (to
    # a witness's tolerance: at a steep level the floats may not come closer)
    certificate = _fails(game, tau, at, hi, least=True, robust=robust)
    if certificate is not None and np.all(certificate > 0.0):
        start = np.log(certificate / certificate[0])
        start[0] = lo
        root = _root(games, tau, low, high, (start,), REALISE_TOL)
        if root is not None and lo - LEVEL_AGREEMENT <= root[0] <= hi:
            profile = np.zeros((game.n_defenders, game.n_targets))
            profile[active] = root[1]
            return hi, root[0], profile
    return hi, lo, None


def _root(
    games: Games,
    tau: int,
    low: float,
    high: float,
    starts: Iterable[FloatArray] | None = None,
    tol: float = NEWTON_TOL,
) -> tuple[float, FloatArray] | None:
    """A level in [low, high] and the coverage of a canonical split there that spends
    each budget to within ``tol`` (in resources, times the largest budget), by damped
    Newton from each of ``starts`` (states: the level, then the log-weights of the
    active defenders but the first, whose is 0; default: equal weights at three levels
    of the range) (None: not found)."""
    game = games.game
    k = game.resources[games.active].astype(np.float64)
    a = k.size
    rows, taus = np.zeros(1, np.int64), np.array([tau])
    mask = np.ones(a)
    mask[0] = 0.0  # column 0 of the state is the level; lambda_0 stays 0
    if starts is None:
        starts = [np.append(low + f * (high - low), np.zeros(a - 1)) for f in (0.5, 0.1, 0.9)]
    for start in starts:
        x = np.array(start, dtype=np.float64)
        for _ in range(ROOT_ITERATIONS):
            sp = split_spending(games, rows, taus, x[None, :1].ravel(), (x * mask)[None])
            residual = sp.spend[0] - k
            if not sp.feasible[0]:
                break
            if np.abs(residual).max() <= tol * max(1.0, k.max()):
                if np.abs(x[1:]).max(initial=0.0) < LOG_WEIGHT_BOUND - 1.0:
                    return float(x[0]), sp.coverage[0]
                break
            try:
                step = np.linalg.solve(sp.jacobian[0], -residual)
            except np.linalg.LinAlgError:
                break
            damped = _damped(games, rows, taus, x, step, mask, k, low, high, residual)
            if damped is None:
                break
            x = damped
    return None


def _damped(
    games: Games,
    rows: np.ndarray,
    taus: np.ndarray,
    x: FloatArray,
    step: FloatArray,
    mask: FloatArray,
    k: FloatArray,
    low: float,
    high: float,
    residual: FloatArray,
) -> FloatArray | None:
    """The first of the steps 1, 1/2, ... (inside the bounds) that lowers the residual."""
    norm = float(np.abs(residual).max())
    size = 1.0
    for _ in range(30):
        trial = x + size * step
        trial[0] = min(max(trial[0], low), high)
        trial[1:] = np.clip(trial[1:], -LOG_WEIGHT_BOUND, LOG_WEIGHT_BOUND)
        sp = split_spending(games, rows, taus, trial[None, :1].ravel(), (trial * mask)[None])
        if sp.feasible[0] and np.abs(sp.spend[0] - k).max() < norm:
            return trial
        size *= 0.5
    return None


def _fails(
    game: SecurityGame,
    tau: int,
    at: float,
    u: float,
    hint: FloatArray | None = None,
    *,
    least: bool = False,
    robust: bool = False,
) -> FloatArray | None:
    """Weights w >= 0 (of the defenders who may not spare, rule B) certifying that,
    with the structure at ``at``, no split at level ``u`` lets each of them spend her
    budget: phi_u(w) < 0 (``docs/nse.md`` §3.3); None when none is found. The
    defenders alone and ``hint`` (a certificate found at a nearby level) are tried
    first, then the minimum of phi_u over the simplex of weights; with ``least``, only
    the minimum (the weights of the canonical split nearest to spending the budgets);
    with ``robust``, where that finds none, Kelley's cutting planes
    (:func:`_cutting_planes`: slower, but phi has kinks where SLSQP may stop short)."""
    st = structure(game, tau, at)
    active = game.resources > 0
    spare = may_spare(Games.single(game), np.zeros(1, np.int64), np.array([tau]), u)[0]
    bound = ~spare[active]  # who must spend her whole budget
    a = int(np.count_nonzero(bound))
    if st.uncovered > 0.0:
        return np.full(max(a, 1), 1.0 / max(a, 1))
    if a == 0:
        return None
    k = game.resources[active].astype(np.float64)
    demand = need(game.attacker_reward, game.attacker_gap, u) * (st.demand > 0.0)
    return _certificate(st.allowed[active], demand, k, bound, hint, least=least, robust=robust)


def _certificate(
    allowed: np.ndarray,
    demand: FloatArray,
    k: FloatArray,
    bound: np.ndarray,
    hint: FloatArray | None = None,
    *,
    least: bool = False,
    robust: bool = False,
) -> FloatArray | None:
    """Weights w >= 0 on the defenders ``bound`` with phi(w) < 0: no split of the
    demands ``demand`` (shape (m,); 1 at the floor) among the allowed defenders
    (``allowed``, shape (a, m)) lets each of them spend her budget ``k`` (the others
    may spare); None when none is found (:func:`_fails`, which says what ``hint``,
    ``least`` and ``robust`` do). A fully demanded target
    adds the largest weight of its owners: one of them covers it, and coverage beside
    hers would be spare."""
    a = int(np.count_nonzero(bound))
    if a == 0:
        return None
    full = demand >= 1.0
    members = allowed & ((demand > 0.0) & ~full)[None, :]
    owners = allowed & full[None, :]
    log_rest = np.log(np.where(full, 1.0, 1.0 - demand))

    def phi(v: FloatArray) -> tuple[float, FloatArray]:
        w = np.zeros(k.size)
        w[bound] = v
        log_w = np.log(np.maximum(w, np.exp(-LOG_WEIGHT_BOUND)))
        rest, inside, _ = water_fill(log_w, log_rest, members)
        spend = (inside - rest).sum(axis=1)
        heaviest = np.where(owners, w[:, None], -1.0).argmax(axis=0)
        np.add.at(spend, heaviest[owners.any(axis=0)], 1.0)
        gaps = (spend - k)[bound]
        return float(v @ gaps), gaps

    tries = [] if least else [*np.eye(a)] + ([hint] if hint is not None and hint.size == a else [])
    for v in tries:  # one defender's most spending, and the hint
        if phi(v)[0] < -FRONTIER_TOL:
            return v
    result = minimize(
        phi,
        np.full(a, 1.0 / a),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * a,
        constraints=[{"type": "eq", "fun": lambda v: v.sum() - 1.0, "jac": lambda v: np.ones(a)}],
        options={"maxiter": 100, "ftol": 1e-15},
    )
    v = np.clip(result.x, 0.0, None)
    if v.sum() > 0.0 and phi(v / v.sum())[0] < -FRONTIER_TOL:
        return v / v.sum()
    return _cutting_planes(phi, a) if robust else None


def _cutting_planes(
    phi: Callable[[FloatArray], tuple[float, FloatArray]], a: int
) -> FloatArray | None:
    """Weights (``a`` of them, summing to 1) with phi < -FRONTIER_TOL, by Kelley's
    cutting planes (None: none, or none within :data:`CUT_ROUNDS`).

    phi(w) = max_y w . (S(y) - k) is convex, and each evaluation at v gives a plane
    below it, w . (S(y_v) - k); the least over the simplex of the planes' maximum (one
    LP) bounds min phi from below and proposes the next weights. It stops when a
    certificate is found or the bound shows there is none.
    """
    planes: list[FloatArray] = []
    v = np.full(a, 1.0 / a)
    for _ in range(CUT_ROUNDS):
        value, gaps = phi(v)
        if value < -FRONTIER_TOL:
            return v
        planes.append(gaps)
        model = linprog(
            np.append(np.zeros(a), 1.0),
            A_ub=np.hstack((np.array(planes), -np.ones((len(planes), 1)))),
            b_ub=np.zeros(len(planes)),
            A_eq=np.append(np.ones(a), 0.0)[None, :],
            b_eq=[1.0],
            bounds=[(0.0, None)] * a + [(None, None)],
            method="highs",
        )
        if model.status != 0 or model.x[-1] >= -FRONTIER_TOL:
            return None  # no weights certify
        v = np.clip(model.x[:a], 0.0, None)
        v = v / v.sum()
    return None
