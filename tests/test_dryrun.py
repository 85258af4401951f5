"""``defcoord run --dry-run`` (issue 14): the study's size, counted from the config,
equals what the run produces; the pilot evaluates whole games; nothing is written."""

from __future__ import annotations

import copy
import time
import tomllib

import pytest

from runs.cli import main
from runs.config import parse_config
from runs.dryrun import Pilot, dry_run, estimate_seconds, pilot, study_plan
from runs.export import read_dataset
from runs.runner import run_study

from conftest_paths import ROOT
from tests_support import TINY, tiny, write_config


@pytest.mark.parametrize("strategic", ["random", "each"])
def test_the_plan_counts_what_the_study_produces(tmp_path, strategic):
    profile = {"name": "deviate", "executing": "optimal_deviation", "strategic": strategic}
    config = parse_config(
        {
            **TINY,
            "study": {**TINY["study"], "replications": 3},
            "profiles": [{"name": "truthful"}, profile],
        }
    )
    plan = study_plan(config)
    run_study(config, tmp_path / "s", jobs=1, quiet=True)
    audits = read_dataset(tmp_path / "s", "audits")
    rounds = read_dataset(tmp_path / "s", "rounds")
    assert plan.points == 2 and plan.games == 2 * 3
    assert plan.audits == len(audits.groupby(["n_defenders", "mechanism", "replication"]))
    key = ["n_defenders", "mechanism", "profile", "replication", "focal_defender"]
    assert plan.simulations == len(rounds.groupby(key))
    assert plan.rounds == len(rounds.groupby([*key, "round"]))


def test_the_pilot_runs_whole_games_within_its_budget():
    config = tiny()
    assert pilot(config, budget=0.0).games == 0
    measured = pilot(config, budget=60.0)
    assert measured.games == config.replications * 2 and measured.seconds > 0  # all fit


def test_a_game_longer_than_the_budget_is_stopped_and_gives_a_lower_bound():
    """Issue 33 #12: the pilot finished its first game whatever it cost (a game of
    1e5 targets ran for minutes past a 5 s budget). Now the budget stops it, and the
    estimate says it is a lower bound."""
    data = copy.deepcopy(TINY)
    data["generator"]["params"]["n_targets"] = 60
    data["audits"] = {"misreport_budget": 100_000}
    config = parse_config(data)
    started = time.perf_counter()
    measured = pilot(config, budget=0.3)
    assert time.perf_counter() - started < 2.0
    assert measured.games == 0 and measured.seconds >= 0.3
    text = dry_run(config, jobs=1, budget=0.3)
    assert "pilot: no whole game within its 0.3 s budget" in text
    assert "estimated wall time: more than" in text


def test_the_estimate_shares_the_work_among_the_busy_workers():
    plan = study_plan(tiny())
    measured = Pilot(games=2, seconds=1.0)
    one = estimate_seconds(plan, measured, jobs=1)
    assert one == pytest.approx(0.5 * plan.games)
    assert estimate_seconds(plan, measured, jobs=10_000) >= one / plan.blocks


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path / "tiny.toml")
    assert main(["run", str(config), "--dry-run", "--pilot-seconds", "0", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("study 'tiny': dry run (nothing written)")
    for fact in (
        "grid: 2 point(s): n_defenders=2 | n_defenders=3",
        "conditions: 4 audited, 8 simulated",
        "instances: 8 games (4 replications per point), 16 audits, 32 simulation runs, 96 rounds",
        "pilot: none (--pilot-seconds 0): no wall-time estimate",
    ):
        assert fact in out, fact
    assert list(tmp_path.iterdir()) == [config]


def test_dry_run_rejects_a_bad_pilot_budget(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "quickstart", "--dry-run", "--pilot-seconds", "-1"])
    assert exit_.value.code == 2 and "expected seconds in [0, 3600]" in capsys.readouterr().err


def test_every_shipped_config_has_a_dry_run(capsys):
    for path in sorted((ROOT / "runs" / "configs").glob("*.toml")):
        tomllib.loads(path.read_text())
        assert main(["run", str(path), "--dry-run", "--pilot-seconds", "0"]) == 0
        assert "pilot: none" in capsys.readouterr().out
