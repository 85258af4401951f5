"""The mechanism protocol, its registry, and the machinery every mechanism shares.

``notes/solvers.md`` §2: for a fixed attacked target t every defender's utility rises
with :math:`c_t` only, and the largest :math:`c_t` compatible with t being a best
response, :math:`x_t`, is realised for every t at once by :math:`\\mathrm{need}(u^*)`.
So every mechanism here picks a column of the matrix
:math:`V_{it} = U_i^d(x_t, t)` over the attack set: an argmax in closed form. The
``lp`` backend computes the same columns with one HiGHS LP per target (the paper's
LP-t, eq. 4) and is the differential reference.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
from scipy.optimize import linprog

from mechanisms.outcome import MechanismOutcome
from sim.errors import InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.numerics import UTILITY_TOL
from sim.registry import Registry, params_of
from sim.sampling import Recommendation
from sim.solvers import NSEResult, compute_nse, max_coverage, utilities_at_max_coverage
from sim.solvers.batch import quick_nse_batch


@runtime_checkable
class Mechanism(Protocol):
    """A coordination mechanism: reported game in, outcome out."""

    name: ClassVar[str]
    claims: ClassVar[frozenset[str]]

    def allocate(self, game: SecurityGame, *, rng: np.random.Generator) -> MechanismOutcome:
        """The outcome on the *reported* ``game``."""
        ...

    def prepared(self, true_game: SecurityGame) -> Mechanism:
        """The mechanism as run on ``true_game``'s instance: binds what the authority
        knows before the reports (the status-quo NSE for ``csw_max_nse``)."""
        ...


MECHANISMS: Registry[Any] = Registry("mechanism")
register_mechanism = MECHANISMS.register


def make_mechanism(name: str, **params: Any) -> Mechanism:
    """Build the registered mechanism ``name`` with ``params``."""
    mechanism: Mechanism = MECHANISMS.make(name, **params)
    return mechanism


def available_mechanisms() -> list[str]:
    """The registered mechanism names, sorted."""
    return MECHANISMS.names()


#: Property names used in ``claims`` and by the audits in :mod:`mechanisms.properties`.
PROPERTIES = frozenset(
    {"pareto_efficient", "weakly_up", "strongly_up", "strategyproof", "individually_rational"}
)


def lexicographic_argmax(
    keys: Sequence[FloatArray], valid: np.ndarray, tol: float = UTILITY_TOL
) -> np.ndarray:
    """Per row, the lowest index maximising ``keys[0]``, ties broken by ``keys[1]``, ...

    Parameters
    ----------
    keys : sequence of ndarray, shape (b, m)
    valid : ndarray of bool, shape (b, m) or (m,)
        Rows with no valid entry get -1.

    Values within ``tol`` of the row maximum are ties (never an accident of argmax).
    """
    mask = np.broadcast_to(valid, keys[0].shape).copy()
    for key in keys:
        masked = np.where(mask, key, -np.inf)
        top = masked.max(axis=1, keepdims=True)
        mask &= masked >= top - tol
    pick = np.argmax(mask, axis=1)
    return np.where(mask.any(axis=1), pick, -1)


@dataclass(frozen=True)
class OutcomeSpace:
    """The finite set of candidate outcomes of a game (``notes/solvers.md`` §2).

    Attributes
    ----------
    values : ndarray, shape (n, m)
        :math:`U_i^d(x_t, t)` (``-inf`` where t can never be attacked).
    feasible : ndarray of bool, shape (m,)
        The attack set.
    coverage : ndarray, shape (m, m)
        ``coverage[t]`` is a feasible coverage vector attacking t with :math:`c_t = x_t`.
    """

    values: FloatArray
    feasible: np.ndarray
    coverage: FloatArray


def closed_form_space(game: SecurityGame) -> OutcomeSpace:
    """The outcome space in O(m log m + nm): one vector realises every :math:`x_t`."""
    space = max_coverage(game)
    values = utilities_at_max_coverage(game, space)
    coverage = np.broadcast_to(space.coverage, (game.n_targets, game.n_targets))
    return OutcomeSpace(values, space.attack_set.copy(), coverage)


def lp_space(game: SecurityGame, floor: FloatArray | None = None) -> OutcomeSpace:
    """The outcome space by the paper's LP-t (eq. 4), one HiGHS LP per target.

    ``floor`` (shape (n,)) adds constraint (4a), :math:`U_i^d(c, t) \\ge` floor_i; the
    objective :math:`\\sum_i U_i^d(c, t)` is increasing in :math:`c_t` only, so LP-t
    maximises :math:`c_t` subject to (4a)-(4d).
    """
    n, m = game.n_defenders, game.n_targets
    gap, reward = game.attacker_gap, game.attacker_reward
    values = np.full((n, m), -np.inf)
    feasible = np.zeros(m, dtype=bool)
    coverage = np.zeros((m, m))
    for t in range(m):
        rows, rhs = [], []
        for s in range(m):
            if s != t:  # (4b)
                row = np.zeros(m)
                row[s], row[t] = -gap[s], gap[t]
                rows.append(row)
                rhs.append(reward[t] - reward[s])
        rows.append(np.ones(m))  # (4c)
        rhs.append(float(game.total_resources))
        bounds = [(0.0, 1.0)] * m  # (4d)
        if floor is not None:  # (4a): p_i(t) + c_t gap_i(t) >= floor_i
            low = float(np.max((floor - game.defender_penalty[:, t]) / game.defender_gap[:, t]))
            if low > 1.0 + 1e-12:
                continue
            bounds[t] = (min(max(low, 0.0), 1.0), 1.0)
        objective = -game.defender_gap[:, t].sum() * np.eye(m)[t]
        result = linprog(objective, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds)
        if result.status == 2:
            continue
        if result.status != 0:
            raise RuntimeError(f"HiGHS failed on LP-{t}: {result.message}")
        feasible[t] = True
        coverage[t] = result.x
        values[:, t] = game.defender_penalty[:, t] + result.x[t] * game.defender_gap[:, t]
    return OutcomeSpace(values, feasible, coverage)


BACKENDS = ("closed_form", "lp")


@dataclass(frozen=True)
class OutcomeSetMechanism:
    """Base of the mechanisms that pick one outcome of the finite outcome set.

    Subclasses implement :meth:`choose` on a batch of value matrices, so the misreport
    search can evaluate many reports in one numpy call.

    Parameters
    ----------
    backend : {"closed_form", "lp"}
        ``lp`` recomputes the outcome space with the paper's LP-t per target (slow;
        the differential reference).
    epsilon : float
        Lower the attacked target's coverage by this much so it is the strict best
        response (0 keeps the paper's designated tie-breaking).
    """

    backend: str = "closed_form"
    epsilon: float = 0.0

    name: ClassVar[str]
    claims: ClassVar[frozenset[str]] = frozenset()
    #: Claims that hold on a restricted class of games, e.g. Theorem 4.3's
    #: ``"nonoverlapping"``: the conformance suite checks them on that class.
    conditional_claims: ClassVar[dict[str, str]] = {}
    #: Whether the outcome depends on a status-quo NSE (weak UP constraint).
    uses_status_quo: ClassVar[bool] = False
    #: Whether ``allocate`` draws from its ``rng`` (its outcomes cannot be cached).
    randomised: ClassVar[bool] = False

    def __post_init__(self) -> None:
        owner = type(self).__name__
        if self.backend not in BACKENDS:
            raise InvalidParameterError(
                f"{owner}.backend must be one of {list(BACKENDS)}; got {self.backend!r}"
            )
        if not (isinstance(self.epsilon, int | float) and 0.0 <= self.epsilon < 1.0):
            raise InvalidParameterError(f"{owner}.epsilon must be in [0, 1); got {self.epsilon!r}")

    # -- hooks -----------------------------------------------------------------------
    def status_quo(self, game: SecurityGame, *, quick: bool = False) -> NSEResult | None:
        """The status-quo NSE the outcome must preserve (CSW-Max step 1), or None.

        ``quick`` (used when evaluating many reports) skips the finder's slow passes.
        """
        return compute_nse(game, quick=quick) if self.uses_status_quo else None

    def choose(
        self,
        values: FloatArray,
        feasible: np.ndarray,
        status_quo: FloatArray | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The chosen target per batch row (-1: none).

        Parameters
        ----------
        values : ndarray, shape (b, n, m)
        feasible : ndarray of bool, shape (m,)
        status_quo : ndarray, shape (b, n), or None
        """
        raise NotImplementedError

    def prepared(self, true_game: SecurityGame) -> Mechanism:
        """Nothing is known before the reports: the mechanism itself."""
        return self

    # -- the shared pipeline ---------------------------------------------------------
    def allocate(self, game: SecurityGame, *, rng: np.random.Generator) -> MechanismOutcome:
        """Run the mechanism on the reported ``game``."""
        nse = self.status_quo(game)
        if nse is not None and not nse.verified:
            return self.failed(game, "no verified status-quo NSE for the reported game")
        sq = None if nse is None else nse.defender_utility
        space = self.space(game, sq)
        target = int(self.choose(space.values[None], space.feasible, _batch(sq), rng)[0])
        if target < 0:
            return self.failed(game, "no feasible target")
        return self.finish(game, space.coverage[target], target, sq)

    def space(self, game: SecurityGame, status_quo: FloatArray | None) -> OutcomeSpace:
        """The outcome space by the configured backend."""
        if self.backend == "lp":
            return lp_space(game, status_quo if self.uses_status_quo else None)
        return closed_form_space(game)

    def finish(
        self,
        game: SecurityGame,
        coverage: FloatArray,
        target: int,
        status_quo: FloatArray | None,
    ) -> MechanismOutcome:
        """Apply the epsilon rule, compute utilities and the recommendation."""
        c = np.array(coverage, dtype=np.float64)
        c[target] = max(0.0, c[target] - self.epsilon)
        utility = game.defender_penalty[:, target] + c[target] * game.defender_gap[:, target]
        for array in (c, utility):
            array.setflags(write=False)
        return MechanismOutcome(
            mechanism=self.name,
            params=params_of(self),
            coverage=c,
            attacked_target=target,
            defender_utility=utility,
            status_quo_utility=status_quo,
            recommendation=Recommendation.from_coverage(c, game.resources),
            epsilon=float(self.epsilon),
        )

    def failed(self, game: SecurityGame, message: str) -> MechanismOutcome:
        """An outcome with ``status="failed"`` (recorded by studies, never raised)."""
        return MechanismOutcome(
            mechanism=self.name,
            params=params_of(self),
            coverage=np.zeros(game.n_targets),
            attacked_target=-1,
            defender_utility=np.full(game.n_defenders, np.nan),
            status_quo_utility=None,
            recommendation=None,
            status="failed",
            message=message,
        )

    def outcomes_for_reports(
        self,
        game: SecurityGame,
        defender: int,
        rewards: FloatArray,
        penalties: FloatArray,
        seed: int,
    ) -> tuple[np.ndarray, FloatArray]:
        """Targets (b,) and coverages (b, m) when ``defender`` reports each row.

        The outcome space depends on the attacker alone, so only her row of the value
        matrix changes: one numpy call for the whole batch (plus one NSE per report
        when the status quo is computed from the reports).
        """
        if self.backend != "closed_form":
            return outcomes_by_allocation(self, game, defender, rewards, penalties, seed)
        space, values = report_values(game, defender, rewards, penalties)
        cover = space.coverage[0]
        status_quo = None
        if self.uses_status_quo:
            status_quo = self.status_quo_for_reports(game, defender, rewards, penalties)
        targets = self.choose(values, space.feasible, status_quo, np.random.default_rng(seed))
        return targets, self.coverages(cover, targets)

    def status_quo_for_reports(
        self, game: SecurityGame, defender: int, rewards: FloatArray, penalties: FloatArray
    ) -> FloatArray:
        """The status-quo utilities (b, n) of every reported game; ``inf`` where the quick
        finder misses (no outcome then passes the weak-UP test).

        The reported games' NSEs are found in one batch
        (:func:`~sim.solvers.batch.quick_nse_batch`) where the finder's first proposal
        resolves them, and one by one otherwise.
        """
        out = np.full((rewards.shape[0], game.n_defenders), np.inf)
        todo = np.arange(rewards.shape[0])
        if type(self).status_quo is OutcomeSetMechanism.status_quo:  # the finder's NSE
            batch = quick_nse_batch(game, defender, rewards, penalties)
            out[batch.ok] = batch.defender_utility[batch.ok]
            todo = np.flatnonzero(~batch.ok)
        for b in todo:
            nse = self.status_quo(game.with_reports(defender, rewards[b], penalties[b]), quick=True)
            if nse is not None and nse.verified:
                out[b] = nse.defender_utility
        return out

    def coverages(self, cover: FloatArray, targets: np.ndarray) -> FloatArray:
        """The outcome coverage per chosen target (the epsilon rule applied)."""
        out = np.repeat(cover[None], targets.size, axis=0)
        rows = np.flatnonzero(targets >= 0)
        out[rows, targets[rows]] = np.maximum(out[rows, targets[rows]] - self.epsilon, 0.0)
        return out

    def replace(self, **changes: Any) -> OutcomeSetMechanism:
        """A copy with some parameters changed."""
        return dataclasses.replace(self, **changes)


def report_values(
    game: SecurityGame, defender: int, rewards: FloatArray, penalties: FloatArray
) -> tuple[OutcomeSpace, FloatArray]:
    """The outcome space and, per report, the value matrix (b, n, m) in which only
    ``defender``'s row changes (the space depends on the attacker alone)."""
    space = closed_form_space(game)
    values = np.repeat(space.values[None], rewards.shape[0], axis=0)
    values[:, defender] = np.where(
        space.feasible, penalties + space.coverage[0] * (rewards - penalties), -np.inf
    )
    return space, values


def _batch(status_quo: FloatArray | None) -> FloatArray | None:
    return None if status_quo is None else status_quo[None]


def outcomes_per_report(
    game: SecurityGame,
    defender: int,
    rewards: FloatArray,
    penalties: FloatArray,
    evaluate: Callable[[SecurityGame], tuple[int, FloatArray] | None],
) -> tuple[np.ndarray, FloatArray]:
    """Targets (b,) and coverages (b, m) from ``evaluate`` on each reported game
    (target -1 where it gives nothing)."""
    targets = np.full(rewards.shape[0], -1)
    coverage = np.zeros((rewards.shape[0], game.n_targets))
    for b, (r, p) in enumerate(zip(rewards, penalties, strict=True)):
        result = evaluate(game.with_reports(defender, r, p))
        if result is not None:
            targets[b], coverage[b] = result
    return targets, coverage


def outcomes_by_allocation(
    mechanism: Mechanism,
    game: SecurityGame,
    defender: int,
    rewards: FloatArray,
    penalties: FloatArray,
    seed: int,
) -> tuple[np.ndarray, FloatArray]:
    """The generic (slow) batch: run ``allocate`` on every reported game."""

    def evaluate(reported: SecurityGame) -> tuple[int, FloatArray] | None:
        outcome = mechanism.allocate(reported, rng=np.random.default_rng(seed))
        return (outcome.attacked_target, outcome.coverage) if outcome.ok else None

    return outcomes_per_report(game, defender, rewards, penalties, evaluate)
