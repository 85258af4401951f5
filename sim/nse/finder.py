r"""Compute a verified Nash–Stackelberg equilibrium of uncoordinated play.

The status quo of Gan et al. 2020 (Definition 2.1; the 0+-NSE of Gan, Elkind,
Wooldridge 2018). The finder follows ``docs/nse.md`` §1.3 and §2:

* In an NSE with attacked target :math:`\tau` and attacker level :math:`u`, every target
  with :math:`r^a(t) > u` is covered exactly :math:`d_t(u) = (r^a(t) - u)/\Delta^a(t)`,
  each defender covers only targets she likes no better than :math:`\tau` (condition A),
  and she spends her whole budget unless the level is the floor :math:`\max_t p^a(t)`
  and rule B allows spare resources (with jurisdictions rule B can allow them at any
  level, ``docs/jurisdictions.md`` §3).
* For a fixed :math:`(\tau, u)` the coverage of a target is split between the defenders
  allowed on it by the *canonical maximum-waste split*
  :math:`c^i_t = (1 - \pi_t / \mu_i)^+` with :math:`\prod_i (1 - c^i_t) = 1 - d_t(u)`
  (water-filling in closed form, weights :math:`\mu`).
* The interior phase solves :math:`s_i(\mu, u) = k_i` for :math:`(\mu, u)` by damped
  Newton with the split's analytic Jacobian (:mod:`sim.nse.split`); this finds
  almost every NSE, in about five steps. The floor phase solves the budgets at
  :math:`u = \max_t p^a(t)` for :math:`\mu`, and later passes repeat both from other
  fixed starting points, on every candidate target at once; all of it is
  deterministic.
* An NSE outside the canonical family (less than maximum waste) is found by the
  exact split (:mod:`sim.nse.exact`): at the floor, batched among the quick stages
  and then with every choice of owners, and in each structural cell between
  breakpoints (at its middle, then with the level free inside it, where the system
  is smooth).
* Every candidate is certified by the exact oracle :func:`~sim.solvers.nse_violation`;
  an unverified profile is never returned (the result's ``status`` says so instead).

This is a practical algorithm (nonlinear root-finding, no proof of polynomial time);
its success rate is measured in ``tests/test_nse.py`` and reported in the issue note.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from sim.errors import InvalidParameterError
from sim.game import FloatArray, PayoffUnits, SecurityGame
from sim.nse.exact import exact_split
from sim.nse.kernel import (
    FLOOR,
    NEWTON_LOW,
    CandidateOrder,
    ReportNSEs,
    Stage,
    candidate_blocks,
    clean,
    fixed_level,
    newton,
    propose,
    quick_stages,
    resolve,
    tiers,
)
from sim.nse.split import (
    Games,
    structure,
)
from sim.numerics import (
    ATTACK_MARGIN,
    BR_TOL,
    GAIN_TOL,
    ROUNDING_TOL,
)
from sim.payoffs import target_utility, utility
from sim.sampling import CombSupport, comb_support
from sim.solvers.deviation import (
    NSEViolation,
    ProfileGains,
    certificate,
    combined_coverage,
    profile_gains,
)
from sim.solvers.origami import need, origami_level

NSEStatus = Literal["verified", "failed"]


@dataclass(frozen=True, eq=False)
class NSEResult:
    """An NSE of the uncoordinated game, or a failure with diagnostics.

    Attributes
    ----------
    coverage : ndarray, shape (n, m)
        Each defender's own coverage :math:`c^i` (all zeros on failure).
    attacked_target : int
        :math:`\\tau` (-1 on failure).
    attacker_level : float
        :math:`u = U^a(\\mathrm{cov}(X), \\tau)`.
    defender_utility : ndarray, shape (n,)
        :math:`U_i^d(X, \\tau)`.
    status : {"verified", "failed"}
    phase : str
        Which construction found it: ``"single"``, ``"idle"``, ``"floor"``,
        ``"interior"``, ``"pooled"``, ``"fallback"`` (an exact split at a fixed level)
        or ``"cells"`` (an exact split in a structural cell, at its middle or with the
        level free).
    violation : NSEViolation | None
        The oracle's certificate (gain <= tol when verified).
    attempts : int
        How many (phase, target) candidates were tried.
    """

    coverage: FloatArray
    attacked_target: int
    attacker_level: float
    defender_utility: FloatArray
    status: NSEStatus
    phase: str
    violation: NSEViolation | None = None
    attempts: int = 0
    diagnostics: tuple[str, ...] = field(default=())

    @property
    def total_coverage(self) -> FloatArray:
        """Eq. (2): the combined coverage, shape (m,)."""
        return combined_coverage(self.coverage)

    @property
    def verified(self) -> bool:
        """Whether the oracle certified this profile as an NSE."""
        return self.status == "verified"


#: Levenberg-Marquardt iterations of the exact splits at the middles of the structural
#: cells (:func:`~sim.nse.exact.exact_split`, every cell at once).
CELL_ITERATIONS = 10

#: Levenberg-Marquardt iterations of the last exact splits: every choice of owners at
#: the floor, and every cell with its level free.
LAST_ITERATIONS = 400

#: At most this many choices of owners of the fully demanded targets are tried at the
#: floor (:func:`_floor_fallback`).
OWNER_CHOICES = 64

#: Starting points of the later passes, tried pass by pass over every candidate at
#: once: (log-weight pattern, level fraction, iteration budget). The interior phase is
#: the kernel's Newton across orphan targets (:func:`~sim.nse.kernel.newton`), the
#: floor and pooled phases its Gauss-Newton at a fixed level
#: (:func:`~sim.nse.kernel.fixed_level`); a pass runs only when no target verified
#: in the earlier ones, and at the floor the first pass is a quick stage.
_PASSES: tuple[tuple[str, float, int], ...] = (
    ("flat", 0.5, 20),
    ("rising", 0.1, 75),
    ("falling", 0.9, 75),
    ("flat", 0.02, 150),
)


def _verify(
    game: SecurityGame, profile: FloatArray, tau: int
) -> tuple[bool, NSEViolation, ProfileGains]:
    """The oracle on a cleaned candidate: (verified, its certificate, its arrays)."""
    found = profile_gains(
        game, game.defender_penalty[None], game.defender_gap[None], profile[None], np.array([tau])
    )
    violation = certificate(found)
    return violation.gain <= GAIN_TOL, violation, found


def _floor_fallback(
    game: SecurityGame, games: Games, tau: int, active: np.ndarray
) -> Iterator[FloatArray]:
    """Floor-level exact splits, trying every owner of each fully demanded target (up to
    :data:`OWNER_CHOICES` choices, all at once)."""
    u = float(game.attacker_penalty.max())
    if game.attacker_reward[tau] < u:
        return
    st = structure(game, tau, u)
    full = np.flatnonzero(st.demand >= 1.0)
    choices = [np.flatnonzero(st.allowed[active, t]) for t in full]
    combos = np.array(list(itertools.islice(itertools.product(*choices), OWNER_CHOICES)))
    owner = np.full((len(combos), game.n_targets), -1, dtype=np.int64)
    owner[:, full] = combos.reshape(len(combos), full.size)
    rows = np.zeros(len(combos), dtype=np.int64)
    done, profiles = exact_split(
        games,
        rows,
        np.full(rows.size, tau),
        np.full(rows.size, u),
        owner,
        max_iter=LAST_ITERATIONS,
    )
    yield from clean(profiles[done], game.resources)


def _breakpoints(game: SecurityGame, tau: int, low: float, high: float) -> FloatArray:
    """Levels in (low, high) where the structure at (tau, u) can change (``docs/nse.md`` §2.1):
    a target's reward (it enters the attack set) or a defender's indifference between
    a target and tau, which is linear in u."""
    reward, gap = game.attacker_reward, game.attacker_gap
    slope = game.defender_gap / gap  # d/du of v_i(t, d_t(u)) is -slope
    level = game.defender_penalty + reward * slope
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = (level - level[:, [tau]]) / (slope - slope[:, [tau]])
    points = np.concatenate((reward, cross[np.isfinite(cross)]))
    return np.unique(points[(points > low) & (points < high)])


def _result(
    game: SecurityGame,
    profile: FloatArray,
    tau: int,
    phase: str,
    violation: NSEViolation | None,
    found: ProfileGains,
    attempts: int,
    units: PayoffUnits,
) -> NSEResult:
    """The result of a verified candidate (``found``: the oracle's arrays for it), its
    certificate in ``units`` (those of the game whose standard form ``game`` is;
    ``violation``, the certificate in standard units, where known)."""
    c, value = found.coverage[0], found.own[0].copy()
    level = float(game.attacker_reward[tau] - c[tau] * game.attacker_gap[tau])
    profile.setflags(write=False)
    value.setflags(write=False)
    if violation is None or not units.identity:
        violation = certificate(found, None if units.identity else units)
    return NSEResult(profile, tau, level, value, "verified", phase, violation, attempts)


def _staged(
    games: Games, block: Sequence[int], stage: Stage, pooled: float
) -> Iterator[tuple[str, int, FloatArray | None]]:
    """One kernel stage on a block of candidate targets, as proposals."""
    taus = np.array(block, dtype=np.int64)
    done, profiles = propose(games, np.zeros(taus.size, dtype=np.int64), taus, stage, pooled)
    for j, tau in enumerate(taus):
        yield stage.phase, int(tau), profiles[j] if done[j] else None


def _proposals(
    game: SecurityGame,
    games: Games,
    candidates: list[int],
    active: np.ndarray,
    pooled: float,
    floor_game: bool,
    alone: int,
) -> Iterator[tuple[str, int, FloatArray | None]]:
    """Candidate profiles (phase, attacked target, profile or None) after the quick
    stages, cheapest first.

    See :func:`find_nse`, steps 3-5. Lazy: nothing after the first verified profile is
    computed.
    """
    if not floor_game:  # the interior rescue the batch of reports leaves out
        for block in candidate_blocks(len(candidates), alone):
            yield from _staged(games, candidates[block], NEWTON_LOW, pooled)
    # then the exact splits, which the canonical family cannot express: at the floor
    # (each owner of a fully demanded target), at the middle of every structural cell
    # at once; the later passes; and last the cells with a free level
    if floor_game:
        for tau in candidates:
            for profile in _floor_fallback(game, games, tau, active):
                yield "fallback", tau, profile
    cells = _cells(game, candidates, pooled)
    taus = np.array([tau for tau, _, _ in cells], dtype=np.int64)
    middles = np.array([0.5 * (low + high) for _, low, high in cells])
    rows = np.zeros(taus.size, dtype=np.int64)
    if cells:
        done, profiles = exact_split(games, rows, taus, middles, max_iter=CELL_ITERATIONS)
        profiles = clean(profiles, game.resources)
        for j, tau in enumerate(taus):
            yield "cells", int(tau), profiles[j] if done[j] else None
    yield from _later_passes(game, games, candidates, pooled, floor_game)
    if not cells:
        return
    lows = np.array([low for _, low, _ in cells])
    highs = np.array([high for _, _, high in cells])
    done, profiles = exact_split(games, rows, taus, lows, high=highs, max_iter=LAST_ITERATIONS)
    profiles = clean(profiles, game.resources)
    for j, tau in enumerate(taus):
        yield "cells", int(tau), profiles[j] if done[j] else None


def _later_passes(
    game: SecurityGame, games: Games, candidates: list[int], pooled: float, floor_game: bool
) -> Iterator[tuple[str, int, FloatArray | None]]:
    """The kernel's solves from the other starting points of :data:`_PASSES`, each on
    every candidate at once (the first pass at the floor is a quick stage)."""
    phases = ("floor", "interior") if floor_game else ("interior", "pooled")
    taus = np.array(candidates, dtype=np.int64)
    rows = np.zeros(taus.size, dtype=np.int64)
    for (pattern, level, budget), phase in itertools.product(_PASSES, phases):
        if (pattern, level, budget) == _PASSES[0] and phase == "floor":
            continue  # a quick stage
        if phase == "interior":
            done, profiles = newton(
                games,
                rows,
                taus,
                pooled,
                start=level,
                weights=pattern,
                orphans=True,
                max_iter=budget,
            )
        else:
            u = float(game.attacker_penalty.max()) if phase == "floor" else pooled
            done, profiles = fixed_level(
                games, rows, taus, u, floor=phase == "floor", start=pattern, max_iter=budget
            )
        profiles = clean(profiles, game.resources)
        for j, tau in enumerate(candidates):
            yield phase, tau, profiles[j] if done[j] else None


def _cells(
    game: SecurityGame, candidates: list[int], pooled: float
) -> list[tuple[int, float, float]]:
    """The structural cells (tau, low, high) of every candidate: the intervals of levels
    between u*_K, the breakpoints (:func:`_breakpoints`) and r^a(tau)."""
    cells = []
    for tau in candidates:
        top = float(game.attacker_reward[tau])
        cells += [
            (tau, float(low), float(high))
            for low, high in itertools.pairwise(edges(game, tau, pooled, top))
            if high - low > ROUNDING_TOL
        ]
    return cells


def edges(game: SecurityGame, tau: int, low: float, high: float) -> FloatArray:
    """The edges of the structural cells of [low, high] attacking ``tau``: its ends and
    the breakpoints between them (:func:`_breakpoints`)."""
    return np.concatenate(([low], _breakpoints(game, tau, low, high), [high]))


#: The finder solves the attackable subgame when at most this share of the targets
#: reaches the pooled level; with more, building the subgame costs more than the
#: targets it drops save (``docs/nse.md`` §1.4).
SUBGAME_SHARE = 0.5


_CACHE: OrderedDict[tuple[bytes, tuple[int, ...] | None, bool], NSEResult] = OrderedDict()
_CACHE_SIZE = 2048


def compute_nse(
    game: SecurityGame, *, targets: Sequence[int] | None = None, quick: bool = False
) -> NSEResult:
    """A verified NSE of ``game`` (see :func:`find_nse`), memoised per game.

    Results are immutable, and mechanisms, audits and simulations ask for the NSE of
    the same game many times, so the last ``_CACHE_SIZE`` results are kept.
    """
    base = (game.key(), None if targets is None else tuple(sorted(int(t) for t in targets)))
    full = (*base, False)
    for key in (full, (*base, True)) if quick else (full,):
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    result = find_nse(game, targets=targets, quick=quick)
    key = (*base, quick)
    _CACHE[key] = result
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return result


def clear_nse_cache() -> None:
    """Empty the :func:`compute_nse` memo (benchmarks time the uncached solver)."""
    _CACHE.clear()


def find_nse(
    game: SecurityGame, *, targets: Sequence[int] | None = None, quick: bool = False
) -> NSEResult:
    """A verified NSE of ``game`` (Definition 2.1), deterministic for a given game.

    It is found in the game's standard form (:attr:`SecurityGame.standard`: an NSE
    is invariant to a positive affine map of each player's payoffs), so it does not
    depend on the payoffs' units; utilities and the certificate are reported in them.

    Steps
    -----
    1. No resources anywhere: every best response to zero coverage is an NSE; take the
       lowest index.
    2. One defender with resources: her Stackelberg outcome with her own budget
       (ORIGAMI plus her favourite attackable target; ``docs/nse.md`` §1.3, test T7).
    3. Over the attackable targets in a deterministic order of promise
       (:func:`~sim.nse.kernel.candidate_orders`), in blocks: the kernel's quick
       stages (:func:`~sim.nse.kernel.quick_stages`, run by the driver of the batch
       of reports, :func:`~sim.nse.kernel.resolve`), Newton's interior solves
       (:func:`~sim.nse.kernel.newton`, u above the pooled level, below which no
       profile reaches), and the floor passes and exact floor splits when the pooled
       ORIGAMI level is the floor (u = max p^a). In any other game Newton from a low
       level follows (:data:`~sim.nse.kernel.NEWTON_LOW`; not a quick stage).
    4. The exact splits (:func:`~sim.nse.exact.exact_split`, less waste than any
       canonical split): at the floor in a floor game (each owner of a fully covered
       target), then at the middle of every structural cell between breakpoints at
       once. The cells replace a grid of levels, which they subsume (a grid misses
       narrow cells).
    5. Later passes from several starting points, each on every candidate at once:
       the floor phase then the interior phase (Newton across orphan targets) in a
       floor game, otherwise the interior phase and then the pooled level itself (a
       waste-free NSE); last, every cell with its level free.
    6. The first candidate the oracle certifies is returned; none: ``status="failed"``.

    ``targets`` restricts the attacked target to those given (used to collect one
    witness NSE per target for :func:`nse_utility_range`). ``quick`` runs only the
    kernel's stages (:func:`~sim.nse.kernel.quick_stages`: for searches that
    evaluate thousands of reported games, in a batch, and can skip the rare game they
    miss); a quick failure is never cached as final.
    """
    if game.attacker_resources != 1:
        raise InvalidParameterError(
            f"find_nse: the NSE is defined against one attack (Gan et al. 2020, "
            f"Definition 2.1); got attacker_resources={game.attacker_resources} (the "
            f"status quo of defenders who plan for one attack is game.one_attack's NSE)"
        )
    if game.schedules is not None:
        raise InvalidParameterError(
            "find_nse: the NSE is defined for resources that guard one target each (Gan "
            "et al. 2020); this game's resources guard schedules (game.schedules), for "
            "which only the pooled Stackelberg strategy is solved (schedule_sse)"
        )
    return _in_units(game, _find(game.standard, targets, quick, game.units))


def _in_units(game: SecurityGame, result: NSEResult) -> NSEResult:
    """``result``, found in ``game``'s standard form, with its level and utilities in
    ``game``'s units."""
    if game.standard is game or not result.verified:
        return result
    tau = result.attacked_target
    c = float(result.total_coverage[tau])
    utility = target_utility(game, tau, c)
    utility.setflags(write=False)
    return dataclasses.replace(
        result,
        attacker_level=float(game.attacker_reward[tau] - c * game.attacker_gap[tau]),
        defender_utility=utility,
    )


