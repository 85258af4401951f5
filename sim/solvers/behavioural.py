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
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike
from scipy import optimize

from sim.errors import InvalidGameError, InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.numerics import COVERAGE_TOL
from sim.response import LogitResponse

#: The grid's first resolution (steps per unit of coverage); it doubles until the
#: certified gap is at most ``max_gap`` or the resolution reaches ``max_resolution``.
RESOLUTION = 64
MAX_RESOLUTION = 4096
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


def _cell_bounds(
    a: float, b: float, q: float, g: float, upper: float, resolution: int, shift: float
) -> tuple[FloatArray, FloatArray]:
    """Target t's term :math:`\\varphi(x) = e^{a + bx - shift}(q + gx)` at the grid points
    ``k / resolution`` (k = 0 .. n) and an upper bound of it on each cell: on
    ``[k/N, (k+1)/N]`` (the last cell ends at ``upper``) the larger end value plus
    :math:`h^2 \\max|\\varphi''| / 8`, the most a function with that curvature rises
    between the ends of an interval of length h."""
    n = int(np.floor(upper * resolution + COVERAGE_TOL))
    points = np.arange(n + 1) / resolution
    at = _weight(a + b * points - shift) * (q + g * points)
    ends = np.append(points[1:], max(upper, points[-1]))
    end_values = _weight(a + b * ends - shift) * (q + g * ends)
    # |phi''| = e^{a+bx}|b^2 (q + gx) + 2bg| on each cell, by its ends (q + gx is linear)
    top = _weight(a + np.maximum(b * points, b * ends) - shift)
    linear = np.maximum(np.abs(q + g * points), np.abs(q + g * ends))
    width = ends - points
    with np.errstate(over="ignore"):  # an infinite bound is a valid one
        curvature = top * (b * b * linear + 2 * abs(b * g))
        return at, np.maximum(at, end_values) + curvature * width * width / 8


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

    def terms(self, r: float, shift: float) -> list[tuple[FloatArray, FloatArray]]:
        """Each target's term of :math:`h_r` at the grid points and its cell bounds."""
        return [
            _cell_bounds(
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

    def maximiser(self) -> tuple[FloatArray, float]:
        """The grid's best coverage and its F, by bisection on the level r: some grid x
        has F(x) > r exactly when the knapsack of the terms at r is positive, and then
        its maximiser's F (Dinkelbach's step) raises the lower end at once."""
        a, b, p, g = self.a, self.b, self.p, self.g
        shift, budget_steps = self.shift, self.budget_steps
        x = np.zeros(a.size)
        r = logit_value(a, b, p, g, x)
        low, high = r, max(r, _top_utility(p, g, self.upper))
        for _ in range(MAX_STEPS):
            if high - low <= LEVEL_TOL * max(1.0, abs(high)):
                break
            middle = (low + high) / 2
            h, chosen = _grid_argmax([at for at, _ in self.terms(middle, shift)], budget_steps)
            candidate = np.array(chosen, dtype=np.float64) / self.resolution
            value = logit_value(a, b, p, g, candidate)
            if h > 0 and value > middle:
                x, r, low = candidate, value, value
            else:
                high = middle
        return x, r

    def upper_bound(self, value: float, precision: float) -> float:
        """A proven upper bound on F over every feasible coverage (not only the grid's),
        within ``precision`` of the least this grid proves.

        Any feasible x has :math:`F(x) - r = h_r(x) / D(x)` with :math:`D(x) > 0`, and
        :math:`h_r(x)` is at most the knapsack of the cell bounds (a cell k costs k
        steps, as :math:`x \\ge k / N`): where that is <= 0, the optimum is <= r. It
        falls as r rises; its root is bracketed from ``value`` and found by the
        Illinois method (regula falsi)."""
        top = _top_utility(self.p, self.g, self.upper)
        shift = self.shift
        if float(np.max(self.a + np.maximum(self.b * self.upper, 0.0))) - shift > EXPONENT_LIMIT:
            return max(value, top)

        def bound(level: float) -> float:
            cells = [cell for _, cell in self.terms(level, shift)]
            return _grid_argmax(cells, self.budget_steps)[0]

        low, high = value, max(value, top)
        f_low = bound(low)
        if f_low <= 0:
            return low
        f_high = min(bound(high), 0.0)  # F never exceeds the top utility
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
    arrays = [np.asarray(v, dtype=np.float64) for v in (a, b, p, g)]
    av, bv, pv, gv = arrays
    m = av.size
    if any(v.shape != (m,) for v in arrays) or m == 0:
        raise InvalidParameterError(
            f"best_against_logit needs a, b, p, g of one shape (m,), m >= 1; got "
            f"{[v.shape for v in arrays]}"
        )
    if not all(np.isfinite(v).all() for v in arrays):
        raise InvalidParameterError("best_against_logit needs finite a, b, p and g")
    box = np.ones(m) if upper is None else np.asarray(upper, dtype=np.float64)
    if box.shape != (m,) or not ((box >= 0) & (box <= 1)).all():
        raise InvalidParameterError(f"best_against_logit.upper must be in [0, 1]^{m}; got {box}")
    if not (np.isfinite(budget) and budget >= 0):
        raise InvalidParameterError(f"best_against_logit.budget must be >= 0; got {budget!r}")
    if not (1 <= resolution <= max_resolution):
        raise InvalidParameterError(
            f"best_against_logit.resolution must be in [1, {max_resolution}]; got {resolution}"
        )
    grid = _Grid(av, bv, pv, gv, float(budget), box, resolution)
    x, value = grid.maximiser()
    x, value = _polish(av, bv, pv, gv, budget, box, x, value)
    while True:
        upper_bound = grid.upper_bound(value, max_gap / 4)
        if upper_bound - value <= max_gap or grid.resolution * 2 > max_resolution:
            return LogitOptimum(x, value, upper_bound, grid.resolution)
        grid = dataclasses.replace(grid, resolution=grid.resolution * 2)


def pooled_against_logit(
    game: SecurityGame,
    response: LogitResponse,
    *,
    weights: ArrayLike | None = None,
    max_gap: float = 0.0,
    resolution: int = RESOLUTION,
    max_resolution: int = MAX_RESOLUTION,
) -> LogitOptimum:
    """The pooled coverage that maximises the defenders' weighted total expected
    utility against ``response`` (default weights 1: the utilitarian objective), with
    the game's total resources; ``max_gap`` in the objective's units."""
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
    found = best_against_logit(
        a,
        b,
        (penalty - origin) / scale,
        gap / scale,
        budget=float(game.total_resources),
        max_gap=max_gap / scale,
        resolution=resolution,
        max_resolution=max_resolution,
    )
    return LogitOptimum(
        found.coverage,
        origin + scale * found.value,
        origin + scale * found.upper,
        found.resolution,
    )
