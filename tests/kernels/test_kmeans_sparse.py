"""The sparse k-means passes against their numpy/scipy reference twins.

Every compiled pass of :mod:`kmix.kernels.kmeans_sparse` is held to its reference
(labels exactly, numbers to rounding), to the thread count (bit for bit), to the
merge of two row halves, and the bounded pass to the plain one (bit for bit over
whole Lloyd runs). The dense block kernels dispatch to these passes when a block's
rows are sparse.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from kmix.backends.blocks import Block
from kmix.kernels import kmeans as kk
from kmix.kernels import kmeans_bounds as bounds
from kmix.kernels import kmeans_passes as passes
from kmix.kernels import kmeans_sparse as ks
from kmix.kernels.seeding import kmeans_plusplus


def sparse_blobs(rng, n, d, k, dtype=np.float64, density=0.08, empty_rows=0, empty_columns=0):
    """Rows of k groups, each group's values mostly in its own columns, with a few
    rows and columns left without a stored value."""
    groups = rng.integers(0, k, size=n)
    own = rng.permutation(d)[: (d // k) * k].reshape(k, -1)
    dense = np.zeros((n, d))
    for i in range(n):
        columns = own[groups[i]]
        chosen = columns[rng.random(columns.shape[0]) < 0.5]
        dense[i, chosen] = rng.uniform(0.5, 2.0, size=chosen.shape[0])
        noise = rng.random(d) < density / 4
        dense[i, noise] += rng.uniform(0.0, 1.0, size=int(noise.sum()))
    if empty_rows:
        dense[rng.choice(n, empty_rows, replace=False)] = 0.0
    if empty_columns:
        dense[:, rng.choice(d, empty_columns, replace=False)] = 0.0
    return sp.csr_matrix(dense.astype(dtype)), groups


@pytest.fixture(scope="module")
def data64():
    rng = np.random.default_rng(7)
    X, _ = sparse_blobs(rng, 2600, 60, 6, empty_rows=40, empty_columns=5)
    w = rng.uniform(0.2, 3.0, size=X.shape[0])
    return X, w


def _centers(X, k, seed=0):
    rng = np.random.default_rng(seed)
    return X[rng.choice(X.shape[0], k, replace=False)].toarray() + 0.05


def test_squared_norms_and_column_summary_match_the_reference(data64):
    X, _ = data64
    np.testing.assert_allclose(ks.squared_norms(X, n_threads=2), ks.squared_norms_reference(X), rtol=1e-14)
    got, expected = ks.column_summary(X), ks.column_summary_reference(X)
    for name in ("sums", "squares", "low", "high"):
        np.testing.assert_allclose(getattr(got, name), getattr(expected, name), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(got.counts, expected.counts)
    assert got.first_nonfinite == -1 and got.n_nonfinite == 0
    # Columns without a stored value have range [0, 0]; the others include the zeros.
    dense = X.toarray()
    np.testing.assert_array_equal(got.low, dense.min(axis=0))
    np.testing.assert_array_equal(got.high, dense.max(axis=0))
    assert got.mean_variance(X.shape[0]) == pytest.approx(float(np.mean(dense.var(axis=0))), rel=1e-10)


def test_column_summary_finds_the_first_nonfinite_row():
    X = sp.csr_matrix(np.array([[0.0, 1.0], [0.0, 0.0], [np.inf, 2.0], [np.nan, 0.0]]))
    summary = ks.column_summary(X)
    assert (summary.first_nonfinite, summary.n_nonfinite) == (2, 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_lloyd_statistics_match_the_reference(data64, dtype, weighted):
    X, w = data64
    X = X.astype(dtype)
    w = (w if weighted else np.ones(X.shape[0])).astype(dtype)
    centers = _centers(X, 6).astype(dtype)
    x_norms = ks.squared_norms(X)
    previous = np.random.default_rng(1).integers(0, 6, size=X.shape[0]).astype(np.int32)
    labels, distances, stats = ks.lloyd_statistics(X, w, centers, x_norms, previous,
                                                   unit_weight=not weighted)
    ref_labels, ref_distances, ref_previous = ks.assign_reference(X, centers, x_norms, previous)
    np.testing.assert_array_equal(labels, ref_labels)
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(distances, ref_distances, rtol=rtol, atol=rtol)
    reference = ks.block_statistics_reference(X, w, ref_labels, ref_distances, 6, previous, ref_previous)
    np.testing.assert_array_equal(stats.weight_sums, reference.weight_sums)
    np.testing.assert_allclose(stats.sums, reference.sums, rtol=1e-12, atol=1e-12)
    assert stats.ssd == pytest.approx(reference.ssd, rel=rtol)
    assert stats.ssd_previous == pytest.approx(reference.ssd_previous, rel=rtol)
    assert stats.n_changed == reference.n_changed
    assert stats.farthest_points.shape == (0, X.shape[1])  # no cluster is empty
    # Without previous labels: every row counts as changed, no previous SSD.
    _, _, first = ks.lloyd_statistics(X, w, centers, x_norms)
    assert first.n_changed == X.shape[0] and np.isnan(first.ssd_previous)


def test_empty_rows_go_to_the_centre_of_least_norm(data64):
    X, w = data64
    centers = _centers(X, 6)
    labels, distances, _ = ks.lloyd_statistics(X, w, centers, ks.squared_norms(X))
    empty = np.flatnonzero(np.diff(X.indptr) == 0)
    assert empty.size >= 40
    norms = np.einsum("ij,ij->i", centers, centers)
    np.testing.assert_array_equal(labels[empty], np.argmin(norms))
    np.testing.assert_allclose(distances[empty], norms.min(), rtol=1e-14)


def test_an_empty_cluster_gets_the_farthest_rows(data64):
    X, w = data64
    centers = _centers(X, 6)
    centers[4] = 100.0  # nearest to no row
    x_norms = ks.squared_norms(X)
    labels, distances, stats = ks.lloyd_statistics(X, w, centers, x_norms)
    assert stats.weight_sums[4] == 0
    reference = ks.block_statistics_reference(X, w, labels, distances, 6)
    np.testing.assert_array_equal(stats.farthest_distances, reference.farthest_distances)
    np.testing.assert_array_equal(stats.farthest_points, reference.farthest_points)
    new_centers, empty = kk.update_centers(stats, centers)
    assert empty[4] and np.any(np.all(X.toarray() == new_centers[4], axis=1))


def test_results_do_not_depend_on_the_thread_count(data64):
    X, w = data64
    centers = _centers(X, 6)
    x_norms = ks.squared_norms(X)
    previous = np.random.default_rng(2).integers(0, 6, size=X.shape[0]).astype(np.int32)
    one = ks.lloyd_statistics(X, w, centers, x_norms, previous, n_threads=1)
    two = ks.lloyd_statistics(X, w, centers, x_norms, previous, n_threads=2)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    for a, b in zip(one[2], two[2]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ks.squared_distances(X, centers, n_threads=1),
                                  ks.squared_distances(X, centers, n_threads=2))
    seeds = [kmeans_plusplus(X, 6, np.random.default_rng(3), w, x_norms, n_threads=t) for t in (1, 2)]
    np.testing.assert_array_equal(*seeds)


def test_merged_halves_equal_the_whole(data64):
    X, w = data64
    centers = _centers(X, 6)
    x_norms = ks.squared_norms(X)
    previous = np.random.default_rng(4).integers(0, 6, size=X.shape[0]).astype(np.int32)
    whole = ks.lloyd_statistics(X, w, centers, x_norms, previous)[2]
    m = 1234
    halves = [ks.lloyd_statistics(X[rows], w[rows], centers, x_norms[rows], previous[rows])[2]
              for rows in (slice(0, m), slice(m, None))]
    merged = kk.merge_statistics(*halves)
    np.testing.assert_allclose(merged.weight_sums, whole.weight_sums, rtol=1e-13)
    np.testing.assert_allclose(merged.sums, whole.sums, rtol=1e-12, atol=1e-12)
    assert merged.ssd == pytest.approx(whole.ssd, rel=1e-12)
    assert merged.ssd_previous == pytest.approx(whole.ssd_previous, rel=1e-12)
    assert merged.n_changed == whole.n_changed


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_bounded_pass_is_the_plain_pass_bit_for_bit(dtype, weighted):
    rng = np.random.default_rng(11)
    X, _ = sparse_blobs(rng, 3000, 80, 8, dtype=dtype, empty_rows=10)
    w = (rng.uniform(0.2, 3.0, size=X.shape[0]) if weighted else np.ones(X.shape[0])).astype(dtype)
    centers = _centers(X, 8, seed=5).astype(dtype)
    x_norms = ks.squared_norms(X)
    lower = np.zeros(X.shape[0])
    labels, stats, rescanned = ks.bounded_statistics(X, w, centers, x_norms, None, lower,
                                                     unit_weight=not weighted)
    plain_labels, _, plain = ks.lloyd_statistics(X, w, centers, x_norms, unit_weight=not weighted)
    scanned = [rescanned]
    for _ in range(12):
        np.testing.assert_array_equal(labels, plain_labels)
        for a, b in zip(stats, plain):
            np.testing.assert_array_equal(a, b)
        new_centers, _ = kk.update_centers(plain, centers)
        drops = bounds.bound_drops(centers, new_centers)
        centers = new_centers
        labels, stats, rescanned = ks.bounded_statistics(X, w, centers, x_norms, labels, lower, drops,
                                                         unit_weight=not weighted)
        plain_labels, _, plain = ks.lloyd_statistics(X, w, centers, x_norms, plain_labels,
                                                     unit_weight=not weighted)
        scanned.append(rescanned)
    np.testing.assert_array_equal(labels, plain_labels)
    assert scanned[0] == X.shape[0] and min(scanned) < X.shape[0] // 4  # the bounds do skip rows


def test_nearest_centers_are_the_passes_labels_and_distances(data64):
    X, w = data64
    centers = _centers(X, 6)
    x_norms = ks.squared_norms(X)
    labels, distances = ks.nearest_centers(X, centers, x_norms, n_threads=2)
    expected = ks.lloyd_statistics(X, w, centers, x_norms)
    np.testing.assert_array_equal(labels, expected[0])
    np.testing.assert_array_equal(distances, expected[1])


def test_squared_distances_match_the_reference(data64):
    X, _ = data64
    centers = _centers(X, 6)
    np.testing.assert_allclose(ks.squared_distances(X, centers), ks.squared_distances_reference(X, centers),
                               rtol=1e-10, atol=1e-12)


def test_seeding_passes_match_the_reference(data64):
    X, w = data64
    x_norms = ks.squared_norms(X)
    weight = w.astype(np.float64)
    closest = np.full(X.shape[0], np.inf)
    center = X[[17]].toarray()[0]
    ks.seeding_update(X, x_norms, center, x_norms[17], closest)
    expected = ks.seeding_update_reference(X, x_norms, center, np.full(X.shape[0], np.inf))
    np.testing.assert_allclose(closest, expected, rtol=1e-10, atol=1e-12)
    assert closest[17] == pytest.approx(0.0, abs=1e-12)
    candidates = X[[3, 500, 2000]].toarray()
    got = ks.seeding_potentials(X, x_norms, weight, closest, candidates, x_norms[[3, 500, 2000]])
    np.testing.assert_allclose(got, ks.seeding_potentials_reference(X, x_norms, weight, closest, candidates),
                               rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kmeans_plusplus_draws_the_rows_it_draws_on_the_dense_matrix(data64, dtype):
    X, w = data64
    X = X.astype(dtype)
    sparse_seeds = kmeans_plusplus(X, 6, np.random.default_rng(9), w)
    dense_seeds = kmeans_plusplus(X.toarray(), 6, np.random.default_rng(9), w)
    np.testing.assert_array_equal(sparse_seeds, dense_seeds)
    assert len(set(sparse_seeds.tolist())) == 6


def test_block_kernels_dispatch_on_sparse_rows(data64):
    X, w = data64
    centers = _centers(X, 6)
    dense = X.toarray()
    sparse_block = Block(X, w, n_threads=2)
    dense_block = Block(dense, w)
    offset = centers.mean(axis=0)
    np.testing.assert_array_equal(passes.predict_block(sparse_block, offset, centers - offset),
                                  passes.predict_block(dense_block, offset, centers - offset))
    np.testing.assert_allclose(passes.min_distances_block(sparse_block, offset, centers - offset),
                               passes.min_distances_block(dense_block, offset, centers - offset),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(passes.transform_block(sparse_block, offset, centers - offset),
                               passes.transform_block(dense_block, offset, centers - offset),
                               rtol=1e-9, atol=1e-9)
    (labels,), stats = passes.lloyd_block(Block(X, w, x_norms=ks.squared_norms(X)), centers)
    (dense_labels,), dense_stats = passes.lloyd_block(Block(dense, w), centers)
    np.testing.assert_array_equal(labels, dense_labels)
    np.testing.assert_allclose(stats.sums, dense_stats.sums, rtol=1e-12, atol=1e-12)
    empty = Block(X[:0], w[:0])
    assert passes.lloyd_block(empty, centers)[0][0].shape == (0,)
    assert passes.predict_block(empty, offset, centers - offset).shape == (0,)
