"""Shared fixtures for the study tests: a tiny study that runs in a second or two."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

from runs.config import StudyConfig, parse_config

TINY = {
    "study": {"name": "tiny", "seed": 7, "replications": 4, "rounds": 3, "chunk_size": 2},
    "generator": {
        "name": "uniform",
        "params": {"n_targets": 3, "resources": 1},
        "grid": {"n_defenders": [2, 3]},
    },
    "mechanisms": [{"name": "csw_max"}, {"name": "dictatorship"}],
    "profiles": [{"name": "truthful"}, {"name": "deviate", "executing": "optimal_deviation"}],
    "attacker": {"name": "informed"},
    "audits": {"misreport_budget": 3},
}


def tiny(**changes) -> StudyConfig:
    data = copy.deepcopy(TINY)
    for dotted, value in changes.items():
        table, key = dotted.split(".")
        data[table][key] = value
    return parse_config(data)


def tiny_config() -> StudyConfig:
    """The tiny study with its defaults."""
    return tiny()


def digest(out: Path) -> str:
    """A hash of every dataset file's bytes (names included)."""
    h = hashlib.sha256()
    for path in sorted((out / "dataset").rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(out)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()
