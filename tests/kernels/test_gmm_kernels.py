"""Gaussian-mixture kernels: densities against scipy, mergeable statistics, the M-step."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from kmix.exceptions import NumericalError
from kmix.kernels import gmm as gk
from kmix.kernels import gmm_passes as gp


def _statistics_pass(X, w, parameters, covariance_type, threads=None):
    """One EM iteration's pass over in-memory data, as a fit makes it."""
    from kmix.backends.numpy import InMemoryData
    from kmix.models import em

    return em.em_statistics(InMemoryData(X, w, threads=threads), parameters, covariance_type)

TYPES = ("full", "tied", "diag", "spherical")


def random_spd(rng, d, scale=1.0):
    A = rng.normal(size=(d, d))
    return scale * (A @ A.T / d + 0.5 * np.eye(d))


def random_parameters(rng, k, d, covariance_type):
    if covariance_type == "full":
        covariances = np.stack([random_spd(rng, d) for _ in range(k)])
    elif covariance_type == "tied":
        covariances = random_spd(rng, d)
    elif covariance_type == "diag":
        covariances = rng.uniform(0.3, 2.0, size=(k, d))
    else:
        covariances = rng.uniform(0.3, 2.0, size=k)
    means = rng.normal(scale=3.0, size=(k, d))
    weights = rng.dirichlet(np.ones(k))
    return weights, means, covariances


def two_pass_reference(X, w, resp, reg_covar, covariance_type):
    """The M-step written the obvious way, centred at the new means (two passes)."""
    nk = (resp * w[:, None]).sum(axis=0) + 10 * np.finfo(float).eps
    means = (resp * w[:, None]).T @ X / nk[:, None]
    full = np.stack([((X - m).T * (resp[:, j] * w)) @ (X - m) / nk[j] for j, m in enumerate(means)])
    d = X.shape[1]
    if covariance_type == "full":
        covariances = full + reg_covar * np.eye(d)
    elif covariance_type == "tied":
        covariances = np.einsum("k,kij->ij", nk, full) / nk.sum() + reg_covar * np.eye(d)
    elif covariance_type == "diag":
        covariances = np.diagonal(full, axis1=1, axis2=2) + reg_covar
    else:
        covariances = np.diagonal(full, axis1=1, axis2=2).mean(axis=1) + reg_covar
    return nk / nk.sum(), means, covariances


@pytest.mark.parametrize("covariance_type", TYPES)
def test_log_gaussian_prob_matches_scipy(rng, covariance_type):
    k, d = 3, 4
    X = rng.normal(scale=3.0, size=(50, d))
    _, means, covariances = random_parameters(rng, k, d, covariance_type)
    precisions_cholesky = gk.compute_precision_cholesky(covariances, covariance_type)
    full = gk.full_covariances(covariances, covariance_type, k, d)
    got = gk.estimate_log_gaussian_prob(X, means, precisions_cholesky, covariance_type)
    expected = np.column_stack([multivariate_normal(means[j], full[j]).logpdf(X) for j in range(k)])
    np.testing.assert_allclose(got, expected, rtol=1e-11)


@pytest.mark.parametrize("d", [1, 2, 7, 50])
def test_gaussian_log_density_through_cholesky_matches_scipy(rng, d):
    covariance = random_spd(rng, d)
    mean = rng.normal(size=d)
    X = rng.normal(size=(40, d)) * 2 + mean
    got = gk.gaussian_log_density(X, mean, np.linalg.cholesky(covariance))
    np.testing.assert_allclose(got, multivariate_normal(mean, covariance).logpdf(X), rtol=1e-10)


