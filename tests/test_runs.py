"""Studies end to end: configs, seeds, runner, executors, resume, datasets, CLI."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from runs import tasks
from runs.cli import main
from runs.config import load_config, parse_config
from runs.export import read_dataset
from runs.plots import plot_study
from runs.runner import run_study
from runs.schema import AUDIT_COLUMNS
from runs.seeding import dynamics_seed, instance_rng
from sim.errors import InvalidConfigError

from tests_support import TINY, digest, tiny, write_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.pop("study"), r"missing the required table \[study\]"),
        (lambda d: d["study"].update(seed=-1), r"'study.seed' must be an integer >= 0; got -1"),
        (
            lambda d: d["study"].update(replications=0),
            r"'study.replications' must be an integer >= 1; got 0",
        ),
        (
            lambda d: d["study"].update(rounds="ten"),
            r"'study.rounds' must be an integer >= 0; got 'ten'",
        ),
        (
            lambda d: d["study"].update(chunk_size=True),
            r"'study.chunk_size' must be an integer >= 1",
        ),
        (lambda d: d["study"].update(name="a b"), r"'study.name' must be a non-empty string"),
        (lambda d: d["study"].update(colour=1), r"\[study\] has unknown field\(s\) \['colour'\]"),
        (
            lambda d: d["generator"].update(name="gamut"),
            r"'generator.name' is 'gamut'; valid names are \[",
        ),
        (
            lambda d: d["generator"].update(grid={"n_defenders": 3}),
            r"'generator.grid.n_defenders' must be a non-empty list",
        ),
        (
            lambda d: d["generator"].update(grid={"n_defenders": [0]}),
            r"n_defenders must be an int >= 1; got 0",
        ),
        (
            lambda d: d["generator"]["params"].update(colour=1),
            r"has no parameter\(s\) \['colour'\]",
        ),
        (lambda d: d.update(mechanisms=[]), r"'mechanisms' must be a non-empty array"),
        (
            lambda d: d["mechanisms"].append({"name": "vcg"}),
            r"'mechanisms\[2\].name' is 'vcg'; valid names are \[",
        ),
        (lambda d: d["mechanisms"].append({"name": "csw_max"}), r"must not repeat a mechanism"),
        (
            lambda d: d["mechanisms"][0].update(params={"backend": "gurobi"}),
            r"mechanisms\[0\].*backend must be one of",
        ),
        (
            lambda d: d["profiles"].append({"name": "x", "reporting": "lie"}),
            r"unknown reporting behaviour 'lie'; valid names",
        ),
        (
            lambda d: d["profiles"].append({"name": "truthful"}),
            r"'profiles' must have distinct names",
        ),
        (
            lambda d: d["profiles"][0].update(strategic="some"),
            r"strategic must be 'first', 'all' or a list",
        ),
        (
            lambda d: d["attacker"].update(name="oracle"),
            r"'attacker.name' is 'oracle'; valid names are \[",
        ),
        (
            lambda d: d["attacker"].update(params={"precision": 1}),
            r"no parameter\(s\) \['precision'\]",
        ),
        (
            lambda d: d["audits"].update(misreport_budget=-5),
            r"'audits.misreport_budget' must be an integer >= 0",
        ),
        (
            lambda d: d["audits"].update(pareto="yes"),
            r"'audits.pareto' must be true or false; got 'yes'",
        ),
        (lambda d: d.update(extra={}), r"top level\] has unknown field\(s\) \['extra'\]"),
        (
            lambda d: d["generator"]["params"].update(jurisdiction=1.5),
            r"jurisdiction must be a number in \(0, 1\] \(the share .*; got 1.5",
        ),
        (
            lambda d: (
                d["generator"].update(grid={"jurisdiction": [1.0, 0.5]}),
                d["generator"]["params"].update(attacker_resources=2),
            ),
            r"'generator.jurisdiction' below 1 needs one attack",
        ),
        (
            lambda d: (
                d["generator"]["params"].update(jurisdiction=0.5),
                d["audits"].update(nash=True),
            ),
            r"'generator.jurisdiction' below 1 cannot be audited with audits.nash",
        ),
        (
            lambda d: (
                d["generator"]["params"].update(jurisdiction=0.5),
                d["mechanisms"].append({"name": "pooled_sse"}),
            ),
            r"'generator.jurisdiction' below 1 cannot run pooled_sse",
        ),
        (
            lambda d: d["audits"].update(up_reference="median"),
            r"'audits.up_reference' must be one of worst, best, found; got 'median'",
        ),
    ],
)
def test_config_validation_field_by_field(mutate, match):
    data = copy.deepcopy(TINY)
    mutate(data)
    with pytest.raises(InvalidConfigError, match=match):
        parse_config(data)


def test_shipped_configs_load():
    for path in sorted((ROOT / "runs" / "configs").glob("*.toml")):
        config = load_config(path)
        assert config.name == path.stem
    assert load_config("quickstart").name == "quickstart"
    with pytest.raises(InvalidConfigError, match="does not exist"):
        load_config("no_such_study")


def test_seed_tree_is_stable_and_paired():
    a = instance_rng(7, 3).random(4)
    assert (instance_rng(7, 3).random(4) == a).all()
    assert not (instance_rng(7, 4).random(4) == a).all()
    assert dynamics_seed(7, 3).spawn_key == (3, 1)


def test_one_and_two_workers_give_identical_datasets(tmp_path):
    config = tiny()
    one = run_study(config, tmp_path / "one", jobs=1, quiet=True)
    two = run_study(config, tmp_path / "two", jobs=2, quiet=True)
    assert one.ok and two.ok
    assert digest(tmp_path / "one") == digest(tmp_path / "two")
    audits = read_dataset(tmp_path / "one", "audits")
    rounds = read_dataset(tmp_path / "one", "rounds")
    assert len(audits) == 2 * (2 + 3) * 4  # mechanisms x defenders per grid point x replications
    runs = rounds.groupby(["grid_point", "mechanism", "profile", "replication"])
    assert runs.ngroups == 2 * 2 * 2 * 4  # grid points x mechanisms x profiles x replications
    for _, run in runs:
        n = int(run["n_defenders"].iloc[0])
        if (run["status"] == "ok").all():
            assert len(run) == n * 3  # defenders x rounds
        else:  # a failed instance: one row per defender, with the error
            assert (
                len(run) == n and (run["round"] == -1).all() and run["error"].str.len().gt(0).all()
            )
    assert set(audits["mechanism"]) == {"csw_max", "dictatorship"}
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert manifest["config_sha256"] == config.sha256()
    assert manifest["root_seed"] == 7 and manifest["chunks"]["failed"] == []
    assert {"numpy", "mesa", "pyarrow"} <= set(manifest["versions"])
    assert "commit" in manifest["git"]


def test_adding_replications_keeps_earlier_ones(tmp_path):
    run_study(tiny(), tmp_path / "four", jobs=1, quiet=True)
    run_study(tiny(**{"study.replications": 6}), tmp_path / "six", jobs=1, quiet=True)
    a = read_dataset(tmp_path / "four", "audits")
    b = read_dataset(tmp_path / "six", "audits")
    b = b[b["replication"] < 4].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_csv_dataset_reads_back_like_parquet(tmp_path):
    run_study(tiny(), tmp_path / "pq", jobs=1, quiet=True)
    run_study(tiny(), tmp_path / "csv", jobs=1, quiet=True, fmt="csv")
    for table in ("audits", "rounds"):
        pq_df = read_dataset(tmp_path / "pq", table)
        csv_df = read_dataset(tmp_path / "csv", table)
        pd.testing.assert_frame_equal(pq_df, csv_df, check_exact=False, rtol=1e-12)


def test_a_failing_chunk_is_isolated(tmp_path, monkeypatch):
    original = tasks.run_chunk
    bad = "audit-g000-m001-p000-r0000002"

    def flaky(resolved, chunk):
        if chunk.id == bad:
            raise RuntimeError("injected failure")
        return original(resolved, chunk)

    monkeypatch.setattr(tasks, "run_chunk", flaky)
    result = run_study(tiny(), tmp_path / "s", jobs=1, quiet=True)
    assert result.failed == (bad,)
    ledger = [
        json.loads(line) for line in (tmp_path / "s" / "ledger.jsonl").read_text().splitlines()
    ]
    failed = [e for e in ledger if e["status"] == "failed"]
    assert len(failed) == 1 and "injected failure" in failed[0]["error"]
    audits = read_dataset(tmp_path / "s", "audits")
    missing = audits[(audits["mechanism"] == "dictatorship") & (audits["grid_point"] == 0)]
    assert sorted(missing["replication"].unique()) == [0, 1]  # the rest is there
    monkeypatch.setattr(tasks, "run_chunk", original)
    again = run_study(tiny(), tmp_path / "s", jobs=1, quiet=True, resume=True)
    assert again.ok and again.skipped == again.chunks - 1
    run_study(tiny(), tmp_path / "clean", jobs=1, quiet=True)
    assert digest(tmp_path / "s") == digest(tmp_path / "clean")


def test_cli_exit_status_reports_failed_chunks(tmp_path, monkeypatch, capsys):
    original = tasks.run_chunk

    def flaky(resolved, chunk):
        if chunk.kind == "sim":
            raise RuntimeError("injected failure")
        return original(resolved, chunk)

    monkeypatch.setattr(tasks, "run_chunk", flaky)
    config = write_config(tmp_path / "study.toml")
    assert main(["run", str(config), "--out", str(tmp_path / "s"), "--jobs", "1", "--quiet"]) == 1
    assert "chunk(s) failed" in capsys.readouterr().err


def test_consolidated_tables_are_what_read_dataset_returns(tmp_path, monkeypatch):
    """Consolidation streams batches of whole chunks (here a few rows each, so the
    memory bound bites); the dataset and the summary are what the whole tables give."""
    from runs import export
    from runs.schema import SORT_KEYS
    from runs.studydir import Ledger, identity, identity_key
    from runs.summary import summarise

    run_study(tiny(), tmp_path / "s", jobs=1, quiet=True)
    whole = {name: read_dataset(tmp_path / "s", name) for name in ("audits", "rounds")}
    written = pd.read_csv(tmp_path / "s" / "summary.csv")
    key = identity_key(identity(tiny().design_sha256(), tiny().seed, "parquet"))
    ledger = Ledger.load(tmp_path / "s", key)
    parts = {chunk: ledger.entries[chunk]["sha256"] for chunk in ledger.done()}
    monkeypatch.setattr(export, "BATCH_ROWS", 3)
    batches = list(export.consolidate(tmp_path / "s", parts, tiny().parameter_columns()))
    assert len(batches) > len(tiny().mechanisms) * 2  # many batches, each of whole chunks
    manifest = export.read_manifest(tmp_path / "s")  # smaller row groups: other bytes
    export.write_manifest(
        tmp_path / "s", {**manifest, "dataset_sha256": export.dataset_sha256(tmp_path / "s")}
    )
    for name in ("audits", "rounds"):
        table = pd.concat([df for table, df in batches if table == name], ignore_index=True)
        table = table.sort_values(SORT_KEYS[name], kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(table, whole[name])
        pd.testing.assert_frame_equal(table, read_dataset(tmp_path / "s", name))
    chunks = [set(df["chunk"]) for _, df in batches]
    assert sum(len(c) for c in chunks) == len(set().union(*chunks))  # no chunk split
    stale = tmp_path / "s" / "dataset" / "audits" / ".part-0.parquet.x1y2.tmp"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"left by a consolidation killed midway")
    rows = export.write_dataset(
        tmp_path / "s", parts, tiny().parameter_columns(), by=tiny().swept()
    )
    assert not stale.exists()
    assert rows == {name: len(df) for name, df in whole.items()}
    streamed = pd.read_csv(tmp_path / "s" / "summary.csv")
    pd.testing.assert_frame_equal(streamed, written)
    expected = summarise(whole["audits"], whole["rounds"], by=tiny().swept())
    expected.to_csv(tmp_path / "whole.csv", index=False)
    pd.testing.assert_frame_equal(streamed, pd.read_csv(tmp_path / "whole.csv"))


def test_failed_instances_are_rows_not_crashes(tmp_path, monkeypatch):
    from sim.nse import finder as nse_module

    def no_nse(game, *, targets=None, quick=False):
        result = nse_module.find_nse(game, targets=targets, quick=quick)
        return nse_module.NSEResult(
            result.coverage, -1, float("nan"), result.defender_utility, "failed", "none"
        )

    monkeypatch.setattr("mechanisms.outcome_set.compute_nse", no_nse)
    monkeypatch.setattr("mechanisms.rules.compute_nse", no_nse)
    result = run_study(tiny(), tmp_path / "s", jobs=1, quiet=True)
    assert result.ok
    audits = read_dataset(tmp_path / "s", "audits")
    csw = audits[audits["mechanism"] == "csw_max"]
    assert (csw["status"] == "failed").all() and csw["error"].str.contains("NSE").all()
    assert (audits[audits["mechanism"] == "dictatorship"]["status"] == "ok").all()


@pytest.mark.slow  # subprocesses: in make test-slow, which CI runs
def test_sigkill_then_resume_equals_a_clean_run(tmp_path):
    config = write_config(tmp_path / "study.toml", replications=10, chunk_size=1)
    total = len(tasks.plan_chunks(parse_config(tomllib.loads(config.read_text()))))
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "runs",
        "run",
        str(config),
        "--out",
        str(out),
        "--jobs",
        "1",
        "--quiet",
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ledger = out / "ledger.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if ledger.exists() and len(ledger.read_text().splitlines()) >= 5:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(ledger.read_text().splitlines())
    assert 0 < done_before < total  # killed mid-run
    assert not (out / "dataset").exists()
    resumed = subprocess.run([*cmd, "--resume"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stdout
    clean = tmp_path / "clean"
    assert main(["run", str(config), "--out", str(clean), "--jobs", "1", "--quiet"]) == 0
    assert digest(out) == digest(clean)


def test_dask_local_cluster_equals_local(tmp_path):
    pytest.importorskip("dask.distributed")
    config = tiny(**{"study.rounds": 2})
    local = run_study(config, tmp_path / "local", jobs=1, quiet=True)
    dask = run_study(config, tmp_path / "dask", jobs=2, executor="dask", quiet=True)
    assert local.ok and dask.ok
    assert digest(tmp_path / "local") == digest(tmp_path / "dask")


def test_existing_output_needs_resume_and_same_config(tmp_path):
    run_study(tiny(), tmp_path / "s", jobs=1, quiet=True)
    with pytest.raises(InvalidConfigError, match="already holds a study; pass --resume"):
        run_study(tiny(), tmp_path / "s", jobs=1, quiet=True)
    with pytest.raises(InvalidConfigError, match="holds a different study"):
        run_study(tiny(**{"study.seed": 8}), tmp_path / "s", jobs=1, quiet=True, resume=True)


def test_plots_and_report(tmp_path):
    run_study(tiny(), tmp_path / "s", jobs=1, quiet=True)
    paths = plot_study(tmp_path / "s")
    names = {p.name for p in paths}
    for stem in (
        "failure_rates",
        "simulated_failure_rates",
        "gain_distributions",
        "welfare",
        "prices",  # the tiny study's two-defender instances have exact NSE extremes
    ):
        assert {f"{stem}.png", f"{stem}.pdf"} <= names
    assert not any(n.startswith("learning_curves") for n in names)  # no profile learns
    report = (tmp_path / "s" / "figures" / "report.md").read_text()
    assert "failure_rates.png" in report and "| mechanism |" in report
    assert "count instances" in report and "count runs" in report  # the units, said
    assert ">= " in report  # SP: a search, so a lower bound (docs/statistics.md §3)
    assert "learning_curves: not drawn, no behaviour profile learns" in report
    page = (tmp_path / "s" / "figures" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 5 and "config SHA-256" in page


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["run", "no_such.toml"], "config file 'no_such.toml' does not exist"),
        (["run", "quickstart", "--jobs", "0"], "expected a positive integer; got '0'"),
        (["run", "quickstart", "--executor", "spark"], "invalid choice: 'spark'"),
        (
            ["run", "quickstart", "--scheduler", "tcp://x:1"],
            "--scheduler only applies to --executor dask",
        ),
        (
            ["audit", "missing.json", "--mechanism", "csw_max"],
            "cannot read game file 'missing.json'",
        ),
        (["summary", "/nonexistent/study"], "no audits dataset under '/nonexistent/study'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_cli_errors_are_one_line_exit_2(argv, match, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "runs", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert match in result.stderr


def test_cli_audit_prints_certificates(tmp_path, capsys):
    from sim.instances import example_5_2

    game = tmp_path / "game.json"
    game.write_text(json.dumps(example_5_2().to_dict()))
    assert main(["audit", str(game), "--mechanism", "csw_max", "--budget", "20"]) == 0
    out = capsys.readouterr().out
    assert "PE: yes" in out and "IR defender 1: gains 1.92" in out


def test_cli_audit_prints_the_nse_extremes_and_prices(tmp_path, capsys):
    """The issue's two identical defenders: exact extremes, prices 15/11 and 1.1321."""
    path = tmp_path / "game.json"
    game = {
        "defender_reward": [[3, 2, 1], [3, 2, 1]],
        "defender_penalty": [[-1, -2, -3], [-1, -2, -3]],
        "attacker_reward": [1, 1, 1],
        "attacker_penalty": [0, 0, 0],
        "resources": [1, 1],
    }
    path.write_text(json.dumps(game))
    assert main(["audit", str(path), "--mechanism", "csw_max", "--budget", "5"]) == 0
    out = capsys.readouterr().out
    assert "NSE utility per defender (exact): worst [1.2222, 1.2222], best [1.4721, 1.4721]" in out
    assert "price of anarchy 1.3636, of stability 1.1321" in out


