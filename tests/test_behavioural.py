"""Behavioural attackers (``docs/behavioural.md``): the logit responses against their
formulas, and the certified optimiser against brute force and the rational limit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import InvalidParameterError
from sim.game import SecurityGame
from sim.instances import example_5_2
from sim.response import FEATURES, LogitResponse, features
from sim.solvers import single_defender_sse
from sim.solvers.behavioural import best_against_logit, logit_value, pooled_against_logit

from strategies import examples, games


def _rescaled(game: SecurityGame, scale: float, shift: float) -> SecurityGame:
    """``game`` with the attacker's payoffs mapped by ``scale * z + shift``."""
    return SecurityGame(
        defender_reward=game.defender_reward,
        defender_penalty=game.defender_penalty,
        attacker_reward=scale * game.attacker_reward + shift,
        attacker_penalty=scale * game.attacker_penalty + shift,
        resources=game.resources,
    )


def _brute_force(a, b, p, g, budget, upper, points):
    """The largest F over the grid ``points`` per axis (within the budget and box)."""
    best = -np.inf
    for x in itertools.product(*[points[points <= u + 1e-12] for u in upper]):
        x = np.array(x)
        if x.sum() <= budget + 1e-12:
            best = max(best, logit_value(a, b, p, g, x))
    return best


@given(games(max_targets=5), st.floats(0, 30), st.data())
@settings(max_examples=examples(60))
def test_quantal_and_suqr_probabilities_follow_their_formulas(game, precision, data):
    m = game.n_targets
    c = np.array(data.draw(st.lists(st.floats(0, 1), min_size=m, max_size=m)))
    scale = game.attacker_reward.max() - game.attacker_penalty.min()
    reward = (game.attacker_reward - game.attacker_penalty.min()) / scale
    penalty = (game.attacker_penalty - game.attacker_penalty.min()) / scale
    utility = reward - c * (reward - penalty)
    weights = np.exp(precision * utility)
    np.testing.assert_allclose(
        LogitResponse.quantal(precision).probabilities(game, c), weights / weights.sum()
    )
    w1, w2, w3 = -9.0, 0.8, 0.6  # the SUQR weights of Nguyen et al. 2013's Table 1 shape
    weights = np.exp(w1 * c + w2 * reward + w3 * penalty)
    np.testing.assert_allclose(
        LogitResponse.suqr(w1, w2, w3).probabilities(game, c), weights / weights.sum()
    )


@given(games(max_targets=5), st.floats(0.1, 100), st.floats(-50, 50), st.data())
@settings(max_examples=examples(40))
def test_a_logit_response_does_not_depend_on_the_attackers_units(game, scale, shift, data):
    m = game.n_targets
    c = np.array(data.draw(st.lists(st.floats(0, 1), min_size=m, max_size=m)))
    response = LogitResponse({"utility": 3.0, "coverage": -2.0, "reward": 1.0, "penalty": 0.5})
    np.testing.assert_allclose(
        response.probabilities(_rescaled(game, scale, shift), c),
        response.probabilities(game, c),
        atol=1e-12,
    )
    a, b = response.affine(game)
    np.testing.assert_allclose(a + b * c, response.scores(game, c), atol=1e-12)
    assert features(game, c).shape == (m, len(FEATURES))


def test_bad_weights_are_refused_by_name():
    with pytest.raises(InvalidParameterError, match="unknown features"):
        LogitResponse({"distance": 1.0})
    with pytest.raises(InvalidParameterError, match="precision"):
        LogitResponse.quantal(-1.0)
    with pytest.raises(InvalidParameterError, match=r"weights\['reward'\]"):
        LogitResponse({"reward": float("nan")})


_SMALL = st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0])  # ties are common


@given(
    st.integers(1, 3).flatmap(
        lambda m: st.tuples(
            *[st.lists(_SMALL, min_size=m, max_size=m) for _ in range(4)],
            st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=m, max_size=m),
        )
    ),
    st.sampled_from([0.0, 0.5, 1.0, 1.5, 3.0]),
)
@settings(max_examples=examples(40))
def test_the_certificate_bounds_a_brute_force_search(vectors, budget):
    a, b, p, g, upper = (np.array(v) for v in vectors)
    b = 3 * b  # steep responses
    found = best_against_logit(
        a, b, p, g, budget=budget, upper=upper, max_gap=1e-3, max_resolution=1024
    )
    x = found.coverage
    assert (x >= 0).all() and (x <= upper + 1e-12).all() and x.sum() <= budget + 1e-9
    assert found.value == pytest.approx(logit_value(a, b, p, g, x), abs=1e-12)
    brute = _brute_force(a, b, p, g, budget, upper, np.linspace(0, 1, 41))
    assert brute <= found.upper + 1e-9
    assert found.value >= brute - max(found.gap, 1e-9)
    assert found.gap <= 1e-3 or found.resolution == 1024


