"""Utilities, best responses and every tie-breaking mode."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import InvalidParameterError
from sim.game import SecurityGame
from sim.payoffs import (
    attacked_target,
    attacked_targets,
    attacker_utilities,
    best_responses,
    defender_utilities,
    defender_utility,
    realised_set_utility,
    set_utility,
)

from strategies import examples, games


@pytest.fixture
def game():
    return SecurityGame(
        defender_reward=[[1.0, 4.0, 2.0], [3.0, 1.0, 2.0]],
        defender_penalty=[[0.0, -4.0, -1.0], [-2.0, 0.0, -1.0]],
        attacker_reward=[1.0, 1.0, 2.0],
        attacker_penalty=[0.0, 0.0, 0.0],
        resources=[1, 1],
    )


def test_utilities_follow_section_2(game):
    c = np.array([0.5, 0.0, 0.5])
    np.testing.assert_allclose(defender_utilities(game, c), [[0.5, -4.0, 0.5], [0.5, 0.0, 0.5]])
    np.testing.assert_allclose(defender_utility(game, c, 1), [-4.0, 0.0])
    np.testing.assert_allclose(attacker_utilities(game, c), [0.5, 1.0, 1.0])


def test_best_responses_use_tolerance(game):
    c = np.array([0.5, 0.0, 0.5 + 1e-12])
    assert best_responses(game, c).tolist() == [1, 2]
    assert best_responses(game, c, tol=0.0).tolist() == [1]


def test_tie_breaking_modes(game):
    c = np.array([0.5, 0.0, 0.5])  # BR = {1, 2}; totals: target 1 -> -4, target 2 -> 1
    assert attacked_target(game, c, designated=2) == 2
    assert attacked_target(game, c, designated=0) == 1  # not a BR: pessimistic fallback
    assert attacked_target(game, c, designated=0, fallback="optimistic") == 2
    assert attacked_target(game, c, tie_breaking="pessimistic") == 1
    assert attacked_target(game, c, tie_breaking="optimistic") == 2
    assert attacked_target(game, c, tie_breaking="lowest_index") == 1
    draws = {
        attacked_target(game, c, tie_breaking="random", rng=np.random.default_rng(s))
        for s in range(40)
    }
    assert draws == {1, 2}


def test_tie_breaking_errors(game):
    c = np.zeros(3)
    with pytest.raises(InvalidParameterError, match="designated is required"):
        attacked_target(game, c)
    with pytest.raises(InvalidParameterError, match="rng is required"):
        attacked_target(game, c, tie_breaking="random")
    with pytest.raises(InvalidParameterError, match="tie_breaking must be one of"):
        attacked_target(game, c, tie_breaking="coin")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match=r"coverage must have shape \(3,\)"):
        attacker_utilities(game, np.zeros(2))


# -- attackers with several resources (Korzhyk, Conitzer and Parr 2011) -----------------
MODES = ["designated", "pessimistic", "optimistic", "lowest_index", "random"]


def _coverages(game: SecurityGame, data) -> np.ndarray:
    grid = [0.0, 0.25, 0.5, 1.0]
    return np.array(
        data.draw(st.lists(st.sampled_from(grid), min_size=game.n_targets, max_size=game.n_targets))
    )


@settings(max_examples=examples(150), deadline=None)
@given(game=games(max_targets=6, max_attacks=4), data=st.data())
def test_attacked_sets_are_the_best_targets_under_every_rule(game, data):
    """Every rule attacks ``n_a`` distinct targets, none worth less to the attacker than
    a target left alone; with one attack the set is ``attacked_target``'s choice."""
    c = _coverages(game, data)
    u = attacker_utilities(game, c)
    designated = data.draw(st.lists(st.integers(0, game.n_targets - 1), max_size=3, unique=True))
    for mode in MODES:
        chosen = attacked_targets(
            game, c, tie_breaking=mode, designated=designated, rng=np.random.default_rng(1)
        )
        assert len(chosen) == game.attacker_resources == len(set(chosen))
        assert list(chosen) == sorted(chosen)
        left = np.setdiff1d(np.arange(game.n_targets), chosen)
        if left.size:
            assert u[list(chosen)].min() >= u[left].max() - 1e-9
        one = attacked_target(
            game,
            c,
            tie_breaking=mode,
            designated=designated[0] if designated else 0,
            rng=np.random.default_rng(1),
        )
        assert attacked_targets(
            game,
            c,
            attacks=1,
            tie_breaking=mode,
            designated=[designated[0] if designated else 0],
            rng=np.random.default_rng(1),
        ) == (one,)


def test_designated_targets_are_kept_when_tied(game):
    c = np.array([0.0, 0.0, 0.5])  # attacker utilities 1, 1, 1: all tied
    assert attacked_targets(game, c, attacks=2, designated=[2, 0]) == (0, 2)
    # totals: target 0 -> 0, 1 -> -4, 2 -> 1; the rest of the set by the fallback
    assert attacked_targets(game, c, attacks=2, designated=[2]) == (1, 2)
    assert attacked_targets(game, c, attacks=2, designated=[2], fallback="optimistic") == (0, 2)
    assert attacked_targets(game, c, attacks=2, tie_breaking="pessimistic") == (0, 1)
    assert attacked_targets(game, c, attacks=2, tie_breaking="optimistic") == (0, 2)
    assert attacked_targets(game, c, attacks=3, tie_breaking="lowest_index") == (0, 1, 2)


def test_attacked_sets_reject_a_bad_count(game):
    for bad in (0, 4, 1.5, True):
        with pytest.raises(
            InvalidParameterError, match=r"attacked_targets.attacks must be an int in \[1, 3\]"
        ):
            attacked_targets(game, np.zeros(3), attacks=bad, tie_breaking="lowest_index")


def test_set_utilities_are_additive(game):
    c = np.array([0.5, 0.0, 0.25])
    np.testing.assert_allclose(
        set_utility(game, c, (0, 2)), defender_utilities(game, c)[:, [0, 2]].sum(axis=1)
    )
    guarded = np.array([True, False, False])
    np.testing.assert_allclose(realised_set_utility(game, guarded, (0, 1)), [1.0 - 4.0, 3.0 + 0.0])
