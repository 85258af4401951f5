"""Slow, obviously-correct references: one LP per target (scipy's HiGHS).

These exist to test the fast solvers (differential tests) and to time them against
(``bench/``); no production path calls them. Each LP is the textbook "multiple LPs"
formulation of a Stackelberg security game (Conitzer & Sandholm 2006), specialised to
marginal coverage as in Gan et al. 2020, eq. (4b)-(4d).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from sim.errors import SolverFailedError
from sim.game import FloatArray, SecurityGame
from sim.numerics import BR_TOL, BUDGET_TOL, FULL_TOL
from sim.payoffs import combined_coverage, defender_utilities, utility
from sim.solvers.multi_attack import quiet_stdout
from sim.solvers.origami import MaxCoverage, StackelbergOutcome, argmax_lowest


def lp_max_coverage_of(game: SecurityGame, target: int, budget: float) -> float | None:
    """max :math:`c_t` s.t. t is a best response, :math:`\\sum c \\le K`, :math:`0 \\le c \\le 1`.

    Returns None when no feasible coverage makes ``target`` a best response.
    """
    m = game.n_targets
    gap = game.attacker_gap
    reward = game.attacker_reward
    others = np.array([s for s in range(m) if s != target], dtype=np.int64)
    k = others.size
    # (4b): r(s) - gap(s) c(s) <= r(t) - gap(t) c(t)  <=>  -gap(s) c(s) + gap(t) c(t) <= r(t) - r(s)
    # and (4c) sum c <= K, as a sparse matrix (two entries a row, then a row of ones)
    row = np.concatenate((np.arange(k), np.arange(k), np.full(m, k)))
    column = np.concatenate((others, np.full(k, target), np.arange(m)))
    entry = np.concatenate((-gap[others], np.full(k, gap[target]), np.ones(m)))
    rows = sparse.csr_array((entry, (row, column)), shape=(k + 1, m))
    rhs = np.append(reward[target] - reward[others], budget)
    objective = np.zeros(m)
    objective[target] = -1.0
    result = linprog(objective, A_ub=rows, b_ub=rhs, bounds=[(0.0, 1.0)] * m, method="highs")
    if result.status == 2:
        return None
    if result.status != 0:
        raise SolverFailedError(f"HiGHS failed on LP-{target}: {result.message}")
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
        raise SolverFailedError(f"HiGHS failed on the level LP: {result.message}")
    return float(result.x[m])


def lp_single_defender_sse(game: SecurityGame, defender: int) -> StackelbergOutcome:
    """Reference for :func:`sim.solvers.single_defender_sse`: the best of the m LPs."""
    space = lp_max_coverage(game)
    values = np.where(space.attack_set, defender_utilities(game, space.coverage), -np.inf)
    target = argmax_lowest(values[defender], space.attack_set)
    return StackelbergOutcome(
        defender=defender,
        target=target,
        coverage=space.coverage,
        defender_utility=values[:, target].copy(),
        level=space.level,
        method="lp",
    )


#: HiGHS tolerances for the deviation LPs, well below the oracle's BR_TOL.
_TIGHT = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


def _deviation_lp(
    game: SecurityGame, q: FloatArray, k: float, target: int, strict: bool, reach: np.ndarray
) -> tuple[int, FloatArray | None, float]:
    """LP_t (``strict=False``: max c_t) or STRICT_t (max eps) of ``docs/nse.md`` §4.2;
    targets out of ``reach`` (her jurisdiction) keep the others' coverage."""
    m = game.n_targets
    reward, gap = game.attacker_reward, game.attacker_gap
    others = [s for s in range(m) if s != target]
    open_ = q < 1.0 - FULL_TOL
    # variables (c_1..c_m, eps)
    rows = np.zeros((len(others) + 1, m + 1))
    rhs = np.zeros(len(others) + 1)
    for row, s in enumerate(others):
        rows[row, s] = -gap[s]
        rows[row, target] = gap[target]
        rows[row, m] = 1.0 if strict else 0.0
        rhs[row] = reward[target] - reward[s]
    rows[-1, :m] = np.where(open_, 1.0 / np.where(open_, 1.0 - q, 1.0), 0.0)
    rhs[-1] = k + float(np.sum(np.where(open_, q / np.where(open_, 1.0 - q, 1.0), 0.0)))
    objective = np.zeros(m + 1)
    objective[m if strict else target] = -1.0
    bounds = [(float(q[s]), 1.0 if reach[s] else float(q[s])) for s in range(m)]
    bounds.append((0.0, 1.0) if strict else (0.0, 0.0))
    # HiGHS's default feasibility tolerance (1e-7) would read a margin of rounding
    # noise as a strict one (eps above BR_TOL); tighter tolerances keep eps honest
    result = linprog(objective, A_ub=rows, b_ub=rhs, bounds=bounds, method="highs", options=_TIGHT)
    if result.status == 2:
        return 2, None, 0.0
    if result.status != 0:
        raise SolverFailedError(f"HiGHS failed on deviation LP-{target}: {result.message}")
    return 0, result.x[:m], float(result.x[m])


