"""Run from the repository root: ``python -m bench.simulation`` (or ``make bench``).

A 1000-round run of a 5-defender, 20-target game through the Mesa model, against a
no-Mesa loop of the same economics (the same role objects, draws and ``play_round``)
timed in the same run. Goals (issue 5): < 1 s; Mesa overhead < 30 %.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from agents.attackers import AttackerModel, make_attacker
from agents.behaviours import fresh
from agents.profiles import BehaviourProfile
from agents.roles import AuthorityRole, DefenderRole
from agents.rounds import (
    RoundDraws,
    RoundRecord,
    effective_coverage,
    play_round,
    recommended_strategy,
)
from mechanisms import make_mechanism
from mechanisms.base import Mechanism
from sim.game import SecurityGame
from sim.generators import make_generator
from sim.model import simulate


def run_without_mesa(
    game: SecurityGame,
    mechanism: Mechanism,
    behaviours: Sequence[Any],
    *,
    attacker: AttackerModel,
    rounds: int,
    rng: Any,
) -> list[RoundRecord]:
    """The same rounds as :class:`sim.model.CoordinationModel`, without Mesa."""
    generator = np.random.default_rng(rng)
    authority = AuthorityRole(game, mechanism)
    roles = [DefenderRole(i, fresh(r), fresh(e)) for i, (r, e) in enumerate(behaviours)]
    attacker = fresh(attacker)
    attacker.reset(game)
    cache: dict[Any, Any] = {}
    records = []
    for round_index in range(rounds):
        reports = [role.report(game, authority.mechanism, generator) for role in roles]
        rewards = np.array([r for r, _ in reports])
        penalties = np.array([p for _, p in reports])
        seed = int(generator.integers(2**63))
        outcome = authority.allocate(rewards, penalties, seed)
        truthful = authority.counterfactuals(rewards, penalties, seed)
        draws = RoundDraws.draw(generator, game.n_defenders)
        recommended = recommended_strategy(outcome.recommendation, draws)
        executed = []
        for role in roles:
            role.prepare(game, outcome, generator)
            executed.append(role.execute(game, recommended[role.index], generator))
        key = (outcome.key(), tuple(role.executing.plan_key() for role in roles))
        if key not in cache:
            cache[key] = effective_coverage(
                outcome.recommendation, lambda i, s: roles[i].plan(game, s)
            )
        u = draws.attacker

        def respond(coverage, outcome=outcome, u=u):
            return attacker.respond(game, attacker.belief(outcome, coverage), outcome, u)

        record = play_round(
            game,
            round_index,
            outcome,
            truthful,
            (rewards, penalties),
            draws,
            np.array(executed),
            cache[key],
            respond,
        )
        for role, row in zip(roles, record.defenders, strict=True):
            role.observe(row.realised_utility)
        attacker.observe(np.array(executed).any(axis=0))
        records.append(record)
    return records


def main() -> None:
    game = make_generator(
        "uniform", n_defenders=5, n_targets=20, resources={"low": 1, "high": 3}
    ).sample(np.random.default_rng(5))
    mechanism = make_mechanism("csw_max")
    profile = BehaviourProfile("misreport+shirk", "fixed_misreport", "shirk")
    behaviours = profile.behaviours(game.n_defenders)
    attacker = make_attacker("learning")
    print("bench/simulation.py  1000 rounds, n=5 m=20, csw_max, learning attacker")
    best = {"mesa": np.inf, "plain": np.inf}
    for _ in range(3):
        for label, fn in (("mesa", simulate), ("plain", run_without_mesa)):
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
