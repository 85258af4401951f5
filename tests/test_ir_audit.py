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
from mechanisms.modification import PLAYABLE_MIX, _LevelLP, signals
from mechanisms.properties import ir_violation
from sim.payoffs import target_utility

from strategies import examples, games

MECHANISMS = ["csw_max", "dictatorship", "utilitarian", "egalitarian"]

#: The hypothesis games of this module: small, with ties and jurisdictions.
GAMES = games(max_defenders=3, max_targets=6, max_resources=3, jurisdictions=True)


def _allocated(game, name):
    """``name``'s outcome on ``game`` (seed 0), or None where it fails."""
    outcome = make_mechanism(name).prepared(game).allocate(game, rng=np.random.default_rng(0))
    return outcome if outcome.ok else None


@settings(max_examples=examples(150), deadline=None)
@given(GAMES, st.sampled_from(MECHANISMS))
def test_the_ir_search_equals_the_multiple_lp_reference(game, name):
    outcome = _allocated(game, name)
    if outcome is None:
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


@settings(max_examples=examples(100), deadline=None)
@given(GAMES, st.sampled_from(MECHANISMS))
def test_the_mixed_attack_bounds_every_free_level_below(game, name):
    # the screen that spares the strictness solve: D(lambda without t) <= the others'
    # least level with t's row free, and equal to L° where the optimal mix leaves t out
    outcome = _allocated(game, name)
    if outcome is None:
        return
    for i in range(game.n_defenders):
        _, prob, covered = signals(outcome.recommendation, i)
        k = float(game.resources[i])
        model = _LevelLP(game, prob[:, None] - covered, covered.sum(axis=0), k, game.allowed[i])
        least = model.least_level()
        mix = model.least_mix()
        for t in range(game.n_targets):
            floor = model.floor_without(mix, t)
            assert floor <= model.level_without(t) + 1e-7
            if mix[t] == 0.0 and mix.sum() > 0.0:
                assert floor == pytest.approx(least, abs=1e-7)
