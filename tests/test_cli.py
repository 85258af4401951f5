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
    for name in ("uniform", "covariant", "nonoverlapping", "zero_sum_like"):
        assert name in out


def test_demo_prints_the_paper_examples(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "Example 5.2" in out and "u* = 0.3415" in out  # 14/41, see test_instances


def test_bad_command_is_one_line_exit_2():
    result = subprocess.run(
        [sys.executable, "-m", "runs", "frobnicate"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
