"""The best and the worst NSE, exactly (sim/nse/extremes.py, docs/nse.md §3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from mechanisms.properties import nse_prices
from sim.errors import InvalidParameterError
from sim.game import SecurityGame
from sim.nse import compute_nse, nse_utility_range
from sim.nse.extremes import (
    MAX_TARGETS,
    _fewest,
    _most,
    _spending_b,
    exact_extremes,
    exact_extremes_apply,
    nse_extremes,
)

from strategies import examples, games
from tests_support import grid_nses

ROOT5 = math.sqrt(5.0)


def _issue_case() -> SecurityGame:
    """Two identical defenders who both like target 0 best (docs/nse.md T4)."""
    return SecurityGame(
        defender_reward=[[3, 2, 1], [3, 2, 1]],
        defender_penalty=[[-1, -2, -3], [-1, -2, -3]],
        attacker_reward=[1, 1, 1],
        attacker_penalty=[0, 0, 0],
        resources=[1, 1],
    )


@pytest.mark.paper
def test_the_continuum_of_t4_has_exact_ends():
    """Common coverage x in [5/9, (sqrt 5 - 1)/2] at tau = 0: each defender gets
    -1 + 4x, so 11/9 in the worst NSE (a third on every target) and 2 sqrt 5 - 3 in
    the best (both on target 0 with 1 - x, each alone on one other target)."""
    ext = nse_extremes(_issue_case())
    np.testing.assert_allclose(ext.worst, [11 / 9] * 2, atol=1e-12)
    np.testing.assert_allclose(ext.best, [2 * ROOT5 - 3] * 2, atol=1e-12)
    assert ext.worst_welfare == pytest.approx(22 / 9, abs=1e-12)
    assert ext.best_welfare == pytest.approx(4 * ROOT5 - 6, abs=1e-12)
    x = (ROOT5 - 1) / 2
    best = ext.best_welfare_nse
    assert best.verified and best.attacked_target == 0
    np.testing.assert_allclose(
        np.sort(best.coverage, axis=0), [[1 - x, 0, 0], [1 - x, x, x]], atol=1e-12
    )
    np.testing.assert_allclose(ext.worst_welfare_nse.coverage, np.full((2, 3), 1 / 3), atol=1e-12)
    assert [tau for tau, _, _ in ext.levels] == [0]
    bounds = nse_utility_range(_issue_case())
    assert bounds.worst_exact.all() and bounds.best_exact.all()


@pytest.mark.paper
def test_the_prices_of_t4():
    """Pooled, each gets 5/3 (coverage 2/3 everywhere, target 0 attacked): the price of
    anarchy is (10/3)/(22/9) = 15/11 and of stability 5/(3(2 sqrt 5 - 3))."""
    prices = nse_prices(_issue_case())
    assert prices.exact
    assert prices.optimum == pytest.approx(10 / 3, abs=1e-12)
    assert prices.anarchy == pytest.approx(15 / 11, abs=1e-12)
    assert prices.stability == pytest.approx(5 / (3 * (2 * ROOT5 - 3)), abs=1e-12)
    assert prices.anarchy_gap == pytest.approx(10 / 3 - 22 / 9, abs=1e-12)


def test_prices_of_negative_welfare_are_differences_only():
    """A ratio of welfares is undefined unless both are positive; the gaps remain."""
    game = _issue_case()
    shifted = SecurityGame(
        defender_reward=game.defender_reward - 10,
        defender_penalty=game.defender_penalty - 10,
        attacker_reward=game.attacker_reward,
        attacker_penalty=game.attacker_penalty,
        resources=game.resources,
    )
    prices = nse_prices(shifted)
    assert math.isnan(prices.anarchy) and math.isnan(prices.stability)
    assert prices.anarchy_gap == pytest.approx(nse_prices(game).anarchy_gap, abs=1e-12)


def test_unique_nses_are_both_extremes():
    """T2 (the golden-ratio NSE) is the only NSE: best = worst = the finder's."""
    game = SecurityGame(
        defender_reward=[[3, 2, 1], [1, 2, 3]],
        defender_penalty=[[0, 0, 0], [0, 0, 0]],
        attacker_reward=[1, 1, 1],
        attacker_penalty=[0, 0, 0],
        resources=[1, 1],
    )
    ext, nse = nse_extremes(game), compute_nse(game)
    np.testing.assert_allclose(ext.best, nse.defender_utility, atol=1e-12)
    np.testing.assert_allclose(ext.worst, nse.defender_utility, atol=1e-12)
    assert [tau for tau, _, _ in ext.levels] == [1]


