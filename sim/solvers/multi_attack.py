"""Security games against an attacker with several resources (Korzhyk, Conitzer and
Parr 2011): the attacker hits ``n_a`` distinct targets at once and utilities add up
over them. One defender (or the pooled defender of a coordinated game) with ``K``
resources; strategies in marginals: coverage ``c`` in ``[0, 1]^m`` with
``sum(c) <= K`` and attack ``a`` in ``[0, 1]^m`` with ``sum(a) = n_a``.

* :func:`multi_attack_nash`: a Nash equilibrium in polynomial time by a monotone
  search over the attacker's threshold utility and the defender's threshold value
  (``docs/multi_attack.md`` §2), certified by :func:`multi_attack_violation`.
* :func:`multi_attack_sse`: the strong Stackelberg equilibrium, NP-hard in general,
  by one MILP over the attacked set (§3); :func:`sse_by_enumeration` is its slow
  reference (one LP per attacked set).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from sim.errors import InvalidParameterError, SolverFailedError
from sim.game import FloatArray, SecurityGame
from sim.numerics import BR_TOL, GAIN_TOL, MIP_GAP, ROUNDING_TOL
from sim.payoffs import utility

#: Largest number of targets :func:`multi_attack_sse` accepts (the MILP has 3m
#: variables; HiGHS solves m = 60 with several attacks in seconds, beyond that the
#: exact method's time is unbounded in practice).
SSE_TARGET_LIMIT: Final = 60

#: Largest number of attacked sets :func:`sse_by_enumeration` will solve one LP for.
ENUMERATION_LIMIT: Final = 20_000


@dataclass(frozen=True)
class Payoffs:
    """One defender's view of a game: her payoffs, the attacker's and the budgets."""

    defender_reward: FloatArray
    defender_penalty: FloatArray
    attacker_reward: FloatArray
    attacker_penalty: FloatArray
    budget: int
    attacks: int

    @classmethod
    def of(cls, game: SecurityGame, defender: int | None) -> Payoffs:
        """Defender ``defender``'s payoffs with the pooled budget ``min(K, m)``; with
        ``None`` the game must have one defender."""
        if defender is None:
            if game.n_defenders != 1:
                raise InvalidParameterError(
                    f"defender must name whose payoffs the pooled defender has in a game of "
                    f"{game.n_defenders} defenders; got None"
                )
            defender = 0
        if not (isinstance(defender, int | np.integer) and 0 <= defender < game.n_defenders):
            raise InvalidParameterError(
                f"defender must be in [0, {game.n_defenders}); got {defender!r}"
            )
        return cls(
            game.defender_reward[defender],
            game.defender_penalty[defender],
            game.attacker_reward,
            game.attacker_penalty,
            min(game.total_resources, game.n_targets),
            game.attacker_resources,
        )

    @property
    def defender_gap(self) -> FloatArray:
        return self.defender_reward - self.defender_penalty

    @property
    def attacker_gap(self) -> FloatArray:
        return self.attacker_reward - self.attacker_penalty

    def attacker_values(self, coverage: FloatArray) -> FloatArray:
        """The attacker's utility from each target under ``coverage``."""
        return self.attacker_reward - coverage * self.attacker_gap

    def defender_values(self, coverage: FloatArray) -> FloatArray:
        """The defender's utility when each target is attacked under ``coverage``."""
        return utility(self.defender_penalty, self.defender_gap, coverage)


@dataclass(frozen=True)
class MultiAttackNash:
    """A Nash equilibrium in marginals.

    Attributes
    ----------
    coverage, attack : ndarray, shape (m,)
        The defender's coverage (``sum = min(K, m)``) and the attacker's marginals
        (``sum = n_a``).
    level : float
        The attacker's threshold :math:`\\theta`: targets worth more to him than
        ``level`` are attacked for sure, those worth less never.
    price : float
        The defender's threshold :math:`\\lambda \\ge 0` on ``attack * defender_gap``:
        targets above it are covered for sure, those below it not at all.
    defender_utility, attacker_utility : float
        Expected utilities, added over the attacked targets.
    """

    coverage: FloatArray
    attack: FloatArray
    level: float
    price: float
    defender_utility: float
    attacker_utility: float


