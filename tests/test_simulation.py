"""The Mesa simulation: economics, counterfactuals, behaviours, attackers, memory."""

from __future__ import annotations

import gc
import weakref

import mesa
import numpy as np
import pytest

from agents.attackers import ATTACKERS, make_attacker
from agents.behaviours import EXECUTION, REPORTING, distort, make_execution, make_reporting
from agents.empirical import empirical_failures
from agents.model import CoordinationModel, simulate
from agents.profiles import BehaviourProfile
from agents.roles import play_rounds
from mechanisms import make_mechanism
from sim.errors import InvalidParameterError, UnknownNameError
from sim.generators import make_generator
from sim.instances import example_5_2
from sim.payoffs import best_responses

from conformance import check_attacker, check_behaviours

HONEST = (make_reporting("truthful"), make_execution("follow"))


def _game(seed=0, n=3, m=5):
    return make_generator(
        "uniform", n_defenders=n, n_targets=m, resources={"low": 1, "high": 2}
    ).sample(np.random.default_rng(seed))


def test_honest_play_has_no_gains_and_consistent_payoffs():
    game = _game()
    records = simulate(game, make_mechanism("csw_max"), [HONEST] * 3, rounds=50, rng=1)
    outcome = make_mechanism("csw_max").allocate(game, rng=np.random.default_rng(0))
    for record in records:
        assert record.designated_target == outcome.attacked_target
        assert record.attacked_target == outcome.attacked_target  # informed, designated
        for row in record.defenders:
            assert row.sp_gain == 0.0 and row.ir_gain == 0.0
            assert not row.misreported and not row.deviated
            t = record.attacked_target
            expected = (
                game.defender_penalty[row.defender, t]
                + outcome.coverage[t] * game.defender_gap[row.defender, t]
            )
            assert row.expected_utility == pytest.approx(expected)
            covered_value = game.defender_reward[row.defender, t]
            assert row.realised_utility == (
                covered_value if record.covered else game.defender_penalty[row.defender, t]
            )
    covered_rate = np.mean([r.covered for r in records])
    assert abs(covered_rate - outcome.coverage[outcome.attacked_target]) < 0.2


def test_mesa_model_equals_the_plain_loop():
    game = _game(1, n=4, m=6)
    profile = BehaviourProfile("p", "learning_misreport", "learning_deviation", strategic="all")
    kwargs = dict(attacker=make_attacker("learning"), rounds=60, rng=np.random.SeedSequence(7))
    a = simulate(game, make_mechanism("utilitarian"), profile.behaviours(4), **kwargs)
    b = play_rounds(game, make_mechanism("utilitarian"), profile.behaviours(4), **kwargs)
    assert a == b


def test_same_seed_same_records_and_different_seed_differs():
    game = _game(2)
    beh = BehaviourProfile("p", "fixed_misreport", "shirk", strategic="first").behaviours(3)

    def run(seed):
        return simulate(
            game,
            make_mechanism("random_dictatorship"),
            beh,
            attacker=make_attacker("quantal"),
            rounds=40,
            rng=np.random.SeedSequence(seed),
        )

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_optimal_deviation_pays_against_csw_max_on_example_5_2():
    """Theorem 5.5 measured: CSW-Max's outcome on Example 5.2 is not IR."""
    game = example_5_2()
    beh = [HONEST, (make_reporting("truthful"), make_execution("optimal_deviation")), HONEST]
    records = simulate(game, make_mechanism("csw_max"), beh, rounds=100, rng=5)
    summary = empirical_failures(records, defenders=[1])
    assert summary.ir.rate == 1.0 and summary.ir.mean_gain > 1.9
    assert summary.ir.low > 0.95  # Clopper-Pearson with 100/100


def test_nobody_gains_by_deviating_from_the_nse():
    game = _game(3)
    for executing in ("optimal_deviation", "shirk"):
        beh = [(make_reporting("truthful"), make_execution(executing))] * 3
        records = simulate(game, make_mechanism("nse"), beh, rounds=60, rng=9)
        summary = empirical_failures(records)
        assert summary.ir.failures == 0, executing


def test_fixed_misreport_sp_gain_is_the_mechanism_level_gain():
    game = _game(4)
    mech = make_mechanism("utilitarian")
    r, p = distort(game, 0, "exaggerate_favourite", 2.0)
    truthful = mech.allocate(game, rng=np.random.default_rng(0))
    lied = mech.allocate(game.with_reports(0, r, p), rng=np.random.default_rng(0))

    def true_u(o):
        t = o.attacked_target
        return game.defender_penalty[0, t] + o.coverage[t] * game.defender_gap[0, t]

    beh = BehaviourProfile("p", "fixed_misreport", "follow", strategic="first").behaviours(3)
    records = simulate(game, mech, beh, rounds=5, rng=0)
    for record in records:
        assert record.defenders[0].misreported
        assert record.defenders[0].sp_gain == pytest.approx(true_u(lied) - true_u(truthful))