def test_two_defender_studies_decide_every_up_verdict(tmp_path):
    """With two defenders every UP verdict is decided against the exact extremes, the
    `up` column follows [audits] up_reference, and each instance has its prices."""
    data = copy.deepcopy(TINY)
    data["generator"]["grid"] = {"n_defenders": [2]}
    data["audits"]["up_reference"] = "best"
    out = tmp_path / "out"
    run_study(parse_config(data), out, jobs=1, quiet=True)
    audits = read_dataset(out)
    ok = audits[audits["status"] == "ok"]
    assert len(ok) and not ok[["weak_up", "strong_up"]].isin(["undetermined"]).any().any()
    assert (ok["up"] == ok["strong_up"]).all() and (ok["up_reference"] == "best").all()
    assert (ok["nse_extremes"] == "exact").all()
    assert (ok["worst_nse_welfare"] <= ok["best_nse_welfare"] + 1e-9).all()
    assert (ok["best_nse_welfare"] <= ok["pooled_welfare"] + 1e-9).all()
    gap = ok["pooled_welfare"] - ok["worst_nse_welfare"]
    np.testing.assert_allclose(ok["anarchy_gap"], gap, atol=1e-12)


def test_cli_audits_a_game_file_with_jurisdictions(tmp_path, capsys):
    from sim.instances import example_5_2

    game = example_5_2()
    mask = game.allowed.copy()
    mask[0, 0] = False
    path = tmp_path / "game.json"
    path.write_text(json.dumps(game.with_allowed(mask).to_dict()))
    assert main(["audit", str(path), "--mechanism", "utilitarian", "--budget", "20"]) == 0
    out = capsys.readouterr().out
    assert "jurisdictions (defender: targets she may guard) 0: [1, 2, 3, 4]" in out
    assert "PE: yes" in out


