"""Compiled k-means kernels (numba): one pass over the data per Lloyd iteration.

Each pass assigns every row to its nearest centre and, while the row is still in
cache, adds it to the per-cluster sums and the SSDs. The rows are cut into fixed
chunks of ``chunk_rows``; each chunk accumulates its own partial statistics and
the partials are added in chunk order, so the result does not depend on the
number of threads or on how they are scheduled.

Distances are ``||c||² - 2 x·c`` for the argmin (``||x||²`` does not change it),
plus ``||x||²`` for the distance itself, as in :func:`kmix.kernels.kmeans.assign`.
The ``x·c`` products come either from compiled loops over tiles of rows
(:mod:`kmix.kernels.compiled.kmeans_tiles`, or for tiles of 8 and 16 features the
written-out loops of :mod:`kmix.kernels.compiled.kmeans_unrolled`, which the pass
takes as an argument, :func:`nearest_argument`; few features: a GEMM with an inner
dimension of 2 spends its time on overhead) or, for many features, from one
product per chunk, ``-2 C @ X_chunk.T`` of shape (k, rows)
(:func:`kmix.kernels.compiled.dots.chunk_products`): with one centre per
row of that product, the argmin runs along contiguous memory, many rows at a
time.

The caller (:func:`kmix.kernels.kmeans_passes.lloyd_statistics`) chooses the
number of threads; nothing here keeps state between calls.
"""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from numba import njit, prange

from . import prange_only
from .dots import chunk_products
from .elementary import copy_range
from .function_argument import FunctionArgument
from .kmeans_tiles import NARROW_KERNELS, _nearest_blocked
from .kmeans_unrolled import kernel_argument
from .sums import LABEL_LANES, label_lane_sums, lane_dot, lane_total

__all__ = ["center_norms", "fused_pass", "gemm_pass", "nearest_argument"]


# Rows handled together after a chunk's product: a run of FINISH_TILE contiguous values
# per centre, and the running minima stay in L1 (the compiled loops size their
# tiles by fused_tile_rows in kernels/kmeans_passes.py).
FINISH_TILE = 512

# The sums over a tile run in the written-out lanes of .sums (see the package); the
# distances and the argmin are computed exactly as written.


@njit(cache=True)
def center_norms(centers):  # pragma: no cover - compiled
    """Squared norms of the centres, (k,), in their dtype: the features added in
    order, each square rounded. The plain pass and the compiled Lloyd loop
    (:mod:`.kmeans_loop`) both take their norms from here, so a fit gives the same
    numbers through either."""
    k, d = centers.shape
    out = np.empty(k, dtype=centers.dtype)
    for j in range(k):
        total = centers[j, 0] * centers[j, 0]
        for f in range(1, d):
            total += centers[j, f] * centers[j, f]
        out[j] = total
    return out


@njit(cache=True)
def _transpose_rows(X, row0, m, rows_t):  # pragma: no cover - compiled
    """rows_t[:, :m] = X[row0:row0+m].T. Written: rows_t.

    The narrowest widths are written out: for two features, a loop over the
    features costs more than the copy itself.
    """
    d = X.shape[1]  # rows_t may have more (zero) rows: padding
    # Slices indexed by the loop's own counter: an index at an offset (row0 + r)
    # may be negative as far as the compiler knows, and the check that wraps a
    # negative index around keeps such loops out of SIMD instructions.
    rows = X[row0:row0 + m]
    if d == 1:
        first = rows_t[0]
        for r in range(m):
            first[r] = rows[r, 0]
    elif d == 2:
        first, second = rows_t[0], rows_t[1]
        for r in range(m):
            first[r] = rows[r, 0]
            second[r] = rows[r, 1]
    elif d == 3:
        first, second, third = rows_t[0], rows_t[1], rows_t[2]
        for r in range(m):
            first[r] = rows[r, 0]
            second[r] = rows[r, 1]
            third[r] = rows[r, 2]
    else:
        for r in range(m):
            for f in range(d):
                rows_t[f, r] = rows[r, f]


