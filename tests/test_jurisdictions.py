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

from sim.errors import InvalidGameError
from sim.game import SecurityGame
from sim.solvers import deviation_value
from sim.solvers.reference import lp_deviation_value

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