def test_registries():
    assert REPORTING.names() == [
        "best_response_misreport",
        "fixed_misreport",
        "learning_misreport",
        "truthful",
    ]
    assert EXECUTION.names() == ["follow", "learning_deviation", "optimal_deviation", "shirk"]
    assert ATTACKERS.names() == ["bayesian", "informed", "learning", "quantal", "suqr"]
    with pytest.raises(UnknownNameError, match="valid names"):
        make_reporting("lie")
    for maker, name, params, match in (
        (make_reporting, "fixed_misreport", dict(distortion="twist"), "distortion must be one of"),
        (make_reporting, "fixed_misreport", dict(factor=0), "factor must be > 0"),
        (make_reporting, "best_response_misreport", dict(every="week"), "every must be"),
        (make_reporting, "learning_misreport", dict(algorithm="thompson"), "algorithm must be"),
        (make_execution, "shirk", dict(quantile=2), r"quantile must be in \[0, 1\]"),
        (make_execution, "learning_deviation", dict(epsilon=-1), r"epsilon must be in \[0, 1\]"),
        (make_attacker, "learning", dict(discount=1.5), r"discount must be in \[0, 1\)"),
        (make_attacker, "quantal", dict(precision=-1), "precision must be"),
        (make_attacker, "informed", dict(tie_breaking="coin"), "tie_breaking must be one of"),
    ):
        with pytest.raises(InvalidParameterError, match=match):
            maker(name, **params)


@pytest.mark.parametrize("reporting", REPORTING.names())
@pytest.mark.parametrize("executing", EXECUTION.names())
def test_behaviour_conformance(reporting, executing):
    """Every behaviour pair: valid reports, executions within budget, deterministic."""
    check_behaviours(reporting, executing)


@pytest.mark.parametrize("name", ATTACKERS.names())
def test_attacker_conformance(name):
    check_attacker(name)


def test_attacker_models():
    game = _game(6)
    outcome = make_mechanism("csw_max").allocate(game, rng=np.random.default_rng(0))
    informed = make_attacker("informed")
    (t,) = informed.respond(game, outcome.coverage, outcome, np.array([0.5]))
    assert t == outcome.attacked_target and t in best_responses(game, outcome.coverage)
    quantal = make_attacker("quantal", precision=0.0)
    np.testing.assert_allclose(quantal.probabilities(game, outcome.coverage), 1 / game.n_targets)
    sharp = make_attacker("quantal", precision=1e6)
    (t,) = sharp.respond(game, outcome.coverage, outcome, np.array([0.3]))
    assert t in best_responses(game, outcome.coverage, tol=1e-5)
    learning = make_attacker("learning", discount=0.5)
    learning.reset(game)
    belief = learning.belief(outcome, outcome.coverage)
    np.testing.assert_allclose(belief, outcome.coverage)
    learning.observe(np.zeros(game.n_targets, dtype=bool))
    np.testing.assert_allclose(learning.belief(outcome, outcome.coverage), outcome.coverage / 2)


def test_learning_attacker_notices_systematic_shirking():
    game = _game(7)
    beh = BehaviourProfile(
        "p", "truthful", "shirk", executing_params={"quantile": 1.0}, strategic="all"
    ).behaviours(3)
    records = simulate(
        game,
        make_mechanism("csw_max"),
        beh,
        attacker=make_attacker("learning", discount=0.8),
        rounds=40,
        rng=2,
    )
    assert np.mean([r.covered for r in records[10:]]) < 0.5


def test_model_is_released():
    before = len(mesa.Agent._ids)
    model = CoordinationModel(example_5_2(), make_mechanism("nse"), [HONEST] * 3, rounds=3, rng=1)
    model.run()
    ref = weakref.ref(model)
    model.release()
    del model
    gc.collect()
    assert ref() is None
    assert len(mesa.Agent._ids) == before


def test_many_models_do_not_accumulate():
    before = len(mesa.Agent._ids)
    for seed in range(20):
        simulate(example_5_2(), make_mechanism("utilitarian"), [HONEST] * 3, rounds=2, rng=seed)
    gc.collect()
    assert len(mesa.Agent._ids) == before


def test_model_validates_arguments():
    with pytest.raises(
        InvalidParameterError, match="one \\(reporting, executing\\) pair per defender"
    ):
        CoordinationModel(example_5_2(), make_mechanism("nse"), [HONEST], rounds=1)
    with pytest.raises(InvalidParameterError, match="rounds must be an int >= 0"):
        CoordinationModel(example_5_2(), make_mechanism("nse"), [HONEST] * 3, rounds=-1)


@pytest.mark.slow
def test_csw_max_nse_has_no_sp_failures_on_nonoverlapping_games():
    rng = np.random.default_rng(12)
    gen = make_generator("nonoverlapping", n_defenders=3, n_targets=4, resources=[1, 1, 1])
    profile = BehaviourProfile(
        "br",
        "best_response_misreport",
        "follow",
        reporting_params={"budget": 200},
        strategic="first",
    )
    for _ in range(5):
        game = gen.sample(rng)
        records = simulate(
            game,
            make_mechanism("csw_max_nse"),
            profile.behaviours(3),
            rounds=20,
            rng=rng.integers(1 << 30),
        )
        assert empirical_failures(records).sp.failures == 0


@pytest.mark.slow
def test_csw_max_has_sp_failures_on_random_games():
    """Random games of Theorem 3.3's class (non-overlapping payoffs, identical targets
    for the attacker): best-responding reporters manipulate CSW-Max."""
    rng = np.random.default_rng(13)
    gen = make_generator(
        "nonoverlapping", n_defenders=2, n_targets=3, resources=[1, 1], attacker="identical"
    )
    profile = BehaviourProfile(
        "br", "best_response_misreport", "follow", reporting_params={"budget": 40}, strategic="all"
    )
    failures = 0
    for _ in range(12):
        game = gen.sample(rng)
        records = simulate(
            game,
            make_mechanism("csw_max"),
            profile.behaviours(2),
            rounds=5,
            rng=rng.integers(1 << 30),
        )
        failures += empirical_failures(records).sp.failures
    assert failures > 0
