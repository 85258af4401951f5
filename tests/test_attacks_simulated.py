"""Simulations against an attacker with several resources (issue 15, part 5): the
attacker models' attacked sets, additive realised and counterfactual utilities, the
round records and rounds table, and the pooled Stackelberg mechanism that plans for
``n_a`` attacks (checked against the single-attack mechanisms and the enumeration)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from agents.attackers import make_attacker
from agents.model import simulate
from agents.profiles import BehaviourProfile
from agents.records import records_frame
from mechanisms import make_mechanism
from mechanisms.outcome import designated_set
from sim.errors import InvalidParameterError
from sim.generators import make_generator
from sim.payoffs import attacker_utilities, set_utility
from sim.solvers import sse_by_enumeration

from strategies import examples, games

PROFILES = [
    BehaviourProfile("honest", strategic="all"),
    BehaviourProfile("deviate", executing="optimal_deviation", strategic=[0]),
    BehaviourProfile(
        "misreport",
        reporting="best_response_misreport",
        reporting_params={"budget": 4},
        strategic=[1],
    ),
]


def _game(attacks: int, seed: int = 3):
    generator = make_generator(
        "integer", n_defenders=3, n_targets=6, resources=1, attacker_resources=attacks
    )
    return generator.sample(np.random.default_rng(seed))


@pytest.mark.parametrize("attacker", ["informed", "learning", "quantal"])
@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_utilities_are_additive_over_the_attacked_set(attacker, profile):
    game = _game(3)
    records = simulate(
        game,
        make_mechanism("csw_max"),
        profile.behaviours(3),
        attacker=make_attacker(attacker),
        rounds=8,
        rng=5,
    )
    for record in records:
        attacked = list(record.attacked_targets)
        assert len(attacked) == 3 == len(set(attacked)) == record.attacker_resources
        assert record.attacked_target == -1 and record.covered is None
        covered = np.array(record.covered_attacks)
        for row in record.defenders:
            i = row.defender
            realised = np.where(
                covered, game.defender_reward[i, attacked], game.defender_penalty[i, attacked]
            ).sum()
            assert row.realised_utility == pytest.approx(realised)
            expected = set_utility(game, np.array(record.effective_coverage), attacked)[i]
            assert row.expected_utility == pytest.approx(expected)
            for gain in (row.sp_gain, row.ir_gain, row.sp_gain_realised, row.ir_gain_realised):
                assert np.isfinite(gain)
        if attacker != "quantal":  # best responders attack their best targets
            u = attacker_utilities(game, np.array(record.effective_coverage))
            if attacker == "informed":
                rest = np.setdiff1d(np.arange(6), attacked)
                assert u[attacked].min() >= u[rest].max() - 1e-9


def test_a_single_attack_plan_is_completed_to_the_attacked_set_for_sp():
    """csw_max plans for one attack; its designated set against three attacks is its
    own target plus the attacker's next best, and the SP comparison uses that set."""
    game = _game(3)
    outcome = make_mechanism("csw_max").allocate(game, rng=np.random.default_rng(0))
    assert outcome.attacked_targets == (outcome.attacked_target,)
    completed = designated_set(game, outcome, 3)
    assert outcome.attacked_target in completed and len(completed) == 3
    records = simulate(game, make_mechanism("csw_max"), PROFILES[0].behaviours(3), rounds=3, rng=1)
    assert all(r.designated_targets == completed for r in records)
    assert all(row.sp_gain == 0.0 for r in records for row in r.defenders)


def test_the_attack_count_is_the_games_alone():
    """One source of truth (issue 28): every attacker attacks the game's
    ``attacker_resources`` targets, and none takes a count of its own."""
    game = _game(1)
    for name in ("informed", "quantal"):
        records = simulate(
            game.with_attacker_resources(6),
            make_mechanism("utilitarian"),
            PROFILES[0].behaviours(3),
            attacker=make_attacker(name),
            rounds=2,
            rng=2,
        )
        assert all(r.attacked_targets == tuple(range(6)) for r in records)
        with pytest.raises(InvalidParameterError, match=rf"{name}'? has no parameter.*resources"):
            make_attacker(name, resources=2)


def test_the_rounds_frame_holds_the_attacked_sets():
    game = _game(2)
    records = simulate(game, make_mechanism("pooled_sse"), PROFILES[0].behaviours(3), rounds=4)
    frame = records_frame(records)
    assert frame["attacker_resources"].eq(2).all()
    assert frame["attacked_target"].isna().all() and frame["covered"].isna().all()
    for record, text in zip(records, frame["attacked_targets"][::3], strict=True):
        assert text == ",".join(map(str, record.attacked_targets))
    assert frame["covered_attacks"].between(0, 2).all()
    one = records_frame(
        simulate(_game(1), make_mechanism("nse"), PROFILES[0].behaviours(3), rounds=2)
    )
    assert one["attacked_target"].notna().all() and one["covered"].notna().all()
    assert (one["attacked_targets"] == one["attacked_target"].astype(str)).all()
    assert isinstance(one["covered_attacks"].dtype, pd.Int64Dtype)


# -- the pooled Stackelberg mechanism --------------------------------------------------
@settings(max_examples=examples(40), deadline=None)
@given(game=games(max_defenders=3, max_targets=5, max_resources=2))
def test_with_one_attack_pooled_sse_is_worth_the_utilitarian_and_dictator_rules(game):
    rng = np.random.default_rng(0)
    pooled = make_mechanism("pooled_sse").allocate(game, rng=rng)
    utilitarian = make_mechanism("utilitarian").allocate(game, rng=rng)
    assert pooled.defender_utility.sum() == pytest.approx(
        utilitarian.defender_utility.sum(), abs=1e-6
    )
    dictator = make_mechanism("pooled_sse", objective="dictator").allocate(game, rng=rng)
    ruled = make_mechanism("dictatorship").allocate(game, rng=rng)
    assert dictator.leader == ruled.leader
    assert dictator.defender_utility[dictator.leader] == pytest.approx(
        ruled.defender_utility[ruled.leader], abs=1e-6
    )


