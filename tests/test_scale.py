"""Results do not depend on the payoffs' units (issue 33 #1).

Every NSE, best response, Pareto comparison and gain is invariant to a positive affine
map of each player's payoffs (utilities are affine in them, Gan et al. 2020 Section 2).
The solvers work on the game's standard form and read every tolerance as a fraction of
the player's range, so mapping a player's payoffs maps her utilities and gains and
changes nothing else. Mechanisms that add utilities across defenders (welfare) are
invariant to maps that scale every defender alike (each may shift on her own).

One thing a map can change: a map that is not a power of two perturbs the standard form
by rounding (1e-16), and where the NSEs form a continuum (the hypothesis games' identical
attackers) the finder may then stop at another point of it. Both are verified NSEs of
both games; the tests check that, and compare everything else exactly when the NSE found
is the same (the issue's sweep of continuous games always finds the same one).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mechanisms import available_mechanisms, make_mechanism
from mechanisms.properties import (
    _rescalings,
    _targeted,
    ir_violation,
    is_pareto_efficient,
    search_misreports,
    utility_preservation,
)
from runs.seeding import instance_rng
from sim.errors import InvalidGameError
from sim.game import SecurityGame
from sim.generators import make_generator
from sim.instances import example_5_2
from sim.nse import NSEResult, NSEUtilityRange, compute_nse, nse_utility_range
from sim.solvers import deviation_value, is_nse

from strategies import examples, games

#: Mechanisms that compare each defender with herself only (a dictator's favourite, the
#: NSE, its LP-tau): invariant to a separate map of every defender's payoffs. The rest
#: add utilities across defenders and are invariant when the defenders share a scale.
EACH_DEFENDER = frozenset({"nse", "csw_max_nse", "dictatorship", "random_dictatorship"})

#: Mechanisms of one attack (the audits' model) whose outcome is exact. pooled_logit's
#: is an optimum to within a certified gap (docs/behavioural.md §3): its own test below
#: maps its value within that gap.
ONE_ATTACK = [name for name in available_mechanisms() if name not in ("pooled_sse", "pooled_logit")]


def mapped(
    game: SecurityGame, scale: np.ndarray, shift: np.ndarray, a_scale: float, a_shift: float
) -> SecurityGame:
    """``game`` with defender i's payoffs mapped by ``scale[i] * x + shift[i]`` and the
    attacker's by ``a_scale * x + a_shift``."""
    return SecurityGame(
        defender_reward=game.defender_reward * scale[:, None] + shift[:, None],
        defender_penalty=game.defender_penalty * scale[:, None] + shift[:, None],
        attacker_reward=game.attacker_reward * a_scale + a_shift,
        attacker_penalty=game.attacker_penalty * a_scale + a_shift,
        resources=game.resources,
        allowed=game.allowed,
    )


@st.composite
def maps(draw: st.DrawFn, n: int, common: bool) -> tuple[np.ndarray, ...]:
    """Scales from 1e-9 to 1e9 and shifts of up to 100 ranges, per player."""
    exponent = st.integers(-9, 9)
    if common:
        scale = np.full(n, 10.0 ** draw(exponent))
    else:
        scale = 10.0 ** np.array(draw(st.lists(exponent, min_size=n, max_size=n)), dtype=float)
    shift = scale * np.array(draw(st.lists(st.integers(-100, 100), min_size=n, max_size=n)))
    a_scale = 10.0 ** draw(exponent)
    a_shift = a_scale * draw(st.integers(-100, 100))
    return scale, shift, np.float64(a_scale), np.float64(a_shift)


