"""The framework as a package (marker ``package``; ``make test-package``): ``python -m
build`` makes a wheel and an sdist; the wheel, installed with its ``viz`` extra into a
fresh virtual environment, gives ``defcoord`` and the Python API away from the
repository, with the shipped configs as package data, and writes the same dataset bytes
as the checkout does."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from runs.cli import main

from tests_support import digest, serving_viz, write_config

pytestmark = pytest.mark.package

ROOT = Path(__file__).resolve().parent.parent
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def run(*command: str | Path, cwd: Path) -> str:
    """Run a command with none of the checkout on its path; returns its stdout."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, f"{command}: {done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", dist, ROOT, cwd=dist)
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    return wheel, sdist


@pytest.fixture(scope="module")
def venv(built, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel and its viz extra installed."""
    wheel, _ = built
    where = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", where, cwd=where)
    run(where / "bin" / "python", "-m", "pip", "install", "--quiet", f"{wheel}[viz]", cwd=where)
    return where / "bin"


def test_the_wheel_holds_the_packages_and_their_data(built):
    wheel, _ = built
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"runs/configs/{path.name}" for path in (ROOT / "runs" / "configs").glob("*.toml")}
    assert shipped and shipped <= names
    assert {f"{package}/py.typed" for package in ("sim", "mechanisms", "agents", "runs")} <= names
    assert not any(name.startswith(("tests/", "bench/", "docs/")) for name in names)
    metadata = zipfile.ZipFile(wheel).read(f"defense_coordination-{VERSION}.dist-info/METADATA")
    text = metadata.decode()
    for field in ("License-Expression: MIT", "Provides-Extra: dask", "Provides-Extra: viz"):
        assert field in text
    assert "Classifier: Intended Audience :: Science/Research" in text
    assert "Project-URL: " in text


def test_the_sdist_holds_what_a_checkout_needs_to_test_and_document(built):
    _, sdist = built
    names = {name.split("/", 1)[1] for name in tarfile.open(sdist).getnames() if "/" in name}
    for needed in (
        "pyproject.toml",
        "Makefile",
        "docs/conf.py",
        "tests/conftest.py",
        "docs/nse.md",
    ):
        assert needed in names
    assert any(name.startswith("examples/") and name.endswith(".ipynb") for name in names)


def test_the_installed_wheel_runs_away_from_the_checkout(venv, tmp_path):
    assert run(venv / "defcoord", "--version", cwd=tmp_path).strip() == f"defcoord {VERSION}"
    where = run(venv / "python", "-c", "import sim, runs; print(sim.__file__)", cwd=tmp_path)
    assert str(ROOT) not in where and "site-packages" in where
    assert "csw_max" in run(venv / "defcoord", "list", cwd=tmp_path)
    # a shipped config by name: package data
    assert "instances" in run(venv / "defcoord", "run", "quickstart", "--dry-run", cwd=tmp_path)
    api = (
        "from sim.instances import example_5_2; from sim.nse import find_nse; "
        "print(find_nse(example_5_2()).status)"
    )
    assert run(venv / "python", "-c", api, cwd=tmp_path).strip() == "verified"


def test_the_installed_wheel_writes_the_checkouts_dataset_bytes(venv, tmp_path):
    config = write_config(tmp_path / "tiny.toml")
    installed, checkout = tmp_path / "installed", tmp_path / "checkout"
    run(venv / "defcoord", "run", config, "--out", installed, "--jobs", "1", cwd=tmp_path)
    assert main(["run", str(config), "--out", str(checkout), "--jobs", "1"]) == 0
    assert digest(installed) == digest(checkout)
    import json

    manifest = json.loads((installed / "manifest.json").read_text())
    assert manifest["git"] == {"commit": None, "dirty": None}
    assert manifest["versions"]["defense-coordination"] == VERSION


def test_the_installed_wheel_serves_the_live_view(venv, tmp_path):
    with serving_viz([str(venv / "defcoord")], tmp_path) as url:
        assert url.startswith("http://127.0.0.1:")
