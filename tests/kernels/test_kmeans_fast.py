"""The compiled k-means pass against the numpy reference kernels.

:func:`kmix.kernels.kmeans_passes.lloyd_statistics` must give the labels of
:func:`kmix.kernels.kmeans.assign` exactly and the statistics of :func:`block_statistics` up to the
rounding of the sums, on both of its paths (the compiled loop for few features,
BLAS products per chunk for more), in float32 and float64, and its statistics must
merge like the reference's.
"""

import numpy as np
import pytest

from kmix.kernels import kmeans as kk
from kmix.kernels import kmeans_passes as passes
from kmix.kernels import moments

# (n, d, k): the compiled loop (1 to 3 features; more, padded to multiples of four
# features and centres) and the BLAS path (d > FUSED_MAX_FEATURES), chunk counts
# from one (n < chunk rows) to several with a ragged last chunk.
SHAPES = [(1, 2, 1), (300, 2, 8), (2500, 3, 5), (900, 1, 3), (3100, 7, 12), (900, 5, 7),
          (2100, 16, 40), (1200, 30, 13), (1500, 64, 9), (700, 130, 33)]


def _problem(rng, n, d, k, dtype, weighted=True):
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d)
    X = (X - X.mean(axis=0)).astype(dtype)
    w = (rng.uniform(0.2, 3.0, size=n) if weighted else np.ones(n)).astype(dtype)
    centers = X[rng.choice(n, size=k, replace=False)] + rng.normal(scale=0.1, size=(k, d)).astype(dtype)
    previous = rng.integers(0, k, size=n).astype(np.int32)
    return X, w, centers, previous


def _reference(X, w, centers, previous=None):
    labels, min_d, prev_d = kk.assign(X, centers, kk.squared_norms(X), kk.squared_norms(centers), previous)
    return labels, min_d, kk.block_statistics(X, w, labels, min_d, len(centers), previous, prev_d)


def _assert_stats_close(fast, ref, rtol):
    scale = float(np.abs(ref.sums).max()) + 1.0
    np.testing.assert_allclose(fast.weight_sums, ref.weight_sums, rtol=1e-12)
    np.testing.assert_allclose(fast.sums, ref.sums, rtol=1e-12, atol=1e-12 * scale)
    assert fast.ssd == pytest.approx(ref.ssd, rel=rtol)
    if np.isnan(ref.ssd_previous):
        assert np.isnan(fast.ssd_previous)
    else:
        assert fast.ssd_previous == pytest.approx(ref.ssd_previous, rel=rtol)
    assert fast.n_changed == ref.n_changed


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_compiled_pass_matches_reference(rng, shape, dtype):
    X, w, centers, previous = _problem(rng, *shape, dtype)
    for prev in (None, previous):
        labels, min_d, stats = passes.lloyd_statistics(X, w, centers, kk.squared_norms(X), prev)
        ref_labels, ref_min_d, ref = _reference(X, w, centers, prev)
        assert labels.dtype == np.int32 and min_d.dtype == dtype
        np.testing.assert_array_equal(labels, ref_labels)
        tolerance = 1e-12 if dtype == np.float64 else 2e-6
        scale = float(np.max(kk.squared_norms(X))) + float(np.max(kk.squared_norms(centers)))
        np.testing.assert_allclose(min_d, ref_min_d, rtol=0, atol=8 * tolerance * scale)
        assert (min_d >= 0).all()
        _assert_stats_close(stats, ref, rtol=1e-12 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [2, 16])
