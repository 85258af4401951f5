"""Stackelberg strategies when resources cover schedules (Korzhyk, Conitzer and Parr
2010): a resource guards a whole *schedule* (a set of targets; every subset of a
schedule is one too), resources may be homogeneous or each restricted to its own
schedules, and a target is covered when some resource's schedule holds it.

:func:`schedule_sse` returns an implementable mixed strategy (pure strategies and
their probabilities, whose exact marginals are its coverage), by the exact method of
the game's row of the complexity table (``docs/schedules.md`` §1):

* ``"lp+bvn"`` -- schedules of size 1, resources homogeneous or not (polynomial): the
  marginal LP per attacked target over resource-target shares, decomposed by
  Birkhoff-von Neumann into assignments (§2);
* ``"lp+columns"`` -- homogeneous resources, schedules of size <= 2 forming a
  bipartite graph (polynomial): the marginal LP over schedules is exact there; its
  coverage is decomposed into pure strategies by column generation (§3);
* ``"columns"`` -- homogeneous resources on size-2 schedules of a general graph
  (polynomial; the marginal LP overstates what odd cycles allow) and every NP-hard
  row: the LP over pure strategies, by column generation whose pricing step is an
  exact best pure strategy against the dual prices (a MILP; for size-2 homogeneous
  schedules a maximum-weight matching with singletons and at most K edges) (§4).

:func:`schedule_sse_by_enumeration` is the reference: the LP over every pure strategy
of a tiny instance.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, linprog, milp

from sim.errors import InvalidParameterError, SolverFailedError
from sim.game import FloatArray, SecurityGame
from sim.numerics import MIP_GAP, SCHEDULE_TOL
from sim.payoffs import utility
from sim.sampling import birkhoff

#: The NP-hard rows (heterogeneous resources on schedules of size >= 2, any schedules
#: of size >= 3) are solved exactly for at most this many targets and resources
#: (random games of 160 targets and 10 resources take about 5 s, ``bench/schedules.py``;
#: beyond, the MILP pricing's time is unbounded in practice).
HARD_TARGET_LIMIT: Final = 200
HARD_RESOURCE_LIMIT: Final = 20

#: The reference enumerates at most this many pure strategies.
ENUMERATION_LIMIT: Final = 200_000


@dataclass(frozen=True)
class ScheduleSSE:
    """An implementable strong Stackelberg strategy with schedules.

    Attributes
    ----------
    schedules : tuple of tuple of int
        The schedules the assignments index: the given ones closed under subsets.
    assignments : ndarray of int, shape (s, K)
        Pure strategies: per resource the index of its schedule, -1 idle.
    probabilities : ndarray, shape (s,)
    coverage : ndarray, shape (m,)
        The exact marginals of the mixture.
    attacked_target : int
    defender_utility : float
    method : str
        ``"lp+bvn"``, ``"lp+columns"``, ``"columns"`` or ``"enumeration"``.
    """

    schedules: tuple[tuple[int, ...], ...]
    assignments: np.ndarray
    probabilities: FloatArray
    coverage: FloatArray
    attacked_target: int
    defender_utility: float
    method: str


@dataclass(frozen=True)
class ScheduleProblem:
    """A validated schedule game: schedules closed under subsets, which resource may
    take which, and the game (one defender, one attack), whose payoffs the solvers
    read in its standard units (:attr:`standard`; ``game.units`` maps the defender's
    value back)."""

    schedules: tuple[tuple[int, ...], ...]
    allowed: np.ndarray  # (K, J) bool
    cover: np.ndarray  # (J, m) bool
    homogeneous: bool
    game: SecurityGame

    @classmethod
    def build(
        cls,
        game: SecurityGame,
        schedules: Sequence[Sequence[int]],
        resource_schedules: Sequence[Sequence[int]] | None = None,
    ) -> ScheduleProblem:
        """Validate and close the schedules; errors name the parameter and value."""
        if game.n_defenders != 1:
            raise InvalidParameterError(
                f"schedule_sse.game must have one defender (use game.pooled()); got "
                f"{game.n_defenders}"
            )
        if game.attacker_resources != 1:
            raise InvalidParameterError(
                f"schedule_sse models one attack; got attacker_resources={game.attacker_resources}"
            )
        m, k = game.n_targets, game.total_resources
        given: list[tuple[int, ...]] = []
        for j, schedule in enumerate(schedules):
            targets = tuple(sorted({int(t) for t in schedule}))
            if not targets or len(targets) != len(list(schedule)):
                raise InvalidParameterError(
                    f"schedule_sse.schedules[{j}] must be a non-empty set of distinct "
                    f"targets; got {schedule!r}"
                )
            if targets[0] < 0 or targets[-1] >= m:
                raise InvalidParameterError(
                    f"schedule_sse.schedules[{j}] names a target outside [0, {m}); got {schedule!r}"
                )
            given.append(targets)
        if not given:
            raise InvalidParameterError("schedule_sse.schedules must not be empty; got []")
        closed = sorted(
            {
                sub
                for s in given
                for r in range(1, len(s) + 1)
                for sub in itertools.combinations(s, r)
            },
            key=lambda s: (len(s), s),
        )
        index = {s: j for j, s in enumerate(closed)}
        cover = np.zeros((len(closed), m), dtype=bool)
        for j, s in enumerate(closed):
            cover[j, list(s)] = True
        if resource_schedules is None:
            allowed = np.ones((k, len(closed)), dtype=bool)
        else:
            if len(resource_schedules) != k:
                raise InvalidParameterError(
                    f"schedule_sse.resource_schedules needs one list per resource ({k}); "
                    f"got {len(resource_schedules)}"
                )
            allowed = np.zeros((k, len(closed)), dtype=bool)
            for r, mine in enumerate(resource_schedules):
                for j in mine:
                    if not (isinstance(j, int | np.integer) and 0 <= j < len(given)):
                        raise InvalidParameterError(
                            f"schedule_sse.resource_schedules[{r}] must index schedules in "
                            f"[0, {len(given)}); got {j!r}"
                        )
                    s = given[j]
                    for size in range(1, len(s) + 1):
                        for sub in itertools.combinations(s, size):
                            allowed[r, index[sub]] = True
        keep = np.asarray(allowed.any(axis=0))  # the schedules some resource may take
        closed = [closed[j] for j in np.flatnonzero(keep)]
        allowed, cover = allowed[:, keep], cover[keep]
        homogeneous = bool(np.all(allowed == allowed[:1])) if k else True
        return cls(tuple(closed), allowed, cover, homogeneous, game)

    @property
    def standard(self) -> SecurityGame:
        """The game in its standard units (:attr:`SecurityGame.standard`)."""
        return self.game.standard

    @property
    def n_targets(self) -> int:
        return int(self.cover.shape[1])

    def value(self, target: int, coverage: float) -> float:
        """The defender's (standard) utility when ``target`` is attacked with that
        coverage."""
        game = self.standard
        return float(
            utility(game.defender_penalty[0, target], game.defender_gap[0, target], coverage)
        )

    @property
    def n_resources(self) -> int:
        return int(self.allowed.shape[0])

    @property
    def size(self) -> int:
        """The largest schedule size (0 when no resource may take any)."""
        return max((len(s) for s in self.schedules), default=0)

    def case(self) -> str:
        """The row of the complexity table: ``size1``, ``bipartite``, ``graph``, ``hard``."""
        if self.size <= 1:
            return "size1"
        if self.size == 2 and self.homogeneous:
            return "bipartite" if _bipartite(self.schedules, self.n_targets) else "graph"
        return "hard"

    def best_pure(self, weights: FloatArray) -> tuple[np.ndarray, np.ndarray]:
        """The pure strategy maximising the total weight of the targets it covers:
        (assignment (K,), coverage (m,) bool). Exact: an assignment problem for size-1
        schedules, a MILP otherwise (a matching with singletons for homogeneous size-2
        schedules, solved at the LP root when the graph is bipartite)."""
        k, m = self.n_resources, self.n_targets
        gain = np.maximum(weights, 0.0)
        assignment = np.full(k, -1)
        if k == 0 or not np.any(gain > 0):
            return assignment, np.zeros(m, dtype=bool)
        value = self.cover @ gain  # (J,) each schedule's weight if taken alone
        if self.size == 1:
            target_of = self.cover.argmax(axis=1)
            worth = np.where(self.allowed, value[None, :], 0.0)
            rows, cols = linear_sum_assignment(worth, maximize=True)
            for r, j in zip(rows, cols, strict=True):
                if worth[r, j] > 0:
                    assignment[r] = j
            covered = np.zeros(m, dtype=bool)
            covered[target_of[assignment[assignment >= 0]]] = True
            return assignment, covered
        assignment, _ = self._best_pure_milp(gain, value)
        return self._trimmed(assignment, weights > 0)

    @functools.cached_property
    def _index(self) -> dict[tuple[int, ...], int]:
        return {s: j for j, s in enumerate(self.schedules)}

    def _trimmed(self, assignment: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each resource's schedule cut to the ``wanted`` targets (a subset of a
        schedule is a schedule; an empty one leaves the resource idle)."""
        out = np.full_like(assignment, -1)
        for r, j in enumerate(assignment):
            if j >= 0:
                kept = tuple(t for t in self.schedules[j] if wanted[t])
                out[r] = self._index[kept] if kept else -1
        taken = out[out >= 0]
        covered = self.cover[taken].any(axis=0) if taken.size else np.zeros(self.n_targets, bool)
        return out, covered

    def _best_pure_milp(self, gain: FloatArray, value: FloatArray) -> tuple[np.ndarray, np.ndarray]:
        k, m = self.n_resources, self.n_targets
        useful = np.flatnonzero(value > 0)
        if useful.size == 0:
            return np.full(k, -1), np.zeros(m, dtype=bool)
        if self.homogeneous:
            # disjoint schedules (subsets are schedules), at most k of them
            a = self.cover[useful].T.astype(float)  # (m, u)
            rows = LinearConstraint(
                np.vstack([a, np.ones((1, useful.size))]),
                -np.inf,
                np.concatenate([np.ones(m), [k]]),
            )
            with np.errstate(all="ignore"):
                result = milp(
                    -value[useful],
                    constraints=[rows],
                    integrality=np.ones(useful.size),
                    bounds=Bounds(0, 1),
                    options={"mip_rel_gap": MIP_GAP},
                )
            if result.status != 0 or result.x is None:
                raise SolverFailedError(f"schedule pricing MILP failed: {result.message}")
            chosen = useful[result.x > 0.5]
            assignment = np.full(k, -1)
            assignment[: chosen.size] = chosen
            return assignment, self.cover[chosen].any(axis=0)
        pairs = [(r, int(j)) for r in range(k) for j in useful if self.allowed[r, j]]
        p = len(pairs)
        x_cover = np.zeros((m, p))
        per_resource = np.zeros((k, p))
        for col, (r, j) in enumerate(pairs):
            x_cover[:, col] = self.cover[j]
            per_resource[r, col] = 1.0
        # variables: x (p, binary) then z (m, continuous in [0, 1]): z_t <= sum x covering t
        constraints = [
            LinearConstraint(np.hstack([per_resource, np.zeros((k, m))]), -np.inf, 1.0),
            LinearConstraint(np.hstack([-x_cover, np.eye(m)]), -np.inf, 0.0),
        ]
        objective = -np.concatenate([np.zeros(p), gain])
        integrality = np.concatenate([np.ones(p), np.zeros(m)])
        result = milp(
            objective,
            constraints=constraints,
            integrality=integrality,
            bounds=Bounds(0, 1),
            options={"mip_rel_gap": MIP_GAP},
        )
        if result.status != 0 or result.x is None:
            raise SolverFailedError(f"schedule pricing MILP failed: {result.message}")
        assignment = np.full(k, -1)
        for picked in np.flatnonzero(result.x[:p] > 0.5):
            resource, schedule = pairs[picked]
            assignment[resource] = schedule
        taken = assignment[assignment >= 0]
        return assignment, self.cover[taken].any(axis=0)


