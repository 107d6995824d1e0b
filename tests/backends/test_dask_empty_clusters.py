"""Empty clusters on dask arrays: the chunks' farthest points, merged, re-seed them as
the in-memory fit and scikit-learn do (the point taken leaves the cluster it was
counted in).

A module of its own, so its own cluster (see conftest.py).
"""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from kmix import KMeans  # noqa: E402

from ..kernels.test_empty_clusters import _heavy_tailed_case  # noqa: E402
from .test_dask_kmeans import _assert_same_fit  # noqa: E402


def _data(n=2400, d=4, k=6, seed=8):
    """Blobs, weights and a start with one centre nearest to no point."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6.0, size=(k - 1, d))
    X = centres[rng.integers(k - 1, size=n)] + rng.normal(size=(n, d))
    weight = rng.uniform(0.2, 3.0, size=n)
    initial = np.concatenate([centres, np.full((1, d), 80.0)])
    return X, weight, initial


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
@pytest.mark.parametrize("seed", [455, 1065])
def test_relocations_on_dask_equal_the_in_memory_fit(client, algorithm, seed):
    # A few points: a cluster empties after the first update, and the point that
    # re-seeds it moves its old cluster's mean by much.
    X, weight, initial = _heavy_tailed_case(seed)
    expected = KMeans(len(initial), init=initial, n_init=1, algorithm=algorithm).fit(X, sample_weight=weight)
    n = len(X)
    chunks = (7, 0, 1, n - 8)  # uneven, with a chunk of zero rows and one of one row
    model = KMeans(len(initial), init=initial, n_init=1, algorithm=algorithm, client=client).fit(
        da.from_array(X, chunks=(chunks, X.shape[1])), sample_weight=da.from_array(weight, chunks=(chunks,)))
    _assert_same_fit(model, expected)


def test_relocations_on_dask_follow_scikit_learn(client):
    SKKMeans = pytest.importorskip("sklearn.cluster").KMeans
    X, weight, initial = _data()
    theirs = SKKMeans(len(initial), init=initial, n_init=1, algorithm="lloyd", tol=0.0).fit(
        X, sample_weight=weight)
    model = KMeans(len(initial), init=initial, n_init=1, tol=0.0, client=client).fit(
        da.from_array(X, chunks=500), sample_weight=weight)
    np.testing.assert_array_equal(np.asarray(model.labels_), theirs.labels_)
    np.testing.assert_allclose(model.cluster_centers_, theirs.cluster_centers_, rtol=1e-9, atol=1e-9)
    assert model.inertia_ == pytest.approx(theirs.inertia_, rel=1e-9)
    assert model.n_iter_ == theirs.n_iter_
