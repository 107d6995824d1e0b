"""The exercise's k-means functions, by their names and shapes, done right."""

import numpy as np
import pytest

import kmix
from kmix import textbook


def test_assignment_step_uses_euclidean_distance():
    # Cosine similarity (the exercise's bug) would put (10, 0.1) with (1, 0):
    # same direction; by Euclidean distance it belongs to (9, 3).
    data = np.array([[10.0, 0.1], [0.9, 0.1]])
    centers = np.array([[1.0, 0.0], [9.0, 3.0]])
    one_hot = textbook.assignment_step(data, centers)
    np.testing.assert_array_equal(one_hot, [[0, 1], [1, 0]])
    assert one_hot.shape == (2, 2) and one_hot.sum(axis=1).tolist() == [1, 1]


def test_adjustment_step_any_dimension(rng):
    data = rng.normal(size=(50, 5))
    labels = np.arange(50) % 3
    one_hot = np.eye(3)[labels]
    centers = textbook.adjustment_step(data, one_hot)
    assert centers.shape == (3, 5)
    for j in range(3):
        np.testing.assert_allclose(centers[j], data[labels == j].mean(axis=0))


def test_adjustment_step_empty_cluster():
    data = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]])
    one_hot = np.array([[1, 0], [1, 0], [1, 0]], dtype=float)
    with pytest.raises(ValueError, match=r"cluster\(s\) \[1\] have no points"):
        textbook.adjustment_step(data, one_hot)
    centers = textbook.adjustment_step(data, one_hot, previous_centers=np.array([[0.0, 0.0], [50.0, 50.0]]))
    # The farthest point takes the empty cluster and leaves its own, as in scikit-learn.
    np.testing.assert_allclose(centers, [[0.5, 0.0], [10.0, 0.0]])


def test_k_means_shapes_and_stopping_rule():
    X = kmix.datasets.load("samples_3")
    one_hot, centers, ssd, history = textbook.k_means(X, 8, random_state=42)
    n_iter = history.shape[0] - 1
    assert one_hot.shape == (500, 8) and centers.shape == (8, 2)
    assert ssd.shape == (2 * n_iter,) and history.shape == (n_iter + 1, 8, 2)
    # stopped because the assignments did not change: one more step changes nothing
    again = textbook.assignment_step(X, centers)
    np.testing.assert_array_equal(again, one_hot)
    np.testing.assert_allclose(textbook.adjustment_step(X, one_hot), centers)
    assert np.all(np.diff(ssd) <= 1e-9 * ssd[0])


def test_k_means_is_deterministic_given_a_seed_and_general_in_d(rng):
    X = rng.normal(size=(200, 4))
    a = textbook.k_means(X, 5, random_state=7)
    b = textbook.k_means(X, 5, random_state=7)
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)
    assert a[1].shape == (5, 4)


def test_k_means_plots_every_vis_interval():
    import matplotlib.pyplot as plt

    X = kmix.datasets.load("samples_1")
    before = len(plt.get_fignums())
    _, _, _, history = textbook.k_means(X, 3, random_state=0, plot=True, vis_interval=1)
    assert len(plt.get_fignums()) - before == history.shape[0] - 1
    plt.close("all")
    textbook.k_means(X, 3, random_state=0)
    assert len(plt.get_fignums()) == 0  # off by default


def test_k_means_refuses_data_whose_squares_overflow():
    X = np.random.default_rng(0).normal(size=(30, 2)) * 1e200
    with pytest.raises(kmix.DataError, match="data_points has values as large as .*Divide the data"):
        textbook.k_means(X, 3, random_state=0)
