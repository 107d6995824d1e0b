"""solve_qp: agreement with quadprog, scipy and exact arithmetic; KKT; bad input."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

import kmix
from kmix import DataError, QPResult, solve_qp

EPS = float(np.finfo(np.float64).eps)


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # These problems are small; BLAS threads only add waiting when cores are busy.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def spd(rng: np.random.Generator, n: int, cond: float) -> np.ndarray:
    """Random symmetric M with eigenvalues from 1 down to 1/cond (so ‖M‖₂ = 1)."""
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    M = (Q * np.logspace(0, -np.log10(cond), n)) @ Q.T
    return 0.5 * (M + M.T)


def single_instance(seed: int, n: int, cond: float, active: bool):
    """min xᵀMx + xᵀh s.t. bᵀx >= c with x₀ = -½M⁻¹h of order one and the
    constraint cut through x₀'s side (active) or left behind it (inactive)."""
    rng = np.random.default_rng(seed)
    M = spd(rng, n, cond)
    x0 = rng.standard_normal(n)
    h = -2.0 * M @ x0
    b = rng.standard_normal(n)
    b /= np.linalg.norm(b)
    margin = rng.uniform(0.1, 1.0)
    c = float(b @ x0 + (margin if active else -margin))
    return M, h, b, c


@pytest.fixture(scope="module")
def quadprog_solve():
    """quadprog's solver in our form; only the tests that compare with it skip
    where quadprog is not installed."""
    quadprog = pytest.importorskip("quadprog")

    def solve(M, h, B, c, meq=0):
        # quadprog: min ½xᵀGx - aᵀx s.t. Cᵀx >= b; ours has no ½, so G = 2M, a = -h.
        B = np.atleast_2d(B)
        x, objective, _, _, multipliers, _ = quadprog.solve_qp(
            2.0 * M, -h, np.ascontiguousarray(B.T), np.atleast_1d(np.asarray(c, dtype=float)), meq
        )
        return x, objective, multipliers

    return solve


def x_tolerance(cond: float) -> float:
    """1e-10, loosened where conditioning forces it: any backward-stable solver can be
    off by about eps·cond(M) relative, so two of them may differ by a few times that.
    That is 1e-10 up to cond ≈ 1e5, 2.2e-9 at 1e6 and 8.9e-8 at 1e8."""
    return max(1e-10, 4.0 * EPS * cond)


def relative(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / max(1.0, np.linalg.norm(b)))


# --- one constraint: the closed form ---------------------------------------------------


@pytest.mark.parametrize("active", [True, False], ids=["active", "inactive"])
@pytest.mark.parametrize("cond", [1.0, 1e4, 1e6, 1e8])
@pytest.mark.parametrize("n", [2, 5, 50, 200])
def test_single_constraint_agrees_with_quadprog(n, cond, active, quadprog_solve):
    for seed in range(3 if n <= 50 else 1):
        M, h, b, c = single_instance(1000 * n + seed, n, cond, active)
        result = solve_qp(M, h, b, c)
        x_ref, objective_ref, multiplier_ref = quadprog_solve(M, h, b, c)
        assert relative(result.x, x_ref) <= x_tolerance(cond)
        assert result.objective == pytest.approx(objective_ref, rel=1e-10, abs=1e-10)
        assert result.active is active
        assert result.method == "closed form"
        if active:
            assert result.multiplier > 0.0
            assert result.multiplier == pytest.approx(multiplier_ref[0], rel=x_tolerance(cond))
        else:
            assert result.multiplier == 0.0  # exactly, not merely small
            assert isinstance(result.multiplier, float)
        # KKT residuals <= 1e-9 ‖M‖ (‖M‖₂ = 1 by construction)
        assert max(result.residuals) <= 1e-9
        assert result.duality_gap == pytest.approx(0.0, abs=1e-9 * max(1.0, abs(result.objective)))


