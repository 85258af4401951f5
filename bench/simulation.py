"""Run from the repository root: ``python -m bench.simulation`` (or ``make bench``).

A 1000-round run of a 5-defender, 20-target game through the Mesa model, against a
no-Mesa run of the same round loop (:func:`agents.roles.play_rounds`: plain
participants instead of Mesa agents) timed in the same run. Goals (issue 5): < 1 s;
Mesa overhead < 30 %.
"""

from __future__ import annotations

import time

import numpy as np

from agents.attackers import make_attacker
from agents.model import simulate
from agents.profiles import BehaviourProfile
from agents.roles import play_rounds
from mechanisms import make_mechanism
from sim.generators import make_generator


def main() -> None:
    game = make_generator(
        "uniform", n_defenders=5, n_targets=20, resources={"low": 1, "high": 3}
    ).sample(np.random.default_rng(5))
    mechanism = make_mechanism("csw_max")
    profile = BehaviourProfile("misreport+shirk", "fixed_misreport", "shirk", strategic="first")
    behaviours = profile.behaviours(game.n_defenders)
    attacker = make_attacker("learning")
    print("bench/simulation.py  1000 rounds, n=5 m=20, csw_max, learning attacker")
    best = {"mesa": np.inf, "plain": np.inf}
    for _ in range(3):
        for label, fn in (("mesa", simulate), ("plain", play_rounds)):
            start = time.perf_counter()
            fn(
                game,
                mechanism,
                behaviours,
                attacker=attacker,
                rounds=1000,
                rng=np.random.SeedSequence(1),
            )
            best[label] = min(best[label], time.perf_counter() - start)
    print(f"  Mesa model          : {best['mesa']:7.3f} s   (goal < 1 s)")
    print(f"  no-Mesa loop        : {best['plain']:7.3f} s")
    print(
        f"  Mesa overhead       : {100 * (best['mesa'] / best['plain'] - 1):7.1f} %  (goal < 30 %)"
    )


if __name__ == "__main__":
    main()
