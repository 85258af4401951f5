r"""The finite outcome space every coordinated mechanism chooses from.

``docs/solvers.md`` §2: for a fixed attacked target t every defender's utility rises
with :math:`c_t` only, and the largest :math:`c_t` compatible with t being a best
response, :math:`x_t`, is realised for every t at once by :math:`\mathrm{need}(u^*)`.
So every mechanism here picks a column of the matrix
:math:`V_{it} = U_i^d(x_t, t)` over the attack set: an argmax in closed form. The
``lp`` backend computes the same columns with one HiGHS LP per target (the paper's
LP-t, eq. 4) and is the differential reference.

With jurisdictions (``docs/jurisdictions.md`` §4) the pooled coverage must be one the
defenders' own resources implement: :math:`c_t = \sum_i x_{it}` with shares
:math:`x_{it} \ge 0` only where defender i may guard t, :math:`\sum_t x_{it} \le k_i`
and :math:`c_t \le 1`. No single vector realises every :math:`x_t` any more, so LP-t
becomes a flow LP over the shares, one per target (:func:`lp_space`), which
:func:`outcome_space` uses and caches per attacker, resources and mask; the shares
give each outcome's recommendation.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linprog

from sim.errors import SolverFailedError
from sim.game import FloatArray, SecurityGame
from sim.numerics import ROUNDING_TOL, UTILITY_TOL
from sim.payoffs import target_utility
from sim.solvers import max_coverage, utilities_at_max_coverage

#: The ways to compute the outcome space: closed form (default) or LP-t per target.
BACKENDS = ("closed_form", "lp")


def lexicographic_argmax(
    keys: Sequence[FloatArray],
    valid: np.ndarray,
    units: Sequence[ArrayLike] | None = None,
) -> np.ndarray:
    """Per row, the lowest index maximising ``keys[0]``, ties broken by ``keys[1]``, ...

    Parameters
    ----------
    keys : sequence of ndarray, shape (b, m)
    valid : ndarray of bool, shape (b, m) or (m,)
        Rows with no valid entry get -1.
    units : sequence of array_like, optional
        Each key's unit per row (shape (b,) or scalar; default 1): values within
        ``UTILITY_TOL`` units of the row maximum are ties (never an accident of
        argmax), so the choice does not depend on the payoffs' units.
    """
    mask = np.broadcast_to(valid, keys[0].shape).copy()
    scales = [1.0] * len(keys) if units is None else units
    for key, unit in zip(keys, scales, strict=True):
        tol = UTILITY_TOL * np.reshape(np.asarray(unit, dtype=np.float64), (-1, 1))
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
    shares : ndarray, shape (m, n, m), or None
        With jurisdictions, ``shares[t]`` splits ``coverage[t]`` between the defenders
        within their jurisdictions (None without: any split of the pooled resources
        implements it).
    """

    values: FloatArray
    feasible: np.ndarray
    coverage: FloatArray
    shares: FloatArray | None = None


def closed_form_space(game: SecurityGame) -> OutcomeSpace:
    """The outcome space in O(m log m + nm): one vector realises every :math:`x_t`."""
    space = max_coverage(game)
    values = utilities_at_max_coverage(game, space)
    coverage = np.broadcast_to(space.coverage, (game.n_targets, game.n_targets))
    return OutcomeSpace(values, space.attack_set.copy(), coverage)


def outcome_space(game: SecurityGame) -> OutcomeSpace:
    """The outcome space every mechanism and audit uses: in closed form
    (:func:`closed_form_space`), or with jurisdictions by the flow LP
    (:func:`lp_space`), whose coverage is cached (it does not depend on the
    defenders' payoffs, so a misreport search solves it once)."""
    if not game.restricted:
        return closed_form_space(game)
    key = b"|".join(
        a.tobytes()
        for a in (game.attacker_reward, game.attacker_penalty, game.resources, game.allowed)
    )
    cached = _FLOW_CACHE.get(key)
    if cached is None:
        cached = lp_space(game)
        _FLOW_CACHE[key] = cached
        if len(_FLOW_CACHE) > _FLOW_CACHE_SIZE:
            _FLOW_CACHE.popitem(last=False)
    else:
        _FLOW_CACHE.move_to_end(key)
    values = np.full((game.n_defenders, game.n_targets), -np.inf)
    for t in np.flatnonzero(cached.feasible):
        values[:, t] = target_utility(game, int(t), cached.coverage[t, t])
    return OutcomeSpace(values, cached.feasible, cached.coverage, cached.shares)