def test_cli_run_summary_plot(tmp_path, capsys):
    config = write_config(tmp_path / "study.toml")
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out), "--quiet", "--jobs", "1"]) == 0
    assert main(["summary", str(out)]) == 0
    assert "csw_max" in capsys.readouterr().out
    assert main(["plot", str(out), "--out", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "report.md").exists()


def test_blocks_put_the_largest_games_first_and_keep_every_chunk():
    config = tiny()
    chunks = tasks.plan_chunks(config)
    ordered = tasks.blocks(chunks, config)
    assert sorted(c.id for block in ordered for c in block) == sorted(c.id for c in chunks)
    sizes = [config.grid_points()[block[0].grid]["n_defenders"] for block in ordered]
    assert sizes == sorted(sizes, reverse=True)  # n = 3 blocks before n = 2 blocks
    for block in ordered:  # a block is one grid point and one replication range
        assert len({(c.grid, c.start) for c in block}) == 1


def test_a_misspelt_row_key_fails_loudly_and_the_failure_rule_is_one_function():
    """Issue 28 item 3: a misspelt row key silently became a null column; the rule
    'a gain above min_gain x the payoff range fails' was written in four places."""
    from runs.schema import arrow_table
    from sim.numerics import is_failure as fails

    with pytest.raises(KeyError, match=r"\['sp_gian'\]"):
        arrow_table([{"defender": 0, "sp_gian": 1.0}], "audits", {})
    assert arrow_table([{"defender": 0}], "audits", {}).num_rows == 1
    assert fails(2.0e-6, 1.0, 1e-6) and not fails(1.0e-6, 1.0, 1e-6)
    assert not fails(float("nan"), 1.0, 1e-6)
    gains, ranges = pd.Series([0.5, 2.0, np.nan]), pd.Series([1.0, 1.0, 1.0])
    assert fails(gains, ranges, 1.0).tolist() == [False, True, False]
    assert "sp_failure" not in AUDIT_COLUMNS  # stored verdicts nobody read: the gains decide
