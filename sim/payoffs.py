"""Utilities, attacker best responses and tie-breaking (Gan et al. 2020, Section 2),
and the combined coverage of a profile (Eq. 2): the model's formulas, each written once.

The utility functions take a coverage vector ``c`` of shape (m,) with entries in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

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
    """:math:`\\mathrm{BR}(c)`: the targets within ``tol`` (a fraction of the attacker's
    payoff range) of the attacker's best utility.

    Returns the sorted target indices.
    """
    u = attacker_utilities(game, coverage)
    return np.flatnonzero(u >= u.max() - tol * game.units.attacker_scale).astype(np.int64)


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
        Attacker utilities within ``tol`` of the maximum are tied (a fraction of his
        payoff range).
    """
    return attacked_targets(
        game,
        coverage,
        attacks=1,
        tie_breaking=tie_breaking,
        designated=None if designated is None else (designated,),
        fallback=fallback,
        rng=rng,
        tol=tol,
        owner="attacked_target",
    )[0]


def attacked_targets(
    game: SecurityGame,
    coverage: ArrayLike,
    *,
    attacks: int | None = None,
    tie_breaking: TieBreaking = "designated",
    designated: Sequence[int] | None = None,
    fallback: TieBreaking = "pessimistic",
    rng: np.random.Generator | None = None,
    tol: float = BR_TOL,
    owner: str = "attacked_targets",
) -> tuple[int, ...]:
    """The targets an attacker with ``attacks`` resources hits under ``coverage``: his
    ``attacks`` best targets (utilities are additive over the attacked set, Korzhyk,
    Conitzer and Parr 2011), the targets tied at the margin chosen by a rule.

    Targets worth more than the ``attacks``-th best utility by over ``tol`` are
    attacked; the remaining places go to the targets within ``tol`` of it, chosen by
    ``tie_breaking`` as in :func:`attacked_target` (``designated``: the designated
    targets among them first, ``fallback`` for the rest; ``pessimistic`` /
    ``optimistic``: the worst / best for the defenders' total utility; ``random``:
    drawn one at a time). With one attack this is :func:`attacked_target`.

    Parameters
    ----------
    attacks : int, optional
        How many distinct targets he attacks; default ``game.attacker_resources``.
    designated : sequence of int, optional
        The designated targets; required by ``"designated"``.

    Returns
    -------
    tuple of int
        The attacked targets, sorted.
    """
    if tie_breaking not in TIE_BREAKING_MODES:
        raise InvalidParameterError(
            f"{owner}.tie_breaking must be one of {list(TIE_BREAKING_MODES)}; got {tie_breaking!r}"
        )
    if rng is None and "random" in (tie_breaking, fallback):
        raise InvalidParameterError(f"{owner}.rng is required with 'random'")
    c = _coverage(game, coverage)
    m = game.n_targets
    count = game.attacker_resources if attacks is None else attacks
    if not (
        isinstance(count, int | np.integer) and not isinstance(count, bool) and 1 <= count <= m
    ):
        raise InvalidParameterError(f"{owner}.attacks must be an int in [1, {m}]; got {count!r}")
    u = attacker_utilities(game, c)
    tol = tol * game.units.attacker_scale
    if count == 1:  # the common case: no target beats the best one
        cut = u.max()
        sure: list[int] = []
    else:
        cut = np.partition(u, m - count)[m - count]  # the count-th best utility
        sure = np.flatnonzero(u > cut + tol).tolist()
    tied = np.flatnonzero(np.abs(u - cut) <= tol).tolist()
    need = count - len(sure)
    chosen: list[int] = []
    if tie_breaking == "designated":
        if designated is None:
            raise InvalidParameterError(
                f"{owner}.designated is required with tie_breaking='designated'"
            )
        chosen = [int(t) for t in designated if t in tied][:need]
        if len(chosen) < need and fallback == "designated":
            raise InvalidParameterError(f"{owner}.fallback cannot be 'designated'")
        tie_breaking = fallback
        tied = [t for t in tied if t not in chosen]
    rest = need - len(chosen)
    if rest > 0:
        chosen += _tie_break(game, c, tied, rest, tie_breaking, rng)
    return tuple(sorted([*sure, *chosen]))


def _tie_break(
    game: SecurityGame,
    coverage: FloatArray,
    tied: list[int],
    count: int,
    rule: str,
    rng: np.random.Generator | None,
) -> list[int]:
    """``count`` of the ``tied`` targets (sorted) by ``rule``."""
    if rule == "lowest_index" or len(tied) == count:
        return tied[:count]
    if rule == "random":
        pool = list(tied)
        assert rng is not None  # checked by the caller
        return [pool.pop(int(rng.integers(len(pool)))) for _ in range(count)]
    welfare = utility(
        game.defender_penalty[:, tied], game.defender_gap[:, tied], coverage[tied]
    ).sum(axis=0)
    order = np.argsort(welfare if rule == "pessimistic" else -welfare, kind="stable")
    return [tied[j] for j in order[:count]]


def set_utility(
    game: SecurityGame, coverage: ArrayLike, targets: Sequence[int], defender: int | None = None
) -> FloatArray:
    """Every defender's utility when the attacker hits all of ``targets`` (additive over
    the attacked set, Korzhyk, Conitzer and Parr 2011): shape (n,), or a 0-d array for
    one ``defender``."""
    c = _coverage(game, coverage)
    t = list(targets)
    rows = slice(None) if defender is None else defender
    return utility(game.defender_penalty[rows, t], game.defender_gap[rows, t], c[t]).sum(axis=-1)


def realised_set_utility(
    game: SecurityGame,
    guarded: ArrayLike,
    targets: Sequence[int],
    defender: int | None = None,
) -> FloatArray:
    """Every defender's realised utility when ``targets`` are hit and ``guarded``
    (bool, shape (m,)) says which targets some resource stands on: shape (n,), or a
    0-d array for one ``defender``."""
    t = list(targets)
    rows = slice(None) if defender is None else defender
    hit = np.asarray(guarded, dtype=bool)[t]
    reward, penalty = game.defender_reward[rows, t], game.defender_penalty[rows, t]
    return np.where(hit, reward, penalty).sum(axis=-1)


def combined_coverage(profile: ArrayLike, axis: int = 0) -> FloatArray:
    r"""Eq. (2): :math:`c_t = 1 - \prod_i (1 - c^i_t)` for a profile of shape (n, m)
    (the defenders along ``axis``).

    Summed as :math:`\sum_i c^i_t \prod_{j < i} (1 - c^j_t)`, which equals it and
    does not cancel: ``1 - prod(1 - c)`` loses the low digits of a tiny coverage,
    and times an attacker gap of 1e9 that moves the attacker's utility by more than
    the best-response tolerance (a single defender's ORIGAMI outcome failed its own
    check so).
    """
    x = np.moveaxis(np.asarray(profile, dtype=np.float64), axis, -2)
    return combine(x, products_before(1.0 - x))


def products_before(rest: FloatArray) -> FloatArray:
    r""":math:`\prod_{j < i} (1 - c^j_t)` for each defender i of profiles (..., n, m),
    from ``rest`` :math:`= 1 - c`."""
    ones = np.ones((*rest.shape[:-2], 1, rest.shape[-1]))
    return np.concatenate((ones, rest[..., :-1, :]), axis=-2).cumprod(axis=-2)


def combine(profile: FloatArray, before: FloatArray) -> FloatArray:
    """:func:`combined_coverage` of profiles (..., n, m) given :func:`products_before`."""
    return np.asarray((profile * before).sum(axis=-2))
