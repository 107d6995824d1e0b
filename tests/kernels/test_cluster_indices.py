"""Cluster-validity kernels: moments that merge, CH / DB / SSD, silhouette, gap statistic, knee."""

import numpy as np
import pytest

from kmix.kernels import cluster_indices as ci

# Data on a grid of 2**-24: adding 1e6 (an integer) is exact, so the offset data
# are exactly the translated data and any difference is the kernels' rounding.
GRID = 2.0**-24
OFFSET = 1e6


def blobs(rng, n, d, n_blobs=4, spread=4.0):
    centres = rng.normal(scale=spread, size=(n_blobs, d))
    X = centres[rng.integers(n_blobs, size=n)] + rng.normal(size=(n, d))
    return np.round(X / GRID) * GRID


def means_of(X, labels, k):
    return np.array([X[labels == j].mean(axis=0) if np.any(labels == j) else np.zeros(X.shape[1])
                     for j in range(k)])


def two_pass(X, w, labels, centers):
    first = ci.cluster_moments(X, w, labels, centers)
    means = ci.cluster_means(first, centers)
    return first, ci.cluster_moments(X, w, labels, means), means


def hand_ssd(X, labels, w=None):
    w = np.ones(len(X)) if w is None else w
    total = 0.0
    for j in np.unique(labels):
        rows, weights = X[labels == j], w[labels == j]
        mean = weights @ rows / weights.sum()
        total += weights @ np.sum((rows - mean) ** 2, axis=1)
    return total


# --- moment indices -----------------------------------------------------------------


@pytest.mark.parametrize("offset", [0.0, OFFSET])
@pytest.mark.parametrize("centres_at", ["means", "elsewhere"])
def test_ssd_calinski_harabasz_and_davies_bouldin_match_scikit_learn(rng, offset, centres_at):
    metrics = pytest.importorskip("sklearn.metrics")
    X = blobs(rng, 400, 3)
    labels = rng.integers(5, size=400)
    labels[:5] = np.arange(5)
    shifted = X + offset
    w = np.ones(len(X))
    # The first pass about the means or about centres far from them (k-means
    # centres from an earlier iteration): exact either way.
    centers = means_of(shifted, labels, 5)
    if centres_at == "elsewhere":
        centers = centers + rng.normal(scale=2.0, size=centers.shape)
    first, second, means = two_pass(shifted, w, labels, centers)
    np.testing.assert_allclose(means - offset, means_of(X, labels, 5), rtol=0, atol=1e-9)
    ssd = hand_ssd(X, labels)
    np.testing.assert_allclose(ci.within_ssd(first, centers), ssd, rtol=1e-10)
    np.testing.assert_allclose(ci.within_ssd(second), ssd, rtol=1e-10)
    ch = metrics.calinski_harabasz_score(X, labels)
    np.testing.assert_allclose(ci.calinski_harabasz(first, centers), ch, rtol=1e-10)
    np.testing.assert_allclose(ci.calinski_harabasz(second, means), ch, rtol=1e-10)
    db = metrics.davies_bouldin_score(X, labels)
    np.testing.assert_allclose(ci.davies_bouldin(second, means), db, rtol=1e-10)


def test_moments_of_two_blocks_merge_to_those_of_the_whole(rng):
    X = blobs(rng, 301, 4) + 50.0
    w = rng.uniform(0.5, 2.0, size=301)
    labels = rng.integers(6, size=301).astype(np.int32)
    centers = means_of(X, labels, 6) + rng.normal(size=(6, 4))
    whole = ci.cluster_moments(X, w, labels, centers)
    for m in (0, 1, 150, 301):
        parts = [ci.cluster_moments(X[a:b], w[a:b], labels[a:b], centers) for a, b in ((0, m), (m, 301))]
        merged = ci.merge_cluster_moments(*parts)
        for field, got, want in zip(ci.ClusterMoments._fields, merged, whole):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max(), err_msg=field)
    empty = ci.empty_cluster_moments(6, 4)
    for got, want in zip(ci.merge_cluster_moments(empty, whole), whole):
        np.testing.assert_array_equal(got, want)
    assert all(got.shape == want.shape and got.dtype == np.float64 for got, want in zip(empty, whole))


