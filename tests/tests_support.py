"""Shared fixtures: a tiny study that runs in a second or two, the live view served on
a free local port, and the NSEs that methods other than the extremes' find."""

from __future__ import annotations

import copy
import hashlib
import json
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from runs.config import StudyConfig, parse_config
from sim.game import SecurityGame
from sim.nse import NSEResult
from sim.nse.exact import exact_split
from sim.nse.finder import certify
from sim.nse.kernel import clean
from sim.nse.split import Games
from sim.solvers.origami import origami_level

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@contextmanager
def serving_viz(defcoord: Sequence[str], cwd: Path) -> Iterator[str]:
    """``<defcoord> viz`` on a free local port, yielding its address once it answers;
    stopped with SIGTERM afterwards, which must end it cleanly (exit 143, one line on
    stderr)."""
    port = free_port()
    server = subprocess.Popen(
        [*defcoord, "viz", "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"

    def up() -> bool:
        if server.poll() is not None:
            raise AssertionError(f"defcoord viz exited: {server.communicate()[1][-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as page:
                return bool(page.status == 200)
        except OSError:
            return False

    try:
        wait_for(up, 90, "the live view to serve")
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 143, err[-2000:]
    assert err.strip().splitlines()[-1] == "defcoord: viz stopped" and "Traceback" not in err
    assert out.startswith(f"live view: {url}")


def grid_nses(game: SecurityGame) -> list[NSEResult]:
    """The verified NSEs the exact splits (sim/nse/exact.py) find at 41 levels from
    u*_K to each target's reward: a solver other than the extremes' methods."""
    standard = game.standard
    pooled = origami_level(
        standard.attacker_reward, standard.attacker_gap, float(standard.total_resources)
    )
    taus = [t for t in range(game.n_targets) if standard.attacker_reward[t] >= pooled]
    tau = np.repeat(taus, 41)
    grid = np.concatenate([np.linspace(pooled, standard.attacker_reward[t], 41) for t in taus])
    done, profiles = exact_split(
        Games.single(standard), np.zeros(tau.size, np.int64), tau, grid, max_iter=200
    )
    found = []
    for j in np.flatnonzero(done):
        nse = certify(game, clean(profiles[j], standard.resources), int(tau[j]), "grid")
        if nse is not None:
            found.append(nse)
    return found
