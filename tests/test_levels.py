"""The level ranges of the NSEs attacking each target, and the extremes they settle for
three defenders (sim/nse/levels.py, docs/nse.md §3.3)."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from sim.errors import InvalidParameterError
from sim.game import SecurityGame
from sim.generators import make_generator
from sim.nse import compute_nse, exact_extremes, nse_utility_range
from sim.nse.extremes import nse_extremes
from sim.nse.levels import _CACHE as _LEVELS_CACHE
from sim.nse.levels import (
    _certificate,
    _Faces,
    _fails,
    level_bounds,
    level_bounds_apply,
)
from sim.nse.split import Structure, structure, water_fill
from sim.solvers.origami import need

from strategies import examples, games
from tests_support import grid_nses


def _three_identical() -> SecurityGame:
    """Three identical defenders with a resource each, four targets the attacker
    values alike (the three-defender analogue of docs/nse.md T4)."""
    return SecurityGame(
        defender_reward=[[4, 3, 2, 1]] * 3,
        defender_penalty=[[-1, -2, -3, -4]] * 3,
        attacker_reward=[1, 1, 1, 1],
        attacker_penalty=[0, 0, 0, 0],
        resources=[1, 1, 1],
    )


def test_three_identical_defenders_have_exact_ends():
    """Every target has the same coverage c in an NSE, and only target 0 (liked best
    by all) can be attacked, so each defender gets -1 + 5c. The worst: each puts 1/4
    on every target, c = 1 - (3/4)^3 = 37/64, worth 121/64. The best: each puts
    1 - x on target 0 and x on a target of her own, with 1 - x^3 = x (the root of
    x^3 + x - 1), worth -1 + 5x; a chain of shared targets reaches only c = 2/3."""
    game = _three_identical()
    ext = exact_extremes(game)
    assert ext is not None
    x = next(r.real for r in np.roots([1.0, 0.0, 1.0, -1.0]) if abs(r.imag) < 1e-12)
    np.testing.assert_allclose(ext.worst, 121 / 64, atol=1e-9)
    np.testing.assert_allclose(ext.best, -1.0 + 5.0 * x, atol=1e-9)
    assert ext.worst_welfare == pytest.approx(3 * 121 / 64, abs=1e-9)
    assert ext.best_welfare == pytest.approx(3 * (-1.0 + 5.0 * x), abs=1e-9)
    assert [tau for tau, _, _ in ext.levels] == [0]
    for found in (*ext.best_nse, *ext.worst_nse):
        assert found.verified
    the_range = nse_utility_range(game)
    assert the_range.best_exact.all() and the_range.worst_exact.all()


@settings(max_examples=examples(40), deadline=None)
@given(games(max_defenders=3, max_targets=4, max_resources=2))
def test_two_defenders_ranges_are_the_exact_levels(game):
    """With two defenders holding resources the tests of §3.3 are Lemma 1's
    conditions, so the ranges are the exact method's (a different construction), and
    both ends are attained by verified NSEs."""
    assume(np.count_nonzero(game.resources) in (1, 2) and level_bounds_apply(game))
    ext = nse_extremes(game)
    found = level_bounds(game)
    assert sorted(tau for tau, _, _ in ext.levels) == list(np.flatnonzero(found.attacked))
    scale = game.units.defender_scale
    for tau, low, high in ext.levels:
        for mine, theirs in ((found.at_low[tau], low), (found.at_high[tau], high)):
            assert mine is not None and mine.verified
            assert np.all(np.abs(mine.defender_utility - theirs.defender_utility) <= 1e-9 * scale)


def _levels_of(game: SecurityGame) -> list[tuple[int, float]]:
    """(attacked target, level in standard units) of every verified NSE that other
    methods find: the finder, the finder per target, and the exact splits at 41
    levels from u*_K to each target's reward."""
    standard = game.standard
    found = [compute_nse(game), *(compute_nse(game, targets=[t]) for t in range(game.n_targets))]
    found += grid_nses(game)
    out = []
    for r in found:
        if r.verified:
            t = r.attacked_target
            out.append(
                (t, standard.attacker_reward[t] - r.total_coverage[t] * standard.attacker_gap[t])
            )
    return out


@settings(max_examples=examples(40), deadline=None)
@given(games(max_defenders=3, max_targets=4, max_resources=2))
@example(game=_three_identical())
def test_no_nse_lies_beyond_the_ranges(game):
    """Every NSE another method finds attacks a target of the ranges at a level
    within its range, and where the extremes are settled its utilities lie between
    the worst and the best."""
    assume(level_bounds_apply(game))
    found = level_bounds(game)
    for r in found.witnesses:
        assert r.verified
    ext = exact_extremes(game)
    bounds = nse_utility_range(game, witnesses="one")
    tol = 1e-9
    for tau, u in _levels_of(game):
        assert found.attacked[tau]
        assert found.low[tau] - tol <= u <= found.high[tau] + tol
    scale = 1e-9 * game.units.defender_scale
    for r in (compute_nse(game), *found.witnesses):
        assert np.all(r.defender_utility <= bounds.best_high + scale)
        assert np.all(r.defender_utility >= bounds.worst_low - scale)
        if ext is not None:
            assert np.all(r.defender_utility <= ext.best + scale)
            assert np.all(r.defender_utility >= ext.worst - scale)


