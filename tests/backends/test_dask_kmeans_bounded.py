"""KMeans(algorithm="hamerly") on dask arrays: the bounds kept on the workers.

A module of its own, so its own cluster: the bounded kernels these tests compile
in the workers stay out of the processes of the out-of-core test.
"""

import os
import signal

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from kmix import KMeans  # noqa: E402

from .conftest import PATIENCE  # noqa: E402
from .test_dask_kmeans import _assert_same_fit, _blobs  # noqa: E402


@pytest.mark.parametrize(
    "chunks",
    [(400, 5), ((1000, 0, 1, 1599, 400), (5,))],
    ids=["even", "uneven-with-empty"],
)
def test_bounds_on_dask_give_the_lloyd_fit(client, chunks):
    X, initial = _blobs(n=3000, d=5, k=7)
    expected = KMeans(7, init=initial, algorithm="lloyd").fit(X)
    model = KMeans(7, init=initial, client=client, algorithm="hamerly").fit(da.from_array(X, chunks=chunks))
    _assert_same_fit(model, expected)
    # Lloyd's pass on the same chunks: the same sums in the same order, so the same centres.
    lloyd = KMeans(7, init=initial, client=client, algorithm="lloyd").fit(da.from_array(X, chunks=chunks))
    np.testing.assert_array_equal(model.cluster_centers_, lloyd.cluster_centers_)
    np.testing.assert_array_equal(np.asarray(model.labels_), np.asarray(lloyd.labels_))


def test_bounded_passes_on_dask_equal_plain_passes_and_keep_bounds_per_chunk(client):
    from kmix.backends.dask import DaskData
    from kmix.kernels import kmeans as kk
    from kmix.models.lloyd import LloydPasses

    X, initial = _blobs(n=4000, d=8, k=12, seed=5)
    Xd = da.from_array(X, chunks=700)
    data = DaskData(Xd, None, client)
    bounded, plain = LloydPasses(data, bounds=True), LloydPasses(data, bounds=False)
    centers = initial - data.offset
    labels, stats = bounded(centers)
    plain_labels, plain_stats = plain(centers)
    for _ in range(6):
        # Equal statistics (asserted below): both continue from the same centres.
        centers, _ = kk.update_centers(stats, centers)
        labels, stats = bounded(centers, labels)
        plain_labels, plain_stats = plain(centers, plain_labels)
        np.testing.assert_array_equal(stats.sums, plain_stats.sums)
        np.testing.assert_array_equal(stats.weight_sums, plain_stats.weight_sums)
        assert stats.n_changed == plain_stats.n_changed
        np.testing.assert_array_equal(client.compute(data.rows(labels)).result(),
                                      client.compute(data.rows(plain_labels)).result())
    # Each chunk keeps its labels and its rows' bounds on the cluster.
    # (the state: one future per worker's group of chunks, each the list of its
    # chunks' outputs)
    (chunk_labels, lower), _ = labels.futures[0].result()[0]
    assert chunk_labels.shape == lower.shape == (700,)
    assert np.mean(lower > 0) > 0.5
    # Labels that are not the bounds' own: a plain pass, the same statistics.
    again_labels, again = bounded(centers, plain_labels)
    np.testing.assert_array_equal(again.sums, plain(centers, plain_labels)[1].sums)
    np.testing.assert_array_equal(client.compute(data.rows(again_labels)).result(),
                                  client.compute(data.rows(plain_labels)).result())


def test_bounds_on_dask_labels_of_an_earlier_run_still_read_as_labels(client):
    # With several starts the best run is not always the last: its labels, kept on
    # the cluster with their bounds, must still read as labels after later runs.
    from kmix.backends.dask import DaskData
    from kmix.models.lloyd import LloydPasses, run_lloyd

    X, initial = _blobs(n=3000, d=5, k=7, seed=11)
    Xd = da.from_array(X, chunks=600)
    data = DaskData(Xd, None, client)
    passes = LloydPasses(data, bounds=True)
    first = run_lloyd(passes, initial - data.offset, max_iter=20, tol=0.0)
    run_lloyd(passes, X[-7:] - data.offset, max_iter=20, tol=0.0)  # a later run
    expected = KMeans(7, init=initial, max_iter=20, tol=0.0).fit(X).labels_
    np.testing.assert_array_equal(client.compute(data.rows(first.labels)).result(), expected)
    kept = data.final_labels(first.centers, first.labels)
    np.testing.assert_array_equal(client.compute(kept).result(), expected)


def test_weighted_fit_with_bounds_on_dask(client):
    X, initial = _blobs(n=2000, seed=5)
    weight = np.random.default_rng(0).integers(1, 4, size=len(X)).astype(float)
    expected = KMeans(7, init=initial).fit(X, sample_weight=weight)
    model = KMeans(7, init=initial, client=client, algorithm="hamerly").fit(
        da.from_array(X, chunks=300), sample_weight=da.from_array(weight, chunks=700))
    _assert_same_fit(model, expected)


def test_a_worker_killed_mid_fit_with_bounds_does_not_change_the_result(client):
    X, initial = _blobs(n=4000, seed=8)
    expected = KMeans(7, init=initial, tol=0).fit(X)
    killed = []

    def kill_a_worker(iteration, state):
        if iteration == 2:
            # A worker slow to answer on a loaded machine may be briefly unlisted.
            client.wait_for_workers(1, timeout=PATIENCE)
            address = sorted(client.scheduler_info(n_workers=-1)["workers"])[0]
            pid = client.run(os.getpid, workers=[address])[address]
            os.kill(pid, signal.SIGKILL)  # the labels and bounds it holds are lost
            killed.append(address)

    model = KMeans(7, init=initial, tol=0, callback=kill_a_worker, client=client, algorithm="hamerly").fit(
        da.from_array(X, chunks=500)
    )
    assert killed
    client.wait_for_workers(2, timeout=PATIENCE)
    _assert_same_fit(model, expected)