def test_log_prob_resp_is_finite_where_every_density_underflows():
    weighted = np.array([[-2000.0, -2001.0, -2005.0], [-1e5, -1e5, -1e5 + 3.0]])
    assert np.all(np.exp(weighted[0]) == 0)  # the naive sum would give log 0
    log_norm, resp = gk.log_prob_resp(weighted)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0)
    expected = -2000.0 + np.log(1 + np.exp(-1.0) + np.exp(-5.0))
    np.testing.assert_allclose(log_norm[0], expected, rtol=1e-14)
    np.testing.assert_allclose(log_norm[1], -1e5 + 3.0 + np.log(1 + 2 * np.exp(-3.0)), rtol=1e-14)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_statistics_of_two_blocks_merge_into_those_of_the_whole(rng, covariance_type):
    k, d, n, m = 3, 3, 90, 37
    X = rng.normal(size=(n, d))
    w = rng.uniform(0.0, 3.0, size=n)
    resp = rng.dirichlet(np.ones(k), size=n)
    log_norm = rng.normal(size=n)
    shift = rng.normal(size=(k, d))
    whole = gk.block_statistics(X, w, resp, shift, covariance_type, log_norm)
    merged = gk.merge_statistics(
        gk.block_statistics(X[:m], w[:m], resp[:m], shift, covariance_type, log_norm[:m]),
        gk.block_statistics(X[m:], w[m:], resp[m:], shift, covariance_type, log_norm[m:]),
    )
    for name in gk.GMMStats._fields:
        np.testing.assert_allclose(getattr(merged, name), getattr(whole, name), rtol=1e-12, atol=1e-12)
    assert merged.total_weight == pytest.approx(w.sum())


@pytest.mark.parametrize("covariance_type", TYPES)
def test_update_equals_the_two_pass_m_step_whatever_the_shift(rng, covariance_type):
    k, d, n = 3, 4, 200
    # Data far from the origin, shift far from the new means: the shifted-moment
    # formula must still give the centred result.
    X = rng.normal(size=(n, d)) * [1.0, 0.1, 3.0, 1.0] + 50.0
    w = rng.integers(0, 4, size=n).astype(float)
    resp = rng.dirichlet(np.ones(k), size=n)
    shift = X[:k] + rng.normal(size=(k, d))
    stats = gk.block_statistics(X, w, resp, shift, covariance_type)
    weights, means, covariances, precisions_cholesky = gk.update(stats, covariance_type, 1e-6)
    ref_weights, ref_means, ref_covariances = two_pass_reference(X, w, resp, 1e-6, covariance_type)
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-13)
    np.testing.assert_allclose(means, ref_means, rtol=1e-13)
    np.testing.assert_allclose(covariances, ref_covariances, rtol=1e-10)
    np.testing.assert_allclose(
        precisions_cholesky, gk.compute_precision_cholesky(ref_covariances, covariance_type), rtol=1e-9
    )


def test_empty_component_gets_a_finite_mean_and_reg_covar():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]])
    resp = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    stats = gk.block_statistics(X, np.ones(3), resp, np.zeros((2, 2)), "full")
    weights, means, covariances, _ = gk.update(stats, "full", 1e-3)
    assert np.all(np.isfinite(means)) and weights[1] < 1e-14
    np.testing.assert_allclose(covariances[1], 1e-3 * np.eye(2))


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_precision_cholesky_is_upper_and_factors_the_precision(rng, covariance_type):
    _, _, covariances = random_parameters(rng, 3, 4, covariance_type)
    U = gk.compute_precision_cholesky(covariances, covariance_type)
    stack_u = U[None] if covariance_type == "tied" else U
    stack_c = covariances[None] if covariance_type == "tied" else covariances
    for u, c in zip(stack_u, stack_c):
        np.testing.assert_array_equal(u, np.triu(u))
        np.testing.assert_allclose(u @ u.T @ c, np.eye(4), atol=1e-12)
    # Back from the factors, and the same factors from the precisions themselves.
    np.testing.assert_allclose(gk.covariances_from_precision_cholesky(U, covariance_type), covariances, rtol=1e-12)
    precisions = np.linalg.inv(covariances)
    np.testing.assert_allclose(gk.precision_cholesky_from_precisions(precisions, covariance_type), U, rtol=1e-10,
                               atol=1e-13)


def test_failed_factorisation_names_the_component_and_the_remedies():
    covariances = np.stack([np.eye(2), np.zeros((2, 2)), np.eye(2)])
    with pytest.raises(NumericalError, match=r"component 1 .*increase reg_covar, reduce n_components or scale"):
        gk.compute_precision_cholesky(covariances, "full")
    with pytest.raises(NumericalError, match=r"component 2 "):
        gk.compute_precision_cholesky(np.array([[1.0, 1.0], [1.0, 2.0], [1.0, 0.0]]), "diag")
    with pytest.raises(NumericalError, match="tied covariance"):
        gk.compute_precision_cholesky(np.zeros((2, 2)), "tied")


