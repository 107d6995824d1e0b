"""The quadratic program with several constraints, Bx >= c (and A_eq x = b_eq),
through its least-distance dual (see :mod:`kmix.kernels.qp` for the frame).

:func:`solve_general` runs Lawson–Hanson non-negative least squares on the dual
(:func:`least_distance`), which ends on an exact active set or proves
infeasibility, then finishes the solution in x itself: refined on that set, and a
few Goldfarb–Idnani dual steps if the whitened coordinates lost enough digits to
misname a constraint. The same assumptions as :mod:`kmix.kernels.qp`: validated
inputs, nothing raised, printed or written.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .nnls import nonnegative_least_squares
from .qp import _EPS, _upper_solve, lower_solve, lower_transpose_solve

__all__ = ["least_distance", "LeastDistanceSolution", "solve_general", "GeneralSolution"]


class LeastDistanceSolution(NamedTuple):
    """min ‖z‖² s.t. E z >= f.

    z : ndarray of shape (n,), the solution (zeros when infeasible)
    multiplier : ndarray of shape (m,), λ >= 0 with 2z = Eᵀλ
    feasible : bool
    certificate : ndarray of shape (m,), y >= 0 with Eᵀy ≈ 0 and fᵀy = 1 when
        infeasible (a Farkas certificate), zeros otherwise
    n_iter : int
    converged : bool
    active : ndarray of int, the rows NNLS ended with as tight (linearly independent)
    """

    z: np.ndarray
    multiplier: np.ndarray
    feasible: bool
    certificate: np.ndarray
    n_iter: int
    converged: bool
    active: np.ndarray


def least_distance(
    E: np.ndarray, f: np.ndarray, *, infeasibility_tol: float = 1e-9
) -> LeastDistanceSolution:
    """min ‖z‖² s.t. E z >= f, through the non-negative least-squares dual.

    The dual of the least-distance problem is, up to scaling, the NNLS problem

        min ‖F u - e‖ over u >= 0,   F = [Eᵀ; fᵀ] of shape (n + 1, m),  e = (0, …, 0, 1).

    If the residual r = e - F u vanishes, u is a certificate that E z >= f has no
    solution (Eᵀu = 0 and fᵀu = 1 > 0). Otherwise z = -r[:n] / r[n], and the
    constraints with u > 0 are tight: z is re-solved from exactly those (the
    minimum-norm solution of E_P z = f_P, by QR) so that they hold to rounding.
    Rows of E are scaled to unit norm and f to max(f) = 1 first; this changes
    neither z's direction nor the active set, only the numbers NNLS sees.

    Parameters
    ----------
    E : ndarray of shape (m, n), rows not zero
    f : ndarray of shape (m,)
    infeasibility_tol : float
        The scaled problem counts as infeasible when ‖r‖ <= this (its solution
        would be more than 1/tol times farther than any single half-space), or
        when NNLS ends with more than n, or dependent, tight rows.

    Returns
    -------
    LeastDistanceSolution
    """
    m, n = E.shape
    row_norms = np.sqrt(np.einsum("ij,ij->i", E, E))
    E_unit = E / row_norms[:, None]
    f_unit = f / row_norms
    scale = float(f_unit.max(initial=0.0))
    if not scale > 0.0:
        # z = 0 satisfies every constraint: the unconstrained point is optimal.
        zeros = np.zeros(m)
        return LeastDistanceSolution(
            np.zeros(n), zeros, True, zeros.copy(), 0, True, np.zeros(0, dtype=np.intp)
        )
    f_scaled = f_unit / scale
    F = np.empty((n + 1, m))
    F[:n] = E_unit.T
    F[n] = f_scaled
    target = np.zeros(n + 1)
    target[n] = 1.0
    nnls = nonnegative_least_squares(F, target)
    residual_norm = float(np.linalg.norm(nnls.residual))
    index = np.flatnonzero(nnls.passive)
    tight = None
    # Feasible problems end with E_P of full row rank (so at most n rows); n + 1
    # independent columns of F leave a zero residual, which is infeasibility.
    if residual_norm > infeasibility_tol and len(index) <= n:
        tight = _tight_solve(E_unit[index], f_scaled[index])
    if tight is None:
        # fᵀu = 1 - r[n] ≈ 1 and Eᵀu ≈ 0; back to the unscaled rows: y = u / ‖E_i‖
        y = nnls.u / row_norms
        y /= float(f @ y)
        return LeastDistanceSolution(
            np.zeros(n), np.zeros(m), False, y, nnls.n_iter, nnls.converged, index
        )
    z_scaled, mu_scaled = tight
    multiplier = np.zeros(m)
    # z = Σ μ̂_i E_i/‖E_i‖ (scaled) and 2z = Σ λ_i E_i  =>  λ_i = 2 scale μ̂_i / ‖E_i‖
    multiplier[index] = np.maximum(2.0 * scale * mu_scaled / row_norms[index], 0.0)
    return LeastDistanceSolution(
        scale * z_scaled, multiplier, True, np.zeros(m), nnls.n_iter, nnls.converged, index
    )


def _tight_solve(
    E_active: np.ndarray, f_active: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Minimum-norm z with E_P z = f_P, and μ with z = E_Pᵀ μ; None if E_P is
    (numerically) rank deficient, which only an infeasible problem produces.

    With E_Pᵀ = Q R (thin QR, E_P of full row rank): E_P z = Rᵀ Qᵀ z = f_P and
    z = Q R μ, so μ = R⁻¹ R⁻ᵀ f_P and z = Q R⁻ᵀ f_P.
    """
    n = E_active.shape[1]
    if E_active.shape[0] == 0:
        return np.zeros(n), np.zeros(0)
    Q, R = np.linalg.qr(E_active.T)
    diagonal = np.abs(np.diag(R))
    if not diagonal.min() > 1e-13 * diagonal.max():  # rows are unit vectors
        return None
    y = _upper_solve(R, f_active, trans=1)
    mu = _upper_solve(R, y)
    return Q @ y, mu


