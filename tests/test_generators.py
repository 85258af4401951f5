"""Game generators: valid games, determinism, parameter validation, registry."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import DuplicateNameError, InvalidParameterError, UnknownNameError
from sim.generators import GENERATORS, available_generators, make_generator
from sim.instances import order_payoffs

from conformance import check_generator

NAMES = available_generators()


def test_registry_lists_the_families():
    assert NAMES == [
        "covariant",
        "identical_attacker",
        "integer",
        "negative_rewards",
        "nonoverlapping",
        "uniform",
        "zero_sum_like",
    ]


def test_the_payoff_families_have_their_shapes():
    rng = np.random.default_rng(3)
    negative = make_generator("negative_rewards", n_defenders=3, n_targets=200).sample(rng)
    assert (negative.defender_reward < 0).any() and (negative.attacker_reward < 0).any()
    assert negative.defender_gap.min() >= 0.1 and negative.defender_gap.max() <= 10.0
    integer = make_generator("integer", n_defenders=3, n_targets=200).sample(rng)
    values = np.concatenate([integer.defender_reward.ravel(), integer.attacker_penalty])
    assert np.array_equal(values, np.round(values)) and np.abs(values).max() <= 10
    assert len(np.unique(integer.attacker_reward)) < 21  # ties are the rule
    # every ordered pair p < r of integers in [-2, 2] appears, evenly (10 pairs)
    pairs = make_generator("integer", n_defenders=1, n_targets=20_000, scale=2).sample(rng)
    counts = np.unique(
        np.stack([pairs.defender_penalty[0], pairs.defender_reward[0]]), axis=1, return_counts=True
    )[1]
    assert counts.size == 10 and counts.min() > 0.8 * counts.max()
    same = make_generator("identical_attacker", n_targets=6).sample(rng)
    assert np.unique(same.attacker_reward).size == 1 == np.unique(same.attacker_penalty).size
    with pytest.raises(InvalidParameterError, match="scale must be a whole number"):
        make_generator("integer", scale=2.5)


@pytest.mark.parametrize("name", NAMES)
def test_generator_conformance(name):
    """Valid games of the requested shape; one seed, one game (tests/conformance.py)."""
    check_generator(name)


def test_nonoverlapping_types_come_from_orders():
    game = make_generator(
        "nonoverlapping", n_defenders=2, n_targets=5, attacker="identical"
    ).sample(np.random.default_rng(1))
    for i in range(2):
        order = np.argsort(game.defender_penalty[i]).tolist()
        reward, _ = order_payoffs(order)
        np.testing.assert_array_equal(game.defender_reward[i], reward)
    assert game.attacker_reward.tolist() == [0.0] * 5


def test_zero_sum_like_without_noise_is_zero_sum():
    game = make_generator("zero_sum_like", noise=0.0, n_targets=6).sample(np.random.default_rng(3))
    np.testing.assert_allclose(
        game.defender_penalty, -np.broadcast_to(game.attacker_reward, (2, 6))
    )
    np.testing.assert_allclose(
        game.defender_reward, -np.broadcast_to(game.attacker_penalty, (2, 6))
    )


def test_covariant_correlation_sign():
    rng = np.random.default_rng(5)

    def corr(rho):
        gen = make_generator("covariant", correlation=rho, n_defenders=1, n_targets=400)
        game = gen.sample(rng)
        return np.corrcoef(-game.defender_penalty[0], game.attacker_reward)[0, 1]

    assert corr(0.9) > 0.7 and corr(-0.9) < -0.7 and abs(corr(0.0)) < 0.2


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("uniform", dict(n_defenders=0), "n_defenders must be an int >= 1; got 0"),
        ("uniform", dict(n_targets=2.5), "n_targets must be an int >= 1; got 2.5"),
        ("uniform", dict(scale=-1.0), "scale must be a finite number > 0"),
        ("uniform", dict(resources=-1), "resources must be an int >= 0"),
        ("uniform", dict(resources=[1, 2, 3]), "must hold 2 ints"),
        ("uniform", dict(resources={"low": 3, "high": 1}), "low <= high"),
        ("uniform", dict(resources={"min": 0}), r"\{'low': a, 'high': b\}"),
        ("covariant", dict(correlation=1.5), r"correlation must be in \[-1, 1\]; got 1.5"),
        ("nonoverlapping", dict(attacker="odd"), "attacker must be 'identical' or 'uniform'"),
        ("zero_sum_like", dict(noise=-0.1), "noise must be a finite number >= 0"),
        ("uniform", dict(colour="red"), r"has no parameter\(s\) \['colour'\]"),
    ],
)
def test_invalid_parameters(name, params, match):
    with pytest.raises(InvalidParameterError, match=match):
        make_generator(name, **params)


def test_registry_errors():
    with pytest.raises(UnknownNameError, match=r"unknown generator 'gamut'; valid names are \["):
        make_generator("gamut")
    with pytest.raises(DuplicateNameError, match="already registered"):
        GENERATORS.register("uniform")(type("Again", (), {}))


def test_params_round_trip():
    gen = make_generator("uniform", resources={"low": 0, "high": 2})
    assert gen.params()["resources"] == {"low": 0, "high": 2}
    assert make_generator("uniform", **gen.params()) == gen