def test_full_covariances_and_parameter_counts():
    diag = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(gk.full_covariances(diag, "diag", 2, 2)[1], np.diag([3.0, 4.0]))
    np.testing.assert_array_equal(gk.full_covariances(np.array([2.0, 5.0]), "spherical", 2, 3)[1], 5 * np.eye(3))
    assert gk.full_covariances(np.eye(3), "tied", 4, 3).shape == (4, 3, 3)
    # k - 1 weights + k d means + covariance entries
    assert gk.n_parameters(3, 2, "full") == 2 + 6 + 9
    assert gk.n_parameters(3, 2, "tied") == 2 + 6 + 3
    assert gk.n_parameters(3, 2, "diag") == 2 + 6 + 6
    assert gk.n_parameters(3, 2, "spherical") == 2 + 6 + 3


@pytest.mark.parametrize("n_features", [3, 40])
@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_second_moments_match_their_definition_for_few_and_many_features(n_features, covariance_type):
    # Few features take the outer-product route, many the per-component route.
    rng = np.random.default_rng(n_features)
    n, k = 300, 4
    X = rng.normal(size=(n, n_features)) + 5.0
    resp = rng.dirichlet(np.ones(k), size=n)
    weight = rng.uniform(0.5, 2.0, size=n)
    shift = rng.normal(size=(k, n_features)) + 5.0
    stats = gk.block_statistics(X, weight, resp, shift, covariance_type)
    direct = np.stack([((X - shift[j]) * (weight * resp[:, j])[:, None]).T @ (X - shift[j]) for j in range(k)])
    expected = direct if covariance_type == "full" else direct.sum(axis=0)
    np.testing.assert_allclose(stats.second_moments, expected, rtol=1e-11, atol=1e-9)


def _reference_pass(X, w, weights, means, precisions_cholesky, covariance_type):
    log_norm, resp = gk.e_step(X, means, precisions_cholesky, np.log(weights), covariance_type)
    return gk.block_statistics(X, w, resp, means, covariance_type, log_norm)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("n, d, k", [(1, 1, 1), (300, 2, 5), (5000, 5, 3), (4500, 16, 7)])
@pytest.mark.parametrize("weighted", [False, True])
def test_compiled_pass_matches_e_step_and_statistics(rng, covariance_type, n, d, k, weighted):
    weights, means, covariances = random_parameters(rng, k, d, covariance_type)
    X = means[rng.integers(0, k, size=n)] + rng.normal(size=(n, d))
    w = rng.uniform(0.0, 3.0, size=n) if weighted else np.ones(n)
    factors = gk.compute_precision_cholesky(covariances, covariance_type)
    assert gp.compiled_applies(X.shape[1], X.dtype, covariance_type)
    fast = gp.compiled_statistics(X, w, means, factors, np.log(weights), covariance_type,
                                  unit_weight=not weighted)
    ref = _reference_pass(X, w, weights, means, factors, covariance_type)
    scale = float(np.abs(ref.second_moments).max()) + 1.0
    np.testing.assert_allclose(fast.weight_sums, ref.weight_sums, rtol=1e-11, atol=1e-11 * n)
    np.testing.assert_allclose(fast.sums, ref.sums, rtol=1e-10, atol=1e-11 * scale)
    np.testing.assert_allclose(fast.second_moments, ref.second_moments, rtol=1e-10, atol=1e-11 * scale)
    np.testing.assert_array_equal(fast.shift, ref.shift)
    assert fast.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-11)
    assert fast.total_weight == pytest.approx(ref.total_weight, rel=1e-14)
    if covariance_type == "full":
        np.testing.assert_array_equal(fast.second_moments, fast.second_moments.transpose(0, 2, 1))


def test_compiled_pass_does_not_depend_on_the_threads(rng):
    import numba
    weights, means, covariances = random_parameters(rng, 6, 4, "full")
    X = means[rng.integers(0, 6, size=20000)] + rng.normal(size=(20000, 4))
    w = np.ones(len(X))
    factors = gk.compute_precision_cholesky(covariances, "full")
    args = (X, w, means, factors, np.log(weights), "full")
    serial = gp.compiled_statistics(*args, n_threads=1)
    results = []
    for count in sorted({1, 2, numba.config.NUMBA_NUM_THREADS}):
        results.append(gp.compiled_statistics(*args, n_threads=count))
    for other in results:
        np.testing.assert_array_equal(other.second_moments, serial.second_moments)
        np.testing.assert_array_equal(other.sums, serial.sums)
        assert other.log_likelihood == serial.log_likelihood


