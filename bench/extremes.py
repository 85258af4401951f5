"""Run from the repository root: ``python -m bench.extremes [--settled GAMES]`` (or
``make bench``).

Time ``nse_extremes`` (the best and the worst NSE, exactly, every extreme certified by
the oracle) on two-defender games, against finding one NSE (``find_nse``, uncached) on
the same games in the same run. Issue 29's goal: exact for small games within a second
or so. Games: the covariant generator (valuations aligned, independent or opposed) and
identical defenders (every demanded target shared: the most vertices to enumerate).

Then three defenders with resources: ``level_bounds`` (uncached; ``docs/nse.md`` §3.3)
against one NSE on the same games, and the share of games whose extremes it settles
exactly (every range attained at both ends by verified NSEs). Last, the same method on
two-defender games against ``nse_extremes``, the closed form it agrees with.

``--settled GAMES`` instead counts, over ``GAMES`` generated games per payoff family
and size (three defenders holding 1 to 3 resources, m = 4 to 8, fixed seeds), the
games whose extremes ``level_bounds`` settles exactly, and lists any it leaves as
bounds; the games are spread over the machine's cores.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from sim.game import SecurityGame
from sim.generators import make_generator
from sim.nse import find_nse, nse_extremes
from sim.nse.levels import _CACHE, LevelBounds, level_bounds

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


#: The settled-share sweep (``--settled``): (family, generator parameters), and sizes.
SWEEP_FAMILIES: tuple[tuple[str, dict[str, float]], ...] = (
    ("covariant", {"correlation": -0.6}),
    ("covariant", {"correlation": 0.0}),
    ("covariant", {"correlation": 0.6}),
    ("uniform", {}),
    ("integer", {}),
    ("identical_attacker", {}),
    ("negative_rewards", {}),
    ("zero_sum_like", {}),
)
SWEEP_SIZES = (4, 6, 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settled", type=int, default=0, help="games per family and size")
    args = parser.parse_args()
    if args.settled:
        settled_share(args.settled)
        return
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


def settled_share(games: int) -> None:
    """Print, per family and size, how many of ``games`` three-defender games
    ``level_bounds`` settles exactly, and the games it does not."""
    print(f"bench/extremes.py --settled {games}  three defenders with 1-3 resources each")
    print(f"  {'family':<32}{'m':>4}  settled  median ms  max ms")
    cases = [(f, m, games) for f in range(len(SWEEP_FAMILIES)) for m in SWEEP_SIZES]
    total = exact = 0
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        for (f, m, _), (flags, times) in zip(cases, pool.map(_settle, cases), strict=True):
            name, params = SWEEP_FAMILIES[f]
            label = f"{name} {params}" if params else name
            total, exact = total + len(flags), exact + sum(flags)
            print(
                f"  {label:<32}{m:>4}  {sum(flags):>3}/{len(flags):<3}  "
                f"{np.median(times) * 1e3:9.0f}  {max(times) * 1e3:6.0f}"
            )
            for g, ok in enumerate(flags):
                if not ok:
                    print(f"    not settled: game {g} (seed [29, {f}, {m}])")
    print(f"  settled exactly: {exact} of {total} games")


def _settle(case: tuple[int, int, int]) -> tuple[list[bool], list[float]]:
    """The settled flags and times of one family and size of :func:`settled_share`."""
    f, m, games = case
    name, params = SWEEP_FAMILIES[f]
    generator = make_generator(
        name, n_defenders=3, n_targets=m, resources={"low": 1, "high": 3}, **params
    )
    rng = np.random.default_rng([29, f, m])
    flags, times = [], []
    for _ in range(games):
        game = generator.sample(rng)
        start = time.perf_counter()
        flags.append(_uncached(game).exact)
        times.append(time.perf_counter() - start)
    return flags, times


def _uncached(game: SecurityGame) -> LevelBounds:
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
