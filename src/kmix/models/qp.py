"""The quadratic program min xᵀMx + xᵀh s.t. Bx >= c, solved through its dual.

:func:`solve_qp` checks its input once, factors M = L Lᵀ and hands the rest to
:mod:`kmix.kernels.qp`: the closed form for one constraint, an exact dual
active-set method (Lawson–Hanson NNLS) for several. The derivation, and where
the course exercise's answer goes wrong, is in ``docs/qp.md``.

No answer is returned that float64 cannot vouch for: an M whose condition number
exceeds 1/(n·eps) is refused, and so is a solution whose KKT residuals are not
small next to the terms they are computed from (the closed form first hands such
a problem to the active-set method, which refines x against those residuals).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from scipy.linalg import blas

from .._typing import ArrayLike
from ..exceptions import DataError, IllConditionedError, NumericalError
from ..kernels import qp as kq
from ..kernels import qp_general as kg
from ._qp_checks import (
    KKT_RTOL,
    SYMMETRY_RTOL,
    _array,
    _raise_if_not_finite,
    _check_matrix_M,
    _check_vector,
    _check_scalar,
    _factor,
    _probe,
    _check_conditioning,
    _closed_form_trusted,
    _check_general_solution,
)

_ddot = blas.ddot  # a dot product without numpy's per-call overhead
_tuple_new = tuple.__new__

__all__ = [
    "solve_qp",
    "QPResult",
    "KKTResiduals",
    "IllConditionedError",
    "SYMMETRY_RTOL",
    "KKT_RTOL",
]


# A constraint counts as active where λ > 0 or |slack| <= this × (|c_i| + |B_i|·|x|).
_ACTIVE_RTOL = 1e-9


class KKTResiduals(NamedTuple):
    """How far (x, λ) is from satisfying the KKT conditions.

    stationarity : float
        ‖2Mx + h - Bᵀλ - A_eqᵀν‖₂, the gradient of the Lagrangian.
    primal_feasibility : float
        The largest violation, max(0, c_i - B_i x) and |A_eq x - b_eq|.
    complementarity : float
        max_i |λ_i (B_i x - c_i)|.
    """

    stationarity: float
    primal_feasibility: float
    complementarity: float


class QPResult(NamedTuple):
    """The solution of min xᵀMx + xᵀh s.t. Bx >= c (and A_eq x = b_eq).

    Attributes
    ----------
    x : ndarray of shape (n,)
        The minimiser.
    multiplier : float or ndarray of shape (m,)
        λ >= 0: a float when the constraint was given as a vector b, one entry per
        row when given as a matrix B. Exactly 0.0 for an inactive constraint.
    objective : float
        xᵀMx + xᵀh at x.
    active : bool or ndarray of shape (m,), bool
        Whether each constraint holds with equality at x (λ > 0, or a zero slack
        up to rounding).
    dual_objective : float
        The dual function at λ (and ν), -¼(Bᵀλ + A_eqᵀν - h)ᵀM⁻¹(…) + λᵀc + νᵀb_eq;
        equal to ``objective`` up to rounding at the optimum.
    residuals : KKTResiduals
        Stationarity, primal feasibility and complementarity residuals.
    equality_multiplier : ndarray of shape (p,) or None
        ν, the multipliers of A_eq x = b_eq (of either sign); None without them.
    method : str
        ``"closed form"`` or ``"dual active set"``.
    n_iter : int
        Least-squares solves of the active-set method (0 for the closed form).
    """

    x: np.ndarray
    multiplier: float | np.ndarray
    objective: float
    active: bool | np.ndarray
    dual_objective: float
    residuals: KKTResiduals
    equality_multiplier: np.ndarray | None = None
    method: str = "closed form"
    n_iter: int = 0

    @property
    def duality_gap(self) -> float:
        """objective - dual_objective (zero at the optimum, up to rounding)."""
        return self.objective - self.dual_objective

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (lists, floats, bools), ready for ``json.dumps``."""

        def plain(value: Any) -> Any:
            if isinstance(value, np.ndarray):
                return value.tolist()
            if isinstance(value, (np.floating, np.bool_, np.integer)):
                return value.item()
            return value

        out = {name: plain(getattr(self, name)) for name in self._fields if name != "residuals"}
        out["residuals"] = {name: float(value) for name, value in self.residuals._asdict().items()}
        out["duality_gap"] = float(self.duality_gap)
        return out