def _bipartite(schedules: Sequence[tuple[int, ...]], m: int) -> bool:
    """Whether the size-2 schedules, as edges, form a bipartite graph (2-colouring)."""
    neighbours: list[list[int]] = [[] for _ in range(m)]
    for s in schedules:
        if len(s) == 2:
            neighbours[s[0]].append(s[1])
            neighbours[s[1]].append(s[0])
    colour = np.full(m, -1)
    for start in range(m):
        if colour[start] >= 0:
            continue
        colour[start], stack = 0, [start]
        while stack:
            u = stack.pop()
            for v in neighbours[u]:
                if colour[v] < 0:
                    colour[v] = 1 - colour[u]
                    stack.append(v)
                elif colour[v] == colour[u]:
                    return False
    return True


# -- the attacker's constraints and the marginal LP (docs/schedules.md §2) ------------
def _attacker_rows(p: ScheduleProblem, t: int) -> tuple[FloatArray, FloatArray]:
    """``G c <= h`` says target ``t`` is a best response to coverage ``c``: for every
    other t', gap(t) c_t - gap(t') c_t' <= r(t) - r(t')."""
    m, game = p.n_targets, p.standard
    gap, reward = game.attacker_gap, game.attacker_reward
    others = np.delete(np.arange(m), t)
    g = np.zeros((m - 1, m))
    g[:, t] = gap[t]
    g[np.arange(m - 1), others] = -gap[others]
    return g, reward[t] - reward[others]