@dataclass(frozen=True)
class MultiAttackViolation:
    """How far a pair of marginals is from a Nash equilibrium: each player's best
    response value minus what the pair gives her (0 at an equilibrium)."""

    defender_gain: float
    attacker_gain: float

    def holds(self, tol: float = BR_TOL) -> bool:
        return self.defender_gain <= tol and self.attacker_gain <= tol


def _top_sum(values: FloatArray, count: int) -> float:
    """The sum of the ``count`` largest entries (a best response on a capped simplex)."""
    if count <= 0:
        return 0.0
    return float(np.sort(values)[::-1][:count].sum())


def multi_attack_violation(
    game: SecurityGame, coverage: FloatArray, attack: FloatArray, defender: int | None = None
) -> MultiAttackViolation:
    """The exact equilibrium test: on a capped simplex a best response takes the
    largest values, so each player's gain is the sum of her ``budget`` largest values
    minus her value; also checks that both are strategies (``docs/multi_attack.md``
    §1). Gains are fractions of each player's payoff range (the standard game's)."""
    p = Payoffs.of(game.standard, defender)
    c, a = np.asarray(coverage, dtype=float), np.asarray(attack, dtype=float)
    if (
        c.shape != a.shape
        or c.shape != (game.n_targets,)
        or c.min() < -BR_TOL
        or c.max() > 1 + BR_TOL
        or a.min() < -BR_TOL
        or a.max() > 1 + BR_TOL
        or c.sum() > p.budget + BR_TOL * game.n_targets
        or abs(a.sum() - p.attacks) > BR_TOL * game.n_targets
    ):
        return MultiAttackViolation(math.inf, math.inf)
    u = p.attacker_values(c)
    w = a * p.defender_gap
    return MultiAttackViolation(
        defender_gain=_top_sum(w, p.budget) - float(w @ c),
        attacker_gain=_top_sum(u, p.attacks) - float(a @ u),
    )


# -- the Nash equilibrium: cells of (theta, lambda) ----------------------------------
@dataclass(frozen=True)
class _Cell:
    """A point ``[v, v]`` or an open interval ``(lo, hi)`` of a threshold."""

    lo: float
    hi: float

    @property
    def point(self) -> bool:
        return self.lo == self.hi


def _cells(breakpoints: FloatArray, floor: float | None) -> list[_Cell]:
    """Points and open intervals in increasing order; with ``floor`` the line starts
    at that point (the defender's price is >= 0)."""
    cells: list[_Cell] = []
    previous = -math.inf if floor is None else floor
    if floor is not None:
        cells.append(_Cell(floor, floor))
    for value in breakpoints:
        if value > previous:
            cells.append(_Cell(previous, float(value)))
            cells.append(_Cell(float(value), float(value)))
            previous = float(value)
    cells.append(_Cell(previous, math.inf))
    return cells


def _pick(low: float, high: float, cell: _Cell, tol: float) -> float | None:
    """A point of ``[low, high]`` in the closure of ``cell``, or None; ``tol`` absorbs
    rounding in ``low``/``high``. The closure is safe: the best-response ranges are
    upper hemicontinuous, so the limits of an open cell's ranges lie in the ranges of
    its end (and an open cell between adjacent doubles has no inside point at all)."""
    low, high = max(low, cell.lo), min(high, cell.hi)
    if low > high + tol:
        return None
    return _inside(_Cell(low, max(low, high)))


@dataclass(frozen=True)
class _Ranges:
    """Per target, the attack and coverage ranges that are mutual best responses at a
    threshold pair, as ``lo + slope * x`` (``x`` is lambda for the attack, theta for
    the coverage)."""

    a_lo: FloatArray
    a_lo_slope: FloatArray
    a_hi: FloatArray
    a_hi_slope: FloatArray
    c_lo: FloatArray
    c_lo_slope: FloatArray
    c_hi: FloatArray
    c_hi_slope: FloatArray


