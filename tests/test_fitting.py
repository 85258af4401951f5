"""Fitting logit attackers to attack logs (``docs/behavioural.md`` §2): agreement with
statsmodels' conditional logit, recovery of the generating weights at the nominal rate
of the Wald intervals, the likelihood-ratio test's size and power, and EM on a mixture."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import InvalidConfigError, InvalidParameterError
from sim.fitting import (
    AttackLog,
    FitError,
    fit_logit,
    fit_mixture,
    fit_quantal,
    fit_suqr,
    lr_test,
)
from sim.generators import make_generator
from sim.response import LogitResponse

SUQR_TRUTH = (-4.0, 2.0, 1.0)


def simulate_log(responses, shares, rounds, seed, n_targets=5) -> AttackLog:
    """Rounds on games of a uniform generator (a new game every 20 rounds) under random
    coverage, each attacked by a type drawn with its share."""
    rng = np.random.default_rng(seed)
    generator = make_generator("uniform", n_defenders=2, n_targets=n_targets, resources=1)
    games, covers, attacked = [], [], []
    for r in range(rounds):
        if r % 20 == 0:
            game = generator.sample(rng)
        coverage = rng.uniform(0, 1, n_targets)
        response = responses[rng.choice(len(responses), p=shares)]
        games.append(game)
        covers.append(coverage)
        attacked.append(rng.choice(n_targets, p=response.probabilities(game, coverage)))
    return AttackLog.from_rounds(games, covers, attacked)


def test_the_fit_agrees_with_statsmodels_conditional_logit():
    conditional = pytest.importorskip("statsmodels.discrete.conditional_models")
    log = simulate_log([LogitResponse.suqr(*SUQR_TRUTH)], [1.0], 600, seed=1)
    ours = fit_suqr(log)
    m = log.features.shape[1]
    endog = (np.arange(m)[None, :] == log.attacked[:, None]).ravel().astype(float)
    exog = log.features[:, :, 1:4].reshape(-1, 3)  # coverage, reward, penalty
    groups = np.repeat(np.arange(log.rounds), m)
    theirs = conditional.ConditionalLogit(endog, exog, groups=groups).fit(disp=False)
    np.testing.assert_allclose(ours.weights, theirs.params, atol=1e-3)
    np.testing.assert_allclose(ours.std_errors, theirs.bse, rtol=1e-3)
    assert ours.log_likelihood >= theirs.llf - 1e-9  # their optimiser stops a little short
    assert ours.log_likelihood == pytest.approx(theirs.llf, abs=1e-4)


def test_the_intervals_cover_the_generating_weights_at_their_rate():
    """Over 200 independent logs the 95% Wald intervals cover each true SUQR weight in
    between 90% and 99% of them (a binomial count with sd 1.5 points at 95%)."""
    logs = 200
    covered = np.zeros(3)
    for seed in range(logs):
        fit = fit_suqr(simulate_log([LogitResponse.suqr(*SUQR_TRUTH)], [1.0], 300, seed))
        low, high = fit.intervals().T
        covered += (low <= SUQR_TRUTH) & (np.array(SUQR_TRUTH) <= high)
    rate = covered / logs
    assert ((rate >= 0.90) & (rate <= 0.99)).all(), rate


def test_the_likelihood_ratio_test_holds_its_size_and_has_power():
    logs, rejected_null, rejected_alternative = 200, 0, 0
    for seed in range(logs):
        null = simulate_log([LogitResponse.quantal(6.0)], [1.0], 200, seed)
        test = lr_test(fit_quantal(null), fit_logit(null, ("utility", "coverage")))
        rejected_null += test.p_value < 0.05
        assert test.df == 1
        alternative = simulate_log(
            [LogitResponse({"utility": 6.0, "coverage": -3.0})], [1.0], 200, seed
        )
        test = lr_test(fit_quantal(alternative), fit_logit(alternative, ("utility", "coverage")))
        rejected_alternative += test.p_value < 0.05
    assert 0.01 <= rejected_null / logs <= 0.10
    assert rejected_alternative / logs >= 0.9


def test_em_recovers_a_mixture_of_two_types():
    types = [LogitResponse.quantal(0.0), LogitResponse.quantal(25.0)]
    log = simulate_log(types, [0.3, 0.7], 4000, seed=3)
    fit = fit_mixture(log, ("utility",), 2, starts=4)
    np.testing.assert_allclose(fit.shares, [0.3, 0.7], atol=0.08)
    assert abs(fit.weights[0, 0]) < 3.0
    assert fit.weights[1, 0] == pytest.approx(25.0, rel=0.25)
    assert fit.log_likelihood >= fit_quantal(log).log_likelihood - 1e-9  # nests one type


def test_what_a_log_cannot_identify_is_refused():
    log = simulate_log([LogitResponse.quantal(1.0)], [1.0], 50, seed=0)
    constant = AttackLog(
        features=np.where(np.arange(4) == 2, 1.0, log.features),  # reward constant
        valid=log.valid,
        attacked=log.attacked,
    )
    with pytest.raises(FitError, match="do not identify"):
        fit_logit(constant, ("reward", "utility"))
    # every round attacks its least covered target: the coverage weight runs off
    least = log.features[:, :, 1].argmin(axis=1)
    separated = AttackLog(features=log.features, valid=log.valid, attacked=least)
    with pytest.raises(FitError, match="separated"):
        fit_logit(separated, ("coverage",))
    with pytest.raises(InvalidParameterError, match="distinct names"):
        fit_logit(log, ("distance",))
    with pytest.raises(InvalidParameterError, match="nested"):
        lr_test(fit_suqr(log), fit_quantal(log))


def test_a_studys_rounds_are_an_attack_log_that_recovers_its_attacker(tmp_path):
    from runs.cli import main
    from runs.export import read_dataset
    from runs.logs import attack_log

    from tests_support import write_config

    study = {
        "study": {"name": "qr", "seed": 5, "replications": 40, "rounds": 30},
        "generator": {
            "name": "uniform",
            "params": {"n_defenders": 2, "n_targets": 6, "resources": 1},
        },
        "mechanisms": [{"name": "utilitarian"}],
        "profiles": [{"name": "truthful"}],
        "attacker": {"name": "quantal", "params": {"precision": 5.0}},
        "audits": {"misreport_budget": 2},
    }
    config = write_config(tmp_path / "qr.toml", study)
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    log = attack_log(out, mechanism="utilitarian", profile="truthful")
    rounds = read_dataset(out, "rounds")
    assert log.rounds == 40 * 30 == int((rounds["defender"] == 0).sum())
    np.testing.assert_array_equal(log.attacked, rounds[rounds["defender"] == 0]["attacked_target"])
    low, high = fit_quantal(log).intervals()[0]
    assert low <= 5.0 <= high
    with pytest.raises(InvalidConfigError, match="profile 'nope' is not in the study"):
        attack_log(out, profile="nope")
    assert main(["fit", str(out), "--format", "csv"]) == 0
    assert main(["fit", str(out), "--mechanism", "nope"]) == 2