def close(actual: np.ndarray, expected: np.ndarray, unit: np.ndarray | float) -> None:
    """``actual == expected`` to within 1e-8 of each player's ``unit`` (her scale)."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    np.testing.assert_array_equal(np.isfinite(actual), np.isfinite(expected))
    finite = np.isfinite(expected)
    error = np.abs(np.where(finite, actual - expected, 0.0))
    assert np.all(error <= 1e-8 * np.broadcast_to(unit, error.shape)), (actual, expected)


def _same_nse(game: SecurityGame, other: SecurityGame, one: NSEResult, two: NSEResult) -> bool:
    """Whether the two found NSEs are the same point (mapped); if not, each must be an
    NSE of both games (another point of a continuum of NSEs, reached through rounding)."""
    assert two.verified == one.verified
    if not one.verified:
        return False
    if one.attacked_target == two.attacked_target and np.allclose(
        one.coverage, two.coverage, atol=1e-9
    ):
        return True
    for g in (game, other):
        for found in (one, two):
            assert is_nse(g, found.coverage, found.attacked_target)
    return False


def _same_witnesses(one: NSEUtilityRange, two: NSEUtilityRange) -> bool:
    """Whether the two ranges rest on the same witness NSEs (same targets, coverage)."""
    return len(one.witnesses) == len(two.witnesses) and all(
        a.attacked_target == b.attacked_target and np.allclose(a.coverage, b.coverage, atol=1e-9)
        for a, b in zip(one.witnesses, two.witnesses, strict=True)
    )


def _consistent(first: tuple[str, ...], second: tuple[str, ...]) -> None:
    """Sound bounds from different witnesses may leave one verdict open that the other
    decides, never one holding where the other fails."""
    for a, b in zip(first, second, strict=True):
        assert {a, b} != {"holds", "fails"}, (first, second)


def _same_outcome(one, other, scale: np.ndarray, shift: np.ndarray) -> bool:
    """An outcome or NSE and its image under the map: whether they were found."""
    found = one.verified if isinstance(one, NSEResult) else one.ok
    assert (other.verified if isinstance(other, NSEResult) else other.ok) == found
    if found:
        assert other.attacked_target == one.attacked_target
        np.testing.assert_allclose(other.coverage, one.coverage, atol=1e-9)
        close(other.defender_utility, scale * one.defender_utility + shift, scale)
    return found


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), game=games(max_defenders=3, max_targets=5, max_resources=2))
def test_nse_is_invariant_to_each_players_units(data: st.DataObject, game: SecurityGame) -> None:
    scale, shift, a_scale, a_shift = data.draw(maps(game.n_defenders, common=False))
    other = mapped(game, scale, shift, a_scale, a_shift)
    one, two = compute_nse(game), compute_nse(other)
    if not _same_nse(game, other, one, two):
        return
    _same_outcome(one, two, scale, shift)
    close(two.attacker_level, a_scale * one.attacker_level + a_shift, a_scale)
    bounds, mapped_bounds = nse_utility_range(game), nse_utility_range(other)
    # the analytic sides map exactly; the verified sides come from one witness NSE per
    # target, which may be another point of a continuum: then they stay sound
    for side in ("worst_low", "best_high"):
        close(getattr(mapped_bounds, side), scale * getattr(bounds, side) + shift, scale)
    if _same_witnesses(bounds, mapped_bounds):
        for side in ("worst_high", "best_low"):
            close(getattr(mapped_bounds, side), scale * getattr(bounds, side) + shift, scale)
        np.testing.assert_array_equal(mapped_bounds.worst_exact, bounds.worst_exact)
        np.testing.assert_array_equal(mapped_bounds.best_exact, bounds.best_exact)
    else:
        for w in mapped_bounds.witnesses:
            assert is_nse(game, w.coverage, w.attacked_target)
    q = one.total_coverage
    for i in range(game.n_defenders):
        dev, mapped_dev = deviation_value(game, q, i), deviation_value(other, q, i)
        assert mapped_dev.target == dev.target and mapped_dev.kind == dev.kind
        close(mapped_dev.value, scale[i] * dev.value + shift[i], scale[i])


@pytest.mark.parametrize("name", ONE_ATTACK)
@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), game=games(max_defenders=3, max_targets=4, max_resources=2))
def test_mechanisms_and_audits_are_invariant_to_units(
    name: str, data: st.DataObject, game: SecurityGame
) -> None:
    """Each mechanism's outcome and every audit (PE, weak and strong UP, IR, the
    misreport search) map with the payoffs."""
    common = name not in EACH_DEFENDER
    scale, shift, a_scale, a_shift = data.draw(maps(game.n_defenders, common=common))
    other = mapped(game, scale, shift, a_scale, a_shift)
    mechanism = make_mechanism(name)
    if not _same_nse(game, other, compute_nse(game), compute_nse(other)):
        return  # the status quo is another NSE of a continuum: checked in the NSE test
    one = mechanism.prepared(game).allocate(game, rng=np.random.default_rng(0))
    two = mechanism.prepared(other).allocate(other, rng=np.random.default_rng(0))
    if not _same_outcome(one, two, scale, shift):
        return
    assert is_pareto_efficient(other, two).efficient == is_pareto_efficient(game, one).efficient
    up, mapped_up = utility_preservation(game, one), utility_preservation(other, two)
    _consistent(mapped_up.weak, up.weak)
    _consistent(mapped_up.strong, up.strong)
    if _same_witnesses(up.bounds, mapped_up.bounds):
        assert (mapped_up.weak, mapped_up.strong) == (up.weak, up.strong)
    for i in range(game.n_defenders):
        gain = ir_violation(game, one, i).gain
        close(ir_violation(other, two, i).gain, scale[i] * gain, scale[i])
        found = search_misreports(mechanism, game, i, rng=np.random.default_rng(i), budget=12)
        again = search_misreports(mechanism, other, i, rng=np.random.default_rng(i), budget=12)
        assert again.found_at == found.found_at
        close(again.gain, scale[i] * found.gain, scale[i])


@settings(max_examples=examples(25), deadline=None)
@given(data=st.data(), game=games(max_defenders=3, max_targets=4, max_resources=2))
def test_the_searched_reports_map_with_the_units(data: st.DataObject, game: SecurityGame) -> None:
    """The misreport search's opening reports of a mapped game are the images of the
    original's (a rescaling about a fixed point would not be)."""
    scale, shift, a_scale, a_shift = data.draw(maps(game.n_defenders, common=False))
    other = mapped(game, scale, shift, a_scale, a_shift)
    for i in range(game.n_defenders):
        for make in (_rescalings, lambda g, j: _targeted(g, j, 0)):
            (r, p), (mr, mp) = make(game, i), make(other, i)
            close(mr, scale[i] * r + shift[i], scale[i])
            close(mp, scale[i] * p + shift[i], scale[i])


