r"""The exact split, on a batch of games (``docs/nse.md`` §2.2).

At level :math:`u` every demanded target is covered exactly :math:`d_t(u)`; at the
floor :math:`u = \max_t p^a(t)` the targets with :math:`p^a(t) = u` must be covered
fully, each by one defender (its *owner*). The canonical split
(:mod:`sim.nse.split`) shares each target's demand with maximum waste; some NSEs
need less (a defender covering a target of her own, say), and only an exact split
reaches them. Here every allowed (defender, target) share
:math:`c^i_t \in [0, d_t]` is an unknown, with the equations

.. math::

    \sum_t c^i_t = k_i - |\{\text{targets } i \text{ owns}\}|
        \quad (\le \text{ where rule B lets } i \text{ spare}), \qquad
    \sum_i \log(1 - c^i_t) = \log(1 - d_t(u)),

more unknowns than equations; the level may be an unknown too, inside one structural
cell, where :math:`\log(1 - d_t(u)) = \log((u - p^a(t)) / \Delta^a(t))`.
:func:`exact_split` is the one solver of these equations, for many games at once (one
level or one cell per row, any owners; :func:`floor_exact` at the floor, the quick
stages), by the projected Levenberg-Marquardt iteration of :mod:`sim.nse.bounded`
(the step on the shares not held by a bound, damping :math:`\mu \lVert f \rVert^2`).
At a fixed level the step's normal matrix :math:`J J^\top` is closed form: its budget
block and its target block are diagonal (a budget row meets a target row only through
their shared unknown), so the step needs one solve of the Schur complement, a system
as small as the number of defenders, for every row at once. With the level free the
rows are solved one by one with the dense step of :func:`~sim.nse.bounded.bounded_root`,
whose rounding breaks the symmetry between identical targets that the closed form
keeps exactly (a symmetric stationary point with no symmetric split is a trap for
it). Starting points: the canonical split with equal weights (maximum waste) and the
greedy split (each demand to the allowed defender with the most budget left: no
waste). Deterministic; rows are independent.
"""

from __future__ import annotations

import functools

import numpy as np

from sim.game import FloatArray
from sim.nse.bounded import MU_MAX, MU_MIN, MU_START, bounded_root
from sim.nse.linalg import solve_stack
from sim.nse.split import DISTINCT_ROWS, Games, allowed_sets, distinct_rows, may_spare
from sim.numerics import (
    DAMPING_FLOOR,
    FLOOR_NUDGE,
    NEWTON_TOL,
    RESIDUAL_TOL,
    ROUNDING_TOL,
    SHARE_MARGIN,
)
from sim.solvers.origami import need

#: Iterations of the Levenberg-Marquardt loop per starting point.
EXACT_ITERATIONS = 5


def floor_exact(
    games: Games,
    rows: np.ndarray,
    tau: np.ndarray,
    owner: int,
    *,
    max_iter: int = EXACT_ITERATIONS,
) -> tuple[np.ndarray, FloatArray]:
    """Exact splits at the floor for game ``rows[j]`` attacking ``tau[j]``, the fully
    demanded targets owned by the active defender ``owner`` (an index among the active
    ones): :func:`exact_split` at the floor level."""
    level = np.full(rows.size, float(games.game.attacker_penalty.max()))
    return exact_split(games, rows, tau, level, owner, max_iter=max_iter)


