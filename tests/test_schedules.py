"""Resources with schedules (Korzhyk, Conitzer and Parr 2010; issue 16, part 1): every
row of the complexity table against the LP over all pure strategies, the odd-cycle
instance whose marginal LP promises what no mixed strategy attains, and the exactness
of every returned mixture."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import InvalidParameterError
from sim.game import SecurityGame
from sim.payoffs import attacker_utilities
from sim.solvers.schedules import (
    HARD_TARGET_LIMIT,
    ScheduleProblem,
    _marginal_lp,
    schedule_sse,
    schedule_sse_by_enumeration,
)

from strategies import examples, games


def _marginals(result, m: int) -> np.ndarray:
    """The mixture's marginals, counted pure strategy by pure strategy."""
    out = np.zeros(m)
    for row, probability in zip(result.assignments, result.probabilities, strict=True):
        covered = {t for j in row if j >= 0 for t in result.schedules[j]}
        out[list(covered)] += probability
    return out


def _check(game: SecurityGame, schedules, resource_schedules=None, method=None):
    result = schedule_sse(game, schedules, resource_schedules=resource_schedules)
    reference = schedule_sse_by_enumeration(game, schedules, resource_schedules=resource_schedules)
    assert result.defender_utility == pytest.approx(reference.defender_utility, abs=1e-7)
    m = game.n_targets
    np.testing.assert_allclose(_marginals(result, m), result.coverage, atol=1e-9)
    assert np.all(result.probabilities >= 0) and result.probabilities.sum() == pytest.approx(1.0)
    u = attacker_utilities(game, result.coverage)
    assert u[result.attacked_target] >= u.max() - 1e-7  # a best response
    given = [tuple(sorted(s)) for s in schedules]
    for row in result.assignments:
        for r, j in enumerate(row):
            if j < 0:
                continue
            schedule = set(result.schedules[j])
            allowed = range(len(given)) if resource_schedules is None else resource_schedules[r]
            assert any(schedule <= set(given[i]) for i in allowed)  # a subset of hers
    if method is not None:
        assert result.method == method
    return result


@st.composite
def schedule_games(draw, *, size: int, homogeneous: bool, bipartite: bool | None = None):
    game = draw(games(max_defenders=1, max_targets=5, max_resources=3))
    m, k = game.n_targets, game.total_resources
    if bipartite is True:  # edges between the even and the odd targets
        pool = [(a, b) for a in range(0, m, 2) for b in range(1, m, 2)]
    else:
        import itertools

        pool = [s for s in itertools.combinations(range(m), min(size, m))]
    schedules = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=5)) if pool else [(0,)]
    resource_schedules = None
    if not homogeneous:
        picks = st.lists(st.integers(0, len(schedules) - 1), min_size=1, max_size=3)
        resource_schedules = [draw(picks) for _ in range(k)]
    return game, schedules, resource_schedules


@settings(max_examples=examples(60), deadline=None)
@given(case=schedule_games(size=1, homogeneous=False))
def test_heterogeneous_size_one_is_the_lp_and_birkhoff_von_neumann(case):
    game, schedules, resource_schedules = case
    _check(game, schedules, resource_schedules, "lp+bvn")


@settings(max_examples=examples(60), deadline=None)
@given(case=schedule_games(size=2, homogeneous=True, bipartite=True))
def test_homogeneous_pairs_on_a_bipartite_graph_are_the_lp_and_a_decomposition(case):
    game, schedules, _ = case
    result = _check(game, schedules)
    if max(len(s) for s in schedules) == 2 and game.total_resources > 0:
        assert result.method == "lp+columns"


@settings(max_examples=examples(60), deadline=None)
@given(case=schedule_games(size=2, homogeneous=True))
def test_homogeneous_pairs_on_any_graph_are_exact(case):
    game, schedules, _ = case
    _check(game, schedules)


@settings(max_examples=examples(40), deadline=None)
@given(case=schedule_games(size=2, homogeneous=False))
def test_heterogeneous_pairs_np_hard_are_exact_by_columns(case):
    game, schedules, resource_schedules = case
    _check(game, schedules, resource_schedules)


@settings(max_examples=examples(40), deadline=None)
@given(case=schedule_games(size=3, homogeneous=True))
def test_schedules_of_size_three_np_hard_are_exact_by_columns(case):
    game, schedules, _ = case
    _check(game, schedules)


def test_two_odd_cycles_defeat_the_marginal_lp_but_not_the_solver():
    """Two disjoint triangles, three homogeneous resources, identical targets: the
    marginal LP covers every target fully (a half on every edge), yet three edges
    cover at most five of the six targets, so the true optimum spreads 5/6."""
    game = SecurityGame(
        defender_reward=[[1.0] * 6],
        defender_penalty=[[-1.0] * 6],
        attacker_reward=[1.0] * 6,
        attacker_penalty=[-1.0] * 6,
        resources=[3],
    )
    triangles = [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5)]
    problem = ScheduleProblem.build(game, triangles)
    assert problem.case() == "graph"
    promised = _marginal_lp(problem, 0, aggregate=True)
    assert promised is not None and promised[1] == pytest.approx(np.ones(6))
    result = _check(game, triangles, method="columns")
    np.testing.assert_allclose(result.coverage, np.full(6, 5 / 6), atol=1e-9)
    assert result.defender_utility == pytest.approx(-1 + 2 * 5 / 6)


def test_schedules_are_validated_rule_by_rule():
    game = SecurityGame(
        defender_reward=[[1.0, 2.0, 3.0]],
        defender_penalty=[[0.0, 0.0, 0.0]],
        attacker_reward=[1.0, 1.0, 1.0],
        attacker_penalty=[0.0, 0.0, 0.0],
        resources=[2],
    )
    for bad, message in [
        ([], "schedules must not be empty"),
        ([()], r"schedules\[0\] must be a non-empty set"),
        ([(0, 0)], r"schedules\[0\] must be a non-empty set of distinct"),
        ([(0, 3)], r"schedules\[0\] names a target outside \[0, 3\)"),
    ]:
        with pytest.raises(InvalidParameterError, match=message):
            schedule_sse(game, bad)
    with pytest.raises(InvalidParameterError, match="one list per resource"):
        schedule_sse(game, [(0,)], resource_schedules=[[0]])
    with pytest.raises(InvalidParameterError, match=r"resource_schedules\[1\] must index"):
        schedule_sse(game, [(0,)], resource_schedules=[[0], [1]])
    with pytest.raises(InvalidParameterError, match="one defender"):
        schedule_sse(
            SecurityGame(
                defender_reward=[[1.0], [1.0]],
                defender_penalty=[[0.0], [0.0]],
                attacker_reward=[1.0],
                attacker_penalty=[0.0],
                resources=[1, 1],
            ),
            [(0,)],
        )
    with pytest.raises(InvalidParameterError, match="one attack"):
        schedule_sse(game.with_attacker_resources(2), [(0,)])


def test_np_hard_instances_past_the_limit_are_refused():
    m = HARD_TARGET_LIMIT + 1
    game = SecurityGame(
        defender_reward=[np.ones(m)],
        defender_penalty=[np.zeros(m)],
        attacker_reward=np.ones(m),
        attacker_penalty=np.zeros(m),
        resources=[2],
    )
    with pytest.raises(InvalidParameterError, match=rf"at most {HARD_TARGET_LIMIT} targets"):
        schedule_sse(game, [(0, 1, 2)])
