"""The checks of :func:`kmix.models.qp.solve_qp`: its input (shapes, finiteness,
a symmetric positive definite M), M's conditioning, and the KKT residuals of every
answer before it is returned."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.linalg import blas

from .._validation import check_array
from ..exceptions import DataError, IllConditionedError
from ..kernels import qp as kq

_ddot = blas.ddot  # a dot product without numpy's per-call overhead

#: M may differ from Mᵀ by this much, relative to ‖M‖ (Frobenius norms); within it
#: M is replaced by (M + Mᵀ)/2, beyond it solve_qp raises.
SYMMETRY_RTOL = 1e-8

#: A solution is returned only where each KKT residual is at most this fraction of
#: the size of the terms it is a difference of (see :func:`solve_qp`); a backward-
#: stable answer has residuals near n·eps of that size.
KKT_RTOL = 1e-8

_EPS = float(np.finfo(np.float64).eps)


# --- input checks ---------------------------------------------------------------


def _array(value: Any, name: str) -> np.ndarray:
    """``value`` as a float64 array, or a DataError naming it (no finiteness check)."""
    if type(value) is np.ndarray and value.dtype.char == "d":
        return value  # the common case, without another call
    return check_array(value, name=name, dtype=np.float64, ensure_2d=False, finite=False)


def _raise_if_not_finite(array: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        count = int(bad.sum())
        where = np.unravel_index(int(np.flatnonzero(bad)[0]), array.shape)
        if array.ndim == 2:
            place = f"row {where[0]}, column {where[1]}"
        elif array.ndim == 1:
            place = f"entry {where[0]}"
        else:
            place = "its value"
        raise DataError(
            f"{name} contains {count} NaN or inf value{'s' if count != 1 else ''} "
            f"(first at {place})"
        )


def _check_matrix_M(M: Any) -> np.ndarray:
    M = _array(M, "M")
    if M.ndim != 2:
        raise DataError(f"M must be a 2-D square matrix, got {M.ndim}-D with shape {M.shape}")
    if M.shape[0] != M.shape[1]:
        raise DataError(f"M must be square, got shape {M.shape}")
    if M.shape[0] == 0:
        raise DataError("M is empty (shape (0, 0)); the problem needs at least one variable")
    # NaN or inf anywhere in M makes ‖M‖² non-finite, and an exactly symmetric M has
    # the same bytes as Mᵀ (a copy and a memcmp, cheaper than M - Mᵀ), so the
    # careful checks below run only on the rare paths.
    flat = M.ravel()
    norm_squared = _ddot(flat, flat)
    if not math.isfinite(norm_squared):
        _raise_if_not_finite(M, "M")
        largest = float(np.abs(M).max())  # ‖M‖² overflowed: check a scaled copy
        return _check_matrix_M(M / largest) * largest
    if M.tobytes() == M.T.tobytes():
        return M
    difference = (M - M.T).ravel()
    asymmetry = _ddot(difference, difference)
    if asymmetry == 0.0:
        return M  # equal up to the sign of zeros
    norm = math.sqrt(norm_squared)
    asymmetry = math.sqrt(asymmetry)
    if not asymmetry <= SYMMETRY_RTOL * norm:
        raise DataError(
            f"M is not symmetric: ‖M - Mᵀ‖ = {asymmetry:.3g} exceeds {SYMMETRY_RTOL:g} × ‖M‖ "
            f"= {SYMMETRY_RTOL * norm:.3g} (Frobenius norms); pass (M + M.T) / 2 if that is meant"
        )
    return 0.5 * (M + M.T)


def _check_vector(value: Any, name: str, length: int) -> np.ndarray:
    """A 1-D float64 vector of ``length`` entries (finiteness is checked by the caller)."""
    vector = _array(value, name)
    if vector.ndim != 1:
        raise DataError(
            f"{name} must be a 1-D vector of {length} entries (M is {length} × {length}), "
            f"got shape {vector.shape}"
        )
    if vector.shape[0] != length:
        raise DataError(
            f"{name} has {vector.shape[0]} entries but M is {length} × {length}: "
            f"it must have {length}"
        )
    return vector


def _check_scalar(value: Any, name: str) -> float:
    if type(value) is float:
        number = value
    elif type(value) is int:
        try:
            number = float(value)
        except OverflowError:
            raise DataError(f"{name} = {value} is too large for a float") from None
    else:
        array = _array(value, name)
        if array.size != 1:
            raise DataError(f"{name} must be a single number here, got shape {array.shape}")
        number = float(array.reshape(()))
    if not math.isfinite(number):
        raise DataError(f"{name} must be finite, got {number}")
    return number


def _factor(M: np.ndarray) -> np.ndarray:
    L = kq.cholesky_lower(M)
    if L is None:
        eigenvalues = np.linalg.eigvalsh(M)
        smallest, largest = float(eigenvalues[0]), float(eigenvalues[-1])
        if smallest > 0.0:
            raise DataError(
                f"M is numerically not positive definite (Cholesky failed): its smallest "
                f"eigenvalue {smallest:.3g} is tiny next to the largest {largest:.3g}; "
                "add a small multiple of the identity or rescale"
            )
        raise DataError(
            f"M is not positive definite: its smallest eigenvalue is {smallest:.3g} "
            f"(largest {largest:.3g}); the objective must be strictly convex"
        )
    return L


def _condition_number(M: np.ndarray) -> float:
    """cond₂(M) = λ_max / λ_min from the eigenvalues (inf unless λ_min > 0)."""
    eigenvalues = np.linalg.eigvalsh(M)
    smallest, largest = float(eigenvalues[0]), float(eigenvalues[-1])
    return largest / smallest if smallest > 0.0 else math.inf


_REMEDY = (
    "rescale the variables (x = D y turns M into D M D) or regularise M "
    "(e.g. add a small multiple of the identity)"
)


@lru_cache(maxsize=64)
def _probe(n: int) -> np.ndarray:
    """A fixed unit vector with no structure (so no structured M has an eigenvector
    orthogonal to it), read-only."""
    vector = np.random.default_rng(20240531).standard_normal(n)
    vector /= np.linalg.norm(vector)
    vector.setflags(write=False)
    return vector


def _check_conditioning(M: np.ndarray, inverse_norm: float) -> float:
    """Raise IllConditionedError where cond₂(M) > 1/(n·eps); return ‖M‖_F.

    Beyond that limit M has an eigenvalue below n·eps·‖M‖₂, the size of the
    rounding in its Cholesky factorisation (and numpy.linalg.matrix_rank's rank
    tolerance): a change of M within its own rounding could make it singular or
    indefinite, so no x computed from it is trustworthy, whatever its residuals.

    ``inverse_norm`` is an O(n²) estimate of ‖M⁻¹‖ from the Cholesky factor
    (LAPACK's, or ‖M⁻¹p‖ for a unit probe p, which falls short of ‖M⁻¹‖₂ by about
    √n for a vector without structure); only where ‖M‖_F times it comes within
    100√n of the limit are the O(n³) eigenvalues computed to decide.
    """
    n = M.shape[0]
    flat = M.ravel()
    norm = math.sqrt(_ddot(flat, flat))
    limit = 1.0 / (n * _EPS)
    if norm * inverse_norm * (100.0 * math.sqrt(n)) > limit:
        condition = _condition_number(M)
        if condition > limit:
            raise IllConditionedError(
                f"M is too ill-conditioned (condition number {condition:.3g}) for a "
                f"trustworthy solution: above 1/(n·eps) = {limit:.3g} a change of M "
                f"within float64 rounding could make it singular; {_REMEDY}"
            )
    return norm


def _untrustworthy(M: np.ndarray, worst: str, relative: float) -> IllConditionedError:
    return IllConditionedError(
        f"the solution cannot be trusted: {worst} is {relative:.3g} of the size of the "
        f"terms it is computed from, above {KKT_RTOL:g} (the condition number of M is "
        f"{_condition_number(M):.3g}); rescale M, h and the constraints (for instance to "
        "norm 1) or regularise M (e.g. add a small multiple of the identity)"
    )


def _closed_form_trusted(
    h: np.ndarray, b: np.ndarray, c: float, solution: kq.ClosedFormSolution, M_norm: float
) -> bool:
    """Whether the closed form's KKT residuals are within KKT_RTOL of their scale.

    The closed form x = x₀ + ½λM⁻¹b loses digits when the unconstrained minimiser
    x₀ is large next to x (the slack bᵀx - c is then a difference of large terms).
    Scales: |c| + ‖b‖‖x‖ for the slack (Cauchy–Schwarz bounds |b|ᵀ|x|), and
    2‖M‖_F‖x‖ + ‖h‖ + λ‖b‖ for the gradient 2Mx + h - λb. Each test first tries
    the part of its scale that is cheapest to get, which settles the usual case.
    """
    x = solution.x
    multiplier = solution.multiplier
    slack = solution.slack
    x_norm = math.sqrt(_ddot(x, x))
    # an active constraint (λ > 0) must be tight, an inactive one must hold
    miss = abs(slack) if multiplier > 0.0 else -slack
    bound = KKT_RTOL * abs(c)
    if miss > bound and miss > bound + KKT_RTOL * math.sqrt(_ddot(b, b)) * x_norm:
        return False
    stationarity = solution.stationarity
    bound = KKT_RTOL * 2.0 * M_norm * x_norm
    return stationarity <= bound or stationarity <= bound + KKT_RTOL * (
        math.sqrt(_ddot(h, h)) + multiplier * math.sqrt(_ddot(b, b))
    )


def _check_general_solution(
    M: np.ndarray,
    M_norm: float,
    h: np.ndarray,
    B: np.ndarray,
    c: np.ndarray,
    A: np.ndarray,
    d: np.ndarray,
    x: np.ndarray,
    multiplier: np.ndarray,
    nu: np.ndarray | None,
    gradient: np.ndarray,
    slack: np.ndarray,
) -> None:
    """Raise IllConditionedError where a KKT residual exceeds KKT_RTOL of its scale.

    Each residual is divided by the size of the terms it is a difference of, which
    is where float64 rounding puts it: |c_i| + |B_i|ᵀ|x| for a slack, and
    2‖M‖_F‖x‖ + ‖h‖ + ‖|B|ᵀλ‖ + ‖|A_eq|ᵀ|ν|‖ for the gradient of the Lagrangian.
    """
    tiny = np.finfo(np.float64).tiny
    absolute_x = np.abs(x)
    size = np.maximum(np.abs(c) + np.abs(B) @ absolute_x, tiny)
    checks = [
        ("the largest constraint violation", float(np.max(-slack / size, initial=0.0))),
        # an active constraint (λ > 0) must be tight
        (
            "the largest slack of an active constraint",
            float(np.max(np.abs(slack[multiplier > 0.0]) / size[multiplier > 0.0], initial=0.0)),
        ),
    ]
    gradient_scale = (
        2.0 * M_norm * float(np.linalg.norm(x))
        + float(np.linalg.norm(h))
        + float(np.linalg.norm(np.abs(B).T @ multiplier))
    )
    if nu is not None:
        size_eq = np.maximum(np.abs(d) + np.abs(A) @ absolute_x, tiny)
        checks.append(
            ("the largest equality violation", float(np.max(np.abs(A @ x - d) / size_eq)))
        )
        gradient_scale += float(np.linalg.norm(np.abs(A).T @ np.abs(nu)))
    checks.append(
        (
            "the stationarity residual (the gradient of the Lagrangian)",
            float(np.linalg.norm(gradient)) / max(gradient_scale, tiny),
        )
    )
    worst, relative = max(checks, key=lambda item: item[1])
    if not relative <= KKT_RTOL:
        raise _untrustworthy(M, worst, relative)
