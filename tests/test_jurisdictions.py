"""Jurisdictions (issue 16, part 2; ``docs/jurisdictions.md``): each defender may cover
only her own targets. The masked deviation oracle against the masked multiple-LP
reference, masked NSEs certified by both, the masked outcome space against the
schedule solver, recommendations that respect ownership, and: with a full mask,
exactly today's results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mechanisms import MECHANISMS as MECHANISMS_REGISTRY
from mechanisms import available_mechanisms, make_mechanism
from mechanisms.base import pools_resources
from mechanisms.properties import (
    find_profitable_misreport,
    ir_violation,
    is_pareto_efficient,
    utility_preservation,
)
from mechanisms.space import outcome_space
from runs.config import load_config
from runs.export import read_dataset
from runs.plots import plot_study
from runs.runner import run_study
from sim.errors import InvalidGameError, InvalidParameterError
from sim.game import SecurityGame
from sim.generators import make_generator
from sim.nse import find_nse
from sim.solvers import deviation_value
from sim.solvers.reference import lp_deviation_value, lp_nse_gain
from sim.solvers.schedules import schedule_sse

from strategies import coverage_of_others, examples, games

SLOW = [HealthCheck.too_slow]
ROOT = Path(__file__).resolve().parents[1]


def _game(allowed=None, resources=(1, 1)):
    return SecurityGame(
        defender_reward=[[3.0, 1.0, 2.0], [1.0, 3.0, 2.0]],
        defender_penalty=[[0.0, -1.0, -2.0], [-1.0, 0.0, -2.0]],
        attacker_reward=[2.0, 2.0, 1.0],
        attacker_penalty=[0.0, 0.0, -1.0],
        resources=list(resources),
        allowed=allowed,
    )


# -- the game -----------------------------------------------------------------------
def test_a_full_mask_is_the_unrestricted_game():
    plain, full = _game(), _game(np.ones((2, 3), dtype=bool))
    assert plain == full and not full.restricted
    assert plain.key() == full.key() and plain.to_dict() == full.to_dict()
    assert "allowed" not in plain.to_dict()


def test_a_mask_is_validated_serialised_and_kept_by_derived_games():
    mask = [[True, False, True], [False, True, False]]
    game = _game(mask)
    assert game.restricted and game.key() != _game().key()
    assert SecurityGame.from_dict(game.to_dict()) == game
    assert game.with_resources([2, 1]).allowed.tolist() == mask
    assert game.with_reports(0, [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]).allowed.tolist() == mask
    with pytest.raises(InvalidGameError, match="allowed must have shape"):
        _game([[True, False]])
    with pytest.raises(InvalidGameError, match="defender 1 has 1 and no allowed target"):
        _game([[True, True, True], [False, False, False]])
    with pytest.raises(InvalidGameError, match="allowed must be booleans"):
        _game([[1, 2, 0], [0, 1, 1]])
    _game([[True, True, True], [False, False, False]], resources=(1, 0))  # no resources: fine
    with pytest.raises(InvalidGameError, match="pooled needs a game without jurisdictions"):
        game.pooled()


# -- the deviation oracle -----------------------------------------------------------
@settings(max_examples=examples(300), deadline=None, suppress_health_check=SLOW)
@given(games(max_targets=6, jurisdictions=True), st.data())
def test_masked_oracle_matches_masked_multiple_lps(game, data):
    q = data.draw(coverage_of_others(game.n_targets, digits=4))
    i = data.draw(st.integers(0, game.n_defenders - 1))
    fast = deviation_value(game, q, i).value
    slow = lp_deviation_value(game, q, i)
    assert fast == pytest.approx(slow, abs=1e-6)


def test_a_deviator_cannot_cover_outside_her_jurisdiction():
    # defender 0 likes target 0 best; the others leave both top targets open
    q = np.zeros(3)
    restricted = _game([[False, True, True], [True, True, True]])
    free, barred = deviation_value(_game(), q, 0), deviation_value(restricted, q, 0)
    assert free.value > barred.value
    assert barred.value == pytest.approx(lp_deviation_value(restricted, q, 0))


# -- NSEs -----------------------------------------------------------------------------
@settings(max_examples=examples(150), deadline=None, suppress_health_check=SLOW)
@given(games(max_defenders=3, max_targets=5, max_resources=2, jurisdictions=True))
def test_masked_nses_are_certified_by_the_masked_lp_reference(game):
    result = find_nse(game)
    if not result.verified:  # the rate is measured below, on generated games
        return
    assert not np.any(result.coverage[~game.allowed] > 0.0)  # each covers her own only
    assert lp_nse_gain(game, result.coverage, result.attacked_target) <= 1e-6


@pytest.mark.parametrize("family", ["uniform", "negative_rewards", "zero_sum_like", "integer"])
def test_the_finder_verifies_nses_of_generated_jurisdiction_games(family):
    generator = make_generator(
        family, n_defenders=3, n_targets=8, resources={"low": 1, "high": 2}, jurisdiction=0.4
    )
    rng = np.random.default_rng(16)
    found = [find_nse(generator.sample(rng)) for _ in range(25)]
    assert sum(r.verified for r in found) >= 24


def test_a_defender_kept_out_of_the_attacked_target_may_keep_spare_resources():
    # defender 1 may guard only target 2, which no attacker wants: her resource is
    # spare, and the NSE is defender 0's Stackelberg outcome on targets 0 and 1
    game = _game([[True, True, False], [False, False, True]])
    result = find_nse(game)
    assert result.verified and result.coverage[1].sum() <= 1.0
    assert lp_nse_gain(game, result.coverage, result.attacked_target) <= 1e-9


def test_generated_jurisdictions_overlap_cover_every_target_and_draw_nothing_at_one():
    generator = make_generator("uniform", n_defenders=3, n_targets=10, jurisdiction=0.3)
    game = generator.sample(np.random.default_rng(3))
    assert game.restricted and game.allowed.any(axis=0).all()
    assert (game.allowed.sum(axis=1) >= 3).all()
    plain = make_generator("uniform", n_defenders=3, n_targets=10)
    assert plain.sample(np.random.default_rng(3)) == make_generator(
        "uniform", n_defenders=3, n_targets=10, jurisdiction=1.0
    ).sample(np.random.default_rng(3))
    with pytest.raises(InvalidParameterError, match=r"jurisdiction must be a number in \(0, 1\]"):
        make_generator("uniform", jurisdiction=0.0)


# -- mechanisms -----------------------------------------------------------------------
MECHANISMS = [
    name for name in available_mechanisms() if not pools_resources(MECHANISMS_REGISTRY.get(name))
]


def _pooled_single(game):
    """The utilitarian pooled game as one defender (no mask: the schedules carry it)."""
    return SecurityGame(
        defender_reward=game.defender_reward.sum(axis=0)[None],
        defender_penalty=game.defender_penalty.sum(axis=0)[None],
        attacker_reward=game.attacker_reward,
        attacker_penalty=game.attacker_penalty,
        resources=[game.total_resources],
    )


@settings(max_examples=examples(80), deadline=None, suppress_health_check=SLOW)
@given(games(max_defenders=3, max_targets=5, max_resources=2, jurisdictions=True))
def test_the_flow_outcome_space_is_the_schedule_solvers_optimum(game):
    """The utilitarian optimum over the masked outcome space equals the exact
    Stackelberg value of the pooled game whose resources take single-target schedules
    in their owner's jurisdiction (issue 16 part 1's polynomial row)."""
    if game.total_resources == 0:
        return
    space = outcome_space(game)
    units = [
        [int(t) for t in np.flatnonzero(game.allowed[i])]
        for i in range(game.n_defenders)
        for _ in range(int(game.resources[i]))
    ]
    sse = schedule_sse(
        _pooled_single(game), [(t,) for t in range(game.n_targets)], resource_schedules=units
    )
    assert space.values.sum(axis=0).max() == pytest.approx(sse.defender_utility, abs=1e-7)
    if not game.restricted:
        return
    for t in np.flatnonzero(space.feasible):  # every share in its owner's jurisdiction
        shares = space.shares[t]
        assert not np.any(shares[~game.allowed] > 1e-12)
        assert np.all(shares.sum(axis=1) <= game.resources + 1e-9)
        np.testing.assert_allclose(shares.sum(axis=0), space.coverage[t], atol=1e-9)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=SLOW)
@given(games(max_defenders=3, max_targets=5, max_resources=2), st.sampled_from(MECHANISMS))
def test_a_mask_that_binds_nobody_changes_no_outcome(game, name):
    """A restriction on a defender without resources binds nobody: the flow LP path
    gives the closed form's outcomes and audits (to LP precision)."""
    idle = np.flatnonzero(game.resources == 0)
    if idle.size == 0 or game.n_targets < 2:
        return
    mask = np.ones((game.n_defenders, game.n_targets), dtype=bool)
    mask[idle[0], 0] = False
    masked = game.with_allowed(mask)
    assert masked.restricted
    plain_space, masked_space = outcome_space(game), outcome_space(masked)
    np.testing.assert_array_equal(plain_space.feasible, masked_space.feasible)
    finite = plain_space.feasible
    np.testing.assert_allclose(
        plain_space.values[:, finite], masked_space.values[:, finite], atol=1e-7
    )
    if name in ("nse", "csw_max", "csw_max_nse", "utility_preserving"):
        return  # the status quo is an NSE, which need not be unique
    mechanism = make_mechanism(name)
    a = mechanism.prepared(game).allocate(game, rng=np.random.default_rng(0))
    b = mechanism.prepared(masked).allocate(masked, rng=np.random.default_rng(0))
    assert a.ok == b.ok
    if a.ok:
        np.testing.assert_allclose(a.defender_utility, b.defender_utility, atol=1e-7)
        assert is_pareto_efficient(game, a).efficient == is_pareto_efficient(masked, b).efficient


