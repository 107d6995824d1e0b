import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import kmix  # noqa: E402
from kmix.viz import color, plot_clusters, plot_ssd  # noqa: E402


@pytest.fixture(scope="module")
def fitted():
    X = kmix.datasets.load("samples_3")
    return X, kmix.KMeans(8, random_state=0).fit(X)


def test_plot_clusters_draws_points_centres_and_paths(fitted):
    X, model = fitted
    ax = plot_clusters(X, model.labels_, model.cluster_centers_, model.history_.centers)
    # one scatter per cluster, the initial centres (rings) and the final centres
    assert len(ax.collections) == 10
    assert len(ax.lines) == 8  # one path per centre
    for j, line in enumerate(ax.lines):
        assert matplotlib.colors.same_color(line.get_color(), color(j))
        assert len(line.get_xdata()) == model.n_iter_ + 1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("Cluster 00") and labels[-1] == "Final centres"
    assert labels[8:10] == ["Initial centres", "Path of each centre (× per iteration)"]
    sizes = np.bincount(model.labels_)
    assert labels[3] == f"Cluster 03 ({sizes[3]})"


def test_colours_are_the_same_for_the_same_cluster_in_every_figure(fitted):
    X, model = fitted
    a = plot_clusters(X, model.labels_, model.cluster_centers_)
    b = plot_clusters(X, model.labels_, model.cluster_centers_)
    for ca, cb in zip(a.collections[:8], b.collections[:8]):
        assert matplotlib.colors.same_color(ca.get_facecolor()[0], cb.get_facecolor()[0])


def test_plot_ssd_half_steps_and_log_scale(fitted):
    _, model = fitted
    ax = plot_ssd(model.history_)
    assert ax.get_yscale() == "log"
    x = ax.lines[0].get_xdata()
    np.testing.assert_allclose(x, 1 + np.arange(2 * model.n_iter_) / 2)  # iterations counted from 1
    np.testing.assert_allclose(ax.lines[0].get_ydata(), model.history_.ssd.reshape(-1))
    assert ax.get_xlabel() == "iteration" and ax.get_ylabel() == "SSD"


def test_high_dimensional_data_is_projected(rng):
    X = np.concatenate([rng.normal(size=(50, 6)), rng.normal(size=(50, 6)) + 8])
    model = kmix.KMeans(2, random_state=0).fit(X)
    ax = plot_clusters(X, model.labels_, model.cluster_centers_, model.history_.centers)
    assert "principal component 1" in ax.get_xlabel()
    assert "principal component 2" in ax.get_ylabel()
    offsets = ax.collections[0].get_offsets()
    assert offsets.shape[1] == 2


def test_uses_given_axes_and_checks_shapes(fitted):
    import matplotlib.pyplot as plt

    X, model = fitted
    fig, ax = plt.subplots()
    assert plot_clusters(X, model.labels_, model.cluster_centers_, ax=ax) is ax
    with pytest.raises(ValueError, match="labels must have shape"):
        plot_clusters(X, model.labels_[:10], model.cluster_centers_)
    with pytest.raises(ValueError, match="two SSD values per iteration"):
        plot_ssd(np.array([1.0, 2.0, 3.0]))
