"""Empty clusters re-seeded as scikit-learn's Lloyd does.

The k-th empty cluster (in index order) takes the k-th point farthest from its
assigned centre, and that point leaves the cluster it was counted in: its weight
and weighted coordinates come off that cluster's sums before the means are taken.
From the same start kmix then gives scikit-learn's labels, centres, inertia and
n_iter_, with or without Hamerly's bounds, on dense or sparse rows, merged from
blocks or taken whole.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import kmix
from kmix import backends
from kmix.kernels import kmeans as kk
from kmix.kernels import kmeans_passes as kpass
from kmix.kernels import kmeans_sparse as ksparse
from kmix.models.lloyd import fit_kmeans

# scikit-learn's test_kmeans_relocated_clusters: the second centre is nearest to no
# point at first; rows 0 and 3 are equally far from the first centre.
RELOCATED_X = np.array([[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [1.0, 1.0]])
RELOCATED_INIT = np.array([[0.5, 0.5], [3.0, 3.0]])


def _stats(X, weight, centers, previous=None):
    labels, min_d, previous_d = kk.assign(X, centers, kk.squared_norms(X), kk.squared_norms(centers),
                                          previous)
    return kk.block_statistics(X, weight, labels, min_d, len(centers), previous, previous_d)


def _scikit_learn(X, weight, init, algorithm="lloyd"):
    SKKMeans = pytest.importorskip("sklearn.cluster").KMeans
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SKKMeans(len(init), init=init, n_init=1, algorithm=algorithm, tol=0.0).fit(
            X, sample_weight=weight)


def _kmix(X, weight, init, algorithm):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return kmix.KMeans(len(init), init=init, n_init=1, algorithm=algorithm, tol=0.0).fit(
            X, sample_weight=weight)


def _assert_same_fit(ours, theirs, rtol, relabel=None):
    """Equal fits; ``relabel[j]`` is scikit-learn's label of kmix's cluster j where
    equally far points let the two take different (equally valid) ones."""
    relabel = np.arange(len(ours.cluster_centers_)) if relabel is None else np.asarray(relabel)
    np.testing.assert_array_equal(relabel[ours.labels_], theirs.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_[relabel], rtol=rtol, atol=rtol)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=rtol, abs=rtol)
    assert ours.n_iter_ == theirs.n_iter_


# --- the update step ----------------------------------------------------------------


def test_the_farthest_point_leaves_its_cluster():
    weight = np.array([2.0, 1.0, 1.0, 3.0])
    stats = _stats(RELOCATED_X, weight, RELOCATED_INIT)
    np.testing.assert_array_equal(stats.weight_sums, [7.0, 0.0])
    # Rows 0 and 3 are equally far (0.5): the earlier row first.
    np.testing.assert_array_equal(stats.farthest_distances, [0.5, 0.5])
    np.testing.assert_array_equal(stats.farthest_points, RELOCATED_X[[0, 3]])
    np.testing.assert_array_equal(stats.farthest_labels, [0, 0])
    np.testing.assert_array_equal(stats.farthest_weights, [2.0, 3.0])
    assert stats.farthest_labels.dtype == np.int32 and stats.farthest_weights.dtype == np.float64
    clusters, ranks = kk.relocations(stats, RELOCATED_INIT)
    np.testing.assert_array_equal(clusters, [1])
    np.testing.assert_array_equal(ranks, [0])
    new, empty = kk.update_centers(stats, RELOCATED_INIT)
    np.testing.assert_array_equal(empty, [False, True])
    np.testing.assert_array_equal(new[1], [0.0, 0.0])
    # Cluster 0 without row 0: (1·(0.5, 0) + 1·(0.5, 1) + 3·(1, 1)) / 5.
    np.testing.assert_allclose(new[0], [0.8, 0.8], rtol=1e-15)
    # The statistics are not written.
    np.testing.assert_array_equal(stats.weight_sums, [7.0, 0.0])
    # Row 0, of weight 2, measured from cluster 0's new centre: 2 · (0.8² + 0.8²).
    assert kk.relocation_ssd(stats, RELOCATED_INIT, new) == pytest.approx(2.56, rel=1e-14)


def test_two_empty_clusters_take_the_two_farthest_points_in_index_order():
    X = np.array([[0.0], [0.2], [9.0], [-7.0], [1.0]])
    centers = np.array([[300.0], [0.0], [100.0]])
    stats = _stats(X, np.ones(5), centers)
    np.testing.assert_array_equal(stats.weight_sums, [0.0, 5.0, 0.0])
    new, empty = kk.update_centers(stats, centers)
    np.testing.assert_array_equal(empty, [True, False, True])
    # Cluster 0 takes the farthest point (9), cluster 2 the next (-7); both leave cluster 1.
    np.testing.assert_array_equal(new[[0, 2], 0], [9.0, -7.0])
    assert new[1, 0] == pytest.approx(1.2 / 3, rel=1e-15)


def test_a_cluster_left_without_weight_takes_the_heaviest_centre():
    # Row 3 is alone in cluster 1 and the farthest from its centre: it moves to the
    # empty cluster 2, and cluster 1, left without weight, takes cluster 0's centre.
    X = np.array([[0.0], [0.1], [0.3], [10.0]])
    centers = np.array([[0.1], [5.0], [100.0]])
    stats = _stats(X, np.ones(4), centers)
    np.testing.assert_array_equal(stats.weight_sums, [3.0, 1.0, 0.0])
    new, _ = kk.update_centers(stats, centers)
    assert np.isfinite(new).all()
    np.testing.assert_array_equal(new[2], [10.0])
    np.testing.assert_array_equal(new[1], new[0])
    assert new[0, 0] == pytest.approx(0.4 / 3, rel=1e-15)
    # The same fit as scikit-learn's, whose heaviest cluster here has the lower index.
    for algorithm in ("lloyd", "hamerly"):
        _assert_same_fit(_kmix(X, None, centers, algorithm), _scikit_learn(X, None, centers), 1e-12)


def test_the_heaviest_centre_is_its_mean_whatever_its_index():
    # As above with clusters 0 and 1 swapped: the drained cluster 0 takes the mean of
    # cluster 1, the heaviest (scikit-learn's code would copy its weighted sum).
    X = np.array([[0.0], [0.1], [0.3], [10.0]])
    centers = np.array([[5.0], [0.1], [100.0]])
    new, _ = kk.update_centers(_stats(X, np.ones(4), centers), centers)
    np.testing.assert_array_equal(new[0], new[1])
    assert new[1, 0] == pytest.approx(0.4 / 3, rel=1e-15)
    np.testing.assert_array_equal(new[2], [10.0])


def test_no_relocation_when_every_point_is_on_its_centre():
    # More clusters than distinct points: as in scikit-learn, relocating is
    # pointless; the empty cluster takes the heaviest cluster's centre.
    X = np.array([[0.0], [1.0], [1.0], [2.0], [2.0]])
    centers = np.array([[0.0], [1.0], [2.0], [5.0]])
    stats = _stats(X, np.ones(5), centers)
    assert kk.relocations(stats, centers)[0].size == 0
    new, empty = kk.update_centers(stats, centers)
    np.testing.assert_array_equal(empty, [False, False, False, True])
    np.testing.assert_array_equal(new[:, 0], [0.0, 1.0, 2.0, 1.0])
    assert kk.relocation_ssd(stats, centers, new) == 0.0
    for algorithm in ("lloyd", "hamerly"):
        _assert_same_fit(_kmix(X, None, centers, algorithm), _scikit_learn(X, None, centers), 1e-12)


def test_only_points_with_positive_weight_are_taken():
    X = np.array([[0.0], [1.0], [50.0], [3.0]])
    weight = np.array([1.0, 1.0, 0.0, 1.0])
    centers = np.array([[1.0], [100.0]])
    stats = _stats(X, weight, centers)
    np.testing.assert_array_equal(stats.farthest_points[:, 0], [3.0, 0.0])  # not 50
    new, _ = kk.update_centers(stats, centers)
    np.testing.assert_array_equal(new[:, 0], [0.5, 3.0])
    # No point of positive weight at all: nothing moves, nothing is NaN.
    stats = _stats(X, np.zeros(4), centers)
    new, empty = kk.update_centers(stats, centers)
    assert empty.all()
    np.testing.assert_array_equal(new, centers)


# --- fits from the same start as scikit-learn -------------------------------------------


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_scikit_learns_relocated_clusters_case(algorithm, dtype, weighted):
    X, init = RELOCATED_X.astype(dtype), RELOCATED_INIT.astype(dtype)
    # Weights symmetric under (x, y) -> (1 - x, 1 - y), as X is: rows 0 and 3 stay
    # equally far and either choice gives the same clusters.
    weight = np.array([2.0, 1.0, 1.0, 2.0]) if weighted else None
    ours = _kmix(X, weight, init, algorithm)
    # kmix takes row 0 (the earlier of the two), the second of the outcomes
    # scikit-learn's test accepts when unweighted.
    np.testing.assert_array_equal(ours.labels_, [1, 1, 0, 0])
    assert ours.n_iter_ == 3
    if weighted:
        expected_centers, expected_inertia = [[5 / 6, 1.0], [1 / 6, 0.0]], 1 / 3
    else:
        expected_centers, expected_inertia = [[0.75, 1.0], [0.25, 0.0]], 0.25
    np.testing.assert_allclose(ours.cluster_centers_, expected_centers, rtol=1e-6)
    assert ours.inertia_ == pytest.approx(expected_inertia, rel=1e-6)
    theirs = _scikit_learn(X, weight, init)
    relabel = [theirs.labels_[3], theirs.labels_[0]]  # scikit-learn may take row 3
    _assert_same_fit(ours, theirs, 1e-6, relabel)


def _heavy_tailed_case(seed):
    """A few points with heavy tails and centres drawn apart from them: a cluster
    now and then empties after the first update."""
    rng = np.random.default_rng(seed)
    n, d, k = int(rng.integers(15, 40)), int(rng.integers(1, 3)), int(rng.integers(5, 10))
    X = rng.normal(size=(n, d)) ** 3
    weight = rng.uniform(0.2, 3.0, size=n)
    init = rng.normal(size=(k, d))
    return X, weight, init


def _empty_clusters_per_assignment(X, weight, init):
    """How many clusters have no weight after each assignment of kmix's Lloyd run."""
    first = np.bincount(kk.nearest_centers(X, init)[0], weights=weight, minlength=len(init))
    counts = [int(np.sum(first <= 0))]
    with backends.wrap(X, weight, centre=True) as data:
        def callback(iteration, state):
            sums = np.bincount(state.labels, weights=weight, minlength=len(init))
            counts.append(int(np.sum(sums <= 0)))

        fit_kmeans(data, len(init), np.random.default_rng(0), init=init - data.offset, bounds=False,
                   max_iter=300, tol=0.0, record=False, callback=callback)
    return counts


