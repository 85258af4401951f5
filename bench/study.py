"""Run from the repository root: ``python -m bench.study`` (or ``make bench``).

The quickstart study's wall time with 1 and 2 local workers, in the same run, and the
peak resident memory of the largest process. Goal (issue 6): 2 workers >= 1.8x.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed_run(jobs: int, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "runs",
            "run",
            "quickstart",
            "--out",
            str(out),
            "--jobs",
            str(jobs),
            "--quiet",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        one = timed_run(1, Path(tmp) / "one")
        two = timed_run(2, Path(tmp) / "two")
        same = all(
            a.read_bytes() == b.read_bytes()
            for a, b in zip(
                sorted((Path(tmp) / "one" / "dataset").rglob("*.parquet")),
                sorted((Path(tmp) / "two" / "dataset").rglob("*.parquet")),
                strict=True,
            )
        )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print("bench/study.py  quickstart study (make demo's job)")
    print(f"  1 worker   : {one:7.1f} s")
    print(f"  2 workers  : {two:7.1f} s   (goal < 60 s)")
    print(f"  speed-up   : {one / two:7.2f}x  (goal >= 1.8x)")
    print(f"  peak RSS   : {peak:7.0f} MiB (largest process)")
    print(f"  datasets byte-identical: {same}")


if __name__ == "__main__":
    main()