# SLSQP stops once the objective changes by less than ftol; near the optimum that change
# is quadratic in the error of x, so its x is only good to about sqrt(ftol)·sqrt(cond),
# and it needs hundreds of iterations at cond 1e4 (n = 200 and cond 1e8 take too long for
# a test and do not converge). Objectives agree to 1e-10; x to 1e-7·sqrt(cond).
@pytest.mark.parametrize("active", [True, False], ids=["active", "inactive"])
@pytest.mark.parametrize(
    "n, cond", [(2, 1.0), (5, 1.0), (50, 1.0), (200, 1.0), (2, 1e4), (5, 1e4), (2, 1e8)]
)
def test_single_constraint_agrees_with_scipy_minimize(n, cond, active):
    M, h, b, c = single_instance(7 * n + 1, n, cond, active)
    result = solve_qp(M, h, b, c)
    reference = minimize(
        lambda x: x @ M @ x + x @ h,
        np.zeros(n),
        jac=lambda x: 2.0 * M @ x + h,
        method="SLSQP",
        constraints=[{"type": "ineq", "fun": lambda x: b @ x - c, "jac": lambda x: b}],
        options={"ftol": 1e-16, "maxiter": 1000},
    )
    assert reference.success
    assert result.objective == pytest.approx(reference.fun, rel=1e-10, abs=1e-10)
    assert relative(result.x, reference.x) <= 1e-7 * math.sqrt(cond)
    # Never worse than the reference's (feasible) point
    assert result.objective <= reference.fun + 1e-12 * max(1.0, abs(reference.fun))


def _exact_solve(M: np.ndarray, v: np.ndarray) -> list[Fraction]:
    """M⁻¹v in rational arithmetic (Gaussian elimination; M is SPD, no pivoting needed)."""
    n = len(v)
    rows = [[Fraction(float(M[i, j])) for j in range(n)] + [Fraction(float(v[i]))] for i in range(n)]
    for k in range(n):
        for i in range(k + 1, n):
            factor = rows[i][k] / rows[k][k]
            for j in range(k, n + 1):
                rows[i][j] -= factor * rows[k][j]
    x = [Fraction(0)] * n
    for i in reversed(range(n)):
        x[i] = (rows[i][n] - sum(rows[i][j] * x[j] for j in range(i + 1, n))) / rows[i][i]
    return x


@pytest.mark.parametrize("n", [2, 5])
def test_closed_form_matches_exact_rational_arithmetic_at_cond_1e8(n):
    # The exact optimum of the float64 data, x* = x₀ + max(0, c - bᵀx₀)/(bᵀM⁻¹b) M⁻¹b:
    # the computed x is within a small multiple of eps·cond(M) of it.
    for seed in range(3):
        M, h, b, c = single_instance(seed, n, 1e8, active=True)
        x0 = [-value / 2 for value in _exact_solve(M, h)]
        Mb = _exact_solve(M, b)
        bf = [Fraction(float(value)) for value in b]
        slack = Fraction(c) - sum(bi * xi for bi, xi in zip(bf, x0))
        step = max(Fraction(0), slack / sum(bi * t for bi, t in zip(bf, Mb)))
        exact = np.array([float(x0[i] + step * Mb[i]) for i in range(n)])
        result = solve_qp(M, h, b, c)
        assert relative(result.x, exact) <= 4.0 * EPS * 1e8
        assert result.multiplier == pytest.approx(float(2 * step), rel=4.0 * EPS * 1e8)


def test_hand_computed_toy_and_result_forms():
    M = np.diag([2.0, 3.0])
    result = solve_qp(M, [1.0, 2.0], [1.0, 1.0], 1.5)
    assert isinstance(result, QPResult)
    np.testing.assert_allclose(result.x, [1.0, 0.5], rtol=1e-15)
    assert result.multiplier == pytest.approx(5.0)
    assert result.objective == pytest.approx(4.75)
    assert result.active is True
    as_row = solve_qp(M, [1.0, 2.0], [[1.0, 1.0]], [1.5])
    assert as_row.method == "closed form"
    np.testing.assert_allclose(as_row.multiplier, [5.0])
    np.testing.assert_array_equal(as_row.active, [True])
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["x"] == pytest.approx([1.0, 0.5])
    assert set(payload["residuals"]) == {"stationarity", "primal_feasibility", "complementarity"}