def test_the_scale_sweep_of_the_issue_changes_nothing() -> None:
    """The reproduction of issue 33 #1: uniform games (n=3, m=4, k=1) at scales 1e-9 to
    1e9 give the same NSE, outcomes and verdicts, and utilities that scale with them
    (before, PE failures read 0.667 at scale 1 and 0 at 1e-9)."""
    names = ["csw_max", "nse", "utilitarian", "dictatorship"]
    seen: dict[float, list[tuple[object, ...]]] = {}
    for scale in (1e-9, 1e-6, 1.0, 1e6, 1e9):
        generator = make_generator("uniform", n_defenders=3, n_targets=4, resources=1, scale=scale)
        rows = seen.setdefault(scale, [])
        for replication in range(5):
            game = generator.sample(instance_rng(3, replication))
            nse = compute_nse(game)
            rows.append((nse.attacked_target, tuple(np.round(nse.defender_utility / scale, 9))))
            for name in names:
                outcome = make_mechanism(name).allocate(game, rng=np.random.default_rng(0))
                up = utility_preservation(game, outcome)
                rows.append(
                    (
                        name,
                        outcome.attacked_target,
                        is_pareto_efficient(game, outcome).efficient,
                        up.weak,
                        up.strong,
                        _ir_gains(game, outcome, scale),
                    )
                )
    for scale, rows in seen.items():
        assert rows == seen[1.0], scale


def _ir_gains(game: SecurityGame, outcome, scale: float) -> tuple[float, ...]:
    return tuple(
        round(ir_violation(game, outcome, i).gain / scale, 9) for i in range(game.n_defenders)
    )


