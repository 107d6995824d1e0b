"""Pure math of the quadratic program min xᵀMx + xᵀh s.t. Bx >= c (and A_eq x = b_eq).

Everything here works from one Cholesky factorisation M = L Lᵀ and triangular
solves; no inverse is ever formed. With w = L⁻¹h and z = Lᵀx + ½w = Lᵀ(x - x₀)
the objective is ‖z‖² - ¼‖w‖², so the program is the least-distance problem

    min ‖z‖²  s.t.  E z >= f,   E = B L⁻ᵀ,  f = c + ½ E w = c - B x₀,

whose multipliers are those of the original constraints.

* One constraint has a closed form (:func:`closed_form`, here).
* Several are solved through the dual (:func:`kmix.kernels.qp_general.solve_general`): Lawson–Hanson
  non-negative least squares on the least-distance dual (``least_distance``)
  ends on an exact active set or proves infeasibility; the solution is then
  finished in x itself (refined on that set, and a few Goldfarb–Idnani dual steps
  if the whitened coordinates lost enough digits to misname a constraint).

Inputs are assumed validated (finite float64, matching shapes, M symmetric);
these functions never raise on bad data, never print and never write their
arguments.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.linalg import blas, lapack

__all__ = [
    "cholesky_lower",
    "closed_form",
    "inverse_norm_estimate",
    "ClosedFormSolution",
    "unconstrained_minimiser",
]

_EPS = float(np.finfo(np.float64).eps)

_dpotrf = lapack.dpotrf
_dposv = lapack.dposv
_dpocon = lapack.dpocon
_dsymv = blas.dsymv
_ddot = blas.ddot
_daxpy = blas.daxpy
_dscal = blas.dscal
_tuple_new = tuple.__new__
_dtrtrs = lapack.dtrtrs


def cholesky_lower(M: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor L of M = L Lᵀ, or None where M is not positive definite.

    Parameters
    ----------
    M : ndarray of shape (n, n), float64
        Symmetric; only its lower triangle is read.

    Returns
    -------
    L : ndarray of shape (n, n), float64, Fortran order, or None
        Only the lower triangle is meaningful (the upper one is left as it was).
    """
    L, info = _dpotrf(M, lower=1, clean=0)
    return L if info == 0 else None


def inverse_norm_estimate(L: np.ndarray) -> float:
    """An estimate of ‖M⁻¹‖₁ from the lower Cholesky factor L of M = L Lᵀ.

    LAPACK's condition estimator (Hager and Higham's method, a few triangular
    solves with L, O(n²)): it never exceeds ‖M⁻¹‖₁ and is rarely below it by more
    than a small factor. Forming M⁻¹ or its eigenvalues would cost O(n³).

    Parameters
    ----------
    L : ndarray of shape (n, n), float64
        Only the lower triangle is read.

    Returns
    -------
    float
        The estimate; inf where it overflows (M singular to working precision).
    """
    # with ‖M‖₁ given as 1, the reciprocal condition number is 1 / ‖M⁻¹‖₁
    reciprocal = _dpocon(L, 1.0, "L")[0]
    return 1.0 / reciprocal if reciprocal > 0.0 else math.inf


def _upper_solve(R: np.ndarray, v: np.ndarray, trans: int = 0) -> np.ndarray:
    """R⁻¹v (or R⁻ᵀv with ``trans=1``) for an upper triangular R."""
    return _dtrtrs(R, v, 0, trans)[0]


def lower_solve(L: np.ndarray, v: np.ndarray) -> np.ndarray:
    """L⁻¹ v for the lower Cholesky factor L; ``v`` of shape (n,) or (n, k)."""
    return _dtrtrs(L, v, lower=1)[0]


def lower_transpose_solve(L: np.ndarray, v: np.ndarray) -> np.ndarray:
    """L⁻ᵀ v for the lower Cholesky factor L; ``v`` of shape (n,) or (n, k)."""
    return _dtrtrs(L, v, lower=1, trans=1)[0]


def unconstrained_minimiser(L: np.ndarray, h: np.ndarray) -> np.ndarray:
    """x₀ = -½ M⁻¹ h, the minimiser of xᵀMx + xᵀh without constraints.

    Parameters
    ----------
    L : ndarray of shape (n, n)
        Lower Cholesky factor of M.
    h : ndarray of shape (n,)

    Returns
    -------
    ndarray of shape (n,)
    """
    # 2 M x₀ + h = 0  =>  x₀ = -½ L⁻ᵀ L⁻¹ h
    return lower_transpose_solve(L, -0.5 * lower_solve(L, h))


class ClosedFormSolution(NamedTuple):
    """The single-constraint optimum and its KKT residuals.

    x : ndarray of shape (n,)
    multiplier : float, λ >= 0 (exactly 0.0 when the constraint is inactive)
    objective : float, xᵀMx + xᵀh
    dual_objective : float, the dual function at λ, -¼(λb - h)ᵀM⁻¹(λb - h) + λc
    active : bool, whether bᵀx = c at the optimum: λ > 0, or the unconstrained
        minimiser x₀ lies exactly on the boundary (c - bᵀx₀ = 0)
    bmb : float, bᵀM⁻¹b (0.0 only when b is zero or underflows)
    stationarity : float, ‖2Mx + h - λb‖₂
    slack : float, bᵀx - c
    factor : ndarray of shape (n, n), Fortran order, the lower Cholesky factor L of
        M in its lower triangle (the upper one holds M's), for a caller that needs
        more solves
    probe_growth : float, ‖M⁻¹p‖₂ for the unit probe vector p given as a third row
        of ``stacked`` (a lower bound on ‖M⁻¹‖₂), NaN without one
    """

    x: np.ndarray
    multiplier: float
    objective: float
    dual_objective: float
    active: bool
    bmb: float
    stationarity: float
    slack: float
    factor: np.ndarray
    probe_growth: float