@settings(max_examples=examples(40), deadline=None)
@given(game=games(max_defenders=3, max_targets=5, max_resources=2, max_attacks=3))
def test_pooled_sse_is_the_best_plan_against_the_attacked_set(game):
    """Its welfare equals the enumeration reference on the pooled game and is at least
    what any single-attack mechanism's coverage gives against the full attacked set."""
    rng = np.random.default_rng(0)
    pooled = make_mechanism("pooled_sse").allocate(game, rng=rng)
    assert len(pooled.attacked_targets) == game.attacker_resources
    reference = sse_by_enumeration(game.pooled())
    assert pooled.defender_utility.sum() == pytest.approx(reference.defender_utility, abs=1e-6)
    for name in ("utilitarian", "csw_max", "dictatorship"):
        other = make_mechanism(name).allocate(game, rng=rng)
        if other.ok:
            attacked = designated_set(game, other, game.attacker_resources)
            welfare = set_utility(game, other.coverage, attacked).sum()
            assert pooled.defender_utility.sum() >= welfare - 1e-6


def test_pooled_sse_rejects_an_unknown_objective_and_fails_past_its_limit():
    with pytest.raises(InvalidParameterError, match=r"pooled_sse\.objective must be one of"):
        make_mechanism("pooled_sse", objective="egalitarian")
    big = make_generator("uniform", n_defenders=2, n_targets=61, resources=1).sample(
        np.random.default_rng(0)
    )
    outcome = make_mechanism("pooled_sse").allocate(big, rng=np.random.default_rng(0))
    assert not outcome.ok and "at most 60 targets" in outcome.message


# -- studies sweeping the attacker's resources -----------------------------------------
def _sweep(tmp_path):
    from tests_support import write_config

    data = {
        "study": {"name": "sweep", "seed": 4, "replications": 3, "rounds": 3, "chunk_size": 3},
        "generator": {
            "name": "uniform",
            "params": {"n_defenders": 2, "n_targets": 4, "resources": 1},
            "grid": {"attacker_resources": [1, 2]},
        },
        "mechanisms": [{"name": "csw_max"}, {"name": "pooled_sse"}],
        "profiles": [{"name": "truthful"}, {"name": "deviate", "executing": "optimal_deviation"}],
        "audits": {"misreport_budget": 3, "nash": True},
    }
    return write_config(tmp_path / "sweep.toml", data)


def test_a_study_sweeps_attacker_resources_end_to_end_from_the_cli(tmp_path, capsys):
    from runs.cli import main
    from runs.export import read_dataset

    out = tmp_path / "out"
    assert main(["run", str(_sweep(tmp_path)), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    assert main(["plot", str(out)]) == 0
    assert (out / "figures" / "attack_strength.png").stat().st_size > 10_000
    audits, rounds = read_dataset(out, "audits"), read_dataset(out, "rounds")
    assert (audits["status"] == "ok").all() and (rounds["status"] == "ok").all()
    one, two = audits[audits["attacker_resources"] == 1], audits[audits["attacker_resources"] == 2]
    one_attack = ["pareto_efficient", "weak_up", "strong_up", "sp_gain", "ir_gain"]
    assert one[one_attack].notna().all().all()  # audited where they are defined
    assert two[one_attack].isna().all().all()  # and missing, never 0, where not
    assert audits["nash_consistent"].notna().all() and audits["welfare"].notna().all()
    sets = two.groupby("mechanism")["attacked_targets"].agg(lambda s: s.str.count(",").max())
    assert sets.to_dict() == {"csw_max": 1, "pooled_sse": 1}  # two targets each
    assert sorted(rounds["attacker_resources"].unique()) == [1, 2]
    hit = rounds[rounds["attacker_resources"] == 2]
    assert hit["attacked_target"].isna().all() and hit["covered_attacks"].between(0, 2).all()
    assert (hit["attacked_targets"].str.count(",") == 1).all()
    capsys.readouterr()
    assert main(["summary", str(out), "--by", "attacker_resources"]) == 0
    printed = capsys.readouterr().out
    assert "not Nash" in printed and "attacker_resources" in printed


def test_with_one_attack_the_stackelberg_coverage_is_always_a_nash_strategy(tmp_path):
    """The shipped reproduction config (Korzhyk, Conitzer, Parr 2011) on a few games:
    with one attack the pooled Stackelberg coverage is a Nash strategy in every game."""
    from pathlib import Path

    from runs.config import load_config
    from runs.export import read_dataset
    from runs.runner import run_study

    config = load_config(
        Path(__file__).resolve().parents[1] / "runs/configs/multi_attack_nash.toml"
    )
    assert config.generator_params["n_targets"] == 10 and config.audits.nash
    out = tmp_path / "man"
    run_study(config.with_overrides(replications=30), out, jobs=1, quiet=True)
    audits = read_dataset(out, "audits")
    verdicts = audits.groupby("attacker_resources")["nash_consistent"].mean()
    assert verdicts[1] == 1.0 and verdicts[3] < 1.0


def test_a_config_refuses_an_attack_count_for_the_attacker():
    from runs.config import parse_config
    from sim.errors import InvalidConfigError

    from tests_support import TINY

    data = {**TINY, "attacker": {"name": "informed", "params": {"resources": 2}}}
    with pytest.raises(InvalidConfigError, match=r"attacker\.params\.resources.*the game's"):
        parse_config(data)