def certify(game: SecurityGame, profile: FloatArray, tau: int, phase: str) -> NSEResult | None:
    """``profile`` (each defender's coverage, shape (n, m)) attacking ``tau`` as a
    verified NSE of ``game``, in its units, or None when the oracle finds a gain."""
    standard = game.standard
    profile = clean(np.asarray(profile, dtype=np.float64), standard.resources)
    ok, violation, found = _verify(standard, profile, tau)
    if not ok:
        return None
    return _in_units(game, _result(standard, profile, tau, phase, violation, found, 1, game.units))


def _find(
    game: SecurityGame, targets: Sequence[int] | None, quick: bool, units: PayoffUnits
) -> NSEResult:
    """:func:`find_nse` of a standard game (its certificate in ``units``), solved on the
    targets whose reward reaches the pooled level when they are at most
    :data:`SUBGAME_SHARE` of them: no other target is a best response to any coverage
    the defenders can afford, so no other matters (``docs/nse.md`` §1.4)."""
    pooled = origami_level(game.attacker_reward, game.attacker_gap, float(game.total_resources))
    keep = game.attacker_reward >= pooled - ATTACK_MARGIN
    if np.count_nonzero(keep) > SUBGAME_SHARE * game.n_targets:
        return _find_attackable(game, targets, quick, units, pooled, np.arange(game.n_targets))
    names = np.flatnonzero(keep)
    inside = None if targets is None else np.flatnonzero(np.isin(names, targets)).tolist()
    found = _find_attackable(game.on_targets(keep), inside, quick, units, pooled, names)
    coverage = np.zeros((game.n_defenders, game.n_targets))
    coverage[:, keep] = found.coverage
    coverage.setflags(write=False)
    if found.violation is None:  # failed
        return dataclasses.replace(found, coverage=coverage)
    return dataclasses.replace(
        found,
        coverage=coverage,
        attacked_target=int(names[found.attacked_target]),
        violation=found.violation.relabelled(names),
    )