def lp_deviation_value(
    game: SecurityGame, others: FloatArray, defender: int, *, eps_tol: float = BR_TOL
) -> float:
    """Reference for :func:`sim.solvers.deviation_value`: the multiple-LP oracle of
    ``docs/nse.md`` §4.2 (2m LPs plus the unbreakable-tie clause), within her
    jurisdiction (``docs/jurisdictions.md`` §2)."""
    q = np.asarray(others, dtype=np.float64)
    k = float(game.resources[defender])
    reach = game.allowed[defender]
    util_row = game.defender_penalty[defender], game.defender_gap[defender]

    def utility(t: int, c: float) -> float:
        return float(util_row[0][t] + c * util_row[1][t])

    attacker = game.attacker_reward - q * game.attacker_gap
    if k == 0:
        br = np.flatnonzero(attacker >= attacker.max() - BR_TOL)
        return min(utility(int(t), float(q[t])) for t in br)
    value = -np.inf
    for t in range(game.n_targets):
        status, c, _ = _deviation_lp(game, q, k, t, strict=False, reach=reach)
        if status != 0 or c is None:
            continue
        strict_ok = (
            game.n_targets == 1
            or _deviation_lp(game, q, k, t, strict=True, reach=reach)[2] > eps_tol
        )
        if strict_ok:
            value = max(value, utility(t, float(c[t])))
    # the unbreakable tie: targets she cannot move (fully covered, or out of her
    # reach) pinned together at the top, every other target pushable below them
    full = q >= 1.0 - FULL_TOL
    open_ = ~full & reach
    closed = np.flatnonzero(~open_)
    if closed.size:
        fixed = np.where(full, game.attacker_penalty, attacker)
        top = float(fixed[closed].max())
        pinned = closed[fixed[closed] >= top - eps_tol]  # tied as the strict LP sees it
        if pinned.size >= 2 and np.all(game.attacker_penalty[open_] < top - eps_tol):
            need = np.clip((game.attacker_reward - top) / game.attacker_gap, 0.0, 1.0)
            push = open_ & (attacker >= top)
            c_min = float(np.sum((need[push] - q[push]) / (1.0 - q[push])))
            if c_min < k - BUDGET_TOL:  # strictly below: spare budget, not rounding
                value = max(
                    value,
                    min(
                        float(game.defender_reward[defender, f]) if full[f] else utility(f, q[f])
                        for f in pinned
                    ),
                )
    return float(value)


def lp_nse_gain(game: SecurityGame, profile: FloatArray, attacked_target: int) -> float:
    """Reference for :func:`sim.solvers.nse_violation`'s gain: every defender's best
    deviation by the multiple-LP oracle against her own utility (inf when the target is
    not a best response). ``2 n m`` LPs."""
    x = np.asarray(profile, dtype=np.float64)
    c = combined_coverage(x)
    attacker = game.attacker_reward - c * game.attacker_gap
    if attacker[attacked_target] < attacker.max() - BR_TOL:
        return float("inf")
    own = utility(
        game.defender_penalty[:, attacked_target],
        game.defender_gap[:, attacked_target],
        c[attacked_target],
    )
    gains = [
        lp_deviation_value(game, combined_coverage(np.delete(x, i, axis=0)), i) - own[i]
        for i in range(game.n_defenders)
    ]
    return float(max(gains))