@given(games(max_defenders=3, max_targets=3, max_resources=2), st.sampled_from([0.0, 2.0, 10.0]))
@settings(max_examples=examples(25))
def test_the_pooled_optimum_against_quantal_response_is_certified(game, precision):
    response = LogitResponse.quantal(precision)
    total = float(game.units.defender_scale.sum())
    found = pooled_against_logit(game, response, max_gap=1e-3 * total, max_resolution=1024)
    a, b = response.affine(game)
    p, g = game.defender_penalty.sum(axis=0), game.defender_gap.sum(axis=0)
    grid = np.linspace(0, 1, 31)
    brute = _brute_force(a, b, p, g, game.total_resources, np.ones(game.n_targets), grid)
    assert brute <= found.upper + 1e-9 * total
    assert found.gap <= 1e-3 * total or found.resolution == 1024


@pytest.mark.parametrize("seed", range(4))
def test_the_rational_limit_recovers_the_stackelberg_value(seed):
    """As the precision grows, the optimum against quantal response tends to the
    strong Stackelberg value of the pooled game (the attacker breaks ties for the
    defenders), and the attack concentrates on its target."""
    rng = np.random.default_rng(seed)
    m = 4
    penalty = rng.uniform(-1, 0, size=(2, m))
    game = SecurityGame(
        defender_reward=penalty + rng.uniform(0.5, 1.5, size=(2, m)),
        defender_penalty=penalty,
        attacker_reward=rng.uniform(0.5, 1.0, size=m),
        attacker_penalty=rng.uniform(-1.0, 0.0, size=m),
        resources=[1, 1],
    )
    sse = single_defender_sse(game.pooled(), 0)
    response = LogitResponse.quantal(10_000.0)
    found = pooled_against_logit(game, response, max_resolution=1024)
    range_ = float(game.units.defender_scale.sum())
    assert found.value == pytest.approx(sse.defender_utility[0], abs=0.01 * range_)
    assert response.probabilities(game, found.coverage).argmax() == sse.target


def test_bad_optimiser_input_is_refused_by_name():
    with pytest.raises(InvalidParameterError, match="upper"):
        best_against_logit([0, 0], [0, 0], [0, 0], [1, 1], budget=1, upper=[2, 0])
    with pytest.raises(InvalidParameterError, match="budget"):
        best_against_logit([0], [0], [0], [1], budget=-1)
    with pytest.raises(InvalidParameterError, match="one shape"):
        best_against_logit([0, 0], [0], [0], [1], budget=1)


def _attack_frequencies(attacker, game, coverage, draws=20_000):
    """How often each target is attacked over an even grid of uniforms (one attack)."""
    from mechanisms import make_mechanism

    outcome = make_mechanism("utilitarian").allocate(game, rng=np.random.default_rng(0))
    counts = np.zeros(game.n_targets)
    for u in (np.arange(draws) + 0.5) / draws:
        (target,) = attacker.respond(game, coverage, outcome, np.array([u]))
        counts[target] += 1
    return counts / draws


def test_logit_attackers_draw_with_their_probabilities():
    from agents.attackers import make_attacker

    game = example_5_2()
    coverage = np.array([0.6, 0.6, 0.6, 0.6, 0.6])
    for name, params in (("quantal", {"precision": 4.0}), ("suqr", {})):
        attacker = make_attacker(name, **params)
        np.testing.assert_allclose(
            _attack_frequencies(attacker, game, coverage),
            attacker.probabilities(game, coverage),
            atol=1e-3,
        )


def test_a_bayesian_attacker_mixes_its_types_with_their_weights_and_payoffs():
    from agents.attackers import make_attacker

    game = example_5_2()
    coverage = np.array([0.9, 0.2, 0.5, 0.4, 0.1])
    own = {"reward": [1.0, 2.0, 3.0, 4.0, 5.0], "penalty": [0.0] * 5}
    types = [
        {"model": "quantal", "precision": 3.0, "weight": 0.3},
        {"model": "suqr", "w_coverage": -5.0, "weight": 0.5, **own},
        {"model": "quantal", "precision": 0.0, "weight": 0.2},
    ]
    mixture = make_attacker("bayesian", types=types)
    expected = (
        0.3 * LogitResponse.quantal(3.0).probabilities(game, coverage)
        + 0.5
        * LogitResponse.suqr(-5.0, 3.0, 1.0).probabilities(
            game.with_attacker_payoffs(own["reward"], own["penalty"]), coverage
        )
        + 0.2 / game.n_targets
    )
    np.testing.assert_allclose(mixture.probabilities(game, coverage), expected)
    np.testing.assert_allclose(_attack_frequencies(mixture, game, coverage), expected, atol=1e-3)
    # a rational type attacks its own best response: here target 4, the least covered
    rational = make_attacker("bayesian", types=[{"model": "informed", "weight": 1.0, **own}])
    assert _attack_frequencies(rational, game, coverage, draws=50)[4] == 1.0


