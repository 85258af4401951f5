"""Hypothesis strategies that *build* valid games (draw a penalty, then a positive gap).

Payoffs come from a small grid half of the time so that ties (equal rewards, equal
penalties, identical targets) are common, which is where the solvers are delicate.
"""

from __future__ import annotations

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

from sim.game import SecurityGame


def examples(quick: int) -> int:
    """A property test's example count: ``quick`` under the default profile, scaled by
    the loaded profile's ``max_examples`` over the default 100 (``tests/conftest.py``:
    five times under ``stress``)."""
    return max(1, quick * settings.default.max_examples // 100)


_GRID = [-2.0, -1.0, 0.0, 0.5, 1.0, 2.0]


def _values(size: int) -> st.SearchStrategy[list[float]]:
    value = st.one_of(
        st.sampled_from(_GRID),
        st.floats(min_value=-10, max_value=10, allow_nan=False).map(lambda x: round(x, 3)),
    )
    return st.lists(value, min_size=size, max_size=size)


def _gaps(size: int) -> st.SearchStrategy[list[float]]:
    gap = st.one_of(
        st.sampled_from([0.5, 1.0, 2.0]),
        st.floats(min_value=0.01, max_value=10).map(lambda x: round(x, 3) or 0.01),
    )
    return st.lists(gap, min_size=size, max_size=size)


@st.composite
def games(
    draw: st.DrawFn,
    *,
    min_defenders: int = 1,
    max_defenders: int = 4,
    max_targets: int = 8,
    max_resources: int = 4,
    min_resources: int = 0,
    identical_attacker: bool | None = None,
    max_attacks: int = 1,
    jurisdictions: bool = False,
) -> SecurityGame:
    """A valid game; with ``jurisdictions`` a random mask (every defender with
    resources keeps at least one target; all True now and then)."""
    n = draw(st.integers(min_defenders, max_defenders))
    m = draw(st.integers(1, max_targets))
    penalty = np.array(draw(_values(n * m))).reshape(n, m)
    reward = penalty + np.array(draw(_gaps(n * m))).reshape(n, m)
    identical = draw(st.booleans()) if identical_attacker is None else identical_attacker
    if identical:
        attacker_penalty = np.full(m, draw(st.sampled_from(_GRID)))
        attacker_reward = attacker_penalty + draw(st.sampled_from([0.5, 1.0, 3.0]))
    else:
        attacker_penalty = np.array(draw(_values(m)))
        attacker_reward = attacker_penalty + np.array(draw(_gaps(m)))
    resources = draw(st.lists(st.integers(min_resources, max_resources), min_size=n, max_size=n))
    attacks = draw(st.integers(1, min(max_attacks, m)))
    allowed = None
    if jurisdictions:
        allowed = np.array(draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m)))
        allowed = allowed.reshape(n, m)
        for i in range(n):
            if not allowed[i].any():
                allowed[i, draw(st.integers(0, m - 1))] = True
    return SecurityGame(
        defender_reward=reward,
        defender_penalty=penalty,
        attacker_reward=attacker_reward,
        attacker_penalty=attacker_penalty,
        resources=resources,
        attacker_resources=attacks,
        allowed=allowed,
    )


@st.composite
def coverage_of_others(draw: st.DrawFn, m: int, *, digits: int | None = None) -> np.ndarray:
    """Others' combined coverage with many exact zeros and ones (pinned ties,
    docs/nse.md §4.4); ``digits`` rounds the rest to a grid (HiGHS's feasibility
    tolerance, 1e-7, cannot tell apart values 1e-9 apart, which a target out of a
    deviator's jurisdiction would otherwise pin at such distances)."""
    value = st.floats(0.0, 1.0)
    if digits is not None:
        value = value.map(lambda x: round(x, digits))
    coverage = st.one_of(st.sampled_from([0.0, 1.0, 0.5]), value)
    return np.array(draw(st.lists(coverage, min_size=m, max_size=m)))