def test_moments_are_the_definitions(rng):
    X = rng.normal(size=(40, 3))
    w = rng.uniform(0.5, 2.0, size=40)
    labels = rng.integers(3, size=40)
    centers = rng.normal(size=(3, 3))
    X[0] = centers[labels[0]]  # a row on its centre: no direction, distance 0
    moments = ci.cluster_moments(X, w, labels, centers)
    for j in range(3):
        rows, weights = X[labels == j] - centers[j], w[labels == j]
        norms = np.linalg.norm(rows, axis=1)
        units = np.divide(rows, norms[:, None], out=np.zeros_like(rows), where=norms[:, None] > 0)
        np.testing.assert_allclose(moments.weight_sums[j], weights.sum(), rtol=1e-14)
        np.testing.assert_allclose(moments.sums[j], weights @ rows, rtol=1e-13)
        np.testing.assert_allclose(moments.squares[j], weights @ norms**2, rtol=1e-13)
        np.testing.assert_allclose(moments.distance_sums[j], weights @ norms, rtol=1e-13)
        np.testing.assert_allclose(moments.direction_sums[j], weights @ units, rtol=1e-13)


def test_integer_weights_equal_repeated_rows(rng):
    X = blobs(rng, 120, 3)
    labels = rng.integers(4, size=120)
    counts = rng.integers(1, 5, size=120)
    repeated, repeated_labels = np.repeat(X, counts, axis=0), np.repeat(labels, counts)
    centers = means_of(X, labels, 4) + 0.5
    _, weighted, means = two_pass(X, counts.astype(np.float64), labels, centers)
    _, unit, unit_means = two_pass(repeated, np.ones(len(repeated)), repeated_labels, centers)
    np.testing.assert_allclose(means, unit_means, rtol=1e-13)
    np.testing.assert_allclose(ci.within_ssd(weighted), ci.within_ssd(unit), rtol=1e-12)
    np.testing.assert_allclose(ci.within_ssd(weighted), hand_ssd(repeated, repeated_labels), rtol=1e-12)
    np.testing.assert_allclose(ci.calinski_harabasz(weighted, means), ci.calinski_harabasz(unit, unit_means),
                               rtol=1e-12)
    np.testing.assert_allclose(ci.davies_bouldin(weighted, means), ci.davies_bouldin(unit, unit_means),
                               rtol=1e-12)
    metrics = pytest.importorskip("sklearn.metrics")
    np.testing.assert_allclose(ci.calinski_harabasz(weighted, means),
                               metrics.calinski_harabasz_score(repeated, repeated_labels), rtol=1e-10)
    np.testing.assert_allclose(ci.davies_bouldin(weighted, means),
                               metrics.davies_bouldin_score(repeated, repeated_labels), rtol=1e-10)


def test_empty_and_weightless_clusters_do_not_count(rng):
    metrics = pytest.importorskip("sklearn.metrics")
    X = blobs(rng, 150, 2)
    labels = rng.choice([0, 2, 4], size=150)  # 1 and 3 empty among k = 6 centres
    w = np.ones(150)
    w[labels == 4] = 0.0  # 4 has rows but no weight
    labels[:3] = 5
    w[:3] = 0.0
    centers = rng.normal(size=(6, 2))
    _, second, means = two_pass(X, w, labels, centers)
    kept = w > 0
    np.testing.assert_allclose(ci.within_ssd(second), hand_ssd(X[kept], labels[kept]), rtol=1e-10)
    np.testing.assert_allclose(ci.calinski_harabasz(second, means),
                               metrics.calinski_harabasz_score(X[kept], labels[kept]), rtol=1e-10)
    np.testing.assert_allclose(ci.davies_bouldin(second, means),
                               metrics.davies_bouldin_score(X[kept], labels[kept]), rtol=1e-10)
    np.testing.assert_array_equal(means[[1, 3]], centers[[1, 3]])  # no mean: the centre stays


def test_one_cluster_and_degenerate_cases(rng):
    X = rng.normal(size=(30, 2))
    w = np.ones(30)
    one = ci.cluster_moments(X, w, np.zeros(30, dtype=int), X[:1])
    assert np.isnan(ci.calinski_harabasz(one, X[:1]))
    assert np.isnan(ci.davies_bouldin(one, X[:1]))
    # Every cluster on one point: W = 0 gives scikit-learn's 1.0 (CH) and 0.0 (DB).
    points = np.repeat(np.array([[0.0, 0.0], [3.0, 4.0]]), 5, axis=0)
    labels = np.repeat([0, 1], 5)
    centers = np.array([[0.0, 0.0], [3.0, 4.0]])
    tight = ci.cluster_moments(points, np.ones(10), labels, centers)
    assert ci.within_ssd(tight) == 0.0
    assert ci.calinski_harabasz(tight, centers) == 1.0
    assert ci.davies_bouldin(tight, centers) == 0.0
    # As many clusters as rows: no within-cluster degree of freedom.
    singletons = ci.cluster_moments(X[:3], np.ones(3), np.arange(3), X[:3])
    assert np.isnan(ci.calinski_harabasz(singletons, X[:3]))


