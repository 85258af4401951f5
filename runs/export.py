"""Dataset I/O: part files, the consolidated dataset and its manifest.

Layout of a study's output directory::

    study.json                 the study's identity (written before the first part)
    .lock                      held by the run writing the study
    parts/<chunk>.parquet      one file per finished chunk (atomic: temp + rename)
    ledger.jsonl               one line per chunk outcome (ok / failed, with SHA-256)
    dataset/audits/mechanism=<label>/part-0.parquet    (zstd; or audits.csv)
    dataset/rounds/mechanism=<label>/part-0.parquet    (or rounds.csv)
    summary.csv                failure rates with Clopper-Pearson CIs, welfare
    manifest.json              config + SHA-256, seed, versions, git, times, ledger

:func:`read_dataset` is the exact inverse of what is written.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from runs.schema import PANDAS_TYPES, SORT_KEYS, TABLES, columns, typed
from runs.studydir import atomic_write, sha256
from runs.summary import DEFAULT_MIN_GAIN
from sim.errors import InvalidConfigError, StudyStateError

#: The Parquet key-value metadata that names the study a part belongs to.
PART_STUDY_KEY = b"defcoord.config_sha256"


def encode_part(df: pd.DataFrame | pa.Table, study: str | None = None) -> bytes:
    """Rows as Parquet bytes (zstd): a chunk's Arrow table (workers encode, the runner
    writes) or a DataFrame of the dataset. ``study`` (the config's SHA-256) goes into
    the file's key-value metadata."""
    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    if study is not None:
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), PART_STUDY_KEY: study.encode()}
        )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def write_part(data: bytes, out: Path, chunk_id: str) -> Path:
    """Write a finished chunk's encoded rows as its own part file."""
    path = out / "parts" / f"{chunk_id}.parquet"
    atomic_write(out, path, data)
    return path


def read_part(
    path: Path, expected_sha256: str | None = None, study: str | None = None
) -> pd.DataFrame:
    """Read a part file back, verifying its SHA-256 and the study it names when given."""
    data = path.read_bytes()
    if expected_sha256 is not None and sha256(data) != expected_sha256:
        raise StudyStateError(
            f"{str(path)!r} does not match the SHA-256 its ledger entry recorded; "
            "rerun with --resume to compute it again"
        )
    table = pq.read_table(pa.BufferReader(data))
    named = (table.schema.metadata or {}).get(PART_STUDY_KEY)
    if study is not None and named != study.encode():
        raise StudyStateError(f"{str(path)!r} belongs to another study ({named!r})")
    return table.to_pandas(types_mapper=PANDAS_TYPES.get)


def consolidate(
    out: Path,
    parts: Mapping[str, str | None],
    parameters: Mapping[str, str],
    fmt: str = "parquet",
    *,
    study: str | None = None,
) -> Iterator[dict[str, pd.DataFrame]]:
    """Merge the finished chunks' part files into the dataset (deterministic order),
    yielding the tables group by group as they are written.

    Parquet datasets are partitioned by mechanism, so one mechanism's parts are read,
    sorted and written at a time (memory: the largest mechanism's rows, not the
    study's); a CSV dataset is one file per table, written in one group. ``parts``
    maps each finished chunk to its part's SHA-256 (verified while reading; None:
    unverified); ``parameters`` are the study's parameter columns
    (:func:`runs.schema.columns`); ``study`` the config SHA-256 every part must name.
    Each group's tables are exactly the rows :func:`read_dataset` returns for them.
    """
    groups: dict[str, list[str]] = {}
    for chunk_id in sorted(parts):
        key = "all" if fmt == "csv" else chunk_id.split("-")[2]  # the mechanism's index
        groups.setdefault(key, []).append(chunk_id)
    target = out / "dataset"
    for key in sorted(groups) if groups else (["all"] if fmt == "csv" else []):
        tables = {}
        for table in TABLES:
            loaded = [
                read_part(out / "parts" / f"{chunk_id}.parquet", parts[chunk_id], study)
                for chunk_id in groups.get(key, [])
                if chunk_id.startswith("audit" if table == "audits" else "sim")
            ]
            df = (
                pd.concat(loaded, ignore_index=True)
                if loaded
                else pd.DataFrame(columns=list(columns(table, parameters)))
            )
            df = typed(df, table, parameters)
            df = df.sort_values(SORT_KEYS[table], kind="stable").reset_index(drop=True)
            tables[table] = df
            if fmt == "csv":
                atomic_write(out, target / f"{table}.csv", df.to_csv(index=False).encode())
                continue
            for mechanism in sorted(df["mechanism"].unique()):
                part = df[df["mechanism"] == mechanism].drop(columns="mechanism")
                atomic_write(
                    out,
                    target / table / f"mechanism={mechanism}" / "part-0.parquet",
                    encode_part(part.reset_index(drop=True)),
                )
        yield tables


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
        # only an empty field is missing: a study named "NA" or a profile "null" stays
        df = pd.read_csv(
            csv,
            keep_default_na=False,
            na_values=[""],
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


def read_manifest(study: Path) -> dict[str, Any] | None:
    """A study's ``manifest.json`` (None: there is none); a damaged one is refused."""
    path = study / "manifest.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise StudyStateError(f"{str(path)!r} is damaged (not JSON)") from None
    if not isinstance(data, dict):
        raise StudyStateError(f"{str(path)!r} is damaged (not a JSON object)")
    return data


def study_min_gain(study: Path) -> float:
    """The failure threshold a study ran with (its manifest; the default without one)."""
    value = (read_manifest(study) or {}).get("min_gain")
    return float(value) if isinstance(value, int | float) else DEFAULT_MIN_GAIN


def study_parameters(study: Path) -> dict[str, str] | None:
    """The parameter columns a study's manifest records (None: no manifest)."""
    recorded = (read_manifest(study) or {}).get("parameters")
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
    text = json.dumps({**manifest, "git": _git(), "versions": versions()}, indent=2, default=str)
    atomic_write(out, out / "manifest.json", text.encode())
