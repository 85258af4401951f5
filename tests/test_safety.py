"""Reliability of a study's directory and of the CLI (issue 13): one study per
directory, verified parts, isolation, nothing written outside --out, no orphaned
workers, interrupts and bad input answered in one line."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from runs.cli import main
from runs.config import parse_config
from runs.export import read_dataset
from runs.runner import held_interrupts, run_study
from runs.studydir import StudyDir
from sim.errors import InvalidConfigError, StudyIOError, StudyStateError

from tests_support import TINY, digest, tiny, write_config

ROOT = Path(__file__).resolve().parent.parent


def cli(*argv: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runs", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
        **kwargs,
    )


def one_line(result: subprocess.CompletedProcess[str], status: int = 2) -> str:
    assert result.returncode == status, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


# -- data safety ---------------------------------------------------------------------
def test_a_second_run_into_a_locked_study_is_refused(tmp_path):
    study = StudyDir(tmp_path / "s")
    study.prepare()
    with study.lock():
        with pytest.raises(StudyStateError, match=rf"another run \(process {os.getpid()}\)"):
            run_study(tiny(), tmp_path / "s", jobs=1, quiet=True)
    run_study(tiny(), tmp_path / "s", jobs=1, quiet=True)  # released: it runs


def test_resume_without_the_manifest_still_knows_the_study(tmp_path):
    run_study(tiny(), tmp_path / "s", jobs=1, quiet=True)
    (tmp_path / "s" / "manifest.json").unlink()
    with pytest.raises(InvalidConfigError, match=r"differs in root_seed, study\.seed"):
        run_study(tiny(**{"study.seed": 8}), tmp_path / "s", jobs=1, quiet=True, resume=True)
    with pytest.raises(InvalidConfigError, match="differs in format"):
        run_study(tiny(), tmp_path / "s", jobs=1, quiet=True, resume=True, fmt="csv")


def test_a_ledger_line_of_another_study_is_refused(tmp_path):
    run_study(tiny(), tmp_path / "s", jobs=1, quiet=True)
    ledger = tmp_path / "s" / "ledger.jsonl"
    entry = json.loads(ledger.read_text().splitlines()[0])
    ledger.write_text(ledger.read_text() + json.dumps({**entry, "study": "f00"}) + "\n")
    with pytest.raises(StudyStateError, match="belongs to another study"):
        run_study(tiny(), tmp_path / "s", jobs=1, quiet=True, resume=True)


def test_demo_never_deletes_a_directory_it_did_not_create(tmp_path):
    app = tmp_path / "webapp"
    (app / "src").mkdir(parents=True)
    (app / "manifest.json").write_text("{}")
    (app / "src" / "index.js").write_text("1")
    result = cli("demo", "--out", str(app), cwd=tmp_path)
    assert "not a study directory this tool created" in one_line(result)
    assert (app / "src" / "index.js").read_text() == "1"


def test_one_failing_instance_is_isolated_whatever_the_exception(tmp_path, monkeypatch):
    from mechanisms.rules import Dictatorship

    original = Dictatorship.allocate

    def sometimes(self, game, *, rng):
        if game.defender_reward[0, 0] < 2.0:  # a fixed property of some games
            raise ZeroDivisionError("injected")
        return original(self, game, rng=rng)

    monkeypatch.setattr(Dictatorship, "allocate", sometimes)
    tables = {}
    for size in (1, 3):
        out = tmp_path / f"c{size}"
        run_study(tiny(**{"study.chunk_size": size}), out, jobs=1, quiet=True)
        tables[size] = read_dataset(out, "audits").drop(columns="chunk")
    pd.testing.assert_frame_equal(tables[1], tables[3])  # never depends on chunk_size
    dictatorship = tables[3][tables[3]["mechanism"] == "dictatorship"]
    failed = dictatorship[dictatorship["status"] == "failed"]
    assert len(failed) and failed["error"].str.startswith("ZeroDivisionError").all()
    assert (dictatorship["status"] == "ok").any()  # the others of the chunk are kept


@pytest.mark.parametrize("damage", ["swap", "flip", "truncate", "delete"])
def test_damaged_parts_are_run_again_on_resume(tmp_path, damage):
    run_study(tiny(), tmp_path / "clean", jobs=1, quiet=True)
    run_study(tiny(), tmp_path / "s", jobs=1, quiet=True)
    parts = sorted((tmp_path / "s" / "parts").glob("audit-*.arrow"))
    a, b = parts[0], parts[1]
    if damage == "swap":
        data_a, data_b = a.read_bytes(), b.read_bytes()
        a.write_bytes(data_b)
        b.write_bytes(data_a)
    elif damage == "flip":
        data = bytearray(a.read_bytes())
        data[len(data) // 2] ^= 0x10
        a.write_bytes(bytes(data))
    elif damage == "truncate":
        a.write_bytes(a.read_bytes()[:100])
    else:
        a.unlink()
    again = run_study(tiny(), tmp_path / "s", jobs=1, quiet=True, resume=True)
    assert again.chunks - again.skipped == (2 if damage == "swap" else 1)
    assert digest(tmp_path / "s") == digest(tmp_path / "clean")


def test_writes_never_follow_symlinks_out_of_the_study(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    out = tmp_path / "s"
    run_study(tiny(), out, jobs=1, quiet=True)
    (out / "summary.csv").unlink()
    (out / "summary.csv").symlink_to(outside)
    run_study(tiny(), out, jobs=1, quiet=True, resume=True)
    assert outside.read_text() == "keep me" and not (out / "summary.csv").is_symlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "parts").symlink_to(elsewhere)
    with pytest.raises(StudyIOError, match="parts/ is a symbolic link"):
        run_study(tiny(), linked, jobs=1, quiet=True)
    assert not list(elsewhere.iterdir())


@pytest.mark.parametrize("name", ["..", ".", "a\x00b", "x" * 300, "a/b"])
def test_study_names_are_safe_file_names(name):
    with pytest.raises(InvalidConfigError, match=r"'study\.name' must be a non-empty string"):
        tiny(**{"study.name": name})


# -- processes and signals -------------------------------------------------------------
def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            ppid = [line for line in status.splitlines() if line.startswith("PPid:")]
            if ppid and int(ppid[0].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in state


def _interactive() -> None:
    """Ctrl-C as in a terminal: a shell that starts the test suite in the background
    (``make test &``) ignores SIGINT, and its children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(config: Path, out: Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "runs", "run", str(config), "--out", str(out), "--jobs", "2"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=_interactive,
    )


