"""Dataset I/O: part files, the consolidated dataset and its manifest.

Layout of a study's output directory::

    study.json                 the study's identity (written before the first part)
    .lock                      held by the run writing the study
    parts/<chunk>.arrow        one file per finished chunk (atomic: temp + rename)
    ledger.jsonl               one line per chunk outcome (ok / failed, with SHA-256)
    dataset/audits/mechanism=<label>/part-0.parquet    (zstd; or audits.csv)
    dataset/rounds/mechanism=<label>/part-0.parquet    (or rounds.csv)
    summary.csv                failure rates with Clopper-Pearson CIs, welfare
    manifest.json              config + SHA-256, seed, versions, git, times, ledger

The dataset is built in ``.dataset.new/`` and swapped in whole (:func:`consolidate`);
readers refuse a study whose manifest has not recorded its end (``finished``).

:func:`read_dataset` is the exact inverse of what is written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from runs import DISTRIBUTION
from runs.schema import PANDAS_TYPES, SORT_KEYS, TABLES, columns, typed
from runs.studydir import atomic_write, part_path, refuse_symlinks, sha256
from runs.summary import DEFAULT_MIN_GAIN, finish, merge, tally
from sim.errors import InvalidConfigError, StudyIOError, StudyStateError

#: The schema metadata key that names the study a part belongs to.
PART_STUDY_KEY = b"defcoord.config_sha256"


def encode_part(table: pa.Table, study: str | None = None) -> bytes:
    """A chunk's rows (its Arrow table: workers encode, the runner writes) as the bytes
    of an Arrow IPC file, its buffers LZ4-compressed. ``study`` (the config's SHA-256)
    goes into the schema's metadata.

    Parts live until consolidation, which writes the dataset as Parquet with zstd and
    dictionaries. A part is a few hundred rows, which Arrow IPC with LZ4 writes three
    times as fast as Parquet with snappy (``bench/study.py``'s per-chunk overhead),
    in files about 1.6 times as large."""
    if study is not None:
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), PART_STUDY_KEY: study.encode()}
        )
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    with pa.ipc.new_file(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def write_part(data: bytes, out: Path, chunk_id: str) -> Path:
    """Write a finished chunk's encoded rows as its own part file."""
    path = part_path(out, chunk_id)
    atomic_write(out, path, data)
    return path


def read_part(path: Path, expected_sha256: str | None = None, study: str | None = None) -> pa.Table:
    """Read a part file back (an Arrow table with the schema's types), verifying its
    SHA-256 and the study it names when given."""
    data = path.read_bytes()
    if expected_sha256 is not None and sha256(data) != expected_sha256:
        raise StudyStateError(
            f"{str(path)!r} does not match the SHA-256 its ledger entry recorded; "
            "rerun with --resume to compute it again"
        )
    table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
    named = (table.schema.metadata or {}).get(PART_STUDY_KEY)
    if study is not None and named != study.encode():
        raise StudyStateError(f"{str(path)!r} belongs to another study ({named!r})")
    return table.replace_schema_metadata(None)


#: Rows of whole chunks that consolidation reads, writes and tallies at a time (the
#: last batch may have fewer): its memory, whatever the number of replications. A
#: chunk is often a few rows, and pandas costs per call.
BATCH_ROWS = 16_384


class _Sink:
    """One file of the dataset being staged: a Parquet file written in row groups, or
    CSV text (the staging folder is deleted whole if consolidation fails)."""

    def __init__(self, root: Path, path: Path) -> None:
        refuse_symlinks(root, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.started = False

    def append(self, rows: pa.Table | pd.DataFrame) -> None:
        """Add rows: an Arrow table to a Parquet file (as a row group), a typed
        DataFrame to a CSV."""
        if isinstance(rows, pd.DataFrame):
            with self.path.open("ab") as handle:
                handle.write(rows.to_csv(index=False, header=not self.started).encode())
            self.started = True
            return
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, rows.schema, compression="zstd")
        self.writer.write_table(rows, row_group_size=max(rows.num_rows, 1))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


#: Where consolidation builds the next dataset, and where the previous one waits to be
#: deleted while the two are swapped (:func:`consolidate`).
STAGING = ".dataset.new"
RETIRED = ".dataset.old"


def _clear(path: Path) -> None:
    """Delete a staging folder an interrupted consolidation left (a symbolic link in
    its place is removed, never followed)."""
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _swap(out: Path) -> None:
    """Make the staged dataset the study's: two renames, so a reader sees the old
    dataset, none (an unfinished study, refused) or the new one, never a mixture."""
    target, staging, retired = out / "dataset", out / STAGING, out / RETIRED
    _clear(retired)
    if target.is_symlink():
        target.unlink()
    elif target.exists():
        os.rename(target, retired)
    os.rename(staging, target)
    _clear(retired)


#: A column the consolidation adds for a moment: each row's chunk, in the chunks' order.
CHUNK_KEY = "__chunk"


def _batches(
    out: Path, parts: Mapping[str, str | None], study: str | None
) -> Iterator[tuple[str, pa.Table]]:
    """The parts' rows in the chunks' order, each chunk sorted, in batches of whole
    chunks of one table of at least :data:`BATCH_ROWS` rows."""
    batch: list[pa.Table] = []
    size, current = 0, ""

    def sorted_batch() -> pa.Table:  # one sort: by chunk, then within each chunk
        keys = [(CHUNK_KEY, "ascending"), *((key, "ascending") for key in SORT_KEYS[current])]
        return pa.concat_tables(batch).sort_by(keys).drop_columns([CHUNK_KEY])

    for index, chunk_id in enumerate(sorted(parts)):
        name = "audits" if chunk_id.startswith("audit") else "rounds"
        if batch and (name != current or size >= BATCH_ROWS):
            yield current, sorted_batch()
            batch, size = [], 0
        rows = read_part(part_path(out, chunk_id), parts[chunk_id], study)
        batch.append(rows.append_column(CHUNK_KEY, pa.array(np.full(rows.num_rows, index))))
        size, current = size + rows.num_rows, name
    if batch:
        yield current, sorted_batch()


def consolidate(
    out: Path,
    parts: Mapping[str, str | None],
    parameters: Mapping[str, str],
    fmt: str = "parquet",
    *,
    study: str | None = None,
) -> Iterator[tuple[str, pd.DataFrame]]:
    """Stream the finished chunks' part files into the dataset, yielding the rows
    (a table's name and a typed DataFrame of whole chunks) as they are written.

    The dataset is built in a staging folder and then swapped in whole
    (:func:`_swap`); on any failure the staging folder is deleted and the previous
    dataset stays.

    A batch of chunks is in memory at a time (:func:`_batches`; each mechanism's rows
    of it are a Parquet row group), so the peak memory does not grow with the number
    of replications. The rows go in the chunks' order (grid point, mechanism,
    profile, first replication: the same whatever the workers), sorted within each
    chunk; :func:`read_dataset` returns them sorted by :data:`runs.schema.SORT_KEYS`.
    Parquet datasets are partitioned by mechanism; a CSV dataset has one file per
    table. ``parts`` maps each finished chunk to its part's SHA-256 (verified while
    reading; None: unverified); ``parameters`` are the study's parameter columns
    (:func:`runs.schema.columns`); ``study`` the config SHA-256 every part must name.
    """
    target = out / STAGING
    sinks: dict[Path, _Sink] = {}

    def sink(path: Path) -> _Sink:
        if path not in sinks:
            sinks[path] = _Sink(out, path)
        return sinks[path]

    try:
        _clear(out / STAGING)
        _clear(out / RETIRED)
        target.mkdir()
        if fmt == "csv":  # both tables have a file, if only with their header
            for table in TABLES:
                empty = pd.DataFrame(columns=list(columns(table, parameters)))
                sink(target / f"{table}.csv").append(typed(empty, table, parameters))
        for name, rows in _batches(out, parts, study):
            df = typed(rows.to_pandas(types_mapper=PANDAS_TYPES.get), name, parameters)
            if fmt == "csv":
                sink(target / f"{name}.csv").append(df)
            else:
                for mechanism in sorted(set(rows.column("mechanism").to_pylist())):
                    mine = pc.equal(rows.column("mechanism"), mechanism)
                    part = rows.filter(mine).drop_columns(["mechanism"])
                    sink(target / name / f"mechanism={mechanism}" / "part-0.parquet").append(part)
            yield name, df
        for each in sinks.values():
            each.close()
        _swap(out)
    except BaseException as exc:
        for each in sinks.values():
            with contextlib.suppress(Exception):
                each.close()
        with contextlib.suppress(OSError):
            _clear(target)
        if isinstance(exc, OSError) and not isinstance(exc, StudyIOError):
            reason = exc.strerror or str(exc)
            raise StudyIOError(
                f"cannot write the dataset under {str(out)!r}: {reason}; free space and "
                "continue with the same command and --resume"
            ) from None
        raise


def write_dataset(
    out: Path,
    parts: Mapping[str, str | None],
    parameters: Mapping[str, str],
    fmt: str = "parquet",
    *,
    study: str | None = None,
    min_gain: float = DEFAULT_MIN_GAIN,
    by: Sequence[str] = (),
) -> dict[str, int]:
    """Consolidate the finished chunks (:func:`consolidate`) and write ``summary.csv``,
    grouped by ``by`` (the swept parameters), from the batches' tallies as they stream
    by (:func:`runs.summary.tally`); returns the rows of each table."""
    rows = {"audits": 0, "rounds": 0}
    tallies: list[pd.DataFrame] = []
    for name, df in consolidate(out, parts, parameters, fmt, study=study):
        rows[name] += len(df)
        tallies = [merge([*tallies, tally(**{name: df}, by=by, min_gain=min_gain)])]
    summary = finish(tallies, min_gain)
    atomic_write(out, out / "summary.csv", summary.to_csv(index=False).encode())
    return rows


def read_dataset(path: str | Path, table: str = "audits") -> pd.DataFrame:
    """Read a study's dataset back (the exact inverse of :func:`consolidate`).

    ``path`` is the study's output directory (or its ``dataset/`` folder).
    """
    if table not in TABLES:
        raise InvalidConfigError(
            f"read_dataset.table must be one of {sorted(TABLES)}; got {table!r}"
        )
    root = Path(path)
    study = root.parent if root.name == "dataset" else root
    manifest = read_manifest(study)
    if manifest is not None and not manifest.get("finished"):
        raise StudyStateError(
            f"the study in {str(study)!r} has not finished writing its dataset (a run is "
            "under way, or was stopped): wait for it, or continue it with the same "
            "command and --resume"
        )
    if (root / "dataset").is_dir():
        root = root / "dataset"
    if manifest is not None and "dataset_sha256" in manifest:
        damaged = verify_dataset(study, manifest, table)
        if damaged:
            raise StudyStateError(
                f"{damaged[0]} in {str(study)!r}; the dataset is damaged: rebuild it from "
                "its parts with the same run command and --resume"
            )
    parameters = study_parameters(study)
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
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise StudyStateError(
            f"the {table} dataset under {str(path)!r} has no column {', '.join(missing)} "
            "(written by an older version of this tool); run the study again into a new "
            "directory"
        )
    df = typed(df, table, parameters)
    return df.sort_values(SORT_KEYS[table], kind="stable").reset_index(drop=True)


def dataset_sha256(study: Path) -> dict[str, str]:
    """The SHA-256 of every file of a study's dataset, by its path under ``dataset/``
    (what the manifest records, and :func:`verify_dataset` checks)."""
    root = study / "dataset"
    return {
        path.relative_to(root).as_posix(): sha256(path.read_bytes())
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def verify_dataset(study: Path, manifest: Mapping[str, Any], table: str | None = None) -> list[str]:
    """What differs between a study's dataset files (those of ``table``, or all) and
    the SHA-256 its manifest recorded: one line per missing, changed or unrecorded
    file (none: the dataset is as written)."""
    recorded = manifest.get("dataset_sha256") or {}
    present = dataset_sha256(study)
    out = []
    for name in sorted(set(recorded) | set(present)):
        if table is not None and not name.startswith(table):
            continue
        if name not in present:
            out.append(f"dataset/{name} is missing")
        elif name not in recorded:
            out.append(f"dataset/{name} is not one the manifest records")
        elif present[name] != recorded[name]:
            out.append(f"dataset/{name} does not match the SHA-256 the manifest records")
    return out


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


def swept(manifest: dict[str, Any]) -> list[str]:
    """The parameters a study's grid varies (more than one value), from its manifest:
    what its summaries are grouped by unless told otherwise."""
    config = manifest.get("config", {})
    grid = dict(config.get("generator", {}).get("grid", {}))
    grid.update({f"attacker.{k}": v for k, v in config.get("attacker", {}).get("grid", {}).items()})
    return sorted(k for k, v in grid.items() if isinstance(v, list) and len(v) > 1)


def study_parameters(study: Path) -> dict[str, str] | None:
    """The parameter columns a study's manifest records (None: no manifest)."""
    recorded = (read_manifest(study) or {}).get("parameters")
    return dict(recorded) if isinstance(recorded, dict) else None


def _git() -> dict[str, Any]:
    """The commit of the checkout the framework runs from; nulls for an installed wheel
    (whose folder may sit inside another project's repository)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    try:
        if (
            not (root / "pyproject.toml").is_file()
            or Path(git("rev-parse", "--show-toplevel")) != root
        ):
            return {"commit": None, "dirty": None}
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def versions() -> dict[str, str]:
    """Versions of the packages a dataset depends on."""
    out = {}
    for name in (DISTRIBUTION, "numpy", "scipy", "pandas", "pyarrow", "mesa", "seaborn"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` atomically."""
    text = json.dumps({**manifest, "git": _git(), "versions": versions()}, indent=2, default=str)
    atomic_write(out, out / "manifest.json", text.encode())
