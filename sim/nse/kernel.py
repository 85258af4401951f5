r"""The NSE finder's fast kernel, on a batch of games (``docs/nse.md`` §2).

The finder's cheap proposals, written once with a leading batch axis: the candidate
order (:func:`candidate_orders`), Newton on the canonical split
(:func:`newton`), the Gauss-Newton pass at a fixed level (:func:`fixed_level`), the
exact split at the floor (:func:`~sim.nse.exact.floor_exact`), the
damped (Gauss-)Newton loop they share (:func:`damped_newton`), the clean-up of rounding
noise (:func:`clean`) and the exact verifier (:func:`verify`, the oracle
:func:`~sim.solvers.deviation.profile_gains`), and the driver that runs the quick
stages in the finder's order (:func:`resolve`). :func:`~sim.nse.find_nse` calls them
on a batch of one game; :func:`quick_nse_batch` on the reports of a misreport search
(thousands of games that differ only in one defender's row), so NumPy's per-call
overhead is paid once per batch.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from sim.game import FloatArray, PayoffUnits, SecurityGame
from sim.nse.exact import budgets_fit, equal_share, floor_exact
from sim.nse.linalg import least_squares_stack, solve_stack
from sim.nse.split import (
    LOG_WEIGHT_BOUND,
    Games,
    allowed_sets,
    may_spare,
    split_spending,
)
from sim.numerics import (
    BR_TOL,
    FLOOR_NUDGE,
    GAIN_TOL,
    NEWTON_TOL,
    PREFERENCE_TOL,
    RESIDUAL_TOL,
)
from sim.payoffs import utility
from sim.solvers.deviation import ProfileGains, profile_gains
from sim.solvers.origami import need, origami_level

#: Where the candidate order looks at each target's structure: this fraction of the
#: way from the pooled level up to its reward (NSE levels sit a little above the pooled
#: level; ``docs/nse.md`` §2.3 has the evidence).
ORDER_LEVEL = 0.25

#: A solve's (residual, Jacobian, coverage) per row, with which rows are feasible.
Evaluation = tuple[np.ndarray, FloatArray, FloatArray, FloatArray]

#: Which rows of a solve an evaluation is for: indices, or every row.
Rows = np.ndarray | slice

#: The shorter steps :func:`damped_newton` tries, as fractions of the full one, when
#: the full step does not lower the residual norm: halvings down to a tenth.
HALVINGS = np.array([0.5, 0.25, 0.125])

#: How many times a row of :func:`damped_newton` may need a shorter step: a row that
#: needs one more stops (converging rows rarely need any; those that backtrack at every
#: step rarely converge: ``docs/nse.md`` §2.3).
SHORT_STEPS = 2


#: The most cells (game x candidate x defender x target) the batched stages hold at
#: once (:func:`candidate_orders`, :func:`quick_nse_batch`): a batch of reports on a
#: game of thousands of targets is solved in pieces, so its memory stays bounded.
PAIR_CELLS = 2**22

#: The most (candidate x defender x target) cells per game that
#: :func:`candidate_orders` scores by the structure at each candidate's own level.
ORDER_CELLS = 2**17


def candidate_orders(games: Games, pooled: float) -> np.ndarray:
    """The attackable targets of every game, most promising first, shape (b, T) (a try
    order, never a filter).

    Each candidate is scored by the structure at a level :data:`ORDER_LEVEL` of the way
    from the pooled level to its reward (:func:`_structure_scores`): demand no allowed
    defender may cover, then the budget the defenders could not spend even alone on
    their allowed targets. Ties keep the index order, so the order (and the NSE found)
    is deterministic. That score costs (n m) per candidate; where the T candidates of
    a game would cost more than :data:`ORDER_CELLS`, only the best
    ``ORDER_CELLS // (n m)`` by :func:`_common_level_shortfall` (one common level, in
    O(n T log T)) are scored so, and the others follow in that order.
    """
    game = games.game
    reward = game.attacker_reward
    taus = np.flatnonzero(reward >= pooled - BR_TOL)
    _, n, m = games.penalty.shape
    scored = max(1, ORDER_CELLS // (n * m))
    if scored >= taus.size:
        return _by_structure(games, np.repeat(taus[None], games.size, axis=0), pooled)
    rough = _common_level_shortfall(games, taus, pooled)
    index = np.repeat(taus[None], games.size, axis=0)
    ranked = np.take_along_axis(index, np.lexsort((index, rough), axis=-1), axis=-1)
    head = _by_structure(games, ranked[:, :scored], pooled)
    return np.concatenate((head, ranked[:, scored:]), axis=1)


#: How many candidates, in index order, :class:`CandidateOrder` scores first: the
#: leading candidate of a game is the first of them with neither uncovered demand nor
#: shortfall, where one has none, and the rest are scored only when the finder needs
#: them.
LEAD_CANDIDATES = 8


class CandidateOrder:
    """:func:`candidate_orders` of one game (a batch of one), restricted to ``targets``
    where given, with its leading candidate found without scoring every candidate
    where possible.

    Where every candidate is scored by the structure, the scores are (uncovered demand,
    shortfall) with ties in index order, and neither is ever negative: a candidate
    scoring (0, 0) comes before every candidate of a larger index. So where the pooled
    level is above the floor, the first :data:`LEAD_CANDIDATES` in index order are
    scored, and the first of them scoring (0, 0) leads; the others are scored (each
    score is its candidate's alone, so bit for bit as in one batch) when :meth:`all`
    is first asked for. At the floor the defenders may keep spare resources, hardly
    any candidate is free of shortfall, and all are scored at once.

    Attributes
    ----------
    first : int
        The leading candidate (-1: none).
    count : int
        How many candidates there are.
    """

    def __init__(self, games: Games, pooled: float, targets: set[int] | None = None) -> None:
        self._games, self._pooled = games, pooled
        _, n, m = games.penalty.shape
        taus = np.flatnonzero(games.game.attacker_reward >= pooled - BR_TOL)
        ranked = max(1, ORDER_CELLS // (n * m)) < taus.size
        if ranked:  # partly ranked at one common level: ordered at once
            taus = candidate_orders(games, pooled)[0]
        if targets is not None:
            taus = taus[np.isin(taus, list(targets))]
        self._taus, self.count = taus, int(taus.size)
        self._head = np.zeros((1, 0)), np.zeros((1, 0))
        self._order = taus if ranked else None
        floor = float(games.game.attacker_penalty.max())
        if not ranked and pooled > floor + BR_TOL:
            self._head = _structure_scores(games, taus[None, :LEAD_CANDIDATES], pooled)
            uncovered, shortfall = self._head
            lead = np.flatnonzero((uncovered[0] == 0.0) & (shortfall[0] == 0.0))
            if lead.size:
                self.first = int(taus[lead[0]])
                return
        order = self.all()
        self.first = int(order[0]) if order.size else -1

    def all(self) -> np.ndarray:
        """Every candidate, most promising first (shape (count,))."""
        if self._order is None:  # scored by the structure, the first few (or none) so far
            taus, head = self._taus[None], self._head
            scored = head[0].shape[1]
            uncovered, shortfall = head
            if self.count > scored:
                rest = _structure_scores(self._games, taus[:, scored:], self._pooled)
                uncovered = np.concatenate((uncovered, rest[0]), axis=1)
                shortfall = np.concatenate((shortfall, rest[1]), axis=1)
            self._order = taus[0, np.lexsort((taus, shortfall, uncovered), axis=-1)[0]]
        return self._order


def _by_structure(games: Games, candidates: np.ndarray, pooled: float) -> np.ndarray:
    """``candidates`` (shape (b, q), each game's) sorted by :func:`_structure_scores`,
    ties in index order."""
    uncovered, shortfall = _structure_scores(games, candidates, pooled)
    order = np.lexsort((candidates, shortfall, uncovered), axis=-1)
    return np.take_along_axis(candidates, order, axis=-1)


def _structure_scores(
    games: Games, candidates: np.ndarray, pooled: float
) -> tuple[FloatArray, FloatArray]:
    """For game b attacking ``candidates[b, j]`` at a level :data:`ORDER_LEVEL` of the
    way from ``pooled`` to its reward: the demand no allowed defender may cover and the
    budget the defenders could not spend alone on their allowed targets, each shape
    (b, q)."""
    game = games.game
    reward = game.attacker_reward
    _, n, m = games.penalty.shape
    q = candidates.shape[1]
    level = pooled + ORDER_LEVEL * np.maximum(reward[candidates] - pooled, 0.0)
    demand = need(reward, game.attacker_gap, level[..., None])  # (b, q, m)
    budget = game.resources.astype(np.float64)
    # the games in pieces of bounded memory: each holds (q, n, m) values per game
    piece = max(1, PAIR_CELLS // max(1, q * n * m))
    uncovered, shortfall = np.empty(candidates.shape), np.empty(candidates.shape)
    for start in range(0, games.size, piece):
        rows = slice(start, start + piece)
        value = utility(games.penalty[rows, None], games.gap[rows, None], demand[rows, :, None])
        # value[b, j, :, candidates[b, j]] (the advanced axes come first): shape (b, q, n)
        at = np.arange(value.shape[0])[:, None], np.arange(q)[None, :]
        own = value[at[0], at[1], :, candidates[rows]]
        # a target nobody demands adds nothing to either score, allowed or not
        allowed = value <= own[..., None] + PREFERENCE_TOL
        if games.idle:  # defenders without resources cover nothing
            allowed &= games.active[:, None]
        uncovered[rows] = np.where(allowed.any(axis=2), 0.0, demand[rows]).sum(axis=2)
        room = (allowed * demand[rows, :, None, :]).sum(axis=3)
        shortfall[rows] = np.maximum(budget - room, 0.0).sum(axis=2)
    return uncovered, shortfall


def _common_level_shortfall(games: Games, taus: np.ndarray, pooled: float) -> FloatArray:
    """The budget the defenders could not spend alone on their allowed targets if each
    candidate of ``taus`` were attacked at one common level (``pooled`` raised by
    :data:`ORDER_LEVEL` of the candidates' mean reward above it), shape (b, T): per
    defender a sort of the candidates' values and a prefix sum of their demand."""
    game = games.game
    reward = game.attacker_reward[taus]
    level = pooled + ORDER_LEVEL * max(float(reward.mean()) - pooled, 0.0)
    demand = need(reward, game.attacker_gap[taus], level)  # (T,)
    value = utility(games.penalty[..., taus], games.gap[..., taus], demand)  # (b, n, T)
    order = np.argsort(value, axis=-1)
    ranked = np.take_along_axis(value, order, axis=-1)
    mass = np.concatenate(
        (np.zeros((*value.shape[:2], 1)), np.cumsum(demand[order], axis=-1)), axis=-1
    )
    # the demand on the targets a defender values at most the candidate's value: a
    # search of the sorted values for themselves (sorted queries), put back in place
    room = np.empty_like(value)
    for b, i in itertools.product(range(games.size), range(value.shape[1])):
        ends = np.searchsorted(ranked[b, i], ranked[b, i] + PREFERENCE_TOL, side="right")
        room[b, i, order[b, i]] = mass[b, i, ends]
    room[:, ~games.active] = 0.0
    return np.maximum(game.resources[None, :, None] - room, 0.0).sum(axis=1)


def candidate_blocks(count: int, alone: int = 1) -> Iterator[slice]:
    """Blocks of ``count`` candidates in order: the ``alone`` most promising one by
    one (the first usually is the answer), then blocks of 4, 16, ... for the kernel.
    The finder and the batch of reports run every quick stage of a tier on a block
    before the next.

    Where each tier has one stage the blocks change no result (each game takes its
    first verified candidate in (tier, rank) order); the finder tries the second
    candidate alone too (``alone=2``), the batch of reports keeps 1, 4, 16 (why:
    ``docs/nse.md`` §2.3).
    """
    start, size = 0, 1
    while start < count:
        yield slice(start, min(start + size, count))
        start += size
        size = 1 if start < alone else 4 * size


def damped_newton(
    evaluate: Callable[[Rows, FloatArray], Evaluation],
    x: FloatArray,
    running: np.ndarray,
    solve: Callable[[FloatArray, FloatArray], FloatArray],
    clip: Callable[[Rows, FloatArray], FloatArray],
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, FloatArray | None]:
    """Damped (Gauss-)Newton on a batch: the loop of every fast solve.

    ``evaluate(rows, x)`` gives (feasible, residual, Jacobian, coverage) for the rows
    ``rows`` (indices, or ``slice(None)`` for every row) at the points ``x``; ``solve``
    the step from (Jacobian, residual); ``clip`` puts trial points in bounds. Each row
    checks its residual, steps, and halves its step until the residual norm falls (a
    row that needs a step below 0.1 of the full one, or is infeasible, stops); the
    halvings (:data:`HALVINGS`) are evaluated together, and a row that needs them more
    than :data:`SHORT_STEPS` times stops. Returns
    which rows converged (every residual within ``tol``) within ``max_iter`` steps, and
    the coverage (None when no row ran).

    The state is kept for the live rows only, so a batch of one costs about what a
    scalar loop would.
    """
    done = np.zeros(x.shape[0], dtype=bool)
    live = running.nonzero()[0]
    if live.size == 0:
        return done, None
    feasible, res, jac, cov = evaluate(live, x[live])
    coverage = np.zeros((x.shape[0], *cov.shape[1:]))
    short = np.zeros(x.shape[0], dtype=np.int64)  # shorter steps taken, per row
    live, xs, res, jac, cov = (
        live[feasible],
        x[live][feasible],
        res[feasible],
        jac[feasible],
        cov[feasible],
    )
    norm = (res**2).sum(axis=1)  # each row's squared residual norm
    for _ in range(max_iter):
        converged = np.abs(res).max(axis=1, initial=0.0) <= tol
        if converged.any():
            done[live[converged]] = True
            coverage[live[converged]] = cov[converged]
            keep = ~converged
            live, xs, res, jac, cov = live[keep], xs[keep], res[keep], jac[keep], cov[keep]
            norm = norm[keep]
        if live.size == 0:
            break
        step = solve(jac, res)
        at = slice(None) if live.size == x.shape[0] else live  # all rows: views, no gathers
        trial = clip(at, xs - step)
        ok, r2, j2, c2 = evaluate(at, trial)
        n2 = (r2**2).sum(axis=1)
        better = ok & (n2 < (1.0 - 1e-4) * norm)
        if better.all():  # the usual case: every row takes the full step
            xs, res, jac, cov, norm = trial, r2, j2, c2, n2
            continue
        xs[better], res[better], jac[better], cov[better], norm[better] = (
            trial[better],
            r2[better],
            j2[better],
            c2[better],
            n2[better],
        )
        # the shorter steps, all in one evaluation: the first that lowers the norm
        pending = np.flatnonzero(~better)
        count = pending.size
        fraction = HALVINGS.repeat(count)  # the pending rows once per halving
        rows = _per_halving(live[pending])
        shorter = fraction[:, None] * _per_halving(step[pending])
        trial = clip(rows, _per_halving(xs[pending]) - shorter)
        ok, r2, j2, c2 = evaluate(rows, trial)
        n2 = (r2**2).sum(axis=1)
        limit = (1.0 - 1e-4 * fraction) * _per_halving(norm[pending])
        lower = (ok & (n2 < limit)).reshape(HALVINGS.size, count)
        found = lower.any(axis=0)
        pick = np.argmax(lower, axis=0)[found] * count + np.flatnonzero(found)
        take = pending[found]
        xs[take], res[take], jac[take], cov[take] = trial[pick], r2[pick], j2[pick], c2[pick]
        norm[take] = n2[pick]
        short[live[pending]] += 1
        stalled = np.zeros(live.size, dtype=bool)
        stalled[pending[~found]] = True  # no step of a tenth of Newton's or more lowered it
        stalled[pending[short[live[pending]] > SHORT_STEPS]] = True
        if stalled.any():
            keep = ~stalled
            live, xs, res, jac, cov = live[keep], xs[keep], res[keep], jac[keep], cov[keep]
            norm = norm[keep]
    return done, coverage


def _per_halving(values: np.ndarray) -> np.ndarray:
    """``values`` (one per pending row) repeated for each of :data:`HALVINGS`."""
    return np.concatenate([values] * HALVINGS.size)


def newton_step(jacobian: FloatArray, residual: FloatArray) -> FloatArray:
    """Newton steps for a stack of square systems (Gauss-Newton's for a singular one).

    In a batch with singular systems (an exactly zero pivot of the LU factors, as
    ``gesv`` reports them) those are found by ``slogdet`` and stepped together.
    """
    try:
        return solve_stack(jacobian, residual)
    except np.linalg.LinAlgError:
        singular = np.linalg.slogdet(jacobian)[0] == 0.0
        steps = np.empty_like(residual)
        regular = ~singular
        if regular.any():
            steps[regular] = solve_stack(jacobian[regular], residual[regular])
        steps[singular] = gauss_newton_step(jacobian[singular], residual[singular])
        return steps


def gauss_newton_step(jacobian: FloatArray, residual: FloatArray) -> FloatArray:
    """Gauss-Newton steps (pseudo-inverse) for a stack of possibly rank-deficient systems."""
    return least_squares_stack(jacobian, residual)


def _profiles(games: Games, done: np.ndarray, coverage: FloatArray | None) -> FloatArray:
    """Coverage of the active defenders (r, a, m) as full profiles (r, n, m)."""
    game = games.game
    profiles = np.zeros((done.size, game.n_defenders, game.n_targets))
    if coverage is not None:
        profiles[:, games.active] = coverage
    return profiles


def newton(
    games: Games,
    rows: np.ndarray,
    tau: np.ndarray,
    pooled: float,
    *,
    start: float = 0.1,
    weights: str | None = None,
    orphans: bool = False,
    max_iter: int = 10,
    tol: float = NEWTON_TOL,
) -> tuple[np.ndarray, FloatArray]:
    """Interior NSE candidates: :math:`s_i(\\lambda, u) = k_i` by damped Newton, game
    ``rows[j]`` attacking ``tau[j]``.

    Parameters
    ----------
    pooled : float
        The pooled ORIGAMI level: no profile keeps the attacker below it.
    start : float
        The starting level as a fraction of :math:`(\\max(\\text{pooled}, \\text{floor}),
        r^a(\\tau)]` (NSE levels sit near the pooled level). The weights start at the
        first-order guess :math:`\\lambda_i = (k_i - k_0) / |\\{t : r^a(t) > u\\}|`
        (small shares make :math:`s_i` about that many times :math:`\\lambda_i` plus a
        constant).
    weights : str, optional
        A pattern of :func:`starts` for the log-weights instead (the finder's later
        passes).
    orphans : bool
        Whether the residual also carries the demand no defender may cover, with its
        slope in u (Gauss-Newton on one more equation than unknowns): the iteration
        can then cross levels where the structure has an orphan target, where plain
        Newton stops.
    tol : float
        The largest budget residual accepted.

    Returns
    -------
    done : ndarray of bool, shape (r,)
        Where the iteration converged (stalls: a kink of the piecewise-smooth system,
        a bound, or no root).
    profiles : ndarray, shape (r, n, m)
        The canonical split at the root (meaningless where not ``done``).

    Notes
    -----
    The unknowns are the log-weights of every active defender but the first (the split
    depends only on weight ratios) and the level, which takes :math:`\\lambda_0`'s
    place in the state. The structure is recomputed at every level, so the system is
    piecewise smooth. Deterministic.
    """
    game = games.game
    reward = game.attacker_reward
    floor = float(game.attacker_penalty.max())
    # strictly above the floor, where every demand is below 1 (floor NSEs are solved
    # at the floor level itself)
    low = max(pooled, floor + FLOOR_NUDGE * (1.0 + abs(floor)))
    high = reward[tau]
    k = game.resources[games.active].astype(np.float64)
    u = low + start * (high - low)
    width = np.maximum((reward[None, :] > u[:, None]).sum(axis=1), 1)
    state = (k - k[0])[None, :] / width[:, None]
    if weights is not None:
        state[:, 1:] = starts(weights, k.size - 1)
    state[:, 0] = u

    log_weight = np.ones(k.size)
    log_weight[0] = 0.0  # the state's column 0 is the level; lambda_0 is fixed at 0
    lower = np.full(state.shape, -LOG_WEIGHT_BOUND)
    upper = np.full(state.shape, LOG_WEIGHT_BOUND)
    lower[:, 0], upper[:, 0] = low, high

    def evaluate(at: Rows, x: FloatArray) -> Evaluation:
        sp = split_spending(games, rows[at], tau[at], x[:, 0], x * log_weight)
        residual, jacobian = sp.spend - k, sp.jacobian
        if game.restricted:
            # jurisdictions: who may spare spends at most her budget (docs/jurisdictions.md)
            slack = may_spare(games, rows[at], tau[at], x[:, 0])[:, games.active] & (residual < 0)
            residual = np.where(slack, 0.0, residual)
            jacobian = np.where(slack[:, :, None], 0.0, jacobian)
        if not orphans:
            return sp.feasible, residual, jacobian, sp.coverage
        slope = np.zeros((x.shape[0], 1, k.size))
        slope[:, 0, 0] = sp.uncovered_slope
        residual = np.concatenate((residual, sp.uncovered[:, None]), axis=1)
        jacobian = np.concatenate((jacobian, slope), axis=1)
        return np.ones(x.shape[0], dtype=bool), residual, jacobian, sp.coverage

    def clip(at: Rows, x: FloatArray) -> FloatArray:
        return np.minimum(np.maximum(x, lower[at]), upper[at])

    running = (high > low) & (k.size >= 2)
    step = gauss_newton_step if orphans else newton_step
    done, coverage = damped_newton(evaluate, state, running, step, clip, max_iter, tol)
    return done, _profiles(games, done, coverage)


def fixed_level(
    games: Games,
    rows: np.ndarray,
    tau: np.ndarray,
    u: float,
    *,
    floor: bool,
    start: str = "flat",
    owner: int | None = None,
    max_iter: int = 8,
    tol: float = NEWTON_TOL,
) -> tuple[np.ndarray, FloatArray]:
    """NSE candidates at the fixed level ``u``: Gauss-Newton on the weights, game
    ``rows[j]`` attacking ``tau[j]``, from the log-weights ``start`` (:func:`starts`).

    At the floor (``floor=True``) rule B lets some defenders keep spare resources (a
    one-sided residual) and a target demanding full coverage goes whole to the active
    defender ``owner`` (where allowed) or its heaviest allowed defender; elsewhere
    every defender spends exactly her budget (unless jurisdictions let her spare,
    :func:`~sim.nse.split.may_spare`).
    Returns (done, profiles) as :func:`newton`.
    """
    game = games.game
    active = games.active
    k = game.resources[active].astype(np.float64)
    size = rows.size
    level = np.full(size, float(u))
    spare = (
        may_spare(games, rows, tau, u)[:, active]
        if floor or game.restricted
        else np.zeros((size, k.size), dtype=bool)
    )

    structure: list[tuple[FloatArray, np.ndarray]] = []  # at the level: computed once

    def evaluate(at: Rows, theta: FloatArray) -> Evaluation:
        if not structure:
            demand = need(game.attacker_reward, game.attacker_gap, level[:, None])
            structure.append((demand, allowed_sets(games, rows, tau, demand)))
        demand, allowed = structure[0]
        log_mu = np.concatenate((np.zeros((theta.shape[0], 1)), theta), axis=1)
        owners = None if owner is None else np.full(theta.shape[0], owner)
        known = demand[at], allowed[at]
        sp = split_spending(games, rows[at], tau[at], level[at], log_mu, owners, known)
        residual = sp.spend - k
        slack = spare[at] & (residual < 0.0)
        jacobian = np.where(slack[:, :, None], 0.0, sp.jacobian[:, :, 1:])
        return sp.feasible, np.where(slack, 0.0, residual), jacobian, sp.coverage

    def clip(at: Rows, x: FloatArray) -> FloatArray:
        return np.minimum(np.maximum(x, -LOG_WEIGHT_BOUND), LOG_WEIGHT_BOUND)

    running = game.attacker_reward[tau] >= u
    theta = np.repeat(starts(start, k.size - 1)[None], size, axis=0)
    if k.size == 1:  # nothing to solve for: the split is fixed
        feasible, residual, _, split = evaluate(np.arange(size), theta)
        done = running & feasible & (np.abs(residual).max(axis=1) <= RESIDUAL_TOL)
        return done, _profiles(games, done, split)
    done, coverage = damped_newton(evaluate, theta, running, gauss_newton_step, clip, max_iter, tol)
    return done, _profiles(games, done, coverage)


def starts(pattern: str, size: int) -> FloatArray:
    """Log-weights to start a solve from: ``flat`` (all equal), ``rising`` or
    ``falling`` (in the defenders' order, from -1 to 1 or back). At the floor the
    heaviest allowed defender takes each fully demanded target, so the start decides
    who owns them."""
    if pattern == "rising":
        return np.linspace(-1.0, 1.0, size)
    if pattern == "falling":
        return np.linspace(1.0, -1.0, size)
    return np.zeros(size)


def clean(profiles: FloatArray, resources: np.ndarray) -> FloatArray:
    """Clip rounding noise so each row of each profile (shape (..., n, m)) is coverage
    within its budget."""
    x = np.minimum(np.maximum(profiles, 0.0), 1.0)
    spent = x.sum(axis=-1)
    over = spent > resources
    if over.any():
        x = np.where(over[..., None], x * (resources / np.where(over, spent, 1.0))[..., None], x)
    return x


@dataclass(frozen=True, eq=False)
class ReportNSEs:
    """Verified NSEs of a batch of games (rows with ``ok`` False: unresolved).

    Attributes
    ----------
    ok : ndarray of bool, shape (b,)
    attacked_target : ndarray of int, shape (b,)
    coverage : ndarray, shape (b, m)
        The combined coverage (eq. 2).
    defender_utility : ndarray, shape (b, n)
        Under each game's own payoffs, as :attr:`NSEResult.defender_utility`.
    attempts : ndarray of int, shape (b,)
        Proposals tried (game, candidate target, stage): up to the verified one, or
        all of them where none verified.
    stage : ndarray of int, shape (b,)
        The column of the stage table (:func:`quick_stages`) whose proposal verified
        (-1: none, or an NSE the finder's closed forms gave).
    kept : dict or None
        On request, each resolved row's verified profile (each defender's own
        coverage, shape (n, m)) and the oracle's arrays for it (a
        :class:`~sim.solvers.deviation.ProfileGains` of one profile: its certificate).
    """

    ok: np.ndarray
    attacked_target: np.ndarray
    coverage: FloatArray
    defender_utility: FloatArray
    attempts: np.ndarray
    stage: np.ndarray
    kept: dict[int, tuple[FloatArray, ProfileGains]] | None = None

    @classmethod
    def empty(cls, size: int, n: int, m: int, *, keep: bool = False) -> ReportNSEs:
        """Nothing resolved yet; ``keep``: keep the profiles and the oracle's arrays."""
        return cls(
            np.zeros(size, dtype=bool),
            np.full(size, -1),
            np.zeros((size, m)),
            np.full((size, n), np.nan),
            np.zeros(size, dtype=np.int64),
            np.full(size, -1),
            {} if keep else None,
        )


def verify(
    games: Games,
    rows: np.ndarray,
    profiles: FloatArray,
    tau: np.ndarray,
    result: ReportNSEs,
) -> np.ndarray:
    """The exact oracle on each cleaned candidate (game ``rows[j]``, profile
    ``profiles[j]`` attacking ``tau[j]``); records in ``result`` each game's first
    verified candidate in this order and returns their positions ``j``."""
    gains = profile_gains(games.game, games.penalty[rows], games.gap[rows], profiles, tau)
    ok = gains.best & ((gains.value - gains.own).max(axis=1) <= GAIN_TOL)
    hits = ok.nonzero()[0]
    if games.size == 1:  # every candidate is of the one game
        pick = hits[:1]
    else:
        pick = hits[np.unique(rows[hits], return_index=True)[1]]
    at = rows[pick]
    result.ok[at] = True
    result.attacked_target[at] = tau[pick]
    result.coverage[at] = gains.coverage[pick]
    result.defender_utility[at] = gains.own[pick]
    if result.kept is not None:
        for j, row in zip(pick.tolist(), at.tolist(), strict=True):
            result.kept[row] = (profiles[j], gains.row(j))
    return pick


@dataclass(frozen=True, order=True)
class Stage:
    """One of the finder's quick proposals (``docs/nse.md`` §2.2): which solve, from
    where.

    Attributes
    ----------
    solver : {"exact", "floor", "newton"}
        The exact split at the floor (:func:`~sim.nse.exact.floor_exact`), the
        Gauss-Newton pass at the floor level (:func:`fixed_level`) or Newton on the
        canonical split with the level free (:func:`newton`).
    start : str
        Where the floor pass starts (log-weights ``"flat"``, ``"rising"`` or
        ``"falling"``, :func:`starts`) or Newton (level ``"pooled"``, or ``"low"``:
        :data:`LOW_START`); empty for the exact split.
    owner : int
        The active defender given the fully demanded targets at the floor (-1: the
        heaviest allowed one).
    """

    solver: Literal["exact", "floor", "newton"]
    start: str = ""
    owner: int = -1

    @property
    def phase(self) -> str:
        """What :class:`~sim.nse.NSEResult` calls an NSE this stage found."""
        return "interior" if self.solver == "newton" else "floor"

    @property
    def primary(self) -> bool:
        """Whether it leads (:func:`tiers`): the floor pass from equal log-weights
        (:data:`FLOOR`), Newton from its usual start (:data:`NEWTON`), or an exact
        split."""
        return self.solver == "exact" or (self.owner < 0 and self.start in ("flat", "pooled"))

    def __str__(self) -> str:
        detail = f"owner{self.owner}" if self.owner >= 0 else self.start
        return self.solver if detail in ("", "flat", "pooled") else f"{self.solver}:{detail}"


#: The floor pass from equal log-weights, Newton from its usual start and from a level
#: just above the pooled one (:data:`LOW_START`).
FLOOR, NEWTON, NEWTON_LOW = (
    Stage("floor", "flat"),
    Stage("newton", "pooled"),
    Stage("newton", "low"),
)

#: The quick stages of a floor game (pooled level = the floor): the floor pass from
#: equal log-weights, Newton, the floor pass from rising and from falling log-weights
#: (:func:`starts`: they hand the fully demanded targets to other owners), and Newton
#: from a level just above the pooled one (:data:`LOW_START`). The reports of a
#: misreport search are often floor games.
FLOOR_STAGES = (FLOOR, NEWTON, Stage("floor", "rising"), Stage("floor", "falling"), NEWTON_LOW)

#: In a floor game, the exact split at the floor (``Stage("exact", owner=i)``,
#: :func:`~sim.nse.exact.floor_exact`, see :func:`quick_stages`) and the floor
#: pass (``Stage("floor", "flat", i)``, after the others) with the fully demanded targets given to
#: each of the (at most) this many active defenders with the most resources in turn
#: (``i`` among the active defenders): the heaviest allowed defender takes them
#: otherwise, and the NSE may need their owner to be light elsewhere (every defender
#: covering a target of her own at the floor, for one, which only the exact split
#: reaches).
OWNER_STAGES = 3

#: The quick stage of any other game: Newton. The finder's next step there is Newton
#: from a low level (:data:`NEWTON_LOW`), which the batch of reports leaves out (it
#: resolves few reports at a large share of the time: ``docs/nse.md`` §2.3).
#: Gauss-Newton at the pooled level (a waste-free NSE) and Newton across orphan
#: targets are the finder's later passes (``docs/nse.md`` §2.2).
INTERIOR_STAGES = (NEWTON,)

#: The starting level of the :data:`NEWTON_LOW` stage, as a fraction of the interval
#: :func:`newton` searches: near the pooled level, where interior NSEs of floor games
#: sit when Newton's usual start misses them.
LOW_START = 0.02


def quick_stages(games: Games, rows: np.ndarray, first: np.ndarray, pooled: float) -> np.ndarray:
    """The finder's quick proposals, in its order, for game ``rows[j]`` whose most
    promising target is ``first[j]``: shape (r, stages).

    In a floor game the floor pass comes first, then the exact floor splits, then
    Newton, where the canonical split at the floor with equal log-weights spends no
    more than the defenders hold together at ``first[j]``. Where it spends more (or
    leaves demand nobody may cover), maximum waste does not fit the budgets: Newton
    comes first (the attacker is then usually kept above the floor), then the exact
    splits (less waste), then the floor pass (the evidence for this order:
    ``docs/nse.md`` §2.3).
    """
    game = games.game
    floor = float(game.attacker_penalty.max())
    if pooled > floor + BR_TOL:
        return _stage_table([INTERIOR_STAGES] * rows.size)
    k = game.resources[games.active].astype(np.float64)
    floor_first = waste_fits(games, rows, first, floor, k.sum())
    owners = [int(i) for i in np.argsort(-k, kind="stable")[:OWNER_STAGES]]
    exact = tuple(Stage("exact", owner=i) for i in owners)
    rest = (*FLOOR_STAGES[2:], *(Stage("floor", "flat", i) for i in owners))
    return _stage_table(
        [
            (FLOOR, *exact, NEWTON, *rest) if first_ else (NEWTON, *exact, FLOOR, *rest)
            for first_ in floor_first
        ]
    )


def _stage_table(rows: list[tuple[Stage, ...]]) -> np.ndarray:
    """Rows of stages as an object array, shape (r, stages)."""
    table = np.empty((len(rows), len(rows[0]) if rows else 0), dtype=object)
    for j, row in enumerate(rows):
        table[j] = row
    return table


def waste_fits(
    games: Games, rows: np.ndarray, tau: np.ndarray, u: float, total: float
) -> np.ndarray:
    """Whether the canonical split of game ``rows[j]`` attacking ``tau[j]`` at level
    ``u`` with equal log-weights leaves no demand uncovered and spends at most
    ``total`` (maximum waste fits the pooled budget): shape (r,).

    With equal weights every allowed defender is a member, so a partial target's
    :math:`|J_t|` members spend :math:`|J_t|(1 - (1 - d_t)^{1/|J_t|})` together and a
    fully demanded one 1 (its owner): no water-filling is needed.
    """
    game = games.game
    demand = need(game.attacker_reward, game.attacker_gap, u)
    demands = np.repeat(demand[None], rows.size, axis=0)
    count = allowed_sets(games, rows, tau, demands).sum(axis=1)
    full = demand >= 1.0
    shared = count * equal_share(count, np.log1p(-np.where(full, 0.0, demand)))
    spend = np.where(full & (count > 0), 1.0, shared).sum(axis=1)
    covered = ~((demand > 0.0) & (count == 0)).any(axis=1)
    return covered & (spend <= total + RESIDUAL_TOL)


def tiers(stages: np.ndarray) -> tuple[slice, ...]:
    """The tiers of :func:`quick_stages`: each runs on every block of candidates
    before the next runs on any. First the game's leading stages (Newton; in a floor
    game the floor pass or Newton, whichever comes first, with the exact floor
    splits), then the other of floor pass and Newton, then the rarer stages: a game
    whose most promising target is wrong tries its next targets with the stages that
    resolve most games before it tries the costlier ones on the first
    (``docs/nse.md`` §2.3)."""
    primary = sum(stage.primary for stage in stages[0])
    lead = max(primary - 1, 1)
    return slice(0, lead), slice(lead, primary), slice(primary, stages.shape[1])


def stage_schedule(stages: np.ndarray, count: int, alone: int = 1) -> Iterator[tuple[int, slice]]:
    """The order of the quick proposals, shared by the finder and the batch of reports:
    (stage column of ``stages``, block of the ``count`` candidates), per tier
    (:func:`tiers`) every block (:func:`candidate_blocks`, the first ``alone`` singly),
    within a block every stage of the tier."""
    for tier, block in itertools.product(tiers(stages), candidate_blocks(count, alone)):
        for slot in range(tier.start, tier.stop):
            yield slot, block


def propose(
    games: Games, rows: np.ndarray, tau: np.ndarray, stage: Stage, pooled: float
) -> tuple[np.ndarray, FloatArray]:
    """One quick stage (see :data:`FLOOR_STAGES`, :data:`INTERIOR_STAGES`) for game
    ``rows[j]`` attacking ``tau[j]``: (done, cleaned profiles)."""
    game = games.game
    if stage.solver != "newton":  # solve only where the floor can hold every budget
        done = np.zeros(rows.size, dtype=bool)
        profiles = np.zeros((rows.size, game.n_defenders, game.n_targets))
        open_ = np.flatnonzero(floor_fits(games, rows, tau))
        if open_.size:
            done[open_], profiles[open_] = _propose(games, rows[open_], tau[open_], stage, pooled)
        return done, profiles
    return _propose(games, rows, tau, stage, pooled)


def floor_fits(games: Games, rows: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """:func:`floor_verdicts`, asked once per game and target of a batch (every floor
    stage asks about the same pairs; ``Games.floor_verdicts`` keeps the answers)."""
    known = games.floor_verdicts
    new = known[rows, tau] < 0
    if new.any():
        known[rows[new], tau[new]] = floor_verdicts(games, rows[new], tau[new])
    return np.asarray(known[rows, tau] == 1)


def floor_verdicts(games: Games, rows: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Whether game ``rows[j]`` attacking ``tau[j]`` can have an NSE at the floor level,
    by necessary conditions: every demanded target has an allowed defender, and the
    budgets fit the demand (:func:`~sim.nse.exact.budgets_fit`: Hall's condition,
    and room for the budgets of those rule B does not let spare). Where they fail, no
    split at the floor (canonical or exact) spends the budgets, so the floor stages
    skip the row: their results are unchanged."""
    game = games.game
    u = float(game.attacker_penalty.max())
    demand = need(game.attacker_reward, game.attacker_gap, u)
    demands = np.repeat(demand[None], rows.size, axis=0)
    active = games.active
    allowed = allowed_sets(games, rows, tau, demands)[:, active]
    budget = np.repeat(game.resources[None, active].astype(np.float64), rows.size, axis=0)
    spare = may_spare(games, rows, tau, u)[:, active]
    fits = budgets_fit(allowed, demands, budget, spare)
    orphan = ((demand > 0.0) & ~allowed.any(axis=1)).any(axis=1)
    return fits & ~orphan


def _propose(
    games: Games, rows: np.ndarray, tau: np.ndarray, stage: Stage, pooled: float
) -> tuple[np.ndarray, FloatArray]:
    """:func:`propose` without the floor's precondition."""
    game = games.game
    if stage.solver == "exact":
        done, profiles = floor_exact(games, rows, tau, stage.owner)
    elif stage.solver == "floor":
        floor = float(game.attacker_penalty.max())
        owner = stage.owner if stage.owner >= 0 else None
        done, profiles = fixed_level(
            games, rows, tau, floor, floor=True, start=stage.start, owner=owner
        )
    elif stage == NEWTON_LOW:
        done, profiles = newton(games, rows, tau, pooled, start=LOW_START)
    else:
        done, profiles = newton(games, rows, tau, pooled)
    return done, clean(profiles, game.resources)


def quick_nse_batch(
    game: SecurityGame, defender: int, rewards: FloatArray, penalties: FloatArray
) -> ReportNSEs:
    """The verified NSE of ``game.with_reports(defender, rewards[b], penalties[b])``
    for every row ``b`` that the finder's quick proposals (:func:`quick_stages`, over
    the candidates in the finder's order) resolve: exactly the rows that
    ``find_nse(..., quick=True)`` resolves, each with its NSE."""
    rewards = np.atleast_2d(np.asarray(rewards, dtype=np.float64))
    penalties = np.atleast_2d(np.asarray(penalties, dtype=np.float64))
    size = rewards.shape[0]
    result = ReportNSEs.empty(size, game.n_defenders, game.n_targets)
    # the single-defender and idle games start differently: left to the caller
    if size == 0 or np.count_nonzero(game.resources) < 2:
        return result
    # in standard units, each reported game by its own (as find_nse maps each game)
    origin, scale = PayoffUnits.of(rewards, penalties)
    standard = game.standard
    games = Games.reports(
        standard,
        defender,
        (rewards - origin[:, None]) / scale[:, None],
        (penalties - origin[:, None]) / scale[:, None],
    )
    pooled = origami_level(
        standard.attacker_reward, standard.attacker_gap, float(game.total_resources)
    )
    orders = candidate_orders(games, pooled)
    stages = quick_stages(games, np.arange(size), orders[:, 0], pooled)
    resolve(games, orders, stages, pooled, result)
    return _in_units(result, game, defender, origin, scale)


def resolve(
    games: Games,
    orders: np.ndarray,
    stages: np.ndarray,
    pooled: float,
    result: ReportNSEs,
    alone: int = 1,
    order: CandidateOrder | None = None,
) -> None:
    """Fill ``result`` in the finder's order of quick proposals (:func:`stage_schedule`
    over the candidates ``orders[b]`` of game b, the first ``alone`` singly): the one
    driver of :func:`~sim.nse.find_nse` (a batch of one) and :func:`quick_nse_batch`.

    A batch of one may pass ``order`` instead of its whole order (``orders`` then holds
    its leading candidate): the rest is scored when the schedule first reaches it."""
    piece = max(1, PAIR_CELLS // (games.penalty.shape[1] * games.penalty.shape[2]))
    count = orders.shape[1] if order is None else order.count
    for slot, block in stage_schedule(stages, count, alone):
        rows = (~result.ok).nonzero()[0]
        if rows.size == 0:
            return
        if order is not None and block.stop > orders.shape[1]:
            orders = order.all()[None]
        # every unresolved row with every candidate of the block, in one solve per
        # stage and one oracle call; a row takes the first candidate (in order) that
        # verifies, and counts the block's candidates up to it
        result.attempts[rows] += block.stop - block.start
        ranks = np.arange(block.start, block.stop)
        pairs, rank = rows[None].repeat(ranks.size, axis=0).ravel(), ranks.repeat(rows.size)
        kinds = dict.fromkeys(stages[rows, slot].tolist())  # each row has one
        for stage in kinds:
            mine = (
                np.arange(pairs.size)
                if len(kinds) == 1
                else (stages[pairs, slot] == stage).nonzero()[0]
            )
            # in pieces of bounded memory, in rank order: a row a piece resolves skips
            # its later candidates, as it would within one solve
            for start in range(0, mine.size, piece):
                part = mine[start : start + piece]
                if start:  # only an earlier piece can have resolved a row
                    part = part[~result.ok[pairs[part]]]
                game_rows = pairs[part]
                tau = orders[game_rows, rank[part]]
                done, profiles = propose(games, game_rows, tau, stage, pooled)
                at = done.nonzero()[0]  # in rank order
                if at.size == 0:
                    continue
                found = at[verify(games, game_rows[at], profiles[at], tau[at], result)]
                result.attempts[game_rows[found]] -= block.stop - 1 - rank[part][found]
                result.stage[game_rows[found]] = slot


def _in_units(
    found: ReportNSEs, game: SecurityGame, defender: int, origin: FloatArray, scale: FloatArray
) -> ReportNSEs:
    """``found`` (of the standard reported games) with utilities in the game's units,
    ``defender``'s in those of her report (``origin``, ``scale`` per row)."""
    utility = game.units.defender_utility(found.defender_utility)
    utility[:, defender] = origin + scale * found.defender_utility[:, defender]
    return dataclasses.replace(found, defender_utility=utility)