def _wait_for_parts(out: Path, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if len(list((out / "parts").glob("*.arrow"))) >= count:
            return
        time.sleep(0.05)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def _kill_and_expect_no_workers(process, workers) -> None:
    """SIGKILL the run; its workers must be gone within 20 s (they die with it)."""
    process.kill()
    process.communicate()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)


@pytest.mark.slow  # subprocesses: in make test-slow, which CI runs
def test_killing_the_parent_leaves_no_worker_behind(tmp_path):
    config = write_config(tmp_path / "s.toml", replications=40, chunk_size=1)
    process = _start(config, tmp_path / "s", tmp_path)
    _wait_for_parts(tmp_path / "s", 2, process)
    workers = _children(process.pid)
    assert workers, "the run finished before it could be killed"
    _kill_and_expect_no_workers(process, workers)


@pytest.mark.slow  # subprocesses: in make test-slow, which CI runs
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_is_one_line_and_resumable(tmp_path, signum, status):
    config = write_config(tmp_path / "s.toml", replications=40, chunk_size=1)
    process = _start(config, tmp_path / "s", tmp_path)
    _wait_for_parts(tmp_path / "s", 2, process)
    assert process.poll() is None, "the run finished before it could be interrupted"
    process.send_signal(signum)
    try:
        _, stderr = process.communicate(timeout=60)
    finally:  # a run that hangs must not outlive the test
        process.kill()
        process.communicate()
    assert process.returncode == status, stderr
    assert stderr.count("\n") == 1 and "--resume" in stderr and "Traceback" not in stderr
    recorded = (tmp_path / "s" / "ledger.jsonl").read_text().splitlines()
    assert recorded  # the finished chunks are in the ledger
    done = cli("run", str(config), "--out", str(tmp_path / "s"), "--resume", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    clean = cli("run", str(config), "--out", str(tmp_path / "clean"), cwd=tmp_path)
    assert clean.returncode == 0
    assert digest(tmp_path / "s") == digest(tmp_path / "clean")


class Stop(BaseException):
    pass


def _stop_on(signum: int, frame: object) -> None:
    raise Stop(signum)


def test_held_interrupts_deliver_a_signal_once_between_waits():
    calls: list[int] = []
    previous = signal.signal(signal.SIGTERM, _stop_on)
    previous_int = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    try:
        with held_interrupts() as check:
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGTERM)
            assert calls == []  # held, not delivered
            with pytest.raises(Stop):
                check()  # SIGINT's handler returns; SIGTERM's raises
            assert calls == [signal.SIGINT]
            check()  # each once
        assert signal.getsignal(signal.SIGTERM) is _stop_on  # restored
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with held_interrupts() as check:
            signal.raise_signal(signal.SIGINT)  # ignored stays ignored
            check()
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


