"""Compiled kernels that prepare a fit (numba): centring with the column sums and
ranges, the column moments of a chunk (the chunked backends' first pass), and
k-means++ seeding.

They share the tiles and the blocked products of :mod:`.kmeans_lloyd` and
:mod:`.kmeans_tiles` (rows transposed per tile, four candidates by four features at
a time) and, like them, keep partial sums per fixed chunk of rows added in chunk
order, so that no result depends on the number of threads. Every function is
compiled with ``cache=True``.
"""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from numba import njit, prange

from . import REASSOCIATE, prange_only
from .kmeans_lloyd import _transpose_rows
from .kmeans_tiles import _four_values
from .sums import lane_dot

__all__ = ["seeding_potentials", "seeding_update", "cumulative_potential", "column_sums", "center_rows",
           "column_deviations"]


# --- k-means++ seeding ------------------------------------------------------------


@njit(parallel=prange_only(), cache=True)
def seeding_potentials(X, x_norms, sample_weight, closest, scaled_t, candidate_norms, n_candidates,
                       chunk_rows, tile, potentials):  # pragma: no cover - compiled
    """The potential of each candidate centre: ``potentials[j] = sum_i w_i
    min(closest_i, ||x_i - c_j||²)``, without an (n_candidates, n) temporary.

    Parameters
    ----------
    X : ndarray (n, d), C-contiguous; x_norms : ndarray (n,), X's dtype
    sample_weight : ndarray (n,) float64
    closest : ndarray (n,) float64, squared distance to the nearest centre so far
    scaled_t : ndarray (d4, t4), X's dtype: -2 times the candidates, transposed,
        zero-padded to multiples of four (as :func:`fused_pass` takes its centres)
    candidate_norms : ndarray (t4,), X's dtype; padded candidates +inf
    n_candidates : int, t (without padding)
    chunk_rows, tile : int, rows per chunk of partial sums and per tile
    potentials : ndarray (t,) float64, written
    """
    n, d = X.shape
    d4, t4 = scaled_t.shape
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    partial = np.zeros((n_chunks, t4))
    for c in prange(n_chunks):
        start = c * chunk_rows
        stop = min(start + chunk_rows, n)
        rows_t = np.zeros((d4, tile), dtype=X.dtype)  # padded features stay zero
        acc = np.empty((4, tile), dtype=X.dtype)
        nearest = np.empty(tile)
        for tile0 in range(start, stop, tile):
            m = min(tile, stop - tile0)
            _transpose_rows(X, tile0, m, rows_t)
            # 1-d slices indexed by the loop's own counter, not two-dimensional
            # indices or indices at an offset: see kmeans_lloyd._transpose_rows.
            tile_norms = x_norms[tile0:tile0 + m]
            tile_closest = closest[tile0:tile0 + m]
            for j in range(0, t4, 4):
                _four_values(rows_t, m, scaled_t, candidate_norms, j, acc)
                for q in range(min(4, n_candidates - j)):
                    values = acc[q]
                    for r in range(m):
                        distance = values[r] + tile_norms[r]
                        distance = np.float64(distance if distance > 0 else distance - distance)
                        so_far = tile_closest[r]
                        nearest[r] = so_far if so_far < distance else distance
                    partial[c, j + q] += lane_dot(sample_weight, tile0, nearest, m)
    for j in range(n_candidates):
        potentials[j] = 0.0
    for c in range(n_chunks):
        for j in range(n_candidates):
            potentials[j] += partial[c, j]


# Inlined (numba IR) into seeding_update, its one caller, which is compiled with the
# same flags: its additions, left to the compiler ("reassoc", SIMD lanes), then exist
# in one compiled copy only, and no process can reach a copy that rounds otherwise
# (see the package).
@njit(cache=True, fastmath=REASSOCIATE, inline="always")
def _update_rows(X, start, stop, center, closest):  # pragma: no cover - compiled
    """closest_i = min(closest_i, ||x_i - c||²) for rows start .. stop, the distance
    measured directly (one centre: no products to share), its additions in SIMD
    lanes. Written: closest."""
    d = X.shape[1]
    for i in range(start, stop):
        total = X[i, 0] - X[i, 0]
        for f in range(d):
            t = X[i, f] - center[f]
            total += t * t
        closest[i] = min(np.float64(total), closest[i])


