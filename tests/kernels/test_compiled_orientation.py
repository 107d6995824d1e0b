"""The compiled M-step of EVE and VVE against its numpy reference: the same maximiser from
the same start, the same common orientation, the same zero pattern for degenerate scatter."""

import itertools

import numpy as np
import pytest
import scipy.linalg

from kmix.kernels import gmm_models as gm
from kmix.kernels import gmm_models_orientation as go
from kmix.kernels.compiled import gmm_orientation as co

MODELS = ("EVE", "VVE")
SIZES = list(itertools.product((1, 2, 3, 5), (1, 2, 3, 4, 6)))
TOL, MAX_ITER = 1e-12, 10_000


# --- helpers -----------------------------------------------------------------------------


def random_problem(seed, k, d):
    """Weights n_k and scatter S_k, positive definite, of varied scales and shapes."""
    rng = np.random.default_rng(seed)
    n = rng.uniform(5.0, 60.0, size=k)
    S = []
    for _ in range(k):
        A = rng.normal(size=(d, d))
        S.append((A @ A.T / d + 0.2 * np.eye(d)) * np.exp(rng.normal(scale=0.7)))
    return n, np.array(S)


def soft_clusters(seed, k, d, size):
    """n_k and S_k of random data under soft responsibilities: components alike, so the
    likelihood is flat along some rotations of the common orientation."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(size, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)
    z = rng.dirichlet(np.full(k, 0.7), size=size)
    n = z.sum(axis=0)
    means = z.T @ X / n[:, None]
    S = np.array([((X - m).T * z[:, j]) @ (X - m) / n[j] for j, m in enumerate(means)])
    return n, S


def rotation(rng, d, scale):
    skew = rng.normal(scale=scale, size=(d, d))
    return scipy.linalg.expm(skew - skew.T)


def scatters(n, S):
    # W_k = n_k S_k, symmetrised, as gmm_models._common passes it on
    return np.ascontiguousarray(gm._symmetric(n[:, None, None] * S))


def pooled_start(W):
    # _common's start without a previous iterate: the pooled scatter's eigenvectors
    return np.ascontiguousarray(gm._sorted_eigh(W.sum(axis=0)[None])[1][0])


def compiled_fit(model, n, S, orientation, max_iter=MAX_ITER, warm=False):
    W = scatters(n, S)
    out = np.full_like(W, np.nan)  # every entry must be written
    n_iter = co.fit_common_orientation(W, n, model == "EVE", np.ascontiguousarray(orientation), TOL, max_iter,
                                       warm, out)
    return out, n_iter


def relative(a, b):
    scale = np.max(np.abs(b))
    return np.max(np.abs(a - b)) / (scale if scale > 0 else 1.0)


def Q(n, S, covariances):
    """-½ Σ_k [n_k log det Σ_k + tr(W_k Σ_k⁻¹)]."""
    _, log_det = np.linalg.slogdet(covariances)
    trace = np.trace(np.linalg.solve(covariances, n[:, None, None] * S), axis1=1, axis2=2)
    return -0.5 * float(np.sum(n * log_det + trace))


def nearby(model, covariances, seed, scale=0.15):
    """Feasible covariances near the given ones: their decomposition moved at random."""
    rng = np.random.default_rng(seed)
    volume, shape, orientation = gm.decompose(model, covariances)
    k, d = shape.shape
    volume = volume * np.exp(rng.normal(scale=scale, size=1 if model == "EVE" else k))
    logs = rng.normal(scale=scale, size=(k, d))
    shape = shape * np.exp(logs - logs.mean(axis=1, keepdims=True))
    D = orientation[0] @ rotation(rng, d, scale)
    full = np.einsum("ij,kj,lj->kil", D, volume[:, None] * shape, D)
    return 0.5 * (full + np.swapaxes(full, 1, 2))


def zero_pattern(covariances):
    return [bool(np.all(c == 0)) for c in covariances]


# --- the maximiser -----------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("k", "d"), SIZES)
def test_same_maximiser_from_the_pooled_start(model, k, d):
    n, S = random_problem(100 * k + d, k, d)
    W = scatters(n, S)
    start = pooled_start(W)
    covariances, n_iter = compiled_fit(model, n, S, start)
    reference, reference_iter = gm.model_covariances(model, n, S)
    assert relative(covariances, reference) <= 1e-9
    assert abs(n_iter - reference_iter) <= max(2, reference_iter // 10)
    # the same start given to the numpy iteration directly
    direct, _ = go.fit_common_orientation(
        W, n, equal_volume=model == "EVE", orientation=start, tol=TOL, max_iter=MAX_ITER
    )
    assert relative(covariances, direct) <= 1e-9
    assert Q(n, S, covariances) >= Q(n, S, reference) - 1e-9 * abs(Q(n, S, reference))
    np.testing.assert_array_equal(covariances, np.swapaxes(covariances, 1, 2))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("k", "d"), [(1, 3), (2, 2), (3, 4), (5, 3), (3, 6), (5, 6)])
def test_same_maximiser_from_a_nearby_start(model, k, d):
    # an EM iteration's start: the previous covariances, through their common orientation
    n, S = random_problem(7 * k + d, k, d)
    maximiser, _ = gm.model_covariances(model, n, S)
    for seed in range(3):
        start = nearby(model, maximiser, seed)
        covariances, n_iter = compiled_fit(model, n, S, co.common_orientation(start), warm=True)
        reference, reference_iter = gm.model_covariances(model, n, S, start=start)
        assert relative(covariances, reference) <= 1e-9
        assert relative(covariances, maximiser) <= 1e-9
        assert abs(n_iter - reference_iter) <= max(2, reference_iter // 10)
        assert Q(n, S, covariances) >= Q(n, S, reference) - 1e-9 * abs(Q(n, S, reference))


@pytest.mark.parametrize("model", MODELS)
def test_same_maximiser_where_the_likelihood_is_flat(model):
    for seed in range(4):
        n, S = soft_clusters(seed, 4, 5, 400)
        covariances, _ = compiled_fit(model, n, S, pooled_start(scatters(n, S)))
        reference, _ = gm.model_covariances(model, n, S)
        assert relative(covariances, reference) <= 1e-9
        assert Q(n, S, covariances) >= Q(n, S, reference) - 1e-9 * abs(Q(n, S, reference))


@pytest.mark.parametrize("model", MODELS)
def test_first_steps_follow_the_reference(model):
    # MM and SQUAREM steps, before any Newton step: the same iterates, step for step
    n, S = random_problem(5, 3, 4)
    W = scatters(n, S)
    start = pooled_start(W)
    for max_iter in (1, 2, 3, 4, 6):
        covariances, n_iter = compiled_fit(model, n, S, start, max_iter=max_iter)
        reference, reference_iter = go.fit_common_orientation(
            W, n, equal_volume=model == "EVE", orientation=start, tol=TOL, max_iter=max_iter
        )
        assert n_iter == reference_iter <= max_iter
        assert relative(covariances, reference) <= 1e-13


@pytest.mark.parametrize("model", MODELS)
def test_a_warm_start_tries_newton_first_as_the_reference_does(model):
    # From the previous EM iteration's orientation near the maximiser: a Newton
    # step first, the same iterates as the reference's, and fewer steps than cold.
    n, S = random_problem(11, 3, 3)
    maximiser, _ = gm.model_covariances(model, n, S)
    start = co.common_orientation(nearby(model, maximiser, 0, scale=0.02))
    W = scatters(n, S)
    for max_iter in (1, 2, 3):
        covariances, n_iter = compiled_fit(model, n, S, start, max_iter=max_iter, warm=True)
        reference, reference_iter = go.fit_common_orientation(
            W, n, equal_volume=model == "EVE", orientation=start, tol=TOL, max_iter=max_iter, warm=True
        )
        assert n_iter == reference_iter <= max_iter
        assert relative(covariances, reference) <= 1e-12
    warm, warm_iter = compiled_fit(model, n, S, start, warm=True)
    cold, cold_iter = compiled_fit(model, n, S, start)
    assert relative(warm, cold) <= 1e-9 and relative(warm, maximiser) <= 1e-9
    assert warm_iter < cold_iter


def test_inputs_are_left_alone_and_the_steps_counted():
    n, S = random_problem(3, 3, 4)
    W = scatters(n, S)
    start = pooled_start(W)
    W_before, n_before, start_before = W.copy(), n.copy(), start.copy()
    out = np.full_like(W, np.nan)
    n_iter = co.fit_common_orientation(W, n, True, start, TOL, MAX_ITER, False, out)
    assert isinstance(n_iter, int) and 0 < n_iter < MAX_ITER
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(W, W_before)
    np.testing.assert_array_equal(n, n_before)
    np.testing.assert_array_equal(start, start_before)
    assert co.fit_common_orientation(W, n, True, start, TOL, 0, False, out) == 0  # no step: the start's profile


# --- the common orientation ------------------------------------------------------------------


@pytest.mark.parametrize(("k", "d"), SIZES)
def test_common_orientation_equals_the_reference(k, d):
    # generic covariances: distinct eigenvalues, and the reference's order and signs
    _, S = random_problem(50 + 10 * k + d, k, d)
    D = co.common_orientation(S)
    np.testing.assert_allclose(D, go.common_orientation(S), atol=1e-12)
    np.testing.assert_allclose(D.T @ D, np.eye(d), atol=1e-13)


@pytest.mark.parametrize(("k", "d"), [(2, 2), (3, 3), (3, 5), (5, 6)])
def test_common_orientation_of_a_feasible_start(k, d):
    rng = np.random.default_rng(k + d)
    D_true = rotation(rng, d, 1.0)
    logs = rng.normal(scale=0.6, size=(k, d))
    diagonals = np.exp(logs) * np.exp(rng.normal(size=k))[:, None]
    covariances = np.einsum("ij,kj,lj->kil", D_true, diagonals, D_true)
    D = co.common_orientation(covariances)
    np.testing.assert_allclose(D, go.common_orientation(covariances), atol=1e-12)
    rotated = np.einsum("ji,kjl,lm->kim", D, covariances, D)
    off_diagonal = rotated - np.einsum("kii->ki", rotated)[:, :, None] * np.eye(d)
    assert np.max(np.abs(off_diagonal)) <= 1e-12 * np.max(np.abs(covariances))


def test_common_orientation_where_it_is_ambiguous():
    # repeated eigenvalues: the eigenvectors are not unique, so compare what they rebuild
    rng = np.random.default_rng(9)
    d = 4
    D_true = rotation(rng, d, 1.0)
    cases = [
        np.broadcast_to(2.5 * np.eye(d), (3, d, d)).copy(),  # isotropic
        np.einsum("ij,kj,lj->kil", D_true, np.array([[3.0, 3.0, 1.0, 0.5], [6.0, 6.0, 2.0, 1.0]]), D_true),
        np.zeros((2, d, d)),
    ]
    for covariances in cases:
        for D in (co.common_orientation(covariances), go.common_orientation(covariances)):
            assert np.all(np.isfinite(D))
            np.testing.assert_allclose(D.T @ D, np.eye(d), atol=1e-13)
            rotated = np.einsum("ji,kjl,lm->kim", D, covariances, D)
            rebuilt = np.einsum("ij,kj,lj->kil", D, np.einsum("kii->ki", rotated), D)
            np.testing.assert_allclose(rebuilt, covariances, atol=1e-12 * max(1.0, np.abs(covariances).max()))
    np.testing.assert_array_equal(co.common_orientation(np.full((2, 1, 1), 3.0)), [[1.0]])


# --- degenerate scatter ----------------------------------------------------------------------


def assert_like_the_reference(model, n, S):
    covariances, _ = compiled_fit(model, n, S, pooled_start(scatters(n, S)))
    with np.errstate(all="ignore"):
        reference, _ = gm.model_covariances(model, n, S)
    assert np.all(np.isfinite(covariances))
    assert zero_pattern(covariances) == zero_pattern(reference)
    return covariances, reference


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("k", "d"), [(2, 1), (2, 2), (3, 3), (3, 4), (5, 6)])
def test_a_zero_scatter(model, k, d):
    # a component on one point: W_k = 0 (zero for VVE, and for d > 1, where its shape has no limit)
    n, S = random_problem(20 + k + d, k, d)
    S[1] = 0.0
    covariances, reference = assert_like_the_reference(model, n, S)
    assert zero_pattern(covariances)[1] == (model == "VVE" or d > 1)
    assert relative(covariances, reference) <= 1e-9


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("k", "d"), [(2, 2), (3, 3), (3, 4), (2, 6)])
def test_singular_scatter(model, k, d):
    # components on fewer points than features: rank-deficient W_k. Whether and when such
    # a component collapses hangs on rounding; the compiled steps round as numpy does.
    for seed in range(6):
        rng = np.random.default_rng(seed)
        n, S = random_problem(seed, k, d)
        X = rng.normal(size=(d - 1, d))
        S[0] = X.T @ X / (d - 1)
        x = rng.normal(size=d)
        if k > 2:
            S[k - 1] = np.outer(x, x)  # two points
        assert_like_the_reference(model, n, S)


@pytest.mark.parametrize("model", MODELS)
def test_scatter_flat_for_every_component_or_all_zero(model):
    n, S = random_problem(3, 3, 3)
    shared = S.copy()
    shared[:, 2, :] = shared[:, :, 2] = 0.0  # every component flat along one axis
    for bad in (shared, np.zeros_like(S)):
        covariances, _ = assert_like_the_reference(model, n, bad)
        assert zero_pattern(covariances) == [True] * 3
    covariances, _ = assert_like_the_reference(model, n[:2], np.zeros((2, 1, 1)))
