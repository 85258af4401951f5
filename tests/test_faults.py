"""Reliability, round two (issue 33): each reproduction of the fault campaign is a test
that failed before its fix."""

from __future__ import annotations

import copy
import dataclasses
import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mechanisms import available_mechanisms, make_mechanism
from mechanisms.outcome import outcome_problem
from mechanisms.properties import search_misreports
from runs.cli import main
from runs.config import load_config, parse_config
from runs.dryrun import dry_run
from runs.export import read_dataset
from runs.plots import figure_folder
from runs.report import write_report
from runs.runner import run_study
from runs.studydir import Ledger, StudyDir, identity, identity_key
from sim.errors import InvalidConfigError
from sim.game import PAYOFF_LIMIT, SecurityGame
from sim.generators import make_generator

from strategies import examples, games
from tests_support import TINY, digest, tiny, write_config


def _key(config) -> str:
    return identity_key(identity(config.design_sha256(), config.seed, "parquet"))


def _defcoord(cwd, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``defcoord ARGV`` in a subprocess (plug-ins in ``cwd`` importable), with a time
    limit so a hang fails the test."""
    path = os.pathsep.join([str(cwd), *sys.path])
    return subprocess.run(
        [sys.executable, "-m", "runs", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": path},
    )


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "s"
    run_study(tiny(), out, jobs=1, quiet=True)
    return out


def test_a_torn_ledger_line_is_dropped_not_appended_onto(tmp_path, clean):
    """#8: a short write leaves the ledger's last line cut; the next record starts a
    line of its own, so every later resume (and growth) still reads the ledger."""
    out = tmp_path / "s"
    run_study(tiny(), out, jobs=1, quiet=True)
    ledger = out / "ledger.jsonl"
    os.truncate(ledger, ledger.stat().st_size - 40)
    run_study(tiny(), out, jobs=1, quiet=True, resume=True)  # runs the torn chunk again
    assert ledger.read_bytes().endswith(b"\n")
    run_study(tiny(), out, jobs=1, quiet=True, resume=True)
    assert digest(out) == digest(clean)
    grown = tiny(**{"study.replications": 6})
    run_study(grown, out, jobs=1, quiet=True, resume=True)  # "ledger is damaged" before
    assert Ledger.load(out, _key(grown)).done()


@pytest.mark.parametrize("name", ["", "   "])
def test_an_empty_profile_name_is_refused(name):
    """#19: a profile named "" was written to CSV as an empty field, which reads back
    as missing (Parquet kept it): an empty name is refused up front."""
    data = tiny().resolved()
    data["profiles"][0]["name"] = name
    with pytest.raises(InvalidConfigError, match=r"'profiles\[0\]\.name' must be a non-empty"):
        parse_config(data)


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_bad_input_is_one_line(tmp_path, capsys, monkeypatch):
    """#16 and #10: inputs that escaped as tracebacks."""
    monkeypatch.chdir(tmp_path)
    game = {
        "defender_reward": [[10**400, 2.0]],
        "defender_penalty": [[0.0, 0.0]],
        "attacker_reward": [1.0, 1.0],
        "attacker_penalty": [0.0, 0.0],
        "resources": [1],
    }
    (tmp_path / "big.json").write_text(json.dumps(game))
    assert main(["audit", "big.json", "--mechanism", "csw_max"]) == 2
    assert "too large for a float" in _one_line(capsys)
    (tmp_path / "binary.toml").write_bytes(bytes(range(256)))
    assert main(["run", "binary.toml"]) == 2
    assert "not UTF-8 text" in _one_line(capsys)
    (tmp_path / "deep.toml").write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    assert main(["run", "deep.toml"]) == 2
    assert "nested too deeply" in _one_line(capsys)
    assert main(["run", "quickstart", "--out", "x" * 300, "--quiet"]) == 2
    assert "more than this file system's" in _one_line(capsys)
    assert main(["run", "quickstart", "--out", "caf\udce9", "--quiet"]) == 2
    assert "not a UTF-8 name" in _one_line(capsys)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(("x", "caf"))]