def exercise_answer(M, h, b, c):
    """The exercise's formulas, typed into numpy as written."""
    Mi = np.linalg.inv(M)
    lam = (c + 0.5 * Mi @ h - 0.5 * b @ Mi @ h) / (0.5 * Mi @ b + b @ Mi @ b)
    return lam, 0.5 * Mi @ (lam * b - h)


def test_the_exercise_answer_is_wrong_and_ours_is_right(quadprog_solve):
    M = np.array([[2.0, 0.5], [0.5, 1.0]])
    h = np.array([1.0, -1.0])
    b = np.array([1.0, 2.0])
    c = 3.0
    lam_exercise, x_exercise = exercise_answer(M, h, b, c)
    assert lam_exercise.shape == (2,)  # vector + scalar, broadcast into a vector "λ"
    result = solve_qp(M, h, b, c)
    x_ref, objective_ref, _ = quadprog_solve(M, h, b, c)
    np.testing.assert_allclose(result.x, x_ref, rtol=1e-12)
    assert result.objective == pytest.approx(objective_ref, rel=1e-12)
    # the exercise's x is either infeasible or worse than the optimum
    feasible = b @ x_exercise >= c - 1e-12
    objective_exercise = x_exercise @ M @ x_exercise + x_exercise @ h
    assert not feasible or objective_exercise > result.objective + 1e-6
    # and even its scalar skeleton, without max(0, ·), forces an inactive constraint tight
    inactive_c = -10.0
    Mi_b, Mi_h = np.linalg.solve(M, b), np.linalg.solve(M, h)
    lam_unclipped = (2 * inactive_c + b @ Mi_h) / (b @ Mi_b)
    assert lam_unclipped < 0.0
    x_forced = 0.5 * np.linalg.solve(M, lam_unclipped * b - h)
    assert b @ x_forced == pytest.approx(inactive_c)
    inactive = solve_qp(M, h, b, inactive_c)
    assert inactive.multiplier == 0.0 and inactive.active is False
    assert inactive.objective < x_forced @ M @ x_forced + x_forced @ h


@pytest.mark.parametrize("check", [True, False])
@pytest.mark.parametrize("active", [True, False])
def test_inputs_are_never_written(active, check):
    M, h, b, c = single_instance(5, 6, 100.0, active)
    copies = [M.copy(), h.copy(), b.copy()]
    result = solve_qp(M, h, b, c, check=check)
    assert max(result.residuals) <= 1e-12
    for original, copy in zip((M, h, b), copies):
        np.testing.assert_array_equal(original, copy)
    B = np.vstack([b, -b])
    C = np.array([c, -c - 5.0])
    copies = [B.copy(), C.copy()]
    solve_qp(M, h, B, C)
    for original, copy in zip((B, C), copies):
        np.testing.assert_array_equal(original, copy)


def test_unchecked_fast_path_matches_the_checked_one():
    for active in (True, False):
        M, h, b, c = single_instance(9, 5, 1e4, active)
        checked = solve_qp(M, h, b, c)
        fast = solve_qp(M, h, b, c, check=False)
        np.testing.assert_array_equal(fast.x, checked.x)
        assert fast.multiplier == checked.multiplier and fast.active == checked.active
        assert fast.residuals == checked.residuals
        assert fast.objective == checked.objective
    with pytest.raises(DataError, match="not positive definite"):
        solve_qp(-np.eye(2), [1.0, 1.0], [1.0, 0.0], 1.0, check=False)


def test_inactive_constraint_is_not_forced_tight():
    M = np.eye(2)
    h = np.array([-2.0, 0.0])  # x₀ = (1, 0)
    result = solve_qp(M, h, [1.0, 0.0], -5.0)  # x₁ >= -5 holds at x₀
    assert result.multiplier == 0.0
    assert result.active is False
    np.testing.assert_array_equal(result.x, [1.0, 0.0])


def test_tie_on_the_boundary_is_active_with_zero_multiplier():
    result = solve_qp(np.eye(2), [-2.0, 0.0], [1.0, 0.0], 1.0)  # x₀ = (1, 0) on x₁ = 1
    assert result.multiplier == 0.0
    assert result.active is True