def _ranges(p: Payoffs, theta: _Cell, lam: _Cell) -> _Ranges:
    """The ranges of ``docs/multi_attack.md`` §2.1 for a theta cell and a lambda cell."""
    ra, pa, dd = p.attacker_reward, p.attacker_penalty, p.defender_gap
    if theta.point:
        v = theta.lo
        above, at_p, at_r, below = pa > v, pa == v, ra == v, ra < v
    else:
        above, below = pa >= theta.hi, ra <= theta.lo
        at_p = at_r = np.zeros_like(above)
    band = ~(above | at_p | at_r | below)
    m = ra.size
    zero, one = np.zeros(m), np.ones(m)
    inv_dd, inv_da = 1.0 / dd, 1.0 / p.attacker_gap
    # the band's coverage c* = (r^a - theta) / gap^a, affine in theta
    star, star_slope = ra * inv_da, -inv_da
    if lam.point and lam.lo == 0.0:
        return _Ranges(
            a_lo=np.where(above, one, zero),
            a_lo_slope=zero,
            a_hi=np.where(above | at_p, one, zero),
            a_hi_slope=zero,
            c_lo=np.where(above | at_p, one, np.where(band, star, zero)),
            c_lo_slope=np.where(band, star_slope, zero),
            c_hi=one,
            c_hi_slope=zero,
        )
    if lam.point:
        greater, equal = dd > lam.lo, dd == lam.lo
    else:
        greater, equal = dd >= lam.hi, np.zeros(m, dtype=bool)
    rest = ~greater
    full = above | at_p
    return _Ranges(
        a_lo=np.where(above | ((band | at_p) & rest), one, zero),
        a_lo_slope=np.where((band | at_p) & greater, inv_dd, zero),
        a_hi=np.where(above | at_p | ((band | at_r) & rest), one, zero),
        a_hi_slope=np.where((band | at_r) & greater, inv_dd, zero),
        c_lo=np.where(full & greater, one, np.where(band & greater, star, zero)),
        c_lo_slope=np.where(band & greater, star_slope, zero),
        c_hi=np.where(
            full & (greater | equal), one, np.where(band & (greater | equal), star, zero)
        ),
        c_hi_slope=np.where(band & (greater | equal), star_slope, zero),
    )


def _interval(
    lo0: float, lo1: float, hi0: float, hi1: float, target: float, tol: float
) -> tuple[float, float]:
    """``{x: lo0 + lo1 x <= target <= hi0 + hi1 x}`` as ``[low, high]`` (empty when
    low > high); a constant side holds within ``tol``."""
    low, high = -math.inf, math.inf
    for base, slope, below in ((lo0, lo1, True), (hi0, hi1, False)):
        # below: base + slope x <= target; otherwise base + slope x >= target
        if slope == 0.0:
            if (base > target + tol) if below else (base < target - tol):
                return math.inf, -math.inf
            continue
        root = (target - base) / slope
        if (slope > 0) == below:
            high = min(high, root)
        else:
            low = max(low, root)
    return low, high


@dataclass(frozen=True)
class _Solution:
    theta: float
    lam: float
    ranges: _Ranges


def _solve_cells(
    p: Payoffs, theta: _Cell, lam: _Cell, tol: float
) -> tuple[int, int, _Solution | None]:
    """Whether the cell pair holds an equilibrium; else which way each threshold must
    move: (attack state, coverage state) with +1 meaning 'too much' (raise theta or
    lambda), -1 'too little', 0 'attainable here'."""
    r = _ranges(p, theta, lam)
    a_low, a_high = _interval(
        float(r.a_lo.sum()),
        float(r.a_lo_slope.sum()),
        float(r.a_hi.sum()),
        float(r.a_hi_slope.sum()),
        float(p.attacks),
        tol,
    )
    c_low, c_high = _interval(
        float(r.c_lo.sum()),
        float(r.c_lo_slope.sum()),
        float(r.c_hi.sum()),
        float(r.c_hi_slope.sum()),
        float(p.budget),
        tol,
    )
    lam_value = _pick(a_low, a_high, lam, tol)
    theta_value = _pick(c_low, c_high, theta, tol)
    a_state = 0 if lam_value is not None else (1 if _attack_at(r, lam) > p.attacks else -1)
    c_state = 0 if theta_value is not None else (1 if _cover_at(r, theta) > p.budget else -1)
    if lam_value is None or theta_value is None:
        return a_state, c_state, None
    return a_state, c_state, _Solution(theta_value, lam_value, r)