def _marginal_lp(
    p: ScheduleProblem, t: int, aggregate: bool, least: float | None = None
) -> tuple[float, FloatArray, FloatArray] | None:
    """The marginal LP with ``t`` attacked: the best coverage of ``t`` over shares of
    (resource, schedule) pairs (``aggregate``: of schedules alone, for homogeneous
    resources), every target covered at most once in expectation. Exact for the
    polynomial rows; an upper bound otherwise. With ``least`` (t's best coverage) it
    returns instead the shares of least total mass that cover ``t`` that much: the
    optimum without resources spent where they change nothing, which the best
    coverage alone leaves to the solver's choice of vertex (and so to the payoffs'
    units). Returns (value, coverage, shares) or None if infeasible."""
    m, k = p.n_targets, p.n_resources
    if aggregate:
        shares = p.cover.T.astype(float)  # (m, J): c = cover^T y
        budget = np.ones((1, shares.shape[1]))
        budget_rhs = np.array([float(k)])
    else:
        pairs = np.argwhere(p.allowed)  # (P, 2): resource, schedule
        shares = p.cover[pairs[:, 1]].T.astype(float)
        budget = np.zeros((k, pairs.shape[0]))
        budget[pairs[:, 0], np.arange(pairs.shape[0])] = 1.0
        budget_rhs = np.ones(k)
    g, h = _attacker_rows(p, t)
    gap_d = p.standard.defender_gap[0, t]
    if shares.shape[1] == 0:  # nothing to place: t must be a best response as it is
        penalty = float(p.standard.defender_penalty[0, t])
        return (penalty, np.zeros(m), shares[0]) if np.all(h >= 0) else None
    a_ub = np.vstack([shares, budget, g @ shares])
    b_ub = np.concatenate([np.ones(m), budget_rhs, h])
    objective = -gap_d * shares[t]
    if least is not None:
        objective = np.ones(shares.shape[1])
        a_ub = np.vstack([a_ub, -shares[t]])
        b_ub = np.append(b_ub, -least)
    result = linprog(objective, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    if result.status != 0:
        return None
    coverage = np.clip(shares @ result.x, 0.0, 1.0)
    return p.value(t, coverage[t]), coverage, result.x


# -- Birkhoff-von Neumann for size-1 schedules (docs/schedules.md §2) ------------------
def _birkhoff(p: ScheduleProblem, shares: FloatArray) -> tuple[np.ndarray, FloatArray]:
    """Assignments and probabilities whose marginals are the resource-target shares
    ``x`` (rows <= 1, columns <= 1), by :func:`sim.sampling.birkhoff`."""
    k, m = p.n_resources, p.n_targets
    x = np.zeros((k, m))
    target_of = p.cover.argmax(axis=1)
    pairs = np.argwhere(p.allowed)
    np.add.at(x, (pairs[:, 0], target_of[pairs[:, 1]]), shares)
    matches, probabilities = birkhoff(x)
    schedule_of = np.full(m, -1)
    schedule_of[target_of] = np.arange(len(p.schedules))
    return np.where(matches >= 0, schedule_of[matches], -1), probabilities


# -- column generation over pure strategies (docs/schedules.md §3-4) -------------------
@dataclass
class _Columns:
    """The pure strategies generated so far: assignments and coverage rows."""

    assignments: list[np.ndarray] = field(default_factory=list)
    covers: list[np.ndarray] = field(default_factory=list)
    seen: set[bytes] = field(default_factory=set)

    @classmethod
    def start(cls, p: ScheduleProblem) -> _Columns:
        out = cls()
        out.add(np.full(p.n_resources, -1), np.zeros(p.n_targets, dtype=bool))
        out.add(*p.best_pure(p.standard.attacker_gap))
        return out

    def add(self, assignment: np.ndarray, covered: np.ndarray) -> bool:
        """Add a pure strategy unless one with the same coverage is there."""
        key = np.packbits(covered).tobytes()
        if key in self.seen:
            return False
        self.seen.add(key)
        self.assignments.append(assignment)
        self.covers.append(covered)
        return True

    def matrix(self) -> FloatArray:
        return np.array(self.covers, dtype=float).T  # (m, s)


def _price(p: ScheduleProblem, columns: _Columns, weights: FloatArray, floor: float) -> bool:
    """Add the best pure strategy against ``weights`` if it is worth more than
    ``floor``; whether one was added."""
    assignment, covered = p.best_pure(weights)
    if float(weights[covered].sum()) <= floor + SCHEDULE_TOL:
        return False
    return columns.add(assignment, covered)


def _decompose(p: ScheduleProblem, coverage: FloatArray, columns: _Columns) -> FloatArray:
    """Probabilities over ``columns`` (grown as needed) whose marginals are
    ``coverage``: min sum|C q - c| s.t. sum q <= 1, by column generation."""
    m = p.n_targets
    for _ in range(_MAX_ROUNDS):
        c = columns.matrix()
        s = c.shape[1]
        a_eq = np.hstack([c, np.eye(m), -np.eye(m)])
        a_ub = np.concatenate([np.ones(s), np.zeros(2 * m)])[None]
        objective = np.concatenate([np.zeros(s), np.ones(2 * m)])
        result = linprog(
            objective,
            A_ub=a_ub,
            b_ub=[1.0],
            A_eq=a_eq,
            b_eq=coverage,
            bounds=(0, None),
            method="highs",
        )
        if result.status != 0:
            raise SolverFailedError(f"schedule decomposition LP failed: {result.message}")
        if result.fun <= SCHEDULE_TOL:
            return np.asarray(result.x[:s])
        # reduced cost of a column a: -(y_eq @ a) - y_ub
        if not _price(p, columns, result.eqlin.marginals, -float(result.ineqlin.marginals[0])):
            raise SolverFailedError(
                f"schedule decomposition: coverage not implementable (residual {result.fun:.3g})"
            )
    raise SolverFailedError("schedule decomposition: too many columns")


def _columns_sse(p: ScheduleProblem, t: int, columns: _Columns) -> FloatArray | None:
    """The LP over pure strategies with ``t`` attacked, by column generation (phase 1
    finds a mixture that makes ``t`` a best response, phase 2 maximises the
    defender's coverage of ``t``); the probabilities over ``columns``, or None if no
    mixture makes ``t`` a best response."""
    g, h = _attacker_rows(p, t)
    gap_d = p.standard.defender_gap[0, t]
    for phase in (1, 2):
        for _ in range(_MAX_ROUNDS):
            c = columns.matrix()
            s, m1 = c.shape[1], g.shape[0]
            if phase == 1:
                objective = np.concatenate([np.zeros(s), np.ones(m1)])
                a_ub = np.vstack(
                    [np.hstack([g @ c, -np.eye(m1)]), np.concatenate([np.ones(s), np.zeros(m1)])]
                )
            else:
                objective = -gap_d * c[t]
                a_ub = np.vstack([g @ c, np.ones(s)])
            result = linprog(
                objective,
                A_ub=a_ub,
                b_ub=np.concatenate([h, [1.0]]),
                bounds=(0, None),
                method="highs",
            )
            if result.status != 0:
                raise SolverFailedError(f"schedule master LP failed: {result.message}")
            duals = result.ineqlin.marginals
            weights = g.T @ duals[:m1] + (gap_d * np.eye(p.n_targets)[t] if phase == 2 else 0.0)
            if not _price(p, columns, weights, -float(duals[m1])):
                break
        else:
            raise SolverFailedError("schedule column generation: too many columns")
        if phase == 1 and result.fun > SCHEDULE_TOL:
            return None
    return np.asarray(result.x[: columns.matrix().shape[1]])


_MAX_ROUNDS: Final = 5000


# -- the solver --------------------------------------------------------------------------
def schedule_sse(
    game: SecurityGame,
    schedules: Sequence[Sequence[int]] | None = None,
    *,
    resource_schedules: Sequence[Sequence[int]] | None = None,
) -> ScheduleSSE:
    """The strong Stackelberg strategy of one defender whose ``game.total_resources``
    resources cover schedules, as an implementable mixed strategy.

    Parameters
    ----------
    game : SecurityGame
        One defender (``game.pooled()`` for a coordinated game), one attack.
    schedules : sequence of sequences of int, optional
        The schedules (sets of targets); every subset of one is one too. Default: the
        game's own ``schedules`` (each target alone when it has none).
    resource_schedules : sequence of sequences of int, optional
        Per resource the indices (into ``schedules``) it may take; None: homogeneous.

    Raises
    ------
    InvalidParameterError
        On invalid schedules, or an NP-hard instance beyond :data:`HARD_TARGET_LIMIT`
        targets or :data:`HARD_RESOURCE_LIMIT` resources.
    """
    if schedules is None:
        schedules = game.schedules or [(t,) for t in range(game.n_targets)]
    p = ScheduleProblem.build(game, schedules, resource_schedules)
    case = p.case()
    if case == "hard" and (p.n_targets > HARD_TARGET_LIMIT or p.n_resources > HARD_RESOURCE_LIMIT):
        raise InvalidParameterError(
            f"schedule_sse solves the NP-hard schedule games (heterogeneous resources on "
            f"schedules of size >= 2, or schedules of size >= 3) for at most "
            f"{HARD_TARGET_LIMIT} targets and {HARD_RESOURCE_LIMIT} resources; got "
            f"n_targets={p.n_targets}, resources={p.n_resources}"
        )
    if case in ("size1", "bipartite"):  # the marginal LP is exact
        found: tuple[int, tuple[float, FloatArray, FloatArray]] | None = None
        for t in sorted(range(p.n_targets), key=lambda t: (-p.standard.defender_reward[0, t], t)):
            if found is not None and p.standard.defender_reward[0, t] <= found[1][0] + SCHEDULE_TOL:
                break  # r^d(t) bounds what covering t can give
            lp = _marginal_lp(p, t, aggregate=case == "bipartite")
            if lp is not None and (found is None or lp[0] > found[1][0] + SCHEDULE_TOL):
                found = (t, lp)
        if found is None:
            raise SolverFailedError("schedule_sse: no target can be made a best response")
        t, (_, coverage, shares) = found
        least = _marginal_lp(p, t, aggregate=case == "bipartite", least=float(coverage[t]))
        if least is not None:
            _, coverage, shares = least
        if case == "size1":
            assignments, probabilities = _birkhoff(p, shares)
            return _result(p, assignments, probabilities, t, "lp+bvn")
        columns = _Columns.start(p)
        q = _decompose(p, coverage, columns)
        return _result(p, np.array(columns.assignments), q, t, "lp+columns")
    bounds = {t: _marginal_lp(p, t, aggregate=p.homogeneous) for t in range(p.n_targets)}
    order = sorted(
        ((t, lp) for t, lp in bounds.items() if lp is not None), key=lambda b: (-b[1][0], b[0])
    )
    columns = _Columns.start(p)
    best: tuple[float, int, FloatArray, list[np.ndarray]] | None = None
    for t, (bound, _, _) in order:
        if best is not None and bound <= best[0] + SCHEDULE_TOL:
            break  # the marginal LP bounds every later target below the best found
        mix = _columns_sse(p, t, columns)
        if mix is None:
            continue
        coverage = columns.matrix() @ mix
        value = p.value(t, coverage[t])
        if best is None or value > best[0] + SCHEDULE_TOL:
            best = (value, t, mix, list(columns.assignments))
    if best is None:
        raise SolverFailedError("schedule_sse: no target can be made a best response")
    return _result(p, np.array(best[3]), best[2], best[1], "columns")


def _result(
    p: ScheduleProblem, assignments: np.ndarray, q: FloatArray, t: int, method: str
) -> ScheduleSSE:
    """The mixture with idle filling the missing mass, its exact marginals and value."""
    keep = q > SCHEDULE_TOL
    assignments, q = assignments[keep], np.clip(q[keep], 0.0, None)
    idle = 1.0 - q.sum()
    if idle > SCHEDULE_TOL:
        assignments = np.vstack([assignments, np.full((1, p.n_resources), -1)])
        q = np.append(q, idle)
    q = q / q.sum()
    coverage = mixture_coverage(p.cover, assignments, q)
    value = float(p.game.units.defender_utility(p.value(t, coverage[t]), 0))
    assignments.setflags(write=False)
    return ScheduleSSE(p.schedules, assignments, q, coverage, int(t), value, method)


def mixture_coverage(
    cover: np.ndarray, assignments: np.ndarray, probabilities: FloatArray
) -> FloatArray:
    """The exact marginals of a mixture of assignments: a target is covered when some
    resource's schedule holds it."""
    m = cover.shape[1]
    covered = np.zeros((assignments.shape[0], m), dtype=bool)
    for s, row in enumerate(assignments):
        taken = row[row >= 0]
        if taken.size:
            covered[s] = cover[taken].any(axis=0)
    return probabilities @ covered


def schedule_sse_by_enumeration(
    game: SecurityGame,
    schedules: Sequence[Sequence[int]],
    *,
    resource_schedules: Sequence[Sequence[int]] | None = None,
) -> ScheduleSSE:
    """The reference: the LP over every pure strategy (every resource's allowed
    schedule or idle; at most :data:`ENUMERATION_LIMIT`), one LP per attacked target."""
    p = ScheduleProblem.build(game, schedules, resource_schedules)
    choices = [[-1, *np.flatnonzero(row).tolist()] for row in p.allowed]
    count = int(np.prod([len(c) for c in choices])) if choices else 1
    if count > ENUMERATION_LIMIT:
        raise InvalidParameterError(
            f"schedule_sse_by_enumeration: {count} pure strategies exceed {ENUMERATION_LIMIT}"
        )
    columns = _Columns()
    for combo in itertools.product(*choices):
        assignment = np.array(combo, dtype=int)
        taken = assignment[assignment >= 0]
        columns.add(
            assignment,
            p.cover[taken].any(axis=0) if taken.size else np.zeros(p.n_targets, dtype=bool),
        )
    c = columns.matrix()
    best: tuple[float, int, FloatArray] | None = None
    for t in range(p.n_targets):
        g, h = _attacker_rows(p, t)
        gap_d = p.standard.defender_gap[0, t]
        result = linprog(
            -gap_d * c[t],
            A_ub=np.vstack([g @ c, np.ones(c.shape[1])]),
            b_ub=np.concatenate([h, [1.0]]),
            bounds=(0, None),
            method="highs",
        )
        if result.status != 0:
            continue
        value = p.value(t, float(c[t] @ result.x))
        if best is None or value > best[0] + SCHEDULE_TOL:
            best = (value, t, result.x)
    if best is None:
        raise SolverFailedError("schedule_sse_by_enumeration: no target is inducible")
    return _result(p, np.array(columns.assignments), best[2], best[1], "enumeration")