@pytest.mark.slow  # subprocesses: in make test-slow, which CI runs
def test_jobs_are_clamped_with_a_warning(tmp_path):
    config = write_config(tmp_path / "s.toml")
    result = cli("run", str(config), "--out", str(tmp_path / "s"), "--jobs", "100000", cwd=tmp_path)
    assert result.returncode == 0 and "warning: --jobs 100000" in result.stderr


# -- bad input: one line, exit 2 ------------------------------------------------------
@pytest.mark.slow  # subprocesses: in make test-slow, which CI runs
def test_run_bad_input(tmp_path):
    config = write_config(tmp_path / "s.toml")
    (tmp_path / "file").write_text("x")
    assert "is a file" in one_line(cli("run", str(config), "--out", "file", cwd=tmp_path))
    garbage = cli(
        "run",
        str(config),
        "--out",
        "g",
        "--executor",
        "dask",
        "--scheduler",
        "garbage",
        cwd=tmp_path,
    )
    assert "--scheduler 'garbage'" in one_line(garbage)
    huge = write_config(tmp_path / "h.toml", replications=10**15)
    assert "'study.replications' must be at most" in one_line(cli("run", str(huge), cwd=tmp_path))
    many = write_config(tmp_path / "m.toml", replications=10**8, chunk_size=1)
    assert "work items" in one_line(cli("run", str(many), cwd=tmp_path))


@pytest.mark.slow  # subprocesses: in make test-slow, which CI runs
def test_audit_bad_input(tmp_path):
    (tmp_path / "binary").write_bytes(bytes(range(256)))
    (tmp_path / "null.json").write_text("null")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    for path, match in (
        ("binary", "not UTF-8"),
        ("null.json", "needs a mapping"),
        ("deep.json", "nested too deeply"),
        ("/dev/zero", "larger than"),
    ):
        result = cli("audit", path, "--mechanism", "csw_max", cwd=tmp_path)
        assert match in one_line(result)


@pytest.mark.parametrize(
    "line", ['["a list"]', '{"no": "chunk"}', b"\xff\xfe not utf-8".decode("latin-1")]
)
@pytest.mark.slow  # subprocesses: in make test-slow, which CI runs
def test_resume_with_a_malformed_ledger_line_is_one_line(tmp_path, line):
    config = write_config(tmp_path / "s.toml")
    assert cli("run", str(config), "--out", "s", cwd=tmp_path).returncode == 0
    ledger = tmp_path / "s" / "ledger.jsonl"
    encoded = line.encode("latin-1") if "utf-8" in line else line.encode()
    ledger.write_bytes(encoded + b"\n" + ledger.read_bytes())
    one_line(cli("run", str(config), "--out", "s", "--resume", cwd=tmp_path))


