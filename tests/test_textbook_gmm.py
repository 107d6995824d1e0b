"""The exercise's EM functions (kmix.textbook), done right."""

import inspect
import io
import tokenize
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import kmix
from kmix import textbook
from kmix.kernels.seeding import random_points


def random_spd(rng, d):
    A = rng.normal(size=(d, d))
    return A @ A.T / d + 0.3 * np.eye(d)


def mixture(rng, k=3, d=2):
    weights = rng.dirichlet(np.ones(k))
    means = rng.normal(scale=3.0, size=(k, d))
    covariances = np.stack([random_spd(rng, d) for _ in range(k)])
    return weights, means, covariances


def reference_weighted_log_prob(X, weights, means, covariances):
    return np.column_stack(
        [np.log(w) + multivariate_normal(m, c).logpdf(X) for w, m, c in zip(weights, means, covariances)]
    )


@pytest.mark.parametrize("d", [1, 2, 3, 10, 25, 50])
def test_gaussian_log_density_matches_scipy(rng, d):
    covariance = random_spd(rng, d)
    mean = rng.normal(size=d)
    samples = mean + rng.normal(size=(30, d)) @ np.linalg.cholesky(covariance).T * 1.5
    got = textbook.gaussian_log_density(samples, mean, covariance)
    assert got.shape == (30,)
    np.testing.assert_allclose(got, multivariate_normal(mean, covariance).logpdf(samples), rtol=1e-10)


def test_gmm_log_likelihood_is_right_where_exp_then_log_gives_minus_infinity(rng):
    weights, means, covariances = mixture(rng, k=3, d=2)
    scale = np.sqrt(np.linalg.eigvalsh(covariances).max())
    far = means[0] + 40.0 * scale * np.array([[1.0, 0.0], [0.0, -1.0], [0.7, 0.7]]) * 10
    with np.errstate(divide="ignore"):  # the exercise's way: exponentiate, sum, log
        naive = np.sum(np.log(sum(
            w * np.exp(textbook.gaussian_log_density(far, m, c)) for w, m, c in zip(weights, means, covariances)
        )))
    assert naive == -np.inf
    got = textbook.gmm_log_likelihood(far, weights, means, covariances)
    expected = logsumexp(reference_weighted_log_prob(far, weights, means, covariances), axis=1).sum()
    assert np.isfinite(got) and got == pytest.approx(expected, rel=1e-12)
    near = rng.normal(size=(50, 2))
    expected = np.log(np.exp(reference_weighted_log_prob(near, weights, means, covariances)).sum(axis=1)).sum()
    assert textbook.gmm_log_likelihood(near, weights, means, covariances) == pytest.approx(expected, rel=1e-12)