def test_compiled_pass_applies_to_full_diag_spherical_with_few_features():
    assert gp.compiled_applies(3, np.float64, "full") and gp.compiled_applies(3, np.float64, "spherical")
    assert not gp.compiled_applies(3, np.float64, "tied")
    assert gp.compiled_applies(3, np.float32, "full")
    assert not gp.compiled_applies(3, np.float16, "full")
    assert not gp.compiled_applies(0, np.float64, "full")
    assert not gp.compiled_applies(gp.COMPILED_MAX_FEATURES + 1, np.float64, "diag")


@pytest.mark.parametrize("d, covariance_type", [(3, "full"), (5, "diag"), (4, "spherical"), (24, "full")])
def test_fast_passes_give_float32_rows_float64_arithmetic(rng, d, covariance_type):
    # float32 rows widened exactly: the same statistics as for their float64 copy, bit for bit.
    from kmix.models import em

    n, k = 3000, 3
    weights, means, covariances = random_parameters(rng, k, d, covariance_type)
    X32 = (means[rng.integers(0, k, size=n)] + rng.normal(size=(n, d))).astype(np.float32)
    factors = gk.compute_precision_cholesky(covariances, covariance_type)
    parameters = em.MixtureParameters(weights, means, covariances, factors)
    w = rng.uniform(0.5, 2.0, size=n)
    narrow = _statistics_pass(X32, w, parameters, covariance_type)
    wide = _statistics_pass(X32.astype(np.float64), w, parameters, covariance_type)
    for got, expected in zip(narrow, wide):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("n, d, k", [(700, 17, 3), (2500, 40, 6)])
@pytest.mark.parametrize("weighted", [False, True])
def test_full_pass_through_outer_products_matches_e_step_and_statistics(rng, n, d, k, weighted):
    weights, means, covariances = random_parameters(rng, k, d, "full")
    X = means[rng.integers(0, k, size=n)] + rng.normal(size=(n, d)) + 20.0  # far from the origin
    means = means + 20.0
    w = rng.uniform(0.0, 3.0, size=n) if weighted else np.ones(n)
    factors = gk.compute_precision_cholesky(covariances, "full")
    terms = gp.full_pass_terms(means, factors, np.log(weights))
    fast = gp.full_statistics(gp.full_block_moments(X, w, terms), terms)
    ref = _reference_pass(X, w, weights, means, factors, "full")
    scale = float(np.abs(ref.second_moments).max())
    np.testing.assert_allclose(fast.weight_sums, ref.weight_sums, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fast.sums, ref.sums, rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_allclose(fast.second_moments, ref.second_moments, rtol=1e-9, atol=1e-11 * scale)
    np.testing.assert_allclose(fast.second_moments, fast.second_moments.transpose(0, 2, 1),
                               rtol=0, atol=1e-13 * scale)
    assert fast.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-11)


