r"""A zero of a small nonlinear system inside a box: projected Levenberg-Marquardt.

The NSE finder's least-squares passes and its exact-split fallbacks (``docs/nse.md``
§2.2) solve systems of a few to a few hundred unknowns, often with more unknowns than
equations, with an analytic Jacobian and box bounds. :func:`bounded_root` is written
for them: one call of the system gives the residual and the Jacobian together (a
generic least-squares routine asks for them apart, so every split is computed twice),
and a step costs one small dense solve.

The step is Levenberg-Marquardt's on the variables not held by a bound,

.. math:: s = J_F^\top (J_F J_F^\top + \lambda I)^{-1} f
          = (J_F^\top J_F + \lambda I)^{-1} J_F^\top f,

(whichever system is smaller) with :math:`\lambda = \mu \lVert f \rVert^2`, the choice
of Yamashita and Fukushima (2001) that keeps quadratic convergence near a solution even
where the solutions form a manifold (the exact splits do); :math:`\mu` shrinks after a
step that lowers :math:`\lVert f \rVert` and grows after one that does not. A variable
on a bound with the gradient pushing it out is held (an active set, as in Kanzow,
Yamashita and Fukushima 2004, "Levenberg-Marquardt methods with strong local
convergence properties for solving nonlinear equations with convex constraints"); the
trial point is projected on the box. Where the projection clipped some variables and
the trial is no better, the clipped ones are held at their bounds and the others take
one more step from there before the damping grows. Deterministic.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.game import FloatArray
from sim.numerics import NEWTON_TOL, RESIDUAL_TOL

#: A system: the point -> (residual, Jacobian).
System = Callable[[FloatArray], tuple[FloatArray, FloatArray]]

#: The damping factor's start and range: below the range the steps are Gauss-Newton's
#: to rounding, above it no step lowers the residual (a stall).
MU_START, MU_MIN, MU_MAX = 1e-3, 1e-12, 1e12


def bounded_root(
    system: System,
    start: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    max_evaluations: int,
) -> FloatArray | None:
    """A point of ``[lower, upper]`` where every residual of ``system`` is within
    :data:`~sim.numerics.RESIDUAL_TOL`, or None.

    Parameters
    ----------
    system : callable
        ``x -> (f, J)``: the residual, shape (e,), and its Jacobian, shape (e, v).
    start : ndarray, shape (v,)
        Projected on the box first.
    lower, upper : ndarray, shape (v,)
        The box (``lower <= upper``).
    max_evaluations : int
        How many times ``system`` may be called.

    Returns
    -------
    ndarray or None
        The iteration runs until every residual is within
        :data:`~sim.numerics.NEWTON_TOL` or it stalls; the point is returned when the
        residuals are then within ``RESIDUAL_TOL``.
    """
    x = np.minimum(np.maximum(start, lower), upper)
    f, jac = system(x)
    cost = float(f @ f)
    mu = MU_START
    calls = 1
    while calls < max_evaluations:
        if np.max(np.abs(f), initial=0.0) <= NEWTON_TOL:
            break
        gradient = jac.T @ f
        held = ((x <= lower) & (gradient > 0.0)) | ((x >= upper) & (gradient < 0.0))
        free = np.flatnonzero(~held)
        if free.size == 0:
            break
        step = _step(jac[:, free], f, gradient[free], mu * cost)
        trial = x.copy()
        trial[free] -= step
        inside = np.minimum(np.maximum(trial, lower), upper)
        clipped = np.flatnonzero(inside != trial)
        trial = inside
        f_trial, jac_trial = system(trial)
        calls += 1
        cost_trial = float(f_trial @ f_trial)
        if cost_trial >= cost and 0 < clipped.size < free.size and calls < max_evaluations:
            # the projection spoilt the step: hold the clipped variables at their bounds
            # and take the step of the others from there
            others = np.setdiff1d(free, clipped)
            j = jac_trial[:, others]
            step = _step(j, f_trial, j.T @ f_trial, mu * cost_trial)
            second = trial.copy()
            second[others] = np.minimum(
                np.maximum(trial[others] - step, lower[others]), upper[others]
            )
            f_second, jac_second = system(second)
            calls += 1
            if float(f_second @ f_second) < cost:
                trial, f_trial, jac_trial = second, f_second, jac_second
                cost_trial = float(f_second @ f_second)
        if cost_trial < cost:
            x, f, jac, cost = trial, f_trial, jac_trial, cost_trial
            mu = max(mu / 4.0, MU_MIN)
        else:
            mu *= 8.0
            if mu > MU_MAX:
                break
    return x if np.max(np.abs(f), initial=0.0) <= RESIDUAL_TOL else None


def _step(j: FloatArray, f: FloatArray, gradient: FloatArray, damping: float) -> FloatArray:
    """The damped step on the variables of ``j`` (the Jacobian's columns, ``gradient``
    = ``j.T @ f``): through the smaller of ``j j^T`` and ``j^T j``."""
    rows, cols = j.shape
    if rows <= cols:
        matrix = j @ j.T
        matrix.flat[:: rows + 1] += damping
        return j.T @ _solve(matrix, f)
    matrix = j.T @ j
    matrix.flat[:: cols + 1] += damping
    return _solve(matrix, gradient)


def _solve(matrix: FloatArray, rhs: FloatArray) -> FloatArray:
    """``matrix^{-1} rhs`` (least squares where it is singular: no damping at a root)."""
    try:
        return np.asarray(np.linalg.solve(matrix, rhs), dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.asarray(np.linalg.lstsq(matrix, rhs, rcond=None)[0], dtype=np.float64)