@settings(max_examples=examples(60), deadline=None, suppress_health_check=SLOW)
@given(
    games(max_defenders=3, max_targets=5, max_resources=2, jurisdictions=True),
    st.sampled_from(MECHANISMS),
)
def test_recommendations_with_jurisdictions_respect_ownership(game, name):
    outcome = make_mechanism(name).prepared(game).allocate(game, rng=np.random.default_rng(0))
    if not outcome.ok:
        return
    rec = outcome.recommendation
    own = rec.defender_coverage()
    assert not np.any(own[~game.allowed] > 1e-12)  # each guards her own targets only
    np.testing.assert_allclose(rec.coverage(), outcome.coverage, atol=1e-9)
    if hasattr(rec, "assignments"):
        assert np.all(rec.assignments.sum(axis=2) <= game.resources)
        assert np.all(rec.assignments.sum(axis=1) <= 1)  # no target guarded twice
        assert rec.probabilities.sum() == pytest.approx(1.0, abs=1e-9)


def test_jurisdictions_can_cost_the_coordinated_optimum():
    # defender 1's resource may guard only target 2, which nobody attacks
    free, barred = _game(), _game([[True, True, False], [False, False, True]])
    assert outcome_space(barred).values.sum(axis=0).max() < (
        outcome_space(free).values.sum(axis=0).max()
    )
    outcome = make_mechanism("utilitarian").allocate(barred, rng=np.random.default_rng(0))
    assert outcome.ok and outcome.coverage[:2].sum() <= 1.0 + 1e-9