@pytest.mark.parametrize("weighted", [False, True])
def test_full_block_moments_of_unequal_blocks_merge_to_the_whole_pass(rng, weighted):
    n, d, k = 1300, 24, 5
    weights, means, covariances = random_parameters(rng, k, d, "full")
    X = means[rng.integers(0, k, size=n)] + rng.normal(size=(n, d)) + 5.0
    means = means + 5.0
    w = rng.uniform(0.0, 3.0, size=n) if weighted else np.ones(n)
    factors = gk.compute_precision_cholesky(covariances, "full")
    terms = gp.full_pass_terms(means, factors, np.log(weights))
    bounds = [0, 700, 701, 1000, n]  # one block of a single row
    parts = [gp.full_block_moments(X[a:b], w[a:b], terms, not weighted)
             for a, b in zip(bounds[:-1], bounds[1:])]
    merged = parts[0]
    for part in parts[1:]:
        merged = gp.merge_full_moments(merged, part)
    whole = gp.full_statistics(merged, terms)
    ref = _reference_pass(X, w, weights, means, factors, "full")
    scale = float(np.abs(ref.second_moments).max())
    np.testing.assert_allclose(whole.weight_sums, ref.weight_sums, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(whole.sums, ref.sums, rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_allclose(whole.second_moments, ref.second_moments, rtol=1e-9, atol=1e-11 * scale)
    assert whole.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-11)
    assert whole.total_weight == pytest.approx(w.sum(), rel=1e-14)
    # Unit weights given as such or as an array of ones: the same numbers.
    if not weighted:
        again = gp.full_block_moments(X[:700], w[:700], terms, False)
        np.testing.assert_array_equal(again.packed, parts[0].packed)
        assert again.log_likelihood == parts[0].log_likelihood


def test_full_block_rows_keep_the_outer_products_near_8_mib():
    for d in (17, 40, 64, 128, 300):
        rows = gp.full_block_rows(d)
        assert 64 <= rows <= 4096 and rows % 16 == 0
        t = d * (d + 1) // 2
        assert rows * t * 8 <= 2**23 or rows == 64
    assert gp.full_block_rows(64) == 496


def test_row_terms_and_unpacking(rng):
    Z = rng.normal(size=(5, 4))
    terms = gp.row_terms(Z)
    assert terms.shape == (5, 14)
    full = gp.unpack_triangles(terms[:, :10], 4)
    np.testing.assert_array_equal(full, Z[:, :, None] * Z[:, None, :])
    np.testing.assert_array_equal(terms[:, 10:], Z)


@pytest.mark.parametrize("weighted", [False, True])
def test_in_memory_full_pass_with_many_features_is_the_same_on_one_thread_or_all(rng, weighted):
    from kmix.models import em

    n, d, k = 9000, 20, 3  # three blocks of the full pass
    assert n > 2 * gp.full_block_rows(d)
    weights, means, covariances = random_parameters(rng, k, d, "full")
    X = means[rng.integers(0, k, size=n)] + rng.normal(size=(n, d))
    w = rng.uniform(0.0, 3.0, size=n) if weighted else np.ones(n)
    factors = gk.compute_precision_cholesky(covariances, "full")
    parameters = em.MixtureParameters(weights, means, covariances, factors)
    threads = _statistics_pass(X, w, parameters, "full")
    serial = _statistics_pass(X, w, parameters, "full", threads=1)
    for got, expected in zip(threads, serial):
        np.testing.assert_array_equal(got, expected)
    ref = _reference_pass(X, w, weights, means, factors, "full")
    scale = float(np.abs(ref.second_moments).max())
    np.testing.assert_allclose(threads.second_moments, ref.second_moments, rtol=1e-9, atol=1e-11 * scale)
    np.testing.assert_allclose(threads.sums, ref.sums, rtol=1e-9, atol=1e-9 * scale)
    assert threads.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-11)


def test_full_block_moments_give_a_component_of_zero_weight_nothing(rng):
    n, d, k = 400, 20, 3
    weights, means, covariances = random_parameters(rng, k, d, "full")
    weights = np.array([0.0, 0.4, 0.6])
    X = means[rng.integers(0, k, size=n)] + rng.normal(size=(n, d))
    factors = gk.compute_precision_cholesky(covariances, "full")
    with np.errstate(divide="ignore"):
        terms = gp.full_pass_terms(means, factors, np.log(weights))
    moments = gp.full_block_moments(X, np.ones(n), terms, True)
    assert moments.weight_sums[0] == 0.0 and not moments.packed[0].any()
    ref = _reference_pass(X, np.ones(n), np.array([1e-300, 0.4, 0.6]), means, factors, "full")
    np.testing.assert_allclose(moments.weight_sums[1:], ref.weight_sums[1:], rtol=1e-9)
    assert np.isfinite(moments.log_likelihood)
    assert moments.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-9)


def test_full_triangle_pass_applies_to_float64_full_between_17_and_256_features():
    assert gp.full_triangle_applies(17, np.float64, "full")
    assert gp.full_triangle_applies(gp.FULL_TRIANGLE_MAX_FEATURES, np.float64, "full")
    assert not gp.full_triangle_applies(gp.FULL_TRIANGLE_MAX_FEATURES + 1, np.float64, "full")
    assert not gp.full_triangle_applies(16, np.float64, "full")
    assert not gp.full_triangle_applies(40, np.float64, "tied")
    assert gp.full_triangle_applies(40, np.float32, "full")
    assert not gp.full_triangle_applies(40, np.float16, "full")


