"""The bounded pass (Hamerly's bounds) against the plain compiled pass.

Run side by side through whole Lloyd runs, :func:`bounded_statistics` must give
the labels of :func:`lloyd_statistics` exactly and the same sums to the last bit
(so the same centres every iteration), the same count of changed labels and the
SSDs up to rounding, on both paths (the compiled loop; BLAS above 32 features),
in float32 and float64, with and without weights, and it must actually skip rows.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmix.kernels import kmeans as kk
from kmix.kernels import kmeans_bounds as bounds
from kmix.kernels import kmeans_passes as passes

# (n, d, k, dtype, weighted)
CASES = [
    (3000, 2, 6, np.float64, False),
    (4000, 8, 12, np.float64, False),
    (4000, 8, 12, np.float64, True),
    (3500, 5, 9, np.float32, False),
    (3000, 16, 20, np.float32, True),
    (2500, 40, 10, np.float64, False),
    (2500, 40, 10, np.float32, True),
    (5000, 33, 64, np.float64, True),
]


def _mixture(rng, n, d, k, dtype, weighted, spread=2.0):
    means = rng.normal(scale=spread, size=(k, d))
    X = means[rng.integers(0, k, size=n)] + rng.normal(size=(n, d))
    X = (X - X.mean(axis=0)).astype(dtype)
    w = (rng.uniform(0.2, 3.0, size=n) if weighted else np.ones(n)).astype(dtype)
    return X, w


def _assert_lower_bounds(X, centers, labels, lower):
    """Every row's bound is at most its distance to every centre but its own."""
    X64, C64 = X.astype(np.float64), centers.astype(np.float64)
    distances = np.sqrt(((X64[:, None, :] - C64[None, :, :]) ** 2).sum(axis=2))
    distances[np.arange(len(X)), labels] = np.inf
    assert np.all(lower <= distances.min(axis=1) * (1.0 + 1e-9))


def _run_side_by_side(X, w, centers, iterations, unit_weight, movement=False):
    """Both passes through ``iterations`` Lloyd iterations; returns the rows scanned
    per bounded pass. Asserts agreement after every pass. With ``movement`` the
    bounded pass is told how far each centre moved (it may then measure the
    centres that moved most apart), and its bounds are checked."""
    x_norms = kk.squared_norms(X)
    lower = np.zeros(X.shape[0])
    labels, stats, rescanned = passes.bounded_statistics(X, w, centers, x_norms, None, lower,
                                                     unit_weight=unit_weight)
    plain_labels, _, plain = passes.lloyd_statistics(X, w, centers, x_norms, unit_weight=unit_weight)
    np.testing.assert_array_equal(labels, plain_labels)
    scanned = [rescanned]
    for _ in range(iterations):
        new_centers, empty = kk.update_centers(plain, centers)
        bounded_centers, bounded_empty = kk.update_centers(stats, centers)
        # Same sums, added in the same order: the same centres to the last bit.
        np.testing.assert_array_equal(bounded_centers, new_centers)
        np.testing.assert_array_equal(bounded_empty, empty)
        drops = bounds.bound_drops(centers, new_centers)
        moved = bounds.center_movement(centers, new_centers) if movement else None
        centers = new_centers
        labels, stats, rescanned = passes.bounded_statistics(X, w, centers, x_norms, labels, lower, drops,
                                                         unit_weight=unit_weight, movement=moved)
        if movement:
            _assert_lower_bounds(X, centers, labels, lower)
        plain_labels, _, plain = passes.lloyd_statistics(X, w, centers, x_norms, plain_labels,
                                                     unit_weight=unit_weight)
        np.testing.assert_array_equal(labels, plain_labels)
        np.testing.assert_array_equal(stats.weight_sums, plain.weight_sums)
        np.testing.assert_array_equal(stats.sums, plain.sums)
        assert stats.n_changed == plain.n_changed
        # The plain pass's distances are ||x||² - 2x·c + ||c||²: on data far from the
        # origin they round to about eps·(||x||² + ||c||²) each (the bounded pass
        # measures a kept row directly, more closely).
        eps = float(np.finfo(X.dtype).eps)
        rtol = 1e-5 if X.dtype == np.float32 else 1e-12
        scale = float(np.max(x_norms)) + float(np.max(kk.squared_norms(centers)))
        atol = 4.0 * (X.shape[1] + 4) * eps * scale * float(np.sum(w, dtype=np.float64))
        assert stats.ssd == pytest.approx(plain.ssd, rel=rtol, abs=atol)
        assert stats.ssd_previous == pytest.approx(plain.ssd_previous, rel=rtol, abs=atol)
        scanned.append(rescanned)
    return scanned