def test_plot_refuses_symlinks_and_files_and_writes_atomically(tmp_path, clean, capsys):
    """#7: a symlinked figures folder sent the files outside the study; a report.html
    that is a link is replaced, not written through; a file as --out is one line."""
    outside = tmp_path / "outside"
    outside.mkdir()
    study = tmp_path / "s"
    shutil.copytree(clean, study)
    (study / "figures").symlink_to(outside)
    assert main(["plot", str(study)]) == 2
    assert "symbolic link" in _one_line(capsys) and not any(outside.iterdir())
    (study / "figures").unlink()
    figures = figure_folder(study / "figures")
    kept = outside / "keep.html"
    kept.write_text("keep me")
    (figures / "report.html").symlink_to(kept)
    audits, rounds = read_dataset(study, "audits"), read_dataset(study, "rounds")
    write_report(figures, {}, pd.DataFrame(), audits, rounds, [], by=[], notes=[])
    assert kept.read_text() == "keep me"
    assert not (figures / "report.html").is_symlink()
    assert not list(figures.glob(".*.tmp"))  # no temporary file left
    (tmp_path / "afile").write_text("")
    capsys.readouterr()
    assert main(["plot", str(study), "--out", str(tmp_path / "afile")]) == 2
    assert "is a file" in _one_line(capsys)


def test_demo_and_run_never_touch_what_is_not_theirs(tmp_path, clean, capsys):
    """#6: demo deleted any directory whose study.json parsed as a JSON object (and
    everything in it); run wrote into any directory. Now run refuses a non-empty
    directory without a study of its own, and demo deletes only its own files, and
    only when nothing else is there."""
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "study.json").write_text('{"title": "my clinical study"}')
    (project / "src" / "main.py").write_text("print(1)")
    assert main(["demo", "--out", str(project), "--quiet"]) == 2
    assert "not a study directory this tool created" in _one_line(capsys)
    assert (project / "src" / "main.py").read_text() == "print(1)"
    assert main(["run", "quickstart", "--out", str(project), "--quiet"]) == 2
    assert "study.json" in _one_line(capsys)
    populated = tmp_path / "populated"
    populated.mkdir()
    (populated / "notes.txt").write_text("mine")
    assert main(["run", "quickstart", "--out", str(populated), "--quiet"]) == 2
    assert "is not empty (notes.txt)" in _one_line(capsys)
    assert [p.name for p in populated.iterdir()] == ["notes.txt"]
    study = tmp_path / "study"
    shutil.copytree(clean, study)
    (study / "figures").mkdir(exist_ok=True)
    (study / "figures" / "my_own_plot.svg").write_text("<svg/>")
    assert main(["demo", "--out", str(study), "--quiet"]) == 2
    assert "figures/my_own_plot.svg" in _one_line(capsys)
    assert (study / "ledger.jsonl").exists()  # nothing deleted
    own, foreign = StudyDir(study).files()
    assert [p.name for p in foreign] == ["my_own_plot.svg"] and len(own) > 10
    (study / "figures" / "my_own_plot.svg").unlink()
    StudyDir(study).remove_own()
    assert not study.exists() or not any(study.iterdir())


@pytest.mark.parametrize(("mechanism", "seed"), [("nse", 0), ("utilitarian", 2)])
def test_the_misreport_search_stays_in_the_games_range(mechanism, seed):
    """#18: near the documented +-1e12 range, the search's rescaled reports left it and
    the audit failed on a number the user never gave. Reports are now kept in range,
    and built in the defender's own units, so the gain scales with the payoffs."""
    game = make_generator("covariant", n_defenders=3, n_targets=3, resources=1).sample(
        np.random.default_rng(seed)
    )
    mech = make_mechanism(mechanism)
    base = search_misreports(mech, game, 0, rng=np.random.default_rng(1), budget=300)
    assert base.gain > 0
    for scale in (1e9, 5e10):
        big = SecurityGame(
            defender_reward=game.defender_reward * scale,
            defender_penalty=game.defender_penalty * scale,
            attacker_reward=game.attacker_reward,
            attacker_penalty=game.attacker_penalty,
            resources=game.resources,
        )
        found = search_misreports(mech, big, 0, rng=np.random.default_rng(1), budget=300)
        assert found.gain / scale == pytest.approx(base.gain, rel=1e-6)
        assert np.abs(found.misreport.reward).max() <= PAYOFF_LIMIT


