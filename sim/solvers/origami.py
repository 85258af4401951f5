r"""The coordinated attacker level and the most coverage each target can have.

``docs/solvers.md`` §1–§2, after ORIGAMI (Kiekintveld et al., AAMAS 2009). For a level
:math:`w` the coverage that holds every target's attacker utility to at most :math:`w` is

.. math:: \mathrm{need}_t(w) = \mathrm{clip}\big((r^a(t) - w) / \Delta^a(t), 0, 1\big),

and :math:`G(w) = \sum_t \mathrm{need}_t(w)` is continuous, piecewise linear and
decreasing. With :math:`K` pooled resources the lowest level the attacker can be held to
is :math:`u^* = \max(\max_t p^a(t), \min\{w : G(w) \le K\})`. Target :math:`t` can be an
attacker best response under some feasible coverage iff :math:`r^a(t) \ge u^*`, and then
its largest such coverage is :math:`x_t = (r^a(t) - u^*) / \Delta^a(t)`; the single vector
:math:`\mathrm{need}(u^*)` realises every :math:`x_t` at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.game import FloatArray, SecurityGame
from sim.numerics import BR_TOL, UTILITY_TOL
from sim.payoffs import defender_utilities


def need(
    attacker_reward: FloatArray, attacker_gap: FloatArray, level: float | FloatArray
) -> FloatArray:
    """:math:`\\mathrm{need}_t(w)`: the coverage holding each target to level ``w``
    (any shapes that broadcast: one level, or a column of levels for a batch). At an
    NSE's level it is the demand :math:`d_t(u)` (``docs/nse.md`` §1.3); the solvers
    compute every demand here."""
    return np.minimum(np.maximum((attacker_reward - level) / attacker_gap, 0.0), 1.0)


def origami_level(
    attacker_reward: FloatArray,
    attacker_gap: FloatArray,
    budget: float,
    floor: float | None = None,
) -> float:
    """Solve :math:`u^* = \\max(\\max_t p^a(t), \\min\\{w : G(w) \\le K\\})` exactly.

    Steps (``docs/solvers.md`` §1):

    1. The floor :math:`\\max_t p^a(t)`: no coverage pushes the attacker below it; if
       :math:`G(\\text{floor}) \\le K` the level is the floor.
    2. Otherwise sort the rewards in decreasing order. Above the floor every ``need``
       is below 1, so on the segment where exactly the top ``j`` targets are active
       :math:`G(w) = A_j - w B_j` with :math:`A_j = \\sum r^a/\\Delta^a`,
       :math:`B_j = \\sum 1/\\Delta^a` over them.
    3. The first segment whose lower end has :math:`G \\ge K` holds the root
       :math:`w = (A_j - K) / B_j`. No bisection, no LP: O(m log m).

    ``floor`` overrides :math:`\\max_t p^a(t)`; the deviation oracle uses it with the
    transformed payoffs of ``docs/solvers.md`` §3, where it must also count targets
    that are already fully covered. :func:`origami_levels` solves many games at once.
    """
    if floor is None:
        floor = float((attacker_reward - attacker_gap).max())
    if attacker_reward.size == 0:
        return floor
    levels = origami_levels(
        attacker_reward[None, :], attacker_gap[None, :], np.array([budget]), floor
    )
    return float(levels[0])


def origami_levels(
    attacker_reward: FloatArray,
    attacker_gap: FloatArray,
    budget: FloatArray,
    floor: float | FloatArray,
    targets: np.ndarray | None = None,
) -> FloatArray:
    """:func:`origami_level` for every row of a batch of games, vectorised.

    Parameters
    ----------
    attacker_reward, attacker_gap : ndarray, shape (r, m)
    budget : ndarray, shape (r,)
    floor : float or ndarray, shape (r,)
        The lowest level (one for every row, or one per row).
    targets : ndarray of bool, shape (r, m), optional
        The targets each row counts (default: all); the others are ignored.

    Returns
    -------
    ndarray, shape (r,)
    """
    live = targets
    if live is None:
        inverse_gap = 1.0 / attacker_gap
        key = -attacker_reward
    else:
        inverse_gap = np.divide(1.0, attacker_gap, out=np.zeros(attacker_gap.shape), where=live)
        key = np.where(live, -attacker_reward, np.inf)
    flat = np.full(budget.shape, floor, dtype=np.float64)
    column = flat[:, None]
    held = np.minimum(np.maximum((attacker_reward - column) * inverse_gap, 0.0), 1.0)
    at_floor = held.sum(axis=1) <= budget
    if at_floor.all():
        return flat
    order = key.argsort(axis=1, kind="stable")
    rows = np.arange(order.shape[0])[:, None]
    reward, inverse_gap = attacker_reward[rows, order], inverse_gap[rows, order]
    a = (reward * inverse_gap).cumsum(axis=1)
    b = inverse_gap.cumsum(axis=1)
    lower = column.repeat(reward.shape[1], axis=1)
    lower[:, :-1] = np.maximum(reward[:, 1:], column)
    if live is not None:  # ignored targets sort last and end no segment
        live = live[rows, order]
        lower[:, :-1] = np.where(live[:, 1:], lower[:, :-1], column)
    hit = a - lower * b >= budget[:, None]
    if live is not None:
        hit &= live
    at_floor |= ~hit.any(axis=1)  # only by rounding: G(floor) > budget means a hit
    j = hit.argmax(axis=1)
    rows = rows[:, 0]
    root = np.divide(a[rows, j] - budget, b[rows, j], out=np.zeros(j.shape), where=~at_floor)
    level = np.minimum(np.maximum(root, lower[rows, j]), reward[rows, j])
    return np.where(at_floor, flat, level)


@dataclass(frozen=True, eq=False)
class MaxCoverage:
    """The coordinated outcome space of a game (``docs/solvers.md`` §2).

    Attributes
    ----------
    level : float
        :math:`u^*`, the lowest attacker utility ``total_resources`` can enforce.
    coverage : ndarray, shape (m,)
        :math:`\\mathrm{need}(u^*)`; every target of ``attack_set`` is a best response
        under it, each with its largest possible coverage.
    attack_set : ndarray of bool, shape (m,)
        Targets that can be an attacker best response: :math:`r^a(t) \\ge u^*`.
    budget : float
        The resources the level was computed for.
    method : str
        ``"origami"`` (exact breakpoint walk) or ``"lp"`` (reference).
    """

    level: float
    coverage: FloatArray
    attack_set: np.ndarray
    budget: float
    method: str = "origami"

    @property
    def max_coverage(self) -> FloatArray:
        """:math:`x_t` on the attack set, NaN where target ``t`` can never be attacked."""
        return np.where(self.attack_set, self.coverage, np.nan)

    @property
    def spare(self) -> float:
        """Resources ``need(u*)`` leaves unused (positive only at the floor level)."""
        return float(self.budget - self.coverage.sum())


def attacker_level(game: SecurityGame, budget: float | None = None) -> float:
    """:math:`u^*` for the pooled resources (or ``budget``); see :func:`origami_level`."""
    k = game.total_resources if budget is None else budget
    return origami_level(game.attacker_reward, game.attacker_gap, k)


def max_coverage(
    game: SecurityGame, budget: float | None = None, *, tol: float = BR_TOL
) -> MaxCoverage:
    """The most coverage each target can have while being a best response.

    Parameters
    ----------
    game : SecurityGame
    budget : float, optional
        Resources to allocate; defaults to :math:`K` (the mechanism's pooled budget).
    tol : float
        Targets with :math:`r^a(t) \\ge u^* - \\text{tol}` count as attackable (a
        fraction of the attacker's payoff range: the walk runs in his standard units).
    """
    k = float(game.total_resources if budget is None else budget)
    standard = game.standard
    level = origami_level(standard.attacker_reward, standard.attacker_gap, k)
    coverage = need(standard.attacker_reward, standard.attacker_gap, level)
    attack_set = standard.attacker_reward >= level - tol
    coverage.setflags(write=False)
    attack_set.setflags(write=False)
    return MaxCoverage(
        level=game.units.attacker_utility(level),
        coverage=coverage,
        attack_set=attack_set,
        budget=k,
    )


def argmax_lowest(values: FloatArray, mask: np.ndarray, tol: float = UTILITY_TOL) -> int:
    """The lowest index among the masked entries within ``tol`` of the masked maximum."""
    masked = np.where(mask, values, -np.inf)
    return int(np.flatnonzero(masked >= masked.max() - tol)[0])


@dataclass(frozen=True, eq=False)
class StackelbergOutcome:
    """A strong Stackelberg outcome for one defender who controls the pooled resources.

    Attributes
    ----------
    defender : int
    target : int
        The attacked target: her favourite in the attack set (lowest index among ties).
    coverage : ndarray, shape (m,)
    defender_utility : ndarray, shape (n,)
        Every defender's utility :math:`U_j^d(c, t)` at this outcome.
    level : float
    method : str
    """

    defender: int
    target: int
    coverage: FloatArray
    defender_utility: FloatArray
    level: float
    method: str = "origami"


def utilities_at_max_coverage(game: SecurityGame, space: MaxCoverage) -> FloatArray:
    """:math:`U_i^d(x_t, t)` for every defender and target, shape (n, m); -inf off the
    attack set. This is the finite outcome set every Pareto-efficient mechanism picks from.
    """
    values = defender_utilities(game, space.coverage)
    return np.where(space.attack_set, values, -np.inf)


def single_defender_sse(game: SecurityGame, defender: int) -> StackelbergOutcome:
    """The strong Stackelberg outcome if ``defender`` controlled all :math:`K` resources.

    :math:`\\arg\\max_{t: r^a(t) \\ge u^*} U_i^d(x_t, t)` (``docs/solvers.md`` §2), ties
    broken by the lowest index. It is also the dictatorship mechanism's outcome
    (Gan et al. 2020, Section 4).
    """
    space = max_coverage(game)
    values = utilities_at_max_coverage(game, space)
    tol = UTILITY_TOL * float(game.units.defender_scale[defender])
    target = argmax_lowest(values[defender], space.attack_set, tol)
    return StackelbergOutcome(
        defender=defender,
        target=target,
        coverage=space.coverage,
        defender_utility=values[:, target].copy(),
        level=space.level,
    )
