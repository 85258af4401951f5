"""Reliability, round two (issue 33): each reproduction of the fault campaign is a test
that failed before its fix."""

from __future__ import annotations

import os

import pytest
from tests_support import digest, tiny

from runs.cli import main
from runs.config import parse_config
from runs.runner import run_study
from runs.studydir import Ledger, identity, identity_key
from sim.errors import InvalidConfigError


def _key(config) -> str:
    return identity_key(identity(config.design_sha256(), config.seed, "parquet"))


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
