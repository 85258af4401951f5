"""Run from the repository root: ``python -m bench.extremes`` (or ``make bench``).

Time ``nse_extremes`` (the best and the worst NSE, exactly, every extreme certified by
the oracle) on two-defender games, against finding one NSE (``find_nse``, uncached) on
the same games in the same run. Issue 29's goal: exact for small games within a second
or so. Games: the covariant generator (valuations aligned, independent or opposed) and
identical defenders (every demanded target shared: the most vertices to enumerate).

Then three defenders with resources: ``level_bounds`` (uncached; ``docs/nse.md`` §3.3)
against one NSE on the same games, and the share of games whose extremes it settles
exactly (every range attained at both ends by verified NSEs). Last, the same method on
two-defender games against ``nse_extremes``, the closed form it agrees with.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from sim.game import SecurityGame
from sim.generators import make_generator
from sim.nse import find_nse, nse_extremes
from sim.nse.levels import _CACHE, level_bounds

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
    print("three defenders with resources: level_bounds (the ranges and their witnesses)")
    print(f"  {'family':<24}{'m':>4}  {'ranges ms':>24}  {'one NSE ms':>10}  ratio  settled")
    for m in (3, 5, 8):
        for correlation in (-0.6, 0.6):
            gen = make_generator(
                "covariant",
                n_defenders=3,
                n_targets=m,
                correlation=correlation,
                resources={"low": 1, "high": 2},
            )
            games = [gen.sample(rng) for _ in range(REPEATS // 2)]
            name = f"covariant, {'opposed' if correlation < 0 else 'aligned'}"
            ranges = _timed(games, _uncached)
            one = _timed(games, find_nse)
            settled = sum(level_bounds(g).exact for g in games)
            med, worst, base = np.median(ranges) * 1e3, max(ranges) * 1e3, np.median(one) * 1e3
            print(
                f"  {name:<24}{m:>4}  median {med:7.1f}, max {worst:7.1f}  {base:10.2f}  "
                f"{med / base:5.0f}x  {settled}/{len(games)}"
            )
    print("two defenders: level_bounds against nse_extremes, the same games")
    for m in (4, 8):
        gen = make_generator("covariant", n_defenders=2, n_targets=m, resources=2)
        games = [gen.sample(rng) for _ in range(REPEATS // 2)]
        ours = np.median(_timed(games, _uncached)) * 1e3
        closed = np.median(_timed(games, nse_extremes)) * 1e3
        print(f"  m={m}: level_bounds {ours:7.1f} ms, nse_extremes {closed:7.2f} ms (medians)")


def _uncached(game: SecurityGame) -> object:
    _CACHE.clear()
    return level_bounds(game)


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
