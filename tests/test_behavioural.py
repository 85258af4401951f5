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
from sim.solvers.behavioural import (
    best_against_logit,
    best_against_logit_by_signal,
    logit_value,
    pooled_against_logit,
)

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


def _brute_force_by_signal(a, b, p, g, weight, budget, steps=8):
    """The largest F over per-signal coverages on a grid of ``steps`` per unit (each
    signal's within the budget)."""
    m = a.size
    points = np.linspace(0, 1, steps + 1)
    own = np.array([y for y in itertools.product(points, repeat=m) if sum(y) <= budget + 1e-12])
    added = np.zeros((1, m))
    for row in weight:  # every combination of the signals' grid coverages
        added = (added[:, None, :] + row[None, None, :] * own[None, :, :]).reshape(-1, m)
    s = a + b * added
    w = np.exp(s - s.max(axis=1, keepdims=True))
    return float(((w * (p + g * added)).sum(axis=1) / w.sum(axis=1)).max())


_SHARE = st.sampled_from([0.0, 0.25, 0.5])


@given(
    st.integers(1, 3).flatmap(
        lambda m: st.tuples(
            *[st.lists(_SMALL, min_size=m, max_size=m) for _ in range(4)],
            st.lists(st.lists(_SHARE, min_size=m, max_size=m), min_size=1, max_size=2),
        )
    ),
    st.sampled_from([0, 1, 2]),
)
@settings(max_examples=examples(40), deadline=None)
def test_the_per_signal_certificate_bounds_a_brute_force_search(vectors, budget):
    """The best modification's optimiser (docs/behavioural.md §5): its y is playable
    and gives its value, and no grid point of the per-signal coverages beats its bound."""
    a, b, p, g, weight = (np.array(v, dtype=float) for v in vectors)
    b = 3 * b
    found, y = best_against_logit_by_signal(a, b, p, g, weight=weight, budget=budget, max_gap=1e-4)
    assert (y >= 0).all() and (y <= 1).all() and (y.sum(axis=1) <= budget + 1e-9).all()
    assert not y[weight == 0].any()
    np.testing.assert_allclose((weight * y).sum(axis=0), found.coverage, atol=1e-9)
    assert found.value == pytest.approx(logit_value(a, b, p, g, found.coverage), abs=1e-12)
    brute = _brute_force_by_signal(a, b, p, g, weight, budget)
    assert brute <= found.upper + 1e-9
    assert found.gap <= 1e-4 or found.resolution == 256


@given(
    st.integers(1, 4).flatmap(
        lambda m: st.tuples(*[st.lists(_SMALL, min_size=m, max_size=m) for _ in range(4)])
    ),
    st.sampled_from([1, 2]),
)
@settings(max_examples=examples(25), deadline=None)
def test_one_signal_of_unit_weight_is_the_knapsack_problem(vectors, budget):
    """With one signal whose coverage adds in full, the per-signal problem is the
    budgeted one of :func:`best_against_logit`: their certified brackets meet."""
    a, b, p, g = (np.array(v, dtype=float) for v in vectors)
    b = 3 * b
    knapsack = best_against_logit(a, b, p, g, budget=budget, max_gap=1e-3, max_resolution=512)
    signal, _ = best_against_logit_by_signal(
        a, b, p, g, weight=np.ones((1, a.size)), budget=budget, max_gap=1e-4
    )
    assert signal.value <= knapsack.upper + 1e-9 and knapsack.value <= signal.upper + 1e-9


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


@given(games(max_defenders=3, max_targets=3, max_resources=2), st.sampled_from([0.0, 2.0, 10.0]))
@settings(max_examples=examples(20), deadline=None)
def test_the_floored_pooled_optimum_is_certified_against_brute_force(game, precision):
    """CSW-Max against a logit attacker (docs/behavioural.md §3): the coverage found
    gives every defender at least her status-quo utility, beats the status quo's
    total, and no grid point meeting the floors beats the bound."""
    from sim.nse import compute_nse

    if game.restricted:
        return
    nse = compute_nse(game.one_attack)
    if not nse.verified:
        return
    response = LogitResponse.quantal(precision)
    start = np.asarray(nse.total_coverage)
    floors = response.utilities(game, start)
    scale = float(game.units.defender_scale.sum())
    found = pooled_against_logit(game, response, floors=floors, start=start, max_gap=1e-3 * scale)
    got = response.utilities(game, found.coverage)
    assert (got >= floors - 1e-8 * game.units.defender_scale).all()
    assert found.coverage.sum() <= game.total_resources + 1e-9
    assert found.value == pytest.approx(got.sum(), abs=1e-9 * scale)
    assert found.value >= floors.sum() - 1e-9 * scale
    points = np.array(list(itertools.product(np.linspace(0, 1, 11), repeat=game.n_targets)))
    points = points[points.sum(axis=1) <= game.total_resources + 1e-12]
    totals = [response.utilities(game, c) for c in points]
    feasible = [u.sum() for u in totals if (u >= floors - 1e-9 * scale).all()]
    assert max(feasible, default=-np.inf) <= found.upper + 1e-9 * scale