def test_e_step_gives_normalised_responsibilities_even_far_away(rng):
    weights, means, covariances = mixture(rng, k=4, d=3)
    samples = np.concatenate([rng.normal(scale=3.0, size=(40, 3)), means[:2] + 1e3])
    resp = textbook.e_step(samples, weights, means, covariances)
    assert resp.shape == (42, 4) and np.all(np.isfinite(resp))
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-14)
    weighted = reference_weighted_log_prob(samples[:40], weights, means, covariances)
    expected = np.exp(weighted - logsumexp(weighted, axis=1, keepdims=True))
    np.testing.assert_allclose(resp[:40], expected, rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("d", [1, 2, 5])
def test_m_step_matches_the_formulas_in_any_dimension(rng, d):
    samples = rng.normal(size=(120, d)) + 10.0
    resp = rng.dirichlet(np.ones(3), size=120)
    weights, means, covariances = textbook.m_step(samples, resp)
    nk = resp.sum(axis=0)
    np.testing.assert_allclose(weights, nk / 120, rtol=1e-13)
    np.testing.assert_allclose(means, resp.T @ samples / nk[:, None], rtol=1e-13)
    for j in range(3):
        centred = samples - means[j]
        expected = (centred * resp[:, j, None]).T @ centred / nk[j]
        np.testing.assert_allclose(covariances[j], expected, rtol=1e-10)
    regularised = textbook.m_step(samples, resp, reg_covar=0.1)[2]
    np.testing.assert_allclose(regularised - covariances, np.broadcast_to(0.1 * np.eye(d), (3, d, d)), atol=1e-12)


def test_m_step_has_no_python_loop():
    source = inspect.getsource(textbook.m_step)
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    keywords = {t.string for t in tokens if t.type == tokenize.NAME}
    assert "for" not in keywords and "while" not in keywords


def test_fit_follows_the_exercise_and_agrees_with_the_estimator():
    X = kmix.datasets.load("samples_2")
    weights, means, covariances, log_likelihoods = textbook.fit_gaussian_mixture(X, 5, num_iters=30, random_state=0)
    assert weights.shape == (5,) and means.shape == (5, 2) and covariances.shape == (5, 2, 2)
    assert log_likelihoods.shape == (30,)
    assert np.all(np.diff(log_likelihoods) >= -1e-9 * np.abs(log_likelihoods[1:]))
    assert log_likelihoods[-1] == pytest.approx(textbook.gmm_log_likelihood(X, weights, means, covariances))
    # Same start (random data points, identity covariances, uniform weights), no
    # regularisation: the estimator's log-likelihood of the parameters after t
    # iterations is the exercise's L(t) / N.
    start = X[random_points(X, 5, np.random.default_rng(0))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kmix.ConvergenceWarning)
        model = kmix.GaussianMixture(
            5, weights_init=np.full(5, 0.2), means_init=start, precisions_init=np.tile(np.eye(2), (5, 1, 1)),
            reg_covar=0.0, tol=0.0, max_iter=31,
        ).fit(X)
    np.testing.assert_allclose(model.history_.log_likelihood[1:] * len(X), log_likelihoods, rtol=1e-9)
    np.testing.assert_allclose(model.history_.means[30], means, rtol=1e-8)
    again = textbook.fit_gaussian_mixture(X, 5, num_iters=30, random_state=0)
    np.testing.assert_array_equal(again[3], log_likelihoods)


def test_stopping_rule_and_plots():
    import matplotlib.pyplot as plt

    X = kmix.datasets.load("samples_1")
    *_, log_likelihoods = textbook.fit_gaussian_mixture(X, 3, num_iters=200, random_state=1, tol=1e-4)
    assert len(log_likelihoods) < 200
    assert abs(log_likelihoods[-1] - log_likelihoods[-2]) < 1e-4
    assert np.all(np.abs(np.diff(log_likelihoods)[:-1]) >= 1e-4)
    assert plt.get_fignums() == []  # plotting is off by default
    textbook.fit_gaussian_mixture(X, 3, num_iters=12, vis_interval=5, random_state=1, plot=True)
    figures = [plt.figure(n) for n in plt.get_fignums()]
    assert len(figures) == 3  # after iterations 0, 5 and 10
    ax = figures[1].axes[0]
    assert ax.get_title() == "After Iteration 05"
    assert len(ax.patches) == 3


def test_bad_inputs_name_the_parameter(rng):
    X = rng.normal(size=(10, 2))
    with pytest.raises(ValueError, match="num_components must be <= 10"):
        textbook.fit_gaussian_mixture(X, 11)
    with pytest.raises(ValueError, match="covariance is not positive definite"):
        textbook.gaussian_log_density(X, np.zeros(2), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"mean must have shape \(2,\)"):
        textbook.gaussian_log_density(X, np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match=r"covariances\[1\] is not positive definite"):
        textbook.e_step(X, np.full(2, 0.5), np.zeros((2, 2)), np.stack([np.eye(2), -np.eye(2)]))
    with pytest.raises(ValueError, match=r"weights must have shape \(2,\)"):
        textbook.gmm_log_likelihood(X, np.ones(3) / 3, np.zeros((2, 2)), np.stack([np.eye(2)] * 2))
    with pytest.raises(ValueError, match="responsibilities must have shape"):
        textbook.m_step(X, np.ones((9, 2)) / 2)


def test_fit_gaussian_mixture_refuses_data_whose_squares_overflow():
    X = np.random.default_rng(0).normal(size=(30, 2)) * 1e200
    with pytest.raises(kmix.DataError, match="samples has values as large as .*Divide the data"):
        textbook.fit_gaussian_mixture(X, 2, random_state=0)
