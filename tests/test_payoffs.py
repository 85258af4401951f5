"""Utilities, best responses and every tie-breaking mode."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import InvalidParameterError
from sim.game import SecurityGame
from sim.payoffs import (
    attacked_target,
    attacker_utilities,
    best_responses,
    defender_utilities,
    defender_utility,
)


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
