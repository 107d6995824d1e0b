"""Lawson–Hanson non-negative least squares, the engine of the QP's dual
(:func:`kmix.kernels.qp_general.least_distance`).

Pure math on validated float64 arrays: never raises on bad data, never prints,
never writes its arguments.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.linalg import lapack, qr_delete, qr_insert

__all__ = ["nonnegative_least_squares", "NNLSResult"]

_EPS = float(np.finfo(np.float64).eps)
_dtrtrs = lapack.dtrtrs


def _upper_solve(R: np.ndarray, v: np.ndarray) -> np.ndarray:
    """R⁻¹v for an upper triangular R."""
    return _dtrtrs(R, v, 0, 0)[0]


class NNLSResult(NamedTuple):
    """Lawson–Hanson non-negative least squares.

    u : ndarray of shape (k,), u >= 0, zero outside ``passive``
    passive : ndarray of shape (k,), bool, the final passive (free) set
    residual : ndarray of shape (p,), d - F u
    n_iter : int, least-squares solves done
    converged : bool
    """

    u: np.ndarray
    passive: np.ndarray
    residual: np.ndarray
    n_iter: int
    converged: bool


def nonnegative_least_squares(
    F: np.ndarray,
    d: np.ndarray,
    *,
    tol: float | None = None,
    max_iter: int | None = None,
) -> NNLSResult:
    """min ‖F u - d‖ over u >= 0 by the Lawson–Hanson active-set method.

    Variables move one at a time from the active (held at zero) to the passive
    set while the gradient Fᵀ(d - F u) has a positive entry; each passive set is
    solved exactly by least squares, and a step that would make a passive
    variable negative is cut short where the first one reaches zero, which moves
    it back. The passive columns stay linearly independent: a column numerically
    in the span of the passive ones is skipped (with exact arithmetic its gradient
    would be zero there). The method is finite and ends on an exact passive set.

    Parameters
    ----------
    F : ndarray of shape (p, k)
    d : ndarray of shape (p,)
    tol : float, optional
        Gradient entries at or below ``tol`` count as zero; default
        ``10 * max(p, k) * eps * max column norm * ‖d‖``.
    max_iter : int, optional
        Limit on least-squares solves; default ``5 * (p + k) + 10``.

    Returns
    -------
    NNLSResult
    """
    p, k = F.shape
    column_norms = np.sqrt(np.einsum("ij,ij->j", F, F))
    if tol is None:
        largest_column = float(column_norms.max(initial=0.0))
        tol = 10.0 * max(p, k) * _EPS * largest_column * float(np.linalg.norm(d))
    if max_iter is None:
        max_iter = 5 * (p + k) + 10
    u = np.zeros(k)
    passive = np.zeros(k, dtype=bool)
    skipped = np.zeros(k, dtype=bool)
    # F[:, order] = Q R with Q (p, p) orthogonal, R (p, len(order)) upper
    # trapezoidal, kept up to date by column insertions and deletions (Givens
    # rotations) instead of refactoring for every passive set.
    order: list[int] = []
    Q = np.eye(p)
    R = np.zeros((p, 0))
    residual = d.copy()
    gradient = F.T @ residual
    n_iter = 0
    while True:
        candidates = np.where(passive | skipped, -np.inf, gradient)
        j = int(np.argmax(candidates)) if k else 0
        if k == 0 or not candidates[j] > tol:
            return NNLSResult(u, passive, residual, n_iter, True)
        size = len(order)
        # Independence test: the part of F_j outside span(F_P) is Q[:, size:]ᵀ F_j.
        rotated = Q.T @ F[:, j]
        if size >= p or float(np.linalg.norm(rotated[size:])) <= 1e-10 * column_norms[j]:
            skipped[j] = True
            continue
        Q, R = _insert_column(Q, R, F[:, j], size)
        order.append(j)
        passive[j] = True
        accepted = True
        first = True
        while True:
            n_iter += 1
            if n_iter > max_iter:
                return NNLSResult(u, passive, residual, n_iter, False)
            size = len(order)
            # least squares on the passive columns: R₁ v = (Qᵀd)[:size]
            v = _upper_solve(R[:size], Q[:, :size].T @ d)
            if np.all(v > 0.0):
                u[:] = 0.0
                u[order] = v
                break
            if first and v[-1] <= 0.0:
                # Rounding made the entering variable non-positive, which exact
                # arithmetic rules out (its gradient was positive): skip it.
                Q, R = _delete_column(Q, R, size - 1)
                order.pop()
                passive[j] = False
                skipped[j] = True
                accepted = False
                break
            first = False
            # Step from u towards v; stop where the first passive variable hits 0.
            current = u[order]
            negative = v <= 0.0
            ratios = current[negative] / (current[negative] - v[negative])
            alpha = float(ratios.min())
            current = current + alpha * (v - current)
            leaving = current <= 0.0
            leaving[np.flatnonzero(negative)[ratios <= alpha]] = True
            u[order] = np.where(leaving, 0.0, current)
            for position in np.flatnonzero(leaving)[::-1]:
                Q, R = _delete_column(Q, R, int(position))
                passive[order.pop(int(position))] = False
        if accepted:
            # The passive set changed (and the residual strictly decreased), so
            # columns skipped before may be independent of it now.
            skipped[:] = False
        residual = d - F[:, order] @ u[order]
        gradient = F.T @ residual


def _insert_column(Q: np.ndarray, R: np.ndarray, column: np.ndarray, position: int):
    """QR factors with ``column`` appended (``position`` = current column count)."""
    if R.shape[1] == 0:
        return np.linalg.qr(column[:, None], mode="complete")
    return qr_insert(Q, R, column, position, which="col", check_finite=False)


def _delete_column(Q: np.ndarray, R: np.ndarray, position: int):
    """QR factors with column ``position`` removed."""
    if R.shape[1] == 1:
        return np.eye(Q.shape[0]), np.zeros((Q.shape[0], 0))
    return qr_delete(Q, R, position, 1, which="col", check_finite=False)
