"""Run from the repository root: ``python -m bench.against REV [--sizes 5x50]``.

``find_nse`` of this checkout against the code of git revision ``REV`` (for issue
28's "keep n = 5, m = 50 at or under today's": the commit before its work, 79b3948),
timed in the same run on the same games: the games of ``bench/nse_scale.py`` at the
given sizes, on every payoff family. ``REV``'s tree is exported with ``git archive``
and each tree times every game in its own process (``bench/time_tree.py``); the two
alternate ``--rounds`` times and each game keeps its fastest time. Per family and size
it prints both medians and their ratio (this checkout over ``REV``: below 1 is
faster), and last the median of the per-family ratios.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.nse_scale import FAMILIES
from sim.generators import make_generator

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("defender_reward", "defender_penalty", "attacker_reward", "attacker_penalty", "resources")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", help="a git revision to time against, e.g. 79b3948")
    parser.add_argument("--sizes", default="5x50", help="n x m, comma-separated")
    parser.add_argument("--games", type=int, default=8, help="games per family and size")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two trees")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "tree"
        base.mkdir()
        archive = subprocess.run(
            ["git", "archive", args.revision], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        cases = []
        for family in FAMILIES:
            for n, m in sizes:
                rng = np.random.default_rng([2026, FAMILIES.index(family), n, m])
                generator = make_generator(
                    family, n_defenders=n, n_targets=m, resources={"low": 1, "high": 5}
                )
                games = [generator.sample(rng) for _ in range(args.games)]
                path = Path(tmp) / f"{family}-{n}x{m}.npz"
                np.savez(
                    path,
                    **{f"{j}_{f}": getattr(g, f) for j, g in enumerate(games) for f in FIELDS},
                )
                cases.append((family, n, m, path))
        print(
            f"bench/against.py  find_nse, this checkout against {args.revision}, "
            f"{args.games} games per family and size, {args.rounds} rounds"
        )
        head = f"{args.revision} ms"
        print(f"{'family':<19}{'n':>3}{'m':>6}{head:>14}{'ours ms':>10}{'ratio':>8}")
        ratios = []
        for family, n, m, path in cases:
            ours, theirs = np.inf, np.inf
            for _ in range(args.rounds):
                theirs = np.minimum(theirs, _times(base, path))
                ours = np.minimum(ours, _times(ROOT, path))
            ratio = float(np.median(ours) / np.median(theirs))
            ratios.append(ratio)
            print(
                f"{family:<19}{n:>3}{m:>6}{np.median(theirs) * 1e3:>14.3f}"
                f"{np.median(ours) * 1e3:>10.3f}{ratio:>8.3f}"
            )
    print(f"median ratio over families and sizes: {np.median(ratios):.3f}")


def _times(tree: Path, games: Path) -> np.ndarray:
    """The fastest time of each game of ``games`` with the code of ``tree``."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "time_tree.py"), str(tree), str(games)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return np.array(json.loads(out))


if __name__ == "__main__":
    main()
