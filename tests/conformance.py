"""The conformance suites of the plug-in registries, as plain functions.

``tests/test_mechanisms.py`` and ``tests/test_simulation.py`` run them over every
registered mechanism and behaviour; ``tests/test_extending.py`` runs them on the toy
plug-ins of the README's *Extending* section. A plug-in is done when it passes its suite
unmodified.
"""

from __future__ import annotations

import numpy as np

from agents.model import simulate
from agents.profiles import BehaviourProfile
from mechanisms import make_mechanism
from mechanisms.properties import (
    find_profitable_misreport,
    ir_violation,
    is_pareto_efficient,
    utility_preservation,
)
from sim.game import SecurityGame
from sim.generators import make_generator
from sim.nse import compute_nse, nse_utility_range
from sim.payoffs import attacker_utilities, best_responses, set_utility
from sim.sampling import Recommendation
from sim.solvers.multi_attack import SSE_TARGET_LIMIT


def generated_games() -> list[SecurityGame]:
    """Two games of each generator: 3 defenders, 4 targets, 0-2 resources each."""
    rng = np.random.default_rng(4)
    out = []
    for name in ("uniform", "covariant", "nonoverlapping", "zero_sum_like"):
        gen = make_generator(name, n_defenders=3, n_targets=4, resources={"low": 0, "high": 2})
        out += [gen.sample(rng) for _ in range(2)]
    return out


def degenerate_games() -> list[SecurityGame]:
    """One defender and one target; no resources at all; identical targets with K >= m."""
    return [
        SecurityGame(  # one defender, one target
            defender_reward=[[1.0]],
            defender_penalty=[[0.0]],
            attacker_reward=[1.0],
            attacker_penalty=[0.0],
            resources=[1],
        ),
        SecurityGame(  # no resources at all
            defender_reward=[[1.0, 2.0], [2.0, 1.0]],
            defender_penalty=[[0.0, 0.0], [0.0, 0.0]],
            attacker_reward=[1.0, 1.0],
            attacker_penalty=[0.0, 0.0],
            resources=[0, 0],
        ),
        SecurityGame(  # identical targets for the attacker, K >= m
            defender_reward=[[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]],
            defender_penalty=[[-1.0, -1.0, -1.0], [-2.0, -2.0, -2.0]],
            attacker_reward=[1.0, 1.0, 1.0],
            attacker_penalty=[0.0, 0.0, 0.0],
            resources=[2, 2],
        ),
    ]


GAMES = generated_games()
ALL_GAMES = GAMES + degenerate_games()


def check_outcome(name: str, game: SecurityGame) -> None:
    """Shapes, coverage within resources, the attacked target a best response, the
    recommendation's marginals, determinism for a seed, and the input untouched."""
    before = game.to_dict()
    mech = make_mechanism(name).prepared(game)
    a = mech.allocate(game, rng=np.random.default_rng(9))
    b = mech.allocate(game, rng=np.random.default_rng(9))
    assert game.to_dict() == before  # input untouched
    assert a == b  # deterministic for a seed
    assert a.ok, a.message
    n, m = game.n_defenders, game.n_targets
    assert a.coverage.shape == (m,) and a.defender_utility.shape == (n,)
    assert np.all((a.coverage >= -1e-12) & (a.coverage <= 1 + 1e-12))
    assert a.coverage.sum() <= game.total_resources + 1e-7
    assert a.attacked_target in best_responses(game, a.coverage, tol=1e-7)
    np.testing.assert_allclose(a.recommendation.coverage(), a.coverage, atol=1e-9)
    if isinstance(a.recommendation, Recommendation):
        assert np.all(a.recommendation.assignments.sum(axis=2) <= game.resources)
    check_planned_attacks(mech, game)


def check_planned_attacks(mech, game: SecurityGame) -> None:
    """Against two attacks the outcome designates as many targets as the mechanism
    declares it plans for (``planned_attacks``), a set the attacker would attack, and
    its utilities are additive over that set."""
    if game.n_targets < 2 or game.n_targets > SSE_TARGET_LIMIT:
        return
    stronger = game.with_attacker_resources(2)
    outcome = mech.prepared(stronger).allocate(stronger, rng=np.random.default_rng(9))
    assert outcome.ok, outcome.message
    planned = 2 if mech.planned_attacks is None else mech.planned_attacks
    assert len(outcome.attacked_targets) == planned
    assert outcome.attacked_targets[0] == outcome.attacked_target
    u = attacker_utilities(stronger, outcome.coverage)
    rest = np.setdiff1d(np.arange(game.n_targets), outcome.attacked_targets)
    if rest.size:
        assert u[list(outcome.attacked_targets)].min() >= u[rest].max() - 1e-7
    if planned == 2:
        np.testing.assert_allclose(
            outcome.defender_utility,
            set_utility(stronger, outcome.coverage, outcome.attacked_targets),
            atol=1e-9,
        )