@pytest.mark.parametrize("n, d, k, dtype, weighted", CASES)
def test_bounded_pass_matches_plain_pass_through_a_run(n, d, k, dtype, weighted):
    rng = np.random.default_rng(n + d + k)
    X, w = _mixture(rng, n, d, k, dtype, weighted)
    centers = X[rng.choice(n, size=k, replace=False)].copy()
    scanned = _run_side_by_side(X, w, centers, 12, unit_weight=not weighted)
    assert scanned[0] == n  # the first pass has no bounds: every row
    # Once the centres settle the bounds rule most rows out: the pass is not a full one.
    assert min(scanned[-4:]) < n // 2


@pytest.mark.parametrize("n, d, k, dtype, weighted", [case for case in CASES if case[1] > 32])
def test_bounded_pass_told_the_movement_matches_plain_pass(n, d, k, dtype, weighted):
    rng = np.random.default_rng(n + d + k)
    X, w = _mixture(rng, n, d, k, dtype, weighted)
    centers = X[rng.choice(n, size=k, replace=False)].copy()
    _run_side_by_side(X, w, centers, 10, unit_weight=not weighted, movement=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_centres_that_travel_are_measured_apart(dtype):
    """A few centres move far, the rest barely: measuring the few settles the rows
    a bound that falls by the largest movement would send to a full scan, and
    the labels stay those of the plain pass."""
    rng = np.random.default_rng(21)
    n, d, k = 3000, 40, 24
    # Clusters close enough that half the gap to the nearest other centre settles
    # few rows: the bounds carried from the last pass must.
    means = rng.normal(scale=1.0, size=(k, d))
    X = (means[rng.integers(0, k, size=n)] + rng.normal(size=(n, d))).astype(dtype)
    X -= X.mean(axis=0)
    old = (means - means.mean(axis=0) + 0.1 * rng.normal(size=(k, d))).astype(dtype)
    new = (old + 0.01 * rng.normal(size=(k, d))).astype(dtype)
    new[[2, 9, 17]] += dtype(4.0)  # three centres travel
    x_norms = kk.squared_norms(X)
    w = np.ones(n, dtype=dtype)
    start = np.zeros(n)
    labels, _, _ = passes.bounded_statistics(X, w, old, x_norms, None, start)
    plain_labels, _, _ = passes.lloyd_statistics(X, w, new, x_norms)
    drops = bounds.bound_drops(old, new)
    scanned = {}
    for told in (False, True):
        lower = start.copy()
        moved = bounds.center_movement(old, new) if told else None
        got, _, scanned[told] = passes.bounded_statistics(X, w, new, x_norms, labels, lower, drops,
                                                          movement=moved)
        np.testing.assert_array_equal(got, plain_labels)
        _assert_lower_bounds(X, new, got, lower)
    assert scanned[True] < scanned[False] // 4


@pytest.mark.parametrize("d", [12, 40])  # the compiled loop; BLAS
def test_float32_scan_leaves_what_it_cannot_resolve_to_float64(d):
    """A float64 pass scans in float32 first. Two centres closer together than
    float32 can tell apart (but float64 can): the rows between them are left to the
    scan in float64, and the labels and bounds are the plain pass's. So is a row
    too large for float32 (its products would overflow)."""
    rng = np.random.default_rng(8)
    n, k = 2000, 6
    centers = rng.normal(scale=3.0, size=(k, d))
    centers[1] = centers[0] + 1e-6 * rng.normal(size=d)
    X = centers[rng.integers(0, k, size=n)] + rng.normal(size=(n, d))
    # One centre only lies on the positive side of feature 0: in float32 the huge
    # row's products are infinite, every centre's but that one's of one sign.
    centers[:, 0] = -np.abs(centers[:, 0])
    centers[3, 0] = np.abs(centers[3, 0]) + 1.0
    X[7] = 0.0
    X[7, 0] = 1e40
    x_norms = kk.squared_norms(X)
    w = np.ones(n)
    lower = np.zeros(n)
    labels, stats, rescanned = passes.bounded_statistics(X, w, centers, x_norms, None, lower)
    plain_labels, _, plain = passes.lloyd_statistics(X, w, centers, x_norms)
    assert rescanned == n
    assert labels[7] == 3
    np.testing.assert_array_equal(labels, plain_labels)
    assert np.count_nonzero(np.isin(labels, [0, 1])) > n // 10
    assert np.count_nonzero(labels == 1) > 0  # the two centres' rows are told apart
    np.testing.assert_array_equal(stats.sums, plain.sums)
    _assert_lower_bounds(X, centers, labels, lower)


@pytest.mark.parametrize("d", [12, 40])  # the compiled loop; BLAS
def test_float32_scan_is_off_for_centres_too_large_for_it(d):
    """A centre whose products with the rows would overflow in float32 (one far
    out along a row's own direction): the pass scans in float64 only, and the far
    centre is no row's nearest, as in the plain pass."""
    rng = np.random.default_rng(9)
    n, k = 1500, 5
    X = rng.normal(size=(n, d)) * 2.0**40  # ||x||² about 2^85: within the rows' limit
    centers = X[rng.choice(n, size=k, replace=False)].copy()
    centers[4] = X[7] * 2.0**48  # x_7 · c_4 is about 2^133, past float32's largest
    x_norms = kk.squared_norms(X)
    w = np.ones(n)
    labels, stats, _ = passes.bounded_statistics(X, w, centers, x_norms, None, np.zeros(n))
    plain_labels, _, plain = passes.lloyd_statistics(X, w, centers, x_norms)
    np.testing.assert_array_equal(labels, plain_labels)
    assert not np.any(labels == 4)
    np.testing.assert_array_equal(stats.sums, plain.sums)


@pytest.mark.parametrize("scale", [1e-12, 1.0, 1e12])
def test_float32_scan_settles_clear_gaps_at_any_scale(scale):
    """The float32 scan's margin scales with the norms: a row whose two nearest
    values are a hundredth of its norm apart is settled at any scale, one whose
    values are a millionth apart is left to float64, and so is a huge row."""
    from kmix.kernels.compiled import kmeans_bounded

    d = 8
    X = np.full((4, d), scale)
    X[3] *= 2.0**60
    x_norms = kk.squared_norms(X)
    centers = X[:2].copy()
    norm = float(x_norms[0])
    best = np.full(4, -norm, dtype=np.float32)  # the values less ||x||²: distance 0
    second = (best + np.float32(norm) * np.array([1e-2, 1e-6, 1e-2, 1e-2], dtype=np.float32))
    found = np.zeros(4, dtype=np.int32)
    pending = np.arange(4, dtype=np.int64)
    labels = np.full(4, -1, dtype=np.int32)
    distances = np.full(4, -1.0)
    lower = np.zeros(4)
    slack = 8.0 * (d + 4) * float(np.finfo(np.float32).eps)
    left = kmeans_bounded._settle_single(X, 0, pending, 0, 4, found, best, second, slack, centers,
                                         x_norms, norm, labels, distances, lower, 0)
    assert left == 2
    np.testing.assert_array_equal(pending[:2], [1, 3])
    np.testing.assert_array_equal(labels[[0, 2]], [0, 0])
    np.testing.assert_array_equal(distances[[0, 2]], [0.0, 0.0])
    assert np.all(lower[[0, 2]] > 0) and np.all(lower[[0, 2]] <= np.sqrt(0.01 * norm))


def test_movers_are_the_centres_that_moved_most():
    movement = np.array([0.1, 9.0, 0.2, 0.3, 8.0, 0.1, 0.25, 0.05])
    assert bounds.MOVERS >= 2
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bounds, "MOVERS", 2)
        movers, rest_drop = bounds.movers(movement, spacing=20.0)
        np.testing.assert_array_equal(movers, [1, 4])
        # Each cluster's bound falls by the largest movement of a centre neither
        # measured nor its own: centre 3's is 0.25, the others' 0.3.
        np.testing.assert_array_equal(rest_drop, [0.3, 0.3, 0.3, 0.25, 0.3, 0.3, 0.3, 0.3])
        # The rest moving more than half as far as the first, or the difference
        # small beside the centres' spacing: nothing measured apart.
        assert bounds.movers(np.array([9.0, 8.0, 7.0, 6.0]), spacing=20.0)[0].size == 0
        assert bounds.movers(movement, spacing=100.0)[0].size == 0
    assert bounds.movers(np.array([1.0, 0.0]), spacing=1.0)[0].size == 0  # two centres: no gain


