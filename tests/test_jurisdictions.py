"""Jurisdictions (issue 16, part 2; ``docs/jurisdictions.md``): each defender may cover
only her own targets. The masked deviation oracle against the masked multiple-LP
reference, masked NSEs certified by both, the masked outcome space against the
schedule solver, recommendations that respect ownership, and: with a full mask,
exactly today's results."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import InvalidGameError, InvalidParameterError
from sim.game import SecurityGame
from sim.generators import make_generator
from sim.solvers import deviation_value, find_nse
from sim.solvers.reference import lp_deviation_value, lp_nse_gain

from strategies import games

SLOW = [HealthCheck.too_slow]


@st.composite
def others(draw, m):
    """Others' coverage with many exact zeros and ones (pinned ties), on a 1e-4 grid:
    HiGHS's feasibility tolerance (1e-7) cannot tell apart values 1e-9 apart, which
    a target out of reach would otherwise pin at such distances."""
    value = st.one_of(
        st.sampled_from([0.0, 1.0, 0.5]), st.floats(0.0, 1.0).map(lambda x: round(x, 4))
    )
    return np.array(draw(st.lists(value, min_size=m, max_size=m)))


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
@settings(max_examples=300, deadline=None, suppress_health_check=SLOW)
@given(games(max_targets=6, jurisdictions=True), st.data())
def test_masked_oracle_matches_masked_multiple_lps(game, data):
    q = data.draw(others(game.n_targets))
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
@settings(max_examples=150, deadline=None, suppress_health_check=SLOW)
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