def test_a_gap_too_thin_for_its_players_range_is_refused() -> None:
    """A gap below GAP_FLOOR of the player's range cannot be resolved in her units."""
    with pytest.raises(InvalidGameError, match=r"defender_reward must exceed .* range"):
        SecurityGame(
            defender_reward=[[1e-30, 1.0]],
            defender_penalty=[[0.0, -1.0]],
            attacker_reward=[1.0, 1.0],
            attacker_penalty=[0.0, 0.0],
            resources=[1],
        )


def test_tiny_payoffs_are_a_valid_game_in_their_own_units() -> None:
    """Payoffs of 1e-20 are as good as payoffs of 1 (the floor was absolute before)."""
    base = make_generator("uniform", n_defenders=2, n_targets=3, resources=1).sample(
        instance_rng(0, 0)
    )
    tiny = mapped(base, np.full(2, 1e-20), np.zeros(2), np.float64(1e-20), np.float64(0.0))
    assert compute_nse(tiny).attacked_target == compute_nse(base).attacked_target


def test_the_standard_form_spans_the_unit_interval_and_is_its_own() -> None:
    game = make_generator("uniform", n_defenders=3, n_targets=5, resources=1, scale=7.0).sample(
        instance_rng(1, 2)
    )
    standard = game.standard
    assert standard.standard is standard
    np.testing.assert_array_equal(standard.defender_penalty.min(axis=1), 0.0)
    np.testing.assert_array_equal(standard.defender_reward.max(axis=1), 1.0)
    assert standard.attacker_penalty.min() == 0.0 and standard.attacker_reward.max() == 1.0
    units = game.units
    np.testing.assert_allclose(
        units.defender_utility(standard.defender_reward.T).T, game.defender_reward, rtol=1e-12
    )


@pytest.mark.parametrize(
    ("a_scale", "a_shift"), [(1e-8, 0.0), (1e9, 0.0), (1.0, 1e9), (1e-3, -5e3)]
)
def test_theorem_5_5_survives_any_units_of_the_attacker(a_scale: float, a_shift: float) -> None:
    """Gan et al. 2020, Theorem 5.5 on Example 5.2: CSW-Max's outcome (PE, weakly UP)
    attacks b and gives defender 3 a profitable deviation; with the attacker's payoffs
    times 1e-8 the violation was lost before, and times 1e9 or plus 1e9 spurious ones
    appeared. Now every defender's IR gain is the same in every unit."""
    game = example_5_2()
    n = game.n_defenders
    other = mapped(game, np.ones(n), np.zeros(n), np.float64(a_scale), np.float64(a_shift))
    csw_max = make_mechanism("csw_max")
    one = csw_max.allocate(game, rng=np.random.default_rng(0))
    two = csw_max.allocate(other, rng=np.random.default_rng(0))
    _same_outcome(one, two, np.ones(n), np.zeros(n))
    gains = [ir_violation(game, one, i).gain for i in range(n)]
    assert max(gains) > 1e-6
    # payoffs shifted by 1e9 carry 1e9 * 2**-52 ~ 2e-7 of absolute precision, about 1e-7
    # of the attacker's range here: the gains agree to what the input can say
    unit = 1.0 + abs(a_shift) / a_scale * 2.0**-52 * 1e8
    close([ir_violation(other, two, i).gain for i in range(n)], gains, unit)


def test_a_continuum_of_nses_may_be_left_at_another_point_but_stays_sound() -> None:
    """Found by hypothesis in CI: an identical attacker (a continuum of NSEs) and
    defender 1's payoffs times 10. The standard forms differ by one rounding (1e-16),
    and the witness NSE for target 1 is another point of the continuum: both are NSEs
    of both games, and the analytic sides of the UP bounds map exactly."""
    game = SecurityGame(
        defender_reward=[[-1.5] * 5, [-1.5, 3.969, 5.875, 1.5, 1.5], [-1.5] * 5],
        defender_penalty=[[-2.0] * 5, [-2.0, -2.0, -2.0, 1.0, 1.0], [-2.0] * 5],
        attacker_reward=[-1.5] * 5,
        attacker_penalty=[-2.0] * 5,
        resources=[0, 1, 2],
    )
    scale, shift = np.array([1.0, 10.0, 1.0]), np.zeros(3)
    other = mapped(game, scale, shift, np.float64(1.0), np.float64(0.0))
    bounds, mapped_bounds = nse_utility_range(game), nse_utility_range(other)
    for side in ("worst_low", "best_high"):
        close(getattr(mapped_bounds, side), scale * getattr(bounds, side) + shift, scale)
    for w in (*bounds.witnesses, *mapped_bounds.witnesses):
        assert is_nse(game, w.coverage, w.attacked_target)
        assert is_nse(other, w.coverage, w.attacked_target)