@pytest.mark.parametrize("split", [1, 1024, 1500])
def test_compiled_statistics_of_two_blocks_merge(rng, d, dtype, split):
    X, w, centers, previous = _problem(rng, 2600, d, 6, dtype)
    norms = kk.squared_norms(X)
    _, _, whole = passes.lloyd_statistics(X, w, centers, norms, previous)
    _, _, head = passes.lloyd_statistics(X[:split], w[:split], centers, norms[:split], previous[:split])
    _, _, tail = passes.lloyd_statistics(X[split:], w[split:], centers, norms[split:], previous[split:])
    # BLAS may round a row's products differently in a differently cut chunk: in
    # float32 the SSDs then agree to float32 precision only.
    _assert_stats_close(kk.merge_statistics(head, tail), whole,
                        rtol=1e-12 if dtype == np.float64 else 1e-6)


@pytest.mark.parametrize("d", [3, 20])
def test_many_calls_per_pass_give_the_same_result(rng, monkeypatch, d):
    # A small block budget splits the pass into many calls into compiled code.
    X, w, centers, previous = _problem(rng, 9000, d, 7, np.float64)
    norms = kk.squared_norms(X)
    one = passes.lloyd_statistics(X, w, centers, norms, previous)
    monkeypatch.setattr(passes, "_BLOCK_BYTES", 1)
    many = passes.lloyd_statistics(X, w, centers, norms, previous)
    np.testing.assert_array_equal(one[0], many[0])
    np.testing.assert_array_equal(one[1], many[1])
    np.testing.assert_array_equal(one[2].sums, many[2].sums)  # same chunks, same order
    assert one[2].ssd == many[2].ssd


def test_results_do_not_depend_on_the_number_of_threads(rng):
    import numba
    X, w, centers, previous = _problem(rng, 20000, 2, 9, np.float64)
    norms = kk.squared_norms(X)
    results = []
    for count in sorted({1, 2, numba.config.NUMBA_NUM_THREADS}):
        results.append(passes.lloyd_statistics(X, w, centers, norms, previous, n_threads=count))
    for other in results[1:]:
        np.testing.assert_array_equal(results[0][0], other[0])
        np.testing.assert_array_equal(results[0][2].sums, other[2].sums)
        assert results[0][2].ssd == other[2].ssd


def test_zero_weights_and_integer_input(rng):
    X = rng.integers(-5, 5, size=(400, 3))
    w = rng.uniform(0, 2, size=400)
    w[::3] = 0.0
    centers = X[:4].astype(np.float64) + 0.25
    Xf = X.astype(np.float64)
    labels, _, stats = passes.lloyd_statistics(X, w, centers, kk.squared_norms(Xf))
    ref_labels, _, ref = _reference(Xf, w, centers)
    np.testing.assert_array_equal(labels, ref_labels)
    _assert_stats_close(stats, ref, rtol=1e-12)


@pytest.mark.parametrize("d", [2, 12])
def test_empty_cluster_gets_the_farthest_points(rng, d):
    X, w, _, _ = _problem(rng, 1200, d, 3, np.float64)
    w[:5] = 0.0  # zero-weight rows are never chosen
    X[:5] *= 100.0
    centers = np.vstack([X[5:8], np.full((2, d), 1e6)])  # two centres nobody is near
    labels, min_d, stats = passes.lloyd_statistics(X, w, centers, kk.squared_norms(X))
    _, ref_min_d, ref = _reference(X, w, centers)
    assert (stats.weight_sums[3:] == 0).all()
    order = np.argsort(-np.where(w > 0, ref_min_d, -1.0), kind="stable")[: len(centers)]
    np.testing.assert_allclose(stats.farthest_distances, ref_min_d[order], rtol=1e-12)
    np.testing.assert_array_equal(stats.farthest_points, X[order])
    new, empty = kk.update_centers(stats, centers)
    ref_new, ref_empty = kk.update_centers(ref, centers)
    np.testing.assert_array_equal(empty, ref_empty)
    np.testing.assert_allclose(new, ref_new, rtol=1e-12)


