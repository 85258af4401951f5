"""The game model: validation rule by rule, immutability, reports, serialisation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given

from sim.errors import InvalidGameError
from sim.game import SecurityGame

from strategies import games


def _kwargs(**overrides):
    base = dict(
        defender_reward=[[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]],
        defender_penalty=[[0.0, 0.0, 0.0], [-1.0, -1.0, -1.0]],
        attacker_reward=[1.0, 1.0, 2.0],
        attacker_penalty=[0.0, -1.0, 0.0],
        resources=[1, 2],
    )
    base.update(overrides)
    return base


def test_valid_game_properties():
    game = SecurityGame(**_kwargs())
    assert (game.n_defenders, game.n_targets, game.total_resources) == (2, 3, 3)
    assert game.resources.dtype == np.int64
    np.testing.assert_array_equal(game.attacker_gap, [1.0, 2.0, 2.0])


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (
            dict(defender_penalty=[[0.0, 0.0], [0.0, 0.0]]),
            r"defender_penalty must have shape \(2, 3\)",
        ),
        (dict(attacker_reward=[1.0, 1.0]), r"attacker_reward must have shape \(3,\)"),
        (dict(attacker_penalty=[[0.0, 0.0, 0.0]]), r"attacker_penalty must be a 1-d array"),
        (dict(resources=[1, 2, 3]), r"resources must have shape \(2,\)"),
        (dict(defender_reward=[1.0, 2.0, 3.0]), r"defender_reward must be a 2-d array"),
        (
            dict(defender_reward=np.zeros((0, 3)), defender_penalty=np.zeros((0, 3)), resources=[]),
            r"n >= 1 defenders",
        ),
        (
            dict(defender_reward=[[np.nan, 2.0, 3.0], [3.0, 2.0, 1.0]]),
            r"defender_reward must be finite; got nan at index \(0, 0\)",
        ),
        (dict(attacker_penalty=[0.0, -np.inf, 0.0]), r"attacker_penalty must be finite"),
        (
            dict(defender_penalty=[[0.0, 2.0, 0.0], [-1.0, -1.0, -1.0]]),
            r"defender_reward must exceed defender_penalty .* 2.0 <= 2.0 at index \(0, 1\)",
        ),
        (
            dict(attacker_penalty=[0.0, 1.5, 0.0]),
            r"attacker_reward must exceed attacker_penalty strictly .* at index \(1,\)",
        ),
        (dict(resources=[1, -1]), r"resources must be non-negative; got -1 at index 1"),
        (dict(resources=[1, 1.5]), r"resources must be whole numbers; got 1.5 at index 1"),
        (dict(resources=[True, False]), r"resources must be integers"),
        (dict(defender_reward="abc"), r"defender_reward must be numeric"),
    ],
)
def test_each_rule_raises_naming_the_parameter(overrides, match):
    with pytest.raises(InvalidGameError, match=match):
        SecurityGame(**_kwargs(**overrides))


def test_invalid_game_error_is_a_value_error():
    with pytest.raises(ValueError):
        SecurityGame(**_kwargs(resources=[-1, 0]))


def test_arrays_are_read_only_copies():
    reward = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    game = SecurityGame(**_kwargs(defender_reward=reward))
    reward[0, 0] = 100.0
    assert game.defender_reward[0, 0] == 1.0
    with pytest.raises(ValueError):
        game.defender_reward[0, 0] = 5.0
    with pytest.raises(AttributeError):
        game.resources = np.array([0, 0])  # type: ignore[misc]


def test_with_reports_replaces_one_defender_and_validates():
    game = SecurityGame(**_kwargs())
    report = game.with_reports(1, [5.0, 6.0, 7.0], [4.0, 4.0, 4.0])
    np.testing.assert_array_equal(report.defender_reward[1], [5.0, 6.0, 7.0])
    np.testing.assert_array_equal(report.defender_reward[0], game.defender_reward[0])
    np.testing.assert_array_equal(game.defender_reward[1], [3.0, 2.0, 1.0])
    assert report.resources.tolist() == game.resources.tolist()
    with pytest.raises(InvalidGameError, match="defender_reward must exceed"):
        game.with_reports(0, [1.0, 1.0, 1.0], [1.0, 0.0, 0.0])
    with pytest.raises(InvalidGameError, match=r"with_reports.defender must be in \[0, 2\); got 2"):
        game.with_reports(2, [1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    with pytest.raises(InvalidGameError, match=r"with_reports.reward must have shape \(3,\)"):
        game.with_reports(0, [1.0, 1.0], [0.0, 0.0, 0.0])


@given(games())
def test_json_round_trip(game):
    again = SecurityGame.from_dict(json.loads(json.dumps(game.to_dict())))
    assert again == game
    assert again.resources.dtype == np.int64


def test_from_dict_rejects_missing_and_unknown_fields():
    data = SecurityGame(**_kwargs()).to_dict()
    data.pop("resources")
    data["colour"] = "red"
    with pytest.raises(InvalidGameError, match=r"missing \['resources'\], unknown \['colour'\]"):
        SecurityGame.from_dict(data)


def test_equality_compares_arrays():
    a, b = SecurityGame(**_kwargs()), SecurityGame(**_kwargs())
    assert a == b
    assert a != SecurityGame(**_kwargs(resources=[2, 2]))
    assert a != "not a game"