# --- the solver -------------------------------------------------------------------


def solve_qp(
    M: ArrayLike,
    h: ArrayLike,
    B: ArrayLike,
    c: ArrayLike,
    *,
    A_eq: ArrayLike | None = None,
    b_eq: ArrayLike | None = None,
    check: bool = True,
) -> QPResult:
    """Minimise xᵀMx + xᵀh subject to Bx >= c (and A_eq x = b_eq), M positive definite.

    One constraint (``B`` a vector b, or a matrix with one row, and no equalities)
    takes the closed form

        x₀ = -½M⁻¹h,  λ = max(0, (2c + bᵀM⁻¹h) / (bᵀM⁻¹b)),  x = ½M⁻¹(λb - h),

    from one Cholesky factorisation and triangular solves. Several constraints
    are solved exactly through the dual, a bound-constrained problem in λ >= 0,
    by a finite active-set (non-negative least squares) method that ends on the
    exact active set; redundant, duplicated and more-than-n constraints are fine.
    Where the closed form loses digits (the unconstrained minimiser x₀ far larger
    than x), the problem is handed to that method, which refines x itself.

    Every answer is checked: M with cond₂(M) > 1/(n·eps) is refused (within
    float64 rounding it cannot be told from a singular matrix), and a solution
    whose KKT residuals exceed ``KKT_RTOL`` times the size of the terms they are
    differences of is not returned. Below that limit x is as accurate as the data
    allow, about eps·cond(M) relative.

    Note the objective has no ½: it is xᵀMx, not ½xᵀMx.

    Parameters
    ----------
    M : array-like of shape (n, n)
        Symmetric positive definite. Asymmetry up to ``SYMMETRY_RTOL`` × ‖M‖ is
        symmetrised away; more raises.
    h : array-like of shape (n,)
    B : array-like of shape (n,) or (m, n)
        The constraint vector b (then ``c`` is a number and the result holds
        scalars) or m >= 1 constraint rows.
    c : float or array-like of shape (m,)
        Right-hand sides; a number is used for every row.
    A_eq : array-like of shape (p, n), optional
        Equality constraints A_eq x = b_eq (given with ``b_eq``).
    b_eq : float or array-like of shape (p,), optional
    check : bool, default True
        Validate the input. ``False`` is a fast path for many small problems with
        one constraint vector b: the caller guarantees float64 arrays of matching
        shapes, finite, M symmetric; only a failed Cholesky factorisation and an
        untrustworthy answer (:class:`IllConditionedError`) are still reported.
        Ignored with several constraints.

    Returns
    -------
    QPResult
        x, multiplier λ, objective, active, dual_objective, KKT residuals and,
        with equalities, their multipliers ν.

    Raises
    ------
    DataError
        M not square, not symmetric, or not positive definite (with its smallest
        eigenvalue); shapes that do not match; NaN or inf; a zero constraint row
        with c > 0; an infeasible set of constraints (with the rows that
        contradict each other).
    IllConditionedError
        M is too ill-conditioned (with its condition number), or the solution's KKT
        residuals are too large to trust; a DataError and a NumericalError.
    NumericalError
        The data are too badly scaled for float64.

    Examples
    --------
    >>> import numpy as np
    >>> from kmix import solve_qp
    >>> result = solve_qp(np.diag([1.0, 2.0]), [0.0, 0.0], [1.0, 1.0], 3.0)
    >>> np.round(result.x, 6).tolist(), round(result.multiplier, 6), result.active
    ([2.0, 1.0], 4.0, True)
    """
    if not check and A_eq is None and b_eq is None and np.ndim(B) == 1:
        return _solve_single_unchecked(M, h, B, c)
    M = _check_matrix_M(M)
    n = M.shape[0]
    h = _check_vector(h, "h", n)
    B = _array(B, "B")
    if A_eq is None and b_eq is None:
        if B.ndim == 1:
            return _solve_single(M, h, _check_vector(B, "b", n), c, False)
        if B.ndim == 2 and B.shape[0] == 1 and B.shape[1] == n:
            return _solve_single(M, h, B[0], c, True)
    elif (A_eq is None) != (b_eq is None):
        raise DataError("A_eq and b_eq go together: give both or neither")
    if B.ndim == 1:
        B = B.reshape(1, -1)
        name = "b"
    else:
        name = "B"
    B = _check_rows(B, name, n)
    c = _check_rhs(c, "c", B.shape[0], name)
    if A_eq is not None:
        A = _check_rows(_array(A_eq, "A_eq"), "A_eq", n)
        d = _check_rhs(b_eq, "b_eq", A.shape[0], "A_eq")
    else:
        A = np.zeros((0, n))
        d = np.zeros(0)
    _raise_if_not_finite(h, "h")
    _check_zero_rows(B, c, name, ">=")
    _check_zero_rows(A, d, "A_eq", "=")
    L = _factor(M)
    M_norm = _check_conditioning(M, kq.inverse_norm_estimate(L))
    return _solve_general(M, L, h, B, c, A, d, scalar=name == "b", M_norm=M_norm)


