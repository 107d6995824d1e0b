"""solve_qp never returns a wrong answer in silence: an M too ill-conditioned for
float64 is refused with its condition number, a closed form that lost its digits
is finished by the active-set method, and a solution whose KKT residuals are not
small is never returned."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from kmix import DataError, NumericalError, solve_qp
from kmix.cli.main import main
from kmix.models import qp as model_qp
from kmix import IllConditionedError

EPS = float(np.finfo(np.float64).eps)

# The issue's problem: cond(M) = 1e18, and the closed form missed b'x >= 1 by 1.
ISSUE_M = np.diag([1.0, 1e-18])
ISSUE_h = np.array([1.0, 1.0])
ISSUE_b = np.array([1.0, 1.0])


def spd(rng: np.random.Generator, n: int, cond: float) -> np.ndarray:
    """Random symmetric M with eigenvalues from 1 down to 1/cond."""
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    M = (Q * np.logspace(0, -np.log10(cond), n)) @ Q.T
    return 0.5 * (M + M.T)


def relative_kkt(M, h, B, c, result) -> float:
    """The largest KKT residual, each relative to the terms it is a difference of."""
    B = np.atleast_2d(B)
    c = np.atleast_1d(np.asarray(c, dtype=float))
    x = result.x
    multiplier = np.atleast_1d(result.multiplier)
    size = np.abs(c) + np.abs(B) @ np.abs(x)
    slack = B @ x - c
    violation = np.max(np.maximum(-slack, 0.0) / size)
    tight = np.max(np.abs(slack[multiplier > 0]) / size[multiplier > 0], initial=0.0)
    gradient = 2.0 * M @ x + h - B.T @ multiplier
    scale = (2.0 * np.linalg.norm(M, 2) * np.linalg.norm(x) + np.linalg.norm(h)
             + np.linalg.norm(np.abs(B).T @ multiplier))
    return float(max(violation, tight, np.linalg.norm(gradient) / scale))


def exact_single(M, h, b, c) -> np.ndarray:
    """The exact optimum of the float64 data with one constraint, in rationals."""
    def solve(v):
        n = len(v)
        rows = [[Fraction(float(M[i, j])) for j in range(n)] + [Fraction(float(v[i]))]
                for i in range(n)]
        for k in range(n):
            for i in range(k + 1, n):
                factor = rows[i][k] / rows[k][k]
                for j in range(k, n + 1):
                    rows[i][j] -= factor * rows[k][j]
        x = [Fraction(0)] * n
        for i in reversed(range(n)):
            x[i] = (rows[i][n] - sum(rows[i][j] * x[j] for j in range(i + 1, n))) / rows[i][i]
        return x

    x0 = [-value / 2 for value in solve(h)]
    Mb = solve(b)
    bf = [Fraction(float(value)) for value in b]
    gap = Fraction(float(c)) - sum(bi * xi for bi, xi in zip(bf, x0))
    step = max(Fraction(0), gap / sum(bi * t for bi, t in zip(bf, Mb)))
    return np.array([float(x0[i] + step * Mb[i]) for i in range(len(b))])


# --- an M too ill-conditioned for float64 ---------------------------------------------


def test_the_issue_problem_is_refused_with_its_condition_number():
    with pytest.raises(IllConditionedError) as caught:
        solve_qp(ISSUE_M, ISSUE_h, ISSUE_b, 1.0)
    message = str(caught.value)
    assert message.startswith("M is too ill-conditioned (condition number 1e+18)")
    assert "regularise M (e.g. add a small multiple of the identity)" in message
    # a bad-input error (ValueError, as the CLI and scikit-learn code expect) that is
    # also a numerical failure
    assert isinstance(caught.value, DataError)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, NumericalError)


@pytest.mark.parametrize(
    "B, c, extra",
    [
        (ISSUE_b, 1.0, {}),
        (ISSUE_b[None, :], [1.0], {}),  # one row: the closed form too
        (np.array([[1.0, 1.0], [1.0, 0.0]]), [1.0, 0.0], {}),  # the active-set method
        (np.array([[1.0, 0.0]]), [0.0], {"A_eq": [[1.0, 1.0]], "b_eq": [1.0]}),
    ],
)
def test_every_path_refuses_it(B, c, extra):
    with pytest.raises(IllConditionedError, match=r"condition number 1e\+18"):
        solve_qp(ISSUE_M, ISSUE_h, B, c, **extra)


def test_the_unchecked_fast_path_refuses_it():
    with pytest.raises(IllConditionedError, match=r"condition number 1e\+18"):
        solve_qp(ISSUE_M, ISSUE_h, ISSUE_b, 1.0, check=False)


def test_ill_conditioning_along_a_direction_no_data_vector_points_to():
    # Eigenvectors (1, 1) and (1, -1), eigenvalues 2 - 2⁻⁵² and 2⁻⁵²: cond ≈ 9e15, and
    # neither h nor b has any component that shows it.
    delta = 2.0**-52
    M = np.array([[1.0, 1.0 - delta], [1.0 - delta, 1.0]])
    with pytest.raises(IllConditionedError, match=r"condition number [0-9.]+e\+15"):
        solve_qp(M, [1.0, 1.0], [1.0, 1.0], 0.5)
    with pytest.raises(IllConditionedError, match="too ill-conditioned"):
        solve_qp(M, [1.0, 0.0], [[1.0, 0.0], [0.0, 1.0]], [0.5, -3.0])


@pytest.mark.parametrize("seed", range(4))
def test_a_rotated_M_with_cond_1e16_is_refused(seed):
    rng = np.random.default_rng(seed)
    M = spd(rng, 4, 1e16)
    with pytest.raises(IllConditionedError, match="too ill-conditioned"):
        solve_qp(M, np.ones(4), np.ones(4), 1.0)


def test_the_limit_is_one_over_n_eps():
    # n = 2: the limit is 1/(2 eps) ≈ 2.25e15
    solved = solve_qp(np.diag([1.0, 1e-15]), ISSUE_h, ISSUE_b, 1.0)
    assert relative_kkt(np.diag([1.0, 1e-15]), ISSUE_h, ISSUE_b, 1.0, solved) <= 1e-14
    with pytest.raises(IllConditionedError, match=r"1/\(n·eps\) = 2.25e\+15"):
        solve_qp(np.diag([1.0, 1e-16]), ISSUE_h, ISSUE_b, 1.0)
    # n = 5: 1/(5 eps) ≈ 9.0e14, so 1e15 is already too much
    with pytest.raises(IllConditionedError, match=r"1/\(n·eps\) = 9.01e\+14"):
        solve_qp(np.diag([1.0, 1.0, 1.0, 1.0, 1e-15]), np.ones(5), np.ones(5), 1.0)


# --- moderately ill-conditioned problems still work, and accurately ------------------


@pytest.mark.parametrize("cond", [1e8, 1e10, 1e12])
@pytest.mark.parametrize("n", [2, 5])
def test_moderately_ill_conditioned_single_constraint_is_accurate(n, cond):
    rng = np.random.default_rng(int(np.log10(cond)) * 10 + n)
    for _ in range(3):
        M = spd(rng, n, cond)
        x0 = rng.standard_normal(n)
        h = -2.0 * M @ x0
        b = rng.standard_normal(n)
        b /= np.linalg.norm(b)
        c = float(b @ x0 + rng.uniform(0.1, 1.0))
        result = solve_qp(M, h, b, c)
        assert relative_kkt(M, h, b, c, result) <= 1e-14
        exact = exact_single(M, h, b, c)
        # what any backward-stable solver can promise: about eps·cond(M), relative
        error = np.linalg.norm(result.x - exact) / max(1.0, np.linalg.norm(exact))
        assert error <= 4.0 * EPS * cond


@pytest.mark.parametrize("cond", [1e8, 1e10])
def test_moderately_ill_conditioned_several_constraints_have_small_residuals(cond):
    rng = np.random.default_rng(int(np.log10(cond)))
    n, m = 6, 15
    for _ in range(3):
        M = spd(rng, n, cond)
        h = rng.standard_normal(n)
        B = rng.standard_normal((m, n))
        c = B @ rng.standard_normal(n) - rng.exponential(size=m)
        result = solve_qp(M, h, B, c)
        assert np.all(result.multiplier >= 0.0)
        assert relative_kkt(M, h, B, c, result) <= 1e-12


# --- the closed form that loses its digits is finished by the active-set method --------


def test_a_far_unconstrained_minimum_no_longer_gives_a_wrong_x():
    # x₀ = -½h = (-5e16, -5e16): the closed form's λ = 1e17 + 1 rounds to 1e17 and
    # x = ½(λb - h) came out as 0, missing b'x >= 1 by 1. The exact answer is (½, ½).
    M, h, b = np.eye(2), np.array([1e17, 1e17]), np.array([1.0, 1.0])
    for check in (True, False):
        result = solve_qp(M, h, b, 1.0, check=check)
        np.testing.assert_allclose(result.x, [0.5, 0.5], rtol=1e-15)
        assert result.method == "dual active set"
        assert isinstance(result.multiplier, float) and result.active is True
        assert result.residuals.primal_feasibility == 0.0
    as_row = solve_qp(M, h, b[None, :], [1.0])
    np.testing.assert_allclose(as_row.x, [0.5, 0.5], rtol=1e-15)
    assert as_row.multiplier.shape == (1,) and as_row.active.shape == (1,)


def test_the_closed_form_keeps_problems_it_solves_well():
    result = solve_qp(np.diag([2.0, 3.0]), [1.0, 2.0], [1.0, 1.0], 1.5)
    assert result.method == "closed form"
    np.testing.assert_allclose(result.x, [1.0, 0.5], rtol=1e-15)


# --- a solution whose KKT residuals are large is never returned ------------------------


def test_a_solution_off_its_constraints_is_not_returned(monkeypatch):
    # Stand-in for any loss of digits the solver does not see: its x moved off
    # the constraints after it finished.
    solve_general = model_qp.kg.solve_general

    def moved(*args, **kwargs):
        solution = solve_general(*args, **kwargs)
        return solution._replace(x=solution.x - 1.0)

    monkeypatch.setattr(model_qp.kg, "solve_general", moved)
    B = np.array([[1.0, 1.0], [1.0, -1.0]])
    with pytest.raises(
        IllConditionedError,
        match=r"cannot be trusted: the largest constraint violation is [0-9.e+-]+ of the "
        r"size of the terms it is computed from, above 1e-08 \(the condition number of M "
        r"is 1.5\)",
    ):
        solve_qp(np.diag([2.0, 3.0]), [1.0, 2.0], B, [1.5, -5.0])


# --- the command line ------------------------------------------------------------------


def test_cli_prints_one_line_and_exits_2(capsys):
    status = main(["qp", "--M", "[[1,0],[0,1e-18]]", "--h", "[1,1]", "--b", "[1,1]", "--c", "1"])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("kmix: error: M is too ill-conditioned (condition number 1e+18)")
