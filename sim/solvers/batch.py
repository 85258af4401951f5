r"""The quick NSE of many reported games at once (the inner loop of misreport searches).

A misreport search evaluates thousands of games that differ from the true one only in
one defender's reported row. For a mechanism built on the reported game's NSE
(CSW-Max step 1), each report needs its own NSE, and one :func:`~sim.solvers.find_nse`
costs about half a millisecond, almost all of it NumPy's per-call overhead on tiny
arrays. This module runs the finder's cheap proposals (the candidate order; the
Gauss-Newton floor pass and Newton on the canonical split, candidate by candidate;
the exact verifier) for a whole batch of reports in arrays with a leading report
axis, so the overhead is paid once per batch.

The arithmetic mirrors :func:`~sim.solvers.split.newton_interior`, the finder's first
fixed-level pass and :func:`~sim.solvers.nse_violation` step by step. A report the
batch does not resolve (every cheap proposal stalls or fails verification) is left to
``compute_nse(..., quick=True)`` by the caller. Batched rounding can differ from the
single-game path in the last bits, so callers use the batch to *screen* reports and
replay any report they certify through the mechanism itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.game import FloatArray, SecurityGame
from sim.numerics import BR_TOL, GAIN_TOL
from sim.solvers.deviation import _leave_one_out, best_deviations
from sim.solvers.nse import _ORDER_LEVEL
from sim.solvers.origami import origami_level
from sim.solvers.split import LOG_WEIGHT_BOUND, PREFERENCE_TOL, water_fill


@dataclass(frozen=True, eq=False)
class ReportNSEs:
    """Verified NSEs of a batch of reported games (rows with ``ok`` False: unresolved).

    Attributes
    ----------
    ok : ndarray of bool, shape (b,)
    attacked_target : ndarray of int, shape (b,)
    coverage : ndarray, shape (b, m)
        The combined coverage (eq. 2).
    defender_utility : ndarray, shape (b, n)
        Under the reported game, as :attr:`NSEResult.defender_utility`.
    """

    ok: np.ndarray
    attacked_target: np.ndarray
    coverage: FloatArray
    defender_utility: FloatArray


def quick_nse_batch(
    game: SecurityGame,
    defender: int,
    rewards: FloatArray,
    penalties: FloatArray,
    *,
    tol: float = 1e-12,
) -> ReportNSEs:
    """The verified NSE of ``game.with_reports(defender, rewards[b], penalties[b])``
    for every row ``b`` that the finder's quick proposals short of least squares
    resolve (in a floor game the floor pass over the candidates, then Newton over the
    candidates; in any other game Newton over the candidates), in the finder's order,
    so a resolved row has the finder's own NSE."""
    rewards = np.atleast_2d(np.asarray(rewards, dtype=np.float64))
    penalties = np.atleast_2d(np.asarray(penalties, dtype=np.float64))
    size, n, m = rewards.shape[0], game.n_defenders, game.n_targets
    result = ReportNSEs(
        np.zeros(size, dtype=bool),
        np.full(size, -1),
        np.zeros((size, m)),
        np.full((size, n), np.nan),
    )
    active = game.resources > 0
    idx = np.flatnonzero(active)
    reward, gap, penalty = game.attacker_reward, game.attacker_gap, game.attacker_penalty
    pooled = origami_level(reward, gap, float(game.total_resources))
    floor = float(penalty.max())
    # the single-defender and idle games start differently: left to the caller
    if size == 0 or idx.size < 2:
        return result
    d_pen = np.repeat(game.defender_penalty[None], size, axis=0)
    d_gap = np.repeat(game.defender_gap[None], size, axis=0)
    d_pen[:, defender] = penalties
    d_gap[:, defender] = rewards - penalties
    k = game.resources[idx].astype(np.float64)
    d_rew = np.repeat(game.defender_reward[None], size, axis=0)
    d_rew[:, defender] = rewards
    orders = _candidate_orders(game, d_pen, d_gap, active, pooled)
    # the finder's quick proposals in its order: (the floor pass over the candidates in
    # a floor game), then Newton over the candidates; the least-squares pass is left
    stages = ("floor", "newton") if pooled <= floor + BR_TOL else ("newton",)
    for stage in stages:
        for rank in range(orders.shape[1]):
            rows = np.flatnonzero(~result.ok)
            if rows.size == 0:
                return result
            tau = orders[rows, rank]
            if stage == "floor":
                _floor_pass(game, d_pen, d_gap, d_rew, rows, tau, active, k, result, tol=tol)
            else:
                _newton_pass(game, d_pen, d_gap, rows, tau, active, k, pooled, result, tol=tol)
    return result


