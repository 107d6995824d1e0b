"""KMeans.partial_fit: MiniBatchKMeans's step over given batches, the first batch's
initialisation, the history of every step and the checks of later batches."""

import numpy as np
import pytest

import kmix
from kmix import KMeans, MiniBatchKMeans
from kmix.models.kmeans import KMeansCore


def _blobs(n=1200, k=4, d=3, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=8.0, size=(k, d))
    return means[rng.integers(k, size=n)] + rng.normal(size=(n, d))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_equals_minibatch_partial_fit_from_the_same_init(weighted, dtype):
    X = _blobs().astype(dtype)
    batches = np.array_split(X, 7)
    rng = np.random.default_rng(1)
    weights = [rng.uniform(0.5, 2.0, len(b)) if weighted else None for b in batches]
    init = X[[0, 300, 600, 900]].copy()
    ours = KMeans(4, init=init)
    reference = MiniBatchKMeans(4, init=init, reassignment_ratio=0.0, batch_size=len(batches[0]))
    for batch, weight in zip(batches, weights):
        ours.partial_fit(batch, sample_weight=weight)
        reference.partial_fit(batch, sample_weight=weight)
        np.testing.assert_array_equal(ours.cluster_centers_, reference.cluster_centers_)
        np.testing.assert_array_equal(ours.labels_, reference.labels_)
        assert ours.inertia_ == reference.inertia_
    assert ours.cluster_centers_.dtype == dtype
    assert ours.n_iter_ == 7
    np.testing.assert_array_equal(ours.history_.centers, reference.history_.centers)
    np.testing.assert_array_equal(ours.history_.ssd, reference.history_.ssd)
    assert ours.history_.centers.shape == (8, 4, 3) and ours.history_.n_iter == 7


def test_each_centre_is_the_running_mean_of_its_points():
    # Two batches, centres far apart: each centre ends at the mean of every point it got.
    first = np.array([[0.0, 0.0], [10.0, 10.0], [1.0, 0.0], [11.0, 10.0]])
    second = np.array([[2.0, 0.0], [12.0, 10.0], [12.0, 12.0]])
    model = KMeansCore(2, init=np.array([[0.0, 0.0], [10.0, 10.0]]))
    model.partial_fit(first).partial_fit(second)
    np.testing.assert_allclose(model.cluster_centers_, [[1.0, 0.0], [(10 + 11 + 12 + 12) / 4, 10.5]])
    assert model.history_.ssd[0] == pytest.approx(2.0)  # first batch to the initial centres


def test_first_batch_initialises_with_kmeans_init():
    X = _blobs(seed=2)
    model = KMeans(4, random_state=5).partial_fit(X[:400])
    np.testing.assert_array_equal(model.history_.centers[0],
                                  KMeans(4, random_state=5)._init_centroids(X[:400], None, "k-means++", 5, None))
    random = KMeans(4, init="random", n_init=3, random_state=0).partial_fit(X[:400])
    assert random.cluster_centers_.shape == (4, 3) and np.isfinite(random.inertia_)
    # fit, then partial_fit: starts again on the batch
    model.fit(X)
    model.partial_fit(X[:100])
    assert model.n_iter_ == 1 and model.history_.n_iter == 1


def test_record_history_false_and_auto_without_centres():
    X = _blobs()
    model = KMeans(4, init=X[:4], record_history=False).partial_fit(X).partial_fit(X)
    assert model.history_ is None and model.n_iter_ == 2
    wide = np.random.default_rng(0).normal(size=(60, 300))
    model = KMeans(50, init=wide[:50], record_history="auto").partial_fit(wide)
    assert "centers" not in model.history_ and model.history_.ssd.shape == (1,)


def test_n_features_change_raises():
    X = _blobs()
    model = KMeansCore(4, random_state=0).partial_fit(X[:200])
    centers = model.cluster_centers_.copy()
    with pytest.raises(ValueError, match="X has 2 features, but KMeansCore is expecting 3 features"):
        model.partial_fit(X[200:400, :2])
    np.testing.assert_array_equal(model.cluster_centers_, centers)
    assert model.n_iter_ == 1
    estimator = KMeans(4, random_state=0).partial_fit(X[:200])
    with pytest.raises(ValueError, match="expecting 3 features"):
        estimator.partial_fit(X[200:400, :2])


def test_first_batch_column_names_are_kept_and_checked():
    pd = pytest.importorskip("pandas")
    X = _blobs()
    model = KMeans(4, random_state=0).partial_fit(pd.DataFrame(X[:300], columns=["a", "b", "c"]))
    np.testing.assert_array_equal(model.feature_names_in_, ["a", "b", "c"])
    centers = model.cluster_centers_.copy()
    with pytest.raises(ValueError, match="feature names should match"):
        model.partial_fit(pd.DataFrame(X[300:600], columns=["a", "b", "d"]))
    np.testing.assert_array_equal(model.cluster_centers_, centers)  # refused before the step
    model.partial_fit(pd.DataFrame(X[300:600], columns=["a", "b", "c"]))
    assert model.n_iter_ == 2


def test_too_few_rows_in_first_batch():
    with pytest.raises(ValueError, match="n_samples=3 should be >= n_clusters=4"):
        KMeansCore(4).partial_fit(np.zeros((3, 2)))


def test_kmix_kmeans_has_partial_fit():
    assert callable(kmix.KMeans.partial_fit)