def _find_attackable(
    game: SecurityGame,
    targets: Sequence[int] | None,
    quick: bool,
    units: PayoffUnits,
    pooled: float,
    names: np.ndarray,
) -> NSEResult:
    """:func:`_find` on a game every target of which reaches ``pooled``; its target
    ``j`` is named ``names[j]`` in the diagnostics."""
    allowed_targets = None if targets is None else {int(t) for t in targets}
    n, m = game.n_defenders, game.n_targets
    active = game.resources > 0
    attempts = 0
    profile: FloatArray | None
    if not active.any():
        profile = np.zeros((n, m))
        reward = game.attacker_reward
        tied = [int(t) for t in np.flatnonzero(reward >= reward.max() - BR_TOL)]
        tied = [t for t in tied if allowed_targets is None or t in allowed_targets]
        if tied:
            ok, violation, found = _verify(game, profile, tied[0])
            if ok:
                return _result(game, profile, tied[0], "idle", violation, found, 1, units)
    if active.sum() == 1 and allowed_targets is None and not game.restricted:
        i = int(np.flatnonzero(active)[0])
        level = origami_level(game.attacker_reward, game.attacker_gap, float(game.resources[i]))
        cover = need(game.attacker_reward, game.attacker_gap, level)
        attackable = game.attacker_reward >= level - BR_TOL
        value = np.where(
            attackable, utility(game.defender_penalty[i], game.defender_gap[i], cover), -np.inf
        )
        tau = int(np.flatnonzero(value >= value.max() - ROUNDING_TOL)[0])
        profile = np.zeros((n, m))
        profile[i] = cover
        ok, violation, found = _verify(game, profile, tau)
        attempts += 1
        if ok:
            return _result(game, profile, tau, "single", violation, found, attempts, units)
    games = Games.single(game)
    order = CandidateOrder(games, pooled, allowed_targets)
    # the kernel's quick stages by the driver of the batch of reports (a batch of one;
    # with one stage per tier the second candidate is tried alone too). Every NSE
    # keeps the attacker at or above the pooled level (its coverage is feasible with K
    # resources), so the floor is reachable only when it is the pooled level
    first = np.array([max(order.first, 0)], dtype=np.int64)
    stages = quick_stages(games, np.zeros(1, np.int64), first, pooled)
    alone = 2 if all(tier.stop - tier.start <= 1 for tier in tiers(stages)) else 1
    quick_found = ReportNSEs.empty(1, n, m, keep=True)
    orders = first[None, : order.count]
    resolve(games, orders, stages, pooled, quick_found, alone, order)
    attempts += int(quick_found.attempts[0])
    if quick_found.kept:
        profile, gains = quick_found.kept[0]
        tau, phase = int(quick_found.attacked_target[0]), stages[0, quick_found.stage[0]].phase
        return _result(game, profile, tau, phase, None, gains, attempts, units)
    notes = [f"quick stages: {int(quick_found.attempts[0])} proposals, none verified"]
    floor_game = FLOOR in list(stages[0])
    later = (
        _proposals(game, games, order.all().tolist(), active, pooled, floor_game, alone)
        if order.count and not quick
        else ()
    )
    for phase, tau, profile in later:
        attempts += 1
        if profile is None:
            continue
        ok, violation, found = _verify(game, profile, tau)
        if ok:
            return _result(game, profile, tau, phase, violation, found, attempts, units)
        notes.append(f"{phase} tau={names[tau]}: {violation.relabelled(names).reason}")
    empty = np.zeros((n, m))
    empty.setflags(write=False)
    return NSEResult(
        coverage=empty,
        attacked_target=-1,
        attacker_level=float("nan"),
        defender_utility=np.full(n, np.nan),
        status="failed",
        phase="none",
        violation=None,
        attempts=attempts,
        diagnostics=tuple(notes[-10:]),
    )


def nse_strategies(result: NSEResult, resources: ArrayLike) -> list[CombSupport]:
    """Each defender's NSE coverage as her own mixed strategy (comb sampling).

    Defenders randomise independently in uncoordinated play, so sampling each
    :math:`c^i` with her own offset reproduces eq. (2) (``docs/nse.md`` §5.3).
    """
    k = np.asarray(resources, dtype=np.int64)
    return [comb_support(row, int(k_i)) for row, k_i in zip(result.coverage, k, strict=True)]