# --- silhouette ---------------------------------------------------------------------


def labels_with_singletons(rng, n):
    labels = rng.integers(4, size=n) * 3 + 7  # labels 7, 10, 13, 16: any integers
    labels[0], labels[1] = -2, 100  # two clusters of one row
    return labels


@pytest.mark.parametrize("offset", [0.0, OFFSET])
def test_silhouette_samples_match_scikit_learn(rng, offset):
    metrics = pytest.importorskip("sklearn.metrics")
    X = blobs(rng, 90, 3)
    labels = labels_with_singletons(rng, 90)
    want = metrics.silhouette_samples(X, labels)
    assert want[0] == want[1] == 0.0
    whole = ci.silhouette_samples(X + offset, labels)
    np.testing.assert_allclose(whole, want, rtol=1e-10, atol=1e-12)
    for block_rows in (1, 7, 89):
        np.testing.assert_allclose(ci.silhouette_samples(X + offset, labels, block_rows=block_rows), whole,
                                   rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(ci.silhouette_samples(X + offset, labels, block_rows=7).mean(),
                               metrics.silhouette_score(X, labels), rtol=1e-10)


def test_silhouette_of_duplicate_points_and_one_label(rng):
    metrics = pytest.importorskip("sklearn.metrics")
    X = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [2.0, 0.5]])
    labels = np.array([0, 0, 1, 1, 2, 2])
    np.testing.assert_allclose(ci.silhouette_samples(X, labels), metrics.silhouette_samples(X, labels),
                               rtol=1e-12, atol=1e-15)
    assert np.all(np.isnan(ci.silhouette_samples(X, np.zeros(6))))
    np.testing.assert_array_equal(ci.silhouette_samples(X[2:], np.arange(4)), 0.0)


# --- gap statistic ------------------------------------------------------------------


def log_ssd_per_k(X, ks):
    cluster = pytest.importorskip("sklearn.cluster")
    values = []
    for k in ks:
        model = cluster.KMeans(n_clusters=k, n_init=4, random_state=0).fit(X)
        moments = ci.cluster_moments(X, np.ones(len(X)), model.labels_, model.cluster_centers_)
        values.append(np.log(ci.within_ssd(moments)))
    return np.array(values)


def gap_choice(X, method, n_references=20, seed=1):
    ks = np.arange(1, 7)
    box = ci.reference_box(X, method)
    rng = np.random.default_rng(seed)
    references = np.array([log_ssd_per_k(ci.draw_reference(box, len(X), rng), ks) for _ in range(n_references)])
    gap, s = ci.gap_from_log_w(log_ssd_per_k(X, ks), references)
    return ci.one_standard_error_choice(ks, gap, s)


@pytest.mark.parametrize("method", ["box", "pca"])
def test_gap_statistic_finds_three_separated_clusters_and_one_in_uniform_data(method):
    # Clusters placed so that two clusters already beat one by far: the one-SE rule
    # is conservative, and stops at k = 1 when Gap(2) gains less than s_2 over Gap(1).
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [14.0, 5.0]])
    X = centres[np.repeat(np.arange(3), 100)] + rng.normal(size=(300, 2))
    assert gap_choice(X, method) == 3
    uniform = rng.uniform(size=(300, 2))
    assert gap_choice(uniform, method) == 1


def test_gap_from_log_w_is_the_papers_formula():
    data = np.array([2.0, 1.0, 0.5])
    refs = np.array([[3.0, 2.5, 2.0], [3.2, 2.3, 2.1], [2.8, 2.4, 1.6], [3.0, 2.4, 1.9]])
    gap, s = ci.gap_from_log_w(data, refs)
    np.testing.assert_allclose(gap, refs.mean(axis=0) - data, rtol=1e-15)
    sd = np.sqrt(((refs - refs.mean(axis=0)) ** 2).mean(axis=0))  # 1/B, not 1/(B - 1)
    np.testing.assert_allclose(s, sd * np.sqrt(1.25), rtol=1e-14)


def test_one_standard_error_rule():
    ks = np.array([1, 2, 3, 4, 5])
    s = np.full(5, 0.1)
    assert ci.one_standard_error_choice(ks, np.array([0.1, 0.5, 0.9, 0.85, 0.8]), s) == 3
    assert ci.one_standard_error_choice(ks, np.array([0.1, 0.5, 0.9, 0.95, 0.8]), s) == 3  # within one s
    assert ci.one_standard_error_choice(ks, np.array([0.5, 0.55, 0.6, 0.7, 0.8]), s) == 1
    assert ci.one_standard_error_choice(ks, np.arange(5.0), s) == 5  # still rising: the largest k
    assert ci.one_standard_error_choice(ks[:1], np.zeros(1), s[:1]) == 1