def _inside(cell: _Cell) -> float:
    """A point of the cell (its middle; a unit inside an infinite end)."""
    if cell.point:
        return cell.lo
    if math.isinf(cell.lo) and math.isinf(cell.hi):
        return 0.0
    if math.isinf(cell.hi):
        return cell.lo + 1.0
    if math.isinf(cell.lo):
        return cell.hi - 1.0
    return 0.5 * (cell.lo + cell.hi)


def _attack_at(r: _Ranges, lam: _Cell) -> float:
    """The least attack mass at a point inside the lambda cell (when no point of the
    cell attains the attack, it is above it everywhere or below it everywhere)."""
    return float(r.a_lo.sum() + r.a_lo_slope.sum() * _inside(lam))


def _cover_at(r: _Ranges, theta: _Cell) -> float:
    """The least coverage at a point inside the theta cell (as :func:`_attack_at`)."""
    return float(r.c_lo.sum() + r.c_lo_slope.sum() * _inside(theta))


def _search(p: Payoffs, thetas: list[_Cell], lams: list[_Cell], tol: float) -> _Solution | None:
    """The monotone search of ``docs/multi_attack.md`` §2.2: bisection over the lambda
    cells; for each, bisection over the theta cells for the attack mass, then for the
    coverage."""

    def first(lo: int, hi: int, moved: Callable[[int], bool]) -> int:
        """The first index in [lo, hi) where ``moved(i)`` is False (else hi)."""
        while lo < hi:
            mid = (lo + hi) // 2
            if moved(mid):
                lo = mid + 1
            else:
                hi = mid
        return lo

    def at_lambda(j: int) -> tuple[int, _Solution | None]:
        lam = lams[j]
        # theta cells where the attack mass is attainable: after the 'too much' ones
        start = first(0, len(thetas), lambda i: _solve_cells(p, thetas[i], lam, tol)[0] > 0)
        stop = first(start, len(thetas), lambda i: _solve_cells(p, thetas[i], lam, tol)[0] == 0)
        if start == stop:
            # the attack is too heavy at every theta: lambda must fall; else rise
            return (-1 if start == len(thetas) else 1), None
        i = first(start, stop, lambda i: _solve_cells(p, thetas[i], lam, tol)[1] > 0)
        if i == stop:
            return 1, None  # coverage too large even at the highest feasible theta
        solution = _solve_cells(p, thetas[i], lam, tol)[2]
        return (0, solution) if solution is not None else (-1, None)

    lo, hi = 0, len(lams)
    while lo < hi:
        mid = (lo + hi) // 2
        state, solution = at_lambda(mid)
        if solution is not None:
            return solution
        if state > 0:
            lo = mid + 1
        else:
            hi = mid
    return None


def _scan(p: Payoffs, thetas: list[_Cell], lams: list[_Cell], tol: float) -> _Solution | None:
    """Every cell pair in turn: the reference the search is tested against."""
    for lam in lams:
        for theta in thetas:
            solution = _solve_cells(p, theta, lam, tol)[2]
            if solution is not None:
                return solution
    return None


def _fill(lo: FloatArray, hi: FloatArray, total: float) -> FloatArray:
    """Values in ``[lo, hi]`` summing to ``total`` (the slack shared in proportion)."""
    slack = hi - lo
    room = float(slack.sum())
    share = 0.0 if room <= 0 else min(max((total - float(lo.sum())) / room, 0.0), 1.0)
    return np.clip(lo + share * slack, 0.0, 1.0)