class GeneralSolution(NamedTuple):
    """The optimum with several constraints.

    x : ndarray of shape (n,)
    multiplier : ndarray of shape (k,), one per row of the stacked constraint matrix
    objective : float, xᵀMx + xᵀh
    dual_objective : float, the dual function at ``multiplier``
    feasible : bool
    certificate : ndarray of shape (k,), see :class:`LeastDistanceSolution`
    n_iter : int, least-squares solves of NNLS plus active-set corrections
    converged : bool
    gradient : ndarray of shape (n,), ∇ₓL = 2Mx + h - Bᵀλ
    """

    x: np.ndarray
    multiplier: np.ndarray
    objective: float
    dual_objective: float
    feasible: bool
    certificate: np.ndarray
    n_iter: int
    converged: bool
    gradient: np.ndarray


def solve_general(
    M: np.ndarray,
    L: np.ndarray,
    h: np.ndarray,
    B: np.ndarray,
    c: np.ndarray,
    *,
    pairs: int = 0,
) -> GeneralSolution:
    """Solve min xᵀMx + xᵀh s.t. Bx >= c exactly through the dual.

    The dual is max over λ >= 0 of -¼(Bᵀλ - h)ᵀM⁻¹(Bᵀλ - h) + λᵀc. With G = L⁻¹Bᵀ
    and w = L⁻¹h it is the least-distance problem min ‖z‖² s.t. Gᵀz >= c + ½Gᵀw,
    z = Lᵀx + ½w = Lᵀ(x - x₀), solved by :func:`least_distance`, which names the
    active set. Then x and λ are computed on that set in x itself, refined
    against the KKT residuals 2Mx + h - B_Pᵀλ_P and c_P - B_P x (x = x₀ + L⁻ᵀz
    alone loses digits when the unconstrained minimiser x₀ is far from x), and
    the set is corrected while a constraint is violated or a multiplier negative.

    Rows of B that are zero are left out (0 >= c_i either holds for every x or for
    none; the caller checks which). An equality row is passed as two opposite
    inequality rows: the last ``2 * pairs`` rows are such pairs, row
    ``k - 2 pairs + i`` and row ``k - pairs + i``.

    Parameters
    ----------
    M : ndarray of shape (n, n)
    L : ndarray of shape (n, n)
        Lower Cholesky factor of M.
    h : ndarray of shape (n,)
    B : ndarray of shape (k, n)
    c : ndarray of shape (k,)
    pairs : int
        How many equality rows were split into opposite pairs at the end of B.

    Returns
    -------
    GeneralSolution
    """
    k, n = B.shape
    G = lower_solve(L, np.asfortranarray(B.T))  # (n, k), G = L⁻¹Bᵀ
    w = lower_solve(L, h)
    f = c + 0.5 * (G.T @ w)
    nonzero = np.flatnonzero(np.any(B != 0.0, axis=1))
    sub = least_distance(G.T[nonzero], f[nonzero])
    multiplier = np.zeros(k)
    certificate = np.zeros(k)
    certificate[nonzero] = sub.certificate
    if not sub.feasible:
        return GeneralSolution(
            np.zeros(n), multiplier, math.nan, math.nan, False, certificate, sub.n_iter,
            sub.converged, np.full(n, math.nan),
        )
    multiplier[nonzero] = sub.multiplier
    x = lower_transpose_solve(L, sub.z - 0.5 * w)  # x₀ + L⁻ᵀz, a first guess
    active = list(nonzero[sub.active])
    x, multiplier, corrections, proof, finished = _settle(
        M, L, G, h, B, c, x, multiplier, active, k, pairs
    )
    if proof is not None:
        total = float(c @ proof)  # cᵀy > 0 for a true certificate
        return GeneralSolution(
            np.zeros(n), np.zeros(k), math.nan, math.nan, False,
            proof / total if total > 0.0 else proof,
            sub.n_iter + corrections, sub.converged, np.full(n, math.nan),
        )
    gradient = 2.0 * (M @ x) + h - B.T @ multiplier
    objective = float(x @ (M @ x)) + float(x @ h)
    # The dual function at λ without cancellation: L(x, ·) is a quadratic in x with
    # Hessian 2M, so g(λ) = min L = L(x, λ) - ¼ ∇ᵀM⁻¹∇, ∇ = 2Mx + h - Bᵀλ.
    scaled_gradient = lower_solve(L, gradient)
    dual_objective = (
        objective
        - float(multiplier @ (B @ x - c))
        - 0.25 * float(scaled_gradient @ scaled_gradient)
    )
    return GeneralSolution(
        x, multiplier, objective, dual_objective, True, certificate,
        sub.n_iter + corrections, sub.converged and finished, gradient,
    )