def test_t1_the_defenders_prefer_different_nses():
    """Gan et al. 2020, Theorem 3.2: attacking either target is an NSE, and each
    defender's best NSE is the other's worst."""
    game = SecurityGame(
        defender_reward=[[1, 0], [0, 1]],
        defender_penalty=[[0, -1], [-1, 0]],
        attacker_reward=[0, 0],
        attacker_penalty=[-1, -1],
        resources=[1, 1],
    )
    ext = nse_extremes(game)
    assert sorted(tau for tau, _, _ in ext.levels) == [0, 1]
    assert ext.best_nse[0].attacked_target != ext.best_nse[1].attacked_target
    assert ext.worst_nse[0].attacked_target == ext.best_nse[1].attacked_target
    assert np.all(ext.best > ext.worst)


def test_out_of_scope_games_are_refused_by_name():
    game = SecurityGame(
        defender_reward=[[1, 2]] * 3,
        defender_penalty=[[0, 0]] * 3,
        attacker_reward=[1, 1],
        attacker_penalty=[0, 0],
        resources=[1, 1, 1],
    )
    with pytest.raises(InvalidParameterError, match="at most two defenders with resources"):
        nse_extremes(game)


def test_large_games_get_bounds_not_a_long_enumeration():
    """Beyond MAX_TARGETS attackable targets the exact method is refused by name, and
    the UP range falls back to the bounds (docs/nse.md §3.3)."""
    m = MAX_TARGETS + 8
    game = SecurityGame(
        defender_reward=np.tile(np.linspace(1.0, 2.0, m), (2, 1)),
        defender_penalty=np.zeros((2, m)),
        attacker_reward=np.ones(m),
        attacker_penalty=np.zeros(m),
        resources=[2, 2],
    )
    assert not exact_extremes_apply(game) and exact_extremes(game) is None
    with pytest.raises(InvalidParameterError, match="MAX_TARGETS=12"):
        nse_extremes(game)
    bounds = nse_utility_range(game, witnesses="one")
    assert np.all(bounds.worst_low <= bounds.worst_high)


@settings(max_examples=examples(200), deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4),
    st.floats(0.0, 1.0),
    st.integers(2, 60),
)
def test_b_spends_between_the_vertex_and_the_maximum_waste_split(demand, share, fineness):
    """On {c : sum c = r, 0 <= c <= d} b's spending is concave, so its least value is
    at a vertex (_fewest) and its largest at one weight ratio (_most): no point of a
    grid over the polytope does better."""
    dd = np.minimum(np.round(np.array(demand), 3), 0.999)
    r = share * dd.sum()
    fewest, c_low = _fewest(r, dd)
    most, c_high = _most(r, dd)
    for c in (c_low, c_high):
        assert c.sum() == pytest.approx(r, abs=1e-12) and np.all((c >= 0) & (c <= dd + 1e-15))
    assert _spending_b(c_low, dd).sum() == pytest.approx(fewest, abs=1e-12)
    assert _spending_b(c_high, dd).sum() == pytest.approx(most, abs=1e-12)
    axes = np.meshgrid(*[np.linspace(0.0, d, fineness) for d in dd[:-1]], indexing="ij")
    points = np.stack([a.ravel() for a in axes], axis=1) if dd.size > 1 else np.zeros((1, 0))
    last = r - points.sum(axis=1)
    inside = (last >= 0) & (last <= dd[-1])
    grid = np.column_stack((points, last))[inside]
    spent = _spending_b(grid, dd).sum(axis=1)
    if spent.size:
        assert spent.min() >= fewest - 1e-12 and spent.max() <= most + 1e-12


