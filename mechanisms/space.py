r"""The finite outcome space every coordinated mechanism chooses from.

``docs/solvers.md`` §2: for a fixed attacked target t every defender's utility rises
with :math:`c_t` only, and the largest :math:`c_t` compatible with t being a best
response, :math:`x_t`, is realised for every t at once by :math:`\mathrm{need}(u^*)`.
So every mechanism here picks a column of the matrix
:math:`V_{it} = U_i^d(x_t, t)` over the attack set: an argmax in closed form. The
``lp`` backend computes the same columns with one HiGHS LP per target (the paper's
LP-t, eq. 4) and is the differential reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from sim.errors import SolverFailedError
from sim.game import FloatArray, SecurityGame
from sim.numerics import UTILITY_TOL
from sim.payoffs import target_utility
from sim.solvers import max_coverage, utilities_at_max_coverage

#: The ways to compute the outcome space: closed form (default) or LP-t per target.
BACKENDS = ("closed_form", "lp")


def lexicographic_argmax(
    keys: Sequence[FloatArray], valid: np.ndarray, tol: float = UTILITY_TOL
) -> np.ndarray:
    """Per row, the lowest index maximising ``keys[0]``, ties broken by ``keys[1]``, ...

    Parameters
    ----------
    keys : sequence of ndarray, shape (b, m)
    valid : ndarray of bool, shape (b, m) or (m,)
        Rows with no valid entry get -1.

    Values within ``tol`` of the row maximum are ties (never an accident of argmax).
    """
    mask = np.broadcast_to(valid, keys[0].shape).copy()
    for key in keys:
        masked = np.where(mask, key, -np.inf)
        top = masked.max(axis=1, keepdims=True)
        mask &= masked >= top - tol
    pick = np.argmax(mask, axis=1)
    return np.where(mask.any(axis=1), pick, -1)


@dataclass(frozen=True)
class OutcomeSpace:
    """The finite set of candidate outcomes of a game (``docs/solvers.md`` §2).

    Attributes
    ----------
    values : ndarray, shape (n, m)
        :math:`U_i^d(x_t, t)` (``-inf`` where t can never be attacked).
    feasible : ndarray of bool, shape (m,)
        The attack set.
    coverage : ndarray, shape (m, m)
        ``coverage[t]`` is a feasible coverage vector attacking t with :math:`c_t = x_t`.
    """

    values: FloatArray
    feasible: np.ndarray
    coverage: FloatArray


def closed_form_space(game: SecurityGame) -> OutcomeSpace:
    """The outcome space in O(m log m + nm): one vector realises every :math:`x_t`."""
    space = max_coverage(game)
    values = utilities_at_max_coverage(game, space)
    coverage = np.broadcast_to(space.coverage, (game.n_targets, game.n_targets))
    return OutcomeSpace(values, space.attack_set.copy(), coverage)


def lp_space(game: SecurityGame, floor: FloatArray | None = None) -> OutcomeSpace:
    """The outcome space by the paper's LP-t (eq. 4), one HiGHS LP per target.

    ``floor`` (shape (n,)) adds constraint (4a), :math:`U_i^d(c, t) \\ge` floor_i; the
    objective :math:`\\sum_i U_i^d(c, t)` is increasing in :math:`c_t` only, so LP-t
    maximises :math:`c_t` subject to (4a)-(4d).
    """
    n, m = game.n_defenders, game.n_targets
    gap, reward = game.attacker_gap, game.attacker_reward
    values = np.full((n, m), -np.inf)
    feasible = np.zeros(m, dtype=bool)
    coverage = np.zeros((m, m))
    for t in range(m):
        rows, rhs = [], []
        for s in range(m):
            if s != t:  # (4b)
                row = np.zeros(m)
                row[s], row[t] = -gap[s], gap[t]
                rows.append(row)
                rhs.append(reward[t] - reward[s])
        rows.append(np.ones(m))  # (4c)
        rhs.append(float(game.total_resources))
        bounds = [(0.0, 1.0)] * m  # (4d)
        if floor is not None:  # (4a): p_i(t) + c_t gap_i(t) >= floor_i
            low = float(np.max((floor - game.defender_penalty[:, t]) / game.defender_gap[:, t]))
            if low > 1.0 + 1e-12:
                continue
            bounds[t] = (min(max(low, 0.0), 1.0), 1.0)
        objective = -game.defender_gap[:, t].sum() * np.eye(m)[t]
        result = linprog(objective, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds)
        if result.status == 2:
            continue
        if result.status != 0:
            raise SolverFailedError(f"HiGHS failed on LP-{t}: {result.message}")
        feasible[t] = True
        coverage[t] = result.x
        values[:, t] = target_utility(game, t, result.x[t])
    return OutcomeSpace(values, feasible, coverage)
