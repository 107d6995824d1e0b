"""Compiled k-means kernels (numba): one pass over the data per Lloyd iteration.

Each pass assigns every row to its nearest centre and, while the row is still in
cache, adds it to the per-cluster sums and the SSDs. The rows are cut into fixed
chunks of ``chunk_rows``; each chunk accumulates its own partial statistics and
the partials are added in chunk order, so the result does not depend on the
number of threads or on how they are scheduled.

Distances are ``||c||² - 2 x·c`` for the argmin (``||x||²`` does not change it),
plus ``||x||²`` for the distance itself, as in :func:`kmix.kernels.kmeans.assign`.
The ``x·c`` products come either from a loop compiled here (few features: a GEMM
with an inner dimension of 2 spends its time on overhead) or from a BLAS product
per chunk, ``-2 C @ X_chunk.T`` of shape (k, rows): with one centre per row of
that product, the argmin runs along contiguous memory, many rows at a time.

Every function is compiled with ``cache=True``: a short command-line run loads the
machine code from disk instead of compiling it again.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import numba
import numpy as np
from numba import njit, prange

__all__ = ["fused_pass", "gemm_pass", "seeding_potentials", "seeding_update", "threads_for"]


# Rows handled together by the vectorised inner loops. Small-d kernel: the (k, TILE)
# products and the transposed rows stay in L1 cache. After a BLAS product: a run of
# FINISH_TILE contiguous values per centre, and the running minima stay in L1.
TILE = 256
FINISH_TILE = 512

# The sums over a tile are reductions: with "reassoc" LLVM may add them in SIMD
# lanes, in an order fixed by the compiled code (the same on every run), instead
# of one long chain of dependent additions. Only these helpers get the flag: the
# distances and the argmin are computed exactly as written.
_REDUCE = {"reassoc", "nsz"}


_pool_lock = threading.Lock()
_pool_started = False  # process state: numba's thread pool is started once


def start_threads() -> None:
    """Start numba's thread pool with OpenMP's passive wait, unless the user chose.

    With the default (active) policy, the threads of a finished parallel region spin
    before they sleep. On a two-core machine busy with other work, that spinning
    takes the cores from the threads still working: a K1 Lloyd pass (bench/) took
    three times as long as with passive waiting; on an idle machine the two measured
    the same within noise (a pass is one parallel region: one wake-up). The
    environment is set only while the pool and its OpenMP runtime start, then
    restored, so OpenMP runtimes loaded later never see it.
    """
    global _pool_started
    if _pool_started:
        return
    with _pool_lock:
        if _pool_started:
            return
        from numba.np.ufunc import parallel

        chosen = "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ
        if not chosen:
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        try:
            parallel._launch_threads()
        finally:
            if not chosen:
                del os.environ["OMP_WAIT_POLICY"]
        _pool_started = True


@contextlib.contextmanager
def threads_for(n_chunks: int) -> Iterator[None]:
    """Run the compiled kernels inside on at most ``n_chunks`` of numba's threads
    (a small X on the calling thread alone), the pool started as above."""
    start_threads()
    threads = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, n_chunks)))
    try:
        yield
    finally:
        numba.set_num_threads(threads)


@njit(cache=True)
def _transpose_rows(X, row0, m, rows_t):  # pragma: no cover - compiled
    """rows_t[:, :m] = X[row0:row0+m].T. Written: rows_t.

    The narrowest widths are written out: for two features, a loop over the
    features costs more than the copy itself.
    """
    d = X.shape[1]
    if d == 1:
        for r in range(m):
            rows_t[0, r] = X[row0 + r, 0]
    elif d == 2:
        for r in range(m):
            rows_t[0, r] = X[row0 + r, 0]
            rows_t[1, r] = X[row0 + r, 1]
    elif d == 3:
        for r in range(m):
            rows_t[0, r] = X[row0 + r, 0]
            rows_t[1, r] = X[row0 + r, 1]
            rows_t[2, r] = X[row0 + r, 2]
    else:
        for r in range(m):
            for f in range(d):
                rows_t[f, r] = X[row0 + r, f]


@njit(cache=True)
def _products_tile(rows_t, m, scaled_centers_t, dots):  # pragma: no cover - compiled
    """dots[j, :m] = -2 c_j · x_r for the rows of a tile (rows_t: their transpose).
    Written: dots.

    Vectorised over rows. For up to three features each centre's products are one
    expression (one pass over the tile instead of one per feature).
    """
    d = rows_t.shape[0]
    k = scaled_centers_t.shape[1]
    if d == 1:
        for j in range(k):
            s0 = scaled_centers_t[0, j]
            for r in range(m):
                dots[j, r] = rows_t[0, r] * s0
    elif d == 2:
        for j in range(k):
            s0 = scaled_centers_t[0, j]
            s1 = scaled_centers_t[1, j]
            for r in range(m):
                dots[j, r] = rows_t[0, r] * s0 + rows_t[1, r] * s1
    elif d == 3:
        for j in range(k):
            s0 = scaled_centers_t[0, j]
            s1 = scaled_centers_t[1, j]
            s2 = scaled_centers_t[2, j]
            for r in range(m):
                dots[j, r] = rows_t[0, r] * s0 + rows_t[1, r] * s1 + rows_t[2, r] * s2
    else:
        for j in range(k):
            for r in range(m):
                dots[j, r] = 0
            for f in range(d):
                scaled = scaled_centers_t[f, j]
                for r in range(m):
                    dots[j, r] += rows_t[f, r] * scaled


@njit(cache=True)
def _argmin_tile(dots, column0, m, center_norms, best, best_label):  # pragma: no cover
    """Per row r < m: the smallest ``dots[j, column0 + r] + center_norms[j]`` over j
    and its index. Written: best, best_label.

    Vectorised over rows: one centre at a time, keep the smaller value. The strict
    '<' keeps the lowest index on ties, as numpy's argmin does.
    """
    k = dots.shape[0]
    norm0 = center_norms[0]
    for r in range(m):
        best[r] = dots[0, column0 + r] + norm0
        best_label[r] = 0
    for j in range(1, k):
        norm = center_norms[j]
        for r in range(m):
            value = dots[j, column0 + r] + norm
            current = best[r]
            closer = value < current
            best[r] = value if closer else current
            best_label[r] = j if closer else best_label[r]


@njit(cache=True)
def _distances(best, best_label, m, row0, x_norms, labels, min_distances):  # pragma: no cover
    """Turn a tile's minima of ``||c||² - 2 x·c`` into squared distances.

    Written: best (the distances), labels and min_distances (rows row0 .. row0+m).
    """
    for r in range(m):
        # ||x||² added back; rounding of the expanded form can go below zero, a
        # distance cannot (x - x: a zero of X's dtype, +0).
        distance = best[r] + x_norms[row0 + r]
        distance = distance if distance > 0 else distance - distance
        best[r] = distance
        min_distances[row0 + r] = distance
    for r in range(m):
        labels[row0 + r] = best_label[r]


@njit(cache=True, fastmath=_REDUCE)
def _weighted_sum(values, m, row0, sample_weight):  # pragma: no cover - compiled
    """sum_r w[row0 + r] * values[r] over r < m, in float64."""
    total = 0.0
    for r in range(m):
        total += np.float64(sample_weight[row0 + r]) * np.float64(values[r])
    return total


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
    scalars[0] += _weighted_sum(best, m, row0, sample_weight)
    if has_previous:
        # Distances first, then their sum: only the order of the additions is left
        # to the compiler, never the rounding of one row's distance.
        scalars[2] += _previous_distances(dots, column0, m, row0, previous_labels, center_norms,
                                          x_norms, best_label, scratch)
        scalars[1] += _weighted_sum(scratch, m, row0, sample_weight)
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


@njit(parallel=True, cache=True)
def fused_pass(scaled_centers_t, row0, m_block, X, sample_weight, center_norms, x_norms,
               previous_labels, has_previous, chunk_rows, labels, min_distances, weight_sums,
               sums, scalars):  # pragma: no cover - compiled
    """One assignment pass over rows ``row0 .. row0 + m_block``, the ``x·c``
    products computed here (few features).

    Parameters
    ----------
    scaled_centers_t : ndarray (d, k), X's dtype: ``-2 * centers.T``
    row0, m_block : int
        First row and number of rows.
    X : ndarray (n, d), float32 or float64, C-contiguous
    sample_weight, x_norms : ndarray (n,), X's dtype
    center_norms : ndarray (k,), X's dtype
    previous_labels : ndarray (n,) int32, read only if ``has_previous``
    chunk_rows : int
        Rows per chunk of partial statistics.
    labels : ndarray (n,) int32, written (the block's rows)
    min_distances : ndarray (n,), X's dtype, written (the block's rows)
    weight_sums : ndarray (k,) float64, written (added to)
    sums : ndarray (k, d) float64, written (added to)
    scalars : ndarray (3,) float64, written (added to): ssd, ssd_previous, n_changed
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
        dots = np.empty((k, TILE), dtype=X.dtype)
        rows_t = np.empty((d, TILE), dtype=X.dtype)
        best = np.empty(TILE, dtype=X.dtype)
        best_label = np.empty(TILE, dtype=np.int32)
        scratch = np.empty(TILE, dtype=X.dtype)
        for tile0 in range(start, stop, TILE):
            m = min(TILE, stop - tile0)
            # The tile transposed, so the loops below run along rows (SIMD lanes).
            _transpose_rows(X, tile0, m, rows_t)
            _products_tile(rows_t, m, scaled_centers_t, dots)
            _finish_tile(
                dots, 0, m, tile0, X, sample_weight, center_norms, x_norms, previous_labels,
                has_previous, labels, min_distances, best, best_label, scratch, chunk_weight_sums[c],
                chunk_sums[c], chunk_scalars[c],
            )
    _merge_chunks(chunk_weight_sums, chunk_sums, chunk_scalars, weight_sums, sums, scalars)