def test_zero_b_with_nonpositive_c_is_always_satisfied():
    result = solve_qp(np.eye(2), [-2.0, 4.0], [0.0, 0.0], -1.0)
    np.testing.assert_allclose(result.x, [1.0, -2.0])
    assert result.multiplier == 0.0 and result.active is False


def test_tiny_b_is_rescaled_not_lost():
    # bᵀb underflows; the constraint (scaled b, c) is the same constraint
    M, h, b, c = single_instance(3, 4, 10.0, active=True)
    small = solve_qp(M, h, b * 1e-170, c * 1e-170)
    reference = solve_qp(M, h, b, c)
    np.testing.assert_allclose(small.x, reference.x, rtol=1e-12)
    assert small.multiplier == pytest.approx(reference.multiplier * 1e170, rel=1e-12)


def test_slightly_asymmetric_M_is_symmetrised():
    M, h, b, c = single_instance(4, 5, 100.0, active=True)
    perturbed = M.copy()
    perturbed[0, 1] += 1e-12
    np.testing.assert_allclose(solve_qp(perturbed, h, b, c).x, solve_qp(M, h, b, c).x, rtol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 8),
    scale=st.floats(1e-3, 1e3),
)
def test_scaling_the_constraint_scales_only_the_multiplier(seed, n, scale):
    rng = np.random.default_rng(seed)
    M = spd(rng, n, 100.0)
    h, b = rng.standard_normal(n), rng.standard_normal(n)
    c = float(rng.standard_normal())
    base = solve_qp(M, h, b, c)
    scaled = solve_qp(M, h, scale * b, scale * c)
    np.testing.assert_allclose(scaled.x, base.x, rtol=1e-9, atol=1e-9)
    assert scaled.multiplier * scale == pytest.approx(base.multiplier, rel=1e-9, abs=1e-12)
    assert scaled.active == base.active


# --- several constraints: the dual active-set method ----------------------------------


def general_instance(seed: int, n: int, m: int, cond: float = 100.0, duplicates: int = 0):
    """Feasible constraints with a strictly interior point (no degenerate vertex)."""
    rng = np.random.default_rng(seed)
    M = spd(rng, n, cond)
    h = rng.standard_normal(n)
    B = rng.standard_normal((m, n))
    c = B @ rng.standard_normal(n) - rng.exponential(size=m)
    if duplicates:
        B = np.vstack([B, B[:duplicates]])
        c = np.concatenate([c, c[:duplicates]])
    return M, h, B, c


@pytest.mark.parametrize(
    "n, m, duplicates",
    [(2, 3, 0), (5, 3, 0), (5, 12, 0), (20, 60, 0), (50, 20, 0), (30, 40, 10), (10, 40, 20), (100, 300, 0), (60, 150, 30)],
)
def test_general_agrees_with_quadprog(n, m, duplicates, quadprog_solve):
    M, h, B, c = general_instance(n * 1000 + m, n, m, duplicates=duplicates)
    result = solve_qp(M, h, B, c)
    x_ref, objective_ref, multipliers_ref = quadprog_solve(M, h, B, c)
    assert result.method == "dual active set"
    assert relative(result.x, x_ref) <= 1e-10
    assert result.objective == pytest.approx(objective_ref, rel=1e-10, abs=1e-10)
    # Bᵀλ = 2Mx + h is unique even where duplicated rows split λ differently
    np.testing.assert_allclose(B.T @ result.multiplier, B.T @ multipliers_ref, atol=1e-9)
    if not duplicates:
        np.testing.assert_allclose(result.multiplier, multipliers_ref, rtol=1e-8, atol=1e-10)
        np.testing.assert_array_equal(result.active, multipliers_ref > 0)
    assert np.all(result.multiplier >= 0.0)
    assert np.all(result.multiplier[~result.active] == 0.0)
    assert max(result.residuals) <= 1e-9  # ‖M‖₂ = 1 by construction
    assert result.duality_gap == pytest.approx(0.0, abs=1e-9 * max(1.0, abs(result.objective)))


def kkt_scale(M, h, B, c, x) -> float:
    """The size of the terms the KKT residuals are differences of."""
    return float(np.linalg.norm(M, 2) * np.linalg.norm(x) + np.linalg.norm(h) + np.abs(c).max()
                 + np.abs(B).max() * np.abs(x).sum())


