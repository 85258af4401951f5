r"""The equilibrium structure at :math:`(\tau, u)` and the canonical split of its demand.

``docs/nse.md`` §1.3 and §2.1. In an NSE that attacks :math:`\tau` at attacker level
:math:`u`, every target with :math:`r^a(t) > u` is covered exactly
:math:`d_t(u) = (r^a(t) - u) / \Delta^a(t)`, and defender :math:`i` covers only targets
she likes no better than :math:`\tau` (condition A). The *canonical split* shares each
target's demand between the defenders allowed on it by weighted maximum waste: with
log-weights :math:`\lambda`, the top members :math:`J_t` of its allowed defenders get

.. math::

    c^i_t = 1 - e^{\rho_t - \lambda_i}, \qquad
    \rho_t = \frac{1}{|J_t|}\Big(\log\big(1 - d_t(u)\big) + \sum_{j \in J_t} \lambda_j\Big),

so that :math:`\prod_i (1 - c^i_t) = 1 - d_t(u)` (water-filling in closed form). An
interior NSE is a root of the spending equations :math:`s_i(\lambda, u) = k_i`; with
:math:`1 - d_t(u) = (u - p^a(t)) / \Delta^a(t)` their derivatives are closed form too,

.. math::

    \frac{\partial c^i_t}{\partial \lambda_k} = e^{\rho_t - \lambda_i}
        \Big(\delta_{ik} - \frac{[k \in J_t]}{|J_t|}\Big), \qquad
    \frac{\partial c^i_t}{\partial u} = -\frac{e^{\rho_t - \lambda_i}}
        {|J_t| \, (u - p^a(t))},

which the damped Newton solves of :mod:`sim.nse.kernel` use (no finite differences).
Everything here but :func:`structure` and :func:`canonical_split` works on a
:class:`Games` batch: one game, or many reported games that differ only in the
defenders' payoffs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from sim.errors import InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.numerics import PREFERENCE_TOL, SPARE_TOL
from sim.payoffs import utility
from sim.solvers.origami import need

#: Log-weights are kept in [-bound, bound]: a weight e^30 times another already gives
#: the lighter defender no share of any target they meet on.
LOG_WEIGHT_BOUND = 30.0

#: The smallest batch that :func:`split_spending` splits once per distinct row.
#: Smaller ones (the finder's single game and its first blocks of targets) rarely
#: repeat a row.
DISTINCT_ROWS = 64


@dataclass(frozen=True)
class Structure:
    """The equilibrium structure at :math:`(\\tau, u)` (``docs/nse.md`` §2.1).

    Attributes
    ----------
    demand : ndarray, shape (m,)
        :math:`d_t(u)` on the attack set :math:`\\{t : r^a(t) > u\\} \\cup \\{\\tau\\}`,
        zero elsewhere.
    allowed : ndarray of bool, shape (n, m)
        Defenders with resources that may cover a demanded target (condition A).
    uncovered : float
        Demand on targets nobody is allowed to cover (positive: no NSE here).
    """

    demand: FloatArray
    allowed: np.ndarray
    uncovered: float


def structure(game: SecurityGame, tau: int, u: float) -> Structure:
    """The demand and the allowed (defender, target) pairs at level ``u`` attacking
    ``tau``: :func:`allowed_sets` for one game."""
    # a target with r^a(t) <= u (tau included) demands nothing, so only r^a(t) > u matter
    demand = need(game.attacker_reward, game.attacker_gap, u)
    allowed = allowed_sets(Games.single(game), np.zeros(1, np.int64), np.array([tau]), demand[None])
    uncovered = demand[(demand > 0.0) & ~allowed[0].any(axis=0)].sum()
    return Structure(demand, allowed[0], float(uncovered))


def water_fill(
    log_mu: FloatArray, log_rest: FloatArray, allowed: np.ndarray
) -> tuple[FloatArray, np.ndarray, FloatArray]:
    """The canonical split of demands below 1, with what its derivatives need.

    Parameters
    ----------
    log_mu : ndarray, shape (b, n) or (n,)
        :math:`\\lambda`, the log-weights (b: a batch of games).
    log_rest : ndarray, shape (b, m) or (m,)
        :math:`\\log(1 - d_t)` (finite: every demand is below 1).
    allowed : ndarray of bool, shape (b, n, m) or (n, m)

    Returns
    -------
    rest : ndarray, shape (b, n, m) or (n, m)
        :math:`e^{\\rho_t - \\lambda_i} = 1 - c^i_t` on the members, 0 elsewhere.
    inside : ndarray, shape (b, n, m) or (n, m)
        Membership :math:`i \\in J_t` as 1.0 or 0.0 (a factor of the products that use it).
    inverse_size : ndarray, shape (b, m) or (m,)
        :math:`1 / \\max(|J_t|, 1)`.

    Notes
    -----
    Sorted by weight, member ``j`` joins iff
    :math:`\\sum_{i < j} (\\lambda_i - \\lambda_j) < -\\log(1 - d_t)`, a prefix of the
    allowed defenders; the level :math:`\\rho_t` is then fixed by the prefix. The sum
    runs over the allowed defenders heavier than ``j`` (tied ones add 0), so it is one
    matrix product, with no sort.
    """
    if log_mu.ndim == 1:  # one game: a batch of one
        rest, inside, inverse = water_fill(log_mu[None], log_rest[None], allowed[None])
        return rest[0], inside[0], inverse[0]
    # how much heavier the allowed defenders of a target are than defender i, summed:
    # heavier[b, i, t] = sum_k allowed[b, k, t] * max(lambda_k - lambda_i, 0); ties add
    # nothing, so no sort is needed
    lm = log_mu[..., None]
    gaps = np.maximum(log_mu[:, None, :] - lm, 0.0)  # [b, i, k]: lambda_k - lambda_i
    heavier = gaps @ allowed.astype(np.float64)
    inside = (allowed & (heavier < -log_rest[:, None, :])).astype(np.float64)
    size = np.maximum(inside.sum(axis=-2), 1.0)
    level = (log_rest + (inside * lm).sum(axis=-2)) / size
    rest = inside * np.exp(np.minimum(level[..., None, :] - lm, 0.0))
    return rest, inside, 1.0 / size


def canonical_split(log_mu: FloatArray, demand: FloatArray, allowed: np.ndarray) -> FloatArray:
    """The weighted maximum-waste split of each target's demand (``docs/nse.md`` §2.1).

    Parameters
    ----------
    log_mu : ndarray, shape (n,)
        Log-weights; a larger weight takes a larger share.
    demand : ndarray, shape (m,)
        :math:`d_t` in [0, 1]; a demand of 1 goes whole to the heaviest allowed defender.
    allowed : ndarray of bool, shape (n, m)

    Returns
    -------
    ndarray, shape (n, m)
        :math:`c^i_t` with :math:`\\prod_i (1 - c^i_t) = 1 - d_t` wherever some defender is
        allowed on ``t``; zero elsewhere.
    """
    full = demand >= 1.0
    log_rest = np.log(np.clip(1.0 - demand, 1e-300, None))
    live = allowed & (demand > 0.0)[None, :] & ~full[None, :]
    rest, inside, _ = water_fill(log_mu, log_rest, live)
    share = np.where(inside, 1.0 - rest, 0.0)
    for t in np.flatnonzero(full & allowed.any(axis=0)):
        heaviest = np.flatnonzero(allowed[:, t])
        share[heaviest[np.argmax(log_mu[heaviest])], t] = 1.0
    return share


@dataclass(frozen=True, eq=False)
class Games:
    """A batch of b games sharing the attacker's payoffs and the resources, each with
    its own defender payoffs: one true game, or the reports of one defender.

    Attributes
    ----------
    game : SecurityGame
        Gives the attacker's payoffs and the resources of every game in the batch.
    penalty, gap, reward : ndarray, shape (b, n, m)
        The defenders' payoffs of each game.
    active : ndarray of bool, shape (n,)
        The defenders with resources.
    idle : bool
        Whether some defender has no resources.
    floor_verdicts : ndarray of int8, shape (b, m)
        Whether game b attacking t can have an NSE at the floor: 1 yes, 0 no, -1 not
        yet asked (:func:`sim.nse.kernel.floor_fits` fills it in, so the floor stages
        of one batch ask once per game and target).
    """

    game: SecurityGame
    penalty: FloatArray
    gap: FloatArray
    reward: FloatArray
    active: np.ndarray
    idle: bool = field(init=False)
    floor_verdicts: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "idle", not bool(self.active.all()))
        verdicts = np.full((self.size, self.game.n_targets), -1, dtype=np.int8)
        object.__setattr__(self, "floor_verdicts", verdicts)

    @classmethod
    def single(cls, game: SecurityGame) -> Games:
        """``game`` as a batch of one."""
        return cls(
            game,
            game.defender_penalty[None],
            game.defender_gap[None],
            game.defender_reward[None],
            game.resources > 0,
        )

    @classmethod
    def reports(
        cls, game: SecurityGame, defender: int, rewards: FloatArray, penalties: FloatArray
    ) -> Games:
        """``game.with_reports(defender, rewards[b], penalties[b])`` for every row b."""
        size = rewards.shape[0]
        penalty = np.repeat(game.defender_penalty[None], size, axis=0)
        reward = np.repeat(game.defender_reward[None], size, axis=0)
        penalty[:, defender], reward[:, defender] = penalties, rewards
        return cls(game, penalty, reward - penalty, reward, game.resources > 0)

    @property
    def size(self) -> int:
        """b, the number of games."""
        return int(self.penalty.shape[0])


@dataclass(frozen=True, eq=False)
class Spending:
    """The canonical split at :math:`(\\lambda, u)` and what each active defender spends,
    for r (game, target, level) rows.

    Attributes
    ----------
    feasible : ndarray of bool, shape (r,)
        No demanded target lacks an allowed defender.
    coverage : ndarray, shape (r, a, m)
        :math:`c^i_t` of the a active defenders.
    spend : ndarray, shape (r, a)
        :math:`s_i = \\sum_t c^i_t`.
    jacobian : ndarray, shape (r, a, a)
        Column 0 is :math:`\\partial s / \\partial u`; column ``j > 0`` is
        :math:`\\partial s / \\partial \\lambda_j` (:math:`\\lambda_0` is fixed: only weight
        ratios matter).
    uncovered : ndarray, shape (r,)
        Demand on targets no defender may cover (orphans).
    uncovered_slope : ndarray, shape (r,)
        Its derivative in u.
    """

    feasible: np.ndarray
    coverage: FloatArray
    spend: FloatArray
    jacobian: FloatArray
    uncovered: FloatArray
    uncovered_slope: FloatArray


def allowed_sets(games: Games, rows: np.ndarray, tau: np.ndarray, demand: FloatArray) -> np.ndarray:
    """Condition A for game ``rows[j]`` attacking ``tau[j]`` at the demands
    ``demand[j]`` (shape (r, m)): who may cover each demanded target, shape (r, n, m)
    (defenders with resources, inside their jurisdictions)."""
    game = games.game
    # a batch of one is always asked about its only game: no gather needed
    penalty_rows, gap_rows = (
        (games.penalty, games.gap) if games.size == 1 else (games.penalty[rows], games.gap[rows])
    )
    value = utility(penalty_rows, gap_rows, demand[:, None, :])
    own = value[np.arange(rows.size), :, tau]
    allowed = (value <= own[:, :, None] + PREFERENCE_TOL) & (demand > 0.0)[:, None, :]
    if games.idle:  # defenders without resources cover nothing
        allowed &= games.active[None, :, None]
    if game.restricted:  # nor outside their jurisdictions
        allowed &= game.allowed[None]
    return allowed


def split_spending(
    games: Games,
    rows: np.ndarray,
    tau: np.ndarray,
    u: FloatArray,
    log_mu: FloatArray,
    owner: np.ndarray | None = None,
    known: tuple[FloatArray, np.ndarray] | None = None,
) -> Spending:
    """The canonical split of game ``rows[j]`` attacking ``tau[j]`` at level ``u[j]``
    with log-weights ``log_mu[j]`` (one per active defender), for every j at once;
    ``known`` gives the demands and :func:`allowed_sets` of these rows at ``u`` where
    the caller has them (a solve at a fixed level computes them once).

    ``u`` is at least every :math:`p^a(t)`; a target demanding full coverage (at the
    floor level) goes whole to the active defender ``owner[j]`` (an index among the
    active ones) where she is allowed on it, else (or without ``owner``) to its
    heaviest allowed defender, and adds nothing to the
    derivatives (the level column of the Jacobian is then meaningless). Demand that no
    defender may cover is reported (``uncovered``, with its slope in u) and makes the
    row infeasible.

    The reports of one defender often share every allowed set (her payoffs enter
    the split only through condition A), so a batch of :data:`DISTINCT_ROWS` rows or
    more is split once per distinct (level, log-weights, allowed sets, owner) and
    the results are shared: each row gets, bit for bit, what an unshared batch gives it.
    """
    game = games.game
    if known is None:
        demand = need(game.attacker_reward, game.attacker_gap, u[:, None])
        known = demand, allowed_sets(games, rows, tau, demand)
    demand, allowed = known
    if rows.size >= DISTINCT_ROWS:
        first, inverse = distinct_rows(u, log_mu, allowed, owner)
        if first.size < rows.size:
            shared = _split(
                games,
                u[first],
                log_mu[first],
                demand[first],
                allowed[first],
                None if owner is None else owner[first],
            )
            return Spending(*(getattr(shared, f.name)[inverse] for f in dataclasses.fields(shared)))
    return _split(games, u, log_mu, demand, allowed, owner)


def distinct_rows(*columns: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``columns`` (arrays with the same first axis; None skipped) told
    apart by their bytes: the index of each distinct row's first occurrence, and the
    distinct index of every row. Exact (equal bytes only), so a result computed for
    the first occurrence holds bit for bit for every copy."""
    parts = []
    for column in columns:
        if column is None:
            continue
        flat = np.ascontiguousarray(column).reshape(column.shape[0], -1)
        parts.append(np.packbits(flat, axis=1) if flat.dtype == bool else flat.view(np.uint8))
    keys = np.ascontiguousarray(np.concatenate(parts, axis=1))
    rows = keys.view(np.dtype((np.void, keys.shape[1])))[:, 0]
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def _split(
    games: Games,
    u: FloatArray,
    log_mu: FloatArray,
    demand: FloatArray,
    allowed: np.ndarray,
    owner: np.ndarray | None,
) -> Spending:
    """:func:`split_spending` once the demands and allowed sets are known."""
    game = games.game
    gap, penalty = game.attacker_gap, game.attacker_penalty
    size = u.shape[0]
    live = demand > 0.0
    orphan = live > allowed.any(axis=1)  # live and nobody allowed
    member = allowed[:, games.active] if games.idle else allowed
    any_full = bool(demand.max() >= 1.0)  # only at the floor level
    if any_full:
        full = demand >= 1.0
        partial = live & ~full
        above = np.where(full, 1.0, u[:, None] - penalty)
        member_partial = member & partial[:, None, :]
    else:
        partial, above, member_partial = live, u[:, None] - penalty, member
    log_rest = np.log(above / gap) * partial  # log(1 - d_t(u)) where partial
    rest, inside, inverse = water_fill(log_mu, log_rest, member_partial)
    coverage = inside - rest
    if any_full:  # each fully demanded target whole to one allowed defender
        owners = member & full[:, None, :]
        heaviest = np.argmax(np.where(owners, log_mu[:, :, None], -np.inf), axis=1)
        if owner is not None:  # the designated owner where she may cover it
            chosen = owners[np.arange(size), owner]
            heaviest = np.where(chosen, owner[:, None], heaviest)
        at, t = np.nonzero(owners.any(axis=1))
        coverage[at, heaviest[at, t], t] = 1.0
    weighted = rest * inverse[:, None, :]
    jacobian = weighted @ inside.transpose(0, 2, 1)
    np.negative(jacobian, out=jacobian)
    jacobian.reshape(size, -1)[:, :: log_mu.shape[1] + 1] += rest.sum(axis=2)
    jacobian[:, :, 0] = -(weighted / above[:, None, :]).sum(axis=2)
    if orphan.any():
        uncovered = (demand * orphan).sum(axis=1)
        slope = -(orphan / gap).sum(axis=1)
        feasible = uncovered == 0.0
    else:
        uncovered = slope = np.zeros(size)
        feasible = np.ones(size, dtype=bool)
    return Spending(feasible, coverage, coverage.sum(axis=2), jacobian, uncovered, slope)


