"""The IR audit's pruned search (issue 12) against its exhaustive reference: visiting
targets by their value bound and stopping early gives exactly the value, gain and
target of solving every target's LPs, on hypothesis games with ties, zero budgets and
K >= m."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mechanisms import make_mechanism
from mechanisms.properties import ir_violation

from strategies import games

MECHANISMS = ["csw_max", "dictatorship", "utilitarian", "egalitarian"]


@settings(max_examples=120, deadline=None)
@given(games(max_defenders=3, max_targets=5, max_resources=3), st.sampled_from(MECHANISMS))
def test_the_pruned_ir_search_equals_the_exhaustive_one(game, name):
    outcome = make_mechanism(name).prepared(game).allocate(game, rng=np.random.default_rng(0))
    if not outcome.ok:
        return
    for i in range(game.n_defenders):
        fast = ir_violation(game, outcome, i)
        slow = ir_violation(game, outcome, i, exhaustive=True)
        assert fast.value == pytest.approx(slow.value, abs=1e-7)
        assert fast.gain == pytest.approx(slow.gain, abs=1e-7)
        assert fast.target == slow.target