def test_general_far_unconstrained_minimum_and_ill_conditioned_M(quadprog_solve):
    # cond(M) = 5.8e7 and ‖x₀‖ ≈ 1.8e9 while ‖x‖ ≈ 6: the whitened coordinates NNLS
    # works in lose about nine digits; the solution is finished in x itself.
    rng = np.random.default_rng(1236)
    n, m = 27, 75
    M = spd(rng, n, 5.8e7)
    h = rng.standard_normal(n) * 150.0
    B = rng.standard_normal((m, n))
    c = B @ rng.standard_normal(n) - rng.exponential(size=m)
    result = solve_qp(M, h, B, c)
    scale = kkt_scale(M, h, B, c, result.x)
    assert result.residuals.primal_feasibility <= 1e-12 * scale
    assert max(result.residuals) <= 1e-12 * scale
    x_ref, _, _ = quadprog_solve(M, h, B, c)
    # quadprog also starts from x₀ and carries its rounding; the two agree to about
    # 100·eps·cond(M) = 1.3e-6 here, which is what the conditioning allows.
    assert relative(result.x, x_ref) <= 100 * EPS * 5.8e7
    # ours is optimal (KKT holds), so quadprog's point is no better: by convexity and
    # complementarity f(x) >= f(x*) + λᵀ(Bx - c) for every x, so a reference point that
    # misses a constraint by its rounding may undercut f(x*) by at most λ·violation.
    violation = np.maximum(c - B @ x_ref, 0.0)
    slack = float(np.dot(result.multiplier, violation))
    assert result.objective <= x_ref @ M @ x_ref + x_ref @ h + slack + 1e-9 * abs(result.objective)


def test_general_degenerate_vertex():
    # Half the constraints pass exactly through one point: a degenerate vertex with
    # more tight constraints than variables (quadprog can stall on such sets). KKT
    # residuals near zero with λ >= 0 certify optimality for a convex problem.
    rng = np.random.default_rng(77)
    n, m = 8, 40
    M = spd(rng, n, 1e3)
    point = rng.standard_normal(n)
    B = rng.standard_normal((m, n))
    c = B @ point - rng.exponential(size=m) * (rng.random(m) < 0.5)
    h = -2.0 * M @ (point - 3.0 * B[:m // 2].mean(axis=0))  # x₀ outside, beyond the vertex
    result = solve_qp(M, h, B, c)
    assert np.all(result.multiplier >= 0.0)
    assert max(result.residuals) <= 1e-12 * kkt_scale(M, h, B, c, result.x)
    assert result.duality_gap == pytest.approx(0.0, abs=1e-10 * max(1.0, abs(result.objective)))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 12),
    m=st.integers(1, 30),
    log_cond=st.floats(0.0, 6.0),
    duplicates=st.integers(0, 5),
)
def test_general_kkt_holds_on_random_feasible_problems(seed, n, m, log_cond, duplicates):
    M, h, B, c = general_instance(seed, n, m, cond=10.0**log_cond, duplicates=min(duplicates, m))
    result = solve_qp(M, h, B, c)
    assert np.all(result.multiplier >= 0.0)
    assert max(result.residuals) <= 1e-11 * kkt_scale(M, h, B, c, result.x)
    assert result.duality_gap == pytest.approx(0.0, abs=1e-9 * max(1.0, abs(result.objective)))