def _settle(
    M: np.ndarray,
    L: np.ndarray,
    G: np.ndarray,
    h: np.ndarray,
    B: np.ndarray,
    c: np.ndarray,
    x: np.ndarray,
    multiplier: np.ndarray,
    active: list[int],
    k: int,
    pairs: int,
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray | None, bool]:
    """Finish in x itself: refine on the active set, then dual active-set steps.

    NNLS works in whitened coordinates z = Lᵀ(x - x₀); when x₀ is far from x those
    lose digits, and the set it names can be off by a constraint or two. Here:

    1. (x, λ_P) is refined on the set P (:func:`_refine`); a clearly negative λ_i
       leaves P. This is an optimum of the problem restricted to P with λ >= 0,
       the starting point of a Goldfarb–Idnani dual method.
    2. While some constraint p is violated (slack computed from B and c), step
       towards it: with G_P = L⁻¹B_Pᵀ = [Q₁ Q₂][R; 0] and g_p = L⁻¹b_p, the primal
       direction is s = ½L⁻ᵀQ₂Q₂ᵀg_p, the dual one r = R⁻¹Q₁ᵀg_p. The full step
       t = -slack_p / b_pᵀs makes p tight (p joins P); a partial step stops where
       a multiplier λ_j - t r_j reaches 0 (j leaves P, p stays the target). With
       s = 0 (b_p dependent on P) only dual steps are possible, and none at all
       (r <= 0) proves the constraints infeasible.

    Returns x, λ, the number of steps, a Farkas certificate y >= 0 (Bᵀy = 0,
    cᵀy > 0) when infeasibility was found (else None), and whether it finished
    within its step limit.
    """
    first_pair = k - 2 * pairs
    x, multiplier = _refine(M, L, G, h, B, c, x, multiplier, active)
    steps = 0
    while True:
        largest = float(np.max(multiplier[active], initial=0.0))
        negative = [i for i in active if multiplier[i] < -1e-10 * largest]
        if not negative:
            break
        leaving = min(negative, key=lambda i: multiplier[i])
        active.remove(leaving)
        multiplier[leaving] = 0.0
        x, multiplier = _refine(M, L, G, h, B, c, x, multiplier, active)
        steps += 1
    for i in active:
        multiplier[i] = max(multiplier[i], 0.0)
    limit = 3 * k + 3 * B.shape[1] + 10
    while steps < limit:
        slack = B @ x - c
        size = np.abs(c) + np.abs(B) @ np.abs(x)
        violation = -slack / np.maximum(size, np.finfo(np.float64).tiny)
        violation[active] = -np.inf
        for i in active:  # the other half of an active equality is tight too
            partner = _partner(i, first_pair, pairs)
            if partner >= 0:
                violation[partner] = -np.inf
        target = int(np.argmax(violation))
        if not violation[target] > 1e-12:
            break
        # dual steps towards the target until it is tight
        target_multiplier = 0.0
        while True:
            steps += 1
            column = G[:, target]
            q = len(active)
            if q:
                Q, R = np.linalg.qr(G[:, active], mode="complete")
                d = Q.T @ column
                r = _upper_solve(R[:q], d[:q])
                inside = Q[:, q:] @ d[q:]
            else:
                r = np.zeros(0)
                inside = column
            dependent = float(np.linalg.norm(inside)) <= 1e-12 * float(np.linalg.norm(column))
            direction = None if dependent else 0.5 * lower_transpose_solve(L, inside)
            # partial step: the first multiplier that reaches zero
            partial, leaving = math.inf, -1
            for position, j in enumerate(active):
                if r[position] > 0.0:
                    ratio = multiplier[j] / r[position]
                    if ratio < partial:
                        partial, leaving = ratio, position
            slack_target = float(B[target] @ x) - c[target]
            full = math.inf if direction is None else -slack_target / float(B[target] @ direction)
            if math.isinf(partial) and math.isinf(full):
                certificate = np.zeros(k)
                certificate[target] = 1.0
                for position, j in enumerate(active):
                    certificate[j] = -r[position]
                certificate = np.maximum(certificate, 0.0)
                return x, multiplier, steps, certificate, True
            step = min(partial, full)
            if direction is not None:
                x = x + step * direction
            for position, j in enumerate(active):
                multiplier[j] -= step * r[position]
            target_multiplier += step
            if full <= partial:
                active.append(target)
                multiplier[target] = target_multiplier
                break
            dropped = active.pop(leaving)
            multiplier[dropped] = 0.0
            if steps >= limit:
                break
        x, multiplier = _refine(M, L, G, h, B, c, x, multiplier, active)
        for i in active:
            multiplier[i] = max(multiplier[i], 0.0)
    return x, multiplier, steps, None, steps < limit


