"""The model-selection figures: classification, uncertainty and the scatter-plot matrix."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kmix  # noqa: E402
from kmix.viz import color, plot_classification, plot_pairs  # noqa: E402


def _fitted(d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(size=(60, d)), rng.normal(size=(40, d)) * 0.5 + 4.0])
    return X, kmix.GaussianMixture(2, covariance_type="VEV", random_state=0).fit(X)


def test_classification_colours_each_point_by_its_component():
    X, model = _fitted(d=2)
    ax = plot_classification(X, model)
    labels = model.predict(X)
    assert len(ax.collections) == 2 and len(ax.patches) == 2  # points and an ellipse per component
    for j, points in enumerate(ax.collections):
        assert len(points.get_offsets()) == np.count_nonzero(labels == j)
        np.testing.assert_allclose(points.get_facecolor()[0][:3], matplotlib.colors.to_rgb(color(j)))
    assert ax.get_title() == "Classification"
    plt.close("all")


def test_uncertainty_sizes_grow_with_the_doubt():
    X, model = _fitted(d=3)
    ax = plot_classification(X, model, uncertainty=True)
    unsure = 1.0 - model.predict_proba(X).max(axis=1)
    labels = model.predict(X)
    sizes = np.concatenate([c.get_sizes() for c in ax.collections])
    order = np.concatenate([np.flatnonzero(labels == j) for j in range(2)])
    # The larger the uncertainty, the larger the point.
    assert np.all(np.diff(sizes[np.argsort(unsure[order])]) >= -1e-9)
    assert "principal component" in ax.get_xlabel()  # three features: the PCA plane
    plt.close("all")


def test_the_pairs_matrix_has_every_pair_and_the_marginal_ellipses():
    X, model = _fitted(d=3)
    axes = plot_pairs(X, model, names=["a", "b", "c"])
    assert axes.shape == (3, 3)
    assert all(len(axes[i, i].patches) > 0 for i in range(3))  # histograms
    assert len(axes[0, 1].patches) == 2 and axes[2, 0].get_xlabel() == "a"
    with pytest.raises(ValueError, match="features must be column numbers"):
        plot_pairs(X, model, features=[0, 5])
    plt.close("all")