@pytest.mark.parametrize(
    ("types", "message"),
    [
        ([], "non-empty list"),
        ([{"model": "learning", "weight": 1.0}], r"types\[0\].model must be one of"),
        ([{"model": "quantal", "weight": 0.5}], "sum to 1"),
        ([{"model": "quantal", "weight": -1.0}], r"types\[0\].weight must be > 0"),
        ([{"model": "quantal", "precision": -2, "weight": 1.0}], r"types\[0\]: .*precision"),
    ],
)
def test_a_bad_bayesian_type_is_refused_by_name(types, message):
    from agents.attackers import make_attacker

    with pytest.raises(InvalidParameterError, match=message):
        make_attacker("bayesian", types=types)


def test_a_bayesian_types_payoffs_must_fit_the_game():
    from agents.attackers import make_attacker

    attacker = make_attacker(
        "bayesian", types=[{"model": "quantal", "weight": 1.0, "reward": [1.0, 2.0]}]
    )
    with pytest.raises(InvalidParameterError, match=r"types\[0\]'s payoffs"):
        attacker.probabilities(example_5_2(), np.zeros(5))


@given(games(max_defenders=3, max_targets=4, max_resources=2), st.sampled_from([0.0, 3.0, 30.0]))
@settings(max_examples=examples(15))
def test_pooled_logit_commits_to_the_certified_coverage(game, precision):
    from mechanisms import make_mechanism
    from mechanisms.outcome import outcome_problem

    mechanism = make_mechanism("pooled_logit", precision=precision, max_gap=1e-2)
    outcome = mechanism.allocate(game, rng=np.random.default_rng(0))
    if game.restricted:
        assert not outcome.ok
        return
    assert outcome.ok and outcome_problem(game, outcome) is None
    scale = float(game.units.defender_scale.sum())
    found = pooled_against_logit(
        game, LogitResponse.quantal(precision), max_gap=1e-2 * scale, max_resolution=512
    )
    planned = mechanism.planned_utility(game, outcome)
    assert planned.sum() <= found.upper + 1e-9 * scale
    assert planned.sum() >= found.upper - 1e-2 * scale - 1e-9 * scale or found.resolution == 512


def test_pooled_logit_refuses_bad_weights_by_name():
    from mechanisms import make_mechanism

    with pytest.raises(InvalidParameterError, match=r"pooled_logit\.w_reward"):
        make_mechanism("pooled_logit", w_reward=float("inf"))
    with pytest.raises(InvalidParameterError, match=r"pooled_logit\.max_gap"):
        make_mechanism("pooled_logit", max_gap=0)


def _sweep(**attacker):
    from runs.config import parse_config

    from tests_support import TINY

    data = {**TINY, "attacker": {"name": "quantal", **attacker}}
    data["generator"] = {**TINY["generator"], "grid": {"n_defenders": [2]}}
    return parse_config(data)


def test_an_attacker_grid_sweeps_the_attacker_over_every_game(tmp_path):
    from runs.export import read_dataset
    from runs.runner import run_study

    config = _sweep(grid={"precision": [0.0, 50.0]})
    assert config.swept() == ["attacker.precision"]
    assert [p["attacker.precision"] for p in config.grid_points()] == [0.0, 50.0]
    assert config.attacker_for(config.grid_points()[1]).precision == 50.0
    run_study(config, tmp_path / "out", jobs=1, quiet=True)
    audits = read_dataset(tmp_path / "out", "audits")
    rounds = read_dataset(tmp_path / "out", "rounds")
    assert set(rounds["attacker.precision"]) == {0.0, 50.0}
    # the same games at both precisions: the one-shot audits agree, the attacks differ
    by = ["mechanism", "replication", "defender"]
    low, high = (audits[audits["attacker.precision"] == v].sort_values(by) for v in (0.0, 50.0))
    np.testing.assert_array_equal(low["utility"], high["utility"])
    attacked = [
        rounds[rounds["attacker.precision"] == v]["attacked_target"].to_numpy() for v in (0, 50)
    ]
    assert (attacked[0] != attacked[1]).any()


@pytest.mark.parametrize(
    ("attacker", "match"),
    [
        ({"grid": {"precision": []}}, r"'attacker.grid.precision' must be a non-empty list"),
        (
            {"params": {"precision": 1.0}, "grid": {"precision": [2.0]}},
            r"'attacker.grid.precision' is also set in attacker.params",
        ),
        ({"grid": {"precision": [1.0, -3.0]}}, r"\[attacker\] with \{'precision': -3.0\}"),
    ],
)
def test_a_bad_attacker_grid_is_refused_by_name(attacker, match):
    from sim.errors import InvalidConfigError

    with pytest.raises(InvalidConfigError, match=match):
        _sweep(**attacker)