@pytest.mark.slow  # subprocesses: in make test-slow, which CI runs
def test_a_damaged_manifest_is_one_line_for_summary(tmp_path):
    config = write_config(tmp_path / "s.toml")
    assert cli("run", str(config), "--out", "s", cwd=tmp_path).returncode == 0
    (tmp_path / "s" / "manifest.json").write_text("[1, 2")
    assert "damaged" in one_line(cli("summary", "s", cwd=tmp_path))
    (tmp_path / "s" / "manifest.json").write_text("[1, 2]")
    assert "not a JSON object" in one_line(cli("summary", "s", cwd=tmp_path))
    resumed = cli("run", str(config), "--out", "s", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0  # the identity lives in study.json


def test_csv_round_trip_keeps_na_like_names(tmp_path):
    data = json.loads(json.dumps(TINY))
    data["study"]["name"] = "NA"
    data["profiles"] = [{"name": "null"}]
    config = parse_config(data)
    run_study(config, tmp_path / "s", jobs=1, quiet=True, fmt="csv")
    rounds = read_dataset(tmp_path / "s", "rounds")
    assert (rounds["study"] == "NA").all() and (rounds["profile"] == "null").all()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("seed", range(6))
def test_crash_consistency_under_kill_and_damage(tmp_path, seed):
    """Kill a --jobs 2 study with SIGKILL at a random moment (some trials during the
    consolidation), damage a random part in some, resume: always the clean dataset,
    and no process left behind."""
    rng = random.Random(seed)
    config = write_config(tmp_path / "s.toml", replications=12, chunk_size=1)
    clean = cli("run", str(config), "--out", str(tmp_path / "clean"), cwd=tmp_path)
    assert clean.returncode == 0
    started = time.monotonic()
    full = cli("run", str(config), "--out", str(tmp_path / "timing"), "--jobs", "2", cwd=tmp_path)
    assert full.returncode == 0
    duration = time.monotonic() - started
    out = tmp_path / "s"
    for attempt in range(3):
        process = _start(config, out, tmp_path)
        late = seed % 3 == 0 and attempt == 0  # near the end: consolidation
        time.sleep(duration * (rng.uniform(0.85, 1.0) if late else rng.uniform(0.1, 0.8)))
        workers = _children(process.pid)
        _kill_and_expect_no_workers(process, workers)
        parts = sorted((out / "parts").glob("*.arrow"))
        if parts and rng.random() < 0.5:
            victim = rng.choice(parts)
            data = victim.read_bytes()
            victim.write_bytes(data[: rng.randrange(len(data))])  # truncate
        resumed = cli(
            "run", str(config), "--out", str(out), "--resume", "--jobs", "2", cwd=tmp_path
        )
        if resumed.returncode == 0:
            break
        assert "Traceback" not in resumed.stderr, resumed.stderr
    assert digest(out) == digest(tmp_path / "clean")


def test_a_full_disk_stops_with_one_line_and_keeps_the_finished_parts(tmp_path, monkeypatch):
    import errno

    from runs import export

    original = export.atomic_write
    writes = {"parts": 0}

    def filling(root, path, data):
        if path.parent.name == "parts":
            writes["parts"] += 1
            if writes["parts"] == 3:
                raise StudyIOError(f"cannot write {str(path)!r}: {os.strerror(errno.ENOSPC)}")
        return original(root, path, data)

    monkeypatch.setattr(export, "atomic_write", filling)
    config = write_config(tmp_path / "s.toml")
    status = main(["run", str(config), "--out", str(tmp_path / "s"), "--jobs", "1", "--quiet"])
    assert status == 2
    lines = (tmp_path / "s" / "ledger.jsonl").read_text().splitlines()
    assert len(lines) == 2  # the two parts written before the disk filled are recorded
    monkeypatch.setattr(export, "atomic_write", original)
    again = run_study(tiny(), tmp_path / "s", jobs=1, quiet=True, resume=True)
    assert again.skipped == 2


def test_an_unwritable_out_is_one_line(tmp_path):
    config = write_config(tmp_path / "s.toml")
    # /proc refuses new directories even to root: the closest to a read-only --out here
    result = cli("run", str(config), "--out", "/proc/defcoord-study", cwd=tmp_path)
    assert "cannot create --out '/proc/defcoord-study'" in one_line(result)


@pytest.mark.slow
def test_an_unreachable_scheduler_fails_within_its_timeout(tmp_path):
    config = write_config(tmp_path / "s.toml")
    started = time.monotonic()
    result = cli(
        "run",
        str(config),
        "--out",
        "u",
        "--executor",
        "dask",
        "--scheduler",
        "tcp://127.0.0.1:9",
        cwd=tmp_path,
    )
    assert "cannot connect within 10s" in one_line(result)
    assert time.monotonic() - started < 60