def closed_form(
    M: np.ndarray,
    h: np.ndarray,
    b: np.ndarray,
    c: float,
    *,
    stacked: np.ndarray | None = None,
) -> ClosedFormSolution | None:
    """Solve min xᵀMx + xᵀh s.t. bᵀx >= c in closed form, with its KKT residuals.

    The dual function is g(λ) = -¼(λb - h)ᵀM⁻¹(λb - h) + λc, a concave parabola in
    λ whose maximiser over λ >= 0 is

        λ* = max(0, (2c + bᵀM⁻¹h) / (bᵀM⁻¹b)),   x* = ½ M⁻¹(λ* b - h).

    One LAPACK call (dposv) factors M = L Lᵀ and solves for both M⁻¹b and M⁻¹h
    with triangular solves; three dot products give bᵀM⁻¹b, bᵀM⁻¹h and hᵀM⁻¹h,
    from which the objective and the dual objective follow:

        f(x*) = ¼(λb - h)ᵀM⁻¹(λb - h) + ½(λb - h)ᵀM⁻¹h = ¼(λ²bᵀM⁻¹b - hᵀM⁻¹h).

    One symmetric product then gives the stationarity residual 2Mx* + h - λ*b.
    Only BLAS/LAPACK routines are called (through scipy), each once: for small n
    the cost of a call, not the arithmetic, is what counts.

    Parameters
    ----------
    M : ndarray of shape (n, n), float64
        Symmetric positive definite; only one triangle is read.
    h, b : ndarray of shape (n,)
        Not written.
    c : float
    stacked : ndarray of shape (2, n) or (3, n), C-ordered, optional
        The rows b and h stacked, if the caller has them already; a third row, a
        vector p of unit norm, is solved for in the same call and gives
        ``probe_growth`` = ‖M⁻¹p‖ (for a condition estimate at the cost of one
        more triangular solve pair, not a second factorisation).

    Returns
    -------
    ClosedFormSolution, or None where the Cholesky factorisation fails (M not
    positive definite)
        When b is zero (``bmb == 0``) the constraint is ignored (λ = 0, x = x₀);
        the caller decides whether ``0 >= c`` holds.
    """
    if stacked is None:
        stacked = np.array((b, h), dtype=np.float64)
    # (L, [M⁻¹b, M⁻¹h], info). M is symmetric, so Mᵀ (Fortran-ordered without a copy
    # when M is C-ordered) is M; the transpose of the C-ordered (2, n) stack is the
    # Fortran-ordered (n, 2) right-hand side. Neither input is written.
    MT = M.T
    factored = _dposv(MT, stacked.T, 1)
    if factored[2] != 0:
        return None
    solved = factored[1]
    Mb = solved[:, 0]
    Mh = solved[:, 1]
    if stacked.shape[0] > 2:
        Mp = solved[:, 2]
        probe_growth = math.sqrt(_ddot(Mp, Mp))
    else:
        probe_growth = math.nan
    bmb = _ddot(b, Mb)  # bᵀM⁻¹b
    bmh = _ddot(b, Mh)  # bᵀM⁻¹h
    hmh = _ddot(h, Mh)  # hᵀM⁻¹h
    numerator = 2.0 * c + bmh  # = 2(c - bᵀx₀), since bᵀx₀ = -½bᵀM⁻¹h
    # x₀ = -½M⁻¹h, scaled in place in the solver's own output
    x = _dscal(-0.5, Mh)
    # λ = max(0, ·) by a comparison, so an inactive constraint gets exactly 0.0
    if numerator > 0.0 and bmb > 0.0:
        multiplier = numerator / bmb
        x = _daxpy(Mb, x, a=0.5 * multiplier)  # x = x₀ + ½λM⁻¹b, in place
        quadratic = multiplier * multiplier * bmb
        objective = 0.25 * (quadratic - hmh)
        dual_objective = multiplier * c - 0.25 * (quadratic - 2.0 * multiplier * bmh + hmh)
        # ∇ₓL = 2Mx + h - λb: dsymv returns 2Mx + h as a new array (h is not
        # written), then daxpy subtracts λb from that array in place
        gradient = _daxpy(b, _dsymv(2.0, MT, x, 1.0, h), a=-multiplier)
    else:
        multiplier = 0.0
        objective = dual_objective = -0.25 * hmh
        gradient = _dsymv(2.0, MT, x, 1.0, h)
    # tuple.__new__ skips the generated Python-level __new__ (same object, faster)
    return _tuple_new(
        ClosedFormSolution,
        (
            x,
            multiplier,
            objective,
            dual_objective,
            numerator >= 0.0,
            bmb,
            math.sqrt(_ddot(gradient, gradient)),
            _ddot(b, x) - c,
            factored[0],
            probe_growth,
        ),
    )