def exact_split(
    games: Games,
    rows: np.ndarray,
    tau: np.ndarray,
    level: FloatArray,
    owner: int | np.ndarray | None = None,
    *,
    high: FloatArray | None = None,
    max_iter: int = EXACT_ITERATIONS,
) -> tuple[np.ndarray, FloatArray]:
    """Exact splits for game ``rows[j]`` attacking ``tau[j]`` at the attacker level
    ``level[j]``, or with the level free. A batch of ``split.DISTINCT_ROWS`` rows or
    more solves each distinct system once (one defender's reports often share every
    allowed set).

    Parameters
    ----------
    games, rows, tau : the batch
    level : ndarray, shape (r,)
        The attacker level; with ``high``, the lower end of its range.
    owner : int or ndarray of int, shape (r, m), optional
        Who covers each fully demanded target (at the floor), an index among the active
        defenders: one for every such target, or one per row and target (-1: nobody).
        A row with a fully demanded target and no allowed owner is not solved.
    high : ndarray, shape (r,), optional
        The level is an unknown in ``[level[j], high[j]]``, kept above the floor,
        starting at the middle: one structural cell between breakpoints
        (``docs/nse.md`` §2.1), where the attack set and the allowed sets are those at
        the middle and :math:`\\log(1 - d_t(u)) = \\log((u - p^a(t)) / \\Delta^a(t))` is
        smooth. Each share stays :data:`~sim.numerics.SHARE_MARGIN` below 1; a row
        with a fully demanded target at the middle is not solved.
    max_iter : int
        Levenberg-Marquardt iterations per starting point.

    Returns
    -------
    done : ndarray of bool, shape (r,)
        Where every equation holds to :data:`~sim.numerics.RESIDUAL_TOL`.
    profiles : ndarray, shape (r, n, m)
        The shares (meaningless where not ``done``).
    """
    game = games.game
    active = games.active
    size, m = rows.size, game.n_targets
    start_level = level if high is None else 0.5 * (level + high)
    demand = need(game.attacker_reward, game.attacker_gap, start_level[:, None])
    full = demand >= 1.0
    partial = (demand > 0.0) & ~full
    allowed = allowed_sets(games, rows, tau, demand)[:, active]
    k = game.resources[active].astype(np.float64)
    owned = np.zeros((size, k.size, m))
    if owner is None:
        owns = ~full.any(axis=1)
    elif isinstance(owner, int):
        owned[:, owner] = full
        owns = ~(full & ~allowed[:, owner]).any(axis=1)
    else:
        at, t = np.nonzero(full & (owner >= 0))
        owned[at, owner[at, t], t] = 1.0
        owns = ~(full & ~(owned.astype(bool) & allowed).any(axis=1)).any(axis=1)
    budget = k - owned.sum(axis=2)
    unknown = allowed & partial[:, None, :]
    spare = may_spare(games, rows, tau, start_level)[:, active]
    running = (
        owns
        & (unknown.any(axis=1) | ~partial).all(axis=1)
        & (budget >= -ROUNDING_TOL).all(axis=1)
        & (game.attacker_reward[tau] >= start_level)
    )
    if high is None:
        running &= budgets_fit(unknown, demand, budget, spare)
    else:  # the demands move with the level (no pruning by them), all below 1
        running &= ~full.any(axis=1)
    log_rest = np.log1p(-np.where(partial, demand, 0.0))
    upper = np.where(partial, demand, 0.0)
    system = _System(unknown, budget, spare, log_rest, partial)

    # one defender's reports often share every allowed set: each distinct row (its
    # whole system) is solved once and the result shared, bit for bit
    solve, copies = np.arange(size), None
    if size >= DISTINCT_ROWS:
        distinct, inverse = distinct_rows(level, high, allowed, owned, spare, running)
        if distinct.size < size:
            solve, copies = distinct, inverse
    done = np.zeros(size, dtype=bool)
    shares = np.zeros((size, k.size, m))
    for first in (True, False):  # maximum waste, then no waste where that failed
        todo = solve[running[solve] & ~done[solve]]
        if todo.size == 0:
            break
        start = (
            _canonical(unknown[todo], log_rest[todo])
            if first
            else greedy_split(unknown[todo], budget[todo], np.where(partial, demand, 0.0)[todo])
        )
        if high is None:
            solved, found = _levenberg_marquardt(system, todo, start, upper[todo], max_iter)
        else:
            floor = float(game.attacker_penalty.max())
            low = np.maximum(level, floor + FLOOR_NUDGE * (1.0 + abs(floor)))
            cell = (game.attacker_penalty, game.attacker_gap)
            solved, found = np.zeros(todo.size, dtype=bool), start
            for j, row in enumerate(todo):
                x = _free_level(
                    system, row, start[j], (low[row], start_level[row], high[row]), cell, max_iter
                )
                if x is not None:
                    solved[j], found[j] = True, x
        done[todo[solved]] = True
        shares[todo[solved]] = found[solved]
    if copies is not None:
        done, shares = done[solve][copies], shares[solve][copies]
    profiles = np.zeros((size, game.n_defenders, m))
    profiles[:, active] = shares + owned
    return done, profiles