def explicit_game(
    game: SecurityGame, defender: int | None = None
) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]], FloatArray, FloatArray]:
    """The explicit bimatrix game of a multiple-attack game (Korzhyk et al. 2011):
    the defender's pure strategies are the ``min(K, m)``-subsets of targets, the
    attacker's the ``n_a``-subsets, payoffs added over the attacked targets.

    Returns
    -------
    rows, cols : list of tuple of int
        The pure strategies (covered sets, attacked sets).
    defender, attacker : ndarray, shape (len(rows), len(cols))
    """
    import itertools

    from sim.solvers.multi_attack import Payoffs

    p = Payoffs.of(game, defender)
    m = game.n_targets
    rows = list(itertools.combinations(range(m), p.budget))
    cols = list(itertools.combinations(range(m), p.attacks))
    covered = np.zeros((len(rows), m))
    for i, chosen in enumerate(rows):
        covered[i, list(chosen)] = 1.0
    attacked = np.zeros((len(cols), m))
    for j, chosen in enumerate(cols):
        attacked[j, list(chosen)] = 1.0
    defender_values = p.defender_values(covered)  # (rows, m)
    attacker_values = p.attacker_values(covered)
    return rows, cols, defender_values @ attacked.T, attacker_values @ attacked.T


def bimatrix_nash(defender: FloatArray, attacker: FloatArray) -> tuple[FloatArray, FloatArray]:
    """A Nash equilibrium of a bimatrix game by the mixed-integer program of Sandholm,
    Gilpin and Conitzer (2005): each pure strategy either has zero probability or zero
    regret (one binary per strategy, big-M the payoff range). Returns the row and
    column players' mixed strategies."""
    from scipy.optimize import Bounds, LinearConstraint

    r, c = defender.shape
    big_d = float(defender.max() - defender.min()) + 1.0
    big_a = float(attacker.max() - attacker.min()) + 1.0
    # variables: x (r), y (c), regret_x (r), regret_y (c), s (r), t (c), v_d, v_a
    size = 3 * (r + c) + 2
    x, y = slice(0, r), slice(r, r + c)
    s, t = slice(2 * (r + c), 3 * r + 2 * c), slice(3 * r + 2 * c, 3 * (r + c))
    vd, va = size - 2, size - 1
    rows_eq, rows_ub = [], []

    def new() -> FloatArray:
        return np.zeros(size)

    sums = new(), new()
    sums[0][x], sums[1][y] = 1.0, 1.0
    rows_eq += [(sums[0], 1.0), (sums[1], 1.0)]
    for i in range(r):  # (D y)_i + regret_i = v_d
        row = new()
        row[y], row[r + c + i], row[vd] = defender[i], 1.0, -1.0
        rows_eq.append((row, 0.0))
        bound = new()  # x_i <= 1 - s_i ; regret_i <= big s_i
        bound[i], bound[2 * (r + c) + i] = 1.0, 1.0
        rows_ub.append((bound, 1.0))
        regret = new()
        regret[r + c + i], regret[2 * (r + c) + i] = 1.0, -big_d
        rows_ub.append((regret, 0.0))
    for j in range(c):  # (x A)_j + regret_j = v_a
        row = new()
        row[x], row[2 * r + c + j], row[va] = attacker[:, j], 1.0, -1.0
        rows_eq.append((row, 0.0))
        bound = new()
        bound[r + j], bound[3 * r + 2 * c + j] = 1.0, 1.0
        rows_ub.append((bound, 1.0))
        regret = new()
        regret[2 * r + c + j], regret[3 * r + 2 * c + j] = 1.0, -big_a
        rows_ub.append((regret, 0.0))
    a_eq = np.array([row for row, _ in rows_eq])
    a_ub = np.array([row for row, _ in rows_ub])
    # each value is an expected payoff, within its matrix's range, and each regret at
    # most that range: bounding them there is exact, and HiGHS's MIP solver reported
    # "Solve error" on a tiny game with them free (found by hypothesis's stress run)
    lower = np.zeros(size)
    lower[vd], lower[va] = float(defender.min()), float(attacker.min())
    upper = np.full(size, 1.0)
    upper[r + c : 2 * r + c], upper[2 * r + c : 2 * (r + c)] = big_d, big_a
    upper[vd], upper[va] = float(defender.max()), float(attacker.max())
    integrality = np.zeros(size)
    integrality[s], integrality[t] = 1, 1
    # the binaries hold only to HiGHS's integrality tolerance, which big-M turns into a
    # regret of up to big * 1e-6: the strategies are solved for on the supports the MILP
    # chose (every regret there zero to the LP's tolerance), and a pair of supports that
    # admits none is cut off and the MILP solved again
    cuts: list[FloatArray] = []
    first: tuple[FloatArray, FloatArray] | None = None
    for _ in range(SUPPORT_TRIES):
        constraints = [
            LinearConstraint(a_eq, [b for _, b in rows_eq], [b for _, b in rows_eq]),
            LinearConstraint(a_ub, -np.inf, [b for _, b in rows_ub]),
        ]
        if cuts:
            cut = np.array(cuts)
            constraints.append(LinearConstraint(cut[:, :-1], cut[:, -1], np.inf))
        result = _solve_milp(size, constraints, integrality, Bounds(lower, upper))
        if result is None:
            break
        if first is None:
            first = np.clip(result[x], 0.0, None), np.clip(result[y], 0.0, None)
        chosen = np.round(result[2 * (r + c) : 3 * (r + c)]).astype(bool)  # s, t: 1 = out
        rows, cols = ~chosen[:r], ~chosen[r:]
        exact_y = _indifferent(defender, rows, cols)
        exact_x = _indifferent(attacker.T, cols, rows)
        if exact_x is not None and exact_y is not None:
            return exact_x, exact_y
        # sum over chosen of (1 - b) + sum over the others of b >= 1
        cut = np.zeros(size + 1)
        cut[2 * (r + c) : 3 * (r + c)] = np.where(chosen, -1.0, 1.0)
        cut[-1] = 1.0 - float(chosen.sum())
        cuts.append(cut)
    if first is None:
        raise SolverFailedError("bimatrix_nash: the MILP failed")
    return first