def _newton_pass(
    game: SecurityGame,
    d_pen: FloatArray,
    d_gap: FloatArray,
    reports: np.ndarray,
    tau: np.ndarray,
    active: np.ndarray,
    k: FloatArray,
    pooled: float,
    result: ReportNSEs,
    *,
    max_iter: int = 10,
    tol: float,
) -> None:
    """:func:`~sim.solvers.split.newton_interior` attacking ``tau[j]`` in report
    ``reports[j]``, all at once; verified NSEs go into ``result``."""
    idx = np.flatnonzero(active)
    reward, gap, penalty = game.attacker_reward, game.attacker_gap, game.attacker_penalty
    floor = float(penalty.max())
    d_pen, d_gap = d_pen[reports], d_gap[reports]

    def spending(rows: np.ndarray, log_mu: FloatArray, u: FloatArray):
        demand = np.clip((reward - u[:, None]) / gap, 0.0, 1.0)
        live = demand > 0.0
        value = d_pen[rows] + demand[:, None, :] * d_gap[rows]
        own = value[np.arange(rows.size), :, tau[rows]]
        allowed = (value <= own[:, :, None] + PREFERENCE_TOL) & live[:, None, :]
        allowed &= active[None, :, None]
        feasible = ~(live & ~allowed.any(axis=1)).any(axis=1)
        log_rest = np.log((u[:, None] - penalty) / gap) * live
        rest, inside, inverse = water_fill(log_mu, log_rest, allowed[:, idx])
        coverage = inside - rest
        weighted = rest * inverse[:, None, :]
        jacobian = -(weighted @ np.swapaxes(inside, 1, 2))
        diagonal = np.arange(idx.size)
        jacobian[:, diagonal, diagonal] += rest.sum(axis=2)
        jacobian[:, :, 0] = -(weighted / (u[:, None] - penalty)[:, None, :]).sum(axis=2)
        return feasible, coverage.sum(axis=2) - k, jacobian, coverage

    low = max(pooled, floor + 1e-12 * (1.0 + abs(floor)))
    high = reward[tau]
    u = low + 0.1 * (high - low)
    width = np.maximum((reward[None, :] > u[:, None]).sum(axis=1), 1)
    # the state: the level in column 0 (lambda_0 is fixed at 0), the weights after it
    state = (k - k[0])[None, :] / width[:, None]
    state[:, 0] = u

    def evaluate(rows: np.ndarray, x: FloatArray):
        log_mu = np.concatenate((np.zeros((rows.size, 1)), x[:, 1:]), axis=1)
        return spending(rows, log_mu, x[:, 0])

    def clip(rows: np.ndarray, x: FloatArray) -> FloatArray:
        level = np.minimum(np.maximum(x[:, 0], low), high[rows])
        x = np.clip(x, -LOG_WEIGHT_BOUND, LOG_WEIGHT_BOUND)
        x[:, 0] = level
        return x

    done, coverage = _damped(evaluate, state, high > low, _solve, clip, max_iter, tol)
    _record(game, d_pen, d_gap, idx, coverage, done, tau, reports, result)


def _damped(
    evaluate: Callable[
        [np.ndarray, FloatArray], tuple[np.ndarray, FloatArray, FloatArray, FloatArray]
    ],
    x: FloatArray,
    running: np.ndarray,
    solve: Callable[[FloatArray, FloatArray], FloatArray],
    clip: Callable[[np.ndarray, FloatArray], FloatArray],
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, FloatArray]:
    """Damped (Gauss-)Newton on a batch, row by row as the single-game solvers do.

    ``evaluate(rows, x)`` gives (feasible, residual, Jacobian, coverage) per row;
    ``solve`` the step from (Jacobian, residual); ``clip`` puts trial points in bounds.
    Each row checks its residual, steps, and halves its step until the residual norm
    falls (a row that needs a step below 0.1 of the full one, or is infeasible, stops).
    Returns which rows converged within ``max_iter`` steps, and the coverage.
    """
    running = running.copy()
    rows = np.flatnonzero(running)
    if rows.size == 0:
        return running, np.zeros(0)
    feasible, first_residual, first_jacobian, first_coverage = evaluate(rows, x[rows])
    residual = np.zeros((x.shape[0], *first_residual.shape[1:]))
    jacobian = np.zeros((x.shape[0], *first_jacobian.shape[1:]))
    coverage = np.zeros((x.shape[0], *first_coverage.shape[1:]))
    residual[rows], jacobian[rows], coverage[rows] = first_residual, first_jacobian, first_coverage
    running[rows[~feasible]] = False
    done = np.zeros(x.shape[0], dtype=bool)
    for _ in range(max_iter):
        converged = running & (np.abs(residual).max(axis=1) <= tol)
        done |= converged
        running &= ~converged
        rows = np.flatnonzero(running)
        if rows.size == 0:
            break
        step = solve(jacobian[rows], residual[rows])
        norm = (residual[rows] ** 2).sum(axis=1)
        scale = np.ones(rows.size)
        pending = np.arange(rows.size)
        while pending.size:
            at = rows[pending]
            trial = clip(at, x[at] - scale[pending, None] * step[pending])
            ok, res, jac, cov = evaluate(at, trial)
            better = ok & ((res**2).sum(axis=1) < (1.0 - 1e-4 * scale[pending]) * norm[pending])
            take = at[better]
            x[take], residual[take] = trial[better], res[better]
            jacobian[take], coverage[take] = jac[better], cov[better]
            scale[pending[~better]] *= 0.5
            stalled = pending[~better][scale[pending[~better]] < 0.1]
            running[rows[stalled]] = False
            pending = pending[~better & (scale[pending] >= 0.1)]
    return done, coverage