def test_farthest_rows_breaks_ties_by_row_order():
    distances = np.array([1.0, 5.0, 3.0, 5.0, 3.0, 3.0, 0.5])
    weights = np.array([1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(kk.farthest_rows(distances, weights, 3), [1, 2, 4])
    np.testing.assert_array_equal(kk.farthest_rows(distances, weights, 10), [1, 2, 4, 5, 0, 6])
    assert kk.farthest_rows(distances, np.zeros(7), 3).size == 0


def test_no_empty_cluster_means_no_farthest_rows(rng):
    X, w, centers, _ = _problem(rng, 500, 2, 4, np.float64)
    _, _, stats = passes.lloyd_statistics(X, w, centers, kk.squared_norms(X))
    assert (stats.weight_sums > 0).all()
    assert stats.farthest_distances.shape == (0,) and stats.farthest_points.shape == (0, 2)


def test_empty_input():
    X = np.empty((0, 3))
    labels, min_d, stats = passes.lloyd_statistics(X, np.empty(0), np.ones((2, 3)), np.empty(0))
    assert labels.shape == (0,) and min_d.shape == (0,)
    assert stats.ssd == 0.0 and (stats.weight_sums == 0).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [2, 9, 40])
def test_unit_weight_and_no_distances_change_nothing_else(rng, d, dtype):
    X, _, centers, previous = _problem(rng, 5000, d, 11, dtype)
    ones = np.ones(len(X), dtype=dtype)
    norms = kk.squared_norms(X)
    labels, min_d, stats = passes.lloyd_statistics(X, ones, centers, norms, previous)
    fast_labels, none, fast = passes.lloyd_statistics(X, ones, centers, norms, previous,
                                                  unit_weight=True, keep_distances=False)
    assert none is None
    np.testing.assert_array_equal(fast_labels, labels)
    np.testing.assert_array_equal(fast.weight_sums, stats.weight_sums)
    np.testing.assert_allclose(fast.sums, stats.sums, rtol=1e-12, atol=1e-9)
    assert fast.ssd == pytest.approx(stats.ssd, rel=1e-12)
    assert fast.ssd_previous == pytest.approx(stats.ssd_previous, rel=1e-12)
    assert fast.n_changed == stats.n_changed
    assert float(np.dot(min_d.astype(np.float64), ones)) == pytest.approx(stats.ssd, rel=1e-6)


@pytest.mark.parametrize("d", [2, 12])
def test_empty_cluster_without_kept_distances_still_finds_the_farthest(rng, d):
    X, w, _, _ = _problem(rng, 1500, d, 3, np.float64)
    centers = np.vstack([X[:3], np.full((1, d), 1e6)])
    _, _, kept = passes.lloyd_statistics(X, w, centers, kk.squared_norms(X))
    _, none, dropped = passes.lloyd_statistics(X, w, centers, kk.squared_norms(X), keep_distances=False)
    assert none is None and dropped.weight_sums[3] == 0
    np.testing.assert_array_equal(dropped.farthest_points, kept.farthest_points)
    np.testing.assert_array_equal(dropped.farthest_distances, kept.farthest_distances)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 1), (5000, 2), (3000, 17)])
def test_centered_matches_numpy(rng, shape, dtype):
    X = (rng.normal(size=shape) * 3.0 + rng.normal(scale=50.0, size=shape[1])).astype(dtype)
    Xc, offset, norms, mean_variance = moments.centered(X)[:4]
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    scale = float(np.abs(X).max())
    assert Xc.dtype == X.dtype and offset.dtype == X.dtype and norms.dtype == X.dtype
    np.testing.assert_allclose(offset, X.astype(np.float64).mean(axis=0), rtol=0, atol=tolerance * scale)
    np.testing.assert_array_equal(Xc, X - offset)
    np.testing.assert_allclose(norms, kk.squared_norms(Xc), rtol=4 * tolerance)
    assert mean_variance == pytest.approx(float(np.mean(np.var(X.astype(np.float64), axis=0))),
                                          rel=1e-10 if dtype == np.float64 else 1e-4, abs=1e-12)
