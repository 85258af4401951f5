"""Attackers with several resources (Korzhyk, Conitzer, Parr 2011; issue 15): the
model's ``attacker_resources``, the Nash equilibrium against an independent brute
force over the explicit bimatrix game, the Stackelberg MILP against one LP per
attacked set, and both against the single-attack solvers when ``n_a = 1``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import example, given, settings
from scipy.optimize import linprog

from mechanisms import make_mechanism
from sim.errors import InvalidGameError, InvalidParameterError
from sim.game import SecurityGame
from sim.generators import make_generator
from sim.nse import compute_nse
from sim.sampling import comb_support
from sim.solvers import (
    attacker_level,
    is_nash_coverage,
    multi_attack_nash,
    multi_attack_sse,
    multi_attack_violation,
    single_defender_sse,
    sse_by_enumeration,
)
from sim.solvers.multi_attack import SSE_TARGET_LIMIT, Payoffs, _cells, _search
from sim.solvers.reference import bimatrix_nash, explicit_game

from strategies import examples, games


def _one_defender(game: SecurityGame) -> SecurityGame:
    """Defender 0 alone with the pooled resources (the coordinated game's defender)."""
    return SecurityGame(
        defender_reward=game.defender_reward[:1],
        defender_penalty=game.defender_penalty[:1],
        attacker_reward=game.attacker_reward,
        attacker_penalty=game.attacker_penalty,
        resources=[game.total_resources],
        attacker_resources=game.attacker_resources,
    )


def _mixture(marginals: np.ndarray, budget: int, strategies) -> np.ndarray:
    """A mixed strategy over the explicit pure strategies realising ``marginals``
    (comb sampling), as a probability vector."""
    index = {s: i for i, s in enumerate(strategies)}
    out = np.zeros(len(strategies))
    support = comb_support(marginals, budget)
    for probability, row in zip(support.probabilities, support.covered, strict=True):
        if probability > 1e-12:  # rounding leaves slivers of an incomplete strategy
            out[index[tuple(int(t) for t in np.flatnonzero(row))]] += probability
    return out


def _explicit_gain(game: SecurityGame, coverage, attack) -> float:
    """The largest gain of a pure deviation in the explicit bimatrix game."""
    rows, cols, defender, attacker = explicit_game(game)
    p = Payoffs.of(game, None)
    x = _mixture(coverage, p.budget, rows)
    y = _mixture(attack, p.attacks, cols)
    assert x.sum() == pytest.approx(1.0) and y.sum() == pytest.approx(1.0)
    value_d, value_a = x @ defender @ y, x @ attacker @ y
    return max(float((defender @ y).max() - value_d), float((x @ attacker).max() - value_a))


# -- the model ------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [0, -1, 4, True, 2.0, "2", None])
def test_attacker_resources_is_validated(bad):
    game = make_generator("uniform", n_defenders=1, n_targets=3).sample(np.random.default_rng(0))
    with pytest.raises(InvalidGameError, match=r"attacker_resources must be an int in \[1, 3\]"):
        game.with_attacker_resources(bad)


def test_attacker_resources_round_trips_and_identifies_the_game():
    game = make_generator("covariant", n_targets=5, attacker_resources=3).sample(
        np.random.default_rng(1)
    )
    assert game.attacker_resources == 3
    again = SecurityGame.from_dict(json.loads(json.dumps(game.to_dict())))
    assert again == game and again.key() == game.key()
    one = game.with_attacker_resources(1)
    assert one != game and one.key() != game.key()
    old = {k: v for k, v in game.to_dict().items() if k != "attacker_resources"}
    assert SecurityGame.from_dict(old).attacker_resources == 1  # files before the field
    assert game.with_reports(0, game.defender_reward[0], game.defender_penalty[0]) == game


def test_the_nse_refuses_several_attacks_and_one_attack_is_the_planned_model():
    """Issue 28 item 2: compute_nse on a 3-attack game returned the 1-attack NSE marked
    verified. The NSE (Gan et al. 2020, Definition 2.1) is defined against one attack:
    it is refused, and ``game.one_attack`` is the model the mechanisms plan in."""
    game = make_generator("uniform", n_defenders=3, n_targets=5, attacker_resources=3).sample(
        np.random.default_rng(4)
    )
    with pytest.raises(InvalidParameterError, match=r"attacker_resources=3"):
        compute_nse(game)
    one = game.one_attack
    assert one.attacker_resources == 1 and one.one_attack is one
    assert compute_nse(one).verified
    outcome = make_mechanism("nse").allocate(game, rng=np.random.default_rng(0))
    assert outcome.ok and outcome.attacked_target == compute_nse(one).attacked_target


@pytest.mark.parametrize("name", ["uniform", "covariant", "nonoverlapping", "zero_sum_like"])
def test_generators_take_attacker_resources(name):
    generator = make_generator(name, n_defenders=2, n_targets=4, attacker_resources=2)
    assert generator.params()["attacker_resources"] == 2
    assert generator.sample(np.random.default_rng(0)).attacker_resources == 2
    with pytest.raises(InvalidParameterError, match=r"attacker_resources must be an int in"):
        make_generator(name, n_targets=4, attacker_resources=5)


# -- Nash -----------------------------------------------------------------------------
@settings(max_examples=examples(300), deadline=None)
@given(games(max_defenders=2, max_targets=5, max_resources=3, max_attacks=5))
def test_nash_passes_the_equilibrium_test_and_the_explicit_bimatrix_game(game):
    game = _one_defender(game)
    nash = multi_attack_nash(game)
    assert multi_attack_violation(game, nash.coverage, nash.attack).holds()
    assert nash.coverage.sum() == pytest.approx(min(game.total_resources, game.n_targets))
    assert nash.attack.sum() == pytest.approx(game.attacker_resources)
    assert _explicit_gain(game, nash.coverage, nash.attack) <= 1e-9


@settings(max_examples=examples(100), deadline=None)
@given(games(max_defenders=1, max_targets=4, max_resources=2, max_attacks=2))
@example(  # HiGHS reported "Solve error" here with the values unbounded (stress run)
    SecurityGame(
        defender_reward=[[-1.5] * 4],
        defender_penalty=[[-2.0] * 4],
        attacker_reward=[-1.99, -2.5, -2.5, -1.0],
        attacker_penalty=[-2.0, -3.0, -3.0, -2.0],
        resources=[1],
    )
)
@example(  # a regret of 1.5e-5 on the support: the binaries' tolerance times big-M
    SecurityGame(
        defender_reward=[[7.0, -1.988, 6.012]],
        defender_penalty=[[-2.0, -2.0, 6.0]],
        attacker_reward=[-1.0, -1.0, -1.0],
        attacker_penalty=[-2.0, -2.0, -2.0],
        resources=[1],
        attacker_resources=2,
    )
)
def test_the_mixed_integer_reference_solves_the_explicit_game(game):
    # the reference bench/multi_attack.py times: its answer is an equilibrium of the
    # explicit game; the attacker's part is a best response to our coverage's mixture
    # whenever the two equilibria are interchangeable (always, Korzhyk et al. 2011)
    rows, _, defender, attacker = explicit_game(game)
    x, y = bimatrix_nash(defender, attacker)
    assert (defender @ y).max() <= x @ defender @ y + 1e-6
    assert (x @ attacker).max() <= x @ attacker @ y + 1e-6
    p = Payoffs.of(game, None)
    ours = _mixture(multi_attack_nash(game).coverage, p.budget, rows)
    assert (ours @ attacker).max() <= ours @ attacker @ y + 1e-6
    assert (defender @ y).max() <= ours @ defender @ y + 1e-6


@settings(max_examples=examples(200), deadline=None)
@given(games(max_defenders=1, max_targets=7, max_resources=4, max_attacks=7))
def test_the_bisection_finds_an_equilibrium_without_the_scan(game):
    p = Payoffs.of(game, None)
    thetas = _cells(np.unique(np.concatenate([p.attacker_penalty, p.attacker_reward])), None)
    lams = _cells(np.unique(p.defender_gap), 0.0)
    assert _search(p, thetas, lams, 1e-9) is not None
    scanned = multi_attack_nash(game, search="scan")
    bisected = multi_attack_nash(game)
    # interchangeable equilibria: each side's strategy works with the other's
    assert multi_attack_violation(game, scanned.coverage, bisected.attack).holds()
    assert multi_attack_violation(game, bisected.coverage, scanned.attack).holds()


@settings(max_examples=examples(200), deadline=None)
@given(games(max_defenders=3, max_targets=8, max_resources=3))
def test_with_one_attack_nash_is_origami(game):
    # one attack: the defender's Nash strategy is her minimax strategy, so the
    # attacker gets ORIGAMI's level u* (docs/solvers.md §1; Korzhyk et al. 2011)
    nash = multi_attack_nash(game, 0)
    assert nash.attacker_utility == pytest.approx(attacker_level(game), abs=1e-9)


def test_the_minimax_strategy_is_not_a_nash_strategy():
    # Korzhyk et al. 2011: two targets, two attacks, one defender resource. Both
    # targets are always attacked, so the defender covers where her utility rises
    # most (target 1), not where the attacker's falls most (target 0), which is what
    # minimax (minimising the attacker's total) would cover.
    game = SecurityGame(
        defender_reward=[[1.0, 3.0]],
        defender_penalty=[[0.0, 0.0]],
        attacker_reward=[3.0, 1.0],
        attacker_penalty=[0.0, 0.0],
        resources=[1],
        attacker_resources=2,
    )
    nash = multi_attack_nash(game)
    np.testing.assert_allclose(nash.coverage, [0.0, 1.0])
    np.testing.assert_allclose(nash.attack, [1.0, 1.0])
    # minimax: min_c max_a sum a (r^a - c gap^a) = min_c sum (r^a - c gap^a)
    minimax = linprog(-game.attacker_gap, A_ub=[[1.0, 1.0]], b_ub=[1.0], bounds=[(0, 1)] * 2)
    np.testing.assert_allclose(minimax.x, [1.0, 0.0])
    assert not is_nash_coverage(game, minimax.x)
    assert is_nash_coverage(game, nash.coverage)
    sse = multi_attack_sse(game)
    np.testing.assert_allclose(sse.coverage, [0.0, 1.0], atol=1e-9)
    assert sse.attacked_targets == (0, 1) and sse.defender_utility == pytest.approx(3.0)


def test_nash_scales_and_stays_certified():
    rng = np.random.default_rng(5)
    m = 400
    game = SecurityGame(
        defender_reward=[rng.integers(1, 5, m).astype(float)],
        defender_penalty=[-rng.integers(0, 5, m).astype(float)],
        attacker_reward=rng.integers(1, 5, m).astype(float),
        attacker_penalty=-rng.integers(0, 5, m).astype(float),
        resources=[60],
        attacker_resources=25,
    )
    nash = multi_attack_nash(game)
    assert multi_attack_violation(game, nash.coverage, nash.attack).holds()


def test_nash_needs_to_know_whose_payoffs_in_a_multi_defender_game():
    game = make_generator("uniform", n_defenders=2, n_targets=3).sample(np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match="defender must name whose payoffs"):
        multi_attack_nash(game)
    with pytest.raises(InvalidParameterError, match=r"defender must be in \[0, 2\)"):
        multi_attack_nash(game, 2)
    with pytest.raises(InvalidParameterError, match="search must be"):
        multi_attack_nash(game, 0, search="guess")


# -- Stackelberg ----------------------------------------------------------------------
@settings(max_examples=examples(150), deadline=None)
@given(games(max_defenders=1, max_targets=6, max_resources=4, max_attacks=4))
@example(  # HiGHS's MIP solver failed ("Solve error") here while theta was unbounded
    SecurityGame(
        defender_reward=[[5.0, -1.5, -1.5, -1.5, -1.5]],
        defender_penalty=[[-2.0] * 5],
        attacker_reward=[6.0, -1.5, -1.5, -1.5, 7.0],
        attacker_penalty=[-1.0, -2.0, -2.0, -2.0, 0.0],
        resources=[2],
    )
)
def test_the_sse_milp_equals_the_enumeration(game):
    milp = multi_attack_sse(game)
    reference = sse_by_enumeration(game)
    assert milp.defender_utility == pytest.approx(reference.defender_utility, abs=1e-7)
    assert len(milp.attacked_targets) == game.attacker_resources
    # the committed coverage really makes the attacked set a best response
    p = Payoffs.of(game, None)
    values = p.attacker_values(milp.coverage)
    attacked = list(milp.attacked_targets)
    others = np.setdiff1d(np.arange(game.n_targets), attacked)
    if others.size:
        assert values[attacked].min() >= values[others].max() - 1e-9
    assert milp.coverage.sum() <= p.budget + 1e-9


#: three targets tied for the attacker at the SSE, whose defender values differ by
#: 5e-4: HiGHS's default MIP gap (1e-4, relative) stopped at the worse one
_NEAR_TIE = SecurityGame(
    defender_reward=np.array([[1.0, -1.5, -1.5, -1.5, -1.5, -1.5, 0.95, -4.5]]),
    defender_penalty=np.array([[0.0, -2.0, -2.0, -2.0, -2.0, -2.0, 0.0, -5.0]]),
    attacker_reward=np.array([8.75, -1.5, -1.5, -1.5, -1.5, -1.5, 2.094, 4.867]),
    attacker_penalty=np.array([-1.0, -2.0, -2.0, -2.0, -2.0, -2.0, 2.0, 0.0]),
    resources=np.array([2]),
)


@settings(max_examples=examples(150), deadline=None)
@given(games(max_defenders=3, max_targets=8, max_resources=3))
@example(game=_NEAR_TIE)
def test_with_one_attack_the_sse_is_the_single_defender_sse(game):
    for i in range(game.n_defenders):
        expected = single_defender_sse(game, i).defender_utility[i]
        assert multi_attack_sse(game, i).defender_utility == pytest.approx(expected, abs=1e-7)


def test_the_exact_sse_refuses_games_past_its_limit():
    game = make_generator("uniform", n_defenders=1, n_targets=SSE_TARGET_LIMIT + 1).sample(
        np.random.default_rng(0)
    )
    with pytest.raises(InvalidParameterError, match=f"at most {SSE_TARGET_LIMIT} targets"):
        multi_attack_sse(game)
    big = make_generator("uniform", n_defenders=1, n_targets=40, attacker_resources=8)
    with pytest.raises(InvalidParameterError, match="attacked sets exceed"):
        sse_by_enumeration(big.sample(np.random.default_rng(0)))


def test_the_stackelberg_strategy_leaves_the_nash_set_as_attacks_grow():
    # Korzhyk, Conitzer, Parr 2011: with one attack the defender's Stackelberg
    # strategy is also a Nash strategy; with several it need not be. Integer payoffs
    # in [-10, 10] on 10 targets, 3 defender resources, as in their experiments.
    outside = {}
    for attacks in (1, 2, 3):
        generator = make_generator(
            "integer", n_defenders=1, n_targets=10, resources=3, attacker_resources=attacks
        )
        rng = np.random.default_rng([2011, attacks])
        games = [generator.sample(rng) for _ in range(40)]
        outside[attacks] = sum(
            not is_nash_coverage(game, multi_attack_sse(game).coverage) for game in games
        )
    assert outside[1] == 0
    assert 0 < outside[2] and 0 < outside[3]