def test_pooled_logit_csw_max_preserves_the_status_quo_against_its_attacker():
    """``objective = "csw_max"``: every defender expects at least her status-quo (NSE)
    utility against the planned attacker, and the total is at least the status quo's
    (Example 5.2 of Gan et al. 2020, where the utilitarian plan leaves defender 2 with
    0.40 against the NSE's 2.28)."""
    from mechanisms import make_mechanism
    from sim.nse import compute_nse

    game = example_5_2()
    status_quo = compute_nse(game).total_coverage
    for precision in (1.0, 10.0):
        csw = make_mechanism("pooled_logit", objective="csw_max", precision=precision)
        floors = csw.response().utilities(game, status_quo)
        planned = csw.planned_utility(game, csw.allocate(game, rng=np.random.default_rng(0)))
        assert (planned >= floors - 1e-8).all() and planned.sum() > floors.sum()
    utilitarian = make_mechanism("pooled_logit", precision=10.0)
    plan = utilitarian.planned_utility(
        game, utilitarian.allocate(game, rng=np.random.default_rng(0))
    )
    assert plan[2] < floors[2] - 1.0  # what csw_max prevents
    with pytest.raises(InvalidParameterError, match="csw_max"):
        make_mechanism("pooled_logit", objective="fair")


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
    from mechanisms import make_mechanism
    from runs.export import read_dataset
    from runs.runner import run_study
    from runs.seeding import allocation_seed
    from runs.tasks import study_game

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
    # against the quantal attacker: at precision 0 the attack is uniform, so her
    # expected utility is her mean utility over the targets under the outcome's coverage
    assert low["logit_ir_gain"].notna().all() and high["logit_welfare"].notna().all()
    assert (low["logit_ir_gain"] <= low["logit_ir_gain_upper"]).all()
    game = study_game(config, config.grid_points()[0], 0)
    first = low[(low["replication"] == 0)]
    for _, row in first.iterrows():
        outcome = make_mechanism(row["mechanism_name"]).allocate(
            game, rng=np.random.default_rng(allocation_seed(config.seed, 0))
        )
        expected = np.mean(
            game.defender_penalty[row["defender"]]
            + outcome.coverage * game.defender_gap[row["defender"]]
        )
        assert row["logit_utility"] == pytest.approx(expected)
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


@pytest.mark.parametrize("mechanism", ["nse", "utilitarian", "pooled_logit"])
@pytest.mark.parametrize("precision", [1.0, 30.0])
def test_the_logit_ir_audit_finds_a_playable_deviation_within_its_bracket(mechanism, precision):
    """Property 4 against a quantal attacker on Example 5.2 (Gan et al. 2020): each
    defender's modification is playable within her budget per signal, its overall
    coverage gives the value found, and the bracket holds it."""
    from mechanisms import make_mechanism
    from mechanisms.behavioural import ir_violation_logit

    game = example_5_2()
    outcome = make_mechanism(mechanism).allocate(game, rng=np.random.default_rng(0))
    response = LogitResponse.quantal(precision)
    for i in range(game.n_defenders):
        found = ir_violation_logit(game, outcome, i, response)
        assert 0.0 <= found.gain <= found.gain_upper
        assert found.utility == pytest.approx(response.utilities(game, outcome.coverage)[i])
        assert found.value == pytest.approx(
            max(found.utility, response.utilities(game, found.coverage)[i]), abs=1e-9
        )
        assert found.gain_upper - found.gain <= 1e-3 * game.units.defender_scale[i] + 1e-9
        for _, probability, y in found.modification:
            assert 0.0 < probability <= 1.0
            assert y.sum() <= game.resources[i] + 1e-9 and (y >= 0).all() and (y <= 1).all()