class _System:
    """The equations of :func:`exact_split` for its rows (any subset ``at`` of them)."""

    def __init__(
        self,
        unknown: np.ndarray,
        budget: FloatArray,
        spare: np.ndarray,
        log_rest: FloatArray,
        partial: np.ndarray,
    ) -> None:
        self.unknown, self.budget, self.spare = unknown, budget, spare
        self.log_rest, self.partial = log_rest, partial

    def __call__(
        self, at: np.ndarray, c: FloatArray
    ) -> tuple[FloatArray, FloatArray, np.ndarray, FloatArray]:
        """(budget residuals (r, a), target residuals (r, m), which budget rows bind,
        d log(1 - c) / dc (r, a, m)) at the shares ``c`` of rows ``at``."""
        spend = c.sum(axis=2) - self.budget[at]
        binding = ~(self.spare[at] & (spend < 0.0))
        logs = np.log1p(-c).sum(axis=1) - self.log_rest[at]
        slope = -1.0 / (1.0 - c)
        return np.where(binding, spend, 0.0), np.where(self.partial[at], logs, 0.0), binding, slope


def _levenberg_marquardt(
    system: _System, at: np.ndarray, c: FloatArray, upper: FloatArray, max_iter: int
) -> tuple[np.ndarray, FloatArray]:
    """The projected Levenberg-Marquardt loop of :mod:`sim.nse.bounded` on every
    row of ``at`` at once, the shares of row j in [0, upper[j]]: (solved, shares)."""
    size, a = c.shape[:2]
    unknown = system.unknown[at]
    c = c.copy()
    f_budget, f_target, binding, slope = system(at, c)
    cost = (f_budget**2).sum(axis=1) + (f_target**2).sum(axis=1)
    mu = np.full(size, MU_START)
    live = np.arange(size)
    solved = np.zeros(size, dtype=bool)
    eye = np.eye(a)
    for _ in range(max_iter):
        worst = np.maximum(np.abs(f_budget).max(axis=1), np.abs(f_target).max(axis=1))
        solved[live] = worst[live] <= NEWTON_TOL
        live = live[~solved[live] & (mu[live] <= MU_MAX)]
        if live.size == 0:
            break
        x, fb, ft = c[live], f_budget[live], f_target[live]
        bind, d = binding[live], slope[live]
        gradient = unknown[live] * (bind[:, :, None] * fb[:, :, None] + d * ft[:, None, :])
        top = upper[live][:, None, :]
        held = ((x <= 0.0) & (gradient > 0.0)) | ((x >= top) & (gradient < 0.0))
        free = unknown[live] & ~held
        budget_row = free * bind[:, :, None]  # d f_budget / dc on the free shares
        target_row = free * d  # d f_target / dc on the free shares
        # J J^T + damping is [[B, C], [C^T, T]] with B and T diagonal: solve it by the
        # Schur complement of T, an a x a system
        b_diag = budget_row.sum(axis=2)
        t_diag = (target_row**2).sum(axis=1)
        cross = budget_row * target_row
        # the damping, with a floor (DAMPING_FLOOR of the largest entry)
        scale = np.maximum(b_diag.max(axis=1), t_diag.max(axis=1))
        damping = (mu[live] * cost[live] + DAMPING_FLOOR * scale)[:, None]
        b_diag = b_diag + damping + (b_diag == 0.0)
        t_diag = t_diag + damping + (t_diag == 0.0)
        scaled = cross / t_diag[:, None, :]
        schur = eye[None] * b_diag[:, :, None] - scaled @ cross.transpose(0, 2, 1)
        y_b = solve_stack(schur, fb - (scaled * ft[:, None, :]).sum(axis=2))
        y_t = (ft - (cross * y_b[:, :, None]).sum(axis=1)) / t_diag
        step = budget_row * y_b[:, :, None] + target_row * y_t[:, None, :]
        trial = np.minimum(np.maximum(x - step, 0.0), top)
        tb, tt, tbind, td = system(at[live], trial)
        trial_cost = (tb**2).sum(axis=1) + (tt**2).sum(axis=1)
        better = trial_cost < cost[live]
        take = live[better]
        c[take], f_budget[take], f_target[take] = trial[better], tb[better], tt[better]
        binding[take], slope[take], cost[take] = tbind[better], td[better], trial_cost[better]
        mu[take] = np.maximum(mu[take] / 4.0, MU_MIN)
        mu[live[~better]] *= 8.0
    worst = np.maximum(np.abs(f_budget).max(axis=1), np.abs(f_target).max(axis=1))
    return worst <= RESIDUAL_TOL, c