def check_claim(claim, mech, game):
    """The audit matching ``claim`` on ``mech``'s outcome of ``game``."""
    outcome = mech.prepared(game).allocate(game, rng=np.random.default_rng(3))
    if claim == "pareto_efficient":
        audit = is_pareto_efficient(game, outcome)
        assert audit.efficient, audit
    elif claim == "weakly_up":
        audit = utility_preservation(game, outcome, bounds=nse_utility_range(game, witnesses="one"))
        assert audit.weakly_up is True, audit.weak
    elif claim == "individually_rational":
        for i in range(game.n_defenders):
            assert ir_violation(game, outcome, i).gain <= 1e-7
    elif claim == "strategyproof":
        for i in range(game.n_defenders):
            found = find_profitable_misreport(
                mech, game, i, rng=np.random.default_rng(i), budget=60
            )
            assert found is None, (found.gain, found.family)


def interior_nonoverlapping(count, seed):
    """Theorem 4.3's class: non-overlapping payoffs, a known NSE with 0 < cov < 1."""
    rng = np.random.default_rng(seed)
    gen = make_generator("nonoverlapping", n_defenders=3, n_targets=4, resources=[1, 1, 1])
    out = []
    while len(out) < count:
        game = gen.sample(rng)
        nse = compute_nse(game)
        if nse.verified and np.all((nse.total_coverage > 1e-9) & (nse.total_coverage < 1 - 1e-9)):
            out.append(game)
    return out


def check_claims(name: str) -> None:
    """Every claim on generated games, every conditional claim on its class."""
    mech = make_mechanism(name)
    for claim in sorted(mech.claims):
        for game in GAMES[::2]:
            check_claim(claim, mech, game)
    for claim, klass in sorted(mech.conditional_claims.items()):
        assert klass == "nonoverlapping_interior"
        for game in interior_nonoverlapping(3, seed=1):
            check_claim(claim, mech, game)


def check_mechanism(name: str) -> None:
    """The whole mechanism suite for the registered mechanism ``name``."""
    for game in ALL_GAMES:
        check_outcome(name, game)
    check_claims(name)


def check_behaviours(reporting: str, executing: str) -> None:
    """A behaviour pair played by every defender: valid reports, executions within
    budget, deterministic for a seed."""
    game = make_generator(
        "uniform", n_defenders=3, n_targets=5, resources={"low": 1, "high": 2}
    ).sample(np.random.default_rng(5))
    params = {"budget": 20} if reporting == "best_response_misreport" else {}
    profile = BehaviourProfile("p", reporting, executing, reporting_params=params, strategic="all")

    def run():
        return simulate(
            game, make_mechanism("utilitarian"), profile.behaviours(3), rounds=12, rng=11
        )

    records = run()
    for record in records:
        for row in record.defenders:
            assert all(
                r > p for r, p in zip(row.reported_reward, row.reported_penalty, strict=True)
            )
            assert len(row.executed) <= game.resources[row.defender]
    assert run() == records


def check_generator(name: str) -> None:
    """Valid games of the requested shape and resources; one seed, one game."""
    gen = make_generator(name, n_defenders=3, n_targets=7, resources={"low": 0, "high": 3})
    rng = np.random.default_rng(0)
    for _ in range(50):
        game = gen.sample(rng)  # the constructor validates reward > penalty etc.
        assert (game.n_defenders, game.n_targets) == (3, 7)
        assert set(game.resources.tolist()) <= {0, 1, 2, 3}
    gen = make_generator(name, n_defenders=2, n_targets=4, resources=[1, 2])
    a = gen.sample(np.random.default_rng(42))
    b = gen.sample(np.random.default_rng(42))
    c = gen.sample(np.random.default_rng(43))
    assert a == b and a != c
    assert a.resources.tolist() == [1, 2]


def check_attacker(name: str) -> None:
    """For one attack and several: a sorted set of that many distinct valid targets
    for every draw, the same set for the same draws, and a run of the Mesa model with
    it is deterministic for a seed."""
    from agents.attackers import make_attacker

    for game in GAMES[:4]:
        outcome = make_mechanism("utilitarian").allocate(game, rng=np.random.default_rng(0))
        for attacks in range(1, min(3, game.n_targets) + 1):
            attacker = make_attacker(name)
            several = game.with_attacker_resources(attacks)
            attacker.reset(several)
            belief = attacker.belief(outcome, outcome.coverage)
            assert belief.shape == (game.n_targets,)
            for u in (0.0, 0.3, 0.999):
                draws = np.full(attacks, u)
                targets = attacker.respond(several, belief, outcome, draws)
                assert isinstance(targets, tuple) and len(targets) == attacks
                assert list(targets) == sorted(set(targets))
                assert all(isinstance(t, int) and 0 <= t < game.n_targets for t in targets)
                assert attacker.respond(several, belief, outcome, draws) == targets
        honest = BehaviourProfile("honest", strategic="all").behaviours(game.n_defenders)

        def run(game=game, honest=honest):
            return simulate(
                game.with_attacker_resources(min(2, game.n_targets)),
                make_mechanism("csw_max"),
                honest,
                attacker=make_attacker(name),
                rounds=5,
                rng=3,
            )

        records = run()
        assert records == run()
        assert all(r.attacker_resources == min(2, game.n_targets) for r in records)
