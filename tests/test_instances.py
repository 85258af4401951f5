"""The paper's instances and the map g(<) (Gan et al. 2020, Sections 3.2 and 5.2)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from sim.errors import InvalidGameError
from sim.instances import (
    example_5_2,
    gibbard_satterthwaite_game,
    nonoverlapping_from_orders,
    order_payoffs,
    theorem_3_2,
)
from sim.solvers import max_coverage

pytestmark = pytest.mark.paper


def is_nonoverlapping(reward, penalty):
    """Definition 3.1: for all t != t', r(t) < p(t') or r(t') < p(t)."""
    m = reward.size
    return all(
        reward[t] < penalty[u] or reward[u] < penalty[t]
        for t in range(m)
        for u in range(m)
        if t != u
    )


def test_g_maps_an_order_to_rank_payoffs():
    reward, penalty = order_payoffs([2, 0, 1])  # 2 < 0 < 1
    assert penalty.tolist() == [1.0, 2.0, 0.0]
    assert reward.tolist() == [1.5, 2.5, 0.5]
    assert is_nonoverlapping(reward, penalty)
    with pytest.raises(InvalidGameError, match="permutations"):
        order_payoffs([0, 0, 1])


def test_theorem_3_2_game():
    game = theorem_3_2()
    assert game.resources.tolist() == [1, 1]
    # a <_1 b: defender 1 wants b attacked; b <_2 a: defender 2 wants a attacked.
    assert game.defender_penalty[0, 1] > game.defender_reward[0, 0]
    assert game.defender_penalty[1, 0] > game.defender_reward[1, 1]
    assert all(
        is_nonoverlapping(r, p)
        for r, p in zip(game.defender_reward, game.defender_penalty, strict=True)
    )


def test_example_5_2_game():
    game = example_5_2()
    assert game.attacker_reward.tolist() == [1, 1, 1, 0.7, 0.7]
    favourite = [int(np.argmax(game.defender_penalty[i])) for i in range(3)]
    least = [int(np.argmin(game.defender_penalty[i])) for i in range(3)]
    assert favourite == [4, 4, 0] and least == [0, 2, 4]  # e, e, a and a, c, e


def test_example_5_2_pooled_coverage_corrects_lemma_5_4():
    """Lemma 5.4 prints c_a = c_b = c_c = 24/31 and c_d = c_e = 21/31 with U^a = 7/31.

    Those numbers are infeasible: 3 * 24/31 + 2 * 21/31 = 114/31 > K = 3. Solving
    3 (1 - u) + 2 (1 - u / 0.7) = 3 gives u = 14/41, so the PE coverage is
    c_a = c_b = c_c = 27/41 and c_d = c_e = 21/41 (which sum to exactly 3). The proof
    of Theorem 5.5 only needs c_d + c_e > 1, which still holds: 42/41 > 1.
    """
    space = max_coverage(example_5_2())
    assert Fraction(space.level).limit_denominator(1000) == Fraction(14, 41)
    expected = [Fraction(27, 41)] * 3 + [Fraction(21, 41)] * 2
    assert [Fraction(x).limit_denominator(1000) for x in space.coverage] == expected
    assert space.coverage.sum() == pytest.approx(3.0)
    assert space.coverage[3] + space.coverage[4] > 1
    assert 3 * Fraction(24, 31) + 2 * Fraction(21, 31) > 3  # the printed values overspend


def test_gibbard_satterthwaite_construction():
    game = gibbard_satterthwaite_game([[0, 1, 2], [2, 1, 0], [1, 0, 2]])
    assert game.resources.tolist() == [1, 1, 0]
    assert game.attacker_reward.tolist() == [0, 0, 0]
    assert game.attacker_penalty.tolist() == [-1, -1, -1]


def test_nonoverlapping_from_orders_checks_lengths():
    with pytest.raises(InvalidGameError):
        nonoverlapping_from_orders(
            [[0, 1], [1, 0]],
            attacker_reward=[0, 0, 0],
            attacker_penalty=[-1, -1, -1],
            resources=[1, 1],
        )