def _solve_single(M: np.ndarray, h: np.ndarray, b: np.ndarray, c: Any, as_array: bool) -> QPResult:
    c = _check_scalar(c, "c")
    # the rows b and h, also the right-hand sides of the solve, and a probe for the
    # condition estimate
    stacked = np.array((b, h, _probe(M.shape[0])))
    # NaN or inf in h or b makes this sum of squares non-finite; the careful check
    # runs only then (or on overflow, where it passes).
    flat = stacked.ravel()
    if not math.isfinite(_ddot(flat, flat)):
        _raise_if_not_finite(h, "h")
        _raise_if_not_finite(b, "b")
    scale = 1.0
    solution = kq.closed_form(M, h, b, c, stacked=stacked)
    if solution is None:
        _factor(M)  # raises, naming the smallest eigenvalue
    M_norm = _check_conditioning(M, solution.probe_growth)
    original_b, original_c = b, c
    if not solution.bmb > 1e-280:
        # bᵀM⁻¹b is zero (b = 0) or so small that it may have lost its digits
        if not b.any():
            if c > 0.0:
                raise DataError(
                    f"b is zero and c = {c:g} > 0: the constraint 0 >= c never holds, "
                    "so the problem is infeasible"
                )
        else:
            # the constraint is unchanged by scaling (b, c) by the same positive
            # factor, and λ scales back by it
            scale = 1.0 / float(np.abs(b).max())
            b = b * scale
            c = c * scale
            solution = kq.closed_form(M, h, b, c)
    if not math.isfinite(solution.objective):
        raise NumericalError(
            "the solution overflowed float64; rescale M, h and b (for instance to norm 1)"
        )
    if not _closed_form_trusted(h, b, c, solution, M_norm):
        return _solve_single_again(M, solution.factor, h, original_b, original_c, as_array, M_norm)
    x, multiplier, objective, dual_objective, active, _, stationarity, slack, _, _ = solution
    # With (b, c) scaled by s > 0: λ = s λ_s, slack = slack_s / s, λ·slack unchanged.
    # (tuple.__new__ skips the generated Python-level __new__: same objects, faster.)
    residuals = _tuple_new(
        KKTResiduals,
        (stationarity, (-slack if slack < 0.0 else 0.0) / scale, abs(multiplier * slack)),
    )
    multiplier *= scale
    if as_array:
        return QPResult(
            x, np.array([multiplier]), objective, np.array([active]), dual_objective, residuals
        )
    return _tuple_new(
        QPResult,
        (x, multiplier, objective, active, dual_objective, residuals, None, "closed form", 0),
    )