def test_in_memory_full_pass_above_the_triangle_limit_matches_scipy(rng):
    from scipy.special import logsumexp

    from kmix.models import em

    n, d, k = 700, gp.FULL_TRIANGLE_MAX_FEATURES + 4, 2
    weights, means, covariances = random_parameters(rng, k, d, "full")
    X = means[rng.integers(0, k, size=n)] + rng.normal(size=(n, d))
    factors = gk.compute_precision_cholesky(covariances, "full")
    parameters = em.MixtureParameters(weights, means, covariances, factors)
    got = _statistics_pass(X, np.ones(n), parameters, "full")
    log_prob = np.column_stack([multivariate_normal(means[j], covariances[j]).logpdf(X) + np.log(weights[j])
                                for j in range(k)])
    log_norm = logsumexp(log_prob, axis=1)
    resp = np.exp(log_prob - log_norm[:, None])
    second = np.stack([((X - means[j]) * resp[:, j:j + 1]).T @ (X - means[j]) for j in range(k)])
    np.testing.assert_allclose(got.weight_sums, resp.sum(axis=0), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(got.second_moments, second, rtol=1e-8, atol=1e-9 * np.abs(second).max())
    assert got.log_likelihood == pytest.approx(log_norm.sum(), rel=1e-10)


# --- one entry point per operation: log-probabilities, statistics of given resp, a pass


def test_log_of_weights_gives_minus_infinity_for_a_zero_weight_silently():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logs = gk.log_of_weights(np.array([0.0, 0.25, 0.75]))
    assert logs[0] == -np.inf
    np.testing.assert_array_equal(logs[1:], np.log([0.25, 0.75]))


@pytest.mark.parametrize("covariance_type", TYPES)
def test_weighted_log_prob_is_log_weights_plus_log_densities_block_by_block(rng, monkeypatch,
                                                                            covariance_type):
    k, d, n = 3, 4, 700
    weights, means, covariances = random_parameters(rng, k, d, covariance_type)
    X = means[rng.integers(0, k, size=n)] + rng.normal(size=(n, d))
    factors = gk.compute_precision_cholesky(covariances, covariance_type)
    log_weights = gk.log_of_weights(weights)
    whole = gk.estimate_log_gaussian_prob(X, means, factors, covariance_type) + log_weights
    monkeypatch.setattr(gk, "block_rows", lambda *args: 128)  # several blocks, the last one short
    got = gk.weighted_log_prob(X, means, factors, log_weights, covariance_type)
    assert got.shape == (n, k) and got.dtype == X.dtype
    np.testing.assert_allclose(got, whole, rtol=1e-12, atol=1e-12)
    full = gk.full_covariances(covariances, covariance_type, k, d)
    expected = np.column_stack([multivariate_normal(means[j], full[j]).logpdf(X) + np.log(weights[j])
                                for j in range(k)])
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    assert gk.weighted_log_prob(X[:0], means, factors, log_weights, covariance_type).shape == (0, k)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_resp_statistics_are_the_merged_statistics_of_the_blocks(rng, monkeypatch, covariance_type):
    n, d, k = 650, 3, 4
    X = rng.normal(size=(n, d)) + 3.0
    w = rng.uniform(0.0, 2.0, size=n)
    resp = rng.dirichlet(np.ones(k), size=n)
    shift = rng.normal(size=(k, d)) + 3.0
    whole = gk.block_statistics(X, w, resp, shift, covariance_type)
    monkeypatch.setattr(gk, "block_rows", lambda *args: 200)
    got = gk.resp_statistics(X, w, resp, shift, covariance_type)
    expected = gk.block_statistics(X[:0], w[:0], resp[:0], shift, covariance_type)
    for start in range(0, n, 200):
        rows = slice(start, start + 200)
        expected = gk.merge_statistics(expected, gk.block_statistics(X[rows], w[rows], resp[rows], shift,
                                                                     covariance_type))
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    scale = float(np.abs(whole.second_moments).max())
    np.testing.assert_allclose(got.weight_sums, whole.weight_sums, rtol=1e-12)
    np.testing.assert_allclose(got.sums, whole.sums, rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(got.second_moments, whole.second_moments, rtol=1e-12, atol=1e-12 * scale)
    assert got.log_likelihood == 0.0 and got.total_weight == pytest.approx(w.sum(), rel=1e-14)
    empty = gk.resp_statistics(X[:0], w[:0], resp[:0], shift, covariance_type)
    assert empty.weight_sums.shape == (k,) and not empty.weight_sums.any()
    assert empty.second_moments.shape == whole.second_moments.shape and not empty.second_moments.any()


def _block(X, w, unit_weight=False, n_threads=1):
    from types import SimpleNamespace

    return SimpleNamespace(X=X, sample_weight=w, unit_weight=unit_weight, n_threads=n_threads)


def _run_plan(plan, X, w, unit_weight=False, n_threads=1):
    """A pass as a backend runs it: the whole array, or blocks merged in order."""
    if plan.block_rows is None:
        return plan.finish(plan.kernel(_block(X, w, unit_weight, n_threads), *plan.args))
    merged = None
    for start in range(0, max(len(X), 1), plan.block_rows):
        rows = slice(start, start + plan.block_rows)
        part = plan.kernel(_block(X[rows], w[rows], unit_weight), *plan.args)
        merged = part if merged is None else plan.merge(merged, part)
    return plan.finish(merged)


def _plan(X, weights, means, factors, covariance_type, shift=None):
    shift = means.astype(np.float64) if shift is None else shift
    return gp.em_pass_plan(X.shape[1], X.dtype, covariance_type, means, factors,
                           gk.log_of_weights(weights), shift)


@pytest.mark.parametrize("d, dtype, covariance_type, path", [
    (3, np.float64, "full", "compiled"), (5, np.float32, "diag", "compiled"),
    (16, np.float64, "spherical", "compiled"), (17, np.float64, "full", "triangle"),
    (40, np.float32, "full", "triangle"), (3, np.float64, "tied", "compiled"),
    (20, np.float64, "tied", "generic"),
    (20, np.float64, "diag", "generic"), (gp.FULL_TRIANGLE_MAX_FEATURES + 1, np.float64, "full", "generic"),
])
def test_em_pass_plan_picks_the_path_of_the_data(rng, d, dtype, covariance_type, path):
    k = 3
    weights, means, covariances = random_parameters(rng, k, d, covariance_type)
    factors = gk.compute_precision_cholesky(covariances, covariance_type)
    X = np.zeros((2, d), dtype=dtype)
    plan = _plan(X, weights, means, factors, covariance_type)
    expected_rows = {"compiled": None, "triangle": gp.full_block_rows(d),
                     "generic": gk.block_rows(k, d, np.dtype(dtype).itemsize)}[path]
    assert plan.block_rows == expected_rows
    assert plan.merge is (gp.merge_full_moments if path == "triangle" else gk.merge_statistics)
    # Moments about another point than the means: always the generic path.
    other = _plan(X, weights, means, factors, covariance_type, shift=means + 1.0)
    assert other.block_rows == gk.block_rows(k, d, np.dtype(dtype).itemsize)
    assert other.merge is gk.merge_statistics


@pytest.mark.parametrize("d, covariance_type", [(3, "full"), (4, "diag"), (2, "spherical"), (24, "full"),
                                                (3, "tied"), (20, "diag")])
@pytest.mark.parametrize("weighted", [False, True])
def test_em_pass_plan_gives_the_statistics_of_e_step_and_block_statistics(rng, d, covariance_type,
                                                                           weighted):
    n, k = 2500, 4
    weights, means, covariances = random_parameters(rng, k, d, covariance_type)
    X = means[rng.integers(0, k, size=n)] + rng.normal(size=(n, d))
    w = rng.uniform(0.0, 3.0, size=n) if weighted else np.ones(n)
    factors = gk.compute_precision_cholesky(covariances, covariance_type)
    got = _run_plan(_plan(X, weights, means, factors, covariance_type), X, w, unit_weight=not weighted)
    ref = _reference_pass(X, w, weights, means, factors, covariance_type)
    scale = float(np.abs(ref.second_moments).max())
    np.testing.assert_allclose(got.weight_sums, ref.weight_sums, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got.sums, ref.sums, rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_allclose(got.second_moments, ref.second_moments, rtol=1e-9, atol=1e-11 * scale)
    np.testing.assert_array_equal(got.shift, ref.shift)
    assert got.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-11)
    assert got.total_weight == pytest.approx(w.sum(), rel=1e-14)
    # A shift other than the means: statistics about that shift.
    shift = means + 0.5
    moved = _run_plan(_plan(X, weights, means, factors, covariance_type, shift=shift), X, w)
    log_norm, resp = gk.e_step(X, means, factors, np.log(weights), covariance_type)
    about = gk.block_statistics(X, w, resp, shift, covariance_type, log_norm)
    np.testing.assert_allclose(moved.second_moments, about.second_moments, rtol=1e-9, atol=1e-11 * scale)


@pytest.mark.parametrize("d, covariance_type", [(3, "full"), (20, "full"), (3, "tied")])
def test_em_pass_plan_blocks_without_rows_merge_as_zero(rng, d, covariance_type):
    n, k = 300, 3
    weights, means, covariances = random_parameters(rng, k, d, covariance_type)
    X = means[rng.integers(0, k, size=n)] + rng.normal(size=(n, d))
    w = rng.uniform(0.5, 2.0, size=n)
    factors = gk.compute_precision_cholesky(covariances, covariance_type)
    plan = _plan(X, weights, means, factors, covariance_type)
    empty = plan.kernel(_block(X[:0], w[:0]), *plan.args)
    full = plan.kernel(_block(X, w), *plan.args)
    for merged in (plan.merge(empty, full), plan.merge(full, empty)):
        for a, b in zip(plan.finish(merged), plan.finish(full)):
            np.testing.assert_array_equal(a, b)
    nothing = _run_plan(plan, X[:0], w[:0])
    assert nothing.weight_sums.shape == (k,) and not nothing.weight_sums.any()
    assert not nothing.sums.any() and not nothing.second_moments.any()
    assert nothing.log_likelihood == 0.0 and nothing.total_weight == 0.0


@pytest.mark.parametrize("d, covariance_type", [(3, "full"), (5, "diag"), (4, "spherical"), (24, "full")])
def test_em_pass_plan_gives_float32_rows_float64_arithmetic(rng, d, covariance_type):
    # float32 rows widened exactly: the same statistics as for their float64 copy, bit for bit.
    n, k = 3000, 3
    weights, means, covariances = random_parameters(rng, k, d, covariance_type)
    X32 = (means[rng.integers(0, k, size=n)] + rng.normal(size=(n, d))).astype(np.float32)
    factors = gk.compute_precision_cholesky(covariances, covariance_type)
    w = rng.uniform(0.5, 2.0, size=n)
    X64 = X32.astype(np.float64)
    narrow = _run_plan(_plan(X32, weights, means, factors, covariance_type), X32, w)
    wide = _run_plan(_plan(X64, weights, means, factors, covariance_type), X64, w)
    for got, expected in zip(narrow, wide):
        np.testing.assert_array_equal(got, expected)


def test_em_pass_plan_compiled_path_does_not_depend_on_the_threads(rng):
    import numba

    weights, means, covariances = random_parameters(rng, 5, 3, "diag")
    X = means[rng.integers(0, 5, size=9000)] + rng.normal(size=(9000, 3))
    w = rng.uniform(0.5, 2.0, size=9000)
    factors = gk.compute_precision_cholesky(covariances, "diag")
    plan = _plan(X, weights, means, factors, "diag")
    assert plan.block_rows is None
    one = _run_plan(plan, X, w, n_threads=1)
    for count in sorted({2, numba.config.NUMBA_NUM_THREADS}):
        for got, expected in zip(_run_plan(plan, X, w, n_threads=count), one):
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_tied_pass_through_the_compiled_full_one_gives_the_tied_statistics(rng, dtype):
    # k equal full covariances: the per-component second moments add up to the
    # tied ones the generic E-step and statistics give.
    k, d, n = 4, 5, 700
    weights, means, covariances = random_parameters(rng, k, d, "tied")
    factors = gk.compute_precision_cholesky(covariances, "tied")
    X = (rng.normal(size=(n, d)) * 2.0).astype(dtype)
    w = rng.uniform(0.5, 2.0, size=n).astype(dtype)
    plan = _plan(X, weights, means.astype(dtype), factors.astype(dtype), "tied")
    assert plan.block_rows is None  # the compiled pass
    got = _run_plan(plan, X, w)
    log_resp_sum, resp = gk.e_step(X.astype(np.float64), means, factors, gk.log_of_weights(weights), "tied")
    expected = gk.block_statistics(X.astype(np.float64), w.astype(np.float64), resp, means.astype(np.float64),
                                   "tied")
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    assert got.second_moments.shape == (d, d)
    np.testing.assert_allclose(got.weight_sums, expected.weight_sums, rtol=rtol)
    np.testing.assert_allclose(got.second_moments, expected.second_moments, rtol=rtol,
                               atol=rtol * float(np.abs(expected.second_moments).max()))
    assert got.log_likelihood == pytest.approx(float(np.sum(w * log_resp_sum)), rel=rtol)
