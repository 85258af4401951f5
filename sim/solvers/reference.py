"""Slow, obviously-correct references: one LP per target (scipy's HiGHS).

These exist to test the fast solvers (differential tests) and to time them against
(``bench/``); no production path calls them. Each LP is the textbook "multiple LPs"
formulation of a Stackelberg security game (Conitzer & Sandholm 2006), specialised to
marginal coverage as in Gan et al. 2020, eq. (4b)-(4d).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from sim.game import FloatArray, SecurityGame
from sim.solvers.origami import MaxCoverage, StackelbergOutcome, argmax_lowest


def lp_max_coverage_of(game: SecurityGame, target: int, budget: float) -> float | None:
    """max :math:`c_t` s.t. t is a best response, :math:`\\sum c \\le K`, :math:`0 \\le c \\le 1`.

    Returns None when no feasible coverage makes ``target`` a best response.
    """
    m = game.n_targets
    gap = game.attacker_gap
    reward = game.attacker_reward
    others = [s for s in range(m) if s != target]
    # (4b): r(s) - gap(s) c(s) <= r(t) - gap(t) c(t)  <=>  -gap(s) c(s) + gap(t) c(t) <= r(t) - r(s)
    rows = np.zeros((len(others) + 1, m))
    rhs = np.zeros(len(others) + 1)
    for row, s in enumerate(others):
        rows[row, s] = -gap[s]
        rows[row, target] = gap[target]
        rhs[row] = reward[target] - reward[s]
    rows[-1, :] = 1.0  # (4c)
    rhs[-1] = budget
    objective = np.zeros(m)
    objective[target] = -1.0
    result = linprog(objective, A_ub=rows, b_ub=rhs, bounds=[(0.0, 1.0)] * m, method="highs")
    if result.status == 2:
        return None
    if result.status != 0:
        raise RuntimeError(f"HiGHS failed on LP-{target}: {result.message}")
    return float(result.x[target])


def lp_max_coverage(game: SecurityGame, budget: float | None = None) -> MaxCoverage:
    """Reference for :func:`sim.solvers.max_coverage`: m LPs, one per target."""
    k = float(game.total_resources if budget is None else budget)
    x = np.array([lp_max_coverage_of(game, t, k) for t in range(game.n_targets)], dtype=object)
    attack_set = np.array([value is not None for value in x])
    best = np.array([np.nan if value is None else value for value in x], dtype=np.float64)
    levels = game.attacker_reward - np.nan_to_num(best) * game.attacker_gap
    level = float(levels[attack_set].min())
    coverage = np.where(attack_set, best, 0.0)
    return MaxCoverage(level=level, coverage=coverage, attack_set=attack_set, budget=k, method="lp")


def lp_attacker_level(game: SecurityGame, budget: float | None = None) -> float:
    """Reference for :func:`sim.solvers.attacker_level`: min w s.t. every target <= w."""
    m = game.n_targets
    k = float(game.total_resources if budget is None else budget)
    # variables (c_1..c_m, w); minimise w
    rows = np.zeros((m + 1, m + 1))
    rows[:m, :m] = -np.diag(game.attacker_gap)
    rows[:m, m] = -1.0
    rows[m, :m] = 1.0
    rhs: FloatArray = np.append(-game.attacker_reward, k)
    objective = np.zeros(m + 1)
    objective[m] = 1.0
    bounds = [(0.0, 1.0)] * m + [(None, None)]
    result = linprog(objective, A_ub=rows, b_ub=rhs, bounds=bounds, method="highs")
    if result.status != 0:
        raise RuntimeError(f"HiGHS failed on the level LP: {result.message}")
    return float(result.x[m])


def lp_single_defender_sse(game: SecurityGame, defender: int) -> StackelbergOutcome:
    """Reference for :func:`sim.solvers.single_defender_sse`: the best of the m LPs."""
    space = lp_max_coverage(game)
    values = np.where(
        space.attack_set, game.defender_penalty + space.coverage * game.defender_gap, -np.inf
    )
    target = argmax_lowest(values[defender], space.attack_set)
    return StackelbergOutcome(
        defender=defender,
        target=target,
        coverage=space.coverage,
        defender_utility=values[:, target].copy(),
        level=space.level,
        method="lp",
    )
