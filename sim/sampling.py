r"""From a coverage vector to pure strategies: comb (systematic) sampling.

``docs/solvers.md`` §4 (after Tsai et al., AAAI 2010). Lay the targets end to end on
:math:`[0, \sum_t c_t)`, draw one offset :math:`u \sim U[0, 1)` and cover the targets
whose intervals contain the *teeth* :math:`u, u + 1, \dots, u + K - 1`. Each interval is
at most 1 long, so no target is hit twice and target :math:`t` is covered with
probability exactly :math:`c_t`. The covered set only changes where :math:`u` crosses the
fractional part of a cumulative sum, so the support has at most :math:`m + 1` pure
strategies and is enumerated exactly.

Giving tooth :math:`j` to a defender turns the comb into a *recommendation strategy*
with ownership (Gan et al. 2020, Section 5.1): in every joint pure strategy each
defender :math:`i` guards at most :math:`k_i` targets with her own resources.

With jurisdictions the teeth cannot be handed out in order: each defender's share of
each target is fixed, and a pure strategy must give her at most :math:`k_i` targets,
all her own. :func:`birkhoff` decomposes such shares into matchings
(``docs/jurisdictions.md`` §4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment

from sim.errors import InvalidParameterError
from sim.game import FloatArray
from sim.numerics import BUDGET_TOL, COVERAGE_TOL, PEEL_TOL
from sim.payoffs import combined_coverage

BoolArray = NDArray[np.bool_]


def _check_coverage(coverage: ArrayLike, budget: int, owner: str) -> FloatArray:
    c = np.asarray(coverage, dtype=np.float64)
    if c.ndim != 1 or not np.all(np.isfinite(c)):
        raise InvalidParameterError(f"{owner}.coverage must be a finite 1-d array; got {c!r}")
    if c.min(initial=0.0) < -COVERAGE_TOL or c.max(initial=0.0) > 1 + COVERAGE_TOL:
        raise InvalidParameterError(f"{owner}.coverage must lie in [0, 1]; got {c.tolist()}")
    if c.sum() > budget + BUDGET_TOL:
        raise InvalidParameterError(
            f"{owner}.coverage must sum to at most the budget {budget}; got {c.sum()!r}"
        )
    return np.clip(c, 0.0, 1.0)


def birkhoff(x: ArrayLike) -> tuple[NDArray[np.int64], FloatArray]:
    """Birkhoff-von Neumann: matchings whose mixture has marginals ``x``.

    Parameters
    ----------
    x : array_like, shape (a, b)
        Non-negative, every row and column summing to at most 1 (doubly substochastic).

    Returns
    -------
    matches : ndarray of int, shape (s, a)
        ``matches[s, r]``: the column row ``r`` is matched to in matching ``s`` (-1:
        none).
    probabilities : ndarray, shape (s,)
        Summing to 1 (to within ``PEEL_TOL``).

    Notes
    -----
    Pad ``x`` to the doubly stochastic ``[[x, diag(1 - row sums)], [diag(1 - column
    sums), x.T]]`` and peel off perfect matchings of its
    support (a deterministic assignment solve each), each with the least entry it
    uses: at most :math:`(a + b)^2` matchings (Birkhoff's theorem).
    """
    shares = np.clip(np.asarray(x, dtype=np.float64), 0.0, None)
    a, b = shares.shape
    pad = np.zeros((a + b, b + a))
    pad[:a, :b] = shares
    pad[:a, b:] = np.diag(np.clip(1.0 - shares.sum(axis=1), 0.0, None))
    pad[a:, :b] = np.diag(np.clip(1.0 - shares.sum(axis=0), 0.0, None))
    pad[a:, b:] = shares.T
    matches, probabilities = [], []
    left = 1.0
    while left > PEEL_TOL:
        rows, cols = linear_sum_assignment(np.where(pad > PEEL_TOL, 0.0, 1.0))
        if np.any(pad[rows, cols] <= PEEL_TOL):
            break  # rounding left no perfect matching: the rest is within tolerance
        theta = float(pad[rows, cols].min())
        pad[rows, cols] -= theta
        left -= theta
        match = cols[:a].astype(np.int64)
        matches.append(np.where(match < b, match, -1))
        probabilities.append(theta)
    return np.array(matches, dtype=np.int64).reshape(len(matches), a), np.array(probabilities)


def _teeth_targets(edges: FloatArray, offsets: FloatArray, budget: int) -> NDArray[np.int64]:
    """The target hit by tooth ``offsets[s] + j``, shape (s, K); -1 past the end."""
    points = offsets[:, None] + np.arange(budget)[None, :]
    hit = np.searchsorted(edges, points, side="right") - 1
    m = edges.size - 1
    hit[(points >= edges[-1]) | (hit >= m)] = -1
    return hit.astype(np.int64)


@dataclass(frozen=True, eq=False)
class CombSupport:
    """The exact distribution of a comb sample: at most m + 1 pure strategies.

    Attributes
    ----------
    coverage : ndarray, shape (m,)
        The coverage it realises.
    offsets : ndarray, shape (s,)
        The left end of each offset interval; ``probabilities`` are their lengths.
    probabilities : ndarray, shape (s,)
    teeth : ndarray of int, shape (s, min(K, m))
        ``teeth[s, j]`` is the target tooth ``j`` covers in strategy ``s`` (-1: none);
        a tooth past the m-th never lands (the coverage sums to at most m), so those
        are left out.
    """

    coverage: FloatArray
    offsets: FloatArray
    probabilities: FloatArray
    teeth: NDArray[np.int64]

    @property
    def covered(self) -> BoolArray:
        """``covered[s, t]``: whether pure strategy ``s`` covers target ``t``, shape (s, m)."""
        m = self.coverage.size
        out = np.zeros((self.teeth.shape[0], m + 1), dtype=bool)
        rows = np.repeat(np.arange(self.teeth.shape[0]), self.teeth.shape[1])
        out[rows, self.teeth.ravel()] = True  # -1 lands in the spare last column
        return out[:, :m]

    def marginals(self) -> FloatArray:
        """:math:`\\sum_s x_s \\mathrm{cov}_t(s)`, which equals ``coverage`` (eq. 1)."""
        return self.probabilities @ self.covered

    def sample_index(self, rng: np.random.Generator) -> int:
        """Draw one pure strategy (its row index) with the exact comb probabilities."""
        u = rng.random()
        return int(np.searchsorted(self.offsets, u, side="right") - 1)


def comb_support(coverage: ArrayLike, budget: int) -> CombSupport:
    """Enumerate the comb sample of ``coverage`` with ``budget`` resources exactly.

    Parameters
    ----------
    coverage : array_like, shape (m,)
        Entries in [0, 1] summing to at most ``budget``.
    budget : int
        The number of resources (teeth) :math:`K`.
    """
    if not (isinstance(budget, int | np.integer) and budget >= 0):
        raise InvalidParameterError(f"comb_support.budget must be an int >= 0; got {budget!r}")
    c = _check_coverage(coverage, int(budget), "comb_support")
    edges = np.concatenate(([0.0], np.cumsum(c)))
    cuts = np.unique(np.concatenate(([0.0, 1.0], np.mod(edges, 1.0))))
    cuts = cuts[(cuts >= 0.0) & (cuts <= 1.0)]
    lengths = np.diff(cuts)
    # A tooth u + j is rounded by up to an ulp of K: an offset interval shorter than
    # that could read two teeth in one target, so it joins its left neighbour.
    keep = lengths > 8 * np.finfo(np.float64).eps * max(1, int(budget))
    midpoints = cuts[:-1][keep] + lengths[keep] / 2
    offsets = cuts[:-1][keep]
    offsets[0] = 0.0
    probabilities = np.diff(np.append(offsets, 1.0))
    teeth = _teeth_targets(edges, midpoints, min(int(budget), c.size))
    for array in (c, offsets, probabilities, teeth):
        array.setflags(write=False)
    return CombSupport(coverage=c, offsets=offsets, probabilities=probabilities, teeth=teeth)


def tooth_owners(resources: ArrayLike, count: int | None = None) -> NDArray[np.int64]:
    """Owner of each of the first ``count`` (default all :math:`K`) teeth: defender ``i``
    gets ``k_i`` consecutive teeth."""
    k = np.asarray(resources, dtype=np.int64)
    teeth = np.arange(int(k.sum()) if count is None else count)
    return np.searchsorted(np.cumsum(k), teeth, side="right").astype(np.int64)


@dataclass(frozen=True, eq=False)
class Recommendation:
    """A recommendation strategy (Gan et al. 2020, Section 5.1) from a comb sample.

    A distribution over joint pure strategies :math:`S = (s^1, \\dots, s^n)`; defender
    ``i`` is told only her own :math:`s^i` (at most :math:`k_i` targets; with
    schedules, the targets of at most :math:`k_i` schedules).

    Attributes
    ----------
    assignments : ndarray of bool, shape (s, n, m)
        ``assignments[s, i, t]``: in joint strategy ``s`` defender ``i`` guards ``t``.
    probabilities : ndarray, shape (s,)
    resources : ndarray of int, shape (n,)
    """

    assignments: BoolArray
    probabilities: FloatArray
    resources: NDArray[np.int64]

    @classmethod
    def from_coverage(cls, coverage: ArrayLike, resources: ArrayLike) -> Recommendation:
        """Comb-sample ``coverage`` with the pooled resources; defender ``i`` owns ``k_i``
        consecutive teeth (``docs/solvers.md`` §4)."""
        k = np.asarray(resources, dtype=np.int64)
        support = comb_support(coverage, int(k.sum()))
        owners = tooth_owners(k, support.teeth.shape[1])
        m = support.coverage.size
        assignments = np.zeros((support.probabilities.size, k.size, m), dtype=bool)
        strategy, tooth = np.nonzero(support.teeth >= 0)
        assignments[strategy, owners[tooth], support.teeth[strategy, tooth]] = True
        assignments.setflags(write=False)
        return cls(assignments=assignments, probabilities=support.probabilities, resources=k)

    @classmethod
    def from_schedules(
        cls,
        assignments: ArrayLike,
        probabilities: ArrayLike,
        schedules: Sequence[Sequence[int]],
        resources: ArrayLike,
        n_targets: int,
    ) -> Recommendation:
        """Joint pure strategies from a mixture of schedule assignments
        (:class:`~sim.solvers.ScheduleSSE`: per pooled resource the index of its
        schedule, -1 idle); defender ``i`` owns ``k_i`` consecutive resources, as
        in comb sampling, and guards the targets of their schedules."""
        k = np.asarray(resources, dtype=np.int64)
        chosen = np.asarray(assignments, dtype=np.int64)
        owners = tooth_owners(k, chosen.shape[1])
        guards = np.zeros((chosen.shape[0], k.size, n_targets), dtype=bool)
        for strategy, resource in zip(*np.nonzero(chosen >= 0), strict=True):
            schedule = list(schedules[chosen[strategy, resource]])
            guards[strategy, owners[resource], schedule] = True
        guards.setflags(write=False)
        q = np.asarray(probabilities, dtype=np.float64)
        return cls(assignments=guards, probabilities=q, resources=k)

    @classmethod
    def from_shares(cls, shares: ArrayLike, resources: ArrayLike) -> Recommendation:
        """Joint pure strategies in which defender ``i`` guards target ``t`` with
        probability ``shares[i, t]`` exactly (jurisdictions: each share lies in her
        own; ``docs/jurisdictions.md`` §4).

        ``shares`` (shape (n, m)) has row sums at most :math:`k_i` and column sums at
        most 1. Each defender's row is cut into :math:`k_i` unit rows (her resources,
        laid end to end as in comb sampling), and :func:`birkhoff` decomposes the
        resource-target matrix into matchings: no target is guarded twice, and no
        defender uses more than her resources.
        """
        k = np.asarray(resources, dtype=np.int64)
        x = np.clip(np.asarray(shares, dtype=np.float64), 0.0, 1.0)
        n, m = x.shape
        if k.shape != (n,) or np.any(x.sum(axis=1) > k + BUDGET_TOL):
            raise InvalidParameterError(
                f"Recommendation.from_shares.shares must have one row per defender within "
                f"her resources {k.tolist()}; got row sums {x.sum(axis=1).tolist()}"
            )
        if np.any(x.sum(axis=0) > 1.0 + COVERAGE_TOL):
            raise InvalidParameterError(
                f"Recommendation.from_shares.shares must cover each target at most once; "
                f"got column sums {x.sum(axis=0).tolist()}"
            )
        used = np.minimum(k, m)  # her row sums to at most m: resources past m stay idle
        owners = np.repeat(np.arange(n), used)
        units = np.zeros((owners.size, m))
        for i in range(n):  # her row on [0, sum), resource j taking [j, j + 1)
            edges = np.concatenate(([0.0], np.cumsum(x[i])))
            first = int(np.searchsorted(owners, i))
            for j in range(int(used[i])):
                units[first + j] = np.clip(
                    np.minimum(edges[1:], j + 1.0) - np.maximum(edges[:-1], float(j)), 0.0, None
                )
        matches, probabilities = birkhoff(units)
        assignments = np.zeros((probabilities.size, n, m), dtype=bool)
        strategy, unit = np.nonzero(matches >= 0)
        assignments[strategy, owners[unit], matches[strategy, unit]] = True
        assignments.setflags(write=False)
        probabilities.setflags(write=False)
        return cls(assignments=assignments, probabilities=probabilities, resources=k)

    @property
    def n_strategies(self) -> int:
        """The number of joint pure strategies in the support."""
        return int(self.probabilities.size)

    def coverage(self) -> FloatArray:
        """Overall coverage: a target is covered when some defender guards it, shape (m,)."""
        return self.probabilities @ self.assignments.any(axis=1)

    def defender_coverage(self) -> FloatArray:
        """Each defender's own marginal coverage, shape (n, m)."""
        return np.einsum("s,sit->it", self.probabilities, self.assignments)

    def sample_index(self, rng: np.random.Generator) -> int:
        """Draw one joint pure strategy (its index) from the recommendation."""
        return int(np.searchsorted(np.cumsum(self.probabilities), rng.random(), side="right"))

    def sample(self, rng: np.random.Generator) -> BoolArray:
        """One joint pure strategy, shape (n, m): who guards what."""
        return self.assignments[min(self.sample_index(rng), self.n_strategies - 1)]

    def to_dict(self) -> dict[str, Any]:
        """Lists of covered target indices per strategy and defender, with probabilities."""
        return {
            "probabilities": self.probabilities.tolist(),
            "resources": self.resources.tolist(),
            "assignments": [
                [np.flatnonzero(row).tolist() for row in strategy] for strategy in self.assignments
            ],
        }


