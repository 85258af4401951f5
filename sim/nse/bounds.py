r"""Bounds on the best and the worst NSE utility of each defender (Property 2).

Strong and weak utility preservation compare an outcome with the best and the worst NSE
of the game. Where the extremes are computed exactly (:mod:`sim.nse.extremes`) the range
is exact; elsewhere the audits work with sound bounds (``docs/nse.md`` §3.3): targets
that are provably never attacked in an NSE (:func:`excluded_targets`), and per-defender
ranges whose inner sides are verified NSEs and whose outer sides are analytic
(:func:`nse_utility_range`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.errors import InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.nse.extremes import exact_extremes
from sim.nse.finder import NSEResult, compute_nse
from sim.nse.levels import level_bounds, level_bounds_apply
from sim.numerics import BR_TOL, ROUNDING_TOL, UTILITY_TOL
from sim.payoffs import utility
from sim.solvers.origami import need, origami_level


@dataclass(frozen=True, eq=False)
class NSEUtilityRange:
    """Per-defender bounds on the worst and the best NSE utility (Property 2).

    ``worst_low <= worst NSE utility <= worst_high`` and likewise for ``best``; a side
    is ``exact`` when its two bounds meet, as both do where the extremes are computed
    exactly (:func:`~sim.nse.extremes.nse_extremes`). Otherwise the high bound of the
    worst and the low bound of the best come from verified NSEs (certificates) and the
    other two are sound analytic bounds: every NSE keeps the attacker at or above the
    pooled ORIGAMI level (its coverage is feasible with K resources), and a defender's
    NSE utility is at least her best deviation value against the others' coverage.

    Attributes
    ----------
    worst_low, worst_high, best_low, best_high : ndarray, shape (n,)
    worst_exact, best_exact : ndarray of bool, shape (n,)
        Whether the two bounds meet to within ``UTILITY_TOL`` of the defender's range.
    witnesses : tuple of NSEResult
        The verified NSEs behind the certificates.
    scale : ndarray, shape (n,)
        Each defender's payoff range (:attr:`PayoffUnits.defender_scale`).
    """

    worst_low: FloatArray
    worst_high: FloatArray
    best_low: FloatArray
    best_high: FloatArray
    witnesses: tuple[NSEResult, ...]
    scale: FloatArray

    @property
    def worst_exact(self) -> np.ndarray:
        return np.asarray(np.abs(self.worst_high - self.worst_low) <= UTILITY_TOL * self.scale)

    @property
    def best_exact(self) -> np.ndarray:
        return np.asarray(np.abs(self.best_high - self.best_low) <= UTILITY_TOL * self.scale)


def excluded_targets(game: SecurityGame) -> np.ndarray:
    """Targets that are provably never attacked in any NSE, shape (m,) bool.

    Target :math:`\\tau` is excluded when some defender j with :math:`k_j \\ge 1` (a)
    keeps it out of every best-response set by covering it fully, whatever the others
    do: the other targets cannot all be pushed down to :math:`p^a(\\tau)` with the
    remaining :math:`K - 1` resources; and (b) prefers every other attackable target,
    even uncovered, to :math:`\\tau` even fully covered:
    :math:`r_j(\\tau) < \\min_{s \\ne \\tau, r^a(s) \\ge u^*_K} p_j(s)`. Then in any profile
    attacking :math:`\\tau` she gains by that deviation. This generalises the argument of
    Gan et al. 2020, Lemma 5.3 (targets a, c, e) and the proof of Theorem 3.3; a target
    with :math:`r^a(\\tau) < u^*_K` is excluded too.
    """
    game = game.standard  # the exclusions do not depend on the payoffs' units
    m = game.n_targets
    reward, gap, penalty = game.attacker_reward, game.attacker_gap, game.attacker_penalty
    pooled = origami_level(reward, gap, float(game.total_resources))
    attackable = reward >= pooled - BR_TOL
    out = ~attackable
    capable = game.resources >= 1
    for tau in np.flatnonzero(attackable):
        others = np.arange(m) != tau
        if np.any(penalty[others] > penalty[tau]):
            never_pushed = True
        else:
            cost = need(reward[others], gap[others], float(penalty[tau])).sum()
            never_pushed = bool(cost > game.total_resources - 1 + ROUNDING_TOL)
        rivals = others & attackable
        if not (never_pushed and rivals.any()):
            continue
        worst_rival = game.defender_penalty[:, rivals].min(axis=1)
        # she must be able to cover tau herself (jurisdictions)
        if np.any(capable & game.allowed[:, tau] & (game.defender_reward[:, tau] < worst_rival)):
            out[tau] = True
    return out


def nse_utility_range(
    game: SecurityGame, nse: NSEResult | None = None, *, witnesses: str = "all"
) -> NSEUtilityRange:
    """Bounds on each defender's worst and best NSE utility, labelled exact or bound.

    Parameters
    ----------
    game : SecurityGame
    nse : NSEResult, optional
        A verified NSE to use as a certificate (computed when not given).
    witnesses : {"all", "one"}
        ``"all"`` also looks for one verified NSE per target not excluded by
        :func:`excluded_targets` (tighter, m NSE computations); ``"one"`` uses one NSE.

    Notes
    -----
    Where :func:`~sim.nse.extremes.exact_extremes` settles the extremes (at most two
    defenders with resources, or more where the level ranges are attained) both sides
    are exact, each attained by a verified NSE. Elsewhere, ``docs/nse.md`` §3.3: in any
    NSE a defender's utility is :math:`v_i(\\tau, d_\\tau(u))` with :math:`u` in the
    range :func:`~sim.nse.levels.level_bounds` gives :math:`\\tau` where it applies,
    else at least the pooled level :math:`u^*_K` and at most :math:`r^a(\\tau)`; the
    ends of those ranges bound the best NSE from above and the worst from below (over
    the targets not excluded). Verified NSEs give the other two sides.
    """
    if witnesses not in ("all", "one"):
        raise InvalidParameterError(
            f"nse_utility_range.witnesses must be 'all' or 'one'; got {witnesses!r}"
        )
    scale = game.units.defender_scale
    ext = exact_extremes(game)
    if ext is not None:
        certificates = tuple({id(r): r for r in (*ext.best_nse, *ext.worst_nse)}.values())
        return NSEUtilityRange(ext.worst, ext.worst, ext.best, ext.best, certificates, scale)
    found = [compute_nse(game) if nse is None else nse]
    possible = ~excluded_targets(game)
    attacker = game.standard
    pooled = origami_level(
        attacker.attacker_reward, attacker.attacker_gap, float(game.total_resources)
    )
    lowest = np.full(game.n_targets, pooled)  # every NSE keeps the attacker at u*_K or above
    highest = attacker.attacker_reward.copy()  # and below the attacked target's reward
    if level_bounds_apply(game):  # tighter: the levels each target's NSEs can reach
        levels = level_bounds(game)
        possible &= levels.attacked
        lowest = np.where(levels.attacked, np.maximum(levels.low, pooled), lowest)
        highest = np.where(levels.attacked, levels.high, highest)
        found += levels.witnesses
    if witnesses == "all":
        seen = {r.attacked_target for r in found}
        for tau in np.flatnonzero(possible):
            if int(tau) not in seen:
                found.append(compute_nse(game, targets=[int(tau)]))
    verified = tuple(r for r in found if r.verified)
    least = need(attacker.attacker_reward, attacker.attacker_gap, highest)
    most = need(attacker.attacker_reward, attacker.attacker_gap, lowest)
    worst_case = utility(game.defender_penalty, game.defender_gap, least)
    best_case = utility(game.defender_penalty, game.defender_gap, most)
    best_high = np.where(possible, best_case, -np.inf).max(axis=1)
    worst_low = np.where(possible, worst_case, np.inf).min(axis=1)
    if verified:
        utilities = np.array([r.defender_utility for r in verified])
        worst_high, best_low = utilities.min(axis=0), utilities.max(axis=0)
    else:
        worst_high, best_low = best_high.copy(), worst_low.copy()
    return NSEUtilityRange(worst_low, worst_high, best_low, best_high, verified, scale)
