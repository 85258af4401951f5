"""The Mesa-native side (issue 14, first part): the model's DataCollector, round
records as DataFrames with the study's columns, agents' state, housekeeping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agents.agents import DefenderAgent
from agents.attackers import make_attacker
from agents.model import CoordinationModel, simulate
from agents.profiles import BehaviourProfile
from agents.records import RECORD_COLUMNS, records_frame
from mechanisms import make_mechanism
from runs.cli import main
from runs.export import read_dataset
from runs.schema import ROUND_COLUMNS
from sim.generators import make_generator

from conftest_paths import ROOT


def _model(collect=True, attacker="learning"):
    game = make_generator("uniform", n_defenders=3, n_targets=5, resources=1).sample(
        np.random.default_rng(3)
    )
    profile = BehaviourProfile("p", "learning_misreport", "learning_deviation", strategic="all")
    return CoordinationModel(
        game,
        make_mechanism("utilitarian"),
        profile.behaviours(3),
        attacker=make_attacker(attacker),
        rounds=15,
        rng=4,
        collect=collect,
    )


def test_the_datacollector_collects_every_round():
    with _model() as model:
        records = model.run()
        per_round = model.datacollector.get_model_vars_dataframe()
        per_defender = model.datacollector.get_agenttype_vars_dataframe(DefenderAgent)
        assert list(per_round.columns) == [
            "round",
            "attacked_target",
            "covered",
            "attacked_targets",
            "covered_attacks",
            "welfare",
            "coverage",
            "attacker_belief",
        ]
        assert per_round["round"].tolist() == list(range(15))
        assert all(len(b) == 5 for b in per_round["attacker_belief"])  # the learning attacker
        assert len(per_defender) == 15 * 3
        for agent in model.defenders:
            mine = per_defender[per_defender["defender"] == agent.index]
            realised = [r.defenders[agent.index].realised_utility for r in records]
            assert mine["cumulative_utility"].iloc[-1] == pytest.approx(sum(realised))
            assert agent.cumulative_utility == pytest.approx(sum(realised))
            assert set(agent.learning or {}) <= {
                f"{kind}:{arm}"
                for kind in ("report", "execute")
                for arm in (
                    "truthful",
                    "scale",
                    "exaggerate_favourite",
                    "exaggerate_least",
                    "reverse",
                    "follow",
                    "shirk",
                    "optimal_deviation",
                )
            }
        assert (per_defender["distortion"] >= 0).all()
        assert ((per_defender["distortion"] > 0) == per_defender["misreported"]).all()


def test_collecting_is_optional_and_changes_nothing():
    with _model(collect=False) as quiet, _model(collect=True) as loud:
        assert quiet.run() == loud.run()
        assert quiet.datacollector.get_model_vars_dataframe().empty
    with _model(attacker="informed") as model:
        model.run()
        assert model.datacollector.get_model_vars_dataframe()["attacker_belief"].isna().all()


def test_records_frame_has_the_study_columns():
    records = simulate(
        make_generator("uniform", n_defenders=2, n_targets=3).sample(np.random.default_rng(1)),
        make_mechanism("dictatorship"),
        BehaviourProfile("p", strategic="all").behaviours(2),
        rounds=4,
        rng=2,
    )
    df = records_frame(records)
    assert list(df.columns) == list(RECORD_COLUMNS) and len(df) == 4 * 2
    for column, dtype in RECORD_COLUMNS.items():
        assert column == "leader" or ROUND_COLUMNS[column] == dtype
        assert str(df[column].dtype) == dtype
    assert (df["leader"] >= 0).all()  # dictatorship distinguishes a defender


def test_housekeeping(capsys):
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    citation = (ROOT / "CITATION.cff").read_text()
    assert "Mechanism Design for Defense Coordination in Security Games" in citation
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "that give every defender at least her utility in an NSE of the *reported*" in out


def test_a_study_grows_with_more_replications(tmp_path):
    """--resume with more replications runs only the new ones; earlier parts stay
    byte-identical (the seed tree) and the dataset equals a fresh run of the bigger
    study; any other change is refused, naming the fields."""
    from runs.runner import run_study
    from sim.errors import InvalidConfigError

    from tests_support import tiny

    small, big = tiny(**{"study.replications": 3}), tiny(**{"study.replications": 6})
    run_study(small, tmp_path / "s", jobs=1, quiet=True)
    before = {p.name: p.read_bytes() for p in (tmp_path / "s" / "parts").glob("*.arrow")}
    grown = run_study(big, tmp_path / "s", jobs=1, quiet=True, resume=True)
    after = {p.name: p.read_bytes() for p in (tmp_path / "s" / "parts").glob("*.arrow")}
    kept = [name for name in before if "r0000000" in name]  # complete chunks (size 2)
    assert kept and all(after[name] == before[name] for name in kept)
    assert grown.skipped == len(kept)  # the cut-short last chunks ran again, whole
    run_study(big, tmp_path / "fresh", jobs=1, quiet=True)
    for table in ("audits", "rounds"):
        pd.testing.assert_frame_equal(
            read_dataset(tmp_path / "s", table), read_dataset(tmp_path / "fresh", table)
        )
    with pytest.raises(InvalidConfigError, match=r"differs in study\.rounds"):
        run_study(
            tiny(**{"study.replications": 6, "study.rounds": 5}),
            tmp_path / "s",
            jobs=1,
            quiet=True,
            resume=True,
        )
    with pytest.raises(InvalidConfigError, match="can grow but not shrink"):
        run_study(small, tmp_path / "s", jobs=1, quiet=True, resume=True)


def test_schema_lists_every_field_the_parser_accepts(capsys):
    import tomllib

    from runs.config import CONFIG_DIR, FIELDS

    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    for field in FIELDS:
        assert f"  {field.name} " in out
    accepted = {(f.table, f.name) for f in FIELDS}
    for path in CONFIG_DIR.glob("*.toml"):
        data = tomllib.loads(path.read_text())
        for table, content in data.items():
            entries = content if isinstance(content, list) else [content]
            for entry in entries:
                assert {(table, key) for key in entry} <= accepted, path.name