def _within(levels: dict[int, tuple[float, float]], tau: int, u: float, tol: float) -> bool:
    return tau in levels and levels[tau][0] - tol <= u <= levels[tau][1] + tol


@settings(max_examples=examples(100), deadline=None)
@given(games(max_defenders=3, max_targets=4, max_resources=2))
@example(game=_issue_case())
def test_no_nse_lies_beyond_the_extremes(game):
    """Every NSE another method finds lies between the lowest and the highest level of
    its target: the finder's, and the exact splits (sim/nse/exact.py, a different
    solver) at 41 levels from u*_K to each target's reward."""
    assume(np.count_nonzero(game.resources) <= 2 and game.resources.any())
    ext = nse_extremes(game)
    levels = {tau: (lo.attacker_level, hi.attacker_level) for tau, lo, hi in ext.levels}
    for found in (*ext.best_nse, *ext.worst_nse, ext.best_welfare_nse, ext.worst_welfare_nse):
        assert found.verified
    tol = 1e-9 * game.units.attacker_scale
    nse = compute_nse(game)
    assert _within(levels, nse.attacked_target, nse.attacker_level, tol)
    assert np.all(nse.defender_utility <= ext.best + 1e-9 * game.units.defender_scale)
    assert np.all(nse.defender_utility >= ext.worst - 1e-9 * game.units.defender_scale)
    for found in grid_nses(game):
        assert _within(levels, found.attacked_target, found.attacker_level, tol)


@settings(max_examples=examples(60), deadline=None)
@given(
    st.one_of(
        games(max_defenders=2, max_targets=4, max_resources=2),
        games(min_defenders=3, max_defenders=3, max_targets=4, max_resources=2, min_resources=1),
    ),
    st.permutations(range(4)),
    st.floats(0.1, 100.0),
    st.floats(-50.0, 50.0),
)
def test_extremes_follow_targets_units_and_idle_defenders(game, order, scale, shift):
    """Permuting the targets permutes the certificates; a positive affine map of a
    defender's payoffs maps her extremes; a defender without resources changes no one
    else's. Two defenders with resources (the closed form) and three (the ranges of
    docs/nse.md §3.3, where they settle the extremes)."""
    assume(game.resources.any())
    ext = exact_extremes(game)
    assume(ext is not None)
    m = game.n_targets
    perm = np.array([t for t in order if t < m])
    other = exact_extremes(
        SecurityGame(
            defender_reward=game.defender_reward[:, perm],
            defender_penalty=game.defender_penalty[:, perm],
            attacker_reward=game.attacker_reward[perm],
            attacker_penalty=game.attacker_penalty[perm],
            resources=game.resources,
        )
    )
    assert other is not None
    tol = 1e-9 * game.units.defender_scale
    assert np.all(np.abs(other.best - ext.best) <= tol)
    assert np.all(np.abs(other.worst - ext.worst) <= tol)
    reward, penalty = game.defender_reward.copy(), game.defender_penalty.copy()
    reward[0], penalty[0] = scale * reward[0] + shift, scale * penalty[0] + shift
    rescaled = exact_extremes(
        SecurityGame(
            defender_reward=reward,
            defender_penalty=penalty,
            attacker_reward=game.attacker_reward,
            attacker_penalty=game.attacker_penalty,
            resources=game.resources,
        )
    )
    assert rescaled is not None
    assert rescaled.best[0] == pytest.approx(scale * ext.best[0] + shift, abs=scale * tol[0])
    assert rescaled.worst[0] == pytest.approx(scale * ext.worst[0] + shift, abs=scale * tol[0])
    idle = exact_extremes(
        SecurityGame(
            defender_reward=np.vstack((game.defender_reward, game.defender_reward[:1])),
            defender_penalty=np.vstack((game.defender_penalty, game.defender_penalty[:1])),
            attacker_reward=game.attacker_reward,
            attacker_penalty=game.attacker_penalty,
            resources=[*game.resources, 0],
        )
    )
    assert idle is not None
    n = game.n_defenders
    assert np.all(np.abs(idle.best[:n] - ext.best) <= tol)
    assert np.all(np.abs(idle.worst[:n] - ext.worst) <= tol)