def spending(
    game: SecurityGame,
    tau: int,
    active: np.ndarray,
    log_mu: FloatArray,
    u: float,
    *,
    orphans: bool = False,
) -> Spending | None:
    """:func:`split_spending` for one game, target and level (its row, without the
    leading axis), or None when some demanded target has no allowed defender and
    ``orphans`` is False.

    ``active`` must be ``game.resources > 0`` (every solver's active set).
    """
    games = Games.single(game)
    if not np.array_equal(active, games.active):
        raise InvalidParameterError("spending.active must be game.resources > 0")
    sp = split_spending(
        games, np.zeros(1, dtype=np.int64), np.array([tau]), np.array([float(u)]), log_mu[None]
    )
    if not (orphans or sp.feasible[0]):
        return None
    return Spending(*(getattr(sp, f.name)[0] for f in dataclasses.fields(sp)))


def may_spare(games: Games, rows: np.ndarray, tau: np.ndarray, u: float | FloatArray) -> np.ndarray:
    """Rule B at level ``u`` (``docs/nse.md`` §1.3): who may keep spare resources,
    shape (r, n).

    A defender with spare budget could raise every best response she can reach, and
    she gains unless a best response she cannot raise stays, one she likes no better
    than tau. Without jurisdictions those are the targets pinned at the floor (fully
    covered): everybody may spare when tau itself is pinned, else whoever likes some
    pinned target, even covered, no better than tau; above the floor nobody may.
    With jurisdictions the best responses outside her own count too, at their
    coverage (``docs/jurisdictions.md`` §3). ``u`` may be one level per row.
    """
    game = games.game
    level = np.zeros((rows.size, 1))
    level[:, 0] = u  # one level, or one per row
    at = np.arange(rows.size)
    pinned = game.attacker_penalty[None] >= level  # (r, m)
    if not game.restricted:
        demand = need(game.attacker_reward[tau], game.attacker_gap[tau], level[:, 0])
        v_tau = utility(games.penalty[rows, :, tau], games.gap[rows, :, tau], demand[:, None])
        min_pinned = np.where(pinned[:, None], games.reward[rows], np.inf).min(axis=2)
        return np.asarray(pinned[at, tau][:, None] | (min_pinned <= v_tau + SPARE_TOL))
    best = game.attacker_reward[None] >= level  # every target at the level, pinned too
    unmovable = best[:, None] & (pinned[:, None] | ~game.allowed[None])  # (r, n, m)
    cover = need(game.attacker_reward, game.attacker_gap, level)
    covered = utility(games.penalty[rows], games.gap[rows], cover[:, None])
    value = np.where(pinned[:, None], games.reward[rows], covered)
    lowest = np.where(unmovable, value, np.inf).min(axis=2)
    v_tau = value[at, :, tau]
    return np.asarray(unmovable[at, :, tau] | (lowest <= v_tau + SPARE_TOL))
