r"""The quick NSE of many reported games at once (the inner loop of misreport searches).

A misreport search evaluates thousands of games that differ from the true one only in
one defender's reported row. For a mechanism built on the reported game's NSE
(CSW-Max step 1), each report needs its own NSE, and one :func:`~sim.solvers.find_nse`
costs about half a millisecond, almost all of it NumPy's per-call overhead on tiny
arrays. This module runs the finder's first proposal (the candidate order, then Newton
on the canonical split, then the exact verifier) for a whole batch of reports in
arrays with a leading report axis, so the overhead is paid once per batch.

The arithmetic mirrors :func:`~sim.solvers.split.newton_interior` and
:func:`~sim.solvers.nse_violation` step by step. A report the batch does not resolve
(a floor game, a Newton stall, a first candidate that fails verification) is left to
``compute_nse(..., quick=True)`` by the caller. Batched rounding can differ from the
single-game path in the last bits, so callers use the batch to *screen* reports and
replay any report they certify through the mechanism itself.
"""

from __future__ import annotations

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
    max_iter: int = 10,
    tol: float = 1e-12,
) -> ReportNSEs:
    """The verified NSE of ``game.with_reports(defender, rewards[b], penalties[b])``
    for every row ``b`` that the first proposal of the finder resolves."""
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
    # the single-defender, idle and floor games start differently: left to the caller
    if size == 0 or idx.size < 2 or pooled <= floor + BR_TOL:
        return result
    d_pen = np.repeat(game.defender_penalty[None], size, axis=0)
    d_gap = np.repeat(game.defender_gap[None], size, axis=0)
    d_pen[:, defender] = penalties
    d_gap[:, defender] = rewards - penalties
    tau = _first_candidates(game, d_pen, d_gap, active, pooled)
    k = game.resources[idx].astype(np.float64)

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
        return feasible, coverage, coverage.sum(axis=2) - k, jacobian

    low = max(pooled, floor + 1e-12 * (1.0 + abs(floor)))
    high = reward[tau]
    u = low + 0.1 * (high - low)
    width = np.maximum((reward[None, :] > u[:, None]).sum(axis=1), 1)
    log_mu = (k - k[0])[None, :] / width[:, None]
    running = high > low
    rows = np.flatnonzero(running)
    feasible, coverage, residual, jacobian = (
        np.ones(size, dtype=bool),
        np.zeros((size, idx.size, m)),
        np.zeros((size, idx.size)),
        np.zeros((size, idx.size, idx.size)),
    )
    feasible[rows], coverage[rows], residual[rows], jacobian[rows] = spending(
        rows, log_mu[rows], u[rows]
    )
    running &= feasible
    done = np.zeros(size, dtype=bool)
    for _ in range(max_iter):
        converged = running & (np.abs(residual).max(axis=1) <= tol)
        done |= converged
        running &= ~converged
        rows = np.flatnonzero(running)
        if rows.size == 0:
            break
        step = _solve(jacobian[rows], residual[rows])
        norm = (residual[rows] ** 2).sum(axis=1)
        scale = np.ones(rows.size)
        pending = np.arange(rows.size)
        while pending.size:
            at = rows[pending]
            trial_mu = np.clip(
                log_mu[at] - scale[pending, None] * step[pending],
                -LOG_WEIGHT_BOUND,
                LOG_WEIGHT_BOUND,
            )
            trial_mu[:, 0] = 0.0
            trial_u = np.minimum(
                np.maximum(u[at] - scale[pending] * step[pending, 0], low), high[at]
            )
            ok, cov, res, jac = spending(at, trial_mu, trial_u)
            better = ok & ((res**2).sum(axis=1) < (1.0 - 1e-4 * scale[pending]) * norm[pending])
            take = at[better]
            log_mu[take], u[take] = trial_mu[better], trial_u[better]
            coverage[take], residual[take], jacobian[take] = cov[better], res[better], jac[better]
            scale[pending[~better]] *= 0.5
            stalled = pending[~better][scale[pending[~better]] < 0.1]
            running[rows[stalled]] = False
            pending = pending[~better & (scale[pending] >= 0.1)]
    rows = np.flatnonzero(done)
    if rows.size:
        profile = np.zeros((rows.size, n, m))
        profile[:, idx] = coverage[rows]
        _verify_batch(game, d_pen[rows], d_gap[rows], profile, tau[rows], rows, result)
    return result


def _first_candidates(
    game: SecurityGame, d_pen: FloatArray, d_gap: FloatArray, active: np.ndarray, pooled: float
) -> np.ndarray:
    """The first target of :func:`~sim.solvers.nse._candidate_order` for every report."""
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
    # lexicographic: least uncovered demand, then least shortfall, then lowest index
    first = uncovered == uncovered.min(axis=1, keepdims=True)
    short = np.where(first, shortfall, np.inf)
    first &= short == short.min(axis=1, keepdims=True)
    return taus[np.argmax(first, axis=1)]


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