def _solve_single_again(
    M: np.ndarray,
    L: np.ndarray,
    h: np.ndarray,
    b: np.ndarray,
    c: float,
    as_array: bool,
    M_norm: float,
) -> QPResult:
    """One constraint by the dual active-set method, where the closed form lost its
    digits: that method finishes in x itself, refined against the KKT residuals."""
    return _solve_general(
        M, L, h, b.reshape(1, -1), np.array([c]), np.zeros((0, M.shape[0])), np.zeros(0),
        scalar=not as_array, M_norm=M_norm,
    )


def _solve_single_unchecked(M: Any, h: Any, b: Any, c: Any) -> QPResult:
    """The closed form without validation (``check=False``)."""
    M = np.asarray(M, dtype=np.float64)
    stacked = np.array((b, h, _probe(M.shape[0])), dtype=np.float64)
    solution = kq.closed_form(M, stacked[1], stacked[0], c, stacked=stacked)
    if solution is None:
        _factor(M)  # raises, naming the smallest eigenvalue
    M_norm = _check_conditioning(M, solution.probe_growth)
    if not _closed_form_trusted(stacked[1], stacked[0], c, solution, M_norm):
        return _solve_single_again(
            M, solution.factor, stacked[1], stacked[0], float(c), False, M_norm
        )
    slack = solution.slack
    return QPResult(
        solution.x,
        solution.multiplier,
        solution.objective,
        solution.active,
        solution.dual_objective,
        KKTResiduals(
            solution.stationarity,
            -slack if slack < 0.0 else 0.0,
            abs(solution.multiplier * slack),
        ),
    )


def _check_rows(matrix: np.ndarray, name: str, n: int) -> np.ndarray:
    if matrix.ndim != 2:
        raise DataError(
            f"{name} must be a 2-D matrix of constraint rows (m, {n}), got {matrix.ndim}-D "
            f"with shape {matrix.shape}"
        )
    if matrix.shape[1] != n:
        raise DataError(
            f"{name} has {matrix.shape[1]} columns but M is {n} × {n}: "
            f"each row must have {n} entries"
        )
    if matrix.shape[0] == 0:
        raise DataError(f"{name} has no rows; give at least one constraint")
    _raise_if_not_finite(matrix, name)
    return matrix


def _check_rhs(value: Any, name: str, length: int, of: str) -> np.ndarray:
    rhs = _array(value, name)
    if rhs.ndim == 0:
        rhs = np.full(length, float(rhs))
    elif rhs.ndim != 1 or rhs.shape[0] != length:
        raise DataError(
            f"{name} must be a number or a vector of {length} entries (one per row of {of}), "
            f"got shape {rhs.shape}"
        )
    _raise_if_not_finite(rhs, name)
    return rhs


def _check_zero_rows(matrix: np.ndarray, rhs: np.ndarray, name: str, relation: str) -> None:
    """A zero row reads 0 >= c_i (or 0 = b_i): true for every x, or for none."""
    zero = ~np.any(matrix != 0.0, axis=1)
    broken = zero & ((rhs > 0.0) if relation == ">=" else (rhs != 0.0))
    if broken.any():
        row = int(np.flatnonzero(broken)[0])
        rhs_name = "c" if relation == ">=" else "b_eq"
        raise DataError(
            f"row {row} of {name} is zero and {rhs_name}[{row}] = {rhs[row]:g}: the constraint "
            f"0 {relation} {rhs[row]:g} never holds, so the problem is infeasible"
        )