@dataclass(frozen=True, eq=False)
class IndependentRecommendation:
    """Uncoordinated play as a recommendation: each defender samples her own coverage
    independently (comb sampling), so the joint coverage follows eq. (2).

    Attributes
    ----------
    supports : tuple of CombSupport, one per defender
    resources : ndarray of int, shape (n,)
    """

    supports: tuple[CombSupport, ...]
    resources: NDArray[np.int64]

    @classmethod
    def from_profile(cls, profile: ArrayLike, resources: ArrayLike) -> IndependentRecommendation:
        """Comb-sample each row of ``profile`` (shape (n, m)) with that defender's budget."""
        k = np.asarray(resources, dtype=np.int64)
        rows = np.asarray(profile, dtype=np.float64)
        supports = tuple(comb_support(row, int(k_i)) for row, k_i in zip(rows, k, strict=True))
        return cls(supports=supports, resources=k)

    def defender_coverage(self) -> FloatArray:
        """Each defender's own marginal coverage, shape (n, m)."""
        return np.array([support.marginals() for support in self.supports])

    def coverage(self) -> FloatArray:
        """Eq. (2): :math:`1 - \\prod_i (1 - c^i_t)`, shape (m,)."""
        return combined_coverage(self.defender_coverage())

    def sample(self, rng: np.random.Generator) -> BoolArray:
        """One joint pure strategy, shape (n, m): each defender draws her own offset."""
        return np.array([s.covered[s.sample_index(rng)] for s in self.supports])

    def to_dict(self) -> dict[str, Any]:
        """Per-defender supports: probabilities and covered target lists."""
        return {
            "independent": [
                {
                    "probabilities": s.probabilities.tolist(),
                    "covered": [np.flatnonzero(row).tolist() for row in s.covered],
                }
                for s in self.supports
            ],
            "resources": self.resources.tolist(),
        }
