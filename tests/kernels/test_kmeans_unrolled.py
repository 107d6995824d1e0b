"""The written-out nearest-centre kernels (kmeans_unrolled) and the plain passes
built on them, bit for bit against the blocked loop and the generic pass."""

import numpy as np
import pytest

from kmix.kernels import kmeans as kk
from kmix.kernels import kmeans_passes as passes
from kmix.kernels.compiled import kmeans_lloyd, kmeans_tiles, kmeans_unrolled
from kmix.kernels.compiled.function_argument import FunctionArgument

WIDTHS = list(kmeans_unrolled.UNROLLED_WIDTHS)


def _tile(rng, d, k, dtype):
    """A transposed tile, padded centres (with a duplicate centre: ties) and
    previous labels (-1: none) as the pass hands them to the kernels."""
    itemsize = np.dtype(dtype).itemsize
    d4 = passes.plain_pass_width(d)
    tile = passes.fused_tile_rows(d4, itemsize)
    X = rng.normal(size=(tile, d)).astype(dtype)
    centers = X[rng.choice(tile, size=k, replace=False)] + rng.normal(scale=0.3, size=(k, d)).astype(dtype)
    if k > 3:
        centers[3] = centers[1]
    scaled_t, norms = passes.padded_centers(centers * dtype(-2), kk.squared_norms(centers),
                                            features=d4)
    rows_t = np.zeros((scaled_t.shape[0], tile), dtype=dtype)
    rows_t[:d] = X.T
    # Half the rows equal a centre: their value is decided by rounding alone.
    rows_t[:d, ::2] = centers[rng.integers(0, k, size=(tile + 1) // 2)].T
    previous = rng.integers(-1, k, size=tile).astype(np.int32)
    return rows_t, scaled_t, norms, previous


def _nearest(kernel, rows_t, m, scaled_t, norms, previous):
    tile = rows_t.shape[1]
    dtype = rows_t.dtype
    best = np.full(tile, 7, dtype=dtype)
    label = np.full(tile, -5, dtype=np.int32)
    value = np.full(tile, 3, dtype=dtype)
    kernel(rows_t, m, scaled_t, norms, previous, best, label, value, np.empty((4, tile), dtype=dtype))
    return best, label, value


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d4", WIDTHS)
def test_written_out_kernel_equals_the_blocked_loop(rng, d4, dtype):
    kernel = kmeans_unrolled.nearest_kernel(d4)
    assert kernel is not None
    for d in (d4 // 2 + 1, d4):  # the least and the most features padded to d4
        for k in (1, 4, 8, 12, 21):
            rows_t, scaled_t, norms, previous = _tile(rng, d, k, dtype)
            m = rows_t.shape[1] - 5  # a part of the tile; the rest must stay as it was
            fast = _nearest(kernel, rows_t, m, scaled_t, norms, previous)
            blocked = _nearest(kmeans_tiles._nearest_blocked, rows_t, m, scaled_t, norms, previous)
            for a, b in zip(fast, blocked):
                np.testing.assert_array_equal(a, b)
            assert np.all(fast[1][m:] == -5)
            assert np.all((fast[1][:m] >= 0) & (fast[1][:m] < k))


def test_widths_without_a_kernel():
    assert [passes.plain_pass_width(d) for d in (1, 3, 4, 8, 9, 16, 17, 30)] == [1, 3, 8, 8, 16, 16, 20, 32]
    for dtype in (np.float64, np.float32):
        for d4 in (4, 12, 20):
            assert kmeans_unrolled.nearest_kernel(d4) is None
            assert kmeans_lloyd.nearest_argument(d4, dtype).dispatcher is kmeans_tiles._nearest_blocked
        # 1 to 3 features: a kernel per count, so a run compiles only its own.
        for d in (1, 2, 3):
            assert kmeans_unrolled.nearest_kernel(d) is None
            assert (kmeans_lloyd.nearest_argument(d, dtype).dispatcher
                    is getattr(kmeans_tiles, f"_nearest_narrow_{d}"))
        for d4 in WIDTHS:
            argument = kmeans_lloyd.nearest_argument(d4, dtype)
            assert argument.dispatcher is kmeans_unrolled.nearest_kernel(d4)
            assert argument is kmeans_lloyd.nearest_argument(d4, dtype)  # made once


def _pass(nearest, X, w, centers, previous, unit_weight):
    n, d = X.shape
    k = centers.shape[0]
    scaled_t, norms = passes.padded_centers(centers * X.dtype.type(-2), kk.squared_norms(centers),
                                            features=passes.plain_pass_width(d))
    tile = passes.fused_tile_rows(scaled_t.shape[0], X.dtype.itemsize)
    labels = np.empty(n, dtype=np.int32)
    distances = np.empty(n, dtype=X.dtype)
    weight_sums, sums, scalars = np.zeros(k), np.zeros((k, d)), np.zeros(3)
    has_previous = previous is not None
    previous = previous if has_previous else np.zeros(0, dtype=np.int32)
    kmeans_lloyd.fused_pass(nearest, scaled_t, 0, n, X, w, unit_weight, norms, k, previous,
                            has_previous, 1024, tile, labels, True, distances, weight_sums, sums,
                            scalars)
    return labels, distances, weight_sums, sums, scalars


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [4, 11])
def test_pass_of_a_width_equals_the_generic_pass(rng, d, dtype):
    n, k = 3000, 11
    X = rng.normal(size=(n, d)).astype(dtype)
    w = rng.uniform(0.5, 2.0, size=n).astype(dtype)
    centers = X[rng.choice(n, size=k, replace=False)]
    previous = rng.integers(0, k, size=n).astype(np.int32)
    width = kmeans_lloyd.nearest_argument(passes.plain_pass_width(d), dtype)
    assert width.dispatcher is not kmeans_tiles._nearest_blocked
    # The blocked loop at the same padded width, passed to the same compiled pass.
    blocked = FunctionArgument(kmeans_tiles._nearest_blocked, kmeans_unrolled.nearest_signature(dtype))
    for unit_weight in (True, False):
        for prev in (None, previous):
            fast = _pass(width, X, w, centers, prev, unit_weight)
            generic = _pass(blocked, X, w, centers, prev, unit_weight)
            # The same values, hence every output bit for bit (the SSDs included: one
            # compiled pass adds them for every kernel).
            for a, b in zip(fast, generic):
                np.testing.assert_array_equal(a, b)