def test_general_with_equality_constraints_agrees_with_quadprog(quadprog_solve):
    n, m, p = 12, 20, 3
    M, h, B, c = general_instance(11, n, m)
    rng = np.random.default_rng(12)
    A = rng.standard_normal((p, n))
    # b_eq at a point that satisfies the inequalities strictly
    point = np.linalg.lstsq(B, c + 1.0, rcond=None)[0]
    c = np.minimum(c, B @ point - 0.5)
    d = A @ point
    result = solve_qp(M, h, B, c, A_eq=A, b_eq=d)
    x_ref, objective_ref, multipliers_ref = quadprog_solve(M, h, np.vstack([A, B]), np.concatenate([d, c]), meq=p)
    assert relative(result.x, x_ref) <= 1e-10
    assert result.objective == pytest.approx(objective_ref, rel=1e-10)
    np.testing.assert_allclose(result.equality_multiplier, multipliers_ref[:p], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(result.multiplier, multipliers_ref[p:], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(A @ result.x, d, atol=1e-10)
    assert max(result.residuals) <= 1e-9


def test_more_constraints_than_variables_all_active_at_a_vertex():
    # x >= 1, y >= 1, x + y >= 2 and 2x + y >= 3 all pass through (1, 1)
    B = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
    c = np.array([1.0, 1.0, 2.0, 3.0])
    result = solve_qp(np.eye(2), [0.0, 0.0], B, c)
    np.testing.assert_allclose(result.x, [1.0, 1.0], rtol=1e-14)
    assert np.all(result.active)
    np.testing.assert_allclose(B.T @ result.multiplier, 2.0 * result.x, atol=1e-13)
    assert max(result.residuals) <= 1e-13


def test_vector_b_with_equalities_keeps_scalar_results():
    result = solve_qp(np.eye(3), np.zeros(3), [1.0, 0.0, 0.0], 1.0, A_eq=[[0.0, 1.0, 0.0]], b_eq=2.0)
    np.testing.assert_allclose(result.x, [1.0, 2.0, 0.0], atol=1e-14)
    assert result.multiplier == pytest.approx(2.0)
    assert result.active is True
    np.testing.assert_allclose(result.equality_multiplier, [4.0])


def test_exports():
    assert kmix.solve_qp is solve_qp
    assert "solve_qp" in kmix.__all__ and "QPResult" in kmix.__all__


# --- bad input ---------------------------------------------------------------------------

GOOD_M = np.array([[2.0, 0.0], [0.0, 3.0]])
GOOD_h = np.array([1.0, 2.0])
GOOD_b = np.array([1.0, 1.0])


@pytest.mark.parametrize(
    "M, message",
    [
        (np.ones((2, 3)), r"M must be square, got shape \(2, 3\)"),
        (np.ones(3), r"M must be a 2-D square matrix, got 1-D"),
        (np.ones((2, 2, 2)), r"M must be a 2-D square matrix, got 3-D"),
        (np.array([[2.0, 1.0], [0.0, 3.0]]), r"M is not symmetric: ‖M - Mᵀ‖ = 1.41 exceeds 1e-08 × ‖M‖"),
        (np.array([[1.0, 0.0], [0.0, -2.0]]), r"M is not positive definite: its smallest eigenvalue is -2"),
        (np.array([[1.0, 2.0], [2.0, 1.0]]), r"not positive definite: its smallest eigenvalue is -1 "),
        (np.array([[np.nan, 0.0], [0.0, 1.0]]), r"M contains 1 NaN or inf value \(first at row 0, column 0\)"),
        (np.array([[np.inf, 0.0], [0.0, 1.0]]), r"M contains 1 NaN or inf value"),
        (np.array([[1.0, np.inf], [np.inf, 1.0]]), r"M contains 2 NaN or inf values"),
        (np.array([["a", "b"], ["c", "d"]]), r"M could not be converted to float"),
        (np.eye(2) * (1 + 1j), r"M is complex"),
        (np.zeros((0, 0)), r"M is empty"),
    ],
)
def test_bad_M(M, message):
    with pytest.raises(DataError, match=message):
        solve_qp(M, GOOD_h, GOOD_b, 1.0)


def test_numerically_singular_M_names_its_eigenvalues():
    M = np.array([[1.0, 1.0], [1.0, 1.0 + 1e-17]])  # symmetric, singular in float64
    with pytest.raises(DataError, match=r"not positive definite.*smallest eigenvalue"):
        solve_qp(M, GOOD_h, GOOD_b, 1.0)


@pytest.mark.parametrize(
    "h, b, c, message",
    [
        ([1.0, 2.0, 3.0], GOOD_b, 1.0, r"h has 3 entries but M is 2 × 2: it must have 2"),
        ([[1.0, 2.0]], GOOD_b, 1.0, r"h must be a 1-D vector of 2 entries"),
        (GOOD_h, [1.0, 1.0, 1.0], 1.0, r"b has 3 entries but M is 2 × 2"),
        (GOOD_h, GOOD_b, [1.0, 2.0], r"c must be a single number here, got shape \(2,\)"),
        ([np.nan, 2.0], GOOD_b, 1.0, r"h contains 1 NaN or inf value \(first at entry 0\)"),
        (GOOD_h, [1.0, np.inf], 1.0, r"b contains 1 NaN or inf value \(first at entry 1\)"),
        (GOOD_h, GOOD_b, np.nan, r"c must be finite, got nan"),
        (GOOD_h, GOOD_b, "x", r"c could not be converted to float"),
        (GOOD_h, [0.0, 0.0], 1.5, r"b is zero and c = 1.5 > 0: .* infeasible"),
    ],
)
def test_bad_vectors(h, b, c, message):
    with pytest.raises(DataError, match=message):
        solve_qp(GOOD_M, h, b, c)


@pytest.mark.parametrize(
    "B, c, extra, message",
    [
        (np.ones((3, 3)), 1.0, {}, r"B has 3 columns but M is 2 × 2"),
        (np.ones((2, 2, 2)), 1.0, {}, r"B must be a 2-D matrix of constraint rows"),
        (np.ones((0, 2)), 1.0, {}, r"B has no rows"),
        (np.ones((3, 2)), [1.0, 2.0], {}, r"c must be a number or a vector of 3 entries"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), 1.0, {}, r"B contains 1 NaN or inf value \(first at row 0, column 1\)"),
        (np.ones((2, 2)), [1.0, np.inf], {}, r"c contains 1 NaN or inf value"),
        (np.array([[1.0, 0.0], [0.0, 0.0]]), [0.0, 2.0], {}, r"row 1 of B is zero and c\[1\] = 2: .* infeasible"),
        (np.ones((2, 2)), 1.0, {"A_eq": [[1.0, 0.0]]}, r"A_eq and b_eq go together"),
        (np.ones((2, 2)), 1.0, {"A_eq": [[1.0, 0.0, 0.0]], "b_eq": 1.0}, r"A_eq has 3 columns"),
        (np.ones((2, 2)), 1.0, {"A_eq": [[0.0, 0.0]], "b_eq": 1.0}, r"row 0 of A_eq is zero .* infeasible"),
        (np.ones((2, 2)), 1.0, {"A_eq": [[1.0, 0.0]], "b_eq": [1.0, 2.0]}, r"b_eq must be a number or a vector of 1"),
    ],
)
def test_bad_general_input(B, c, extra, message):
    with pytest.raises(DataError, match=message):
        solve_qp(GOOD_M, GOOD_h, B, c, **extra)


def test_infeasible_constraints_are_reported_not_solved():
    # x₁ >= 1, x₂ >= 1 and x₁ + x₂ <= 1 (as -x₁ - x₂ >= -1): adding them gives 0 >= 1
    B = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    c = np.array([1.0, 1.0, -1.0])
    with pytest.raises(DataError, match=r"constraints are infeasible .* leaves 0 >= 1\b"):
        solve_qp(GOOD_M, GOOD_h, B, c)


def test_infeasible_with_duplicates_and_many_rows():
    rng = np.random.default_rng(8)
    n = 6
    B = rng.standard_normal((30, n))
    c = B @ rng.standard_normal(n) - 0.1
    # add a row that contradicts row 0 (b₀ᵀx >= c₀ and -b₀ᵀx >= -c₀ + 1)
    B = np.vstack([B, B[:3], -B[:1]])
    c = np.concatenate([c, c[:3], [-c[0] + 1.0]])
    with pytest.raises(DataError, match=r"infeasible"):
        solve_qp(spd(rng, n, 10.0), rng.standard_normal(n), B, c)


def test_infeasible_equalities():
    A = np.array([[1.0, 1.0], [2.0, 2.0]])
    with pytest.raises(DataError, match=r"infeasible.*A_eq\["):
        solve_qp(GOOD_M, GOOD_h, [[1.0, 0.0]], -10.0, A_eq=A, b_eq=[1.0, 3.0])