def _solve_general(
    M: np.ndarray,
    L: np.ndarray,
    h: np.ndarray,
    B: np.ndarray,
    c: np.ndarray,
    A: np.ndarray,
    d: np.ndarray,
    *,
    scalar: bool,
    M_norm: float,
) -> QPResult:
    m, p = B.shape[0], A.shape[0]
    # An equality row a = d is the pair of inequalities a x >= d and -a x >= -d;
    # its multiplier ν is the difference of theirs.
    stacked = np.concatenate((B, A, -A)) if p else B
    rhs = np.concatenate((c, d, -d)) if p else c
    solution = kg.solve_general(M, L, h, stacked, rhs, pairs=p)
    if not solution.converged:
        raise NumericalError(
            f"the active-set method did not finish in {solution.n_iter} steps; "
            "the constraints are probably nearly degenerate: rescale them or drop duplicates"
        )
    if not solution.feasible:
        raise DataError(_infeasibility_message(solution.certificate, stacked, rhs, B, A, c, d))
    x = solution.x
    if not math.isfinite(solution.objective):
        raise NumericalError(
            "the solution overflowed float64; rescale M, h and the constraints "
            "(for instance to norm 1)"
        )
    multiplier = solution.multiplier[:m]
    nu = solution.multiplier[m : m + p] - solution.multiplier[m + p :] if p else None
    gradient = solution.gradient  # 2Mx + h - Bᵀλ - A_eqᵀν
    slack = B @ x - c
    violation = float(np.max(-slack, initial=0.0))
    if p:
        violation = max(violation, float(np.max(np.abs(A @ x - d))))
    _check_general_solution(M, M_norm, h, B, c, A, d, x, multiplier, nu, gradient, slack)
    residuals = KKTResiduals(
        float(np.linalg.norm(gradient)),
        violation if violation > 0.0 else 0.0,  # never -0.0
        float(np.max(np.abs(multiplier * slack))),
    )
    size = np.abs(c) + np.abs(B) @ np.abs(x)
    active = (multiplier > 0.0) | (np.abs(slack) <= _ACTIVE_RTOL * size)
    if scalar:
        return QPResult(
            x, float(multiplier[0]), solution.objective, bool(active[0]),
            solution.dual_objective, residuals, nu, "dual active set", solution.n_iter,
        )
    return QPResult(
        x, multiplier, solution.objective, active, solution.dual_objective, residuals, nu,
        "dual active set", solution.n_iter,
    )


def _infeasibility_message(
    certificate: np.ndarray,
    stacked: np.ndarray,
    rhs: np.ndarray,
    B: np.ndarray,
    A: np.ndarray,
    c: np.ndarray,
    d: np.ndarray,
) -> str:
    """Name the rows that contradict each other, from y >= 0 with Σ y_i a_i = 0, Σ y_i r_i > 0."""
    m, p = B.shape[0], A.shape[0]
    weights = certificate / float(certificate.max())
    involved = np.flatnonzero(weights > 1e-9)
    parts = []
    for index in involved[:8]:
        weight = float(weights[index])
        if index < m:
            parts.append(f"{weight:.3g} × (B[{index}] x >= {c[index]:g})")
        elif index < m + p:
            parts.append(f"{weight:.3g} × (A_eq[{index - m}] x = {d[index - m]:g})")
        else:
            row = index - m - p
            parts.append(f"-{weight:.3g} × (A_eq[{row}] x = {d[row]:g})")
    more = f" + {len(involved) - 8} more rows" if len(involved) > 8 else ""
    # Σ y_i (row_i x - rhs_i) >= 0 must hold, but the x terms cancel: 0 >= Σ y_i rhs_i > 0.
    total = float(weights @ rhs)
    leftover = float(np.linalg.norm(stacked.T @ weights))
    size = float(np.abs(weights) @ np.linalg.norm(stacked, axis=1))
    if total > 0.0 and leftover <= 1e-8 * size:
        return (
            "the constraints are infeasible (no x satisfies them all): adding up "
            + " + ".join(parts)
            + more
            + f" cancels x and leaves 0 >= {total:.3g}"
        )
    return (
        "the constraints are infeasible, or so nearly so that float64 cannot tell: "
        + " + ".join(parts)
        + more
        + f" leaves {leftover:.3g} × x >= {total:.3g}; rescale the constraints or drop "
        "nearly parallel rows"
    )