@pytest.mark.parametrize("name", ["pooled_sse", "pooled_schedule_sse"])
def test_pooling_mechanisms_refuse_jurisdictions(name):
    assert pools_resources(MECHANISMS_REGISTRY.get(name))
    game = _game([[True, True, False], [False, False, True]])
    outcome = make_mechanism(name).allocate(game, rng=np.random.default_rng(0))
    assert not outcome.ok and "jurisdictions" in outcome.message


# -- the paper's results where their hypotheses hold -------------------------------
@pytest.mark.paper
@settings(max_examples=examples(40), deadline=None, suppress_health_check=SLOW)
@given(games(max_defenders=3, max_targets=5, max_resources=2, jurisdictions=True))
def test_theorem_4_2_csw_max_is_pe_and_weakly_up_with_jurisdictions(game):
    """Gan et al. 2020, Theorem 4.2, under jurisdictions: an NSE's waste-free pooling
    is a flow (its own shares, scaled to the combined coverage), so the NSE is
    dominated within the flow outcome space and CSW-Max stays PE and weakly UP."""
    outcome = make_mechanism("csw_max").allocate(game, rng=np.random.default_rng(0))
    if not outcome.ok:  # no verified status quo
        return
    assert is_pareto_efficient(game, outcome).efficient
    assert utility_preservation(game, outcome).weakly_up is not False