def test_a_kill_between_the_dataset_renames_is_refused_then_resumed(
    tmp_path, clean, capsys, monkeypatch
):
    """#2 and #14: the dataset is swapped in by two renames of whole folders, and a
    reader refuses a study whose manifest is unfinished (it read a mixture of old and
    new files, or died with FileNotFoundError)."""
    from runs import export

    out = tmp_path / "s"
    run_study(tiny(**{"study.replications": 2}), out, jobs=1, quiet=True)
    renames = []
    real = os.rename

    def killed(src, dst):
        renames.append(dst)
        real(src, dst)
        if len(renames) == 1:
            raise KeyboardInterrupt  # after the old dataset moved away

    monkeypatch.setattr(export.os, "rename", killed)
    with pytest.raises(KeyboardInterrupt):
        run_study(tiny(), out, jobs=1, quiet=True, resume=True)  # growing 2 -> 4
    monkeypatch.setattr(export.os, "rename", real)
    for command in (["summary", str(out)], ["plot", str(out)]):
        assert main(command) == 2
        assert "has not finished writing its dataset" in _one_line(capsys)
    assert not (out / export.STAGING).exists()
    run_study(tiny(), out, jobs=1, quiet=True, resume=True)
    assert digest(out) == digest(clean)
    assert not (out / export.RETIRED).exists()


def test_a_full_disk_while_consolidating_is_one_line_and_resumable(
    tmp_path, clean, capsys, monkeypatch
):
    """#11: ENOSPC during consolidation was a 40-line traceback that left temporary
    files on the full disk."""
    from runs import export

    real = export._Sink.append
    calls = []

    def full(self, rows):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self, rows)

    monkeypatch.setattr(export._Sink, "append", full)
    out = tmp_path / "s"
    config = write_config(tmp_path / "s.toml")
    assert main(["run", str(config), "--out", str(out), "--jobs", "1", "--quiet"]) == 2
    assert "No space left on device" in _one_line(capsys)
    assert not (out / export.STAGING).exists() and not list(out.rglob(".*.tmp"))
    monkeypatch.setattr(export._Sink, "append", real)
    run_study(tiny(), out, jobs=1, quiet=True, resume=True)
    assert digest(out) == digest(clean)


def _corrupt(outcome, **changes):
    return dataclasses.replace(outcome, **changes)