@pytest.mark.parametrize("seed", [455, 670, 1065])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_one_cluster_emptied_mid_run_as_in_scikit_learn(seed, dtype, weighted):
    X, weight, init = _heavy_tailed_case(seed)
    X, init = X.astype(dtype), init.astype(dtype)
    weight = weight if weighted else None
    # The case is what it claims: no cluster empty at first, one later.
    counts = _empty_clusters_per_assignment(X, weight, init)
    assert counts[0] == 0 and max(counts) == 1
    theirs = _scikit_learn(X, weight, init)
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    lloyd = _kmix(X, weight, init, "lloyd")
    _assert_same_fit(lloyd, theirs, rtol)
    # Hamerly's bounds: exactly Lloyd's run.
    hamerly = _kmix(X, weight, init, "hamerly")
    np.testing.assert_array_equal(hamerly.labels_, lloyd.labels_)
    np.testing.assert_array_equal(hamerly.cluster_centers_, lloyd.cluster_centers_)
    np.testing.assert_array_equal(hamerly.history_.n_changed, lloyd.history_.n_changed)
    assert hamerly.n_iter_ == lloyd.n_iter_
    # The SSDs to rounding: the bounded pass measures the rows it keeps directly.
    assert hamerly.inertia_ == pytest.approx(lloyd.inertia_, rel=rtol)
    np.testing.assert_allclose(hamerly.history_.ssd, lloyd.history_.ssd, rtol=rtol)