def multi_attack_nash(
    game: SecurityGame, defender: int | None = None, *, search: str = "bisect"
) -> MultiAttackNash:
    """A Nash equilibrium of the game against ``game.attacker_resources`` attacks.

    Parameters
    ----------
    game : SecurityGame
    defender : int, optional
        Whose payoffs the (pooled) defender has; required when the game has several
        defenders. The budget is the pooled ``min(K, m)``.
    search : {"bisect", "scan"}
        The monotone search (``O(m log^2 m)`` cell evaluations of ``O(m)`` each) or
        every cell pair (``O(m^2)`` of them: the reference).

    Returns
    -------
    MultiAttackNash
        Certified by :func:`multi_attack_violation`.

    Raises
    ------
    SolverFailedError
        If no cell pair holds an equilibrium within rounding (never seen; the
        equilibrium exists, Korzhyk et al. 2011).

    Notes
    -----
    Nash equilibria here are interchangeable (Korzhyk et al. 2011), so a defender
    strategy is part of some equilibrium iff it is a best response to this one's
    attack and the attack is a best response to it (:func:`is_nash_coverage`).
    """
    if search not in ("bisect", "scan"):
        raise InvalidParameterError(
            f"multi_attack_nash.search must be 'bisect' or 'scan'; got {search!r}"
        )
    p = Payoffs.of(game.standard, defender)
    thetas = _cells(np.unique(np.concatenate([p.attacker_penalty, p.attacker_reward])), None)
    lams = _cells(np.unique(p.defender_gap), 0.0)
    tol = ROUNDING_TOL * game.n_targets  # standard payoffs lie in [0, 1]
    solution = (_search if search == "bisect" else _scan)(p, thetas, lams, tol)
    if solution is None and search == "bisect":
        solution = _scan(p, thetas, lams, tol)
    if solution is None:
        raise SolverFailedError("multi_attack_nash: no cell pair holds an equilibrium")
    r, theta, lam = solution.ranges, solution.theta, solution.lam
    attack = _fill(r.a_lo + r.a_lo_slope * lam, r.a_hi + r.a_hi_slope * lam, p.attacks)
    coverage = _fill(r.c_lo + r.c_lo_slope * theta, r.c_hi + r.c_hi_slope * theta, p.budget)
    violation = multi_attack_violation(game, coverage, attack, defender)
    if not violation.holds(BR_TOL):
        raise SolverFailedError(
            f"multi_attack_nash: the answer fails the equilibrium test: {violation}"
        )
    own = Payoffs.of(game, defender)  # the utilities in the game's units
    return MultiAttackNash(
        coverage=coverage,
        attack=attack,
        level=game.units.attacker_utility(theta),
        price=lam * float(game.units.defender_scale[0 if defender is None else defender]),
        defender_utility=float(attack @ own.defender_values(coverage)),
        attacker_utility=float(attack @ own.attacker_values(coverage)),
    )


def is_nash_coverage(
    game: SecurityGame,
    coverage: FloatArray,
    defender: int | None = None,
    tol: float = GAIN_TOL,
) -> bool:
    """Whether ``coverage`` is the defender's part of some Nash equilibrium: by
    interchangeability, iff it forms one with the attack of :func:`multi_attack_nash`."""
    nash = multi_attack_nash(game, defender)
    return multi_attack_violation(
        game, np.asarray(coverage, dtype=float), nash.attack, defender
    ).holds(tol)


# -- the strong Stackelberg equilibrium ----------------------------------------------
@dataclass(frozen=True)
class MultiAttackSSE:
    """The defender's optimal commitment against ``n_a`` attacks, ties broken in her
    favour (strong Stackelberg).

    Attributes
    ----------
    coverage : ndarray, shape (m,)
    attacked_targets : tuple of int
        The ``n_a`` targets the attacker hits (sorted).
    defender_utility : float
    method : str
        ``"milp"`` or ``"enumeration"``.
    """

    coverage: FloatArray
    attacked_targets: tuple[int, ...]
    defender_utility: float
    method: str