@njit(parallel=prange_only(), cache=True, fastmath=REASSOCIATE)
def seeding_update(X, center, chunk_rows, closest):  # pragma: no cover - compiled
    """closest_i = min(closest_i, ||x_i - c||²) for the new centre c, shape (d,),
    X's dtype. Written: closest (n,) float64."""
    n = X.shape[0]
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    for c in prange(n_chunks):
        start = c * chunk_rows
        _update_rows(X, start, min(start + chunk_rows, n), center, closest)


@njit(cache=True)
def cumulative_potential(sample_weight, closest, out):  # pragma: no cover - compiled
    """out[i] = sum over rows j <= i of sample_weight[j] * closest[j], added one row
    after the other: ``np.cumsum(sample_weight * closest)`` to the last bit, without
    its temporaries. Written: out (n,) float64."""
    total = 0.0
    for i in range(closest.shape[0]):
        total += sample_weight[i] * closest[i]
        out[i] = total


# --- centring ------------------------------------------------------------------------


@njit(parallel=prange_only(), cache=True)
def column_sums(X, chunk_rows, sums, low, high):  # pragma: no cover - compiled
    """sums[f] = sum_i X[i, f] in float64, by chunks added in chunk order (row
    after row within a chunk, as numpy's sum along axis 0), and the column minima
    and maxima (a NaN is skipped by them, but makes its column's sum NaN).
    Written: sums, low, high (d,) float64."""
    n, d = X.shape
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    partial = np.zeros((n_chunks, d))
    partial_low = np.full((n_chunks, d), np.inf)
    partial_high = np.full((n_chunks, d), -np.inf)
    for c in prange(n_chunks):
        start = c * chunk_rows
        stop = min(start + chunk_rows, n)
        if d <= 4:
            # A column at a time, in locals: with the partial sums in an array, each
            # row's addition would wait for the last row's store to it. The same
            # additions in the same order.
            for f in range(d):
                total = 0.0
                least = np.inf
                most = -np.inf
                for i in range(start, stop):
                    value = np.float64(X[i, f])
                    total += value
                    least = value if value < least else least
                    most = value if value > most else most
                partial[c, f] = total
                partial_low[c, f] = least
                partial_high[c, f] = most
            continue
        part, part_low, part_high = partial[c], partial_low[c], partial_high[c]
        for i in range(start, stop):
            for f in range(d):
                value = np.float64(X[i, f])
                part[f] += value
                part_low[f] = value if value < part_low[f] else part_low[f]
                part_high[f] = value if value > part_high[f] else part_high[f]
    for f in range(d):
        sums[f] = 0.0
        low[f] = np.inf
        high[f] = -np.inf
    for c in range(n_chunks):
        for f in range(d):
            sums[f] += partial[c, f]
            low[f] = min(low[f], partial_low[c, f])
            high[f] = max(high[f], partial_high[c, f])


@njit(parallel=prange_only(), cache=True)
def center_rows(X, offset, chunk_rows, out, x_norms):  # pragma: no cover - compiled
    """out = X - offset and x_norms[i] = ||out[i]||², in parallel; returns the
    sum of x_norms in float64 (chunks added in order).

    Written: out (n, d), x_norms (n,), both X's dtype. Each thread writes its own
    rows first, so the new pages are touched (and mapped) in parallel too.
    """
    n, d = X.shape
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    partial = np.zeros(n_chunks)
    for c in prange(n_chunks):
        start = c * chunk_rows
        stop = min(start + chunk_rows, n)
        total = 0.0
        for i in range(start, stop):
            norm = X[i, 0] - X[i, 0]  # a zero of X's dtype
            for f in range(d):
                value = X[i, f] - offset[f]
                out[i, f] = value
                norm += value * value
            x_norms[i] = norm
            total += np.float64(norm)
        partial[c] = total
    total = 0.0
    for c in range(n_chunks):
        total += partial[c]
    return total


# --- column moments of a chunk (the first pass of chunked data) ------------------------


@njit(cache=True, nogil=True)
def column_deviations(X, mean, m2):  # pragma: no cover - compiled
    """m2[f] = Σ_i (X[i, f] - mean[f])² in float64, row after row. Written: m2 (d,).
    Releases the GIL."""
    n, d = X.shape
    for f in range(d):
        m2[f] = 0.0
    for i in range(n):
        for f in range(d):
            deviation = np.float64(X[i, f]) - mean[f]
            m2[f] += deviation * deviation