@pytest.mark.parametrize("d, dtype", [(2, np.float64), (5, np.float32), (40, np.float64), (40, np.float32)])
def test_bounded_passes_relocate_as_the_plain_passes(d, dtype):
    # Few points per cluster and three centres far from all of them: clusters empty
    # and their points' old clusters lose them, in the compiled loop (up to 32
    # features) and with BLAS products (above).
    from .test_kmeans_bounded import _mixture, _run_side_by_side

    rng = np.random.default_rng(d)
    X, w = _mixture(rng, 60, d, 6, dtype, weighted=True, spread=4.0)
    centers = np.concatenate([X[:5], np.full((3, d), 30.0, dtype=dtype)])
    stats = kpass.lloyd_statistics(X, w, centers, kk.squared_norms(X))[2]
    assert kk.relocations(stats, centers)[0].size == 3
    _run_side_by_side(X, w, centers, 8, unit_weight=False)


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_history_ssd_never_increases_through_a_relocation(algorithm):
    ours = _kmix(RELOCATED_X, None, RELOCATED_INIT, algorithm)
    ssd = ours.history_.ssd.reshape(-1)
    assert np.all(np.diff(ssd) <= 1e-12)
    # After the first update row 0 is the centre of cluster 1: the SSD of rows 1-3
    # from (2/3, 2/3), the mean of cluster 0 without row 0.
    assert ours.history_.ssd[0, 1] == pytest.approx(5 / 6, rel=1e-12)
    np.testing.assert_array_equal(ours.history_.n_changed, [4, 2, 0])


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_labels_and_inertia_belong_to_the_centres_after_a_last_relocation(algorithm):
    # The labels do not change in the second iteration, whose update still
    # relocates (scikit-learn's strict convergence, at the same iteration): the
    # labels and inertia are those of the relocated centres.
    X = np.array([[0.0], [0.0], [10.0], [11.0]])
    init = np.array([[3.0], [10.5], [100.0]])
    ours = _kmix(X, None, init, algorithm)
    assert ours.n_iter_ == _scikit_learn(X, None, init).n_iter_ == 2
    np.testing.assert_array_equal(ours.labels_, ours.predict(X))
    assert ours.inertia_ == pytest.approx(-ours.score(X), abs=1e-12)
    assert sorted(ours.cluster_centers_[:, 0].tolist()) == [0.0, 10.0, 11.0]