def _attacked_set_lp(p: Payoffs, attacked: tuple[int, ...]) -> tuple[float, FloatArray] | None:
    """The best commitment that makes ``attacked`` a best response: one LP over
    ``(c, theta)`` (``docs/multi_attack.md`` §3); None if infeasible."""
    m = p.attacker_reward.size
    inside = np.zeros(m, dtype=bool)
    inside[list(attacked)] = True
    gap_a = p.attacker_gap
    # rows: attacked u_t >= theta  ->  gap_a c_t + theta <= r^a_t
    #       others    u_t <= theta  -> -gap_a c_t - theta <= -r^a_t
    sign = np.where(inside, 1.0, -1.0)
    rows = np.zeros((m + 1, m + 1))
    rows[:m, :m] = np.diag(sign * gap_a)
    rows[:m, m] = sign
    rows[m, :m] = 1.0
    rhs = np.concatenate([sign * p.attacker_reward, [p.budget]])
    objective = np.concatenate([-np.where(inside, p.defender_gap, 0.0), [0.0]])
    bounds = [(0.0, 1.0)] * m + [(None, None)]
    result = linprog(objective, A_ub=rows, b_ub=rhs, bounds=bounds, method="highs")
    if result.status != 0:
        return None
    coverage = np.clip(result.x[:m], 0.0, 1.0)
    value = float(p.defender_values(coverage)[inside].sum())
    return value, coverage


def sse_by_enumeration(game: SecurityGame, defender: int | None = None) -> MultiAttackSSE:
    """The reference for :func:`multi_attack_sse`: one LP per attacked set (all
    ``C(m, n_a)`` of them, at most :data:`ENUMERATION_LIMIT`), the best kept (the
    lexicographically first set among equals)."""
    p = Payoffs.of(game.standard, defender)
    m = game.n_targets
    if math.comb(m, p.attacks) > ENUMERATION_LIMIT:
        raise InvalidParameterError(
            f"sse_by_enumeration: C({m}, {p.attacks}) attacked sets exceed "
            f"{ENUMERATION_LIMIT}; use multi_attack_sse"
        )
    best: tuple[float, FloatArray, tuple[int, ...]] | None = None
    for attacked in itertools.combinations(range(m), p.attacks):
        solved = _attacked_set_lp(p, attacked)
        if solved is not None and (best is None or solved[0] > best[0] + ROUNDING_TOL):
            best = (solved[0], solved[1], attacked)
    if best is None:  # never: an empty budget makes the n_a best targets a response
        raise SolverFailedError("sse_by_enumeration: no attacked set is inducible")
    return _sse(game, defender, best[1], best[2], "enumeration")