@njit(cache=True)
def _argmin_tile(dots, column0, m, center_norms, best, best_label):  # pragma: no cover
    """Per row r < m: the smallest ``dots[j, column0 + r] + center_norms[j]`` over j
    and its index. Written: best, best_label.

    Vectorised over rows, four centres at a time: their values are compared in
    registers (in centre order), and only the winner of the four against the
    running minimum, so the minimum is read and written once per four centres.
    The strict '<' keeps the lowest index on ties, as numpy's argmin does.
    """
    k = center_norms.shape[0]  # dots may have more (zero) rows: padding
    norm0 = center_norms[0]
    for r in range(m):
        best[r] = dots[0, column0 + r] + norm0
        best_label[r] = 0
    j = 1
    while j + 4 <= k:
        n0 = center_norms[j]
        n1 = center_norms[j + 1]
        n2 = center_norms[j + 2]
        n3 = center_norms[j + 3]
        # Rows of dots as 1-d slices and labels as int32, the labels' own type: the
        # compiler then vectorises the loop (2-d indexing or int64 labels in it
        # keep it scalar).
        d0 = dots[j, column0:column0 + m]
        d1 = dots[j + 1, column0:column0 + m]
        d2 = dots[j + 2, column0:column0 + m]
        d3 = dots[j + 3, column0:column0 + m]
        j0 = np.int32(j)
        j1 = np.int32(j + 1)
        j2 = np.int32(j + 2)
        j3 = np.int32(j + 3)
        for r in range(m):
            value = d0[r] + n0
            label = j0
            v = d1[r] + n1
            closer = v < value
            value = v if closer else value
            label = j1 if closer else label
            v = d2[r] + n2
            closer = v < value
            value = v if closer else value
            label = j2 if closer else label
            v = d3[r] + n3
            closer = v < value
            value = v if closer else value
            label = j3 if closer else label
            current = best[r]
            closer = value < current
            best[r] = value if closer else current
            best_label[r] = label if closer else best_label[r]
        j += 4
    for j in range(j, k):
        norm = center_norms[j]
        row = dots[j, column0:column0 + m]
        label = np.int32(j)
        for r in range(m):
            value = row[r] + norm
            current = best[r]
            closer = value < current
            best[r] = value if closer else current
            best_label[r] = label if closer else best_label[r]


@njit(cache=True)
def _distances(best, best_label, m, row0, x_norms, labels, min_distances):  # pragma: no cover
    """Turn a tile's minima of ``||c||² - 2 x·c`` into squared distances.

    Written: best (the distances), labels and min_distances (rows row0 .. row0+m).
    """
    # 1-d slices, for the reason given in _transpose_rows.
    tile_norms = x_norms[row0:row0 + m]
    tile_distances = min_distances[row0:row0 + m]
    tile_labels = labels[row0:row0 + m]
    for r in range(m):
        # ||x||² added back; rounding of the expanded form can go below zero, a
        # distance cannot (x - x: a zero of X's dtype, +0).
        distance = best[r] + tile_norms[r]
        distance = distance if distance > 0 else distance - distance
        best[r] = distance
        tile_distances[r] = distance
    for r in range(m):
        tile_labels[r] = best_label[r]


@njit(cache=True)
def _previous_distances(dots, column0, m, row0, previous_labels, center_norms, x_norms,
                        best_label, out):  # pragma: no cover - compiled
    """Squared distance of each row of a tile to the current centre of its previous
    label, and the number of rows whose label changed. Written: out[:m]."""
    changed = 0
    for r in range(m):
        i = row0 + r
        previous = previous_labels[i]
        distance = dots[previous, column0 + r] + center_norms[previous] + x_norms[i]
        out[r] = distance if distance > 0 else distance - distance
        changed += previous != best_label[r]
    return changed


@njit(cache=True)
def _add_to_sums(X, row0, m, best_label, sample_weight, weight_sums, sums):  # pragma: no cover
    """Scatter rows row0 .. row0+m, weighted, into their clusters' sums (float64).
    Written: weight_sums (k,), sums (k, d), added to.

    A loop over 2 or 3 features costs more in loop overhead than in additions,
    so the smallest widths are written out.
    """
    d = X.shape[1]
    if d == 1:
        for r in range(m):
            i = row0 + r
            label = best_label[r]
            weight = np.float64(sample_weight[i])
            weight_sums[label] += weight
            sums[label, 0] += weight * np.float64(X[i, 0])
    elif d == 2:
        for r in range(m):
            i = row0 + r
            label = best_label[r]
            weight = np.float64(sample_weight[i])
            weight_sums[label] += weight
            sums[label, 0] += weight * np.float64(X[i, 0])
            sums[label, 1] += weight * np.float64(X[i, 1])
    elif d == 3:
        for r in range(m):
            i = row0 + r
            label = best_label[r]
            weight = np.float64(sample_weight[i])
            weight_sums[label] += weight
            sums[label, 0] += weight * np.float64(X[i, 0])
            sums[label, 1] += weight * np.float64(X[i, 1])
            sums[label, 2] += weight * np.float64(X[i, 2])
    else:
        for r in range(m):
            i = row0 + r
            label = best_label[r]
            weight = np.float64(sample_weight[i])
            weight_sums[label] += weight
            for f in range(d):
                sums[label, f] += weight * np.float64(X[i, f])


