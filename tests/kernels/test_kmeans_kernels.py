"""k-means kernels: distances, statistics that merge, the update and empty clusters."""

import numpy as np
import pytest

from kmix.kernels import kmeans as kk
from kmix.kernels.seeding import kmeans_plusplus


def _stats(X, w, C, previous=None):
    labels, min_d, prev_d = kk.assign(X, C, kk.squared_norms(X), kk.squared_norms(C), previous)
    return kk.block_statistics(X, w, labels, min_d, len(C), previous, prev_d)


def test_squared_distances_match_brute_force(rng):
    X = rng.normal(size=(300, 7))
    C = rng.normal(size=(9, 7))
    brute = ((X[:, None, :] - C[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(kk.squared_distances(X, C), brute, rtol=1e-12, atol=1e-12)
    assert (kk.squared_distances(X, X[:5]) >= 0).all()


@pytest.mark.parametrize("split", [1, 137, 299])
def test_statistics_of_two_blocks_merge_into_those_of_the_whole(rng, split):
    X = rng.normal(size=(300, 4))
    w = rng.uniform(0.5, 2.0, size=300)
    C = X[:6].copy()
    previous = rng.integers(0, 6, size=300).astype(np.int32)
    whole = _stats(X, w, C, previous)
    merged = kk.merge_statistics(
        _stats(X[:split], w[:split], C, previous[:split]),
        _stats(X[split:], w[split:], C, previous[split:]),
    )
    np.testing.assert_allclose(merged.weight_sums, whole.weight_sums, rtol=1e-13)
    np.testing.assert_allclose(merged.sums, whole.sums, rtol=1e-12, atol=1e-12)
    assert merged.ssd == pytest.approx(whole.ssd, rel=1e-13)
    assert merged.ssd_previous == pytest.approx(whole.ssd_previous, rel=1e-13)
    assert merged.n_changed == whole.n_changed
    np.testing.assert_allclose(merged.farthest_distances, whole.farthest_distances, rtol=1e-13)
    np.testing.assert_allclose(merged.farthest_points, whole.farthest_points)


def test_update_moves_centres_to_weighted_means(rng):
    X = rng.normal(size=(200, 3))
    w = rng.uniform(0.1, 3.0, size=200)
    C = X[:4].copy()
    labels, min_d, _ = kk.assign(X, C, kk.squared_norms(X), kk.squared_norms(C))
    new, empty = kk.update_centers(kk.block_statistics(X, w, labels, min_d, 4), C)
    assert not empty.any()
    for j in range(4):
        members = labels == j
        np.testing.assert_allclose(new[j], np.average(X[members], axis=0, weights=w[members]))


def test_empty_cluster_moves_to_the_farthest_point():
    # Two tight groups and one far outlier; centre 2 sits where no point is nearest.
    X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [20.0, 0.0]])
    C = np.array([[0.0, 0.0], [5.0, 5.0], [-100.0, -100.0]])
    w = np.ones(len(X))
    labels, min_d, _ = kk.assign(X, C, kk.squared_norms(X), kk.squared_norms(C))
    assert 2 not in labels
    new, empty = kk.update_centers(kk.block_statistics(X, w, labels, min_d, 3), C)
    np.testing.assert_array_equal(empty, [False, False, True])
    np.testing.assert_array_equal(new[2], [20.0, 0.0])  # the outlier: farthest from its centre
    assert np.isfinite(new).all()


def test_two_empty_clusters_take_the_two_farthest_points():
    X = np.array([[0.0], [0.2], [9.0], [-7.0]])
    C = np.array([[0.0], [100.0], [200.0]])
    labels, min_d, _ = kk.assign(X, C, kk.squared_norms(X), kk.squared_norms(C))
    new, empty = kk.update_centers(kk.block_statistics(X, np.ones(4), labels, min_d, 3), C)
    assert empty.tolist() == [False, True, True]
    assert sorted(new[1:, 0].tolist()) == [-7.0, 9.0]


def test_kmeans_plusplus_picks_distinct_well_spread_points(rng):
    centers = np.array([[0, 0], [50, 0], [0, 50], [50, 50]], dtype=float)
    X = np.concatenate([c + rng.normal(size=(50, 2)) for c in centers])
    idx = kmeans_plusplus(X, 4, np.random.default_rng(0), np.ones(len(X)))
    assert len(set(idx.tolist())) == 4
    # one seed per blob
    assert sorted((idx // 50).tolist()) == [0, 1, 2, 3]


def test_kmeans_plusplus_never_picks_zero_weight_points(rng):
    X = rng.normal(size=(100, 2))
    w = np.zeros(100)
    w[:10] = 1.0
    for seed in range(5):
        idx = kmeans_plusplus(X, 5, np.random.default_rng(seed), w)
        assert (idx < 10).all()


def test_cumulative_potential_is_numpys_cumsum_to_the_last_bit(rng):
    from kmix.kernels.compiled import kmeans_prep

    for n in (1, 7, 10_000):
        w = rng.uniform(0.0, 3.0, size=n)
        closest = rng.exponential(size=n) * 10.0 ** rng.integers(-8, 8, size=n)
        out = np.empty(n)
        kmeans_prep.cumulative_potential(w, closest, out)
        np.testing.assert_array_equal(out, np.cumsum(w * closest))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d, t", [(2, 3), (5, 6), (16, 4), (130, 7)])
def test_seeding_potentials_match_numpy(rng, d, t, dtype):
    from kmix.kernels.compiled import kmeans_prep
    from kmix.kernels.kmeans import squared_norms
    from kmix.kernels.kmeans_passes import FUSED_CHUNK_ROWS, fused_tile_rows, padded_centers

    n = 3000
    X = rng.normal(size=(n, d)).astype(dtype)
    w = rng.uniform(0.0, 2.0, size=n)
    closest = rng.uniform(0.0, 4.0 * d, size=n)
    candidates = rng.choice(n, size=t, replace=False)
    norms = squared_norms(X)
    scaled_t, padded = padded_centers(X[candidates] * dtype(-2), norms[candidates], narrow=False)
    potentials = np.empty(t)
    kmeans_prep.seeding_potentials(X, norms, w, closest, scaled_t, padded, t, FUSED_CHUNK_ROWS,
                                   fused_tile_rows(scaled_t.shape[0], X.dtype.itemsize), potentials)
    X64 = X.astype(np.float64)
    distances = ((X64[:, None, :] - X64[candidates][None, :, :]) ** 2).sum(axis=2)
    expected = (w[:, None] * np.minimum(distances, closest[:, None])).sum(axis=0)
    np.testing.assert_allclose(potentials, expected, rtol=1e-10 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nearest_centers_takes_the_argmin_block_by_block(rng, monkeypatch, dtype):
    X = rng.normal(size=(1000, 5)).astype(dtype)
    C = rng.normal(size=(7, 5)).astype(dtype)
    whole = kk.squared_distances(X, C)
    monkeypatch.setattr(kk, "DEFAULT_BLOCK_BYTES", 1)  # blocks of the smallest size: several
    assert kk.block_rows(7, 5, X.dtype.itemsize) < len(X)
    labels, min_d = kk.nearest_centers(X, C)
    assert labels.dtype == np.int32 and labels.shape == (1000,)
    assert min_d.dtype == dtype and min_d.shape == (1000,)
    np.testing.assert_array_equal(labels, np.argmin(whole, axis=1))
    np.testing.assert_allclose(min_d, whole.min(axis=1), rtol=1e-12 if dtype == np.float64 else 1e-5)
    brute = ((X[:, None, :].astype(np.float64) - C[None, :, :]) ** 2).sum(-1)
    np.testing.assert_array_equal(labels, np.argmin(brute, axis=1))
    given = kk.nearest_centers(X, C, kk.squared_norms(X), kk.squared_norms(C))
    np.testing.assert_array_equal(given[0], labels)
    np.testing.assert_array_equal(given[1], min_d)


def test_nearest_centers_gives_ties_to_the_lower_index_and_handles_no_rows():
    X = np.array([[0.0, 0.0], [1.0, 0.0]])
    C = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0]])
    labels, min_d = kk.nearest_centers(X, C)
    np.testing.assert_array_equal(labels, [0, 0])
    np.testing.assert_array_equal(min_d, [2.0, 1.0])
    labels, min_d = kk.nearest_centers(X[:0], C)
    assert labels.shape == (0,) and labels.dtype == np.int32 and min_d.shape == (0,)


def test_kmeans_plusplus_seeds_depend_on_the_rows_values_not_their_order():
    from kmix.kernels.seeding import kmeans_plusplus

    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 3))
    weight = rng.integers(0, 4, size=60).astype(float)
    seeds = X[kmeans_plusplus(X, 5, np.random.default_rng(1), weight)]
    shuffled = rng.permutation(60)
    again = X[shuffled][kmeans_plusplus(X[shuffled], 5, np.random.default_rng(1), weight[shuffled])]
    np.testing.assert_array_equal(seeds, again)
    # A weight w is w copies of the row: the same seeds.
    repeated = np.repeat(X, weight.astype(int), axis=0)
    copies = repeated[kmeans_plusplus(repeated, 5, np.random.default_rng(1), np.ones(len(repeated)))]
    np.testing.assert_array_equal(seeds, copies)
