"""The compiled M-step of the fourteen covariance models against the numpy reference
(kmix.kernels.gmm_models.model_covariances): well-conditioned statistics with and without
a start, fixed iteration budgets, and degenerate scatter (same zero pattern, never NaN)."""

import numpy as np
import pytest

from kmix.kernels import gmm_models as gm
from kmix.kernels.compiled import gmm_model_step
from kmix.kernels.gmm import full_covariances

MODELS = gm.MODELS
ITERATIVE = ("VEI", "VEE", "EVE", "VVE", "VEV")
COMMON = ("EVE", "VVE")
SIZES = [(1, 1), (3, 1), (1, 2), (2, 2), (4, 2), (2, 3), (3, 3), (1, 5), (3, 5), (5, 5)]
TOL = 1e-12
MAX_ITER = 10_000


# --- helpers -----------------------------------------------------------------------------


def random_problem(seed, k, d):
    """Weights n_k and scatter S_k, positive definite, of varied scales and shapes."""
    rng = np.random.default_rng(seed)
    n = rng.uniform(5.0, 60.0, size=k)
    S = np.empty((k, d, d))
    for j in range(k):
        A = rng.normal(size=(d, d))
        S[j] = (A @ A.T / d + 0.2 * np.eye(d)) * np.exp(rng.normal(scale=0.7))
    return n, S


def random_start(seed, k, d):
    """Symmetric positive definite covariances of no particular model."""
    return random_problem(seed + 1000, k, d)[1]


def to_layout(model, full):
    """Full (k, d, d) covariances in LAYOUT[model], as the reference takes its start."""
    layout = gm.LAYOUT[model]
    if layout == "spherical":
        return np.trace(full, axis1=1, axis2=2) / full.shape[1]
    if layout == "diag":
        return np.diagonal(full, axis1=1, axis2=2).copy()
    if layout == "tied":
        return full[0].copy()
    return full.copy()


def reference(model, n, S, start=None, max_iter=MAX_ITER):
    k, d = S.shape[0], S.shape[1]
    statistics = np.diagonal(S, axis1=1, axis2=2).copy() if gm.STATISTICS[model] == "diag" else S
    layout_start = None if start is None else to_layout(model, start)
    covariances, n_iter = gm.model_covariances(
        model, n, statistics, start=layout_start, tol=TOL, max_iter=max_iter
    )
    return full_covariances(covariances, gm.LAYOUT[model], k, d), n_iter


def compiled(model, n, S, start=None, max_iter=MAX_ITER):
    out = np.full(S.shape, np.nan)  # every entry must be written
    has_start = start is not None
    start = np.zeros_like(S) if start is None else np.ascontiguousarray(start)
    n_iter = gmm_model_step.model_covariances(MODELS.index(model), n, S, start, has_start, TOL, max_iter, out)
    return out, n_iter


def relative_error(result, expected):
    scale = np.max(np.abs(expected))
    return np.max(np.abs(result - expected)) / (scale if scale > 0 else 1.0)


def zero_pattern(full):
    return np.all(full == 0.0, axis=(1, 2))


# --- well-conditioned statistics ----------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("k, d", SIZES)
def test_matches_the_reference_without_a_start(model, k, d):
    n, S = random_problem(10 * k + d, k, d)
    expected, expected_iter = reference(model, n, S)
    result, n_iter = compiled(model, n, S)
    assert relative_error(result, expected) <= 1e-10
    if model in ITERATIVE:
        assert n_iter > 0 and expected_iter > 0
    else:
        assert n_iter == 0 == expected_iter


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("k, d", SIZES)
def test_matches_the_reference_from_a_start(model, k, d):
    # Two starts: one of the model (the reference's maximiser for other
    # statistics, as in an EM loop) and one of no model.
    n, S = random_problem(20 * k + d, k, d)
    n_other, S_other = random_problem(20 * k + d + 500, k, d)
    feasible = reference(model, n_other, S_other)[0]
    for start in (feasible, random_start(20 * k + d, k, d)):
        expected, expected_iter = reference(model, n, S, start)
        result, n_iter = compiled(model, n, S, start)
        assert relative_error(result, expected) <= 1e-10
        assert (n_iter > 0) == (model in ITERATIVE) == (expected_iter > 0)


@pytest.mark.parametrize("model", ["VEI", "VEE", "VEV"])
@pytest.mark.parametrize("max_iter", [0, 1, 2, 5])
def test_each_iteration_is_the_reference_s(model, max_iter):
    # Stopped early, the alternation is still the reference's, step for step.
    n, S = random_problem(7, 4, 3)
    start = random_start(7, 4, 3)
    for given in (None, start):
        expected, expected_iter = reference(model, n, S, given, max_iter=max_iter)
        result, n_iter = compiled(model, n, S, given, max_iter=max_iter)
        assert n_iter == expected_iter == max_iter
        assert relative_error(result, expected) <= 1e-10


