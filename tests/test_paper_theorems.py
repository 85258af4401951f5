"""Gan et al. 2020's theorems as executable experiments (marker ``paper``)."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from mechanisms import make_mechanism
from mechanisms.outcome import MechanismOutcome
from mechanisms.properties import (
    find_profitable_misreport,
    ir_violation,
    is_pareto_efficient,
    outcome_utility,
    utility_preservation,
)
from mechanisms.space import closed_form_space
from sim.generators import make_generator
from sim.instances import example_5_2, gibbard_satterthwaite_game, theorem_3_2
from sim.nse import compute_nse, excluded_targets, nse_utility_range
from sim.sampling import Recommendation
from sim.solvers import max_coverage

pytestmark = pytest.mark.paper


def _column_outcome(game, t) -> MechanismOutcome:
    space = max_coverage(game)
    utility = game.defender_penalty[:, t] + space.coverage[t] * game.defender_gap[:, t]
    return MechanismOutcome(
        mechanism="enumerated",
        params={},
        coverage=space.coverage,
        attacked_target=int(t),
        defender_utility=utility,
        status_quo_utility=None,
        recommendation=Recommendation.from_coverage(space.coverage, game.resources),
    )


def test_theorem_3_2_no_outcome_is_strongly_up():
    """Every outcome attacking t is no better for anyone than (need(u*), t), so checking
    the finite outcome set proves the theorem on its instance."""
    game = theorem_3_2()
    bounds = nse_utility_range(game)
    assert {w.attacked_target for w in bounds.witnesses} == {0, 1}  # (C, a) and (C, b)
    np.testing.assert_allclose(bounds.best_low, [1.5, 1.5])
    space = closed_form_space(game)
    for t in np.flatnonzero(space.feasible):
        audit = utility_preservation(game, _column_outcome(game, t), bounds=bounds)
        assert audit.strongly_up is False


def test_theorem_3_3_csw_max_is_manipulable_on_the_gs_construction():
    game = gibbard_satterthwaite_game([[0, 1, 2], [0, 2, 1]])
    mech = make_mechanism("csw_max")
    found = find_profitable_misreport(mech, game, 0, rng=np.random.default_rng(0), budget=60)
    assert found is not None and found.gain == pytest.approx(1.0)  # one whole rank
    replay = mech.allocate(
        game.with_reports(0, found.reward, found.penalty), rng=np.random.default_rng(found.seed)
    )
    assert outcome_utility(game, replay)[0] - outcome_utility(game, found.truthful)[0] == (
        pytest.approx(found.gain)
    )


def test_theorem_3_3_csw_max_is_manipulable_on_random_games():
    rng = np.random.default_rng(33)
    gen = make_generator("uniform", n_defenders=2, n_targets=3, resources=[1, 1])
    mech = make_mechanism("csw_max")
    hits = 0
    for _ in range(12):
        game = gen.sample(rng)
        for i in range(2):
            hits += find_profitable_misreport(mech, game, i, rng=rng, budget=40) is not None
    assert hits > 0


def test_theorem_3_3_dictatorship_is_sp_but_not_weakly_up():
    """The proof's instance: the dictator orders t1 < ... < tm, the other defender the
    reverse, so the dictator's favourite is the other's least favourite. That target
    is excluded from every NSE (she would cover it), so her worst NSE gives at least
    p(t_{m-1}) = 1 while the dictatorship gives her at most r(t_m) = 1/2."""
    m = 4
    game = gibbard_satterthwaite_game([list(range(m)), list(range(m))[::-1]])
    mech = make_mechanism("dictatorship")
    outcome = mech.allocate(game, rng=np.random.default_rng(0))
    assert outcome.attacked_target == m - 1
    assert excluded_targets(game)[m - 1]
    audit = utility_preservation(game, outcome)
    assert audit.weak[1] == "fails" and audit.bounds.worst_low[1] >= 1.0
    assert outcome_utility(game, outcome)[1] <= 0.5
    for i in range(2):
        assert (
            find_profitable_misreport(mech, game, i, rng=np.random.default_rng(i), budget=3000)
            is None
        )


def test_theorem_4_2_csw_max_is_pe_and_weakly_up():
    rng = np.random.default_rng(42)
    mech = make_mechanism("csw_max")
    for name in ("uniform", "covariant", "nonoverlapping", "zero_sum_like"):
        gen = make_generator(name, n_defenders=3, n_targets=5, resources={"low": 0, "high": 2})
        for _ in range(5):
            game = gen.sample(rng)
            outcome = mech.allocate(game, rng=rng)
            assert is_pareto_efficient(game, outcome).efficient
            nse = compute_nse(game)  # the certificate: the very NSE it preserved
            assert np.all(outcome.defender_utility >= nse.defender_utility - 1e-9)
            bounds = nse_utility_range(game, nse, witnesses="one")
            assert utility_preservation(game, outcome, bounds=bounds).weakly_up is True


def test_theorem_4_3_csw_max_nse_is_sp_on_nonoverlapping_interior_games():
    rng = np.random.default_rng(43)
    gen = make_generator("nonoverlapping", n_defenders=3, n_targets=4, resources=[1, 1, 1])
    checked = 0
    while checked < 4:
        game = gen.sample(rng)
        nse = compute_nse(game)
        if not (nse.verified and np.all((nse.total_coverage > 0) & (nse.total_coverage < 1))):
            continue
        mech = make_mechanism("csw_max_nse")
        for i in range(3):
            assert find_profitable_misreport(mech, game, i, rng=rng, budget=500) is None
        outcome = mech.prepared(game).allocate(game, rng=rng)
        assert is_pareto_efficient(game, outcome).efficient
        checked += 1


def test_theorem_5_5_example_5_2_pe_and_weakly_up_outcomes_fail_ir():
    """Lemma 5.3: b is the only NSE target, so a weakly UP outcome attacks b; Lemma 5.4
    (corrected, see tests/test_instances.py): the PE coverage is 27/41 on a, b, c and
    21/41 on d, e. Defender 3 must then cover d and e with total probability 42/41 > 1
    with one resource, so she is recommended targets she prefers to b and deviates."""
    game = example_5_2()
    space = closed_form_space(game)
    assert [Fraction(x).limit_denominator(100) for x in space.coverage[1]] == [
        Fraction(27, 41)
    ] * 3 + [Fraction(21, 41)] * 2
    bounds = nse_utility_range(game)
    assert {w.attacked_target for w in bounds.witnesses} == {1}
    candidates = 0
    for t in np.flatnonzero(space.feasible):
        outcome = _column_outcome(game, t)
        if not is_pareto_efficient(game, outcome).efficient:
            continue
        if utility_preservation(game, outcome, bounds=bounds).weakly_up is not True:
            continue  # only outcomes proved weakly UP (Lemma 5.3: those attacking b)
        candidates += 1
        assert t == 1
        gains = [ir_violation(game, outcome, i).gain for i in range(3)]
        assert max(gains) > 1e-6
    assert candidates == 1
    outcome = make_mechanism("csw_max").allocate(game, rng=np.random.default_rng(0))
    assert outcome.attacked_target == 1
    assert max(ir_violation(game, outcome, i).gain for i in range(3)) > 1e-6


def test_every_nse_is_ir():
    """Section 5.1: every NSE, played as independent recommendations, is IR."""
    for game in (example_5_2(), theorem_3_2()):
        outcome = make_mechanism("nse").allocate(game, rng=np.random.default_rng(0))
        assert all(ir_violation(game, outcome, i).gain <= 1e-7 for i in range(game.n_defenders))


@pytest.mark.parametrize("orders", list(itertools.permutations(range(3)))[:3])
def test_lemma_3_4_unanimity_under_weak_up(orders):
    """Lemma 3.4: if every defender ranks tau top, every NSE attacks tau, so a weakly
    UP mechanism must pick tau."""
    order = list(orders)
    game = gibbard_satterthwaite_game([order, order, order])
    outcome = make_mechanism("csw_max").allocate(game, rng=np.random.default_rng(0))
    assert outcome.attacked_target == order[-1]