def _partner(row: int, first_pair: int, pairs: int) -> int:
    """The opposite half of an equality pair, or -1."""
    if pairs == 0 or row < first_pair:
        return -1
    offset = row - first_pair
    return row + pairs if offset < pairs else row - pairs


def _refine(
    M: np.ndarray,
    L: np.ndarray,
    G: np.ndarray,
    h: np.ndarray,
    B: np.ndarray,
    c: np.ndarray,
    x: np.ndarray,
    multiplier: np.ndarray,
    active: list[int],
    steps: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Newton steps on the KKT system of the equality problem on ``active``."""
    multiplier = multiplier.copy()
    inactive = np.ones(len(multiplier), dtype=bool)
    inactive[active] = False
    multiplier[inactive] = 0.0
    if active:
        G_active = G[:, active]
        Q, R = np.linalg.qr(G_active)
        B_active = B[active]
    for _ in range(steps):
        rho1 = -(2.0 * (M @ x) + h)
        if active:
            rho1 += B_active.T @ multiplier[active]
        a = lower_solve(L, rho1)
        if active:
            rho2 = c[active] - B_active @ x
            t = rho2 - 0.5 * (G_active.T @ a)
            delta_multiplier = 2.0 * _upper_solve(R, _upper_solve(R, t, trans=1))
            delta_x = 0.5 * lower_transpose_solve(L, a + G_active @ delta_multiplier)
            multiplier[active] += delta_multiplier
        else:
            delta_x = 0.5 * lower_transpose_solve(L, a)
        x = x + delta_x
        if float(np.linalg.norm(delta_x)) <= 4.0 * _EPS * float(np.linalg.norm(x)):
            break
    return x, multiplier
