"""The mechanism registry and its conformance suite (parametrised over the registry)."""

from __future__ import annotations

import numpy as np
import pytest

from mechanisms import (
    MECHANISMS,
    PROPERTIES,
    OutcomeSetMechanism,
    available_mechanisms,
    make_mechanism,
)
from mechanisms.properties import (
    find_profitable_misreport,
    ir_violation,
    is_pareto_efficient,
    utility_preservation,
)
from sim.errors import DuplicateNameError, InvalidParameterError, UnknownNameError
from sim.game import SecurityGame
from sim.generators import make_generator
from sim.payoffs import best_responses
from sim.sampling import Recommendation
from sim.solvers import nse_utility_range

NAMES = available_mechanisms()


def _games() -> list[SecurityGame]:
    rng = np.random.default_rng(4)
    out = []
    for name in ("uniform", "covariant", "nonoverlapping", "zero_sum_like"):
        gen = make_generator(name, n_defenders=3, n_targets=4, resources={"low": 0, "high": 2})
        out += [gen.sample(rng) for _ in range(2)]
    return out


GAMES = _games()


def _degenerate() -> list[SecurityGame]:
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


def test_registry_contents_and_errors():
    assert NAMES == sorted(NAMES)
    assert set(NAMES) >= {
        "nse",
        "csw_max",
        "csw_max_nse",
        "dictatorship",
        "random_dictatorship",
        "utilitarian",
        "egalitarian",
        "nash_bargaining",
    }
    with pytest.raises(UnknownNameError, match=r"unknown mechanism 'vcg'; valid names are \["):
        make_mechanism("vcg")
    with pytest.raises(DuplicateNameError):
        MECHANISMS.register("csw_max")(type("Again", (), {}))
    with pytest.raises(InvalidParameterError, match=r"no parameter\(s\) \['alpha'\]"):
        make_mechanism("csw_max", alpha=1)
    with pytest.raises(InvalidParameterError, match=r"backend must be one of"):
        make_mechanism("utilitarian", backend="gurobi")
    with pytest.raises(InvalidParameterError, match=r"epsilon must be in \[0, 1\)"):
        make_mechanism("utilitarian", epsilon=-0.1)


@pytest.mark.parametrize("name", NAMES)
def test_claims_are_known_properties(name):
    cls = MECHANISMS.get(name)
    assert cls.claims <= PROPERTIES
    assert set(getattr(cls, "conditional_claims", {})) <= PROPERTIES


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("index", range(len(GAMES) + 3))
def test_conformance(name, index):
    game = (GAMES + _degenerate())[index]
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


@pytest.mark.parametrize(
    "name", [n for n in NAMES if issubclass(MECHANISMS.get(n), OutcomeSetMechanism)]
)
def test_epsilon_makes_the_target_the_strict_best_response(name):
    game = GAMES[0]
    outcome = (
        make_mechanism(name, epsilon=1e-4)
        .prepared(game)
        .allocate(game, rng=np.random.default_rng(0))
    )
    assert best_responses(game, outcome.coverage, tol=0.0).tolist() == [outcome.attacked_target]
    assert outcome.epsilon == 1e-4 and outcome.params["epsilon"] == 1e-4


@pytest.mark.parametrize(
    "name", [n for n in NAMES if issubclass(MECHANISMS.get(n), OutcomeSetMechanism)]
)
@pytest.mark.parametrize("index", range(len(GAMES)))
def test_closed_form_equals_lp_backend(name, index):
    game = GAMES[index]
    fast = make_mechanism(name).prepared(game).allocate(game, rng=np.random.default_rng(2))
    slow = (
        make_mechanism(name, backend="lp")
        .prepared(game)
        .allocate(game, rng=np.random.default_rng(2))
    )
    assert fast.attacked_target == slow.attacked_target
    np.testing.assert_allclose(fast.defender_utility, slow.defender_utility, atol=1e-7)


def _check_claim(claim, mech, game):
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


@pytest.mark.parametrize("name", NAMES)
def test_every_claim_holds_on_generated_games(name):
    mech = make_mechanism(name)
    for claim in sorted(mech.claims):
        for game in GAMES[::2]:
            _check_claim(claim, mech, game)


def _interior_nonoverlapping(count, seed):
    """Theorem 4.3's class: non-overlapping payoffs, a known NSE with 0 < cov < 1."""
    from sim.solvers import compute_nse

    rng = np.random.default_rng(seed)
    gen = make_generator("nonoverlapping", n_defenders=3, n_targets=4, resources=[1, 1, 1])
    out = []
    while len(out) < count:
        game = gen.sample(rng)
        nse = compute_nse(game)
        if nse.verified and np.all((nse.total_coverage > 1e-9) & (nse.total_coverage < 1 - 1e-9)):
            out.append(game)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_conditional_claims_on_their_class(name):
    mech = make_mechanism(name)
    conditional = getattr(mech, "conditional_claims", {})
    for claim, klass in sorted(conditional.items()):
        assert klass == "nonoverlapping_interior"
        for game in _interior_nonoverlapping(3, seed=1):
            _check_claim(claim, mech, game)
