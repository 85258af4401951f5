"""Resources with schedules (Korzhyk, Conitzer and Parr 2010; issue 16, part 1): every
row of the complexity table against the LP over all pure strategies, the odd-cycle
instance whose marginal LP promises what no mixed strategy attains, and the exactness
of every returned mixture."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mechanisms.base import make_mechanism
from mechanisms.outcome import outcome_problem
from runs.cli import main
from runs.config import load_config
from runs.export import read_dataset
from sim.errors import InvalidConfigError, InvalidGameError, InvalidParameterError
from sim.game import SecurityGame
from sim.generators import make_generator
from sim.nse import find_nse
from sim.payoffs import attacker_utilities
from sim.solvers.schedules import (
    HARD_TARGET_LIMIT,
    ScheduleProblem,
    _marginal_lp,
    schedule_sse,
    schedule_sse_by_enumeration,
)

from strategies import examples, games
from tests_support import TINY, write_config


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


# -- schedules as part of the game, a mechanism and a study (issue 28, item 2) ----------
def _schedule_game(size: int, seed: int = 1) -> SecurityGame:
    return make_generator(
        "uniform", n_defenders=3, n_targets=6, resources={"low": 1, "high": 2}, schedule_size=size
    ).sample(np.random.default_rng(seed))


def test_a_game_carries_its_schedules_validated_and_round_tripped():
    game = _schedule_game(2)
    assert game.schedules is not None and len(game.schedules) == game.n_targets
    assert all(len(s) == 2 and t in s for t, s in enumerate(game.schedules))
    assert SecurityGame.from_dict(game.to_dict()) == game
    plain = game.with_schedules(None)
    assert plain != game and plain.key() != game.key() and plain.schedules is None
    assert _schedule_game(1).schedules is None
    for bad, match in (
        ([[0, 0]], r"schedules\[0\] must be a non-empty list of distinct"),
        ([[0, 6]], r"schedules\[0\] must hold targets in \[0, 6\)"),
        ([], r"at least one schedule"),
        ("01", r"must be a list of lists"),
    ):
        with pytest.raises(InvalidGameError, match=match):
            game.with_schedules(bad)
    with pytest.raises(InvalidParameterError, match=r"schedule_size must be an int in \[1, "):
        make_generator("uniform", n_targets=4, schedule_size=5)


def test_the_nse_refuses_a_game_with_schedules():
    with pytest.raises(InvalidParameterError, match=r"find_nse: .*guard schedules"):
        find_nse(_schedule_game(2))


@pytest.mark.parametrize("seed", range(4))
def test_pooled_schedule_sse_plays_the_pooled_schedule_strategy(seed):
    """Without schedules it is worth what pooled_sse is; with them its outcome is valid,
    its recommendation's marginals are its coverage, each defender guards the targets
    of at most k_i schedules in every joint strategy, and the total utility is at least
    the one without schedules (every target alone is a sub-schedule)."""
    rng = np.random.default_rng(0)
    plain = _schedule_game(1, seed)
    ours = make_mechanism("pooled_schedule_sse").allocate(plain, rng=rng)
    pooled = make_mechanism("pooled_sse").allocate(plain, rng=rng)
    welfare = ours.defender_utility.sum()
    np.testing.assert_allclose(welfare, pooled.defender_utility.sum(), atol=1e-7)
    game = _schedule_game(2, seed)
    outcome = make_mechanism("pooled_schedule_sse").allocate(game, rng=rng)
    assert outcome.ok and outcome_problem(game, outcome) is None
    recommendation = outcome.recommendation
    guarded = recommendation.assignments.any(axis=1)
    np.testing.assert_allclose(recommendation.probabilities @ guarded, outcome.coverage, atol=1e-9)
    schedules = [set(s) for s in game.schedules]
    for joint in recommendation.assignments:
        for i, targets in enumerate(joint):
            held = set(np.flatnonzero(targets).tolist())
            # covered by at most k_i of the (sub-)schedules
            assert len(held) <= game.resources[i] * 2
            assert all(any(t in s for s in schedules) for t in held)
    assert outcome.defender_utility.sum() >= welfare - 1e-7


def _schedule_study(tmp_path, **changes):
    data = {
        **TINY,
        "study": {**TINY["study"], "replications": 2, "rounds": 2},
        "generator": {
            "name": "uniform",
            "params": {"n_defenders": 2, "n_targets": 4, "resources": 1},
            "grid": {"schedule_size": [1, 2]},
        },
        "mechanisms": [{"name": "pooled_schedule_sse"}],
        "profiles": [{"name": "truthful"}, {"name": "exaggerate", "reporting": "fixed_misreport"}],
        **changes,
    }
    return write_config(tmp_path / "schedules.toml", data)


def test_a_study_with_schedules_runs_end_to_end(tmp_path):
    """Schedules reach studies: the grid sweeps schedule_size, the mechanism plays the
    pooled schedule strategy, SP is searched at every size, and the NSE-based audits
    (UP, PE, IR) are missing where schedules make them undefined."""
    out = tmp_path / "out"
    assert (
        main(["run", str(_schedule_study(tmp_path)), "--out", str(out), "--jobs", "1", "--quiet"])
        == 0
    )
    audits = read_dataset(out)
    assert (audits["status"] == "ok").all()
    with_schedules = audits[audits["schedule_size"] == 2]
    without = audits[audits["schedule_size"] == 1]
    assert with_schedules["sp_gain"].notna().all() and without["sp_gain"].notna().all()
    assert with_schedules["ir_gain"].isna().all() and without["ir_gain"].notna().all()
    assert with_schedules["weak_up"].isna().all() and with_schedules["nse_utility"].isna().all()
    assert with_schedules["pooled_welfare"].notna().all()


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"mechanisms": [{"name": "csw_max"}]}, r"generator\.schedule_size.*plan with schedules"),
        (
            {"profiles": [{"name": "deviate", "executing": "optimal_deviation"}]},
            r"generator\.schedule_size.*cannot simulate deviations",
        ),
    ],
)
def test_a_study_with_schedules_refuses_what_schedules_do_not_support(tmp_path, changes, match):
    with pytest.raises(InvalidConfigError, match=match):
        load_config(_schedule_study(tmp_path, **changes))
