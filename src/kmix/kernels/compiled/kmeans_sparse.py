"""Compiled k-means kernels (numba) for sparse rows in CSR form.

A row is its stored values ``data[indptr[i]:indptr[i + 1]]`` at the columns
``indices[...]``. Its products with every centre come from the centres transposed
and scaled, ``scaled_t = -2 C.T`` of shape (d, k): each stored value adds itself
times one contiguous row of ``scaled_t`` into k running values, so the work is
(stored values x k), along contiguous memory, and the implicit zeros cost nothing.
Each centre's running value is added to in the order of the row's stored values,
the same order in which :func:`_product` computes a single centre's value: the
bounded pass's distance to a row's own centre is, bit for bit, the one the full
scan would give.

Distances are ``||c||² - 2 x·c`` for the argmin (ties to the lower index), plus
``||x||²`` for the distance, as in the dense passes. The parallel loops run over
fixed chunks of rows (``chunk_rows``, chosen by the caller from the shapes only)
and keep their partial sums per chunk, added in chunk order; the per-cluster sums
are added by one thread per cluster, rows in row order. No result depends on the
number of threads.

Nothing here is compiled with fast-math flags: the bounded pass relies on the
products being rounded exactly as written.
"""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from numba import njit, prange

from . import prange_only

__all__ = [
    "row_squared_norms",
    "column_summary",
    "assign_pass",
    "group_rows",
    "cluster_sums",
    "squared_distances",
    "seeding_potentials",
    "seeding_update",
]

# A bound moved down is multiplied by this (as in the dense bounded pass): it stays
# below the exact value whatever the rounding of the subtraction.
_DOWN = 1.0 - 2.0**-50


# --- the data's own numbers ------------------------------------------------------------


@njit(parallel=prange_only(), cache=True)
def row_squared_norms(data, indptr, chunk_rows, out):  # pragma: no cover - compiled
    """out[i] = sum of the squares of row i's stored values, added in float64 and
    rounded once to out's dtype. Written: out (n,)."""
    n = out.shape[0]
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    for c in prange(n_chunks):
        start = c * chunk_rows
        stop = min(start + chunk_rows, n)
        for i in range(start, stop):
            total = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                value = np.float64(data[p])
                total += value * value
            out[i] = total


@njit(cache=True)
def column_summary(data, indices, indptr, sums, squares, low, high, counts):  # pragma: no cover
    """Per column, over the stored values (one pass, no temporaries): their sum and
    sum of squares in float64, their least and largest value, their number. Stops
    at the first value that is not finite and returns its position in ``data``
    (-1 when every value is finite).

    Written: sums, squares (d,) float64, zeroed first; low, high (d,) float64,
    set to +inf and -inf first; counts (d,) int64, zeroed first.
    """
    d = sums.shape[0]
    for f in range(d):
        sums[f] = 0.0
        squares[f] = 0.0
        low[f] = np.inf
        high[f] = -np.inf
        counts[f] = 0
    for p in range(indptr[indptr.shape[0] - 1]):
        value = np.float64(data[p])
        if not np.isfinite(value):
            return p
        f = indices[p]
        sums[f] += value
        squares[f] += value * value
        low[f] = min(low[f], value)
        high[f] = max(high[f], value)
        counts[f] += 1
    return -1


# --- products of one row with the centres ------------------------------------------------


@njit(cache=True)
def _products(data, indices, start, stop, scaled_t, acc):  # pragma: no cover - compiled
    """acc[j] = sum over the row's stored values v at column f of v * scaled_t[f, j],
    added in stored order (two values per sweep over the k centres, each centre's
    additions still in that order). Written: acc (k,)."""
    k = acc.shape[0]
    for j in range(k):
        acc[j] = 0
    p = start
    while p + 1 < stop:
        v0 = data[p]
        v1 = data[p + 1]
        r0 = scaled_t[indices[p]]
        r1 = scaled_t[indices[p + 1]]
        for j in range(k):
            acc[j] = (acc[j] + v0 * r0[j]) + v1 * r1[j]
        p += 2
    if p < stop:
        v0 = data[p]
        r0 = scaled_t[indices[p]]
        for j in range(k):
            acc[j] += v0 * r0[j]


@njit(cache=True)
def _product(data, indices, start, stop, scaled_t, j):  # pragma: no cover - compiled
    """``acc[j]`` of :func:`_products` alone, to the last bit (the same additions in
    the same order, from the same +0)."""
    total = scaled_t[0, 0] - scaled_t[0, 0]  # +0 of the centres' dtype
    for p in range(start, stop):
        total += data[p] * scaled_t[indices[p], j]
    return total


@njit(cache=True)
def _nearest_two(acc, center_norms):  # pragma: no cover - compiled
    """The smallest ``acc[j] + center_norms[j]`` (the lowest index on ties), its
    index and the second smallest value (float64; +inf for one centre)."""
    best = acc[0] + center_norms[0]
    label = 0
    second = np.inf
    for j in range(1, acc.shape[0]):
        value = acc[j] + center_norms[j]
        if value < best:
            second = best
            best = value
            label = j
        elif value < second:
            second = value
    return best, label, second