def _grid_splits(owners: list[np.ndarray], demand: np.ndarray, a: int, steps: int) -> np.ndarray:
    """Every defender's spending over a grid of splits: on each target, every owner but
    the last takes a grid share, the last the rest (if that is a share); shape (S, a)."""
    per_target = []
    for o, d in zip(owners, demand, strict=True):
        rows = []
        for shares in itertools.product(np.linspace(0.0, d, steps), repeat=o.size - 1):
            kept = np.prod(1.0 - np.array(shares))
            last = 1.0 - (1.0 - d) / kept
            if -1e-12 <= last <= 1.0:
                spend = np.zeros(a)
                spend[o[:-1]] = shares
                spend[o[-1]] = max(last, 0.0)
                rows.append(spend)
        per_target.append(np.array(rows))
    total = np.zeros((1, a))
    for rows in per_target:
        total = (total[:, None, :] + rows[None, :, :]).reshape(-1, a)
    return total


@settings(max_examples=examples(60), deadline=None)
@given(
    st.lists(
        st.sampled_from([(0, 1), (1, 2), (0, 2), (0, 1, 2), (0,), (2,)]), min_size=1, max_size=3
    ),
    st.lists(st.floats(0.05, 0.95), min_size=3, max_size=3),
    st.integers(0, 10**6),
    st.floats(1e-9, 1e-4),
)
def test_the_two_tests_never_rule_out_a_spending_a_split_reaches(owner_sets, demand, pick, margin):
    """The spending vectors of a grid of splits (three defenders, each target's owners
    and demand drawn): budgets a little above one are within reach of some face (the
    face lemma of §3.3), and budgets a little below one are never ruled out by weights
    (the concave test)."""
    owners = [np.array(o) for o in owner_sets]
    demand = np.array(demand[: len(owners)])
    spend = _grid_splits(owners, demand, 3, 7)
    reached = spend[pick % spend.shape[0]]
    allowed = np.zeros((3, len(owners)), dtype=bool)
    for t, o in enumerate(owners):
        allowed[o, t] = True
    assert _certificate(allowed, demand, reached * (1.0 - margin), np.ones(3, bool)) is None
    # at level 0 the attacker's payoffs R_t = d_t, P_t = d_t - 1 demand exactly d_t
    game = SecurityGame(
        defender_reward=np.ones((3, len(owners))),
        defender_penalty=np.zeros((3, len(owners))),
        attacker_reward=demand,
        attacker_penalty=demand - 1.0,
        resources=[1, 1, 1],
    )
    faces = _Faces.of(game, Structure(demand, allowed, 0.0))
    assert faces is not None
    faces = dataclasses.replace(faces, budget=reached * (1.0 + margin) + 1e-12)
    assert faces.within(0.0).any()


def _generated(
    family: str, m: int, seed: list[int], index: int, high: int = 2, **params: float
) -> SecurityGame:
    """Game ``index`` of a three-defender generator (resources 1 to ``high``) at ``seed``."""
    generator = make_generator(
        family, n_defenders=3, n_targets=m, resources={"low": 1, "high": high}, **params
    )
    rng = np.random.default_rng(seed)
    return [generator.sample(rng) for _ in range(index + 1)][-1]


@pytest.mark.parametrize(
    ("name", "game"),
    [
        # the top of a cell is a root (Lemma 6) that Newton's usual starts miss
        ("root", _generated("covariant", 7, [11, 7, 16, 9], 0, correlation=0.6)),
        # the top's witness has shares on bounds, which least squares only approaches
        ("bounds", _generated("covariant", 6, [7, 6, 16], 14, correlation=0.6)),
    ],
)
def test_generated_games_left_as_bounds_before_are_settled(name, game):
    """Two generated games whose ranges an earlier witness search left unattained
    (docs/nse.md §3.3): every end now has a verified NSE at it."""
    _LEVELS_CACHE.clear()
    found = level_bounds(game)
    assert found.exact, name
    standard = game.standard
    for t in np.flatnonzero(found.attacked):
        for nse, end in ((found.at_low[t], found.low[t]), (found.at_high[t], found.high[t])):
            assert nse is not None and nse.verified and nse.attacked_target == t
            c = nse.total_coverage[t]
            level = standard.attacker_reward[t] - c * standard.attacker_gap[t]
            assert abs(level - end) <= 1e-9


def test_cutting_planes_find_weights_at_a_kink():
    """phi is convex but has kinks; where minimising it from the centre stops short,
    Kelley's cutting planes still find weights that certify a level is out. The
    level is one a grid over the weights shows excluded (docs/nse.md §3.3)."""
    game = _generated("identical_attacker", 8, [15, 8, 10, 18], 4, high=3).standard
    tau, at, u = 3, 0.2813969475775855, 0.24
    weights = _fails(game, tau, at, u, robust=True)
    assert weights is not None
    cell = structure(game, tau, at)
    demand = need(game.attacker_reward, game.attacker_gap, u) * (cell.demand > 0.0)
    members = cell.allowed & ((demand > 0.0) & (demand < 1.0))[None, :]
    rest, inside, _ = water_fill(np.log(np.maximum(weights, 1e-300)), np.log1p(-demand), members)
    spend = (inside - rest).sum(axis=1)
    assert weights @ (spend - game.resources) < 0.0


def test_games_beyond_the_ranges_are_refused_by_name():
    """Jurisdictions change rule B above the floor, so the ranges refuse them, naming
    what is out of scope; the utility range keeps its analytic bounds there."""
    game = _three_identical().with_allowed(np.ones((3, 4), dtype=bool) & (np.arange(4) < 3))
    assert not level_bounds_apply(game)
    with pytest.raises(InvalidParameterError, match="jurisdictions=True"):
        level_bounds(game)
    assert nse_utility_range(game, witnesses="one").best_high.shape == (3,)