def test_the_logit_ir_audit_does_not_depend_on_the_defenders_units():
    """The search runs in each player's standard units: scaling and shifting every
    defender's payoffs scales her gains and nothing else."""
    from mechanisms import make_mechanism
    from mechanisms.behavioural import ir_violation_logit

    game = example_5_2()
    scaled = SecurityGame(
        defender_reward=7.0 * game.defender_reward - 3.0,
        defender_penalty=7.0 * game.defender_penalty - 3.0,
        attacker_reward=game.attacker_reward,
        attacker_penalty=game.attacker_penalty,
        resources=game.resources,
    )
    outcome = make_mechanism("utilitarian").allocate(game, rng=np.random.default_rng(0))
    response = LogitResponse.quantal(10.0)
    for i in range(game.n_defenders):
        one = ir_violation_logit(game, outcome, i, response)
        other = ir_violation_logit(scaled, outcome, i, response)
        assert other.gain == pytest.approx(7.0 * one.gain, rel=1e-9, abs=1e-12)
        assert other.gain_upper == pytest.approx(7.0 * one.gain_upper, rel=1e-9, abs=1e-12)


def test_a_defender_without_resources_has_nothing_to_gain_against_a_logit_attacker():
    from mechanisms import make_mechanism
    from mechanisms.behavioural import ir_violation_logit

    base = example_5_2()
    game = SecurityGame(
        defender_reward=base.defender_reward,
        defender_penalty=base.defender_penalty,
        attacker_reward=base.attacker_reward,
        attacker_penalty=base.attacker_penalty,
        resources=[0, *base.resources[1:]],
    )
    outcome = make_mechanism("utilitarian").allocate(game, rng=np.random.default_rng(0))
    found = ir_violation_logit(game, outcome, 0, LogitResponse.quantal(5.0))
    assert found.gain == 0.0 and found.gain_upper <= 1e-12


def test_the_logit_ir_audit_refuses_bad_input_by_name():
    from mechanisms import make_mechanism
    from mechanisms.behavioural import ir_violation_logit

    game = example_5_2()
    outcome = make_mechanism("utilitarian").allocate(game, rng=np.random.default_rng(0))
    response = LogitResponse.quantal(5.0)
    with pytest.raises(InvalidParameterError, match="defender"):
        ir_violation_logit(game, outcome, 7, response)
    with pytest.raises(InvalidParameterError, match="max_gap"):
        ir_violation_logit(game, outcome, 0, response, max_gap=0.0)
    with pytest.raises(InvalidParameterError, match="weight"):
        best_against_logit_by_signal([0.0], [0.0], [0.0], [1.0], weight=[[-1.0]], budget=1)


@pytest.mark.parametrize("name", ["utilitarian", "nse"])
def test_optimal_deviation_plays_the_logit_modification_against_a_logit_attacker(name):
    """In a simulation against a quantal attacker, the ``optimal_deviation`` behaviour
    plays the modification of the logit IR audit: its per-round expected gain over
    following, averaged over rounds, estimates the audit's gain (same draws for both)."""
    from agents.attackers import make_attacker
    from agents.behaviours import make_execution, make_reporting
    from agents.roles import play_rounds
    from mechanisms import make_mechanism
    from mechanisms.behavioural import ir_violation_logit

    game = example_5_2()
    mechanism = make_mechanism(name)
    outcome = mechanism.allocate(game, rng=np.random.default_rng(0))
    deviator = 1
    expected = ir_violation_logit(game, outcome, deviator, LogitResponse.quantal(30.0))
    assert expected.gain > 0.01 * game.units.defender_scale[deviator]
    behaviours = [
        (
            make_reporting("truthful"),
            make_execution("optimal_deviation" if i == deviator else "follow"),
        )
        for i in range(game.n_defenders)
    ]
    records = play_rounds(
        game,
        mechanism,
        behaviours,
        attacker=make_attacker("quantal", precision=30.0),
        rounds=600,
        rng=3,
    )
    gains = np.array([r.defenders[deviator].ir_gain for r in records])
    error = gains.std(ddof=1) / np.sqrt(gains.size)
    assert abs(gains.mean() - expected.gain) <= 4 * error


def test_the_logit_ir_audit_holds_near_the_rational_limit():
    """At precision 1000 the weights span hundreds of orders of magnitude: the audit
    still brackets every gain with a finite bound (a game of the behavioural study on
    which an earlier version's MILP failed and took the instance with it)."""
    from mechanisms import make_mechanism
    from mechanisms.behavioural import ir_violation_logit
    from runs.config import load_config
    from runs.seeding import allocation_seed
    from runs.tasks import study_game

    config = load_config("behavioural_attackers")
    game = study_game(config, config.grid_points()[3], 3)
    outcome = make_mechanism("nse").allocate(
        game, rng=np.random.default_rng(allocation_seed(config.seed, 3))
    )
    for i in range(game.n_defenders):
        found = ir_violation_logit(game, outcome, i, LogitResponse.quantal(1000.0))
        assert 0.0 < found.gain <= found.gain_upper < np.inf