@njit(cache=True)
def _finish_tile(dots, column0, m, row0, X, sample_weight, center_norms, x_norms,
                 previous_labels, has_previous, labels, min_distances, best, best_label,
                 scratch, weight_sums, sums, scalars):  # pragma: no cover - compiled
    """Nearest centres and statistics of rows ``row0 .. row0+m`` whose products
    ``-2 x·c`` are ``dots[:, column0 .. column0+m]``.

    Written: labels, min_distances (those rows); best, best_label, scratch (m,);
    weight_sums (k,), sums (k, d), scalars (3,) = ssd, ssd_previous, n_changed,
    all added to.
    """
    _argmin_tile(dots, column0, m, center_norms, best, best_label)
    _distances(best, best_label, m, row0, x_norms, labels, min_distances)
    scalars[0] += lane_dot(sample_weight, row0, best, m)
    if has_previous:
        # Distances first, then their sum in the written-out lanes: each row's
        # distance rounded once, as written, whatever the sum's order.
        scalars[2] += _previous_distances(dots, column0, m, row0, previous_labels, center_norms,
                                          x_norms, best_label, scratch)
        scalars[1] += lane_dot(sample_weight, row0, scratch, m)
    _add_to_sums(X, row0, m, best_label, sample_weight, weight_sums, sums)


@njit(cache=True)
def _merge_chunks(chunk_weight_sums, chunk_sums, chunk_scalars, weight_sums, sums,
                  scalars):  # pragma: no cover - compiled
    """Add the chunks' partial statistics into the totals, in chunk order.

    Written: weight_sums (k,), sums (k, d), scalars (3,), added to.
    """
    for c in range(chunk_weight_sums.shape[0]):
        for j in range(chunk_weight_sums.shape[1]):
            weight_sums[j] += chunk_weight_sums[c, j]
            for f in range(chunk_sums.shape[2]):
                sums[j, f] += chunk_sums[c, j, f]
        for s in range(3):
            scalars[s] += chunk_scalars[c, s]


# --- the pass for few features: products by the tile loops of kmeans_tiles --------

@njit(cache=True)
def _tile_distances(rows_t, m, d, row0, best, best_label, labels, store_distances, min_distances,
                    x_norms):  # pragma: no cover - compiled
    """Squared distances of a tile's rows to their nearest centres: ``best`` plus
    ``||x||²`` (computed here from the tile). Written: x_norms (m,) scratch, best
    (the distances), labels and, if ``store_distances``, min_distances (rows row0 ..
    row0+m)."""
    # 1-d slices throughout, for the reason given in _transpose_rows.
    first = rows_t[0]
    for r in range(m):
        x_norms[r] = first[r] * first[r]
    for f in range(1, d):
        feature = rows_t[f]
        for r in range(m):
            x_norms[r] += feature[r] * feature[r]
    for r in range(m):
        # Rounding of the expanded form can go below zero, a distance cannot
        # (x - x: a zero of X's dtype, +0).
        distance = best[r] + x_norms[r]
        best[r] = distance if distance > 0 else distance - distance
    if store_distances:
        tile_distances = min_distances[row0:row0 + m]
        for r in range(m):
            tile_distances[r] = best[r]
    tile_labels = labels[row0:row0 + m]
    for r in range(m):
        tile_labels[r] = best_label[r]


@njit(cache=True)
def _tile_previous(previous_t, m, previous_value, x_norms, best_label):  # pragma: no cover
    """Squared distances of a tile's rows to the current centres of their previous
    labels (``previous_value`` plus ``||x||²``, written over previous_value) and the
    number of rows whose label changed."""
    changed = 0
    for r in range(m):
        distance = previous_value[r] + x_norms[r]
        previous_value[r] = distance if distance > 0 else distance - distance
        changed += previous_t[r] != best_label[r]
    return changed


