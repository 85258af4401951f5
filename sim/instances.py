"""The paper's own games, each with its citation.

Targets are indexed 0..m-1 in the paper's order (a, b, c, ...). Defenders are indexed
from 0, so the paper's defender 1 is index 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from sim.errors import InvalidGameError
from sim.game import SecurityGame


def order_payoffs(order: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The map g(<) of Gan et al. 2020, Section 3.2: a linear order to a defender type.

    ``order`` lists the targets from least to most preferred as the attacked target;
    the target of rank :math:`j_t` gets :math:`r^d(t) = j_t + 1/2` and :math:`p^d(t) = j_t`.
    The resulting type has non-overlapping payoffs (Definition 3.1).
    """
    ranks = np.empty(len(order), dtype=np.float64)
    if sorted(order) != list(range(len(order))):
        raise InvalidGameError(
            f"nonoverlapping_from_orders.orders must be permutations of "
            f"0..{len(order) - 1}; got {list(order)}"
        )
    ranks[np.asarray(order)] = np.arange(len(order))
    return ranks + 0.5, ranks


def nonoverlapping_from_orders(
    orders: Sequence[Sequence[int]],
    *,
    attacker_reward: ArrayLike,
    attacker_penalty: ArrayLike,
    resources: ArrayLike,
) -> SecurityGame:
    """A game whose defenders have the types g(<_1), ..., g(<_n) (Gan et al. 2020, §3.2).

    Parameters
    ----------
    orders : sequence of permutations
        ``orders[i]`` lists the targets from defender ``i``'s least to most preferred
        attacked target.
    attacker_reward, attacker_penalty : array_like, shape (m,)
    resources : array_like of int, shape (n,)
    """
    types = [order_payoffs(order) for order in orders]
    return SecurityGame(
        defender_reward=[reward for reward, _ in types],
        defender_penalty=[penalty for _, penalty in types],
        attacker_reward=attacker_reward,
        attacker_penalty=attacker_penalty,
        resources=resources,
    )


def theorem_3_2() -> SecurityGame:
    """The game in the proof of Theorem 3.2 (Gan et al. 2020): no outcome is strongly UP.

    Two defenders with one resource each, targets {a, b}, preferences a <_1 b and
    b <_2 a (via g), and identical targets for the attacker (r^a = 0, p^a = -1, the
    attacker type alpha* of Section 3.2).
    """
    return nonoverlapping_from_orders(
        [[0, 1], [1, 0]],
        attacker_reward=[0.0, 0.0],
        attacker_penalty=[-1.0, -1.0],
        resources=[1, 1],
    )


def example_5_2() -> SecurityGame:
    """Example 5.2 of Gan et al. 2020: no outcome is PE, weakly UP and IR (Theorem 5.5).

    Three defenders with one resource each and targets {a, b, c, d, e}:
    a <_1 b <_1 c <_1 d <_1 e;  c <_2 b <_2 a <_2 d <_2 e;  e <_3 d <_3 c <_3 b <_3 a;
    attacker rewards (1, 1, 1, 0.7, 0.7) and penalties 0.
    """
    a, b, c, d, e = range(5)
    return nonoverlapping_from_orders(
        [[a, b, c, d, e], [c, b, a, d, e], [e, d, c, b, a]],
        attacker_reward=[1.0, 1.0, 1.0, 0.7, 0.7],
        attacker_penalty=[0.0] * 5,
        resources=[1, 1, 1],
    )


def gibbard_satterthwaite_game(
    orders: Sequence[Sequence[int]],
) -> SecurityGame:
    """The game g(<_1, ..., <_n) with k = (1, 1, 0, ..., 0) and attacker alpha*
    (r^a = 0, p^a = -1 everywhere) used to build f_pi in the proof of Theorem 3.3."""
    n, m = len(orders), len(orders[0])
    if n < 2:
        raise InvalidGameError(f"gibbard_satterthwaite_game.orders needs n >= 2; got {n}")
    return nonoverlapping_from_orders(
        orders,
        attacker_reward=np.zeros(m),
        attacker_penalty=-np.ones(m),
        resources=[1, 1] + [0] * (n - 2),
    )
