"""Run from the repository root: ``python -m bench.extremes`` (or ``make bench``).

Time ``nse_extremes`` (the best and the worst NSE, exactly, every extreme certified by
the oracle) on two-defender games, against finding one NSE (``find_nse``, uncached) on
the same games in the same run. Issue 29's goal: exact for small games within a second
or so. Games: the covariant generator (valuations aligned, independent or opposed) and
identical defenders (every demanded target shared: the most vertices to enumerate).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from sim.game import SecurityGame
from sim.generators import make_generator
from sim.nse import find_nse, nse_extremes

REPEATS = 20


def _identical(rng: np.random.Generator, m: int) -> SecurityGame:
    reward = rng.uniform(0.0, 10.0, m)
    penalty = reward - rng.uniform(1.0, 5.0, m)
    attacker = rng.uniform(1.0, 5.0, m)
    return SecurityGame(
        defender_reward=[reward, reward],
        defender_penalty=[penalty, penalty],
        attacker_reward=attacker,
        attacker_penalty=attacker - rng.uniform(1.0, 3.0, m),
        resources=[2, 1],
    )


def _timed(games: list[SecurityGame], solve: Callable[[SecurityGame], object]) -> list[float]:
    times = []
    for game in games:
        start = time.perf_counter()
        solve(game)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    rng = np.random.default_rng(2020)
    print("bench/extremes.py  two defenders with resources")
    print(f"  {'family':<24}{'m':>4}  {'extremes ms':>24}  {'one NSE ms':>10}  ratio")
    for m in (4, 8, 12):
        families = {
            "covariant, opposed": make_generator(
                "covariant", n_defenders=2, n_targets=m, correlation=-0.6, resources=2
            ),
            "covariant, aligned": make_generator(
                "covariant", n_defenders=2, n_targets=m, correlation=0.6, resources=2
            ),
        }
        for name, gen in families.items():
            games = [gen.sample(rng) for _ in range(REPEATS)]
            _row(name, m, games)
        _row("identical defenders", m, [_identical(rng, m) for _ in range(REPEATS)])


def _row(name: str, m: int, games: list[SecurityGame]) -> None:
    nse_extremes(games[0])  # warm up
    ext = _timed(games, nse_extremes)
    one = _timed(games, find_nse)
    med, worst, base = np.median(ext) * 1e3, max(ext) * 1e3, np.median(one) * 1e3
    print(
        f"  {name:<24}{m:>4}  median {med:7.2f}, max {worst:7.2f}  {base:10.2f}  {med / base:5.1f}x"
    )


if __name__ == "__main__":
    main()