def _free_level(
    system: _System,
    row: int,
    start: FloatArray,
    levels: tuple[float, float, float],
    attacker: tuple[FloatArray, FloatArray],
    max_evaluations: int,
) -> FloatArray | None:
    """The shares of ``row`` with its level free in ``[levels[0], levels[2]]`` (from
    ``levels[1]`` and the shares ``start``), or None: the equations of ``system`` with
    :math:`\\log(1 - d_t(u)) = \\log((u - p^a(t)) / \\Delta^a(t))` (``attacker``:
    :math:`(p^a, \\Delta^a)`), by the dense projected Levenberg-Marquardt of
    :mod:`sim.nse.bounded`, each share kept :data:`~sim.numerics.SHARE_MARGIN` below 1."""
    unknown, partial = system.unknown[row], system.partial[row]
    defenders, targets = np.nonzero(unknown)
    rows = np.flatnonzero(partial)
    size, a = defenders.size, unknown.shape[0]
    penalty, gap = attacker[0][rows], attacker[1][rows]
    columns = np.arange(size)
    budget_at = (defenders, columns)
    target_at = (a + np.searchsorted(rows, targets), columns)

    def equations(x: FloatArray) -> tuple[FloatArray, FloatArray]:
        c = np.zeros(unknown.shape)
        c[defenders, targets] = x[:size]
        spend = c.sum(axis=1) - system.budget[row]
        binding = ~(system.spare[row] & (spend < 0.0))
        logs = np.log1p(-c[:, rows]).sum(axis=0) - np.log((x[-1] - penalty) / gap)
        jacobian = np.zeros((a + rows.size, size + 1))
        jacobian[budget_at] = binding[defenders]
        jacobian[target_at] = -1.0 / (1.0 - x[:size])
        jacobian[a:, -1] = -1.0 / (x[-1] - penalty)
        return np.concatenate((np.where(binding, spend, 0.0), logs)), jacobian

    lower = np.append(np.zeros(size), levels[0])
    upper = np.append(np.full(size, 1.0 - SHARE_MARGIN), levels[2])
    x0 = np.append(start[defenders, targets], levels[1])
    x = bounded_root(equations, x0, lower, upper, max_evaluations)
    if x is None:
        return None
    shares = np.zeros(unknown.shape)
    shares[defenders, targets] = x[:size]
    return shares


def budgets_fit(
    allowed: np.ndarray, demand: FloatArray, budget: FloatArray, spare: np.ndarray | None
) -> np.ndarray:
    """Necessary conditions for a split of ``demand`` (r, m) among the ``allowed``
    defenders (r, a, m) that spends ``budget`` (r, a) (at most, where ``spare``; None:
    nobody may spare). Rows that fail them have no split: shape (r,).

    * Hall's condition: the targets only a group of defenders may cover need at
      least their demands from the group's budgets (a target's shares add up to at
      least :math:`d_t`, with no waste), for every group of up to
      :data:`HALL_DEFENDERS` defenders; with more, for each defender alone and for
      all together.
    * Those who may not spare can spend their budgets: alone, at most :math:`d_t` on
      each target; together, at most :math:`k (1 - (1 - d_t)^{1/k})` on a target
      where k of them are allowed (equal shares waste most, and the others' shares
      only lower what they must cover), k on a fully demanded one.
    """
    fits = _hall(allowed, demand, budget)
    binding = np.ones(budget.shape, dtype=bool) if spare is None else ~spare
    room = (allowed * demand[:, None, :]).sum(axis=2) >= budget - RESIDUAL_TOL
    count = (allowed & binding[:, :, None]).sum(axis=1)
    full = demand >= 1.0  # each member may cover it fully
    shared = count * equal_share(count, np.log1p(-np.where(full, 0.0, demand)))
    together = np.where(full, count, shared).sum(axis=1)
    spent = (budget * binding).sum(axis=1)
    fits &= (room | ~binding).all(axis=1) & (together >= spent - RESIDUAL_TOL)
    return np.asarray(fits)