def test_bounded_pass_on_exact_ties_takes_the_plain_pass_labels():
    # Integer points and centres on a lattice: many rows at exactly equal distances
    # from two centres, where only the lowest index is right.
    rng = np.random.default_rng(3)
    X = rng.integers(-4, 5, size=(3000, 4)).astype(np.float64)
    centers = np.array([[0, 0, 0, 0], [2, 0, 0, 0], [0, 2, 0, 0], [-2, 0, 0, 2], [2, 2, 2, 2]], float)
    _run_side_by_side(X, np.ones(len(X)), centers, 6, unit_weight=True)


def test_bounded_pass_reseeds_empty_clusters_like_the_plain_pass():
    rng = np.random.default_rng(5)
    X, w = _mixture(rng, 2000, 6, 4, np.float64, True)
    centers = np.vstack([X[:4], np.full((2, 6), 1e3)])  # two centres no point is near
    _run_side_by_side(X, w, centers, 5, unit_weight=False)


def test_one_cluster():
    rng = np.random.default_rng(8)
    X, w = _mixture(rng, 500, 5, 1, np.float64, False)
    scanned = _run_side_by_side(X, w, X[:1].copy(), 3, unit_weight=True)
    assert scanned[1:] == [0, 0, 0]  # no other centre: nothing to scan again