def _record(
    game: SecurityGame,
    d_pen: FloatArray,
    d_gap: FloatArray,
    idx: np.ndarray,
    coverage: FloatArray,
    done: np.ndarray,
    tau: np.ndarray,
    reports: np.ndarray,
    result: ReportNSEs,
) -> None:
    """Verify the converged rows and record the verified ones."""
    rows = np.flatnonzero(done)
    if rows.size:
        profile = np.zeros((rows.size, game.n_defenders, game.n_targets))
        profile[:, idx] = coverage[rows]
        _verify_batch(game, d_pen[rows], d_gap[rows], profile, tau[rows], reports[rows], result)


def _floor_pass(
    game: SecurityGame,
    d_pen: FloatArray,
    d_gap: FloatArray,
    d_rew: FloatArray,
    reports: np.ndarray,
    tau: np.ndarray,
    active: np.ndarray,
    k: FloatArray,
    result: ReportNSEs,
    *,
    max_iter: int = 15,
    tol: float,
) -> None:
    """The finder's floor pass attacking ``tau[j]`` in report ``reports[j]``, batched:
    Gauss-Newton on the weights at the floor level (``nse._solve_at_level`` with
    ``split.damped_newton``), rule B's one-sided residuals and full targets to their
    heaviest allowed defender; verified NSEs go into ``result``."""
    size = tau.size
    idx = np.flatnonzero(active)
    d_pen, d_gap, d_rew = d_pen[reports], d_gap[reports], d_rew[reports]
    reward, gap, penalty = game.attacker_reward, game.attacker_gap, game.attacker_penalty
    u = float(penalty.max())
    demand = np.clip((reward - u) / gap, 0.0, 1.0)
    full = demand >= 1.0
    partial = (demand > 0.0) & ~full
    at = np.arange(size)
    value = d_pen + demand * d_gap
    allowed = (value <= value[at, :, tau][:, :, None] + PREFERENCE_TOL) & (demand > 0.0)
    allowed &= active[None, :, None]
    feasible = ~((demand > 0.0) & ~allowed.any(axis=1)).any(axis=1) & (reward[tau] >= u)
    # rule B (nse._may_spare) for every report
    pinned = penalty >= u
    v_tau = d_pen[at, :, tau] + demand[tau][:, None] * d_gap[at, :, tau]
    min_pinned = np.where(pinned, d_rew, np.inf).min(axis=2)
    spare = (pinned[tau][:, None] | (min_pinned <= v_tau + 1e-12))[:, idx]
    above = np.where(full, 1.0, u - penalty)
    log_rest = np.log(above / gap) * partial
    member = allowed[:, idx]
    fill = member & partial

    def evaluate(rows: np.ndarray, theta: FloatArray):
        log_mu = np.concatenate((np.zeros((rows.size, 1)), theta), axis=1)
        rest, inside, inverse = water_fill(
            log_mu, np.broadcast_to(log_rest, (rows.size, log_rest.size)), fill[rows]
        )
        coverage = inside - rest
        for t in np.flatnonzero(full):
            owners = member[rows, :, t]
            heaviest = np.argmax(np.where(owners, log_mu, -np.inf), axis=1)
            some = np.flatnonzero(owners.any(axis=1))
            coverage[some, heaviest[some], t] = 1.0
        weighted = rest * inverse[:, None, :]
        jacobian = -(weighted @ np.swapaxes(inside, 1, 2))
        diagonal = np.arange(idx.size)
        jacobian[:, diagonal, diagonal] += rest.sum(axis=2)
        r = coverage.sum(axis=2) - k
        slack = spare[rows] & (r < 0.0)
        jacobian = np.where(slack[:, :, None], 0.0, jacobian[:, :, 1:])
        return np.ones(rows.size, dtype=bool), np.where(slack, 0.0, r), jacobian, coverage

    def clip(rows: np.ndarray, x: FloatArray) -> FloatArray:
        return np.clip(x, -LOG_WEIGHT_BOUND, LOG_WEIGHT_BOUND)

    def pseudo_inverse(jacobian: FloatArray, residual: FloatArray) -> FloatArray:
        return np.asarray((np.linalg.pinv(jacobian) @ residual[:, :, None])[:, :, 0])

    theta = np.zeros((size, idx.size - 1))
    done, coverage = _damped(evaluate, theta, feasible, pseudo_inverse, clip, max_iter, tol)
    _record(game, d_pen, d_gap, idx, coverage, done, tau, reports, result)


