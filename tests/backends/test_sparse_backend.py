"""The sparse backend: k-means on a scipy.sparse X through the data protocol.

From the same initial centres, ``fit_kmeans`` on a CSR matrix must give the labels,
iterations and (to rounding) the centres and inertia of the dense path on the same
matrix densified and of scikit-learn's sparse Lloyd; with or without weights and
Hamerly's bounds, in float64 and float32; bit for bit whatever the thread count.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from kmix import backends
from kmix.backends.sparse import SparseData, as_csr
from kmix.exceptions import DataError
from kmix.kernels import kmeans as kk
from kmix.kernels import kmeans_passes as passes
from kmix.models.lloyd import fit_kmeans, initial_centers

K = 5


def _matrix(seed=0, n=1500, d=50, dtype=np.float64):
    """Overlapping sparse groups (Lloyd needs several iterations), a few empty rows
    and columns."""
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, K, size=n)
    weights = rng.uniform(0.2, 1.0, size=(K, d)) * (rng.random((K, d)) < 0.4)
    dense = (rng.random((n, d)) < 0.25) * (weights[groups] + rng.uniform(0.0, 0.8, size=(n, d)))
    dense[:, :3] = 0.0
    dense[rng.choice(n, 20, replace=False)] = 0.0
    return sp.csr_matrix(dense.astype(dtype)), rng.uniform(0.2, 3.0, size=n)


@pytest.fixture(scope="module")
def matrix():
    return _matrix()


def _start(X, seed=1):
    rng = np.random.default_rng(seed)
    return X[rng.choice(X.shape[0], K, replace=False)].toarray()


def _fit(X, weight, start, bounds, threads=None, max_iter=100, init=None, seed=0):
    data = backends.wrap(X, weight, centre=True) if threads is None else SparseData(
        X, np.ones(X.shape[0]) if weight is None else weight, threads=threads)
    with data:
        init = start - data.offset if init is None else init
        result = fit_kmeans(data, K, np.random.default_rng(seed), init=init, bounds=bounds,
                            max_iter=max_iter, tol=0.0)
        return result, data.final_labels(result.centers, result.labels), data.offset


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("bounds", [False, True])
def test_same_fit_as_the_dense_path_and_scikit_learn(matrix, dtype, weighted, bounds):
    X, w = matrix
    X = X.astype(dtype)
    weight = w.astype(dtype) if weighted else None
    start = _start(X).astype(dtype)
    ours, labels, offset = _fit(X, weight, start, bounds)
    assert offset.dtype == dtype and not offset.any()
    dense, dense_labels, dense_offset = _fit(X.toarray(), weight, start, bounds)
    np.testing.assert_array_equal(labels, dense_labels)
    assert ours.n_iter == dense.n_iter and ours.converged
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(ours.centers, dense.centers + dense_offset, rtol=rtol, atol=rtol)
    assert ours.inertia == pytest.approx(dense.inertia, rel=rtol)
    SKKMeans = pytest.importorskip("sklearn.cluster").KMeans
    theirs = SKKMeans(K, init=start, n_init=1, algorithm="lloyd", max_iter=100, tol=0.0).fit(
        X, sample_weight=weight)
    np.testing.assert_array_equal(labels, theirs.labels_)
    np.testing.assert_allclose(ours.centers, theirs.cluster_centers_, rtol=rtol, atol=rtol)
    assert ours.inertia == pytest.approx(theirs.inertia_, rel=rtol)
    assert abs(ours.n_iter - theirs.n_iter_) <= 1  # the libraries count the last pass differently


def test_bounds_give_lloyds_run_exactly(matrix):
    X, w = matrix
    start = _start(X, seed=3)
    plain, plain_labels, _ = _fit(X, w, start, bounds=False)
    bounded, bounded_labels, _ = _fit(X, w, start, bounds=True)
    np.testing.assert_array_equal(plain_labels, bounded_labels)
    np.testing.assert_array_equal(plain.centers, bounded.centers)
    assert plain.n_iter == bounded.n_iter and plain.inertia == bounded.inertia
    for name in ("centers", "ssd", "n_changed"):
        np.testing.assert_array_equal(plain.history[name], bounded.history[name])


@pytest.mark.parametrize("bounds", [False, True])
def test_bit_for_bit_whatever_the_threads(matrix, bounds):
    X, w = matrix
    start = _start(X)
    one, one_labels, _ = _fit(X, w, start, bounds, threads=1)
    two, two_labels, _ = _fit(X, w, start, bounds, threads=2)
    np.testing.assert_array_equal(one_labels, two_labels)
    np.testing.assert_array_equal(one.centers, two.centers)
    assert one.inertia == two.inertia and one.n_iter == two.n_iter


def test_reduce_in_blocks_merges_to_the_whole(matrix):
    X, w = matrix
    data = backends.wrap(X, w)
    centers = _start(X)
    (labels,), whole = data.reduce(passes.lloyd_block, centers, merge=kk.merge_statistics, keep_state=True)

    def merge(a, b):  # the blocks' labels (tuples of arrays) in order, their statistics merged
        return a[0] + b[0], kk.merge_statistics(a[1], b[1])

    block_labels, merged = data.reduce(passes.lloyd_block, centers, merge=merge, block_rows=400)
    np.testing.assert_array_equal(np.concatenate(block_labels), labels)
    np.testing.assert_allclose(merged.sums, whole.sums, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(merged.weight_sums, whole.weight_sums, rtol=1e-13)
    assert merged.ssd == pytest.approx(whole.ssd, rel=1e-12)


def test_a_cluster_that_empties_is_reseeded_as_on_dense_data(matrix):
    X, w = matrix
    start = _start(X)
    start[2] = 50.0  # nearest to no row: empty after the first assignment
    first = backends.wrap(X, w).reduce(passes.lloyd_block, start, merge=kk.merge_statistics)[1]
    assert first.weight_sums[2] == 0 and first.farthest_points.shape == (K, X.shape[1])
    ours, labels, _ = _fit(X, w, start, bounds=False)
    dense, dense_labels, offset = _fit(X.toarray(), w, start, bounds=False)
    assert np.all(ours.cluster_weights > 0)
    np.testing.assert_array_equal(labels, dense_labels)
    np.testing.assert_allclose(ours.centers, dense.centers + offset, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_named_initialisations_pick_rows_of_x(matrix, init):
    X, w = matrix
    sparse_data, dense_data = backends.wrap(X, w, centre=True), backends.wrap(X.toarray(), w, centre=True)
    centers = initial_centers(sparse_data, K, init, np.random.default_rng(4))
    dense = initial_centers(dense_data, K, init, np.random.default_rng(4)) + dense_data.offset
    assert isinstance(centers, np.ndarray) and centers.shape == (K, X.shape[1])
    # The same draws from the same generator: the rows of the dense path.
    np.testing.assert_allclose(centers, dense, rtol=1e-12, atol=1e-12)
    rows = X.toarray()
    assert all(np.any(np.all(rows == c, axis=1)) for c in centers)
    assert len({c.tobytes() for c in centers}) == K


def test_kmeans_parallel_is_refused_with_a_clear_message(matrix):
    X, w = matrix
    with pytest.raises(ValueError, match=r"init='k-means\|\|' is not available for sparse X"):
        initial_centers(backends.wrap(X, w), K, "k-means||", np.random.default_rng(0))


@pytest.mark.parametrize("kind", ["csc_matrix", "csr_array", "coo_matrix", "lil_array"])
def test_other_formats_and_sparse_arrays_fit_as_csr(matrix, kind):
    X, w = matrix
    other = getattr(sp, kind)(X)
    start = _start(X)
    expected, expected_labels, _ = _fit(X, w, start, bounds=False)
    result, labels, _ = _fit(other, w, start, bounds=False)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_array_equal(result.centers, expected.centers)
    assert backends.wrap(other, w).X.format == "csr"


def test_as_csr_converts_without_touching_the_input():
    dense = np.array([[0, 2, 0], [1, 0, 3]], dtype=np.int64)
    X = sp.csr_matrix(dense)
    converted = as_csr(X)
    assert converted.dtype == np.float64 and X.dtype == np.int64
    # Duplicates and unsorted indices: added up and sorted in a copy.
    messy = sp.csr_matrix((np.array([1.0, 2.0, 5.0]), np.array([2, 2, 0]), np.array([0, 3, 3])), shape=(2, 3))
    canonical = as_csr(messy)
    assert canonical is not messy and canonical.has_canonical_format
    np.testing.assert_array_equal(canonical.toarray(), [[5.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    assert messy.nnz == 3
    float32 = sp.csr_matrix(dense.astype(np.float32))
    assert as_csr(float32) is float32
    with pytest.raises(DataError, match=r"X is complex"):
        as_csr(sp.csr_matrix(dense.astype(np.complex128)))
    with pytest.raises(DataError, match=r"X has 0 rows"):
        as_csr(sp.csr_matrix((0, 3)))


def test_nonfinite_values_raise_the_dense_message():
    dense = np.zeros((6, 4))
    dense[1, 2] = 1.0
    dense[3, 1] = np.nan
    dense[5, 0] = np.inf
    with pytest.raises(DataError) as dense_error:
        backends.wrap(dense, None, centre=True)
    with pytest.raises(DataError) as sparse_error:
        backends.wrap(sp.csr_matrix(dense), None, centre=True)
    assert str(sparse_error.value) == str(dense_error.value)
    assert "contains 2 NaN or inf values (first in row 3)" in str(sparse_error.value)


def test_magnitudes_are_widened_or_refused_as_for_dense_data():
    dense = np.zeros((4, 3), dtype=np.float32)
    dense[0, 0], dense[2, 1] = 1e25, -1e25
    data = backends.wrap(sp.csr_matrix(dense), None)
    assert data.dtype == np.float64 and data.X.dtype == np.float64 and data.sample_weight.dtype == np.float64
    assert backends.wrap(dense, None).dtype == np.float64
    huge = sp.csr_matrix(np.array([[1e200, 0.0], [0.0, 1.0]]))
    with pytest.raises(DataError) as sparse_error:
        backends.wrap(huge, None)
    with pytest.raises(DataError) as dense_error:
        backends.wrap(huge.toarray(), None)
    assert str(sparse_error.value) == str(dense_error.value)


def test_protocol_attributes(matrix):
    X, w = matrix
    data = backends.wrap(X, w, centre=True)
    dense = backends.wrap(X.toarray(), w, centre=True)
    assert isinstance(data, SparseData) and data.centred() is data and data.keeps_results
    assert (data.n_samples, data.n_features, data.dtype) == X.shape + (np.dtype(np.float64),)
    assert data.mean_variance == pytest.approx(dense.mean_variance, rel=1e-10)
    np.testing.assert_allclose(data.x_norms, np.einsum("ij,ij->i", X.toarray(), X.toarray()), rtol=1e-14)
    assert data.n_positive_weights() == X.shape[0] and not data.unit_weight
    rows, weights = data.sample(4, np.random.default_rng(0))
    assert isinstance(rows, np.ndarray) and rows.shape == (4, X.shape[1]) and weights.shape == (4,)
    with data.hold_blas():
        pass
    with pytest.raises(ValueError, match="sample_weight has 3 entries"):
        backends.wrap(X, np.ones(3))


def test_predict_transform_and_score_through_map_rows(matrix):
    X, _ = matrix
    centers = _start(X) + 0.01
    offset = centers.mean(axis=0)
    results = {}
    for name, rows in (("sparse", X), ("csc", X.tocsc()), ("dense", X.toarray())):
        results[name] = (
            backends.map_rows(rows, passes.predict_block, offset, centers - offset, dtype=np.int32),
            backends.map_rows(rows, passes.transform_block, offset, centers - offset, dtype=X.dtype,
                              n_columns=K),
            backends.map_rows(rows, passes.min_distances_block, offset, centers - offset, dtype=np.float64),
        )
    for name in ("sparse", "csc"):
        np.testing.assert_array_equal(results[name][0], results["dense"][0])
        np.testing.assert_allclose(results[name][1], results["dense"][1], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(results[name][2], results["dense"][2], rtol=1e-9, atol=1e-12)
    assert results["sparse"][0].dtype == np.int32 and results["sparse"][2].dtype == np.float64
    bad = X.copy()
    bad.data[5] = np.nan
    with pytest.raises(DataError, match="contains 1 NaN or inf value"):
        backends.map_rows(bad, passes.predict_block, offset, centers - offset, dtype=np.int32)
