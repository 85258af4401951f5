"""Fast exact solvers against their LP references (docs/solvers.md §1-§2)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.game import SecurityGame
from sim.payoffs import attacker_utilities, best_responses
from sim.solvers import attacker_level, max_coverage, single_defender_sse
from sim.solvers.reference import (
    lp_attacker_level,
    lp_max_coverage,
    lp_single_defender_sse,
)

from strategies import examples, games

DIFF = settings(
    max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@DIFF
@given(games())
def test_attacker_level_matches_lp(game):
    assert attacker_level(game) == pytest.approx(lp_attacker_level(game), abs=1e-7)


@DIFF
@given(games())
def test_max_coverage_matches_one_lp_per_target(game):
    fast, slow = max_coverage(game), lp_max_coverage(game)
    assert fast.level == pytest.approx(slow.level, abs=1e-7)
    np.testing.assert_array_equal(fast.attack_set, slow.attack_set)
    np.testing.assert_allclose(
        fast.coverage[fast.attack_set], slow.coverage[slow.attack_set], atol=1e-7
    )


@DIFF
@given(games())
def test_max_coverage_is_feasible_and_ties_the_attack_set(game):
    space = max_coverage(game)
    c = space.coverage
    assert np.all((c >= 0) & (c <= 1))
    assert c.sum() <= game.total_resources + 1e-9
    assert space.spare >= -1e-9
    br = set(best_responses(game, c, tol=1e-7).tolist())
    assert br == set(np.flatnonzero(space.attack_set).tolist())
    assert attacker_utilities(game, c).max() == pytest.approx(space.level, abs=1e-9)
    if space.spare > 1e-9:  # leftovers only at the floor level max p^a
        assert space.level == pytest.approx(game.attacker_penalty.max())


@DIFF
@given(games(), st.data())
def test_single_defender_sse_matches_lp(game, data):
    i = data.draw(st.integers(0, game.n_defenders - 1))
    fast, slow = single_defender_sse(game, i), lp_single_defender_sse(game, i)
    assert fast.defender_utility[i] == pytest.approx(slow.defender_utility[i], abs=1e-7)
    assert game.attacker_reward[fast.target] >= fast.level - 1e-9


def _game(attacker_reward, attacker_penalty, resources, n_targets=None):
    m = len(attacker_reward)
    return SecurityGame(
        defender_reward=[np.arange(m) + 1.0] * len(resources),
        defender_penalty=[np.zeros(m)] * len(resources),
        attacker_reward=attacker_reward,
        attacker_penalty=attacker_penalty,
        resources=resources,
    )


def test_no_resources_level_is_the_largest_reward():
    game = _game([3.0, 1.0, 2.0], [0.0, 0.0, 0.0], [0])
    space = max_coverage(game)
    assert space.level == 3.0
    np.testing.assert_array_equal(space.coverage, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(space.attack_set, [True, False, False])


def test_enough_resources_hit_the_floor():
    game = _game([3.0, 1.0, 2.0], [-1.0, 0.5, -2.0], [2, 2])  # K = 4 >= m
    space = max_coverage(game)
    assert space.level == 0.5  # max p^a
    assert space.coverage[1] == 1.0
    assert space.spare > 0


def test_one_target():
    game = _game([2.0], [-1.0], [1])
    space = max_coverage(game)
    assert space.level == -1.0 and space.coverage.tolist() == [1.0]


def test_identical_targets_share_the_budget_evenly():
    game = _game([0.0] * 4, [-1.0] * 4, [1, 2])  # alpha* of Thm 3.3 with K = 3
    space = max_coverage(game)
    np.testing.assert_allclose(space.coverage, [0.75] * 4)
    assert space.level == pytest.approx(-0.75)


@given(games(), st.randoms(use_true_random=False))
@settings(max_examples=examples(100), deadline=None)
def test_relabelling_targets_permutes_the_solution(game, random):
    perm = list(range(game.n_targets))
    random.shuffle(perm)
    moved = SecurityGame(
        defender_reward=game.defender_reward[:, perm],
        defender_penalty=game.defender_penalty[:, perm],
        attacker_reward=game.attacker_reward[perm],
        attacker_penalty=game.attacker_penalty[perm],
        resources=game.resources,
    )
    a, b = max_coverage(game), max_coverage(moved)
    assert a.level == pytest.approx(b.level, abs=1e-9)
    np.testing.assert_allclose(a.coverage[perm], b.coverage, atol=1e-9)


@given(games(), st.floats(0.1, 10), st.floats(-5, 5))
@settings(max_examples=examples(100), deadline=None)
def test_affine_rescaling_of_attacker_payoffs(game, scale, shift):
    moved = SecurityGame(
        defender_reward=game.defender_reward,
        defender_penalty=game.defender_penalty,
        attacker_reward=scale * game.attacker_reward + shift,
        attacker_penalty=scale * game.attacker_penalty + shift,
        resources=game.resources,
    )
    a, b = max_coverage(game), max_coverage(moved)
    assert b.level == pytest.approx(scale * a.level + shift, abs=1e-7)
    np.testing.assert_allclose(a.coverage, b.coverage, atol=1e-7)
