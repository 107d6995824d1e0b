"""The QP kernels: closed form, Lawson–Hanson NNLS, least distance, general dual."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import nnls as scipy_nnls

from kmix.kernels import qp as kq
from kmix.kernels import nnls
from kmix.kernels import qp_general as kg


def spd(rng: np.random.Generator, n: int, cond: float = 10.0) -> np.ndarray:
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    M = (Q * np.logspace(0, -np.log10(cond), n)) @ Q.T
    return 0.5 * (M + M.T)


def test_cholesky_factor_reproduces_M_and_flags_indefinite():
    rng = np.random.default_rng(0)
    M = spd(rng, 6)
    L = np.tril(kq.cholesky_lower(M))
    np.testing.assert_allclose(L @ L.T, M, atol=1e-14)
    assert kq.cholesky_lower(np.diag([1.0, -1.0])) is None


def test_closed_form_hand_computed_toy():
    # M = diag(2, 3), h = (1, 2), b = (1, 1), c = 1.5:
    # x₀ = (-1/4, -1/3), bᵀM⁻¹b = 5/6, bᵀM⁻¹h = 7/6, λ = (3 + 7/6) / (5/6) = 5,
    # x = ½ M⁻¹(5b - h) = (1, 1/2), objective 2 + 3/4 + 1 + 1 = 4.75
    solution = kq.closed_form(np.diag([2.0, 3.0]), np.array([1.0, 2.0]), np.array([1.0, 1.0]), 1.5)
    np.testing.assert_allclose(solution.x, [1.0, 0.5], rtol=1e-15)
    assert solution.multiplier == pytest.approx(5.0, rel=1e-15)
    assert solution.objective == pytest.approx(4.75, rel=1e-15)
    assert solution.dual_objective == pytest.approx(4.75, rel=1e-15)
    assert solution.active
    assert solution.bmb == pytest.approx(5 / 6, rel=1e-15)
    assert solution.slack == pytest.approx(0.0, abs=1e-15)
    assert solution.stationarity <= 1e-14
    assert kq.closed_form(np.diag([1.0, -1.0]), np.ones(2), np.ones(2), 1.0) is None


def test_closed_form_inactive_gives_exact_zero_and_the_unconstrained_minimiser():
    rng = np.random.default_rng(1)
    M = spd(rng, 5)
    L = kq.cholesky_lower(M)
    h = rng.standard_normal(5)
    b = rng.standard_normal(5)
    x0 = kq.unconstrained_minimiser(L, h)
    solution = kq.closed_form(M, h, b, float(b @ x0) - 1.0)
    assert solution.multiplier == 0.0
    assert not solution.active
    np.testing.assert_allclose(solution.x, x0, rtol=1e-13)
    assert solution.slack >= 1.0 - 1e-12
    assert solution.stationarity <= 1e-13


def test_closed_form_equals_the_multiplier_free_form():
    # x* = x₀ + max(0, c - bᵀx₀) / (bᵀM⁻¹b) · M⁻¹b
    rng = np.random.default_rng(2)
    for _ in range(20):
        n = int(rng.integers(1, 12))
        M = spd(rng, n, cond=1e3)
        h, b = rng.standard_normal(n), rng.standard_normal(n)
        c = float(rng.standard_normal())
        L = kq.cholesky_lower(M)
        x0 = kq.unconstrained_minimiser(L, h)
        Mb = np.linalg.solve(M, b)
        expected = x0 + max(0.0, c - b @ x0) / (b @ Mb) * Mb
        solution = kq.closed_form(M, h, b, c)
        np.testing.assert_allclose(solution.x, expected, rtol=1e-10, atol=1e-10)
        assert solution.objective == pytest.approx(solution.dual_objective, rel=1e-10, abs=1e-10)


def test_closed_form_zero_b_is_left_to_the_caller():
    solution = kq.closed_form(np.eye(2), np.array([2.0, -2.0]), np.zeros(2), -1.0)
    assert solution.bmb == 0.0 and solution.multiplier == 0.0
    np.testing.assert_allclose(solution.x, [-1.0, 1.0])


@pytest.mark.parametrize("shape", [(8, 3), (5, 12), (20, 20)])
def test_nnls_matches_scipy_and_satisfies_its_kkt_conditions(shape):
    rng = np.random.default_rng(sum(shape))
    F = rng.standard_normal(shape)
    d = rng.standard_normal(shape[0])
    result = nnls.nonnegative_least_squares(F, d)
    assert result.converged
    reference, _ = scipy_nnls(F, d)
    np.testing.assert_allclose(
        np.linalg.norm(F @ result.u - d), np.linalg.norm(F @ reference - d), rtol=1e-12, atol=1e-13
    )
    gradient = F.T @ (d - F @ result.u)
    assert np.all(result.u >= 0.0)
    assert np.all(result.u[~result.passive] == 0.0)
    assert np.all(gradient <= 1e-12)  # no variable held at zero wants to grow
    np.testing.assert_allclose(gradient[result.passive], 0.0, atol=1e-12)


def test_nnls_with_duplicated_columns_keeps_the_passive_set_independent():
    rng = np.random.default_rng(3)
    F = rng.standard_normal((6, 4))
    F = np.hstack([F, F, 2.0 * F[:, :2]])  # exact duplicates and multiples
    d = rng.standard_normal(6)
    result = nnls.nonnegative_least_squares(F, d)
    assert result.converged
    assert np.linalg.matrix_rank(F[:, result.passive]) == result.passive.sum()
    reference, _ = scipy_nnls(F, d)
    assert np.linalg.norm(F @ result.u - d) <= np.linalg.norm(F @ reference - d) + 1e-12


def test_least_distance_toy_and_multipliers():
    # min ‖z‖² s.t. z₁ >= 1, z₂ >= 2, z₁ + z₂ >= -5: z = (1, 2), 2z = Eᵀλ, λ = (2, 4, 0)
    E = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    solution = kg.least_distance(E, np.array([1.0, 2.0, -5.0]))
    assert solution.feasible
    np.testing.assert_allclose(solution.z, [1.0, 2.0], rtol=1e-15)
    np.testing.assert_allclose(solution.multiplier, [2.0, 4.0, 0.0], rtol=1e-14)
    assert solution.multiplier[2] == 0.0


def test_least_distance_all_satisfied_at_zero():
    solution = kg.least_distance(np.eye(3), -np.ones(3))
    assert solution.feasible
    np.testing.assert_array_equal(solution.z, 0.0)
    np.testing.assert_array_equal(solution.multiplier, 0.0)


def test_least_distance_infeasible_gives_a_farkas_certificate():
    # z₁ + z₂ >= 1, -z₁ >= 1, -z₂ >= 1: adding all three gives 0 >= 3
    E = np.array([[1.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    f = np.array([1.0, 1.0, 1.0])
    solution = kg.least_distance(E, f)
    assert not solution.feasible
    y = solution.certificate
    assert np.all(y >= 0.0)
    np.testing.assert_allclose(E.T @ y, 0.0, atol=1e-12)
    assert f @ y == pytest.approx(1.0)


def test_solve_general_one_row_equals_the_closed_form():
    rng = np.random.default_rng(4)
    M = spd(rng, 7, cond=1e4)
    L = kq.cholesky_lower(M)
    h, b = rng.standard_normal(7), rng.standard_normal(7)
    for c in (-3.0, 0.5, 4.0):
        closed = kq.closed_form(M, h, b, c)
        general = kg.solve_general(M, L, h, b[None, :], np.array([c]))
        np.testing.assert_allclose(general.x, closed.x, rtol=1e-10, atol=1e-12)
        assert general.multiplier[0] == pytest.approx(closed.multiplier, rel=1e-10, abs=1e-14)
        assert general.objective == pytest.approx(closed.objective, rel=1e-12)


def test_solve_general_ignores_duplicated_and_zero_rows():
    rng = np.random.default_rng(5)
    n, m = 6, 9
    M = spd(rng, n)
    L = kq.cholesky_lower(M)
    h = rng.standard_normal(n)
    B = rng.standard_normal((m, n))
    c = B @ rng.standard_normal(n) - rng.exponential(size=m)
    base = kg.solve_general(M, L, h, B, c)
    B_more = np.vstack([B, B[:4], np.zeros((1, n))])
    c_more = np.concatenate([c, c[:4], [-1.0]])
    more = kg.solve_general(M, L, h, B_more, c_more)
    np.testing.assert_allclose(more.x, base.x, rtol=1e-10, atol=1e-12)
    # The multipliers of duplicated rows may split differently; their sum may not.
    np.testing.assert_allclose(B_more.T @ more.multiplier, B.T @ base.multiplier, atol=1e-10)
    assert more.multiplier[-1] == 0.0
