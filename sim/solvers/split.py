r"""The equilibrium structure at :math:`(\tau, u)` and the canonical split of its demand.

``notes/nse.md`` §1.3 and §2.1. In an NSE that attacks :math:`\tau` at attacker level
:math:`u`, every target with :math:`r^a(t) > u` is covered exactly
:math:`d_t(u) = (r^a(t) - u) / \Delta^a(t)`, and defender :math:`i` covers only targets
she likes no better than :math:`\tau` (condition A). The *canonical split* shares each
target's demand between the defenders allowed on it by weighted maximum waste: with
log-weights :math:`\lambda`, the top members :math:`J_t` of its allowed defenders get

.. math::

    c^i_t = 1 - e^{\rho_t - \lambda_i}, \qquad
    \rho_t = \frac{1}{|J_t|}\Big(\log\big(1 - d_t(u)\big) + \sum_{j \in J_t} \lambda_j\Big),

so that :math:`\prod_i (1 - c^i_t) = 1 - d_t(u)` (water-filling in closed form). An
interior NSE is a root of the spending equations :math:`s_i(\lambda, u) = k_i`; with
:math:`1 - d_t(u) = (u - p^a(t)) / \Delta^a(t)` their derivatives are closed form too,

.. math::

    \frac{\partial c^i_t}{\partial \lambda_k} = e^{\rho_t - \lambda_i}
        \Big(\delta_{ik} - \frac{[k \in J_t]}{|J_t|}\Big), \qquad
    \frac{\partial c^i_t}{\partial u} = -\frac{e^{\rho_t - \lambda_i}}
        {|J_t| \, (u - p^a(t))},

which :func:`newton_interior` uses for a damped Newton solve (no finite differences).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.game import FloatArray, SecurityGame

#: Log-weights are kept in [-bound, bound]: a weight e^30 times another already gives
#: the lighter defender no share of any target they meet on.
LOG_WEIGHT_BOUND = 30.0

#: Condition A's comparison of two defender utilities.
PREFERENCE_TOL = 1e-12


@dataclass(frozen=True)
class Structure:
    """The equilibrium structure at :math:`(\\tau, u)` (``notes/nse.md`` §2.1).

    Attributes
    ----------
    demand : ndarray, shape (m,)
        :math:`d_t(u)` on the attack set :math:`\\{t : r^a(t) > u\\} \\cup \\{\\tau\\}`,
        zero elsewhere.
    allowed : ndarray of bool, shape (n, m)
        Defenders with resources that may cover a demanded target (condition A).
    uncovered : float
        Demand on targets nobody is allowed to cover (positive: no NSE here).
    """

    demand: FloatArray
    allowed: np.ndarray
    uncovered: float


def structure(game: SecurityGame, tau: int, u: float, active: np.ndarray) -> Structure:
    """The demand and the allowed (defender, target) pairs at level ``u`` attacking ``tau``."""
    # a target with r^a(t) <= u (tau included) demands nothing, so only r^a(t) > u matter
    demand = np.clip((game.attacker_reward - u) / game.attacker_gap, 0.0, 1.0)
    live = demand > 0.0
    value = game.defender_penalty + demand * game.defender_gap
    allowed = (value <= value[:, tau, None] + PREFERENCE_TOL) & live & active[:, None]
    return Structure(demand, allowed, float(demand[live & ~allowed.any(axis=0)].sum()))


def water_fill(
    log_mu: FloatArray, log_rest: FloatArray, allowed: np.ndarray
) -> tuple[FloatArray, np.ndarray, FloatArray]:
    """The canonical split of demands below 1, with what its derivatives need.

    Parameters
    ----------
    log_mu : ndarray, shape (..., n)
        :math:`\\lambda`, the log-weights (leading axes: a batch of games).
    log_rest : ndarray, shape (..., m)
        :math:`\\log(1 - d_t)` (finite: every demand is below 1).
    allowed : ndarray of bool, shape (..., n, m)

    Returns
    -------
    rest : ndarray, shape (..., n, m)
        :math:`e^{\\rho_t - \\lambda_i} = 1 - c^i_t` on the members, 0 elsewhere.
    inside : ndarray of bool, shape (..., n, m)
        Membership :math:`i \\in J_t`.
    inverse_size : ndarray, shape (..., m)
        :math:`1 / |J_t|` (0 where nobody covers ``t``).

    Notes
    -----
    Sorted by weight, member ``j`` joins iff
    :math:`\\sum_{i < j} (\\lambda_i - \\lambda_j) < -\\log(1 - d_t)`, a prefix of the
    allowed defenders; the level :math:`\\rho_t` is then fixed by the prefix.
    """
    order = np.argsort(-log_mu, axis=-1, kind="stable")
    if log_mu.ndim == 1:  # one game: plain indexing is faster
        lm, a, back = log_mu[order][:, None], allowed[order], np.argsort(order)

        def unsort(x: np.ndarray) -> np.ndarray:
            return x[back]

    else:  # a batch of games along the leading axes
        lm = np.take_along_axis(log_mu, order, axis=-1)[..., None]
        a = np.take_along_axis(allowed, order[..., None], axis=-2)
        back = np.argsort(order, axis=-1)[..., None]

        def unsort(x: np.ndarray) -> np.ndarray:
            return np.take_along_axis(x, back, axis=-2)

    total = np.cumsum(a * lm, axis=-2)
    inside = a & (lm * np.cumsum(a, axis=-2) > log_rest[..., None, :] + total)
    size = inside.sum(axis=-2)
    level = (log_rest + (inside * lm).sum(axis=-2)) / np.maximum(size, 1)
    rest = inside * np.exp(np.minimum(level[..., None, :] - lm, 0.0))
    inverse = np.divide(1.0, size, out=np.zeros(size.shape), where=size > 0)
    return unsort(rest), unsort(inside), inverse


def canonical_split(log_mu: FloatArray, demand: FloatArray, allowed: np.ndarray) -> FloatArray:
    """The weighted maximum-waste split of each target's demand (``nse.md`` §2.1).

    Parameters
    ----------
    log_mu : ndarray, shape (n,)
        Log-weights; a larger weight takes a larger share.
    demand : ndarray, shape (m,)
        :math:`d_t` in [0, 1]; a demand of 1 goes whole to the heaviest allowed defender.
    allowed : ndarray of bool, shape (n, m)

    Returns
    -------
    ndarray, shape (n, m)
        :math:`c^i_t` with :math:`\\prod_i (1 - c^i_t) = 1 - d_t` wherever some defender is
        allowed on ``t``; zero elsewhere.
    """
    full = demand >= 1.0
    log_rest = np.log(np.clip(1.0 - demand, 1e-300, None))
    live = allowed & (demand > 0.0)[None, :] & ~full[None, :]
    rest, inside, _ = water_fill(log_mu, log_rest, live)
    share = np.where(inside, 1.0 - rest, 0.0)
    for t in np.flatnonzero(full & allowed.any(axis=0)):
        heaviest = np.flatnonzero(allowed[:, t])
        share[heaviest[np.argmax(log_mu[heaviest])], t] = 1.0
    return share


@dataclass(frozen=True)
class Spending:
    """The canonical split at :math:`(\\lambda, u)` and what each active defender spends.

    Attributes
    ----------
    coverage : ndarray, shape (a, m)
        :math:`c^i_t` of the active defenders.
    spend : ndarray, shape (a,)
        :math:`s_i = \\sum_t c^i_t`.
    jacobian : ndarray, shape (a, a)
        Column 0 is :math:`\\partial s / \\partial u`; column ``j > 0`` is
        :math:`\\partial s / \\partial \\lambda_j` (:math:`\\lambda_0` is fixed: only weight
        ratios matter).
    """

    coverage: FloatArray
    spend: FloatArray
    jacobian: FloatArray
    uncovered: float = 0.0
    uncovered_slope: float = 0.0


def spending(
    game: SecurityGame,
    tau: int,
    active: np.ndarray,
    log_mu: FloatArray,
    u: float,
    *,
    orphans: bool = False,
) -> Spending | None:
    """The canonical split attacking ``tau`` at level ``u`` with log-weights ``log_mu``
    (one per active defender), or None when some demanded target has no allowed
    defender (with ``orphans=True`` such demand is reported instead: ``uncovered`` and
    its derivative in ``u``, for least squares that must cross such levels).

    ``u`` is at least every :math:`p^a(t)`; a target demanding full coverage (at the
    floor level) goes whole to its heaviest allowed defender and adds nothing to the
    derivatives, and the level column of the Jacobian is then meaningless.
    """
    st = structure(game, tau, u, active)
    if st.uncovered > 0.0 and not orphans:
        return None
    allowed = st.allowed[active]
    live = st.demand > 0.0
    any_full = bool(st.demand.max() >= 1.0)
    full = st.demand >= 1.0 if any_full else np.zeros(live.shape, dtype=bool)
    if any_full:
        live &= ~full
    above = np.where(full, 1.0, u - game.attacker_penalty)  # u - p^a(t) > 0 off the floor
    log_rest = np.log(above / game.attacker_gap) * live  # log(1 - d_t(u)) where partial
    rest, inside, inverse = water_fill(log_mu, log_rest, allowed & live if any_full else allowed)
    coverage = inside - rest
    for t in np.flatnonzero(full & allowed.any(axis=0)) if any_full else ():
        members = np.flatnonzero(allowed[:, t])
        coverage[members[np.argmax(log_mu[members])], t] = 1.0
    weighted = rest * inverse
    jacobian = -(weighted @ inside.T)
    np.fill_diagonal(jacobian, rest.sum(axis=1) + jacobian.diagonal())
    jacobian[:, 0] = -(weighted / above).sum(axis=1)
    slope = 0.0
    if st.uncovered > 0.0:
        slope = -float((live & ~st.allowed.any(axis=0)) @ (1.0 / game.attacker_gap))
    return Spending(coverage, coverage.sum(axis=1), jacobian, st.uncovered, slope)


def newton_interior(
    game: SecurityGame,
    tau: int,
    active: np.ndarray,
    low: float,
    *,
    start: float = 0.1,
    max_iter: int = 10,
    tol: float = 1e-12,
) -> FloatArray | None:
    """An interior NSE candidate attacking ``tau``: :math:`s_i(\\lambda, u) = k_i` by Newton.

    Parameters
    ----------
    low : float
        The lowest level to search (the pooled ORIGAMI level: no profile goes below).
    start : float
        The starting level as a fraction of :math:`(\\max(\\text{low}, \\text{floor}),
        r^a(\\tau)]` (NSE levels sit near the pooled level). The weights start at the
        first-order guess :math:`\\lambda_i = (k_i - k_0) / |\\{t : r^a(t) > u\\}|`
        (small shares make :math:`s_i` about that many times :math:`\\lambda_i` plus a
        constant).
    tol : float
        The largest budget residual accepted.

    Returns
    -------
    ndarray, shape (n, m), or None
        The canonical split at the root, or None when the damped Newton iteration
        stalls (a kink of the piecewise-smooth system, a bound, or no root).

    Notes
    -----
    The unknowns are the log-weights of every active defender but the first (the split
    depends only on weight ratios) and the level. The structure (attack set, allowed
    pairs) is recomputed at every level, so the system is piecewise smooth; the step is
    halved until the residual norm falls. Deterministic.
    """
    reward, penalty = game.attacker_reward, game.attacker_penalty
    high = float(reward[tau])
    floor = float(penalty.max())
    # strictly above the floor, where every demand is below 1 (floor NSEs are solved
    # at the floor level itself)
    low = max(low, floor + 1e-12 * (1.0 + abs(floor)))
    idx = np.flatnonzero(active)
    if high <= low or idx.size < 2:
        return None
    k = game.resources[idx].astype(np.float64)
    u = low + start * (high - low)
    # the state: the level in place of lambda_0 (fixed at 0), the weights after it
    state = (k - k[0]) / max(int(np.count_nonzero(reward > u)), 1)
    state[0] = u

    def evaluate(x: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray] | None:
        sp = spending(game, tau, active, np.append(0.0, x[1:]), float(x[0]))
        return None if sp is None else (sp.spend - k, sp.jacobian, sp.coverage)

    def clip(x: FloatArray) -> FloatArray:
        level = min(max(float(x[0]), low), high)
        x = np.clip(x, -LOG_WEIGHT_BOUND, LOG_WEIGHT_BOUND)
        x[0] = level
        return x

    def solve(jacobian: FloatArray, residual: FloatArray) -> FloatArray:
        try:
            return np.asarray(np.linalg.solve(jacobian, residual), dtype=np.float64)
        except np.linalg.LinAlgError:
            return np.asarray(np.linalg.lstsq(jacobian, residual, rcond=None)[0], dtype=np.float64)

    root = damped_newton(evaluate, state, solve, clip, max_iter=max_iter, tol=tol)
    if root is None:
        return None
    profile = np.zeros((game.n_defenders, game.n_targets))
    profile[idx] = root[1]
    return profile


def damped_newton(
    evaluate: Callable[[FloatArray], tuple[FloatArray, FloatArray, FloatArray] | None],
    x: FloatArray,
    solve: Callable[[FloatArray, FloatArray], FloatArray],
    clip: Callable[[FloatArray], FloatArray],
    *,
    max_iter: int,
    tol: float,
) -> tuple[FloatArray, FloatArray] | None:
    """Damped (Gauss-)Newton: the single-game loop of every fast solve here.

    ``evaluate(x)`` gives (residual, Jacobian, coverage) or None where ``x`` is
    infeasible; ``solve`` the step from (Jacobian, residual); ``clip`` puts a trial
    point in bounds. Each iteration checks the residual, steps, and halves the step
    until the residual norm falls (below a tenth of the full step it gives up).
    Returns the root and its coverage when every residual is within ``tol`` within
    ``max_iter`` steps, else None. :func:`sim.solvers.batch._damped` is the same loop
    over a batch of games.
    """
    state = evaluate(x)
    for _ in range(max_iter):
        if state is None:
            return None
        residual, jacobian, coverage = state
        if np.abs(residual).max(initial=0.0) <= tol:
            return x, coverage
        step = solve(jacobian, residual)
        norm = float(residual @ residual)
        scale = 1.0
        while True:
            trial_x = clip(x - scale * step)
            trial = evaluate(trial_x)
            if trial is not None and float(trial[0] @ trial[0]) < (1.0 - 1e-4 * scale) * norm:
                break
            scale *= 0.5
            if scale < 0.1:
                return None
        x, state = trial_x, trial
    return None