#: Up to this many defenders, :func:`budgets_fit` checks Hall's condition on every
#: group of them (2^a - 1 groups); with more, each defender alone and all together
#: (``docs/nse.md`` §2.3: more groups cost more than they save).
HALL_DEFENDERS = 3


def _hall(allowed: np.ndarray, demand: FloatArray, budget: FloatArray) -> np.ndarray:
    """Hall's condition of :func:`budgets_fit`, shape (r,)."""
    members, others = _groups(allowed.shape[1])
    # the targets some defender outside the group may cover escape it
    outside = others @ allowed.astype(np.float64)  # (r, g, m)
    needed = ((outside == 0.0) * (demand * allowed.any(axis=1))[:, None, :]).sum(axis=2)
    return np.asarray((needed <= budget @ members.T + RESIDUAL_TOL).all(axis=1))


@functools.cache
def _groups(size: int) -> tuple[FloatArray, FloatArray]:
    """The groups of :func:`_hall` among ``size`` defenders, as 0/1 rows (g, size):
    who is in each, and who is not."""
    if size <= HALL_DEFENDERS:
        groups = (np.arange(1, 2**size)[:, None] >> np.arange(size)) & 1 == 1
    else:
        groups = np.vstack((np.eye(size, dtype=bool), np.ones((1, size), dtype=bool)))
    members, others = groups.astype(np.float64), (~groups).astype(np.float64)
    members.setflags(write=False)
    others.setflags(write=False)
    return members, others


def equal_share(count: np.ndarray, log_rest: FloatArray) -> FloatArray:
    """Each member's share when ``count`` defenders split a demand equally (maximum
    waste): :math:`1 - (1 - d_t)^{1/k}`, from ``log_rest`` :math:`= \\log(1 - d_t)`
    (shapes that broadcast; a count of 0 is taken as 1)."""
    return np.asarray(-np.expm1(log_rest / np.maximum(count, 1)))


def _canonical(unknown: np.ndarray, log_rest: FloatArray) -> FloatArray:
    """Every allowed defender's equal share of each target: maximum waste."""
    count = unknown.sum(axis=1, keepdims=True)
    return np.asarray(unknown * equal_share(count, log_rest[:, None, :]))


def greedy_split(unknown: np.ndarray, budget: FloatArray, demand: FloatArray) -> FloatArray:
    """Each demand whole to the allowed defender with the most budget left, largest
    demands first (per row of a batch: ``unknown`` (r, n, m), ``budget`` (r, n),
    ``demand`` (r, m)): a split with no waste, the opposite end from the canonical one
    (a starting point of the exact splits). Sequential in the targets: a batch of one
    (the finder) runs it on Python scalars, a larger batch one NumPy pass per rank."""
    shares = np.zeros(unknown.shape)
    if unknown.shape[0] == 1:
        spare: list[float] = budget[0].tolist()
        values: list[float] = demand[0].tolist()
        for t in np.argsort(-demand[0], kind="stable").tolist():
            allowed = np.flatnonzero(unknown[0, :, t]).tolist()
            if allowed:
                i = max(allowed, key=spare.__getitem__)  # the first of equals, as argmax
                shares[0, i, t] = values[t]
                spare[i] -= values[t]
        return shares
    left = budget.copy()
    at = np.arange(unknown.shape[0])
    for t in np.argsort(-demand, axis=1, kind="stable").T:  # the j-th largest per row
        members = unknown[at, :, t]
        some = np.flatnonzero(members.any(axis=1))
        if some.size == 0:
            continue
        i = np.argmax(np.where(members[some], left[some], -np.inf), axis=1)
        shares[some, i, t[some]] = demand[some, t[some]]
        left[some, i] -= demand[some, t[some]]
    return shares