#: Pairs of supports the bimatrix reference tries before it returns the MILP's first
#: answer as it is.
SUPPORT_TRIES = 20


def _solve_milp(
    size: int, constraints: list[Any], integrality: FloatArray, bounds: Any
) -> FloatArray | None:
    """The feasibility MILP's solution (with presolve, then without), or None."""
    from scipy.optimize import milp

    for options in ({}, {"presolve": False}):
        with quiet_stdout():
            result = milp(
                np.zeros(size),
                constraints=constraints,
                integrality=integrality,
                bounds=bounds,
                options=options,
            )
        if result.status == 0 and result.x is not None:
            return np.asarray(result.x)
    return None


def _indifferent(payoff: FloatArray, best: np.ndarray, support: np.ndarray) -> FloatArray | None:
    """A mixed strategy of the column player on ``support`` against which the row
    player's pure strategies ``best`` all earn the most of ``payoff`` (rows of the row
    player's payoffs, one column per strategy), by one LP; None when there is none."""
    c = payoff.shape[1]
    # variables: the column strategy (c) and the row player's value
    a_eq = np.vstack(
        (
            np.append(np.ones(c), 0.0),
            np.hstack((payoff[best], -np.ones((int(best.sum()), 1)))),
        )
    )
    b_eq = np.append(1.0, np.zeros(int(best.sum())))
    a_ub = np.hstack((payoff[~best], -np.ones((int((~best).sum()), 1))))
    bounds = [(0.0, 1.0 if on else 0.0) for on in support] + [(None, None)]
    result = linprog(
        np.zeros(c + 1),
        A_ub=a_ub if a_ub.size else None,
        b_ub=np.zeros(a_ub.shape[0]) if a_ub.size else None,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=bounds,
        method="highs",
        options=_TIGHT,
    )
    if result.status != 0 or result.x is None:
        return None
    return np.clip(result.x[:c], 0.0, None)
