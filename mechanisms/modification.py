r"""A defender's best strategy modification against a recommendation: the exact
search behind the IR audit (Gan et al. 2020, Definition 5.1, Property 4).

Conditioning on her signal :math:`\sigma` (the targets she was told to guard), she plays
marginal coverage :math:`y^\sigma \in C_{k_i}` (within her jurisdiction); the overall
coverage is linear in these, :math:`c'_u = O_u + \sum_\sigma w_{\sigma u} y^\sigma_u` with
:math:`w_{\sigma u} = P_\sigma - O_{\sigma u}` (the probability of her signal and nobody
else guarding u). With the attacker's level :math:`L` as a variable and
:math:`A_u = r^a(u) - \Delta^a(u) c'_u`, one LP serves every target
(``docs/solvers.md`` §5):

.. math::

    \min L \quad \text{s.t.} \quad A_u \le L \;\; \forall u, \qquad
    \textstyle\sum_u y^\sigma_u \le k_i, \qquad 0 \le y \le 1,

and making target t a best response only turns row t into an equality, so one HiGHS
model (``highspy``) is built per call and re-solved per target with one row's bounds
changed (a warm start). The optimum :math:`L^*_t` gives the supremum coverage
:math:`c'_t = (r^a(t) - L^*_t)/\Delta^a(t)`. Target t is *strictly* inducible (the
supremum is approached by deviations that make it the unique best response) iff
:math:`L^*_t` lies below :math:`\bar A_t`, t's level without her coverage (take a hair
of her coverage off t), or, failing that, iff the others can be held below
:math:`\bar A_t` at all: row t freed, :math:`\min L < \bar A_t` (a second solve, needed
only when she adds nothing to t). This replaces the two generic LPs per target of the
reference (:func:`mechanisms.properties.ir_violation` with ``reference=True``).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import highspy
import numpy as np

from sim.game import FloatArray, SecurityGame
from sim.numerics import LP_TOL
from sim.payoffs import target_utility, utility
from sim.sampling import Recommendation
from sim.solvers.multi_attack import quiet_stdout

#: How far a playable modification moves from the supremum towards a strictly
#: inducing point (its value is within this fraction of the supremum's).
PLAYABLE_MIX = 1e-3

_INF = highspy.kHighsInf
_OPTIMAL = highspy.HighsModelStatus.kOptimal
_banner_shown = False


def signals(
    rec: Recommendation, defender: int
) -> tuple[list[tuple[int, ...]], FloatArray, FloatArray]:
    """Group the support by her own recommended set: (signals, P_sigma, O_sigma,t)."""
    own = rec.assignments[:, defender, :]
    others = np.delete(rec.assignments, defender, axis=1).any(axis=1)
    keys: dict[tuple[int, ...], int] = {}
    for row in own:
        keys.setdefault(tuple(np.flatnonzero(row).tolist()), len(keys))
    index = np.array([keys[tuple(np.flatnonzero(row).tolist())] for row in own])
    prob = np.bincount(index, weights=rec.probabilities, minlength=len(keys)).astype(np.float64)
    covered = np.zeros((len(keys), own.shape[1]))
    np.add.at(covered, index, rec.probabilities[:, None] * others)
    return list(keys), prob, covered


def _highs() -> highspy.Highs:
    """A silent HiGHS instance (its first construction in a process prints a banner
    to the C-level stdout, which must not reach the user's terminal)."""
    global _banner_shown
    if _banner_shown:
        solver = highspy.Highs()
    else:
        with quiet_stdout():
            solver = highspy.Highs()
        _banner_shown = True
    solver.setOptionValue("output_flag", False)
    return solver


@dataclass(frozen=True)
class Modification:
    """Her best modification: the supremum ``value`` at ``target`` and a playable
    point ``y`` (shape (s, m); None when no target is strictly inducible) whose
    overall coverage ``coverage`` makes ``target`` the unique best response."""

    value: float
    target: int
    y: FloatArray | None
    coverage: FloatArray | None


class _LevelLP:
    """The level LP of the module docstring for one (recommendation, defender)."""

    def __init__(
        self, game: SecurityGame, weight: FloatArray, base: FloatArray, k: float, reach: np.ndarray
    ) -> None:
        m = game.n_targets
        gap = game.attacker_gap
        useful = (weight > 0.0) & reach[None, :] & (k > 0.0)
        self.signal, self.target = np.nonzero(useful)
        size = self.signal.size
        self.shape = weight.shape
        self.top = game.attacker_reward - gap * base  # A_u without her coverage
        # rows: A_u <= L per target (as -gap_u sum w y - L <= -top_u), then a budget
        # per signal that could exceed it
        order = np.argsort(self.target, kind="stable")
        counts = np.bincount(self.target, minlength=m)
        target_index = [np.append(part, size) for part in np.split(order, np.cumsum(counts)[:-1])]
        self.cut = gap[self.target] * weight[self.signal, self.target]  # per unit of y
        self.k = int(k)
        coefficient = -self.cut
        per_signal = np.bincount(self.signal, minlength=weight.shape[0])
        budgeted = np.flatnonzero(per_signal > k)
        rows_index = [*target_index, *(np.flatnonzero(self.signal == s) for s in budgeted)]
        rows_value = [
            *(np.append(coefficient[part[:-1]], -1.0) for part in target_index),
            *(np.ones(per_signal[s]) for s in budgeted),
        ]
        lp = highspy.HighsLp()
        lp.num_col_ = size + 1
        lp.num_row_ = m + budgeted.size
        lp.col_cost_ = np.append(np.zeros(size), 1.0)
        lp.col_lower_ = np.append(np.zeros(size), -_INF)
        lp.col_upper_ = np.append(np.ones(size), _INF)
        lp.row_lower_ = np.full(lp.num_row_, -_INF)
        lp.row_upper_ = np.concatenate((-self.top, np.full(budgeted.size, k)))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.cumsum([0, *(len(r) for r in rows_index)]).astype(np.int32)
        lp.a_matrix_.index_ = np.concatenate(rows_index).astype(np.int32)
        lp.a_matrix_.value_ = np.concatenate(rows_value).astype(np.float64)
        self.solver = _highs()
        self.solver.passModel(lp)

    def _solve(self, t: int, lower: float, upper: float) -> float | None:
        """min L with row t's bounds set to (lower, upper); None when infeasible."""
        self.solver.changeRowBounds(t, lower, upper)
        self.solver.run()
        optimal = self.solver.getModelStatus() == _OPTIMAL
        level = float(self.solver.getInfo().objective_function_value) if optimal else None
        self.solver.changeRowBounds(t, -_INF, -float(self.top[t]))
        return level

    def level(self, t: int) -> float | None:
        """:math:`L^*_t`: the least level with t a best response (None: t cannot be)."""
        return self._solve(t, -float(self.top[t]), -float(self.top[t]))

    def level_without(self, t: int) -> float:
        """The least level of the other targets (row t free)."""
        level = self._solve(t, -_INF, _INF)
        return np.inf if level is None else level

    def least_level(self) -> float:
        """The least level of all targets: no row fixed (always feasible)."""
        self.solver.run()
        return float(self.solver.getInfo().objective_function_value)

    def least_mix(self) -> FloatArray:
        """After :meth:`least_level`, the attacker's side of that solve: the rows'
        duals, a mixed attack :math:`\\lambda` (a distribution over the targets)."""
        mix = np.maximum(-np.asarray(self.solver.getSolution().row_dual)[: self.top.size], 0.0)
        return mix / mix.sum() if mix.sum() > 0.0 else mix

    def floor_without(self, mix: FloatArray, t: int) -> float:
        """A lower bound on :meth:`level_without` from any mixed attack ``mix``.

        By weak duality every mix :math:`\\lambda` bounds every level below:
        :math:`\\max_u A_u(y) \\ge \\sum_u \\lambda_u A_u(y) \\ge D(\\lambda) =
        \\sum_u \\lambda_u \\bar A_u - \\sum_\\sigma` (her k largest cuts
        :math:`\\lambda_u \\Delta^a(u) w_{\\sigma u}`). Renormalised without t, it
        bounds the others' level with t's row free; with the optimal mix of
        :meth:`least_mix` and :math:`\\lambda_t = 0` it is :math:`L^\\circ` itself, and
        freeing t lowers nothing.
        """
        rest = mix.copy()
        rest[t] = 0.0
        if not rest.sum() > 0.0:
            return -np.inf
        rest /= rest.sum()
        cuts = rest[self.target] * self.cut
        order = np.lexsort((-cuts, self.signal))  # by signal, largest cut first
        starts = np.searchsorted(self.signal[order], self.signal[order])
        return float(rest @ self.top - cuts[order][np.arange(order.size) - starts < self.k].sum())

    def y(self) -> FloatArray:
        """The last solve's y, shape (s, m)."""
        values = np.asarray(self.solver.getSolution().col_value)[: self.signal.size]
        out = np.zeros(self.shape)
        out[self.signal, self.target] = np.clip(values, 0.0, 1.0)
        return out


def best_modification(
    game: SecurityGame,
    defender: int,
    prob: FloatArray,
    covered: FloatArray,
    *,
    first: int,
    eps_tol: float = LP_TOL,
) -> Modification:
    """Her best modification given the signal structure (``prob``, ``covered`` of
    :func:`signals`); ties go to the lowest target, ``first`` (the designated one)
    when nothing is inducible.

    Targets are visited best first: by their exact value where it is known, by an
    upper bound on it until their level is solved. The first exact one that is
    strictly inducible is the answer, so no target is solved twice. The bound is the
    coverage a target gets when every signal puts a resource on it, capped by what
    keeps it a best response against the others' most coverage, and by the least
    level of all targets :math:`L^\\circ` (one solve with no row fixed):
    :math:`L^*_t \\ge L^\\circ`, so :math:`c'_t \\le (r^a(t) - L^\\circ)/\\Delta^a(t)`,
    and a target whose level without her coverage is below :math:`L^\\circ` is never a
    best response. A target at :math:`L^\\circ` in that solve's solution has
    :math:`L^*_t = L^\\circ` exactly (the solution is feasible for it): its value needs
    no solve of its own. The strictness check's solve (she adds nothing to t) is
    skipped where a lower bound on the others' level with t's row free already reaches
    t's: their least attacker values, or the attacker's mix of that first solve
    (:meth:`_LevelLP.floor_without`).
    """
    m = game.n_targets
    base = covered.sum(axis=0)
    weight = prob[:, None] - covered  # how much y^sigma_u adds to c'_u
    k = float(game.resources[defender])
    gap, reward = game.attacker_gap, game.attacker_reward
    reach = game.allowed[defender]  # her jurisdiction: y^sigma_u = 0 elsewhere
    most = base + (weight.sum(axis=0) * reach if k >= 1 else 0.0)
    lowest = reward - gap * most  # the least the attacker can get at each target
    others = np.where(np.eye(m, dtype=bool), -np.inf, lowest[None, :]).max(axis=1)
    most = np.minimum(most, np.where(np.isfinite(others), (reward - others) / gap, most))
    model = _LevelLP(game, weight, base, k, reach)
    least = model.least_level()
    mix = model.least_mix()
    y_least = model.y()
    at_least = model.top - gap * (weight * y_least).sum(axis=0) >= least - eps_tol
    slack = eps_tol * (1.0 + abs(least))  # the LP's rounding, never a pruned answer
    most = np.minimum(most, (reward - least) / gap + slack)
    penalty_row, gap_row = game.defender_penalty[defender], game.defender_gap[defender]
    bound = utility(penalty_row, gap_row, most) + slack * gap_row
    # visited best first by (value, -target): an exact value where it is known (the
    # targets at L°), the bound until its level is solved; the first exact entry that
    # is strictly inducible is the answer, so each target is solved at most once
    exact = utility(penalty_row, gap_row, (reward - least) / gap)
    queue = [
        (-(exact[t] if at_least[t] else bound[t]), t, bool(at_least[t]))
        for t in range(m)
        if model.top[t] >= least - slack
    ]
    heapq.heapify(queue)
    solved: dict[int, tuple[float, FloatArray]] = {}
    while queue:
        key, t, known = heapq.heappop(queue)
        if not known:
            level = model.level(t)
            if level is not None:
                solved[t] = (level, model.y())
                value = float(target_utility(game, t, (reward[t] - level) / gap[t], defender))
                heapq.heappush(queue, (-value, t, True))
            continue
        level, y = solved.get(t) or (least, y_least.copy())
        if m == 1 or model.top[t] - level > eps_tol:
            # a hair less of her coverage on t makes it the unique best response
            y[:, t] *= 1.0 - PLAYABLE_MIX
        elif (
            # bounds on the others' level with t's row free, then the solve
            model.top[t] - max(others[t], model.floor_without(mix, t)) > eps_tol
            and model.top[t] - model.level_without(t) > eps_tol
        ):
            # she adds nothing to t: hold the others below it (the free solve's point)
            y = (1.0 - PLAYABLE_MIX) * y + PLAYABLE_MIX * model.y()
        else:
            continue
        return Modification(float(-key), t, y, base + (weight * y).sum(axis=0))
    return Modification(-np.inf, first, None, None)
