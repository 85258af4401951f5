"""Dataset I/O: part files, the consolidated dataset and its manifest.

Layout of a study's output directory::

    parts/<chunk>.parquet      one file per finished chunk (atomic: temp + rename)
    ledger.jsonl               one line per chunk outcome (ok / failed, with error)
    dataset/audits/mechanism=<label>/part-0.parquet    (zstd; or audits.csv)
    dataset/rounds/mechanism=<label>/part-0.parquet    (or rounds.csv)
    summary.csv                failure rates with Clopper-Pearson CIs, welfare
    manifest.json              config + SHA-256, seed, versions, git, times, ledger

:func:`read_dataset` is the exact inverse of what is written.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from runs.schema import SORT_KEYS, TABLES, columns, typed
from runs.summary import DEFAULT_MIN_GAIN
from sim.errors import InvalidConfigError


def _atomic_write(data: bytes, path: Path) -> None:
    """Write ``data`` atomically: a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def encode_part(df: pd.DataFrame) -> bytes:
    """A chunk's rows as Parquet bytes (zstd): workers encode, the runner writes."""
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    _atomic_write(encode_part(df), path)


def write_part(data: bytes, out: Path, chunk_id: str) -> Path:
    """Write a finished chunk's encoded rows as its own part file."""
    path = out / "parts" / f"{chunk_id}.parquet"
    _atomic_write(data, path)
    return path


def read_part(path: Path) -> pd.DataFrame:
    """Read a part file back."""
    return pq.read_table(path).to_pandas()


def consolidate(
    out: Path, chunk_ids: Iterable[str], parameters: Mapping[str, str], fmt: str = "parquet"
) -> dict[str, pd.DataFrame]:
    """Merge the finished chunks' part files into the dataset (deterministic order).

    ``parameters`` are the study's parameter columns (:func:`runs.schema.columns`).
    Returns the consolidated tables, exactly as :func:`read_dataset` reads them.
    """
    frames: dict[str, list[pd.DataFrame]] = {"audits": [], "rounds": []}
    for chunk_id in sorted(chunk_ids):
        table = "audits" if chunk_id.startswith("audit") else "rounds"
        frames[table].append(read_part(out / "parts" / f"{chunk_id}.parquet"))
    tables = {}
    target = out / "dataset"
    for table, parts in frames.items():
        df = (
            pd.concat(parts, ignore_index=True)
            if parts
            else pd.DataFrame(columns=list(columns(table, parameters)))
        )
        df = typed(df, table, parameters)
        df = df.sort_values(SORT_KEYS[table], kind="stable").reset_index(drop=True)
        tables[table] = df
        if fmt == "csv":
            target.mkdir(parents=True, exist_ok=True)
            tmp = target / f"{table}.csv.tmp"
            df.to_csv(tmp, index=False)
            os.replace(tmp, target / f"{table}.csv")
            continue
        for mechanism in sorted(df["mechanism"].unique()):
            part = df[df["mechanism"] == mechanism].drop(columns="mechanism")
            _write_parquet(
                part.reset_index(drop=True),
                target / table / f"mechanism={mechanism}" / "part-0.parquet",
            )
    return tables


def read_dataset(path: str | Path, table: str = "audits") -> pd.DataFrame:
    """Read a study's dataset back (the exact inverse of :func:`consolidate`).

    ``path`` is the study's output directory (or its ``dataset/`` folder).
    """
    if table not in TABLES:
        raise InvalidConfigError(
            f"read_dataset.table must be one of {sorted(TABLES)}; got {table!r}"
        )
    root = Path(path)
    if (root / "dataset").is_dir():
        root = root / "dataset"
    parameters = study_parameters(root.parent if root.name == "dataset" else root)
    wanted = columns(table, parameters or {})
    csv = root / f"{table}.csv"
    if csv.is_file():
        df = pd.read_csv(
            csv,
            keep_default_na=True,
            dtype={c: "string" for c, t in wanted.items() if t == "string"},
        )
        df = typed(df, table, parameters)
        return df.sort_values(SORT_KEYS[table], kind="stable").reset_index(drop=True)
    folder = root / table
    if not folder.is_dir():
        if root.name == "dataset" and root.is_dir():  # a study without this table
            return typed(pd.DataFrame(columns=list(wanted)), table, parameters)
        raise InvalidConfigError(f"no {table} dataset under {str(path)!r}")
    parts = []
    for sub in sorted(folder.glob("mechanism=*")):
        df = pq.read_table(sub / "part-0.parquet").to_pandas()
        df.insert(0, "mechanism", sub.name.split("=", 1)[1])
        parts.append(df)
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(wanted))
    df = typed(df, table, parameters)
    return df.sort_values(SORT_KEYS[table], kind="stable").reset_index(drop=True)


def study_min_gain(study: Path) -> float:
    """The failure threshold a study ran with (its manifest; the default without one)."""
    manifest = study / "manifest.json"
    if manifest.is_file():
        value = json.loads(manifest.read_text()).get("min_gain")
        if isinstance(value, int | float):
            return float(value)
    return DEFAULT_MIN_GAIN


def study_parameters(study: Path) -> dict[str, str] | None:
    """The parameter columns a study's manifest records (None: no manifest)."""
    manifest = study / "manifest.json"
    if not manifest.is_file():
        return None
    recorded = json.loads(manifest.read_text()).get("parameters")
    return dict(recorded) if isinstance(recorded, dict) else None


def _git() -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain"],
                cwd=root,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def versions() -> dict[str, str]:
    """Versions of the packages a dataset depends on."""
    out = {}
    for name in ("defense-coordination", "numpy", "scipy", "pandas", "pyarrow", "mesa", "seaborn"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` atomically."""
    tmp = out / "manifest.json.tmp"
    tmp.write_text(
        json.dumps({**manifest, "git": _git(), "versions": versions()}, indent=2, default=str)
    )
    os.replace(tmp, out / "manifest.json")
