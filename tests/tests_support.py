"""Shared fixtures for the study tests: a tiny study that runs in a second or two."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

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
        if "." not in dotted:  # a whole table or array of tables
            data[dotted] = value
            continue
        table, key = dotted.split(".")
        data[table][key] = value
    return parse_config(data)


def tiny_config() -> StudyConfig:
    """The tiny study with its defaults."""
    return tiny()


def write_config(path: Path, data: dict[str, Any] | None = None, **study: Any) -> Path:
    """Write a study config (default: the tiny study) as TOML, with ``study`` updating
    its ``[study]`` table; returns ``path``."""
    data = copy.deepcopy(TINY if data is None else data)
    data["study"].update(study)
    lines = []
    for table, fields in data.items():
        if isinstance(fields, list):
            for entry in fields:
                lines.append(f"[[{table}]]")
                lines += [f"{k} = {json.dumps(v)}" for k, v in entry.items()]
            continue
        lines.append(f"[{table}]")
        for key, value in fields.items():
            if isinstance(value, dict):
                inner = ", ".join(f"{a} = {json.dumps(b)}" for a, b in value.items())
                lines.append(f"{key} = {{ {inner} }}")
            else:
                lines.append(f"{key} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def digest(out: Path) -> str:
    """A hash of every dataset file's bytes (names included)."""
    h = hashlib.sha256()
    for path in sorted((out / "dataset").rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(out)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()
