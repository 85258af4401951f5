"""The IR audit's search (issue 12: one HiGHS model re-solved per target, targets
visited by a value bound) against its multiple-LP reference (two generic LPs per
target): equal values and gains on hypothesis games with ties, pinned targets, zero
budgets, K >= m and jurisdictions, and a playable modification that really makes its
target the unique best response within her budget and jurisdiction."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mechanisms import make_mechanism
from mechanisms.modification import PLAYABLE_MIX
from mechanisms.properties import ir_violation
from sim.payoffs import target_utility

from strategies import games

MECHANISMS = ["csw_max", "dictatorship", "utilitarian", "egalitarian"]


@settings(max_examples=150, deadline=None)
@given(
    games(max_defenders=3, max_targets=5, max_resources=3, jurisdictions=True),
    st.sampled_from(MECHANISMS),
)
def test_the_ir_search_equals_the_multiple_lp_reference(game, name):
    outcome = make_mechanism(name).prepared(game).allocate(game, rng=np.random.default_rng(0))
    if not outcome.ok:
        return
    for i in range(game.n_defenders):
        fast = ir_violation(game, outcome, i)
        slow = ir_violation(game, outcome, i, reference=True)
        assert fast.value == pytest.approx(slow.value, abs=1e-7)
        assert fast.gain == pytest.approx(slow.gain, abs=1e-7)
        if fast.coverage is None:
            assert slow.coverage is None
            continue
        # the playable point: her budget and jurisdiction, the target the unique best
        # response, the value within PLAYABLE_MIX of the supremum
        for _, _, y in fast.modification:
            assert y.min() >= 0.0 and y.max() <= 1.0
            assert y.sum() <= game.resources[i] + 1e-9
            assert not np.any(y[~game.allowed[i]] > 0.0)
        attacker = game.attacker_reward - game.attacker_gap * fast.coverage
        others = np.delete(attacker, fast.target)
        assert others.size == 0 or attacker[fast.target] > others.max()
        played = float(target_utility(game, fast.target, fast.coverage[fast.target], i))
        scale = float(game.defender_gap[i].max())
        assert played == pytest.approx(fast.value, abs=PLAYABLE_MIX * scale + 1e-9)