def test_invalid_outcomes_are_named():
    """#5: what makes an outcome invalid, each named (and every registered mechanism's
    outcomes on a few games, jurisdictions included, are valid)."""
    game = make_generator("uniform", n_defenders=3, n_targets=4, resources=1).sample(
        np.random.default_rng(3)
    )
    outcome = make_mechanism("csw_max").allocate(game, rng=np.random.default_rng(0))
    assert outcome_problem(game, outcome) is None
    cases = {
        "not finite": {"coverage": np.full(4, np.nan)},
        "leaves [0, 1]": {"coverage": np.array([1.5, 0.0, 0.0, 0.0])},
        "more than the resources guard (3)": {"coverage": np.ones(4)},
        "shape": {"coverage": np.zeros(3)},
        "are not targets": {"attacked_target": 7, "attacked_targets": (7,)},
        "utilities are not": {"defender_utility": np.array([np.inf, 0.0, 0.0])},
    }
    for reason, change in cases.items():
        assert reason in outcome_problem(game, _corrupt(outcome, **change))
    weak = int(np.argmin(game.attacker_reward))
    cover = np.zeros(4)
    cover[weak] = 1.0
    wrong = _corrupt(outcome, coverage=cover, attacked_target=weak, attacked_targets=(weak,))
    assert "not a best response" in outcome_problem(game, wrong)
    fenced = game.with_allowed([[True, False, False, False]] * 3)
    corner = _corrupt(outcome, coverage=np.array([0.0, 0.0, 0.5, 0.0]))
    assert "jurisdictions" in outcome_problem(fenced, corner)
    for name in available_mechanisms():
        for g in (
            game,
            fenced.with_allowed(
                [[True, True, False, False], [False, True, True, False], [False, False, True, True]]
            ),
        ):
            made = make_mechanism(name).allocate(g, rng=np.random.default_rng(1))
            assert not made.ok or outcome_problem(g, made) is None, name


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    game=games(max_defenders=3, max_targets=5, max_resources=2, jurisdictions=True),
    data=st.data(),
)
def test_outcomes_are_valid_and_every_corruption_is_named(game, data):
    """#5, by hypothesis: every registered mechanism's outcome on games with ties and
    jurisdictions passes the validation, and a coverage made non-finite, negative,
    above 1 or beyond the resources never does."""
    name = data.draw(st.sampled_from(available_mechanisms()))
    outcome = make_mechanism(name).allocate(game, rng=np.random.default_rng(0))
    if not outcome.ok:
        return
    assert outcome_problem(game, outcome) is None, name
    t = data.draw(st.integers(0, game.n_targets - 1))
    bad = np.array(outcome.coverage, dtype=float)
    kind = data.draw(st.sampled_from(["nan", "negative", "above one", "beyond resources"]))
    if kind == "beyond resources":
        if game.total_resources >= game.n_targets:
            return  # every coverage fits
        bad = np.ones(game.n_targets)
    else:
        bad[t] = {"nan": np.nan, "negative": -1e-3, "above one": 1.001}[kind]
    assert outcome_problem(game, _corrupt(outcome, coverage=bad)) is not None, kind


def test_a_mechanism_with_an_invalid_outcome_is_recorded_failed(monkeypatch):
    """#5: a plug-in returning NaN coverage was recorded ok and certified PE, with
    welfare above the pooled optimum; now its instance and its runs fail, with the
    reason."""
    from runs import tasks

    real = tasks.make_mechanism

    class Faulty:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def prepared(self, game):
            return self

        def allocate(self, game, *, rng):
            return _corrupt(self.inner.allocate(game, rng=rng), coverage=np.full(3, np.nan))

    monkeypatch.setattr(tasks, "make_mechanism", lambda name, **p: Faulty(real(name, **p)))
    config = tiny()
    rows = tasks.audit_rows(config, tasks.plan_chunks(config)[0], 0)
    assert {row["status"] for row in rows} == {"failed"}
    assert "gave an invalid outcome: its coverage is not finite" in rows[0]["error"]
    sim = next(c for c in tasks.plan_chunks(config) if c.kind == "sim")
    sink = tasks.chunk_rows(config, sim)
    tasks.sim_rows(config, sim, 0, sink)
    runs = sink.arrow().to_pylist()
    assert {row["status"] for row in runs} == {"failed"}
    assert "invalid outcome" in runs[0]["error"]


def test_dataset_files_are_verified_on_read_and_by_verify(tmp_path, clean, capsys):
    """#3: single-bit flips in the dataset changed values silently; the manifest now
    records every file's SHA-256, reading checks it, and `defcoord verify` reports."""
    study = tmp_path / "s"
    shutil.copytree(clean, study)
    assert main(["verify", str(study)]) == 0
    assert "verified:" in capsys.readouterr().out
    target = sorted((study / "dataset" / "audits").rglob("*.parquet"))[0]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x04
    target.write_bytes(bytes(data))
    assert main(["summary", str(study)]) == 2
    assert "does not match the SHA-256 the manifest records" in _one_line(capsys)
    assert main(["verify", str(study)]) == 1
    assert "part-0.parquet does not match" in capsys.readouterr().out
    run_study(tiny(), study, jobs=1, quiet=True, resume=True)  # rebuilt from the parts
    assert main(["verify", str(study)]) == 0 and digest(study) == digest(clean)