# --- the assignment pass (plain, or with Hamerly's bounds) ------------------------------------


@njit(parallel=prange_only(), cache=True)
def assign_pass(data, indices, indptr, x_norms, sample_weight, unit_weight, scaled_t, center_norms,
                previous_labels, has_previous, bounded, lower, drops, separation, slack_scale,
                slack_base, max_center_norm, chunk_rows, labels, min_distances, chunk_scalars,
                chunk_rescanned):  # pragma: no cover - compiled
    """Nearest centre, its distance and the scalar statistics of every row.

    Parameters
    ----------
    data, indices, indptr : the CSR arrays of X (n rows)
    x_norms : ndarray (n,), X's dtype: squared norms of the rows
    sample_weight : ndarray (n,), X's dtype; not read if ``unit_weight``
    scaled_t : ndarray (d, k), X's dtype, C-contiguous: ``-2 * centers.T``
    center_norms : ndarray (k,), X's dtype
    previous_labels : ndarray (n,) int32, read if ``has_previous``
    bounded : bool
        Keep Hamerly's bounds in ``lower``: with ``has_previous``, a row whose
        bound (moved down by ``drops`` of its previous cluster) or half the gap to
        its centre's nearest other centre (``separation``) exceeds its distance to
        its previous centre by more than the rounding slack keeps its label
        without a scan; every other row is scanned and its bound set.
    lower : ndarray (n,) float64, written if ``bounded``
    drops, separation : ndarray (k,) float64, read if ``bounded`` and ``has_previous``
    slack_scale, slack_base, max_center_norm : float
        The rounding slack of row i's distances is ``(slack_base + slack_scale *
        stored_i) * (x_norms[i] + max_center_norm)``.
    chunk_rows : int, rows per chunk of partial statistics
    labels : ndarray (n,) int32, written
    min_distances : ndarray (n,), X's dtype, written
    chunk_scalars : ndarray (n_chunks, 3) float64, written: per chunk the SSD, the
        SSD of the previous labels, the number of changed labels
    chunk_rescanned : ndarray (n_chunks,) int64, written: rows scanned in full
    """
    n = labels.shape[0]
    k = center_norms.shape[0]
    n_chunks = chunk_scalars.shape[0]
    for c in prange(n_chunks):
        start = c * chunk_rows
        stop = min(start + chunk_rows, n)
        acc = np.empty(k, dtype=scaled_t.dtype)
        ssd = 0.0
        ssd_previous = 0.0
        changed = 0
        rescanned = 0
        for i in range(start, stop):
            p0 = indptr[i]
            p1 = indptr[i + 1]
            norm = x_norms[i]
            weight = 1.0 if unit_weight else np.float64(sample_weight[i])
            slack = (slack_base + slack_scale * (p1 - p0)) * (np.float64(norm) + max_center_norm)
            a = 0
            if has_previous:
                a = previous_labels[i]
            kept = False
            label = 0
            distance = norm - norm
            previous_distance = distance
            if bounded and has_previous:
                own = _product(data, indices, p0, p1, scaled_t, a) + center_norms[a] + norm
                own = own if own > 0 else own - own
                own64 = np.float64(own)
                bound = (lower[i] - drops[a]) * _DOWN
                kept = bound > 0 and bound * bound - own64 > slack
                if not kept:
                    # Triangle inequality: every other centre is at least
                    # separation[a] - ||x - c_a|| from x.
                    gap = (separation[a] - np.sqrt(own64)) * _DOWN
                    if gap > bound:
                        bound = gap
                        kept = gap > 0 and gap * gap - own64 > slack
                if kept:
                    lower[i] = bound
                    label = a
                    distance = own
                    previous_distance = own
            if not kept:
                _products(data, indices, p0, p1, scaled_t, acc)
                best, label, second = _nearest_two(acc, center_norms)
                distance = best + norm
                # Rounding of the expanded form can go below zero, a distance cannot.
                distance = distance if distance > 0 else distance - distance
                if has_previous:
                    value = acc[a] + center_norms[a] + norm
                    previous_distance = value if value > 0 else value - value
                if bounded:
                    reach = second + np.float64(norm) - slack
                    lower[i] = np.sqrt(reach) if reach > 0 else 0.0
                rescanned += 1
            labels[i] = label
            min_distances[i] = distance
            ssd += weight * np.float64(distance)
            if has_previous:
                ssd_previous += weight * np.float64(previous_distance)
                changed += label != a
        chunk_scalars[c, 0] = ssd
        chunk_scalars[c, 1] = ssd_previous
        chunk_scalars[c, 2] = changed
        chunk_rescanned[c] = rescanned


# --- the per-cluster sums -----------------------------------------------------------------------