_FLOW_CACHE: OrderedDict[bytes, OutcomeSpace] = OrderedDict()
_FLOW_CACHE_SIZE = 256


def lp_space(game: SecurityGame, floor: FloatArray | None = None) -> OutcomeSpace:
    """The outcome space by the paper's LP-t (eq. 4), one HiGHS LP per target.

    ``floor`` (shape (n,)) adds constraint (4a), :math:`U_i^d(c, t) \\ge` floor_i; the
    objective :math:`\\sum_i U_i^d(c, t)` is increasing in :math:`c_t` only, so LP-t
    maximises :math:`c_t` subject to (4a)-(4d).

    Without jurisdictions the variables are the pooled coverage (4c: at most K in
    all). With them they are the shares :math:`x_{it}` of the defenders with
    resources on their allowed targets, :math:`c = P x`, with one budget row per
    defender and :math:`c_t \\le 1` (the flow LP of ``docs/jurisdictions.md`` §4).
    """
    n, m = game.n_defenders, game.n_targets
    gap, reward = game.attacker_gap, game.attacker_reward
    if game.restricted:
        owner, target_of = np.nonzero(game.allowed & (game.resources > 0)[:, None])
        budgets = game.resources.astype(np.float64)
    else:  # one pooled owner of every target
        owner, target_of = np.zeros(m, dtype=np.int64), np.arange(m)
        budgets = np.array([float(game.total_resources)])
    size = owner.size
    # c = to_target @ x; one spare zero column keeps the LP well formed without shares
    to_target = np.zeros((m, size + 1))
    to_target[target_of, np.arange(size)] = 1.0
    budget_rows = np.zeros((budgets.size, size + 1))
    budget_rows[owner, np.arange(size)] = 1.0  # (4c), per owner
    extra_rows = [budget_rows, to_target] if game.restricted else [budget_rows]
    extra_rhs = [budgets, np.ones(m)] if game.restricted else [budgets]
    values = np.full((n, m), -np.inf)
    feasible = np.zeros(m, dtype=bool)
    coverage = np.zeros((m, m))
    shares = np.zeros((m, n, m)) if game.restricted else None
    for t in range(m):
        others = np.arange(m) != t
        # (4b): r(s) - gap(s) c(s) <= r(t) - gap(t) c(t) for every s != t
        rows = [-gap[others, None] * to_target[others] + gap[t] * to_target[t]]
        rhs = [reward[t] - reward[others]]
        if floor is not None:  # (4a): p_i(t) + c_t gap_i(t) >= floor_i
            low = float(np.max((floor - game.defender_penalty[:, t]) / game.defender_gap[:, t]))
            if low > 1.0 + ROUNDING_TOL:
                continue
            rows.append(-to_target[t][None])
            rhs.append(np.array([-min(max(low, 0.0), 1.0)]))
        result = linprog(
            -to_target[t],
            A_ub=np.vstack([*rows, *extra_rows]),
            b_ub=np.concatenate([*rhs, *extra_rhs]),
            bounds=(0.0, 1.0),  # (4d)
        )
        if result.status == 2:
            continue
        if result.status != 0:
            raise SolverFailedError(f"HiGHS failed on LP-{t}: {result.message}")
        x = np.clip(result.x, 0.0, 1.0)
        feasible[t] = True
        coverage[t] = np.minimum(to_target @ x, 1.0)
        if shares is not None:
            np.add.at(shares[t], (owner, target_of), x[:size])
        values[:, t] = target_utility(game, t, coverage[t, t])
    return OutcomeSpace(values, feasible, coverage, shares)