def test_resume_refuses_a_changed_plugin_unless_allowed(tmp_path, capsys, monkeypatch):
    """#4: editing a plug-in and resuming mixed old and new results; the study now
    records the framework's version and each plug-in's source hash."""
    (tmp_path / "my_plugin.py").write_text("PLUGIN_VERSION = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    data = copy.deepcopy(TINY)
    data["study"]["plugins"] = ["my_plugin"]
    config = write_config(tmp_path / "s.toml", data)
    out = str(tmp_path / "s")
    assert main(["run", str(config), "--out", out, "--quiet"]) == 0
    recorded = json.loads((tmp_path / "s" / "study.json").read_text())["code"]
    assert set(recorded) == {"version", "plugins"} and "my_plugin" in recorded["plugins"]
    capsys.readouterr()
    (tmp_path / "my_plugin.py").write_text("PLUGIN_VERSION = 2\n")
    assert main(["run", str(config), "--out", out, "--resume", "--quiet"]) == 2
    assert "code.plugins.my_plugin" in _one_line(capsys)
    allowed = ["run", str(config), "--out", out, "--resume", "--allow-code-change", "--quiet"]
    assert main(allowed) == 0
    assert main(["run", str(config), "--out", out, "--resume", "--quiet"]) == 0  # now recorded


def _sized(tmp_path, *, grid, replications=4, chunk_size=2, rounds=3):
    data = copy.deepcopy(TINY)
    data["generator"]["grid"] = grid
    data["study"].update(replications=replications, chunk_size=chunk_size, rounds=rounds)
    return write_config(tmp_path / "sized.toml", data)


@pytest.mark.slow  # subprocesses: in make test-slow, which CI runs
def test_sizes_are_checked_arithmetically_before_any_enumeration(tmp_path):
    """#13: a 1e9-point grid hung validation; a dry run of 2^32 - 1 replications ended
    in a MemoryError; a dry run of a large grid printed every point on one line. Each
    is run in a subprocess with a time limit, so a hang fails the test."""
    thousand = list(range(1000))
    huge = _sized(
        tmp_path,
        grid={
            "scale": [1.0 + i for i in thousand],
            "jurisdiction": [0.001 * (i + 1) for i in thousand],
            "n_defenders": [2 + i for i in thousand],
        },
    )
    done = _defcoord(tmp_path, "run", str(huge), "--dry-run", timeout=60)
    assert done.returncode == 2 and "makes 1000000000 grid points" in done.stderr
    # audits only: a chunk of that many replications' rounds would not fit in memory
    long = _sized(tmp_path, replications=2**32 - 1, chunk_size=2**32 - 1, grid={}, rounds=0)
    done = _defcoord(tmp_path, "run", str(long), "--dry-run", "--pilot-seconds", "0", timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "4294967295 replications per point" in done.stdout
    wide = _sized(tmp_path, grid={"scale": [1.0 + i for i in range(40)], "n_defenders": [2, 3]})
    text = dry_run(load_config(wide), jobs=1, budget=0.0)
    assert "the product of n_defenders (2 values), scale (40 values)" in text
    assert max(len(line) for line in text.splitlines()) < 300


@pytest.mark.slow  # subprocesses: in make test-slow, which CI runs
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_plugin_that_exits_or_interrupts_is_isolated(tmp_path, capsys, monkeypatch, jobs):
    """#15: a plug-in mechanism calling sys.exit aborted the run (exit 3, nothing
    recorded); one raising KeyboardInterrupt in a worker did too. Both are now the
    failure of their own instances (every local run evaluates in worker processes);
    an import that exits is a config error."""
    (tmp_path / "quitter.py").write_text(
        textwrap.dedent(
            """
            import sys
            from dataclasses import dataclass
            from mechanisms.base import register_mechanism
            from mechanisms.rules import Dictatorship

            @register_mechanism("quitter")
            @dataclass(frozen=True)
            class Quitter(Dictatorship):
                def allocate(self, game, *, rng):
                    if game.n_defenders == 3:
                        sys.exit(3)
                    return super().allocate(game, rng=rng)

            @register_mechanism("interrupter")
            @dataclass(frozen=True)
            class Interrupter(Dictatorship):
                def allocate(self, game, *, rng):
                    if game.n_defenders == 3:
                        raise KeyboardInterrupt
                    return super().allocate(game, rng=rng)
            """
        )
    )
    (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit(4)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    data = copy.deepcopy(TINY)
    data["study"]["plugins"] = ["quitter"]
    data["mechanisms"] = [{"name": "quitter"}, {"name": "csw_max"}, {"name": "interrupter"}]
    config = write_config(tmp_path / "q.toml", data)
    done = _defcoord(tmp_path, "run", str(config), "--out", "q", "--jobs", str(jobs), "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    audits = read_dataset(tmp_path / "q", "audits")
    mine = audits[audits["mechanism"] == "quitter"]
    three = mine["grid_point"] == 1  # the grid's second point: n_defenders = 3
    assert set(mine.loc[three, "status"]) == {"failed"}
    assert "SystemExit: 3" in mine.loc[three, "error"].iloc[0]
    assert set(mine.loc[~three, "status"]) == {"ok"}
    assert set(audits.loc[audits["mechanism"] == "csw_max", "status"]) == {"ok"}
    theirs = audits[audits["mechanism"] == "interrupter"]
    assert set(theirs.loc[theirs["grid_point"] == 1, "status"]) == {"failed"}
    assert set(theirs.loc[theirs["grid_point"] == 0, "status"]) == {"ok"}
    data["study"]["plugins"] = ["exits_on_import"]
    with pytest.raises(InvalidConfigError, match=r"could not import 'exits_on_import'"):
        parse_config(data)


@pytest.mark.slow  # subprocesses: in make test-slow, which CI runs
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_worker_killed_by_an_instance_fails_that_chunk_only(tmp_path, jobs):
    """#9: one instance that killed its worker broke the local pool, and every pending
    chunk (innocent mechanisms too) was recorded failed, on every resume; with
    ``--jobs 1`` it killed the run itself (rc 9, no message). Now only the chunk that
    kills its worker when run alone is failed; the rest are computed."""
    (tmp_path / "killer.py").write_text(
        textwrap.dedent(
            """
            import os, signal
            from dataclasses import dataclass
            from mechanisms.base import register_mechanism
            from mechanisms.rules import Dictatorship

            @register_mechanism("killer")
            @dataclass(frozen=True)
            class Killer(Dictatorship):
                def allocate(self, game, *, rng):
                    if game.n_defenders == 3 and game.defender_reward[0, 0] > 0:
                        os.kill(os.getpid(), signal.SIGKILL)
                    return super().allocate(game, rng=rng)
            """
        )
    )
    data = copy.deepcopy(TINY)
    data["study"]["plugins"] = ["killer"]
    data["mechanisms"] = [{"name": "killer"}, {"name": "csw_max"}, {"name": "dictatorship"}]
    config = write_config(tmp_path / "k.toml", data)
    done = _defcoord(tmp_path, "run", str(config), "--out", "k", "--jobs", str(jobs), "--quiet")
    assert done.returncode == 1, done.stderr[-2000:]  # some chunks failed, said once
    assert "Traceback" not in done.stderr
    ledger = [
        json.loads(line) for line in (tmp_path / "k" / "ledger.jsonl").read_text().splitlines()
    ]
    failed = {e["chunk"] for e in ledger if e["status"] == "failed"}
    assert failed and all("-g001-m000-" in chunk for chunk in failed)  # killer, 3 defenders
    assert all("worker" in e["error"] for e in ledger if e["status"] == "failed")
    audits = read_dataset(tmp_path / "k", "audits")
    innocent = audits[audits["mechanism"] != "killer"]
    assert len(innocent) and set(innocent["status"]) == {"ok"}


def test_rounds_stream_into_arrow_and_a_failed_run_rolls_back(monkeypatch):
    """#12: a simulation kept every round as Python objects (its records, then its rows)
    until the chunk was encoded. Now the model keeps only its latest round
    (``play``) and rows are packed into Arrow batches as they are played; a run that
    fails mid-way is rolled back to its failed rows, across batch boundaries."""
    from agents.behaviours import make_execution, make_reporting
    from agents.model import CoordinationModel, play
    from mechanisms.rules import RandomDictatorship
    from runs import tasks
    from sim.errors import SolverFailedError
    from sim.instances import example_5_2

    game = example_5_2()
    behaviours = [(make_reporting("truthful"), make_execution("optimal_deviation"))] * 3
    with CoordinationModel(game, make_mechanism("csw_max"), behaviours, rounds=6, rng=3) as m:
        kept = m.run()  # the model keeping every round
    streamed = list(play(game, make_mechanism("csw_max"), behaviours, rounds=6, rng=3))
    assert streamed == kept
    model = CoordinationModel(game, make_mechanism("csw_max"), behaviours, rounds=6, keep=False)
    model.run()
    assert len(model.records) == 1 and model.records[0].round == 5
    model.release()

    config = parse_config({**copy.deepcopy(TINY), "study": {**TINY["study"], "rounds": 9}})
    chunk = next(c for c in tasks.plan_chunks(config) if c.kind == "sim")
    whole = tasks.run_chunk(config, chunk)
    monkeypatch.setattr(tasks, "ROW_BATCH", 7)  # many batches per run
    assert tasks.run_chunk(config, chunk).equals(whole)

    class Failing(RandomDictatorship):
        """Fails in its 9th allocation (one a round, being randomised): in the middle
        of the first run, after rows of several batches."""

        calls = 0

        def allocate(self, game, *, rng):
            Failing.calls += 1
            if Failing.calls == 9:
                raise SolverFailedError("injected in round")
            return super().allocate(game, rng=rng)

    monkeypatch.setattr(tasks, "make_mechanism", lambda name, **p: Failing())
    rows = tasks.run_chunk(config, chunk).to_pandas()
    failed = rows[rows["status"] == "failed"]
    assert len(failed) and set(failed["round"]) == {-1}
    assert set(failed["error"]) == {"injected in round"}
    run = ["replication", "focal_defender"]
    bad = set(map(tuple, failed[run].drop_duplicates().to_numpy()))
    assert len(bad) == 1  # one run failed; its played rounds are gone
    mixed = rows.groupby(run, dropna=False)["status"].nunique()
    assert (mixed == 1).all()


def test_work_beyond_the_memory_limit_is_refused_naming_the_field():
    """#12: n_targets = 1e5 took 10.7 GB for one game and 1e6 was killed for memory;
    rounds grew a work item without bound. Both are refused up front, and the limit is
    a config field."""
    data = copy.deepcopy(TINY)
    data["generator"]["params"]["n_targets"] = 100_000
    with pytest.raises(InvalidConfigError, match=r"'generator.n_targets' needs about \d+"):
        parse_config(data)
    data = copy.deepcopy(TINY)
    data["study"]["rounds"] = 10**9
    with pytest.raises(InvalidConfigError, match=r"'study.rounds' makes work items of"):
        parse_config(data)
    data["study"].update(rounds=3, memory_gb=1e-6)
    with pytest.raises(InvalidConfigError, match=r"more than 0.0 GB \(\[study\] memory_gb\)"):
        parse_config(data)
    data["study"]["memory_gb"] = 64
    assert parse_config(data).resolved()["study"]["memory_gb"] == 64.0
    assert "memory_gb" not in tiny().resolved()["study"]  # older studies keep their hash