@njit(cache=True)
def _add_rows_to_sums(X, row0, m, best_label, weight_sums, sums):  # pragma: no cover
    """Add rows row0 .. row0+m (unit weights) into their clusters' sums (float64).
    Written: weight_sums (k,), sums (k, d), added to."""
    d = X.shape[1]
    if d == 1:
        for r in range(m):
            label = best_label[r]
            weight_sums[label] += 1.0
            sums[label, 0] += np.float64(X[row0 + r, 0])
    elif d == 2:
        for r in range(m):
            label = best_label[r]
            weight_sums[label] += 1.0
            sums[label, 0] += np.float64(X[row0 + r, 0])
            sums[label, 1] += np.float64(X[row0 + r, 1])
    else:
        for r in range(m):
            label = best_label[r]
            weight_sums[label] += 1.0
            for f in range(d):
                sums[label, f] += np.float64(X[row0 + r, f])


@njit(cache=True)
def _lanes_to_sums(lanes, k, weight_sums, sums):  # pragma: no cover - compiled
    """Add the running sums of :func:`.sums.label_lane_sums` (clusters as lanes)
    into ``weight_sums`` (k,) and ``sums`` (k, d)."""
    for j in range(k):
        weight_sums[j] += lanes[0, j]
        for f in range(sums.shape[1]):
            sums[j, f] += lanes[1 + f, j]


@njit(parallel=prange_only(), cache=True)
def fused_pass(nearest, scaled_t, row0, m_block, X, sample_weight, unit_weight, center_norms, k,
               previous_labels, has_previous, chunk_rows, tile, labels, store_distances,
               min_distances, weight_sums, sums, scalars):  # pragma: no cover - compiled
    """One assignment pass over rows ``row0 .. row0 + m_block``, the ``x·c``
    products computed here (few features).

    Parameters
    ----------
    nearest : the nearest-centre kernel of the tiles' width, :func:`nearest_argument`
    scaled_t : ndarray, X's dtype: ``-2 * centers.T``; (d, k) for d <= 3, else
        zero-padded to (d4, k4), multiples of four
    row0, m_block : int
        First row and number of rows.
    X : ndarray (n, d), float32 or float64, C-contiguous
    sample_weight : ndarray (n,), X's dtype; not read if ``unit_weight``
    center_norms : ndarray (k,) or (k4,), X's dtype; padded centres +inf
    k : int, the number of centres (without padding)
    previous_labels : ndarray (n,) int32, read only if ``has_previous``; may be
        ``labels`` itself (a tile's are read before its labels are written)
    chunk_rows : int
        Rows per chunk of partial statistics.
    tile : int
        Rows per tile (their transpose and partial values stay in L1 cache).
    labels : ndarray (n,) int32, written (the block's rows)
    store_distances : bool
        Whether to write min_distances (a pass of Lloyd's loop needs only the sums).
    min_distances : ndarray (n,), X's dtype, written (the block's rows) if
        ``store_distances``
    weight_sums : ndarray (k,) float64, written (added to)
    sums : ndarray (k, d) float64, written (added to)
    scalars : ndarray (3,) float64, written (added to): ssd, ssd_previous, n_changed
    """
    d = X.shape[1]
    d_rows = scaled_t.shape[0]
    n_chunks = (m_block + chunk_rows - 1) // chunk_rows
    chunk_weight_sums = np.zeros((n_chunks, k))
    chunk_sums = np.zeros((n_chunks, k, d))
    chunk_scalars = np.zeros((n_chunks, 3))
    # Few clusters of few features: the sums as lanes of vectors, not a scatter.
    in_lanes = k <= LABEL_LANES and d <= 3
    for c in prange(n_chunks):
        start = row0 + c * chunk_rows
        stop = min(start + chunk_rows, row0 + m_block)
        rows_t = np.zeros((d_rows, tile), dtype=X.dtype)  # padded features stay zero
        lanes = np.zeros((1 + d, LABEL_LANES))
        acc = np.empty((4, tile), dtype=X.dtype)
        best = np.empty(tile, dtype=X.dtype)
        best_label = np.empty(tile, dtype=np.int32)
        x_norms = np.empty(tile, dtype=X.dtype)
        previous_value = np.zeros(tile, dtype=X.dtype)
        previous_t = np.empty(tile, dtype=np.int32)
        for r in range(tile):  # no labels before: -1 (a loop compiles less than np.full)
            previous_t[r] = -1
        for tile0 in range(start, stop, tile):
            m = min(tile, stop - tile0)
            # The tile transposed, so the loops run along rows (SIMD lanes).
            _transpose_rows(X, tile0, m, rows_t)
            if has_previous:
                copy_range(previous_labels, tile0, m, previous_t, 0)
            nearest(rows_t, m, scaled_t, center_norms, previous_t, best, best_label,
                    previous_value, acc)
            _tile_distances(rows_t, m, d, tile0, best, best_label, labels, store_distances,
                            min_distances, x_norms)
            stats = chunk_scalars[c]
            if unit_weight:
                stats[0] += lane_total(best, m)
            else:
                stats[0] += lane_dot(sample_weight, tile0, best, m)
            if has_previous:
                stats[2] += _tile_previous(previous_t, m, previous_value, x_norms, best_label)
                if unit_weight:
                    stats[1] += lane_total(previous_value, m)
                else:
                    stats[1] += lane_dot(sample_weight, tile0, previous_value, m)
            if in_lanes:
                label_lane_sums(rows_t, m, best_label, sample_weight, tile0, unit_weight, lanes)
            elif unit_weight:
                _add_rows_to_sums(X, tile0, m, best_label, chunk_weight_sums[c], chunk_sums[c])
            else:
                _add_to_sums(X, tile0, m, best_label, sample_weight, chunk_weight_sums[c],
                             chunk_sums[c])
        if in_lanes:
            _lanes_to_sums(lanes, k, chunk_weight_sums[c], chunk_sums[c])
    _merge_chunks(chunk_weight_sums, chunk_sums, chunk_scalars, weight_sums, sums, scalars)