def test_spare_schedule_resources_do_not_follow_the_units() -> None:
    """Found by the stress profile: the marginal LP of the pooled schedule SSE left a
    spare half resource on target 3 (below the attacker's level either way) or not,
    by the attacker's payoffs' origin. The least-mass optimum places none."""
    game = SecurityGame(
        defender_reward=[[-1.5, -0.5, -1.5, -1.5], [-1.5, -1.5, -1.5, 4.5]],
        defender_penalty=[[-2.0, -1.0, -2.0, -2.0], [-2.0, -2.0, -2.0, 4.0]],
        attacker_reward=[0.5, 1.0, 0.01, -0.5],
        attacker_penalty=[0.0, -1.0, 0.0, -1.0],
        resources=[1, 2],
    )
    other = mapped(game, np.ones(2), np.zeros(2), 1.0, 2.0)
    mechanism = make_mechanism("pooled_schedule_sse")
    one = mechanism.allocate(game, rng=np.random.default_rng(0))
    two = mechanism.allocate(other, rng=np.random.default_rng(0))
    np.testing.assert_allclose(one.coverage, [1.0, 0.5, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(two.coverage, one.coverage, atol=1e-12)


def test_a_deviations_witness_target_does_not_follow_the_units() -> None:
    """Found by the stress profile: two tied targets worth the same to defender 0
    (1/3 of her range apart from rounding) were named in the order their rounding
    fell, which her scale changed; the witness is the first within UTILITY_TOL."""
    game = SecurityGame(
        defender_reward=[[1.062, 1.0, 0.5], [-1.5, -1.5, -1.5], [-1.5, -1.5, -1.5]],
        defender_penalty=[[0.562, -1.0, 0.0], [-2.0, -2.0, -2.0], [-2.0, -2.0, -2.0]],
        attacker_reward=[-1.5, -1.5, -1.5],
        attacker_penalty=[-2.0, -2.0, -2.0],
        resources=[0, 0, 2],
    )
    other = mapped(game, np.array([10.0, 1.0, 1.0]), np.zeros(3), 1.0, 0.0)
    q = compute_nse(game).total_coverage
    dev, mapped_dev = deviation_value(game, q, 0), deviation_value(other, q, 0)
    assert mapped_dev.target == dev.target
    assert mapped_dev.value == pytest.approx(10.0 * dev.value, abs=1e-9)


@settings(max_examples=examples(15), deadline=None)
@given(data=st.data(), game=games(max_defenders=3, max_targets=4, max_resources=2))
def test_pooled_logit_maps_with_the_payoffs_within_its_gap(
    data: st.DataObject, game: SecurityGame
) -> None:
    """Against a logit attacker in his standard units, the certified optimum of the
    defenders' total maps with a common map of their payoffs, to within the gap."""
    if game.restricted:
        return
    scale, shift, a_scale, a_shift = data.draw(maps(game.n_defenders, common=True))
    other = mapped(game, scale, shift, a_scale, a_shift)
    mechanism = make_mechanism("pooled_logit", max_gap=1e-3)
    one = mechanism.allocate(game, rng=np.random.default_rng(0))
    two = mechanism.allocate(other, rng=np.random.default_rng(0))
    planned = mechanism.planned_utility(game, one).sum()
    again = mechanism.planned_utility(other, two).sum()
    expected = scale[0] * planned + shift.sum()
    total = float(game.units.defender_scale.sum())
    assert abs(again - expected) <= 2e-3 * total * scale[0] + 1e-9 * abs(expected)
