"""The ``defcoord`` command: help, list, demo and one-line errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from runs.cli import main


def test_help_and_list(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "defcoord" in capsys.readouterr().out
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in (
        "uniform",
        "covariant",
        "nonoverlapping",
        "zero_sum_like",
        "csw_max",
        "shirk",
        "quantal",
    ):
        assert name in out


def test_demo_runs_a_study_and_says_where(tmp_path, capsys, monkeypatch):
    from runs import config as config_module

    from tests_support import tiny_config

    monkeypatch.setattr(config_module, "load_config", lambda name: tiny_config())
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    for line in ("dataset:", "summary:", "figures:", "report:"):
        assert line in printed
    assert (out / "figures" / "report.md").exists() and (out / "summary.csv").exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    assert main(["demo", "--out", str(tmp_path / "other"), "--jobs", "1", "--quiet"]) == 2
    assert (tmp_path / "other" / "keep.txt").exists()  # never deletes a non-study folder


def test_bad_command_is_one_line_exit_2():
    result = subprocess.run(
        [sys.executable, "-m", "runs", "frobnicate"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
