"""Run from the repository root: ``python -m bench.study [--scale]`` (or ``make bench``).

The quickstart study's wall time with 1 and 2 local workers (the best of
``bench.timing.REPEATS`` runs each, in turn), in the same run, the peak
resident memory of the largest process, and the per-chunk overhead share: the time a
worker spends turning a chunk's rows into its part file (the Arrow table and its
encoding) over the chunk's whole time, measured in this process on every quickstart
chunk. Goals: 2 workers >= 1.8x (issue 6), overhead <= 5% (issue 12).

It also consolidates the quickstart's parts copied 1, 4 and 16 times (the replications
shifted: a study of 50, 200 and 800 replications per grid point) and prints the peak
memory of each consolidation, dataset and summary, in a process of its own. Goal
(issue 12): it does not grow with the number of replications.

``--scale`` adds ``runs/configs/scale.toml`` (five defenders, twenty targets, a
thousand games, every mechanism and audit, twenty rounds) with 1 and 2 local workers
and on a Dask LocalCluster of 2 workers: about 25 minutes on 2 cores (11.5, 5.7 and
6.2 minutes when measured).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from bench.timing import REPEATS
from runs import tasks
from runs.config import load_config
from runs.export import encode_part, read_part, write_dataset
from runs.studydir import PART_SUFFIX, part_path


def timed_run(config: str, jobs: int, out: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            *(sys.executable, "-m", "runs", "run", config, "--out", str(out)),
            *("--jobs", str(jobs), "--quiet", *extra),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def same_datasets(a: Path, b: Path) -> bool:
    files = sorted(p.relative_to(a) for p in (a / "dataset").rglob("*.parquet"))
    return bool(files) and all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def overhead_share(config_path: str) -> tuple[float, float]:
    """(seconds, share) spent encoding the parts of every chunk (building the Arrow
    tables is interleaved with the evaluation, in :class:`runs.tasks.Rows`)."""
    config = load_config(config_path)
    spent, start = 0.0, time.perf_counter()
    for chunk in tasks.plan_chunks(config):
        table = tasks.run_chunk(config, chunk)
        begin = time.perf_counter()
        encode_part(table, study=config.design_sha256())
        spent += time.perf_counter() - begin
    return spent, spent / (time.perf_counter() - start)


def copied_study(study: Path, copies: int, into: Path) -> dict[str, None]:
    """``study``'s parts copied ``copies`` times into ``into``, each copy's replications
    (and chunk ids) shifted past the last: the parts of a study that many times as
    long. Returns the chunks (unverified: no SHA-256)."""
    sources = sorted((study / "parts").glob(f"*{PART_SUFFIX}"))
    tables = {path.stem: read_part(path) for path in sources}
    span = 1 + max(pc.max(t.column("replication")).as_py() for t in tables.values())
    (into / "parts").mkdir(parents=True)
    parts: dict[str, None] = {}
    for copy in range(copies):
        for chunk_id, table in tables.items():
            head, start = chunk_id.rsplit("-r", 1)
            new_id = f"{head}-r{int(start) + copy * span:07d}"
            columns = {
                "replication": pc.add(table.column("replication"), copy * span),
                "chunk": pa.array([new_id] * table.num_rows, pa.string()),
            }
            for name, column in columns.items():
                table = table.set_column(table.schema.get_field_index(name), name, column)
            part_path(into, new_id).write_bytes(encode_part(table))
            parts[new_id] = None
    return parts


def consolidation_peak(study: Path, copies: int, tmp: Path) -> tuple[float, float]:
    """(seconds, peak MiB) of consolidating ``copies`` copies of ``study``'s parts, in
    a process of its own."""
    into = tmp / f"copies-{copies}"
    parts = copied_study(study, copies, into)
    (into / "parts.json").write_text(json.dumps(parts))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.study", "--consolidate", str(into)],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, float(done.stdout.split()[-1])


def _consolidate(into: Path) -> None:
    """The subprocess of :func:`consolidation_peak`: prints its peak RSS in MiB."""
    parts = json.loads((into / "parts.json").read_text())
    write_dataset(into, parts, load_config("quickstart").parameter_columns())
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true", help="also time the scale config")
    parser.add_argument("--consolidate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.consolidate is not None:
        _consolidate(args.consolidate)
        return
    print("bench/study.py  quickstart study (make demo's job)")
    with tempfile.TemporaryDirectory() as tmp:
        # the best of REPEATS runs each, 1 and 2 workers in turn (a slow spell of the
        # machine then weighs on both alike)
        runs: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(REPEATS):
            for jobs, times in runs.items():
                shutil.rmtree(Path(tmp) / f"jobs{jobs}", ignore_errors=True)
                times.append(timed_run("quickstart", jobs, Path(tmp) / f"jobs{jobs}"))
        one, two = min(runs[1]), min(runs[2])
        same = same_datasets(Path(tmp) / "jobs1", Path(tmp) / "jobs2")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        streamed = {c: consolidation_peak(Path(tmp) / "jobs1", c, Path(tmp)) for c in (1, 4, 16)}
    print(f"  1 worker   : {one:7.1f} s   (best of {REPEATS} runs each)")
    print(f"  2 workers  : {two:7.1f} s   (goal < 60 s)")
    print(f"  speed-up   : {one / two:7.2f}x  (goal >= 1.8x)")
    print(f"  peak RSS   : {peak:7.0f} MiB (largest process)")
    print(f"  datasets byte-identical: {same}")
    print("  consolidation (dataset and summary) of the quickstart's parts copied:")
    for copies, (seconds, mib) in streamed.items():
        label = f"x{copies} ({50 * copies} replications)"
        print(f"    {label:<22}: {seconds:5.1f} s, peak {mib:5.0f} MiB")
    spent, share = overhead_share("runs/configs/quickstart.toml")
    print(f"  per-chunk overhead (rows -> part file): {spent:.1f} s, {share:.1%} (goal <= 5%)")
    if not args.scale:
        print("  scale config: not run (python -m bench.study --scale, about 25 minutes)")
        return
    print("  scale config (runs/configs/scale.toml)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        scale_times = {
            "1 local worker": timed_run("scale", 1, root / "one"),
            "2 local workers": timed_run("scale", 2, root / "two"),
            "Dask LocalCluster, 2 workers": timed_run(
                "scale", 2, root / "dask", "--executor", "dask"
            ),
        }
        same = same_datasets(root / "one", root / "two") and same_datasets(
            root / "one", root / "dask"
        )
    for label, seconds in scale_times.items():
        print(f"    {label:<30}: {seconds / 60:6.1f} min")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"    peak RSS (largest process)    : {peak:6.0f} MiB")
    print(f"    datasets byte-identical        : {same}")


if __name__ == "__main__":
    main()
