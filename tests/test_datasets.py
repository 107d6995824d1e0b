import numpy as np
import pytest

from kmix import DataError, datasets


@pytest.mark.parametrize("name", ["samples_1", "samples_2", "samples_3", "samples_u"])
def test_bundled_sets_are_deterministic_500_by_2(name):
    X = datasets.load(name)
    assert X.shape == (500, 2) and X.dtype == np.float64
    np.testing.assert_array_equal(X, datasets.load(name))
    X[0, 0] = 1e9  # a copy: the cached set is untouched
    assert datasets.load(name)[0, 0] != 1e9


def test_names_have_descriptions():
    names = datasets.names()
    assert set(names) == {"samples_1", "samples_2", "samples_3", "samples_u"}
    assert all(len(text) > 10 for text in names.values())


def test_unknown_name():
    with pytest.raises(DataError, match="unknown dataset 'samples_9'"):
        datasets.load("samples_9")


def test_samples_u_is_uniform_on_a_square():
    X = datasets.load("samples_u")
    assert X.min() >= -5 and X.max() <= 5
    # each quarter of the square holds about a quarter of the points
    counts = np.histogram2d(X[:, 0], X[:, 1], bins=2, range=[[-5, 5], [-5, 5]])[0]
    assert counts.min() > 90


def test_make_gaussian_mixture_moments():
    weights = [0.2, 0.8]
    means = [[0.0, 0.0, 0.0], [10.0, -5.0, 2.0]]
    cov = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 0.5]])
    X, labels = datasets.make_gaussian_mixture(20000, weights, means, [np.eye(3), cov], random_state=1)
    assert X.shape == (20000, 3) and labels.shape == (20000,)
    assert abs(np.mean(labels == 1) - 0.8) < 0.02
    np.testing.assert_allclose(X[labels == 1].mean(axis=0), means[1], atol=0.05)
    np.testing.assert_allclose(np.cov(X[labels == 1].T), cov, atol=0.06)
    X2, labels2 = datasets.make_gaussian_mixture(20000, weights, means, [np.eye(3), cov], random_state=1)
    np.testing.assert_array_equal(X, X2)


def test_make_gaussian_mixture_checks_shapes():
    with pytest.raises(ValueError, match="covariances must have shape"):
        datasets.make_gaussian_mixture(10, [1.0], [[0.0, 0.0]], np.eye(3)[None])
    with pytest.raises(ValueError, match="weights must be non-negative and sum to 1"):
        datasets.make_gaussian_mixture(10, [0.5, 0.2], [[0.0], [1.0]], np.ones((2, 1, 1)))
