"""Choosing k for k-means: the criteria against scikit-learn's, the choices on
data with a known number of clusters, the result, the picture and the CLI."""

import numpy as np
import pytest

import kmix
from kmix.cli.main import main
from kmix.models.kmeans import KMeansCore
from kmix.models.select_k import select_k


def _blobs(n_clusters, n=300, d=2, seed=0, spread=0.5):
    """Round clusters on a grid of spacing 8 (three to a row), ``spread`` wide."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((n_clusters, d))
    centres[:, 0] = 8.0 * (np.arange(n_clusters) % 3)
    centres[:, 1] = 8.0 * (np.arange(n_clusters) // 3)
    labels = rng.integers(n_clusters, size=n)
    return centres[labels] + rng.normal(scale=spread, size=(n, d))


def test_the_criteria_of_each_k_are_scikit_learns():
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    near = _blobs(4, n=400, d=3, seed=1, spread=2.0)
    X = near + 1e4  # far from the origin; scikit-learn's references from the rows near it (the
    # indices do not move with the data, and its distances through |x|² - 2x·y + |y|² would lose digits)
    result = select_k(X, range(2, 6), ("calinski_harabasz", "davies_bouldin", "silhouette", "ssd"), n_init=1,
                      random_state=0, model_class=KMeansCore)
    for i, model in enumerate(result.models):
        labels = model.labels_
        assert result.values["calinski_harabasz"][i] == pytest.approx(calinski_harabasz_score(near, labels),
                                                                      rel=1e-10)
        assert result.values["davies_bouldin"][i] == pytest.approx(davies_bouldin_score(near, labels), rel=1e-10)
        assert result.values["silhouette"][i] == pytest.approx(silhouette_score(near, labels), rel=1e-10)
        assert result.values["ssd"][i] == pytest.approx(model.inertia_, rel=1e-12)
    assert result.silhouette_sample == X.shape[0]


@pytest.mark.parametrize("n_clusters", [3, 6])
def test_every_criterion_finds_well_separated_clusters(n_clusters):
    X = _blobs(n_clusters, n=600, seed=n_clusters)
    result = kmix.select_k(X, range(2, 10), n_init=2, random_state=0, gap_references=10)
    assert result.choice == {name: n_clusters for name in result.criteria}, result.summary()
    assert [model.n_clusters for model in result.models] == list(range(2, 10))
    assert result.gap_standard_error.shape == (8,) and np.all(result.spread["ssd"] >= 0)
    assert f"{n_clusters}" in result.summary().splitlines()[-1]


def test_one_cluster_and_uniform_data_by_the_gap_statistic():
    one = _blobs(1, n=300, seed=3)
    result = select_k(one, range(1, 6), ("ssd", "gap"), random_state=0, model_class=KMeansCore)
    assert result.choice["gap"] == 1
    uniform = np.random.default_rng(4).uniform(size=(300, 2))
    assert select_k(uniform, range(1, 6), "gap", random_state=0, model_class=KMeansCore).choice["gap"] == 1
    with pytest.raises(ValueError, match="k = 1 is defined for 'ssd' and 'gap' only"):
        select_k(one, range(1, 4), model_class=KMeansCore)
    with pytest.raises(ValueError, match="criteria must be names from"):
        select_k(one, range(2, 4), ("elbow",), model_class=KMeansCore)
    with pytest.raises(ValueError, match="k must not repeat a number"):
        select_k(one, [2, 2], model_class=KMeansCore)


def test_a_large_x_measures_the_silhouette_on_a_sample():
    X = _blobs(3, n=3000, seed=5)
    result = select_k(X, [2, 3, 4], "silhouette", n_init=1, silhouette_sample=500, random_state=0,
                      model_class=KMeansCore)
    assert result.silhouette_sample == 500 and np.all(result.silhouette_standard_error > 0)
    assert result.choice["silhouette"] == 3


def test_the_picture_and_the_command_line(tmp_path, capsys):
    from kmix.viz import plot_select_k

    X = _blobs(3, n=300, seed=7)
    result = select_k(X, range(2, 6), n_init=1, random_state=0, gap_references=5, model_class=KMeansCore)
    axes = plot_select_k(result)
    assert len(axes) == 5 and all("k = " in ax.get_title() for ax in axes)
    import matplotlib.pyplot as plt

    plt.close("all")
    data = tmp_path / "points.csv"
    np.savetxt(data, X, delimiter=",")
    plot, out = tmp_path / "select.png", tmp_path / "chosen.npz"
    assert main(["kmeans", str(data), "--select", "2..5", "--seed", "0", "--plot", str(plot), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "choice" in printed and plot.stat().st_size > 0
    assert kmix.load_model(out).n_clusters == result.choice["gap"]
    # Options that --select would not use are refused, naming them.
    for extra, named in ((["--init", "random"], "--init"), (["--algorithm", "lloyd"], "--algorithm")):
        assert main(["kmeans", str(data), "--select", "2..5", *extra]) == 2
        assert named in capsys.readouterr().err


@pytest.mark.parametrize("name", ["three_groups", "four_groups", "uniform", "ruspini"])
def test_the_gap_statistic_chooses_rs_k_on_clusgap_examples(name):
    import json
    from pathlib import Path

    table = json.loads((Path(__file__).resolve().parents[1] / "reference" / "cluster" / "gap.json").read_text())
    example = table["examples"][name]
    X = np.asarray(example["data"], dtype=np.float64)
    for reference, space in (("box", "original"), ("pca", "scaledPCA")):
        result = select_k(X, range(1, 9), "gap", n_init=5, random_state=0, gap_references=50,
                          gap_reference=reference, model_class=KMeansCore)
        assert result.choice["gap"] == example[space]["k"], (reference, result.summary())


def test_consecutive_k_may_start_from_the_previous_split():
    from kmix.models.select_k import _split_largest

    X = _blobs(6, n=600, seed=6)
    result = select_k(X, range(2, 10), ("ssd", "silhouette"), n_init=1, start="split", random_state=0,
                      model_class=KMeansCore)
    assert result.choice == {"ssd": 6, "silhouette": 6}
    # The start of k + 1: the k centres but the one of largest SSD, which becomes two
    # centres one standard deviation either side of it along its principal axis.
    previous = result.models[2]  # k = 4
    start = _split_largest(X, previous, None)
    assert start.shape == (5, 2)
    labels = previous.labels_
    ssd = [np.sum((X[labels == j] - previous.cluster_centers_[j]) ** 2) for j in range(4)]
    j = int(np.argmax(ssd))
    kept = np.delete(previous.cluster_centers_, j, axis=0)
    np.testing.assert_array_equal(start[:3], kept)
    np.testing.assert_allclose(start[3:].mean(axis=0), previous.cluster_centers_[j], atol=1e-9)
    with pytest.raises(ValueError, match="start must be 'k-means\\+\\+' or 'split'"):
        select_k(X, range(2, 4), start="grow", model_class=KMeansCore)
