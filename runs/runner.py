"""Run a study: chunks on a ``concurrent.futures.Executor``, each finished chunk written
at once as its own part file and recorded in a ledger, so an interrupted study resumes
without redoing or losing work and ends byte-identical to an uninterrupted run.

Executors: the embedded local one (``ProcessPoolExecutor``; in-process for one job) or
a Dask cluster (``client.get_executor()``; a ``LocalCluster`` when no scheduler address
is given) from the optional ``dask`` extra. Results never depend on the executor or
the number of workers: every chunk's draws come from the seed tree alone.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from runs import tasks
from runs.config import StudyConfig
from runs.export import consolidate, write_manifest, write_part
from runs.summary import summarise
from runs.tasks import Chunk, plan_chunks
from sim.errors import InvalidConfigError, SimError


class ExecutorUnavailableError(SimError, RuntimeError):
    """The requested executor cannot be used here (e.g. Dask is not installed)."""


@contextmanager
def open_executor(kind: str, jobs: int, scheduler: str | None) -> Iterator[Executor | None]:
    """The executor for ``kind`` (``local`` or ``dask``) with ``jobs`` workers; None
    for one local job, which runs the blocks in this process, one at a time."""
    if kind == "local":
        if scheduler is not None:
            raise InvalidConfigError("--scheduler only applies to --executor dask")
        if jobs == 1:
            yield None
            return
        # explicit: importing mesa (its batchrunner) forces the global start method to
        # "spawn"; fork starts workers with the project already imported
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            yield pool
        return
    if kind != "dask":
        raise InvalidConfigError(f"--executor must be 'local' or 'dask'; got {kind!r}")
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ExecutorUnavailableError(
            "the dask executor needs the optional extra: pip install 'defense-coordination[dask]'"
        ) from None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    else:
        cluster, client = None, Client(scheduler)
    try:
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@dataclass
class Ledger:
    """``ledger.jsonl``: one line per chunk outcome; the last line of a chunk wins."""

    path: Path
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Ledger:
        ledger = cls(path)
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line cut short by a kill: that chunk reruns
                    ledger.entries[entry["chunk"]] = entry
        return ledger

    def record(self, entries: list[dict[str, Any]]) -> None:
        """Append entries durably (one fsync for the lot)."""
        with self.path.open("a") as handle:
            handle.write("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
            handle.flush()
            os.fsync(handle.fileno())
        for entry in entries:
            self.entries[entry["chunk"]] = entry

    def done(self) -> set[str]:
        """Chunks finished successfully (their part file exists)."""
        return {
            chunk
            for chunk, entry in self.entries.items()
            if entry["status"] == "ok"
            and (self.path.parent / "parts" / f"{chunk}.parquet").exists()
        }


@dataclass(frozen=True)
class StudyResult:
    """What a run produced."""

    out: Path
    chunks: int
    skipped: int
    failed: tuple[str, ...]
    rows: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.failed


def _chunk_entry(
    chunk: Chunk, status: str, size: int, error: str, seconds: float
) -> dict[str, Any]:
    return {
        "chunk": chunk.id,
        "status": status,
        "bytes": size,
        "error": error,
        "seconds": round(seconds, 3),
        **{k: v for k, v in asdict(chunk).items()},
    }


def run_study(
    config: StudyConfig,
    out: str | Path,
    *,
    jobs: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    resume: bool = False,
    fmt: str = "parquet",
    quiet: bool = False,
) -> StudyResult:
    """Run (or resume) ``config`` into the directory ``out``.

    Parameters
    ----------
    jobs : int, optional
        Workers (default: the machine's cores).
    executor : {"local", "dask"}
    scheduler : str, optional
        A Dask scheduler address; a ``LocalCluster`` is started when omitted.
    resume : bool
        Skip the chunks the ledger lists as finished; required when ``out`` already
        holds a ledger (so a finished study is never overwritten by accident).
    fmt : {"parquet", "csv"}

    Each executor task is a block of chunks on the same games (see
    :func:`runs.tasks.blocks`); each chunk is still written and recorded on its own.
    """
    if fmt not in ("parquet", "csv"):
        raise InvalidConfigError(f"--format must be 'parquet' or 'csv'; got {fmt!r}")
    workers = os.cpu_count() or 1 if jobs is None else jobs
    if not (isinstance(workers, int) and workers >= 1):
        raise InvalidConfigError(f"--jobs must be an integer >= 1; got {jobs!r}")
    root = Path(out)
    ledger_path = root / "ledger.jsonl"
    manifest_path = root / "manifest.json"
    if ledger_path.exists() and not resume:
        raise InvalidConfigError(
            f"{str(root)!r} already holds a study; pass --resume or another --out"
        )
    if resume and manifest_path.exists():
        previous = json.loads(manifest_path.read_text()).get("config_sha256")
        if previous not in (None, config.sha256()):
            raise InvalidConfigError(
                f"--resume: {str(root)!r} holds a different study (config SHA-256 {previous})"
            )
    (root / "parts").mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC).isoformat()
    manifest = {
        "study": config.name,
        "config": config.resolved(),
        "config_sha256": config.sha256(),
        "root_seed": config.seed,
        "format": fmt,
        "parameters": config.parameter_columns(),
        "min_gain": config.audits.min_gain,
        "started": started,
        "finished": None,
    }
    write_manifest(root, manifest)
    ledger = Ledger.load(ledger_path)
    chunks = plan_chunks(config)
    done = ledger.done()
    pending = [chunk for chunk in chunks if chunk.id not in done]
    resolved = config.resolved()
    failed: list[str] = []
    bar = tqdm(
        total=len(pending),
        desc=config.name,
        unit="chunk",
        file=sys.stderr,
        disable=quiet or not sys.stderr.isatty(),
    )

    def record(results: list[tuple[Chunk, bytes | None, str, float]]) -> None:
        entries = []
        for chunk, data, error, seconds in results:
            if data is None:
                failed.append(chunk.id)
                entries.append(_chunk_entry(chunk, "failed", 0, error, seconds))
            else:  # the part file lands before the ledger names it
                write_part(data, root, chunk.id)
                entries.append(_chunk_entry(chunk, "ok", len(data), "", seconds))
        ledger.record(entries)
        bar.update(len(entries))

    with open_executor(executor, workers, scheduler) as pool:
        if pool is None:
            for block in tasks.blocks(pending):
                record(tasks.run_block(resolved, block))
        else:
            futures = {
                pool.submit(tasks.run_block, resolved, block): block
                for block in tasks.blocks(pending, config)
            }
            for future in as_completed(futures):
                try:
                    results = future.result()
                except Exception as exc:  # the worker itself died: its chunks failed
                    error = f"{type(exc).__name__}: {exc}"
                    results = [(chunk, None, error, 0.0) for chunk in futures[future]]
                record(results)
    bar.close()
    finished = sorted(ledger.done())
    tables = consolidate(root, finished, config.parameter_columns(), fmt)
    rows = {name: len(df) for name, df in tables.items()}
    summary = summarise(tables["audits"], tables["rounds"], min_gain=config.audits.min_gain)
    summary.to_csv(root / "summary.csv", index=False)
    manifest.update(
        finished=datetime.now(UTC).isoformat(),
        chunks={"total": len(chunks), "ok": len(finished), "failed": sorted(failed)},
        ledger=[ledger.entries[c] for c in sorted(ledger.entries)],
        rows=rows,
    )
    write_manifest(root, manifest)
    return StudyResult(root, len(chunks), len(chunks) - len(pending), tuple(sorted(failed)), rows)