@pytest.mark.parametrize("model", MODELS)
def test_layout_of_the_result(model):
    k, d = 3, 4
    n, S = random_problem(3, k, d)
    result, _ = compiled(model, n, S)
    assert np.array_equal(result, np.swapaxes(result, 1, 2))
    off_diagonal = result[:, ~np.eye(d, dtype=bool)]
    if gm.LAYOUT[model] in ("spherical", "diag"):
        assert np.all(off_diagonal == 0.0)
    if gm.LAYOUT[model] == "spherical":
        diagonals = np.diagonal(result, axis1=1, axis2=2)
        assert np.all(diagonals == diagonals[:, :1])
    if model in ("EII", "EEI", "EEE"):
        assert np.all(result == result[0])


@pytest.mark.parametrize("model", [m for m in MODELS if m not in ITERATIVE])
def test_closed_forms_ignore_the_start(model):
    n, S = random_problem(4, 3, 3)
    without, _ = compiled(model, n, S)
    garbage = np.full_like(S, -7.0)
    with_start, n_iter = compiled(model, n, S, garbage)
    assert n_iter == 0
    assert np.array_equal(without, with_start)


def test_unknown_code_is_refused():
    n, S = random_problem(1, 2, 2)
    with pytest.raises(ValueError, match="unknown model code"):
        gmm_model_step.model_covariances(14, n, S, S, False, TOL, MAX_ITER, np.empty_like(S))


# --- degenerate statistics ----------------------------------------------------------------


# The least weight the EM loops pass (their floor, 10 eps) and one far below it.
FLOOR = 10.0 * np.finfo(np.float64).eps
FAR_BELOW = 1e-300


def _degenerate_problems():
    """(name, n, S): the degeneracies an EM loop meets."""
    problems = []
    for k, d in [(3, 1), (3, 2), (4, 3), (3, 5)]:
        n, S = random_problem(100 + 10 * k + d, k, d)
        zero = S.copy()
        zero[1] = 0.0  # a component on a single point
        problems.append((f"zero-{k}x{d}", n, zero))
        if d > 1:
            rng = np.random.default_rng(200 + k + d)
            singular = S.copy()
            v = rng.normal(size=(d, 1))
            singular[0] = v @ v.T  # a component on a line
            problems.append((f"singular-{k}x{d}", n, singular))
            flat = S.copy()
            flat[:, 0, :] = 0.0  # every component flat in the first coordinate
            flat[:, :, 0] = 0.0
            problems.append((f"all-flat-{k}x{d}", n, flat))
        for name, weight in (("floor", FLOOR), ("far-below", FAR_BELOW)):
            tiny = n.copy()
            tiny[0] = weight  # a component with (almost) no weight
            problems.append((f"{name}-{k}x{d}", tiny, S))
    return problems


DEGENERATE = _degenerate_problems()


def _compare_only_finite(model, name):
    # EVE and VVE, two cases in which the reference gives no stable answer:
    # - every component flat in one coordinate: the shapes' smallest over largest
    #   entry comes out at rounding level, about eps², where `collapsed` draws its
    #   line, so which components collapse depends on the rounding of the orientation;
    # - a weight of 1e-300: b_k² underflows in the reference's Newton Hessian,
    #   which then holds inf (numpy's eigh raises for d >= 3).
    return model in COMMON and name.startswith(("all-flat", "far-below"))


# A shape this elongated (smallest over largest eigenvalue) is on its way to a
# collapse: far below any fitted shape, far above the collapse's own line (eps²).
ON_ITS_WAY = 1e-12


def _elongation(covariance):
    values = np.linalg.eigvalsh(covariance)
    return values[0] / values[-1]


def _assert_same_collapses(model, name, result, expected):
    """The same components collapsed (zero covariance) in both. The one exception:
    a component on a line, under EVE or VVE, that one side has collapsed and the
    other has left on its way there. Its likelihood has no maximum, so where the
    iterations stop (the convergence test or the collapse) is decided by rounding,
    which differs between processors (SIMD width) and BLAS kernels."""
    differ = zero_pattern(result) != zero_pattern(expected)
    if model in COMMON and name.startswith("singular"):
        for j in np.flatnonzero(differ):
            left = expected[j] if zero_pattern(result)[j] else result[j]
            assert _elongation(left) < ON_ITS_WAY, (j, _elongation(left))
        return
    assert not np.any(differ)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name, n, S", DEGENERATE, ids=[p[0] for p in DEGENERATE])
def test_degenerate_statistics_give_the_reference_s_zeros(model, name, n, S):
    k, d = S.shape[0], S.shape[1]
    starts = [None, random_start(5, k, d)] if model in ITERATIVE else [None]
    for start in starts:
        result, n_iter = compiled(model, n, S, start)
        assert np.all(np.isfinite(result))
        assert n_iter >= 0
        if _compare_only_finite(model, name):
            continue
        expected, _ = reference(model, n, S, start)
        _assert_same_collapses(model, name, result, expected)
        # Where the reference's covariance is positive definite, so is this one.
        for j in np.flatnonzero(~zero_pattern(expected) & ~zero_pattern(result)):
            if np.all(np.linalg.eigvalsh(expected[j]) > 0):
                assert np.all(np.linalg.eigvalsh(result[j]) > 0)
        if model not in COMMON or not name.startswith(("singular", "all-flat")):
            # The same numbers, except where EVE and VVE stop at a collapse
            # part-way through their iterations (the remaining components are
            # then wherever each implementation's rounding left them).
            assert relative_error(result, expected) <= 1e-10