def _candidate_orders(
    game: SecurityGame, d_pen: FloatArray, d_gap: FloatArray, active: np.ndarray, pooled: float
) -> np.ndarray:
    """:func:`~sim.solvers.nse._candidate_order` for every report, shape (b, T)."""
    reward = game.attacker_reward
    taus = np.flatnonzero(reward >= pooled - BR_TOL)
    level = pooled + _ORDER_LEVEL * np.maximum(reward[taus] - pooled, 0.0)
    demand = np.clip((reward[None, :] - level[:, None]) / game.attacker_gap, 0.0, 1.0)
    value = d_pen[:, None] + demand[None, :, None, :] * d_gap[:, None]
    # value[b, j, :, taus[j]]: the advanced axes come first, so (T, b, n) -> (b, T, n)
    own = value[:, np.arange(taus.size), :, taus].transpose(1, 0, 2)[..., None]
    live = (demand > 0.0)[None, :, None, :] & active[None, None, :, None]
    allowed = live & (value <= own + PREFERENCE_TOL)
    uncovered = np.where(allowed.any(axis=2), 0.0, demand[None]).sum(axis=2)
    room = (allowed * demand[None, :, None, :]).sum(axis=3)
    shortfall = np.maximum(game.resources - room, 0.0).sum(axis=2)
    index = np.broadcast_to(taus, uncovered.shape)
    return taus[np.lexsort((index, shortfall, uncovered), axis=-1)]


def _solve(jacobian: FloatArray, residual: FloatArray) -> FloatArray:
    """Newton steps for a stack of systems (least squares for a singular one, as
    :func:`~sim.solvers.split.newton_interior` does)."""
    try:
        return np.asarray(np.linalg.solve(jacobian, residual[..., None])[..., 0])
    except np.linalg.LinAlgError:
        steps = []
        for j, r in zip(jacobian, residual, strict=True):
            try:
                steps.append(np.linalg.solve(j, r))
            except np.linalg.LinAlgError:
                steps.append(np.linalg.lstsq(j, r, rcond=None)[0])
        return np.array(steps)


def _verify_batch(
    game: SecurityGame,
    d_pen: FloatArray,
    d_gap: FloatArray,
    profile: FloatArray,
    tau: np.ndarray,
    rows: np.ndarray,
    result: ReportNSEs,
) -> None:
    """:func:`~sim.solvers.nse_violation` on each candidate (after the finder's clean-up);
    fills ``result`` where no defender gains more than the tolerance."""
    size, n, m = profile.shape
    x = np.clip(profile, 0.0, 1.0)
    spent = x.sum(axis=2)
    over = spent > game.resources
    x = np.where(over[:, :, None], x * (game.resources / np.where(over, spent, 1.0))[:, :, None], x)
    c = 1.0 - np.prod(1.0 - x, axis=1)
    attacker = game.attacker_reward - c * game.attacker_gap
    best = attacker[np.arange(size), tau] >= attacker.max(axis=1) - BR_TOL
    own = (
        d_pen[np.arange(size), :, tau]
        + c[np.arange(size), tau][:, None] * d_gap[np.arange(size), :, tau]
    )
    value, _, _, _ = best_deviations(
        game,
        _leave_one_out(x).reshape(size * n, m),
        np.tile(game.resources.astype(np.float64), size),
        d_pen.reshape(size * n, m),
        d_gap.reshape(size * n, m),
    )
    ok = best & ((value.reshape(size, n) - own).max(axis=1) <= GAIN_TOL)
    at = rows[ok]
    result.ok[at] = True
    result.attacked_target[at] = tau[ok]
    result.coverage[at] = c[ok]
    result.defender_utility[at] = own[ok]
