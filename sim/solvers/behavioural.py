"""Coverage against a logit attacker, with a certified optimality gap
(``docs/behavioural.md`` §3).

Against a logit attacker (:class:`~sim.response.LogitResponse`) target t is attacked
with probability proportional to :math:`e^{a_t + b_t x_t}` and a defender's (or the
defenders' total) utility is :math:`p_t + g_t x_t` when t is attacked, both affine in
the coverage :math:`x_t`. The expected utility

.. math:: F(x) = \\frac{\\sum_t e^{a_t + b_t x_t} (p_t + g_t x_t)}{\\sum_t e^{a_t + b_t x_t}}

is not concave in general. :func:`best_against_logit` maximises it over
:math:`\\sum_t x_t \\le B`, :math:`0 \\le x_t \\le u_t` by bisection on its level r
(with Dinkelbach's steps): some x has :math:`F(x) > r` exactly when the separable
:math:`h_r(x) = \\sum_t e^{a_t + b_t x_t}(p_t - r + g_t x_t)` is positive, which dynamic
programming over the budget maximises exactly on a grid of step 1/N. The same dynamic
programme over an upper bound of each term on each grid cell (from its curvature)
bounds :math:`h_r` over all coverages, and bisection on r turns that into an upper
bound on the optimum. :func:`pooled_against_logit` applies it to the pooled resources.
:func:`best_against_logit_by_signal` solves a defender's best modification of a
recommendation (``docs/behavioural.md`` §5), whose per-signal budgets are no knapsack:
there each level's problem is a MILP over a piecewise-linear function above
:math:`h_r`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike
from scipy import optimize, sparse

from sim.errors import InvalidGameError, InvalidParameterError, SolverFailedError
from sim.game import FloatArray, SecurityGame
from sim.numerics import COVERAGE_TOL, MIP_GAP, ROUNDING_TOL
from sim.response import LogitResponse
from sim.solvers.multi_attack import quiet_stdout

#: The grid's first resolution (steps per unit of coverage); it doubles until the
#: certified gap is at most ``max_gap`` or the resolution reaches ``max_resolution``.
RESOLUTION = 64
MAX_RESOLUTION = 4096
#: The finest grid of the per-signal problem, whose level problems are MILPs with a
#: binary per grid cell.
SIGNAL_MAX_RESOLUTION = 256
#: A floor (a defender's least expected utility, in her standard units) holds when it
#: is missed by at most this (rounding).
FLOOR_TOL = 1e-9
#: scipy.optimize.milp's status for an infeasible problem.
INFEASIBLE = 2
#: Bisection steps on the level, for the grid's maximiser and for the upper bound; they
#: stop when the bracket is within ``LEVEL_TOL`` (relative) of its top.
MAX_STEPS = 60
LEVEL_TOL = 1e-12
#: The largest exponent of a weight. Scores spread wider than this over the feasible
#: set (steep responses, near the rational limit) are capped there: the maximiser is
#: still found, but the upper bound is then only the largest utility.
EXPONENT_LIMIT = 700.0


@dataclass(frozen=True)
class LogitOptimum:
    """A coverage against a logit attacker and its certificate.

    Attributes
    ----------
    coverage : ndarray, shape (m,)
        The maximiser found, feasible: the grid's (step ``1 / resolution``), polished
        by a local ascent.
    value : float
        :math:`F` at ``coverage``.
    upper : float
        A proven upper bound on :math:`F` over the whole feasible set: the optimum
        lies in [``value``, ``upper``].
    resolution : int
        The grid's steps per unit of coverage.
    """

    coverage: FloatArray
    value: float
    upper: float
    resolution: int

    @property
    def gap(self) -> float:
        """``upper - value``: how far from optimal ``coverage`` can be, at most."""
        return self.upper - self.value


def logit_value(a: FloatArray, b: FloatArray, p: FloatArray, g: FloatArray, x: ArrayLike) -> float:
    """:math:`F(x)`, the expected utility against the logit attacker."""
    s = a + b * np.asarray(x, dtype=np.float64)
    w = np.exp(s - s.max())
    return float(w @ (p + g * np.asarray(x)) / w.sum())


def _grid_argmax(values: list[FloatArray], budget_steps: int) -> tuple[float, list[int]]:
    """The largest sum of one entry per list, ``values[t][k]`` costing k steps, within
    ``budget_steps``: the value and the chosen k per list (a (max, +) knapsack)."""
    best = np.zeros(budget_steps + 1)
    choices = []
    for v in values:
        n = v.size - 1
        padded = np.concatenate([np.full(n, -np.inf), best])
        window = sliding_window_view(padded, n + 1)[:, ::-1]  # window[j, k] = best[j - k]
        total = window + v
        pick = total.argmax(axis=1)
        best = total[np.arange(budget_steps + 1), pick]
        choices.append(pick)
    j = budget_steps
    chosen = [0] * len(values)
    for t in range(len(values) - 1, -1, -1):
        chosen[t] = int(choices[t][j])
        j -= chosen[t]
    return float(best[budget_steps]), chosen


def _weight(exponent: FloatArray) -> FloatArray:
    """``exp(exponent)``, the exponent capped at :data:`EXPONENT_LIMIT`."""
    return np.exp(np.minimum(exponent, EXPONENT_LIMIT))


@dataclass(frozen=True)
class _Cells:
    """Target t's term :math:`\varphi(x) = e^{a + bx - shift}(q + gx)` on its grid: the
    cells ``[k/N, (k+1)/N]`` (k = 0 .. n; the last ends at the target's upper bound),
    :math:`\varphi` at their ends, and on each cell :math:`h^2 \\max|\varphi''| / 8`,
    the most :math:`\varphi` rises above its chord there (h the cell's width)."""

    points: FloatArray
    ends: FloatArray
    at: FloatArray
    at_ends: FloatArray
    sag: FloatArray

    @classmethod
    def of(
        cls, a: float, b: float, q: float, g: float, upper: float, resolution: int, shift: float
    ) -> _Cells:
        n = int(np.floor(upper * resolution + COVERAGE_TOL))
        points = np.arange(n + 1) / resolution
        ends = np.append(points[1:], max(upper, points[-1]))
        at = _weight(a + b * points - shift) * (q + g * points)
        at_ends = _weight(a + b * ends - shift) * (q + g * ends)
        # |phi''| = e^{a+bx}|b^2 (q + gx) + 2bg| on each cell, by its ends (q + gx is linear)
        top = _weight(a + np.maximum(b * points, b * ends) - shift)
        linear = np.maximum(np.abs(q + g * points), np.abs(q + g * ends))
        width = ends - points
        with np.errstate(over="ignore", invalid="ignore"):  # an infinite bound is valid
            sag = top * (b * b * linear + 2 * abs(b * g)) * width * width / 8
        return cls(points, ends, at, at_ends, sag)

    @property
    def bounds(self) -> FloatArray:
        """An upper bound of :math:`\varphi` on each cell: its larger end plus the sag."""
        with np.errstate(invalid="ignore"):
            return np.maximum(self.at, self.at_ends) + self.sag


def _polish(
    a: FloatArray,
    b: FloatArray,
    p: FloatArray,
    g: FloatArray,
    budget: float,
    upper: FloatArray,
    x: FloatArray,
    value: float,
) -> tuple[FloatArray, float]:
    """A local ascent (SLSQP) from the grid's maximiser, which the grid may hold off an
    optimum on the budget's face; kept only when feasible and better."""
    found = optimize.minimize(
        lambda y: -logit_value(a, b, p, g, y),
        x,
        method="SLSQP",
        bounds=list(zip(np.zeros(a.size), upper, strict=True)),
        constraints=[
            {"type": "ineq", "fun": lambda y: budget - y.sum(), "jac": lambda y: -np.ones_like(y)}
        ],
    )
    y = np.clip(found.x, 0.0, upper)
    if y.sum() > budget:
        y = y * (budget / y.sum())
    better = logit_value(a, b, p, g, y)
    return (y, better) if better > value else (x, value)


def _lowest_top_score(a: FloatArray, b: FloatArray, budget: float, upper: FloatArray) -> float:
    """The least largest score any feasible coverage leaves, :math:`\\min_x \\max_t (a_t +
    b_t x_t)` (to a relative 1e-12): the weights are scaled by its exponential, so that
    every coverage's largest weight is at least 1 (none underflows to 0)."""
    low = float(np.max(a + np.minimum(b * upper, 0.0)))
    high = max(low, float(a.max()))
    falling = b < 0

    def affordable(level: float) -> bool:
        need = np.clip((a[falling] - level) / -b[falling], 0.0, upper[falling])
        return bool(need.sum() <= budget)

    for _ in range(100):
        if high - low <= 1e-12 * max(1.0, abs(high)):
            break
        middle = (low + high) / 2
        low, high = (low, middle) if affordable(middle) else (middle, high)
    return low


@dataclass(frozen=True)
class _Grid:
    """The problem on a grid of ``resolution`` steps per unit of coverage."""

    a: FloatArray
    b: FloatArray
    p: FloatArray
    g: FloatArray
    budget: float
    upper: FloatArray
    resolution: int

    @property
    def shift(self) -> float:
        return _lowest_top_score(self.a, self.b, self.budget, self.upper)

    @property
    def budget_steps(self) -> int:
        steps = np.floor(self.upper * self.resolution + COVERAGE_TOL).sum()
        return int(min(np.floor(self.budget * self.resolution + COVERAGE_TOL), steps))

    def terms(self, r: float, shift: float) -> list[_Cells]:
        """Each target's term of :math:`h_r` on its grid."""
        return [
            _Cells.of(
                self.a[t],
                self.b[t],
                self.p[t] - r,
                self.g[t],
                self.upper[t],
                self.resolution,
                shift,
            )
            for t in range(self.a.size)
        ]

    def bound(self, r: float, shift: float) -> float:
        """An upper bound of :math:`h_r` (scaled by :math:`e^{-shift}`) over the whole
        feasible set: the knapsack of the cell bounds (a cell k costs k steps, as
        :math:`x \\ge k / N` there)."""
        return self.best([cells.bounds for cells in self.terms(r, shift)])[0]

    def best(self, values: list[FloatArray]) -> tuple[float, FloatArray]:
        r"""The most :math:`\sum_t` ``values[t][k_t]`` over grid points
        :math:`x_t = k_t / N` of the feasible set (a bound on it, exact here) and such
        an x."""
        total, chosen = _grid_argmax(values, self.budget_steps)
        return total, np.array(chosen, dtype=np.float64) / self.resolution

    def polish(self, x: FloatArray, value: float) -> tuple[FloatArray, float]:
        """A local ascent from ``x``, kept when better."""
        return _polish(self.a, self.b, self.p, self.g, self.budget, self.upper, x, value)

    def maximiser(self) -> tuple[FloatArray, float]:
        """The grid's best coverage and its F, by bisection on the level r: some grid x
        has F(x) > r exactly when the knapsack of the terms at r is positive, and then
        its maximiser's F (Dinkelbach's step) raises the lower end at once."""
        a, b, p, g = self.a, self.b, self.p, self.g
        shift = self.shift
        x = np.zeros(a.size)
        r = logit_value(a, b, p, g, x)
        low, high = r, max(r, _top_utility(p, g, self.upper))
        for _ in range(MAX_STEPS):
            if high - low <= LEVEL_TOL * max(1.0, abs(high)):
                break
            middle = (low + high) / 2
            h, candidate = self.best([cells.at for cells in self.terms(middle, shift)])
            value = logit_value(a, b, p, g, candidate)
            if h > 0 and value > middle:
                x, r, low = candidate, value, value
            else:
                high = middle
        return x, r

    def upper_bound(self, value: float, precision: float, ceiling: float = np.inf) -> float:
        """A proven upper bound on F over every feasible coverage (not only the grid's),
        within ``precision`` of the least this grid proves.

        Any feasible x has :math:`F(x) - r = h_r(x) / D(x)` with :math:`D(x) > 0`, and
        :math:`h_r(x)` is at most the knapsack of the cell bounds (a cell k costs k
        steps, as :math:`x \\ge k / N`): where that is <= 0, the optimum is <= r. It
        falls as r rises; its root is bracketed from ``value`` and found by the
        Illinois method (regula falsi). ``ceiling``, a bound already proven (a coarser
        grid's), caps the bracket and the answer."""
        top = _top_utility(self.p, self.g, self.upper)
        shift = self.shift
        if float(np.max(self.a + np.maximum(self.b * self.upper, 0.0))) - shift > EXPONENT_LIMIT:
            return max(value, min(top, ceiling))

        def bound(level: float) -> float:
            return self.bound(level, shift)

        low, high = value, max(value, min(top, ceiling))
        f_low = bound(low)
        if f_low <= 0:
            return low
        f_high = min(bound(high), 0.0)  # F never exceeds the top utility or the ceiling
        side = 0
        for _ in range(MAX_STEPS):
            if high - low <= max(precision, LEVEL_TOL * max(1.0, abs(high))):
                break
            middle = high - f_high * (high - low) / (f_high - f_low)
            if not low < middle < high:
                middle = (low + high) / 2
            f_middle = bound(middle)
            if f_middle <= 0:
                high, f_high = middle, f_middle
                f_low = f_low / 2 if side == -1 else f_low
                side = -1
            else:
                low, f_low = middle, f_middle
                f_high = f_high / 2 if side == 1 else f_high
                side = 1
        return high


@dataclass(frozen=True)
class _SignalGrid(_Grid):
    r"""The grid over the coverages a defender adds by signal: :math:`x_t = \sum_\sigma
    w_{\sigma t} y^\sigma_t` with :math:`\sum_t y^\sigma_t \le k`, :math:`0 \le y \le 1`.

    ``budget`` and ``upper`` are a box relaxation of that set (``upper[t]`` the most
    :math:`x_t`, ``budget`` = k, as :math:`w_{\sigma t} \le P_\sigma`), used for the
    weights' scale; :meth:`surrogate` solves over the set itself, a MILP. ``floors``
    (pairs (q, g)) restrict it further to the x where each
    :math:`\sum_t \pi_t(x)(q_t + g_t x_t) \ge 0` (a defender's least expected
    utility), and ``start`` is a point that meets them, where the search starts.
    """

    weight: FloatArray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    per_signal: float = 0.0
    floors: tuple[tuple[FloatArray, FloatArray], ...] = ()
    start: FloatArray | None = None

    def meets_floors(self, x: FloatArray) -> bool:
        r"""Whether every floor holds at ``x``: :math:`\sum_t \pi_t(x)(q_t + g_t x_t)
        \ge 0` for each floor (q, g), to within :data:`FLOOR_TOL`."""
        return all(logit_value(self.a, self.b, q, g, x) >= -FLOOR_TOL for q, g in self.floors)

    def toward(self, feasible: FloatArray, x: FloatArray) -> FloatArray:
        """``x`` if it meets the floors, else the last point of the segment from
        ``feasible`` (which meets them) towards it that does, by bisection: the set is
        convex, so every point of the segment is in it."""
        if self.meets_floors(x):
            return x
        low, high = 0.0, 1.0
        for _ in range(40):
            middle = (low + high) / 2
            low, high = (
                (middle, high)
                if self.meets_floors(feasible + middle * (x - feasible))
                else (low, middle)
            )
        return feasible + low * (x - feasible)

    def _milp(
        self,
        objective: FloatArray,
        columns: int,
        rows: list[tuple[sparse.coo_array, FloatArray | float]],
        integral: FloatArray,
        bounds: FloatArray,
    ) -> tuple[float, FloatArray | None]:
        """max ``objective`` @ u over the per-signal coverages y (the first columns,
        within the budgets) and u (the rest, within [0, ``bounds``], ``integral``
        marking binaries), subject to each (matrix, limit) of ``rows``, matrix @ (y, u)
        <= limit: HiGHS's proven bound on it and its solution's u; (-inf, None) when
        nothing is feasible, (inf, None) where HiGHS fails (an infinite bound is a
        valid one). The objective is scaled to a largest coefficient of 1 (weights
        span hundreds of orders of magnitude near the rational limit), and HiGHS's stray
        debug line is kept from the terminal."""
        scale = float(np.abs(objective).max(initial=0.0)) or 1.0
        signal, _ = np.nonzero(self.weight > 0.0)
        n_y = signal.size
        budgets = sparse.coo_array(
            (np.ones(n_y), (signal, np.arange(n_y))), shape=(self.weight.shape[0], columns)
        )
        with quiet_stdout():
            result = optimize.milp(
                -np.concatenate((np.zeros(n_y), objective / scale)),
                integrality=np.concatenate((np.zeros(n_y), integral)),
                bounds=optimize.Bounds(0.0, np.concatenate((np.ones(n_y), bounds))),
                constraints=[
                    optimize.LinearConstraint(budgets.tocsr(), -np.inf, self.per_signal),
                    *(optimize.LinearConstraint(a.tocsr(), -np.inf, limit) for a, limit in rows),
                ],
                options={"mip_rel_gap": MIP_GAP},
            )
        if result.x is None:
            return (-np.inf if result.status == INFEASIBLE else np.inf), None
        proven = result.fun if result.mip_dual_bound is None else result.mip_dual_bound  # LP
        return -float(proven) * scale, result.x[n_y:]

    def bound(self, r: float, shift: float) -> float:
        """An upper bound of :math:`h_r` over the set, O(1/N^2) from the optimum
        (:meth:`surrogate`)."""
        return self.surrogate(r, shift)[0]

    def surrogate(self, r: float, shift: float) -> tuple[float, FloatArray]:
        """The most of a piecewise-linear function above :math:`h_r` over the set (and
        where the floors' own such functions are >= 0), and a point of the set where
        it is reached; -inf where no point is left.

        Each term lies below the line through its cell's ends raised by the cell's
        sag, so below the piecewise-linear function through its knots raised by the
        larger adjacent sag; that function's maximum over the set is a MILP (the
        incremental form: segment j + 1 is entered only when segment j is full, a
        binary each). Without floors it is cut at its highest knot, past which no
        coverage pays (the set is downward closed)."""
        m = self.a.size
        nowhere = np.zeros(m)
        signal, target = np.nonzero(self.weight > 0.0)
        n_y = signal.size
        terms = [self.terms(r, shift)] + [
            [
                _Cells.of(self.a[t], self.b[t], q[t], g[t], self.upper[t], self.resolution, shift)
                for t in range(m)
            ]
            for q, g in self.floors
        ]
        base = np.zeros(len(terms))  # each function's value at x = 0
        owner: list[int] = []
        width: list[float] = []
        slopes: list[list[float]] = [[] for _ in terms]
        chained: list[bool] = []
        for t in range(m):
            knots = []
            for cells in (function[t] for function in terms):
                keep = cells.ends > cells.points
                sag = cells.sag[keep]
                if not (np.isfinite(sag).all() and np.isfinite(cells.at).all()):
                    return np.inf, nowhere
                raised = np.maximum(np.append(sag, 0.0), np.append(0.0, sag))
                ends = cells.at_ends[keep][-1:] if sag.size else cells.at[:1]  # x_t = 0 only
                knots.append(np.append(cells.at[: sag.size], ends) + raised)
            widths = (cells.ends - cells.points)[keep]
            base += [k[0] for k in knots]
            top = widths.size if self.floors else int(np.argmax(knots[0]))
            owner += [t] * top
            width += list(widths[:top])
            for f, k in enumerate(knots):
                slopes[f] += list(np.diff(k[: top + 1]) / widths[:top])
            chained += [False] + [True] * (top - 1) if top else []
        n_d = len(owner)
        if n_d == 0:
            return (float(base[0]), nowhere) if (base[1:] >= 0).all() else (-np.inf, nowhere)
        d_target, d_width, follows = np.array(owner), np.array(width), np.flatnonzero(chained)
        n_z = follows.size  # one binary per chained segment: its predecessor is full
        columns = n_y + n_d + n_z
        d_col, z_col = n_y + np.arange(n_d), n_y + n_d + np.arange(n_z)
        ones, rows = np.ones(n_z), np.tile(np.arange(n_z), 2)
        uses = sparse.coo_array(  # x_t <= what y adds to t
            (
                np.concatenate((-self.weight[signal, target], np.ones(n_d))),
                (np.concatenate((target, d_target)), np.concatenate((np.arange(n_y), d_col))),
            ),
            shape=(m, columns),
        )
        enter = sparse.coo_array(  # d_j <= w_j z_j
            (
                np.concatenate((ones, -d_width[follows])),
                (rows, np.concatenate((d_col[follows], z_col))),
            ),
            shape=(n_z, columns),
        )
        full = sparse.coo_array(  # w_{j-1} z_j <= d_{j-1}
            (
                np.concatenate((d_width[follows - 1], -ones)),
                (rows, np.concatenate((z_col, d_col[follows - 1]))),
            ),
            shape=(n_z, columns),
        )
        floors = [  # each floor's function >= 0: -(its slopes) @ d <= its value at 0
            (
                sparse.coo_array(
                    (-np.array(slopes[f]), (np.zeros(n_d, dtype=int), d_col)), shape=(1, columns)
                ),
                float(base[f]),
            )
            for f in range(1, len(terms))
        ]
        value, u = self._milp(
            np.concatenate((slopes[0], np.zeros(n_z))),
            columns,
            [(uses, 0.0), (enter, 0.0), (full, 0.0), *floors],
            np.concatenate((np.zeros(n_d), ones)),
            np.concatenate((d_width, ones)),
        )
        if u is None:
            return value, nowhere
        x = np.bincount(d_target, weights=np.clip(u[:n_d], 0.0, d_width), minlength=m)
        return float(base[0]) + value, np.minimum(x, self.upper)

    def maximiser(self) -> tuple[FloatArray, float]:
        """A good coverage and its F by Dinkelbach's method on the surrogate: from
        r = F(x), the point where the surrogate of :math:`h_r` peaks (a point of the
        set) replaces x while its F is larger; each step is one MILP."""
        a, b, p, g = self.a, self.b, self.p, self.g
        shift = self.shift
        x = np.zeros(a.size) if self.start is None else self.start
        r = logit_value(a, b, p, g, x)
        for _ in range(MAX_STEPS):
            _, peak = self.surrogate(r, shift)
            # with floors the peak may miss them: its way back to x, or an ascent from it
            ways = [self.toward(x, peak), self.ascent(peak, x)] if self.floors else [peak]
            values = [logit_value(a, b, p, g, way) for way in ways]
            if not max(values) > r + LEVEL_TOL * max(1.0, abs(r)):
                break
            x, r = ways[int(np.argmax(values))], max(values)
        return x, r

    def adds(self, y: FloatArray) -> FloatArray:
        """x for the per-signal coverages ``y`` (shape (s, m))."""
        return (self.weight * y).sum(axis=0)

    def realise(self, x: FloatArray) -> FloatArray:
        """Per-signal coverages y (shape (s, m)) within the budgets that add exactly
        ``x`` (a point of the set): an LP for some y adding at least x, scaled down per
        target."""
        s_count, m = self.weight.shape
        signal, target = np.nonzero(self.weight > 0.0)
        if signal.size == 0:
            return np.zeros((s_count, m))
        need = np.clip(x * (1.0 - ROUNDING_TOL), 0.0, None)
        adds = sparse.coo_array(
            (-self.weight[signal, target], (target, np.arange(signal.size))), shape=(m, signal.size)
        )
        budgets = sparse.coo_array(
            (np.ones(signal.size), (signal, np.arange(signal.size))), shape=(s_count, signal.size)
        )
        found = optimize.linprog(
            np.zeros(signal.size),
            A_ub=sparse.vstack([adds, budgets]).tocsr(),
            b_ub=np.concatenate((-need, np.full(s_count, self.per_signal))),
            bounds=(0.0, 1.0),
        )
        if found.x is None:
            raise SolverFailedError(f"no per-signal coverage adds {x.tolist()}: {found.message}")
        y = np.zeros((s_count, m))
        y[signal, target] = np.clip(found.x, 0.0, 1.0)
        added = self.adds(y)
        return y * np.divide(x, added, out=np.zeros(m), where=added > 0.0)[None, :].clip(0.0, 1.0)

    def polish(self, x: FloatArray, value: float) -> tuple[FloatArray, float]:
        """A local ascent from ``x`` (:meth:`ascent`), kept when better."""
        polished = self.ascent(x)
        better = logit_value(self.a, self.b, self.p, self.g, polished)
        return (polished, better) if better > value else (x, value)

    def ascent(self, x: FloatArray, feasible: FloatArray | None = None) -> FloatArray:
        """A local ascent of F (SLSQP over y, the floors as constraints) from a
        realisation of ``x``, brought back towards ``feasible`` (default ``x``; it meets
        the floors) where SLSQP's point misses them (:meth:`toward`)."""
        a, b, p, g = self.a, self.b, self.p, self.g
        signal, target = np.nonzero(self.weight > 0.0)
        if signal.size == 0:
            return x

        def added(v: FloatArray) -> FloatArray:
            out = np.zeros(a.size)
            np.add.at(out, target, self.weight[signal, target] * v)
            return out

        rows = np.zeros((self.weight.shape[0], signal.size))
        rows[signal, np.arange(signal.size)] = 1.0
        found = optimize.minimize(
            lambda v: -logit_value(a, b, p, g, added(v)),
            self.realise(x)[signal, target],
            method="SLSQP",
            bounds=[(0.0, 1.0)] * signal.size,
            constraints=[
                {
                    "type": "ineq",
                    "fun": lambda v: self.per_signal - rows @ v,
                    "jac": lambda v: -rows,
                },
                *(
                    {"type": "ineq", "fun": lambda v, q=q, h=h: logit_value(a, b, q, h, added(v))}
                    for q, h in self.floors
                ),
            ],
        )
        v = np.clip(found.x, 0.0, 1.0)
        spent = rows @ v
        v = v * np.min(np.minimum(1.0, self.per_signal / np.maximum(spent, ROUNDING_TOL))[signal])
        return self.toward(x if feasible is None else feasible, added(v))


def _top_utility(p: FloatArray, g: FloatArray, upper: FloatArray) -> float:
    """The largest utility of any target at any coverage: F averages utilities, so it is
    never above this."""
    return float(np.maximum(p, p + g * upper).max())


def best_against_logit(
    a: ArrayLike,
    b: ArrayLike,
    p: ArrayLike,
    g: ArrayLike,
    *,
    budget: float,
    upper: ArrayLike | None = None,
    max_gap: float = 0.0,
    resolution: int = RESOLUTION,
    max_resolution: int = MAX_RESOLUTION,
) -> LogitOptimum:
    """Maximise :math:`F(x)` over :math:`\\sum_t x_t \\le` ``budget``,
    :math:`0 \\le x_t \\le` ``upper[t]`` (default 1), with a certified gap.

    Parameters
    ----------
    a, b : array_like, shape (m,)
        Target t's attack score is ``a[t] + b[t] * x[t]``.
    p, g : array_like, shape (m,)
        The utility when t is attacked is ``p[t] + g[t] * x[t]``.
    max_gap : float
        The resolution doubles from ``resolution`` until the certified gap is at most
        this (in the utility's units) or it reaches ``max_resolution``; the result
        states its gap either way.
    """
    grid = _grid("best_against_logit", a, b, p, g, budget, upper, resolution, max_resolution)
    return _certify(grid, max_gap, max_resolution)


def _grid(
    owner: str,
    a: ArrayLike,
    b: ArrayLike,
    p: ArrayLike,
    g: ArrayLike,
    budget: float,
    upper: ArrayLike | None,
    resolution: int,
    max_resolution: int,
) -> _Grid:
    """The first grid of a problem, its arguments checked."""
    arrays = [np.asarray(v, dtype=np.float64) for v in (a, b, p, g)]
    av, bv, pv, gv = arrays
    m = av.size
    if any(v.shape != (m,) for v in arrays) or m == 0:
        raise InvalidParameterError(
            f"{owner} needs a, b, p, g of one shape (m,), m >= 1; got {[v.shape for v in arrays]}"
        )
    if not all(np.isfinite(v).all() for v in arrays):
        raise InvalidParameterError(f"{owner} needs finite a, b, p and g")
    box = np.ones(m) if upper is None else np.asarray(upper, dtype=np.float64)
    if box.shape != (m,) or not ((box >= 0) & (box <= 1)).all():
        raise InvalidParameterError(f"{owner}.upper must be in [0, 1]^{m}; got {box}")
    if not (np.isfinite(budget) and budget >= 0):
        raise InvalidParameterError(f"{owner}.budget must be >= 0; got {budget!r}")
    if not (1 <= resolution <= max_resolution):
        raise InvalidParameterError(
            f"{owner}.resolution must be in [1, {max_resolution}]; got {resolution}"
        )
    return _Grid(av, bv, pv, gv, float(budget), box, resolution)


def _certify(grid: _Grid, max_gap: float, max_resolution: int) -> LogitOptimum:
    """The grid's maximiser, polished, and its bound, the resolution doubling until the
    gap is at most ``max_gap`` or the resolution would pass ``max_resolution``."""
    x, value = grid.polish(*grid.maximiser())
    upper_bound = np.inf
    while True:
        upper_bound = grid.upper_bound(value, max_gap / 4, upper_bound)
        if upper_bound - value <= max_gap or grid.resolution * 2 > max_resolution:
            return LogitOptimum(x, value, upper_bound, grid.resolution)
        grid = dataclasses.replace(grid, resolution=grid.resolution * 2)


def best_against_logit_by_signal(
    a: ArrayLike,
    b: ArrayLike,
    p: ArrayLike,
    g: ArrayLike,
    *,
    weight: ArrayLike,
    budget: float,
    max_gap: float = 0.0,
    resolution: int = RESOLUTION,
    max_resolution: int = SIGNAL_MAX_RESOLUTION,
) -> tuple[LogitOptimum, FloatArray]:
    r"""Maximise :math:`F(x)` over the coverages :math:`x_t = \sum_\sigma
    w_{\sigma t} y^\sigma_t` added by per-signal coverages :math:`y^\sigma` with
    :math:`\sum_t y^\sigma_t \le` ``budget`` and :math:`0 \le y \le 1`, with a
    certified gap (``docs/behavioural.md`` §5).

    This is a defender's best strategy modification against a recommendation
    (Gan et al. 2020, Definition 5.1) when the attacker is a logit one: told signal
    :math:`\sigma` she plays :math:`y^\sigma`, and ``weight[s, t]`` is the
    probability of signal s with nobody else on t. The level bisection of
    :func:`best_against_logit` applies unchanged; the set is no longer a knapsack, so
    each level's problem is a MILP over a piecewise-linear function above it (HiGHS).

    Parameters
    ----------
    a, b, p, g : array_like, shape (m,)
        As in :func:`best_against_logit`, with the others' coverage folded in (x is
        what she adds).
    weight : array_like, shape (s, m)
        Non-negative; 0 where she may not play.

    Returns
    -------
    optimum : LogitOptimum
        Its ``coverage`` is the x she adds.
    y : ndarray, shape (s, m)
        Per-signal coverages that add it.
    """
    owner = "best_against_logit_by_signal"
    w = np.asarray(weight, dtype=np.float64)
    m = np.asarray(a).size
    if w.ndim != 2 or w.shape[1] != m or not (np.isfinite(w).all() and (w >= 0).all()):
        raise InvalidParameterError(
            f"{owner}.weight must be non-negative of shape (s, {m}); got shape {w.shape}"
        )
    most = np.clip(w.sum(axis=0) * min(1.0, budget), 0.0, 1.0)
    box = _grid(owner, a, b, p, g, budget, most, resolution, max_resolution)
    grid = _SignalGrid(**vars(box), weight=w, per_signal=float(budget))
    found = _certify(grid, max_gap, max_resolution)
    return found, grid.realise(found.coverage)


def pooled_against_logit(
    game: SecurityGame,
    response: LogitResponse,
    *,
    weights: ArrayLike | None = None,
    floors: ArrayLike | None = None,
    start: ArrayLike | None = None,
    max_gap: float = 0.0,
    resolution: int = RESOLUTION,
    max_resolution: int = MAX_RESOLUTION,
) -> LogitOptimum:
    """The pooled coverage that maximises the defenders' weighted total expected
    utility against ``response`` (default weights 1: the utilitarian objective), with
    the game's total resources; ``max_gap`` in the objective's units.

    ``floors`` (shape (n,), in the game's units) asks in addition that each defender's
    expected utility be at least hers: CSW-Max's utility preservation against the
    logit attacker (``docs/behavioural.md`` §3). Each floor is separable like the
    objective, so the level problems become MILPs with one row per floor (the
    surrogate of §5, without the knapsack), at most :data:`SIGNAL_MAX_RESOLUTION` steps
    per unit; ``start`` is a coverage that meets them (the status quo's)."""
    if game.restricted:
        raise InvalidGameError(
            "pooled_against_logit: pooled coverage under jurisdictions is not supported"
        )
    if game.attacker_resources != 1:
        raise InvalidGameError(
            f"pooled_against_logit models one attack; the game has attacker_resources="
            f"{game.attacker_resources}"
        )
    w = np.ones(game.n_defenders) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (game.n_defenders,) or not (w >= 0).all():
        raise InvalidParameterError(
            f"pooled_against_logit.weights must be {game.n_defenders} non-negative numbers; got {w}"
        )
    a, b = response.affine(game)
    # solved in the objective's own units (its lowest penalty 0, its range 1), so that
    # the coverage does not depend on the payoffs' units; the values are mapped back
    penalty, gap = w @ game.defender_penalty, w @ game.defender_gap
    origin = float(penalty.min())
    scale = max(float((penalty + gap).max()) - origin, float(np.finfo(float).tiny))
    budget = float(game.total_resources)
    p, g = (penalty - origin) / scale, gap / scale
    if floors is None:
        found = best_against_logit(
            a,
            b,
            p,
            g,
            budget=budget,
            max_gap=max_gap / scale,
            resolution=resolution,
            max_resolution=max_resolution,
        )
    else:
        found = _floored(
            game,
            a,
            b,
            p,
            g,
            floors,
            start,
            max_gap / scale,
            resolution,
            min(max_resolution, SIGNAL_MAX_RESOLUTION),
        )
    return LogitOptimum(
        found.coverage,
        origin + scale * found.value,
        origin + scale * found.upper,
        found.resolution,
    )


def _floored(
    game: SecurityGame,
    a: FloatArray,
    b: FloatArray,
    p: FloatArray,
    g: FloatArray,
    floors: ArrayLike,
    start: ArrayLike | None,
    max_gap: float,
    resolution: int,
    max_resolution: int,
) -> LogitOptimum:
    """:func:`pooled_against_logit` with floors: the pooled set as one signal of unit
    weight and budget K, each defender's floor a constraint in her standard units."""
    owner = "pooled_against_logit"
    n, m = game.n_defenders, game.n_targets
    least = np.asarray(floors, dtype=np.float64)
    if least.shape != (n,) or not np.isfinite(least).all():
        raise InvalidParameterError(f"{owner}.floors must be {n} finite numbers; got {least}")
    if start is None:
        raise InvalidParameterError(f"{owner}.start (a coverage meeting the floors) is needed")
    x0 = np.asarray(start, dtype=np.float64)
    budget = float(game.total_resources)
    if x0.shape != (m,) or (x0 < 0).any() or (x0 > 1).any() or x0.sum() > budget + COVERAGE_TOL:
        raise InvalidParameterError(f"{owner}.start must be a coverage of the pooled game")
    units = game.units
    pairs = tuple(
        (
            (game.defender_penalty[i] - least[i]) / units.defender_scale[i],
            game.defender_gap[i] / units.defender_scale[i],
        )
        for i in range(n)
    )
    box = _grid(owner, a, b, p, g, budget, np.ones(m), resolution, max_resolution)
    grid = _SignalGrid(
        **vars(box), weight=np.ones((1, m)), per_signal=budget, floors=pairs, start=x0
    )
    if not grid.meets_floors(x0):
        raise InvalidParameterError(f"{owner}.start must meet the floors")
    return _certify(grid, max_gap, max_resolution)