# --- statistics of blocks, dense and sparse rows -------------------------------------------


def _tied_data(seed=0, n=400, d=3, dtype=np.float64):
    """Integer points (exact ties in the distances, also between the two halves) with
    weights, and centres of which two are far from every point."""
    rng = np.random.default_rng(seed)
    X = rng.integers(-4, 5, size=(n, d)).astype(dtype)
    weight = rng.uniform(0.5, 2.0, size=n)
    weight[rng.choice(n, 20, replace=False)] = 0.0
    centers = np.concatenate([X[:3] + 0.5, np.full((2, d), 100.0)]).astype(dtype)
    return X, weight, centers


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("split", [1, 200, 333])
def test_merged_halves_relocate_as_the_whole(dtype, split):
    X, weight, centers = _tied_data(dtype=dtype)
    weight = weight.astype(dtype)  # as the compiled passes take them
    x_norms = kk.squared_norms(X)

    def plain(rows):
        return kpass.lloyd_statistics(X[rows], weight[rows], centers, x_norms[rows])[2]

    def bounded(rows):
        return kpass.bounded_statistics(X[rows], weight[rows], centers, x_norms[rows], None,
                                        np.zeros(len(X[rows])))[1]

    def reference(rows):
        return _stats(X[rows], weight[rows], centers)

    first, second, whole = slice(0, split), slice(split, None), slice(None)
    for statistics in (plain, bounded, reference):
        full = statistics(whole)
        merged = kk.merge_statistics(statistics(first), statistics(second))
        assert full.farthest_distances.size == len(centers)
        for name in ("farthest_distances", "farthest_points", "farthest_labels", "farthest_weights"):
            np.testing.assert_array_equal(getattr(merged, name), getattr(full, name), err_msg=name)
        new_full, _ = kk.update_centers(full, centers)
        new_merged, _ = kk.update_centers(merged, centers)
        np.testing.assert_allclose(new_merged, new_full, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(new_merged[3:], new_full[3:])
        assert np.isfinite(new_full).all()
    # The compiled passes and the reference choose the same points.
    for name in ("farthest_points", "farthest_labels", "farthest_weights"):
        np.testing.assert_array_equal(getattr(plain(whole), name), getattr(reference(whole), name))
        np.testing.assert_array_equal(getattr(bounded(whole), name), getattr(reference(whole), name))


def test_no_block_statistics_without_rows_change_a_merge():
    X, weight, centers = _tied_data()
    stats = kpass.lloyd_statistics(X, weight, centers, kk.squared_norms(X))[2]
    empty = kpass.empty_statistics(len(centers), X.shape[1], with_previous=False)
    for merged in (kk.merge_statistics(stats, empty), kk.merge_statistics(empty, stats)):
        for name in ("farthest_distances", "farthest_points", "farthest_labels", "farthest_weights"):
            np.testing.assert_array_equal(getattr(merged, name), getattr(stats, name))


def _sparse_case(seed=2, n=600, d=20, dtype=np.float64):
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 4, size=n)
    profile = rng.uniform(0.5, 2.0, size=(4, d)) * (rng.random((4, d)) < 0.5)
    dense = (rng.random((n, d)) < 0.4) * (profile[groups] + rng.uniform(0.0, 1.0, size=(n, d)))
    X = sp.csr_matrix(dense.astype(dtype))
    weight = rng.uniform(0.2, 3.0, size=n)
    start = np.concatenate([dense[rng.choice(n, 4, replace=False)], np.full((1, d), 40.0)]).astype(dtype)
    return X, weight, start


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_passes_choose_the_dense_passes_points(dtype):
    X, weight, start = _sparse_case(dtype=dtype)
    dense = X.toarray()
    weight = weight.astype(dtype)
    theirs = kpass.lloyd_statistics(dense, weight, start, kk.squared_norms(dense))[2]
    x_norms = ksparse.squared_norms(X)
    for statistics in (ksparse.lloyd_statistics, ksparse.bounded_statistics):
        if statistics is ksparse.lloyd_statistics:
            ours = statistics(X, weight, start, x_norms)[2]
        else:
            ours = statistics(X, weight, start, x_norms, None, np.zeros(X.shape[0]))[1]
        assert ours.weight_sums[4] == 0
        for name in ("farthest_points", "farthest_labels", "farthest_weights"):
            np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name), err_msg=name)
        rtol = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(kk.update_centers(ours, start)[0], kk.update_centers(theirs, start)[0],
                                   rtol=rtol, atol=rtol)
    reference = ksparse.block_statistics_reference(X, weight, *kk.nearest_centers(dense, start), len(start))
    for name in ("farthest_points", "farthest_labels", "farthest_weights"):
        np.testing.assert_array_equal(getattr(reference, name), getattr(theirs, name), err_msg=name)