@njit(cache=True)
def group_rows(labels, indptr, k, starts, members, loads):  # pragma: no cover - compiled
    """The rows of each cluster, in row order: ``members[starts[j]:starts[j + 1]]``
    are the rows labelled j (a counting sort), and ``loads[j]`` their number plus
    their stored values (the work of adding them up).
    Written: starts (k + 1,), members (n,), loads (k,) int64."""
    n = labels.shape[0]
    for j in range(k + 1):
        starts[j] = 0
    for j in range(k):
        loads[j] = 0
    for i in range(n):
        starts[labels[i] + 1] += 1
        loads[labels[i]] += indptr[i + 1] - indptr[i] + 1
    for j in range(k):
        starts[j + 1] += starts[j]
    filled = starts[:k].copy()
    for i in range(n):
        j = labels[i]
        members[filled[j]] = i
        filled[j] += 1


@njit(parallel=prange_only(), cache=True)
def cluster_sums(data, indices, indptr, sample_weight, unit_weight, starts, members, worker_starts,
                 weight_sums, sums):  # pragma: no cover - compiled
    """Each cluster's total weight and weighted sum of its rows, in float64.

    Clusters ``worker_starts[w] .. worker_starts[w + 1]`` go to worker w; each
    cluster's sums are added by one worker, its rows in row order, so the result
    does not depend on how the clusters are shared out. Written: weight_sums (k,),
    sums (k, d), both overwritten.
    """
    n_workers = worker_starts.shape[0] - 1
    for w in prange(n_workers):
        for j in range(worker_starts[w], worker_starts[w + 1]):
            row = sums[j]
            for f in range(row.shape[0]):
                row[f] = 0.0
            total = 0.0
            for q in range(starts[j], starts[j + 1]):
                i = members[q]
                if unit_weight:
                    total += 1.0
                    for p in range(indptr[i], indptr[i + 1]):
                        row[indices[p]] += np.float64(data[p])
                else:
                    weight = np.float64(sample_weight[i])
                    total += weight
                    for p in range(indptr[i], indptr[i + 1]):
                        row[indices[p]] += weight * np.float64(data[p])
            weight_sums[j] = total


# --- every distance (transform) -------------------------------------------------------------------


@njit(parallel=prange_only(), cache=True)
def squared_distances(data, indices, indptr, x_norms, scaled_t, center_norms, chunk_rows,
                      out):  # pragma: no cover - compiled
    """out[i, j] = ||x_i||² - 2 x_i·c_j + ||c_j||², never negative, in X's dtype.
    Written: out (n, k)."""
    n, k = out.shape
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    for c in prange(n_chunks):
        start = c * chunk_rows
        stop = min(start + chunk_rows, n)
        acc = np.empty(k, dtype=scaled_t.dtype)
        for i in range(start, stop):
            _products(data, indices, indptr[i], indptr[i + 1], scaled_t, acc)
            norm = x_norms[i]
            for j in range(k):
                value = acc[j] + center_norms[j] + norm
                out[i, j] = value if value > 0 else value - value


# --- k-means++ ------------------------------------------------------------------------------------


@njit(parallel=prange_only(), cache=True)
def seeding_potentials(data, indices, indptr, x_norms, sample_weight, closest, scaled_t,
                       candidate_norms, chunk_rows, potentials):  # pragma: no cover - compiled
    """``potentials[t] = sum_i w_i min(closest_i, ||x_i - c_t||²)`` for the
    candidates ``scaled_t = -2 * candidates.T`` (d, t) with squared norms
    ``candidate_norms`` (t,), X's dtype; sample_weight and closest (n,) float64.
    Per chunk of rows, then the chunks in order. Written: potentials (t,) float64."""
    n = closest.shape[0]
    t = candidate_norms.shape[0]
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    partial = np.zeros((n_chunks, t))
    for c in prange(n_chunks):
        start = c * chunk_rows
        stop = min(start + chunk_rows, n)
        acc = np.empty(t, dtype=scaled_t.dtype)
        part = partial[c]
        for i in range(start, stop):
            _products(data, indices, indptr[i], indptr[i + 1], scaled_t, acc)
            norm = x_norms[i]
            for j in range(t):
                value = acc[j] + candidate_norms[j] + norm
                value = value if value > 0 else value - value
                part[j] += sample_weight[i] * min(np.float64(value), closest[i])
    for j in range(t):
        potentials[j] = 0.0
    for c in range(n_chunks):
        for j in range(t):
            potentials[j] += partial[c, j]


@njit(parallel=prange_only(), cache=True)
def seeding_update(data, indices, indptr, x_norms, scaled_center, center_norm, chunk_rows,
                   closest):  # pragma: no cover - compiled
    """closest_i = min(closest_i, ||x_i - c||²) for a new centre given as
    ``scaled_center = -2 c`` (d,) and its squared norm, X's dtype. Written: closest
    (n,) float64."""
    n = closest.shape[0]
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    for c in prange(n_chunks):
        start = c * chunk_rows
        stop = min(start + chunk_rows, n)
        for i in range(start, stop):
            total = scaled_center[0] - scaled_center[0]
            for p in range(indptr[i], indptr[i + 1]):
                total += data[p] * scaled_center[indices[p]]
            value = total + center_norm + x_norms[i]
            value = value if value > 0 else value - value
            closest[i] = min(np.float64(value), closest[i])