@njit(parallel=prange_only(), cache=True)
def gemm_pass(scaled_centers, row0, m_block, X, sample_weight, center_norms, x_norms,
              previous_labels, has_previous, chunk_rows, labels, min_distances, weight_sums,
              sums, scalars):  # pragma: no cover - compiled
    """One assignment pass over rows ``row0 .. row0 + m_block``, the products of each
    chunk made as one product of matrices (many features): ``-2 C @ X[chunk].T``,
    shape (k, rows), by :func:`.dots.chunk_products` (with AVX-512, each product
    one chain of fused multiply-adds over the features in order, whatever the
    chunk; else BLAS).

    The product of one chunk stays in cache while its argmin and sums are taken.

    ``scaled_centers`` is ``-2 * centers`` transposed, with zero columns to a
    multiple of ``dots.TRANSPOSED_COLUMNS``, shape (d, k'); the other arguments
    are as in :func:`fused_pass`.
    """
    d = X.shape[1]
    k = center_norms.shape[0]
    n_chunks = (m_block + chunk_rows - 1) // chunk_rows
    chunk_weight_sums = np.zeros((n_chunks, k))
    chunk_sums = np.zeros((n_chunks, k, d))
    chunk_scalars = np.zeros((n_chunks, 3))
    for c in prange(n_chunks):
        start = row0 + c * chunk_rows
        stop = min(start + chunk_rows, row0 + m_block)
        dots = chunk_products(X, start, stop - start, scaled_centers)
        best = np.empty(FINISH_TILE, dtype=X.dtype)
        best_label = np.empty(FINISH_TILE, dtype=np.int32)
        scratch = np.empty(FINISH_TILE, dtype=X.dtype)
        for column0 in range(0, stop - start, FINISH_TILE):
            m = min(FINISH_TILE, stop - start - column0)
            _finish_tile(
                dots, column0, m, start + column0, X, sample_weight, center_norms, x_norms,
                previous_labels, has_previous, labels, min_distances, best, best_label, scratch,
                chunk_weight_sums[c], chunk_sums[c], chunk_scalars[c],
            )
    _merge_chunks(chunk_weight_sums, chunk_sums, chunk_scalars, weight_sums, sums, scalars)


def nearest_argument(features: int, dtype) -> FunctionArgument:
    """The nearest-centre kernel :func:`fused_pass` takes for tiles of ``features``
    rows (1 to 3 features as they are, else a padded width) of ``dtype``: the
    narrow kernel of that count (:mod:`.kmeans_tiles`), the written-out kernel of
    that width (:mod:`.kmeans_unrolled`) or the blocked loop. Each is compiled only
    when a run asks for its width; the written-out kernels and the blocked loop give
    the same values, so the same labels, distances and statistics, bit for bit."""
    return kernel_argument(False, features, dtype, NARROW_KERNELS.get(features, _nearest_blocked))
