"""The README's *Extending* section, followed to the letter: its four plug-in files are
copied into a temporary folder, imported, and must pass the conformance suites; a study
that names them as plug-ins runs end to end. Runs in a subprocess so the toy plug-ins
never enter this process's registries."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runs.config import parse_config
from sim.errors import InvalidConfigError

ROOT = Path(__file__).resolve().parent.parent
FILE = re.compile(r"```python\n# file: (\w+\.py)\n(.*?)```", re.DOTALL)

SCRIPT = textwrap.dedent(
    """
    import toy_attacker, toy_behaviour, toy_generator, toy_mechanism
    from conformance import (
        check_attacker, check_behaviours, check_generator, check_mechanism,
    )
    from runs.config import parse_config
    from runs.export import read_dataset
    from runs.runner import run_study

    check_mechanism("max_min")
    for reporting in ("truthful", "fixed_misreport"):
        check_behaviours(reporting, "guard_top")
    check_attacker("uniform_random")
    check_generator("hotspot")
    config = parse_config({
        "study": {"name": "toys", "seed": 1, "replications": 2, "rounds": 3,
                  "plugins": ["toy_attacker", "toy_behaviour", "toy_generator",
                              "toy_mechanism"]},
        "generator": {"name": "hotspot",
                      "params": {"n_defenders": 2, "n_targets": 3}},
        "mechanisms": [{"name": "max_min"}],
        "profiles": [{"name": "top", "executing": "guard_top"}],
        "attacker": {"name": "uniform_random"},
    })
    result = run_study(config, OUT, jobs=2, quiet=True)
    assert result.ok, result.failed
    rounds = read_dataset(OUT, "rounds")
    assert len(rounds) == 2 * 3 * 2 and (rounds["status"] == "ok").all()
    print("extending ok")
    """
)


def test_readme_extending_section_plugins_pass_their_suites(tmp_path):
    files = dict(FILE.findall((ROOT / "README.md").read_text()))
    assert sorted(files) == [
        "toy_attacker.py",
        "toy_behaviour.py",
        "toy_generator.py",
        "toy_mechanism.py",
    ]
    for name, code in files.items():
        (tmp_path / name).write_text(code)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "tests")])}
    script = f"OUT = {str(tmp_path / 'study')!r}\n" + SCRIPT
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "extending ok" in done.stdout


def test_a_plugin_that_cannot_be_imported_is_a_config_error():
    with pytest.raises(InvalidConfigError, match=r"'study.plugins' could not import 'nowhere_"):
        parse_config(
            {
                "study": {
                    "name": "x",
                    "seed": 1,
                    "replications": 1,
                    "plugins": ["nowhere_to_be_found"],
                },
                "generator": {"name": "uniform"},
            }
        )