@pytest.mark.paper
@settings(max_examples=examples(40), deadline=None, suppress_health_check=SLOW)
@given(games(max_defenders=3, max_targets=5, max_resources=2, jurisdictions=True))
def test_section_5_1_every_nse_is_ir_with_jurisdictions(game):
    """Section 5.1: independent play of an NSE leaves no defender a gain, here by the
    masked oracle (her deviations stay in her jurisdiction)."""
    outcome = make_mechanism("nse").allocate(game, rng=np.random.default_rng(0))
    if outcome.ok:
        for i in range(game.n_defenders):
            assert ir_violation(game, outcome, i).gain <= 1e-9


@settings(max_examples=examples(30), deadline=None, suppress_health_check=SLOW)
@given(games(max_defenders=3, max_targets=4, max_resources=2), st.sampled_from(MECHANISMS))
def test_a_full_mask_gives_exactly_todays_results(game, name):
    """An explicit all-True mask is the paper's game: the NSE, every mechanism's
    outcome and every audit are identical, bit for bit."""
    full = game.with_allowed(np.ones((game.n_defenders, game.n_targets), dtype=bool))
    assert full == game and full.key() == game.key() and not full.restricted
    a, b = find_nse(game), find_nse(full)
    np.testing.assert_array_equal(a.coverage, b.coverage)
    mechanism = make_mechanism(name)
    x = mechanism.prepared(game).allocate(game, rng=np.random.default_rng(1))
    y = mechanism.prepared(full).allocate(full, rng=np.random.default_rng(1))
    assert x == y
    if x.ok:
        pe_x, pe_y = is_pareto_efficient(game, x), is_pareto_efficient(full, y)
        assert pe_x.efficient == pe_y.efficient and pe_x.dominating_target == pe_y.dominating_target
        up_x, up_y = utility_preservation(game, x), utility_preservation(full, y)
        assert up_x.weak == up_y.weak and up_x.strong == up_y.strong
        for i in range(game.n_defenders):
            assert ir_violation(game, x, i).value == ir_violation(full, y, i).value
            found = [
                find_profitable_misreport(mechanism, g, i, rng=np.random.default_rng(2), budget=20)
                for g in (game, full)
            ]
            assert [None if f is None else f.gain for f in found] == [
                None if f is None else f.gain for f in reversed(found)
            ]


# -- the study ----------------------------------------------------------------------
@pytest.mark.slow
def test_the_shipped_jurisdictions_study_runs_end_to_end_with_figures(tmp_path):
    config = load_config(ROOT / "runs" / "configs" / "jurisdictions.toml")
    out = tmp_path / "jurisdictions"
    run_study(config.with_overrides(replications=2), out, jobs=1, quiet=True)
    audits, rounds = read_dataset(out, "audits"), read_dataset(out, "rounds")
    assert set(audits["jurisdiction"]) == {0.3, 0.6, 1.0}
    assert (audits["status"] == "ok").all() and (rounds["status"] == "ok").all()
    paths = plot_study(out)
    names = {p.name for p in paths}
    assert {"welfare.png", "failure_rates.png", "report.html"} <= names
    assert "Grouped by: jurisdiction" in (out / "figures" / "report.md").read_text()