def _fit(X, weight, start, bounds):
    with backends.wrap(X, weight, centre=True) as data:
        result = fit_kmeans(data, len(start), np.random.default_rng(0), init=start - data.offset,
                            bounds=bounds, max_iter=100, tol=0.0)
        return result, data.final_labels(result.centers, result.labels), data.offset


@pytest.mark.parametrize("bounds", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_and_dense_fits_agree_through_a_relocation(bounds, dtype):
    X, weight, start = _sparse_case(dtype=dtype)
    weight = weight.astype(dtype)
    ours, labels, offset = _fit(X, weight, start, bounds)
    assert not offset.any()
    dense, dense_labels, dense_offset = _fit(X.toarray(), weight, start, bounds)
    np.testing.assert_array_equal(labels, dense_labels)
    assert ours.n_iter == dense.n_iter
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(ours.centers, dense.centers + dense_offset, rtol=rtol, atol=rtol)
    assert ours.inertia == pytest.approx(dense.inertia, rel=rtol)
    np.testing.assert_allclose(ours.history.ssd, dense.history.ssd, rtol=rtol)
    theirs = _scikit_learn(X, weight, start)
    np.testing.assert_array_equal(labels, theirs.labels_)
    np.testing.assert_allclose(ours.centers, theirs.cluster_centers_, rtol=rtol, atol=rtol)
    assert ours.inertia == pytest.approx(theirs.inertia_, rel=rtol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", ["relocated", "two empty", "drained"])
def test_the_in_place_update_gives_the_same_centres_over_the_sums(case, dtype):
    # Lloyd's loop without a history divides the sums in place (no third k x d
    # array): the same numbers as the update that leaves the statistics alone.
    X, weight, centers = {
        "relocated": (RELOCATED_X, np.array([2.0, 1.0, 1.0, 3.0]), RELOCATED_INIT),
        "two empty": (np.array([[0.0], [0.2], [9.0], [-7.0], [1.0]]), np.ones(5),
                      np.array([[300.0], [0.0], [100.0]])),
        "drained": (np.array([[0.0], [0.1], [0.3], [10.0]]), np.ones(4),
                    np.array([[0.1], [5.0], [100.0]])),
    }[case]
    X, centers = X.astype(dtype), centers.astype(dtype)
    stats = _stats(X, weight, centers)
    expected, expected_empty = kk.update_centers(stats, centers)
    sums = stats.sums
    new, empty = kk.update_centers(stats, centers, in_place=True)
    assert new is sums and new.dtype == np.float64
    np.testing.assert_array_equal(new.astype(dtype), expected)
    np.testing.assert_array_equal(empty, expected_empty)
    assert kk.squared_shift(centers, expected) == pytest.approx(
        float(np.sum((expected.astype(np.float64) - centers) ** 2)), rel=1e-15)
