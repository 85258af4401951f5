"""Run from the repository root: ``python -m bench.identity [--out FILE] [--studies]``.

The answers of the solvers on a fixed reference set, as digests, so that two commits
can be compared byte for byte (issue 28, item 6): the NSE of 504 games (7 payoff
families x 6 sizes x 12 games) and the misreport searches of 70 of them (one in six
of those with at most 20 targets; the NSE and CSW-Max-NSE mechanisms, defender 0,
budget 200). ``--studies`` adds the
datasets of the shipped study configs at their seeds (``--replications`` caps them).
It prints a digest per part and writes one line per item to ``--out``; ``diff`` two
such files to see which items changed.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from bench.nse_scale import FAMILIES
from mechanisms.base import make_mechanism
from mechanisms.properties import search_misreports
from sim.game import SecurityGame
from sim.generators import make_generator
from sim.nse import clear_nse_cache, find_nse

SIZES = ((2, 4), (3, 3), (3, 6), (4, 8), (5, 20), (8, 50))
GAMES_PER_SIZE = 12
SEARCHED = ("nse", "csw_max_nse")
STUDIES = (
    "quickstart",
    "paper_impossibility",
    "jurisdictions",
    "attacker_resources",
    "multi_attack_nash",
    "scale",
    "schedules",
)


def reference_games() -> Iterator[tuple[str, SecurityGame]]:
    """The 504 reference games, each with a name."""
    for f, family in enumerate(FAMILIES):
        for n, m in SIZES:
            rng = np.random.default_rng([28, f, n, m])
            generator = make_generator(
                family, n_defenders=n, n_targets=m, resources={"low": 1, "high": 3}
            )
            for g in range(GAMES_PER_SIZE):
                yield f"{family}/n{n}m{m}/{g}", generator.sample(rng)


def digest(*parts: object) -> str:
    """A SHA-256 of the parts' bytes (arrays by their raw bytes)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.tobytes() if isinstance(part, np.ndarray) else repr(part).encode())
    return h.hexdigest()[:16]


def nse_items() -> Iterator[tuple[str, str]]:
    """Each reference game's NSE: coverage, target, level, utilities, phase, attempts."""
    for name, game in reference_games():
        clear_nse_cache()
        r = find_nse(game)
        yield (
            name,
            digest(
                r.coverage,
                r.attacked_target,
                r.attacker_level,
                r.defender_utility,
                r.phase,
                r.attempts,
                r.status,
            ),
        )


def search_items() -> Iterator[tuple[str, str]]:
    """The misreport searches of one reference game in six."""
    for index, (name, game) in enumerate(reference_games()):
        if index % 6 or game.n_targets > 20:
            continue
        for mechanism in SEARCHED:
            clear_nse_cache()
            found = search_misreports(
                make_mechanism(mechanism), game, 0, rng=np.random.default_rng(index), budget=200
            )
            report = found.misreport
            yield (
                f"{name}/{mechanism}",
                digest(
                    found.evaluated,
                    found.found_at,
                    found.half_gain,
                    found.improvements,
                    None if report is None else (report.reward, report.penalty, report.gain),
                ),
            )


def study_items(replications: int | None) -> Iterator[tuple[str, str]]:
    """Every column of every dataset file of each shipped study, run at its seed (per
    column, so that a column added to the schema shows as one new item)."""
    for study in STUDIES:
        with tempfile.TemporaryDirectory() as out:
            command = [sys.executable, "-m", "runs", "run", study, "--out", out, "--quiet"]
            if replications is not None:
                command += ["--replications", str(replications)]
            subprocess.run(command, check=True)
            for path in sorted(Path(out).rglob("*.parquet")):
                table = pq.read_table(path)
                for name in table.column_names:
                    values = table.column(name).to_pandas().to_numpy()
                    yield f"{study}/{path.relative_to(out)}:{name}", digest(repr(values.tolist()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write one 'item digest' line per item")
    parser.add_argument("--studies", action="store_true", help="also the shipped studies")
    parser.add_argument("--replications", type=int, help="cap the studies' replications")
    args = parser.parse_args()
    parts = {"nse": nse_items(), "search": search_items()}
    if args.studies:
        parts["studies"] = study_items(args.replications)
    lines = []
    for part, items in parts.items():
        mine = [f"{name} {value}" for name, value in items]
        lines += mine
        print(f"{part:<8}{len(mine):>5} items  digest {digest(*mine)}")
    if args.out is not None:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