def _sse(
    game: SecurityGame,
    defender: int | None,
    coverage: FloatArray,
    attacked: tuple[int, ...],
    method: str,
) -> MultiAttackSSE:
    """The SSE found in standard units, with the defender's utility in the game's."""
    own = Payoffs.of(game, defender)
    value = float(own.defender_values(coverage)[list(attacked)].sum())
    return MultiAttackSSE(coverage, attacked, value, method)


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send the process's C-level stdout to the null device for a solver call: HiGHS's
    MIP solver prints a stray debug line ("HighsMipSolverData::transformNew...") on
    some problems whatever its output options (reported as jump-dev/HiGHS.jl#312),
    which would land in the user's terminal and the workers' logs."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout to protect
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


#: The largest number of attacked sets the Stackelberg MILP falls back to enumerating
#: when HiGHS fails on it.
ENUMERATION_FALLBACK = 5000


def multi_attack_sse(game: SecurityGame, defender: int | None = None) -> MultiAttackSSE:
    """The strong Stackelberg equilibrium against ``game.attacker_resources`` attacks,
    exactly, by one MILP (HiGHS through :func:`scipy.optimize.milp`).

    Variables: coverage ``c``, attacked-set indicators ``z`` (binary, ``sum = n_a``),
    ``y = z * c`` (exact McCormick rows, ``z`` being binary) and the attacker's
    threshold ``theta``; big-M rows make attacked targets worth at least ``theta``
    to him and the others at most (``docs/multi_attack.md`` §3). The chosen set is
    then solved again as an LP for clean coverage.

    Raises
    ------
    InvalidParameterError
        If the game has more than :data:`SSE_TARGET_LIMIT` targets (computing a
        Stackelberg strategy is NP-hard here, Korzhyk et al. 2011).
    """
    p = Payoffs.of(game.standard, defender)
    m = game.n_targets
    if m > SSE_TARGET_LIMIT:
        raise InvalidParameterError(
            f"multi_attack_sse solves games of at most {SSE_TARGET_LIMIT} targets exactly; "
            f"got n_targets={m}"
        )
    big = 2.0  # standard attacker utilities lie in [0, 1]
    gap_a, gap_d = p.attacker_gap, p.defender_gap
    eye, zeros = np.eye(m), np.zeros((m, m))

    # variable order: c (m), z (m), y (m), theta (1)
    def row(c: FloatArray, z: FloatArray, y: FloatArray, theta: FloatArray) -> FloatArray:
        return np.hstack([c, z, y, theta[:, None]])

    column = np.ones(m)
    constraints = [
        # sum z = n_a; sum c <= K
        LinearConstraint(
            np.concatenate([np.zeros(m), np.ones(m), np.zeros(m), [0.0]])[None],
            p.attacks,
            p.attacks,
        ),
        LinearConstraint(
            np.concatenate([np.ones(m), np.zeros(2 * m), [0.0]])[None], -np.inf, p.budget
        ),
        # y <= c, y <= z, c - y + z <= 1
        LinearConstraint(row(-eye, zeros, eye, np.zeros(m)), -np.inf, 0.0),
        LinearConstraint(row(zeros, -eye, eye, np.zeros(m)), -np.inf, 0.0),
        LinearConstraint(row(eye, eye, -eye, np.zeros(m)), -np.inf, 1.0),
        # attacked: r^a - gap_a c - theta + big (1 - z) >= 0
        LinearConstraint(
            row(-np.diag(gap_a), -big * eye, zeros, -column), -big - p.attacker_reward, np.inf
        ),
        # others: r^a - gap_a c - theta - big z <= 0
        LinearConstraint(
            row(-np.diag(gap_a), -big * eye, zeros, -column), -np.inf, -p.attacker_reward
        ),
    ]
    objective = -np.concatenate([np.zeros(m), p.defender_penalty, gap_d, [0.0]])
    # theta separates attacker utilities, which lie in [min p^a, max r^a]: bounding it
    # there is exact, and HiGHS's MIP solver returned "Solve error" on some tiny games
    # with theta free (found by hypothesis in CI)
    lower = np.concatenate([np.zeros(3 * m), [float(p.attacker_penalty.min())]])
    upper = np.concatenate([np.ones(3 * m), [float(p.attacker_reward.max())]])
    integrality = np.concatenate([np.zeros(m), np.ones(m), np.zeros(m + 1)])
    for options in ({"mip_rel_gap": MIP_GAP}, {"presolve": False, "mip_rel_gap": MIP_GAP}):
        with quiet_stdout():
            result = milp(
                objective,
                constraints=constraints,
                integrality=integrality,
                bounds=Bounds(lower, upper),
                options=options,
            )
        if result.status == 0 and result.x is not None:
            break
    else:
        # HiGHS's MIP solver (as bundled with scipy) reports "Solve error" on a few
        # tiny games; the enumeration is exact and cheap there
        if math.comb(m, p.attacks) <= ENUMERATION_FALLBACK:
            return sse_by_enumeration(game, defender)
        raise SolverFailedError(f"multi_attack_sse: the MILP failed: {result.message}")
    attacked = tuple(int(t) for t in np.flatnonzero(result.x[m : 2 * m] > 0.5))
    solved = _attacked_set_lp(p, attacked)
    if solved is None:
        raise SolverFailedError(
            f"multi_attack_sse: the MILP's attacked set {attacked} is not inducible"
        )
    return _sse(game, defender, solved[1], attacked, "milp")
