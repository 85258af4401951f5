"""Stacks of small dense linear systems, as the batched solvers meet them.

NumPy's stacked :func:`numpy.linalg.solve` costs several times the solve itself on
one 5 x 5 system, and its stacked pseudo-inverse twice a least-squares solve; the
finder solves one game at a time, so a stack of one goes to LAPACK directly
(``gesv``; ``gelsd`` through :func:`numpy.linalg.lstsq`).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

from sim.game import FloatArray


def solve_stack(matrices: FloatArray, vectors: FloatArray) -> FloatArray:
    """``x[j] = solve(matrices[j], vectors[j])`` for a stack (shapes (r, a, a) and
    (r, a)); raises :class:`numpy.linalg.LinAlgError` if some matrix is singular (an
    exactly zero pivot of its LU factors)."""
    if matrices.shape[0] == 1:
        _, _, x, info = lapack.dgesv(matrices[0], vectors[0])
        if info != 0:
            raise np.linalg.LinAlgError(f"singular matrix (gesv info {info})")
        return np.asarray(x, dtype=np.float64)[None]
    return np.asarray(np.linalg.solve(matrices, vectors[..., None])[..., 0])


def least_squares_stack(matrices: FloatArray, vectors: FloatArray) -> FloatArray:
    """The minimum-norm least-squares solutions for a stack (shapes (r, p, q) and
    (r, p)): ``pinv(matrices[j]) @ vectors[j]``, rank-deficient systems included."""
    if matrices.shape[0] == 1:
        return np.asarray(np.linalg.lstsq(matrices[0], vectors[0], rcond=None)[0])[None]
    return np.asarray((np.linalg.pinv(matrices) @ vectors[:, :, None])[:, :, 0])
