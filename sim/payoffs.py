"""Utilities, attacker best responses and tie-breaking (Gan et al. 2020, Section 2).

All functions take a coverage vector ``c`` of shape (m,) with entries in [0, 1].
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sim.errors import InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.numerics import BR_TOL, TIE_BREAKING_MODES, TieBreaking


def _coverage(game: SecurityGame, coverage: ArrayLike) -> FloatArray:
    c = np.asarray(coverage, dtype=np.float64)
    if c.shape != (game.n_targets,):
        raise InvalidParameterError(f"coverage must have shape ({game.n_targets},); got {c.shape}")
    return c


def defender_utilities(game: SecurityGame, coverage: ArrayLike) -> FloatArray:
    """:math:`U_i^d(c, t)` for every defender and target, shape (n, m)."""
    return utility(game.defender_penalty, game.defender_gap, _coverage(game, coverage))


def defender_utility(game: SecurityGame, coverage: ArrayLike, target: int) -> FloatArray:
    """:math:`U_i^d(c, t)` for every defender when ``target`` is attacked, shape (n,)."""
    c = _coverage(game, coverage)
    return target_utility(game, target, c[target])


def utility(penalty: FloatArray, gap: FloatArray, coverage: FloatArray | float) -> FloatArray:
    """The defender-utility formula :math:`U_i^d = p_i(t) + c_t \\Delta_i(t)` (Section 2),
    broadcast over any shapes: the one place it is written, for true and reported
    payoffs alike (``penalty`` and ``gap`` of the attacked targets, ``coverage`` theirs).
    """
    return penalty + coverage * gap


def target_utility(
    game: SecurityGame, target: int, coverage: float, defender: int | None = None
) -> FloatArray:
    """:math:`U_i^d` when ``target`` is attacked and covered with probability
    ``coverage``: shape (n,), or a 0-d array for one ``defender``."""
    rows = slice(None) if defender is None else defender
    return utility(game.defender_penalty[rows, target], game.defender_gap[rows, target], coverage)


def attacker_utilities(game: SecurityGame, coverage: ArrayLike) -> FloatArray:
    """:math:`U^a(c, t)` for every target, shape (m,)."""
    c = _coverage(game, coverage)
    return game.attacker_reward - c * game.attacker_gap


def best_responses(
    game: SecurityGame, coverage: ArrayLike, *, tol: float = BR_TOL
) -> NDArray[np.int64]:
    """:math:`\\mathrm{BR}(c)`: the targets within ``tol`` of the attacker's best utility.

    Returns the sorted target indices.
    """
    u = attacker_utilities(game, coverage)
    return np.flatnonzero(u >= u.max() - tol).astype(np.int64)


def attacked_target(
    game: SecurityGame,
    coverage: ArrayLike,
    *,
    tie_breaking: TieBreaking = "designated",
    designated: int | None = None,
    fallback: TieBreaking = "pessimistic",
    rng: np.random.Generator | None = None,
    tol: float = BR_TOL,
) -> int:
    """The target the attacker attacks under ``coverage`` and a tie-breaking rule.

    Parameters
    ----------
    tie_breaking : {"designated", "pessimistic", "optimistic", "lowest_index", "random"}
        ``designated``: the outcome's own target when it is a best response -- the rule
        the paper uses for a mechanism's outcomes (Section 2: an outcome (x, t) needs
        t in BR(x)); when it is not (say after a deviation), ``fallback`` decides.
        ``pessimistic`` / ``optimistic``: the best response worst / best for the
        defenders' total utility (lowest index among equals). ``lowest_index``: the
        first best response. ``random``: uniform over the best responses (needs ``rng``).
    designated : int, optional
        The designated target; required by ``"designated"``.
    tol : float
        Attacker utilities within ``tol`` of the maximum are tied.
    """
    if tie_breaking not in TIE_BREAKING_MODES:
        raise InvalidParameterError(
            f"attacked_target.tie_breaking must be one of {list(TIE_BREAKING_MODES)}; "
            f"got {tie_breaking!r}"
        )
    br = best_responses(game, coverage, tol=tol)
    if tie_breaking == "designated":
        if designated is None:
            raise InvalidParameterError(
                "attacked_target.designated is required with tie_breaking='designated'"
            )
        if designated in br:
            return int(designated)
        if fallback == "designated":
            raise InvalidParameterError("attacked_target.fallback cannot be 'designated'")
        tie_breaking = fallback
    if tie_breaking == "lowest_index":
        return int(br[0])
    if tie_breaking == "random":
        if rng is None:
            raise InvalidParameterError("attacked_target.rng is required with 'random'")
        return int(br[rng.integers(br.size)])
    welfare = defender_utilities(game, coverage)[:, br].sum(axis=0)
    pick = np.argmin(welfare) if tie_breaking == "pessimistic" else np.argmax(welfare)
    return int(br[pick])