def test_bound_drops_and_separation():
    old = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    new = old + np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 0.0]])  # movements 5, 1, 0
    np.testing.assert_allclose(bounds.bound_drops(old, new), [1.0, 5.0, 5.0], rtol=1e-10)
    assert np.all(bounds.bound_drops(old, new) >= [1.0, 5.0, 5.0])  # rounded up
    separation = bounds.center_neighbours(old, 1)[1][:, 0]
    np.testing.assert_allclose(separation, [10.0, 10.0, 10.0], rtol=1e-10)
    assert np.all(separation <= 10.0)  # rounded down
    assert bounds.bound_drops(old[:1], new[:1])[0] == 0.0


def test_previous_labels_need_drops():
    X = np.random.default_rng(0).normal(size=(50, 4))
    with pytest.raises(ValueError, match="drops"):
        passes.bounded_statistics(X, np.ones(50), X[:3], kk.squared_norms(X), np.zeros(50, np.int32),
                              np.zeros(50))


def test_center_neighbours_are_the_nearest_in_order():
    rng = np.random.default_rng(11)
    C = rng.normal(size=(30, 7))
    order, distances = bounds.center_neighbours(C, 5)
    exact = np.sqrt(((C[:, None, :] - C[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(exact, np.inf)
    np.testing.assert_array_equal(order, np.argsort(exact, axis=1)[:, :5])
    np.testing.assert_allclose(distances, np.sort(exact, axis=1)[:, :5], rtol=1e-10)
    assert np.all(distances <= np.sort(exact, axis=1)[:, :5])  # rounded down
    assert bounds.center_neighbours(C[:1], 5)[0].shape == (1, 0)
    np.testing.assert_allclose(bounds.center_neighbours(C, 1)[1][:, 0], np.min(exact, axis=1), rtol=1e-10)
    # A list as long as the others are many: every centre, nearest first.
    np.testing.assert_array_equal(bounds.center_neighbours(C, 40)[0], np.argsort(exact, axis=1)[:, :29])


def test_center_neighbours_keep_index_order_among_equal_distances():
    # Points of a circle (equal norms, so equal rounding allowances): exact ties.
    C = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0], [0.6, 0.8]])
    order, distances = bounds.center_neighbours(C, 4)
    exact = np.sqrt(((C[:, None, :] - C[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(exact, np.inf)
    np.testing.assert_array_equal(order, np.argsort(exact, axis=1, kind="stable")[:, :4])
    np.testing.assert_array_equal(order[0], [4, 1, 3, 2])  # 1 and 3 tie, both sqrt(2) away
    np.testing.assert_array_equal(order[2], [1, 3, 4, 0])
    assert distances[0, 1] == distances[0, 2]
    for listed in (1, 2, 3):  # cut inside a run of ties: the lowest indices are kept
        np.testing.assert_array_equal(bounds.center_neighbours(C, listed)[0], order[:, :listed])


def test_many_features_settle_rows_by_neighbours_not_full_scans():
    # Well separated clusters, more centres than clusters: once settled, the rows the
    # bounds cannot keep are resolved among their centre's neighbours.
    rng = np.random.default_rng(12)
    X, w = _mixture(rng, 4000, 48, 16, np.float64, False, spread=4.0)
    centers = X[rng.choice(4000, size=40, replace=False)].copy()
    scanned = _run_side_by_side(X, w, centers, 10, unit_weight=True)
    assert max(scanned[-3:]) < 4000 // 20


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(12, 160),
    d=st.sampled_from([1, 2, 3, 5, 8, 33, 36]),
    k=st.integers(1, 12),
    dtype=st.sampled_from([np.float32, np.float64]),
    integer=st.booleans(),
    weighted=st.booleans(),
    offset=st.sampled_from([0.0, 100.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_bounded_pass_matches_plain_pass_on_random_problems(n, d, k, dtype, integer, weighted,
                                                            offset, seed):
    # Integer data has exact ties (equal distances to two centres) and duplicated
    # points; zero weights and empty clusters come up too. Uncentred data (offset)
    # makes the expanded distances round coarsely: the bounds must leave every
    # doubtful row to the full scan. Above 32 features the rows scanned again get
    # their products from BLAS calls of other shapes, which may round a near tie
    # the other way (see bounded_statistics): there the data is centred, as the
    # estimator centres it, and rounding stays far below the gaps.
    if d > 32:
        offset = 0.0
    rng = np.random.default_rng(seed)
    k = min(k, n)
    if integer:
        X = rng.integers(-3, 4, size=(n, d)).astype(dtype)
    else:
        X = (rng.normal(size=(n, d)) * rng.uniform(0.1, 10.0, size=d)).astype(dtype)
    X += dtype(offset)
    w = np.ones(n, dtype=dtype)
    if weighted:
        w = rng.choice([0.0, 0.5, 1.0, 3.0], size=n).astype(dtype)
        w[0] = 1.0
    centers = X[rng.choice(n, size=k, replace=False)].copy()
    _run_side_by_side(X, w, centers, 6, unit_weight=not weighted)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 4, 7, 13, 21])
@pytest.mark.parametrize("d, d4", [(6, None), (6, 8), (13, 16)])
def test_nearest_two_of_a_tile_is_the_smallest_pair_with_ties_to_the_lower_index(dtype, k, d, d4):
    # d4 None: the blocked loop; else the written-out kernel of that padded width.
    from kmix.kernels.compiled import kmeans_bounded, kmeans_tiles, kmeans_unrolled

    rng = np.random.default_rng(k + d)
    m = 37
    X = rng.integers(-3, 4, size=(m, d)).astype(dtype)  # small integers: many exact ties
    centers = rng.integers(-3, 4, size=(k, d)).astype(dtype)
    if k > 2:
        centers[k - 1] = centers[0]  # the same centre twice
    norms = np.einsum("ij,ij->i", centers, centers).astype(dtype)
    scaled_t, padded = passes.padded_centers(centers * dtype(-2), norms, narrow=False, features=d4)
    rows_t = np.zeros((scaled_t.shape[0], m + 3), dtype=dtype)
    rows_t[:d, :m] = X.T
    acc = np.empty((4, m + 3), dtype=dtype)
    values = np.empty((scaled_t.shape[1], m + 3), dtype=dtype)
    for j in range(0, scaled_t.shape[1], 4):
        kmeans_tiles._four_values(rows_t, m, scaled_t, padded, j, acc)
        values[j:j + 4] = acc
    values = values[:, :m]
    kernel = kmeans_bounded._nearest_two if d4 is None else kmeans_unrolled.nearest_two_kernel(d4)
    best = np.full(m + 3, 5, dtype=dtype)
    second = np.full(m + 3, 5, dtype=dtype)
    label = np.full(m + 3, -2, dtype=np.int32)
    kernel(rows_t, m, scaled_t, padded, best, label, second, acc)
    ordered = np.sort(values, axis=0)
    np.testing.assert_array_equal(label[:m], np.argmin(values, axis=0))  # first index among equals
    np.testing.assert_array_equal(best[:m], ordered[0])
    np.testing.assert_array_equal(second[:m], ordered[1] if values.shape[0] > 1 else np.inf)
    assert k < 3 or np.any(second[:m] == best[:m])  # the duplicated centre made ties
    # the columns past m are left as they were
    assert np.all(best[m:] == 5) and np.all(second[m:] == 5) and np.all(label[m:] == -2)


def test_bounded_pass_takes_the_written_out_kernel_of_its_width():
    from kmix.kernels.compiled import kmeans_bounded, kmeans_unrolled

    for dtype in (np.float64, np.float32):
        for d4 in kmeans_unrolled.UNROLLED_WIDTHS:
            argument = kmeans_bounded.nearest_two_argument(d4, dtype)
            assert argument.dispatcher is kmeans_unrolled.nearest_two_kernel(d4)
        for d4 in (4, 12, 20):
            assert kmeans_bounded.nearest_two_argument(d4, dtype).dispatcher is kmeans_bounded._nearest_two
        # A pass that scans in float32 first leaves only rows in doubt to its own
        # kernel: the blocked loop, whatever the width (the same values).
        for d4 in (4, 8, 16):
            argument = kmeans_bounded.nearest_two_argument(d4, dtype, written_out=False)
            assert argument.dispatcher is kmeans_bounded._nearest_two
            assert argument is kmeans_bounded.nearest_two_argument(8, dtype, written_out=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 2, 5, 8, 11])
def test_argmins_of_products_are_the_smallest_with_ties_to_the_lower_index(dtype, k):
    from kmix.kernels.compiled import kmeans_bounded, kmeans_lloyd

    rng = np.random.default_rng(10 + k)
    m, offset = 45, 3
    dots = rng.integers(-4, 5, size=(k, m + offset)).astype(dtype)  # many exact ties
    norms = rng.integers(-2, 3, size=k).astype(dtype)
    values = (dots + norms[:, None])[:, offset:]
    ordered = np.sort(values, axis=0)
    best = np.empty(m, dtype=dtype)
    label = np.empty(m, dtype=np.int32)
    kmeans_lloyd._argmin_tile(dots, offset, m, norms, best, label)  # columns offset .. offset + m
    np.testing.assert_array_equal(label, np.argmin(values, axis=0))
    np.testing.assert_array_equal(best, ordered[0])
    second = np.empty(m, dtype=dtype)
    contiguous = np.ascontiguousarray(dots[:, offset:])
    kmeans_bounded._argmin_two(contiguous, m, norms, best, label, second)
    np.testing.assert_array_equal(label, np.argmin(values, axis=0))
    np.testing.assert_array_equal(best, ordered[0])
    np.testing.assert_array_equal(second, ordered[1] if k > 1 else np.inf)
    assert k < 5 or np.any(second == best)


@pytest.mark.parametrize("d", [5, 40])  # scans by the compiled loop; by BLAS products
def test_one_centre_and_many_take_the_same_compiled_pass(rng, d):
    from kmix.kernels.compiled import kmeans_bounded

    compiled = kmeans_bounded.bounded_gemm_pass if d > 32 else kmeans_bounded.bounded_fused_pass
    X = rng.normal(size=(500, d))
    x_norms = np.einsum("ij,ij->i", X, X)
    w = np.ones(500)
    for k in (3, 1):
        centers = X[:k].copy()
        labels, _, _ = passes.bounded_statistics(X, w, centers, x_norms, None, np.zeros(500))
        before = len(compiled.signatures)
        passes.bounded_statistics(X, w, centers * 1.01, x_norms, labels, np.zeros(500),
                                  bounds.bound_drops(centers, centers * 1.01))
        if k == 3:
            signatures = len(compiled.signatures)
        else:
            assert len(compiled.signatures) == before == signatures


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_branch_free_bound_test_keeps_the_rows_the_branching_one_keeps(rng, dtype):
    """``_keep_rows`` takes the branch-free test for a block of rows after a block
    that left many to scan: both tests must keep the same rows with the same
    bounds. About half the rows keep their label, some only by the gap from their
    centre to the nearest other; the first 600 keep theirs, so ``_keep_rows``
    starts with the branching test and then turns to the branch-free one."""
    from kmix.kernels.compiled import kmeans_settle as settle

    n, d, k = 3000, 8, 12
    X = rng.normal(size=(n, d)).astype(dtype)
    centers = rng.normal(size=(k, d)).astype(dtype)
    labels = rng.integers(0, k, size=n).astype(np.int32)
    x_norms = kk.squared_norms(X)
    slack_scale = 8.0 * (d + 4) * float(np.finfo(dtype).eps)
    max_center_norm = float(kk.squared_norms(centers).max())
    slack = slack_scale * (x_norms.astype(np.float64) + max_center_norm)
    drop = rng.uniform(0.0, 0.5, size=k)

    def keep(function, *block, lower, separation):
        bounds = lower.copy()
        kept, distances, own = (np.full(n, -1, dtype=np.int32), np.full(n, -1, dtype=dtype),
                                np.full(n, -1, dtype=dtype))
        pending = np.full(n, -1, dtype=np.int64)
        count = function(X, 0, *block, centers, labels, bounds, drop, separation, slack_scale,
                         x_norms, max_center_norm, kept, distances, own, pending)
        is_kept = np.ones(n, dtype=bool)
        is_kept[pending[:count]] = False
        return count, pending[:count], bounds, kept[is_kept], distances[is_kept], own, is_kept

    # Rows 700-709 and 800-803 are within the rounding slack of the bound test and
    # of the gap test (half the slack over their distance): they stay to be scanned.
    labels[700:710] = k - 1
    labels[800:804] = np.arange(4)
    unset = np.zeros(n)
    own = np.sqrt(keep(settle._keep_branching, 0, n, 0, lower=unset,
                       separation=np.zeros(k))[5].astype(np.float64))
    separation = rng.uniform(0.0, 2.5 * own.mean(), size=k)
    lower = own * rng.uniform(0.3, 1.5, size=n) + drop[labels]
    lower[:600] = 10.0 * own[:600] + drop[labels[:600]] + 1.0
    separation[k - 1] = 0.0  # no gap keeps rows 700-709
    near = np.arange(700, 710)
    lower[near] = np.sqrt(own[near] ** 2 + slack[near] / 2) / settle._DOWN + drop[k - 1]
    lower[800:804] = 0.0
    for c, i in enumerate(range(800, 804)):
        separation[c] = np.sqrt(own[i] ** 2 + slack[i] / 2) / settle._DOWN + own[i]

    branching = keep(settle._keep_branching, 0, n, 0, lower=lower, separation=separation)
    count, pending, bounds, kept, distances, _, is_kept = branching
    assert not np.any(is_kept[700:710]) and not np.any(is_kept[800:804])
    assert 0.3 * n < count < 0.7 * n
    assert (is_kept & (lower - drop[labels] <= own)).sum() > 50  # kept by the gap
    np.testing.assert_array_equal(kept, labels[is_kept])
    assert np.all(bounds[is_kept] > own[is_kept])  # nearer its centre than any other
    np.testing.assert_array_equal(bounds[~is_kept], lower[~is_kept])
    for other in (keep(settle._keep_branch_free, 0, n, 0, lower=lower, separation=separation),
                  keep(settle._keep_rows, n, lower=lower, separation=separation)):
        assert other[0] == count
        for mine, theirs in zip(branching[1:], other[1:]):
            np.testing.assert_array_equal(theirs, mine)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_center_separation_is_the_nearest_other_centre_rounded_down(rng, dtype):
    from kmix.kernels.compiled import kmeans_settle as settle

    centers = (rng.normal(size=(30, 5)) * 4.0).astype(dtype)
    centers[7] = centers[3] + dtype(1e-3)  # two close centres
    separation = settle.center_separation(centers)
    exact = np.sqrt((((centers[:, None, :].astype(np.longdouble)
                       - centers[None, :, :].astype(np.longdouble)) ** 2).sum(axis=2)))
    exact[np.arange(30), np.arange(30)] = np.inf
    nearest = exact.min(axis=1)
    assert np.all(separation <= nearest)
    assert np.all(separation >= nearest * (1 - 2e-12))
    np.testing.assert_array_equal(settle.center_separation(centers[:1]), [np.inf])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_loop_lowers_the_bounds_as_run_lloyd_does(rng, dtype):
    """The compiled bounded loop's drops are ``bound_drops(center_movement)`` to the
    last bit (so both give the same bounds), with a tie for the largest movement
    and for one centre; with 40 features too, where a pairwise sum of the squares
    would differ from the loop's running sum."""
    from kmix.kernels.compiled import kmeans_loop

    for k, d in ((1, 6), (2, 6), (9, 6), (9, 40), (64, 40)):
        old = rng.normal(size=(k, d)).astype(dtype)
        new = (old + rng.normal(scale=0.1, size=(k, d))).astype(dtype)
        if k >= 9:
            new[2] = old[2] + (new[2] - old[2]) * 40  # the largest movement
            old[5], new[5] = old[2], new[2]  # and the same again
        drops = np.full(k, -1.0)
        kmeans_loop._movement_drops(old, new, drops)
        np.testing.assert_array_equal(drops, bounds.bound_drops(old, new))
        if k >= 9:
            assert bounds.center_movement(old, new)[2] == bounds.center_movement(old, new)[5]