def test_reference_draws_lie_in_their_boxes(rng):
    X = (rng.normal(size=(500, 3)) * [5.0, 1.0, 0.1]) @ np.linalg.qr(rng.normal(size=(3, 3)))[0] + 1e3
    box = ci.reference_box(X, "box")
    assert box.rotation is None
    draws = ci.draw_reference(box, 2000, np.random.default_rng(0))
    assert draws.shape == (2000, 3) and draws.dtype == np.float64
    assert np.all(draws >= X.min(axis=0)) and np.all(draws <= X.max(axis=0))

    pca = ci.reference_box(X, "pca")
    np.testing.assert_allclose(pca.rotation @ pca.rotation.T, np.eye(3), atol=1e-12)
    draws = ci.draw_reference(pca, 2000, np.random.default_rng(0))
    rotated = draws @ pca.rotation.T
    tolerance = 1e-9 * np.abs(X).max()
    assert np.all(rotated >= pca.low - tolerance) and np.all(rotated <= pca.high + tolerance)
    # The rotated box hugs the data: its volume is far below the bounding box's.
    assert np.prod(pca.high - pca.low) < 0.2 * np.prod(box.high - box.low)
    # Same draws whatever the seed's use elsewhere: deterministic given the generator.
    np.testing.assert_array_equal(draws, ci.draw_reference(pca, 2000, np.random.default_rng(0)))


def test_pca_reference_with_fewer_rows_than_features_stays_in_the_datas_span(rng):
    X = rng.normal(size=(5, 8)) + 3.0
    box = ci.reference_box(X, "pca")
    assert box.rotation.shape == (8, 8)
    draws = ci.draw_reference(box, 50, np.random.default_rng(0))
    # The draws lie in the affine hull of the rows: x̄ + span(X - x̄).
    centred = X - X.mean(axis=0)
    coefficients, *_ = np.linalg.lstsq(centred.T, (draws - X.mean(axis=0)).T, rcond=None)
    np.testing.assert_allclose(centred.T @ coefficients, (draws - X.mean(axis=0)).T, atol=1e-10)


def test_reference_box_names_the_allowed_methods(rng):
    with pytest.raises(ValueError, match="method must be 'box' or 'pca', got 'grid'"):
        ci.reference_box(rng.normal(size=(10, 2)), "grid")


# --- knee ---------------------------------------------------------------------------


def test_knee_of_decreasing_curves(rng):
    ks = np.arange(1, 11)
    assert ci.knee(ks, 1.0 / ks + rng.normal(scale=1e-3, size=10)) == 3
    ssd = np.array([100.0, 62.0, 31.0, 10.0, 9.0, 8.2, 7.5, 7.0, 6.6, 6.3])
    assert ci.knee(ks, ssd) == 4
    assert ci.knee(ks * 2, ssd) == 8  # the k, not its index
    assert ci.knee(np.array([1, 2, 3, 5, 8]), np.array([50.0, 20.0, 12.0, 10.0, 9.0])) == 3


def test_knee_without_a_knee_is_the_first_k():
    ks = np.arange(2, 9)
    assert ci.knee(ks, 10.0 - 1.5 * ks) == 2  # a straight line
    assert ci.knee(ks, -(ks**2.0)) == 2  # concave: no point below the chord
    assert ci.knee(ks, np.full(7, 3.0)) == 2
    assert ci.knee(ks[:2], np.array([5.0, 1.0])) == 2


def test_many_labelings_at_once_equal_one_at_a_time():
    from kmix.kernels import cluster_choice as cc

    rng = np.random.default_rng(11)
    X = rng.normal(size=(700, 5)) + 1e3
    labelings = [rng.integers(k, size=700) for k in (2, 3, 6)]
    labelings[2][:3] = 9  # a cluster of three, and label numbers with gaps
    labelings.append(np.zeros(700, dtype=int))  # one cluster: NaN
    together = cc.silhouette_samples_many(X, labelings, block_rows=64)
    assert together.shape == (4, 700)
    for labels, values in zip(labelings[:3], together):
        np.testing.assert_allclose(values, cc.silhouette_samples(X, labels), rtol=1e-12, atol=1e-13)
    assert np.all(np.isnan(together[3]))