@njit(parallel=True, cache=True)
def gemm_pass(scaled_centers, row0, m_block, X, sample_weight, center_norms, x_norms,
              previous_labels, has_previous, chunk_rows, labels, min_distances, weight_sums,
              sums, scalars):  # pragma: no cover - compiled
    """One assignment pass over rows ``row0 .. row0 + m_block``, the products of each
    chunk made by BLAS (many features): ``-2 C @ X[chunk].T``, shape (k, rows).

    Each thread makes its own chunk's product, so the caller must limit BLAS to one
    thread (two thread pools on the same cores wait for each other). The product
    of one chunk stays in cache while its argmin and sums are taken.

    ``scaled_centers`` is ``-2 * centers``, shape (k, d); the other arguments are
    as in :func:`fused_pass`.
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
        dots = np.dot(scaled_centers, X[start:stop].T)
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


# --- k-means++ seeding ------------------------------------------------------------


@njit(cache=True)
def _seeding_tile(rows_t, m, row0, x_norms, scaled_t, candidate_norms, j, dots):  # pragma: no cover
    """dots[:m] = squared distances (X's dtype, >= 0) of rows row0 .. row0+m (their
    transpose in rows_t) to candidate j, ``scaled_t[:, j]`` being -2 times it.
    Written: dots."""
    d = rows_t.shape[0]
    for r in range(m):
        dots[r] = 0
    for f in range(d):
        scaled = scaled_t[f, j]
        for r in range(m):
            dots[r] += rows_t[f, r] * scaled
    norm = candidate_norms[j]
    for r in range(m):
        distance = dots[r] + norm + x_norms[row0 + r]
        dots[r] = distance if distance > 0 else distance - distance


@njit(parallel=True, cache=True)
def seeding_potentials(X, x_norms, sample_weight, closest, scaled_t, candidate_norms,
                       chunk_rows, potentials):  # pragma: no cover - compiled
    """The potential of each candidate centre: ``potentials[j] = sum_i w_i
    min(closest_i, ||x_i - c_j||²)``, without an (n_candidates, n) temporary.

    Parameters
    ----------
    X : ndarray (n, d), C-contiguous; x_norms : ndarray (n,), X's dtype
    sample_weight : ndarray (n,) float64
    closest : ndarray (n,) float64, squared distance to the nearest centre so far
    scaled_t : ndarray (d, t), X's dtype: -2 times the candidates, transposed
    candidate_norms : ndarray (t,), X's dtype
    chunk_rows : int, rows per chunk of partial sums
    potentials : ndarray (t,) float64, written
    """
    n, d = X.shape
    t = scaled_t.shape[1]
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    partial = np.zeros((n_chunks, t))
    for c in prange(n_chunks):
        start = c * chunk_rows
        stop = min(start + chunk_rows, n)
        rows_t = np.empty((d, TILE), dtype=X.dtype)
        dots = np.empty(TILE, dtype=X.dtype)
        nearest = np.empty(TILE)
        for tile0 in range(start, stop, TILE):
            m = min(TILE, stop - tile0)
            _transpose_rows(X, tile0, m, rows_t)
            for j in range(t):
                _seeding_tile(rows_t, m, tile0, x_norms, scaled_t, candidate_norms, j, dots)
                for r in range(m):
                    nearest[r] = min(np.float64(dots[r]), closest[tile0 + r])
                partial[c, j] += _weighted_sum(nearest, m, tile0, sample_weight)
    for j in range(t):
        potentials[j] = 0.0
    for c in range(n_chunks):
        for j in range(t):
            potentials[j] += partial[c, j]


@njit(parallel=True, cache=True)
def seeding_update(X, x_norms, scaled_t, center_norm, chunk_rows, closest):  # pragma: no cover
    """closest_i = min(closest_i, ||x_i - c||²) for the new centre c.

    ``scaled_t`` is -2c as a (d, 1) array and ``center_norm`` c's norm, shape (1,).
    Written: closest (n,) float64.
    """
    n, d = X.shape
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    for c in prange(n_chunks):
        start = c * chunk_rows
        stop = min(start + chunk_rows, n)
        rows_t = np.empty((d, TILE), dtype=X.dtype)
        dots = np.empty(TILE, dtype=X.dtype)
        for tile0 in range(start, stop, TILE):
            m = min(TILE, stop - tile0)
            _transpose_rows(X, tile0, m, rows_t)
            _seeding_tile(rows_t, m, tile0, x_norms, scaled_t, center_norm, 0, dots)
            for r in range(m):
                closest[tile0 + r] = min(np.float64(dots[r]), closest[tile0 + r])
