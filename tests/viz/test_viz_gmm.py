import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from matplotlib.contour import ContourSet  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402

import kmix  # noqa: E402
from kmix.viz import color, plot_density, plot_gmm, plot_log_likelihood  # noqa: E402


@pytest.fixture(scope="module")
def fitted():
    X = kmix.datasets.load("samples_2")
    return X, kmix.GaussianMixture(5, random_state=0).fit(X)


def ellipses(ax):
    return [p for p in ax.patches if isinstance(p, Ellipse)]


def test_plot_gmm_draws_an_ellipse_per_component_with_the_legend(fitted):
    X, model = fitted
    ax = plot_gmm(X, model)
    drawn = ellipses(ax)
    assert len(drawn) == 5
    for j, ellipse in enumerate(drawn):
        assert matplotlib.colors.same_color(ellipse.get_edgecolor(), color(j))
        np.testing.assert_allclose(ellipse.center, model.means_[j])
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[:3] == ["Samples", "Component means", "2σ ellipse of each component"]
    assert texts[3:] == [f"Component {j:02d}, weight {model.weights_[j]:.4f}" for j in range(5)]
    assert texts[5].startswith("Component 02, weight 0.")
    # the samples, then one mean marker per component
    assert len(ax.collections) == 6
    assert ax.get_xlabel() == "$x_1$"


def test_ellipse_axes_come_from_the_eigendecomposition():
    covariance = np.array([[4.0, 0.0], [0.0, 1.0]])
    rotation = np.array([[np.cos(0.5), -np.sin(0.5)], [np.sin(0.5), np.cos(0.5)]])
    params = (np.array([0.4, 0.6]), np.array([[0.0, 0.0], [5.0, 5.0]]),
              np.stack([covariance, rotation @ covariance @ rotation.T]))
    ax = plot_gmm(np.zeros((3, 2)), params, n_std=2)
    first, second = ellipses(ax)
    assert (first.width, first.height) == pytest.approx((8.0, 4.0))  # 2 std along each principal axis
    assert first.angle % 180 == pytest.approx(0.0, abs=1e-9)
    assert (second.width, second.height) == pytest.approx((8.0, 4.0))
    assert second.angle % 180 == pytest.approx(np.degrees(0.5))


def test_parameters_as_a_dict_and_components_in_higher_dimensions(rng):
    X = rng.normal(size=(200, 5)) * [5.0, 2.0, 1.0, 0.5, 0.1]
    model = kmix.GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    ax = plot_gmm(X, model)
    assert len(ellipses(ax)) == 3
    assert ax.get_xlabel().startswith("principal component 1")
    full = np.stack([np.diag(v) for v in model.covariances_])
    ax = plot_gmm(X, {"weights": model.weights_, "means": model.means_, "covariances": full})
    assert len(ellipses(ax)) == 3
    ax = plot_density(model, X)
    assert any(isinstance(c, ContourSet) for c in ax.collections)


def test_colours_stay_fixed_across_figures(fitted):
    X, model = fitted
    a, b = plot_gmm(X, model), plot_density(model, X)
    marks = [c for c in b.collections if not isinstance(c, ContourSet)][1:]  # after the data dots
    for j, (ellipse, mark) in enumerate(zip(ellipses(a), marks)):
        assert matplotlib.colors.same_color(ellipse.get_edgecolor(), mark.get_facecolor()[0])
        assert matplotlib.colors.same_color(ellipse.get_edgecolor(), kmix.viz.color(j))


def test_plot_log_likelihood_from_history_or_array(fitted):
    _, model = fitted
    ax = plot_log_likelihood(model.history_)
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_ydata(), model.history_.log_likelihood)
    assert line.get_xdata()[0] == 0 and ax.get_xlabel() == "iterations completed"
    ax = plot_log_likelihood(model)
    assert len(ax.lines[0].get_xdata()) == model.n_iter_
    ax = plot_log_likelihood(np.array([-10.0, -9.0, -8.5]))
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])


def test_plot_density_fills_contours_over_the_data(fitted):
    X, model = fitted
    ax = plot_density(model, X)
    contour_sets = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert len(contour_sets) == 2  # filled, then the thin lines
    filled = contour_sets[0]
    assert filled.filled and len(filled.levels) > 10
    xmin, xmax = ax.get_xlim()
    ymin, ymax = ax.get_ylim()
    assert xmin < X[:, 0].min() and xmax > X[:, 0].max()
    assert ymin < X[:, 1].min() and ymax > X[:, 1].max()
    assert len(ax.figure.axes) == 2  # the colour bar
    ax = plot_density((model.weights_, model.means_, model.covariances_), colorbar=False)
    assert len(ax.figure.axes) == 1 and ax.collections


def test_bad_arguments():
    with pytest.raises(ValueError, match="not fitted"):
        plot_gmm(np.zeros((3, 2)), kmix.GaussianMixture())
    with pytest.raises(ValueError, match="must agree"):
        plot_gmm(np.zeros((3, 2)), (np.ones(2) / 2, np.zeros((2, 2)), np.eye(2)))
    with pytest.raises(ValueError, match="missing 'covariances'"):
        plot_density({"weights": [1.0], "means": [[0.0, 0.0]]})
