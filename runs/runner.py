"""Run a study: chunks on a ``concurrent.futures.Executor``, each finished chunk written
at once as its own part file and recorded in a ledger, so an interrupted study resumes
without redoing or losing work and ends byte-identical to an uninterrupted run.

Executors: the embedded local one (``ProcessPoolExecutor``, one worker process for one
job too, so an instance that kills its process never takes the run with it) or a Dask
cluster (``client.get_executor()``; a ``LocalCluster`` when no scheduler address
is given) from the optional ``dask`` extra. Results never depend on the executor or
the number of workers: every chunk's draws come from the seed tree alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from runs import tasks
from runs.config import StudyConfig
from runs.export import dataset_sha256, write_dataset, write_manifest, write_part
from runs.studydir import Ledger, StudyDir, code_identity, identity, identity_key, sha256
from runs.tasks import Chunk, plan_chunks
from sim.errors import InvalidConfigError, SimError


class ExecutorUnavailableError(SimError, RuntimeError):
    """The requested executor cannot be used here (e.g. Dask is not installed)."""


#: ``--jobs`` is clamped to this many workers per core (and to the blocks of work).
MAX_WORKERS_PER_CORE = 4

#: How long a Dask client waits for its scheduler.
SCHEDULER_TIMEOUT = "10s"

#: Seconds between two looks at the executor's futures (and at a held signal).
POLL_SECONDS = 0.2

#: Seconds a stopped local worker has to exit before it is killed.
STOP_SECONDS = 5.0


def _worker_start() -> None:
    """In each local worker: leave Ctrl-C to the parent (which stops the run and
    records what finished), and die with the parent on Linux (no orphaned workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the CLI's handler: just die
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent is already gone
            os._exit(1)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now (killed if they linger)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(STOP_SECONDS)
            process.kill()


@contextmanager
def held_interrupts() -> Iterator[Callable[[], None]]:
    """Hold SIGINT and SIGTERM while the main thread waits on an executor; yields
    ``check``, which delivers a held signal to the handler it would have reached.

    A handler that raises (Ctrl-C's ``KeyboardInterrupt``, the CLI's SIGTERM) may strike
    anywhere in ``concurrent.futures``' waiting code and leave its bookkeeping half done
    (a future's lock held, a waiter not removed); once, in CI, a run interrupted so
    never exited. Held, the signal is raised by ``check`` between two waits, outside
    that code. Signals that are ignored stay ignored; off the main thread nothing is
    held.
    """
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    held: list[tuple[int, Any]] = []
    kinds = [
        kind
        for kind in (signal.SIGINT, signal.SIGTERM)
        if signal.getsignal(kind) not in (signal.SIG_IGN, None)
    ]
    previous: dict[int, Any] = {
        kind: signal.signal(kind, lambda *caught: held.append(caught)) for kind in kinds
    }

    def restore() -> None:
        for kind, handler in previous.items():
            signal.signal(kind, handler)

    def check() -> None:
        while held:
            signum, frame = held.pop(0)
            handler = previous[signum]
            if callable(handler):
                handler(signum, frame)  # raises (Ctrl-C, the CLI's SIGTERM) or returns
            else:  # SIG_DFL: the default action, which ends the process
                restore()
                signal.raise_signal(signum)

    try:
        yield check
    finally:
        restore()


def local_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` local worker processes (:func:`_worker_start` in each)."""
    # explicit: importing mesa (its batchrunner) forces the global start method to
    # "spawn"; fork starts workers with the project already imported
    context = multiprocessing.get_context("fork")
    return ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_worker_start)


@contextmanager
def open_executor(kind: str, jobs: int, scheduler: str | None) -> Iterator[Executor]:
    """The executor for ``kind`` (``local`` or ``dask``) with ``jobs`` workers."""
    if kind == "local":
        if scheduler is not None:
            raise InvalidConfigError("--scheduler only applies to --executor dask")
        pool = local_pool(jobs)
        try:
            yield pool
        except BaseException:  # interrupted: stop now, the finished chunks are recorded
            _stop(pool)
            raise
        pool.shutdown(wait=True)
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
        try:
            cluster, client = None, Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except Exception as exc:  # a bad address or an unreachable scheduler
            raise ExecutorUnavailableError(
                f"--scheduler {scheduler!r}: cannot connect within {SCHEDULER_TIMEOUT} "
                f"({type(exc).__name__}: {exc})"
            ) from None
    try:
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


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


Results = list[tuple[Chunk, bytes | None, str, float]]


def _run_pooled(
    pool: Executor,
    blocks: list[list[Chunk]],
    resolved: dict[str, Any],
    record: Callable[[Results], None],
    *,
    limit: int,
) -> tuple[list[list[Chunk]], list[list[Chunk]]]:
    """Run ``blocks`` on ``pool``, at most ``limit`` in flight, recording each as it
    finishes. When a worker dies and breaks the pool, returns the blocks that were in
    flight and those not yet submitted (neither recorded); else two empty lists."""
    queue = list(reversed(blocks))
    futures: dict[Any, list[Chunk]] = {}
    recorded: set[Any] = set()
    broken: list[list[Chunk]] = []

    def collect(future: Any) -> None:
        recorded.add(future)
        try:
            results = future.result()
        except BrokenProcessPool:  # a worker died: the pool and what it held are gone
            broken.append(futures[future])
            return
        # its code raised what ends a process: only a worker's own code raises these
        # here (the parent's Ctrl-C is held)
        except (Exception, SystemExit, KeyboardInterrupt) as exc:
            error = f"{type(exc).__name__}: {exc}"
            results = [(chunk, None, error, 0.0) for chunk in futures[future]]
        record(results)

    try:
        with held_interrupts() as check:
            running: set[Any] = set()
            while queue or running:
                while queue and len(running) < limit and not broken:
                    block = queue.pop()
                    future = pool.submit(tasks.run_block, resolved, block)
                    futures[future] = block
                    running.add(future)
                if not running:
                    break
                ready, running = wait(running, POLL_SECONDS, FIRST_COMPLETED)
                for future in ready:
                    collect(future)
                check()
    except BaseException:  # interrupted: record every block that did finish
        for future in futures:
            if future not in recorded and future.done() and not future.cancelled():
                collect(future)
        raise
    return broken, list(reversed(queue))


def _recover(
    broken: list[list[Chunk]],
    unsent: list[list[Chunk]],
    resolved: dict[str, Any],
    record: Callable[[Results], None],
    workers: int,
) -> None:
    """After a worker died (killed, out of memory, a plug-in's ``os._exit``) and broke
    the pool: the blocks that were in flight run again one chunk at a time in a
    one-worker pool, so only a chunk that kills its worker when alone is recorded
    failed; the blocks not yet sent go to a new full pool (recovered alike if it
    breaks too)."""
    pool = local_pool(1)
    try:
        for chunk in [chunk for block in broken for chunk in block]:
            if _run_pooled(pool, [[chunk]], resolved, record, limit=1)[0]:
                record([(chunk, None, "its worker process died while running it", 0.0)])
                pool.shutdown(wait=False, cancel_futures=True)
                pool = local_pool(1)
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)
    if not unsent:
        return
    pool = local_pool(workers)
    try:
        again, rest = _run_pooled(pool, unsent, resolved, record, limit=2 * workers)
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)
    if again:
        _recover(again, rest, resolved, record, workers)


def _chunk_entry(
    chunk: Chunk, status: str, data: bytes | None, error: str, seconds: float
) -> dict[str, Any]:
    return {
        "chunk": chunk.id,
        "status": status,
        "bytes": 0 if data is None else len(data),
        "sha256": None if data is None else sha256(data),
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
    allow_code_change: bool = False,
) -> StudyResult:
    """Run (or resume) ``config`` into the directory ``out``.

    Parameters
    ----------
    jobs : int, optional
        Workers (default: the machine's cores).
    executor : {"local", "dask"}
        A local process pool or a Dask cluster.
    scheduler : str, optional
        A Dask scheduler address; a ``LocalCluster`` is started when omitted.
    resume : bool
        Skip the chunks the ledger lists as finished; required when ``out`` already
        holds a ledger (so a finished study is never overwritten by accident).
    fmt : {"parquet", "csv"}
    allow_code_change : bool
        Resume although the framework's version or a plug-in module's source changed
        since the study began (its results then mix both; the manifest records it).

    Notes
    -----
    Each executor task is a block of chunks on the same games (see
    :func:`runs.tasks.blocks`); each chunk is still written and recorded on its own.
    """
    if fmt not in ("parquet", "csv"):
        raise InvalidConfigError(f"--format must be 'parquet' or 'csv'; got {fmt!r}")
    workers = os.cpu_count() or 1 if jobs is None else jobs
    if not (isinstance(workers, int) and workers >= 1):
        raise InvalidConfigError(f"--jobs must be an integer >= 1; got {jobs!r}")
    study = StudyDir(Path(out))
    study.prepare()
    with study.lock():
        return _run_locked(
            config, study, workers, executor, scheduler, resume, fmt, quiet, allow_code_change
        )


def _run_locked(
    config: StudyConfig,
    study: StudyDir,
    workers: int,
    executor: str,
    scheduler: str | None,
    resume: bool,
    fmt: str,
    quiet: bool,
    allow_code_change: bool,
) -> StudyResult:
    """:func:`run_study` while holding the study directory's lock."""
    root = study.root
    ident = identity(config.design_sha256(), config.seed, fmt)
    code = code_identity(config.plugins)
    study.claim(
        ident,
        config.design(),
        config.replications,
        resume=resume,
        code=code,
        allow_code_change=allow_code_change,
    )
    started = datetime.now(UTC).isoformat()
    manifest = {
        "study": config.name,
        "identity": ident,
        "config": config.resolved(),
        "config_sha256": config.sha256(),
        "code": code,
        "root_seed": config.seed,
        "format": fmt,
        "parameters": config.parameter_columns(),
        "min_gain": config.audits.min_gain,
        "started": started,
        "finished": None,
    }
    write_manifest(root, manifest)
    ledger = Ledger.load(root, identity_key(ident))
    chunks = plan_chunks(config)
    # a chunk is done when its part is verified and covers the same replications (a
    # study that grew has a longer last chunk where the old one was cut short)
    verified = ledger.done()
    done = {
        chunk.id
        for chunk in chunks
        if chunk.id in verified and ledger.entries[chunk.id].get("stop") == chunk.stop
    }
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
        entries: list[dict[str, Any]] = []
        try:
            for chunk, data, error, seconds in results:
                if data is None:
                    failed.append(chunk.id)
                    entries.append(_chunk_entry(chunk, "failed", None, error, seconds))
                else:  # the part file lands before the ledger names it
                    write_part(data, root, chunk.id)
                    entries.append(_chunk_entry(chunk, "ok", data, "", seconds))
        finally:  # a write that fails (a full disk) still records the parts before it
            if entries:
                ledger.record(entries)
                bar.update(len(entries))

    blocks = tasks.blocks(pending, config)
    # no more workers than blocks of work, nor than a few per core
    workers = max(1, min(workers, len(blocks), MAX_WORKERS_PER_CORE * (os.cpu_count() or 1)))
    with open_executor(executor, workers, scheduler) as pool:
        broken, unsent = _run_pooled(pool, blocks, resolved, record, limit=2 * workers)
        if broken and executor == "local":
            _recover(broken, unsent, resolved, record, workers)
    bar.close()
    finished = sorted(ledger.done())
    parts = {chunk: ledger.entries[chunk]["sha256"] for chunk in finished}
    rows = write_dataset(
        root,
        parts,
        config.parameter_columns(),
        fmt,
        study=config.design_sha256(),
        min_gain=config.audits.min_gain,
        by=config.swept(),
    )
    manifest.update(
        dataset_sha256=dataset_sha256(root),
        finished=datetime.now(UTC).isoformat(),
        chunks={"total": len(chunks), "ok": len(finished), "failed": sorted(failed)},
        ledger=[ledger.entries[c] for c in sorted(ledger.entries)],
        rows=rows,
    )
    write_manifest(root, manifest)
    return StudyResult(root, len(chunks), len(chunks) - len(pending), tuple(sorted(failed)), rows)
