"""The in-memory backend: its passes are the kernels' passes, bit for bit, whatever the threads."""

import numpy as np
import pytest

from kmix.backends import map_rows, weighted_sum, wrap
from kmix.backends.numpy import InMemoryData
from kmix.kernels import kmeans as kk
from kmix.kernels import kmeans_passes as passes
from kmix.kernels.moments import column_moments, merge_column_moments


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_backend_pass_is_the_compiled_pass(rng):
    X = rng.normal(size=(3000, 24)).astype(np.float32)
    w = rng.uniform(0.2, 3.0, size=3000).astype(np.float32)
    centers = X[:10] + np.float32(0.1)
    previous = rng.integers(0, 10, size=3000).astype(np.int32)
    data = InMemoryData(X, w)
    (labels,), stats = data.reduce(passes.lloyd_block, centers, merge=kk.merge_statistics,
                                   state=(previous,), keep_state=True)
    direct = passes.lloyd_statistics(X, w, centers, kk.squared_norms(X), previous,
                                     keep_distances=False, n_threads=data.n_threads)
    np.testing.assert_array_equal(labels, direct[0])
    np.testing.assert_array_equal(stats.sums, direct[2].sums)
    assert stats.ssd == direct[2].ssd and stats.ssd_previous == direct[2].ssd_previous


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_blocks_on_threads_merge_as_one_serial_loop(rng, threads):
    X = rng.normal(size=(5000, 3))
    w = rng.uniform(0.0, 2.0, size=5000)

    def kernel(block):
        return column_moments(block.X * block.sample_weight[:, None])

    serial = None
    for start in range(0, 5000, 700):
        part = column_moments(X[start:start + 700] * w[start:start + 700, None])
        serial = part if serial is None else merge_column_moments(serial, part)
    got = InMemoryData(X, w, threads=threads).reduce(kernel, merge=merge_column_moments, block_rows=700)
    assert got.n == serial.n
    np.testing.assert_array_equal(got.sums, serial.sums)
    np.testing.assert_array_equal(got.m2, serial.m2)


def test_column_moments_merge_and_match_the_compiled_centring(rng):
    X = rng.normal(size=(1000, 5)) * 3.0 + 100.0
    merged = merge_column_moments(column_moments(X[:313]), column_moments(X[313:]))
    whole = column_moments(X)
    np.testing.assert_allclose(merged.sums, whole.sums, rtol=1e-14)
    np.testing.assert_allclose(merged.m2, whole.m2, rtol=1e-12)
    np.testing.assert_allclose(whole.mean, X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(whole.variance, X.var(axis=0), rtol=1e-12)
    data = wrap(X, None, centre=True)
    np.testing.assert_allclose(data.offset, whole.mean, rtol=1e-14)
    assert data.mean_variance == pytest.approx(float(np.mean(whole.variance)), rel=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_column_moments_equal_numpys(rng, dtype):
    pytest.importorskip("numba")
    X = (rng.normal(size=(2000, 7)) * 3.0 + 100.0).astype(dtype)
    numpy_moments, compiled = column_moments(X), column_moments(X, compiled=True)
    assert compiled.n == numpy_moments.n == 2000
    np.testing.assert_array_equal(compiled.low, numpy_moments.low)
    np.testing.assert_array_equal(compiled.high, numpy_moments.high)
    np.testing.assert_allclose(compiled.sums, numpy_moments.sums, rtol=1e-15)
    np.testing.assert_allclose(compiled.m2, numpy_moments.m2, rtol=1e-13)
    # a non-contiguous block and a block without rows
    strided = column_moments(X[::3, 1:6], compiled=True)
    np.testing.assert_allclose(strided.m2, column_moments(X[::3, 1:6]).m2, rtol=1e-13)
    empty = column_moments(X[:0], compiled=True)
    assert empty.n == 0 and np.all(empty.low == np.inf) and np.all(empty.high == -np.inf)
    # NaN or inf anywhere leaves its column's sum not finite (what the checks look for)
    X[5, 2], X[7, 4] = np.nan, np.inf
    bad = column_moments(X, compiled=True)
    assert not np.isfinite(bad.sums[2]) and not np.isfinite(bad.sums[4])
    assert np.isfinite(np.delete(bad.sums, [2, 4])).all()


def test_centred_twin_is_made_once_and_keeps_the_rows(rng):
    X = rng.normal(size=(200, 3)) + 5.0
    data = wrap(X, None)
    np.testing.assert_array_equal(data.offset, 0.0)
    centred = data.centred()
    assert centred is data.centred() and centred.centred() is centred
    np.testing.assert_allclose(centred.X + centred.offset, X, rtol=1e-14)


def test_map_rows_and_weighted_sum_in_memory(rng):
    X = rng.normal(size=(500, 4))
    centers = X[:6].copy()
    offset = centers.mean(axis=0)
    labels = map_rows(X, passes.predict_block, offset, centers - offset, dtype=np.int32)
    np.testing.assert_array_equal(labels, kk.nearest_centers(X - offset, centers - offset)[0])
    distances = map_rows(X, passes.min_distances_block, offset, centers - offset, dtype=np.float64)
    w = rng.uniform(size=500)
    assert weighted_sum(distances, w) == pytest.approx(float(np.dot(w, distances)), rel=1e-14)
    assert weighted_sum(distances, w, mean=True) == pytest.approx(float(np.dot(w, distances) / w.sum()))


def test_state_needs_the_whole_array(rng):
    data = InMemoryData(rng.normal(size=(10, 2)), np.ones(10))
    with pytest.raises(ValueError, match="per-row state needs block_rows=None"):
        data.reduce(lambda block: 0, merge=lambda a, b: a, block_rows=4, keep_state=True)
