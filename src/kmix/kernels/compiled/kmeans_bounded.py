"""Compiled k-means kernels (numba) for the bounded pass: Lloyd's iteration that
skips the rows whose nearest centre provably has not changed (Hamerly's bounds).

Per row the pass keeps a lower bound on the distance to every centre but its
own. After the centres move, the bound drops by the largest movement of another
centre; the distance to the row's own centre is computed exactly (O(d)). When the
bound (or half the gap from the own centre to the nearest other centre, by the
triangle inequality) exceeds that distance by more than the rounding of the
distances can explain, the row keeps its label; otherwise its distances to all
centres are computed as in the plain pass (:mod:`.kmeans_lloyd`), by the same
compiled loops, and it takes the nearest, its bound the second nearest. With
many features (a full scan is a product of the gathered rows with every centre)
a row is first measured against the centres near its own only (the rest are
provably farther) and against the few centres that moved most, and scanned in
full only if that leaves a doubt; with few, the
compiled loop's full scan (a tile of rows at a time, in SIMD lanes) is the
cheaper way. Which rows go to a full scan is decided in :mod:`.kmeans_settle`.
On float64 data the full scan runs in float32 first (twice the products a
second): a row whose two nearest values are further apart than float32's rounding
can explain takes that label, the plain pass's; the rest are scanned again in
float64.

Sums are added in the plain pass's order (rows in order within fixed chunks,
chunks merged in order), so the per-cluster sums do not depend on which rows
were skipped or on the thread count.
"""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from numba import njit, prange

from . import CONTRACT, prange_only
from .dots import chunk_products
from .elementary import copy_range
from .function_argument import FunctionArgument
from .kmeans_lloyd import (
    _add_rows_to_sums,
    _add_to_sums,
    _merge_chunks,
)
from .kmeans_settle import _direct_distance, _rows_to_scan
from .kmeans_tiles import _four_values
from .kmeans_unrolled import kernel_argument, nearest_two_signature
from .sums import lane_dot, lane_total

__all__ = ["bounded_fused_pass", "bounded_gemm_pass", "nearest_listed", "nearest_two_argument"]


@njit(cache=True, fastmath=CONTRACT)
def _nearest_two(rows_t, m, scaled_t, center_norms, best, best_label, second,
                 acc):  # pragma: no cover - compiled
    """Smallest and second smallest ``||c||² - 2 x·c`` of each row of a tile (columns
    ``:m`` of the zero-padded transpose ``rows_t``), the products computed exactly
    as in the plain pass. Written: best, best_label, second (m,), acc (4, m) scratch.

    The strict '<' keeps the lowest index on ties, as the plain pass does; a tie
    makes ``second`` equal to ``best`` (the row is then scanned again next time).

    Each four centres' values are first reduced among themselves (the smallest,
    its index, the second smallest), then merged with the running pair: fewer
    compare-and-selects than updating the pair four times.
    """
    k4 = scaled_t.shape[1]
    for r in range(m):
        best[r] = np.inf
        second[r] = np.inf
        best_label[r] = 0
    for j in range(0, k4, 4):
        _four_values(rows_t, m, scaled_t, center_norms, j, acc)
        for r in range(m):
            v0 = acc[0, r]
            v1 = acc[1, r]
            v2 = acc[2, r]
            v3 = acc[3, r]
            first = v1 < v0  # ties go to the lower index throughout
            low01 = v1 if first else v0
            high01 = v0 if first else v1
            label01 = j + 1 if first else j
            first = v3 < v2
            low23 = v3 if first else v2
            high23 = v2 if first else v3
            label23 = j + 3 if first else j + 2
            first = low23 < low01
            least = low23 if first else low01
            label = label23 if first else label01
            # The second smallest of the four: the larger of the two pairs' minima,
            # or the smaller of their maxima.
            runner = low01 if first else low23
            high = high23 if high23 < high01 else high01
            runner = high if high < runner else runner
            value = best[r]
            closer = least < value
            a = value if closer else second[r]
            b = runner if closer else least
            second[r] = b if b < a else a
            best_label[r] = label if closer else best_label[r]
            best[r] = least if closer else value


@njit(cache=True)
def _argmin_two(dots, m, center_norms, best, best_label, second):  # pragma: no cover
    """The same for a chunk's products (:func:`.dots.chunk_products`): ``dots[j, r]
    + center_norms[j]``, r < m, j < k (dots may have more, zero, rows: padding),
    compared as the plain pass's ``_argmin_tile`` does. Written: best, best_label,
    second (m,).

    Four centres at a time, reduced among themselves first as in
    :func:`_nearest_two`, rows of dots as 1-d slices and labels as int32 (so the
    loop vectorises). The reduction is written out here and in
    :func:`_nearest_two`: as a shared helper (inlined, returning tuples) it keeps
    the compiler from vectorising either loop.
    """
    k = center_norms.shape[0]
    norm0 = center_norms[0]
    first_row = dots[0]
    for r in range(m):
        best[r] = first_row[r] + norm0
        second[r] = np.inf
        best_label[r] = 0
    j = 1
    while j + 4 <= k:
        n0 = center_norms[j]
        n1 = center_norms[j + 1]
        n2 = center_norms[j + 2]
        n3 = center_norms[j + 3]
        d0 = dots[j]
        d1 = dots[j + 1]
        d2 = dots[j + 2]
        d3 = dots[j + 3]
        j0 = np.int32(j)
        j1 = np.int32(j + 1)
        j2 = np.int32(j + 2)
        j3 = np.int32(j + 3)
        for r in range(m):
            v0 = d0[r] + n0
            v1 = d1[r] + n1
            v2 = d2[r] + n2
            v3 = d3[r] + n3
            first = v1 < v0  # ties go to the lower index throughout
            low01 = v1 if first else v0
            high01 = v0 if first else v1
            label01 = j1 if first else j0
            first = v3 < v2
            low23 = v3 if first else v2
            high23 = v2 if first else v3
            label23 = j3 if first else j2
            first = low23 < low01
            least = low23 if first else low01
            label = label23 if first else label01
            runner = low01 if first else low23
            high = high23 if high23 < high01 else high01
            runner = high if high < runner else runner
            value = best[r]
            closer = least < value
            a = value if closer else second[r]
            b = runner if closer else least
            second[r] = b if b < a else a
            best_label[r] = label if closer else best_label[r]
            best[r] = least if closer else value
        j += 4
    for j in range(j, k):
        norm = center_norms[j]
        row = dots[j]
        label = np.int32(j)
        for r in range(m):
            v = row[r] + norm
            value = best[r]
            other = second[r]
            closer = v < value
            second[r] = value if closer else (v if v < other else other)
            best_label[r] = label if closer else best_label[r]
            best[r] = v if closer else value


# Rows whose squared norm is at least this are never scanned in float32: below it,
# with the centres' norms below it too (the caller's condition), no product or sum
# of a float32 scan overflows (|x·c| <= ||x|| ||c|| < 2^100).
SINGLE_NORM_LIMIT = 2.0**100
# Underflow (values or products below 2^-126) adds an error that does not scale
# with the norms: at most a few d·2^-149 (1 + ||x|| + ||c||). This covers it for any
# d below 2^40, and settles nothing less than a real tie on data of any scale.
_UNDERFLOW = 2.0**-100


@njit(cache=True)
def _settle_single(X, start, pending, p0, t, found, best, second, single_slack, centers, x_norms,
                   max_center_norm, chunk_labels, distances, lower, still):  # pragma: no cover
    """Which of the rows ``pending[p0:p0 + t]`` (offsets from ``start``), whose
    smallest and second smallest float32 values are ``best[q]`` (centre
    ``found[q]``) and ``second[q]``, are settled. A settled row gets its label, its
    distance (measured directly, in X's dtype) and its bound; the others are written
    back to ``pending`` from ``still`` on (never past where they were read), and the
    new count is returned.

    Why it is safe: each float32 value is within E of the exact one (the callers say
    how much), and the plain pass's values within its own slack of it.
    ``single_slack (||x||² + max ||c||²)``, and a floor for underflow, covers twice
    both, many times over: when the second value exceeds the smallest by more,
    every other centre is farther in exact arithmetic by more than the plain pass's
    rounding, so the plain pass picks the same centre, and the second value less
    the slack bounds the distance to every other centre from below. Near ties, and
    rows too large for float32, are left to the scan in X's dtype.
    """
    for q in range(t):
        r = pending[p0 + q]
        i = start + r
        norm = np.float64(x_norms[i])
        slack = single_slack * (norm + max_center_norm) + _UNDERFLOW
        low = np.float64(best[q])
        high = np.float64(second[q])
        if norm < SINGLE_NORM_LIMIT and high - low > slack:
            label = found[q]
            chunk_labels[r] = label
            distances[r] = _direct_distance(X, i, centers, label)
            bound = high + norm - slack
            lower[i] = np.sqrt(bound) if bound > 0 else 0.0
        else:
            pending[still] = r
            still += 1
    return still


@njit(cache=True)
def _scan_single(X, start, count, pending, scaled_single, single_slack, centers, center_norms,
                 x_norms, max_center_norm, single, best, found, second, chunk_labels, distances,
                 lower):  # pragma: no cover - compiled
    """The full scan of the pending rows (offsets from ``start``) in float32 products
    (:func:`.dots.chunk_products`), each row settled or not by
    :func:`_settle_single`. The rows it leaves stay in ``pending`` (compacted) for
    the scan in X's dtype; their number is
    returned. Each float32 value ``||c||² - 2 x·c`` is within (d + 2)·2^-24·(||x||² +
    ||c||²) of the exact one (the rounding of x and c to float32 and of the
    products' sum). Written: pending, chunk_labels, distances, lower; single (rows,
    d) float32 and best, found, second are scratch.
    """
    for q in range(count):
        copy_range(X[start + pending[q]], 0, X.shape[1], single[q], 0)
    dots = chunk_products(single, 0, count, scaled_single)
    _argmin_two(dots, count, center_norms, best, found, second)
    return _settle_single(X, start, pending, 0, count, found, best, second, single_slack, centers,
                          x_norms, max_center_norm, chunk_labels, distances, lower, 0)


@njit(cache=True)
def _gather_tile(X, start, pending, p0, t, rows_t):  # pragma: no cover - compiled
    """Rows ``start + pending[p0:p0 + t]`` of X side by side and transposed into the
    first t columns of ``rows_t`` (converted to its dtype). Written: rows_t."""
    for q in range(t):
        i = start + pending[p0 + q]
        for f in range(X.shape[1]):
            rows_t[f, q] = X[i, f]


@njit(cache=True)
def _scan_single_tiles(nearest_single, X, start, count, pending, scaled_single_t, single_norms,
                       single_slack, centers, x_norms, max_center_norm, tile, chunk_labels,
                       distances, lower):  # pragma: no cover - compiled
    """:func:`_scan_single` for the compiled loop's full scans: the pending rows a
    tile at a time, transposed into float32, scanned by ``nearest_single`` (the
    float32 kernel of the tiles' width) with ``scaled_single_t`` and
    ``single_norms``, the centres as the pass pads them, rounded to float32. Each
    value, summed in float32 from the rounded norm, is within (d + 4)·2^-23·(||x||²
    + ||c||²) of the exact one. Written as there; the rows left in ``pending`` are
    returned."""
    rows_t = np.zeros((scaled_single_t.shape[0], tile), dtype=np.float32)
    acc = np.empty((4, tile), dtype=np.float32)
    best = np.empty(tile, dtype=np.float32)
    second = np.empty(tile, dtype=np.float32)
    found = np.empty(tile, dtype=np.int32)
    still = 0
    for p0 in range(0, count, tile):
        t = min(tile, count - p0)
        _gather_tile(X, start, pending, p0, t, rows_t)
        nearest_single(rows_t, t, scaled_single_t, single_norms, best, found, second, acc)
        still = _settle_single(X, start, pending, p0, t, found, best, second, single_slack,
                               centers, x_norms, max_center_norm, chunk_labels, distances, lower,
                               still)
    return still


@njit(cache=True)
def _finish_chunk(X, start, m, sample_weight, unit_weight, previous_labels, initial,
                  chunk_labels, distances, previous_distances, labels, min_distances, stats,
                  weight_sums, sums):  # pragma: no cover - compiled
    """Labels, distances and statistics of a chunk whose rows all have their label.

    Written: labels, min_distances (rows start .. start + m); stats (3,) = ssd,
    ssd_previous, n_changed, weight_sums (k,), sums (k, d), all added to. The sums
    are added in row order, as the plain pass adds them: the same sums to the last
    bit.
    """
    copy_range(chunk_labels, 0, m, labels, start)
    copy_range(distances, 0, m, min_distances, start)
    if unit_weight:
        stats[0] += lane_total(distances, m)
    else:
        stats[0] += lane_dot(sample_weight, start, distances, m)
    if not initial:
        changed = 0
        before = previous_labels[start:start + m]
        for r in range(m):
            changed += chunk_labels[r] != before[r]
        stats[2] += changed
        if unit_weight:
            stats[1] += lane_total(previous_distances, m)
        else:
            stats[1] += lane_dot(sample_weight, start, previous_distances, m)
    if unit_weight:
        _add_rows_to_sums(X, start, m, chunk_labels, weight_sums, sums)
    else:
        _add_to_sums(X, start, m, chunk_labels, sample_weight, weight_sums, sums)


@njit(parallel=prange_only(), cache=True)
def bounded_fused_pass(nearest_two, scaled_t, nearest_single, scaled_single_t, single_norms,
                       single_slack, centers, row0, m_block, X, sample_weight, unit_weight,
                       center_norms, k, x_norms, previous_labels, initial, lower, drop,
                       separation, slack_scale, max_center_norm, neighbour_order,
                       neighbour_distances, upward, chunk_rows, tile, labels, min_distances,
                       weight_sums, sums, scalars, rescanned):  # pragma: no cover - compiled
    """One bounded assignment pass over rows ``row0 .. row0 + m_block``, the
    products of rescanned rows computed here (few features).

    Parameters
    ----------
    nearest_two : the full scan's kernel for the tiles' width, :func:`nearest_two_argument`
    scaled_t : ndarray (d4, k4), X's dtype: ``-2 * centers.T`` zero-padded to
        multiples of four
    nearest_single, scaled_single_t, single_norms, single_slack : for a float64 X,
        the float32 kernel of the same width, ``scaled_t`` and ``center_norms``
        rounded to float32: the rows to scan are then scanned in float32 first
        (:func:`_scan_single_tiles`), and only those it leaves in doubt in float64.
        ``scaled_single_t`` None (float32 data) or with no columns: no float32 scan.
    centers : ndarray (k, d), X's dtype
    X : ndarray (n, d), C-contiguous; sample_weight (n,), not read if ``unit_weight``
    center_norms : ndarray (k4,), padded centres +inf
    x_norms : ndarray (n,), squared norms of the rows of X
    previous_labels : ndarray (n,) int32: the labels the bounds belong to (read
        unless ``initial``)
    initial : bool
        No bounds yet: every row is scanned (and its bound set).
    lower : ndarray (n,) float64, written: lower bounds on the distance to every
        centre but the row's own
    drop : ndarray (k,) float64: how far the bound of a row of each cluster falls
        (the largest movement of any other centre)
    separation : ndarray (k,) float64: distance from each centre to the nearest other
    slack_scale : float, max_center_norm : float: the rounding slack (see
        ``_keep_rows``)
    neighbour_order : ndarray (k, m) int32, neighbour_distances : ndarray (k, m)
        float64: each centre's m nearest other centres, nearest first, and their
        distances rounded down (m = 0: no neighbour scans)
    upward : float, see ``_neighbour_scan``
    labels : ndarray (n,) int32, written
    min_distances : ndarray (n,), X's dtype, written: each row's squared distance to
        its centre (needed only when a cluster is empty, but cheaper to write than
        to recompute then)
    weight_sums (k,), sums (k, d), scalars (3,) float64, written (added to): as in
        the plain pass (ssd, ssd_previous, n_changed)
    rescanned : ndarray (1,) int64, written (added to): rows whose distances to all
        centres were computed
    """
    d = X.shape[1]
    d_rows = scaled_t.shape[0]
    n_chunks = (m_block + chunk_rows - 1) // chunk_rows
    chunk_weight_sums = np.zeros((n_chunks, k))
    chunk_sums = np.zeros((n_chunks, k, d))
    chunk_scalars = np.zeros((n_chunks, 3))
    chunk_rescanned = np.zeros(n_chunks, dtype=np.int64)
    # No centres measured apart: a tile's full scan costs a row a few direct distances.
    no_movers = np.zeros(0, dtype=np.int32)
    for c in prange(n_chunks):
        start = row0 + c * chunk_rows
        stop = min(start + chunk_rows, row0 + m_block)
        m = stop - start
        rows_t = np.zeros((d_rows, tile), dtype=X.dtype)  # padded features stay zero
        acc = np.empty((4, tile), dtype=X.dtype)
        best = np.empty(tile, dtype=X.dtype)
        second = np.empty(tile, dtype=X.dtype)
        found = np.empty(tile, dtype=np.int32)
        distances = np.empty(chunk_rows, dtype=X.dtype)
        previous_distances = np.zeros(chunk_rows, dtype=X.dtype)
        chunk_labels = np.empty(chunk_rows, dtype=np.int32)
        pending = np.empty(chunk_rows, dtype=np.int64)
        count = _rows_to_scan(X, start, m, centers, previous_labels, initial, lower, drop,
                              no_movers, drop, separation, slack_scale, x_norms, max_center_norm,
                              neighbour_order, neighbour_distances, upward, chunk_labels,
                              distances, previous_distances, pending)
        chunk_rescanned[c] += count  # in float32 or X's dtype, every centre
        # None (float32 data): numba prunes the branch, and the pass never compiles it.
        if scaled_single_t is not None:
            if count > 0 and scaled_single_t.shape[1] > 0:
                count = _scan_single_tiles(nearest_single, X, start, count, pending,
                                           scaled_single_t, single_norms, single_slack, centers,
                                           x_norms, max_center_norm, tile, chunk_labels, distances,
                                           lower)
        # The rows to scan, a full tile at a time, side by side and transposed.
        for p0 in range(0, count, tile):
            t = min(tile, count - p0)
            _gather_tile(X, start, pending, p0, t, rows_t)
            nearest_two(rows_t, t, scaled_t, center_norms, best, found, second, acc)
            for q in range(t):
                r = pending[p0 + q]
                i = start + r
                # ||x||² from the tile, as the plain pass adds it back.
                norm = rows_t[0, q] * rows_t[0, q]
                for f in range(1, d):
                    norm += rows_t[f, q] * rows_t[f, q]
                distance = best[q] + norm
                distances[r] = distance if distance > 0 else distance - distance
                chunk_labels[r] = found[q]
                slack = slack_scale * (np.float64(x_norms[i]) + max_center_norm)
                bound = np.float64(second[q]) + np.float64(norm) - slack
                lower[i] = np.sqrt(bound) if bound > 0 else 0.0
        _finish_chunk(X, start, m, sample_weight, unit_weight, previous_labels, initial,
                      chunk_labels, distances, previous_distances, labels, min_distances,
                      chunk_scalars[c], chunk_weight_sums[c], chunk_sums[c])
    _merge_chunks(chunk_weight_sums, chunk_sums, chunk_scalars, weight_sums, sums, scalars)
    rescanned[0] += chunk_rescanned.sum()


@njit(parallel=prange_only(), cache=True)
def bounded_gemm_pass(scaled_centers, scaled_single, single_slack, centers, row0, m_block, X,
                      sample_weight, center_norms, x_norms, previous_labels, initial, lower, drop,
                      movers, rest_drop, separation, slack_scale, max_center_norm, neighbour_order,
                      neighbour_distances, upward, chunk_rows, labels, min_distances, weight_sums,
                      sums, scalars, rescanned):  # pragma: no cover - compiled
    """The bounded pass for many features. A row the bounds cannot keep is first
    tried against its centre's nearest neighbours only (``_neighbour_scan``); the
    rows still open are gathered and their products made by one call of
    :func:`.dots.chunk_products`, ``-2 C @ G.T``: with AVX-512, each product the
    same chain of fused multiply-adds as the plain pass's, whatever rows are
    gathered.

    ``scaled_centers`` is ``-2 * centers`` transposed, with zero columns to a
    multiple of ``dots.TRANSPOSED_COLUMNS`` (d, k'); ``center_norms`` (k,).
    ``scaled_single`` (d, k') float32, or None or no columns: the same rounded to
    float32, for a float64 X. The rows to scan are then first scanned in float32
    (:func:`_scan_single`, ``single_slack`` its scale), and only those it leaves
    in doubt in X's dtype.
    ``movers`` (int32, may be empty): the centres measured directly for a row that
    neither its bounds nor its centre's neighbours settle, before a full scan, with
    ``rest_drop`` (k,) the bounds' fall for the others
    (:mod:`.kmeans_settle`). The other arguments as in :func:`bounded_fused_pass`;
    ``rescanned`` counts the rows scanned in full.
    """
    d = X.shape[1]
    k = center_norms.shape[0]
    n_chunks = (m_block + chunk_rows - 1) // chunk_rows
    chunk_weight_sums = np.zeros((n_chunks, k))
    chunk_sums = np.zeros((n_chunks, k, d))
    chunk_scalars = np.zeros((n_chunks, 3))
    chunk_rescanned = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        start = row0 + c * chunk_rows
        stop = min(start + chunk_rows, row0 + m_block)
        m = stop - start
        gathered = np.empty((chunk_rows, d), dtype=X.dtype)
        pending = np.empty(chunk_rows, dtype=np.int64)
        distances = np.empty(chunk_rows, dtype=X.dtype)
        previous_distances = np.zeros(chunk_rows, dtype=X.dtype)
        chunk_labels = np.empty(chunk_rows, dtype=np.int32)
        best = np.empty(chunk_rows, dtype=X.dtype)
        second = np.empty(chunk_rows, dtype=X.dtype)
        found = np.empty(chunk_rows, dtype=np.int32)
        count = _rows_to_scan(X, start, m, centers, previous_labels, initial, lower, drop,
                              movers, rest_drop, separation, slack_scale, x_norms,
                              max_center_norm, neighbour_order, neighbour_distances, upward,
                              chunk_labels, distances, previous_distances, pending)
        chunk_rescanned[c] += count  # in float32 or X's dtype, every centre
        # None (float32 data): numba prunes the branch, and the pass never compiles it.
        if scaled_single is not None:
            if count > 0 and scaled_single.shape[1] > 0:
                single = np.empty((chunk_rows, d), dtype=np.float32)
                count = _scan_single(X, start, count, pending, scaled_single, single_slack,
                                     centers, center_norms, x_norms, max_center_norm, single, best,
                                     found, second, chunk_labels, distances, lower)
        if count > 0:
            if count == m:  # every row (the first pass): the chunk as it lies, no copy
                dots = chunk_products(X, start, m, scaled_centers)
            else:
                for q in range(count):
                    copy_range(X[start + pending[q]], 0, X.shape[1], gathered[q], 0)
                dots = chunk_products(gathered, 0, count, scaled_centers)
            _argmin_two(dots, count, center_norms, best, found, second)
            for q in range(count):
                r = pending[q]
                i = start + r
                distance = best[q] + x_norms[i]
                distances[r] = distance if distance > 0 else distance - distance
                chunk_labels[r] = found[q]
                slack = slack_scale * (np.float64(x_norms[i]) + max_center_norm)
                bound = np.float64(second[q]) + np.float64(x_norms[i]) - slack
                lower[i] = np.sqrt(bound) if bound > 0 else 0.0
        _finish_chunk(X, start, m, sample_weight, False, previous_labels, initial, chunk_labels,
                      distances, previous_distances, labels, min_distances, chunk_scalars[c],
                      chunk_weight_sums[c], chunk_sums[c])
    _merge_chunks(chunk_weight_sums, chunk_sums, chunk_scalars, weight_sums, sums, scalars)
    rescanned[0] += chunk_rescanned.sum()


def nearest_two_argument(d4: int, dtype, written_out: bool = True) -> FunctionArgument:
    """The kernel :func:`bounded_fused_pass` takes for its full scans of tiles of
    ``d4`` padded features of ``dtype``: the written-out kernel of that width
    (:mod:`.kmeans_unrolled`) or :func:`_nearest_two`, the same values bit for bit.
    ``written_out`` False: :func:`_nearest_two` whatever the width, for a float64
    pass that scans in float32 first and sends its own kernel only the rows in
    doubt (not worth compiling a written-out kernel for)."""
    if written_out:
        return kernel_argument(True, d4, dtype, _nearest_two)
    key = np.dtype(dtype).name
    if key not in _BLOCKED_ARGUMENTS:
        _BLOCKED_ARGUMENTS[key] = FunctionArgument(_nearest_two, nearest_two_signature(dtype))
    return _BLOCKED_ARGUMENTS[key]


_BLOCKED_ARGUMENTS: dict = {}


@njit(cache=True)
def nearest_listed(gram, norms, row0, error_scale, order, distances):  # pragma: no cover
    """Each of centres ``row0 ..`` its nearest other centres, nearest first (ties in
    index order), from the centres' Gram rows ``gram`` (m, k) and squared norms
    (k,), float64: ``||a||² - 2 a·b + ||b||²`` less ``error_scale (||a||² + ||b||²)``
    (the expanded form's rounding). A row's values are read once into a sorted
    list of the nearest so far (no sort of the whole row). Written: order (m,
    listed) int32, distances (m, listed): the square roots, 0 where the value is
    negative.
    """
    m, k = gram.shape
    listed = order.shape[1]
    values = np.empty(listed)
    row = np.empty(k)
    for a in range(m):
        center = row0 + a
        own = norms[center]
        for b in range(k):
            value = own - 2.0 * gram[a, b] + norms[b]
            row[b] = value - error_scale * (own + norms[b])
        row[center] = np.inf
        filled = 0
        worst = np.inf
        for b in range(k):
            value = row[b]
            if value >= worst:
                continue
            # Insert after every equal value: equal values stay in index order.
            q = filled if filled < listed else listed - 1
            while q > 0 and values[q - 1] > value:
                values[q] = values[q - 1]
                order[a, q] = order[a, q - 1]
                q -= 1
            values[q] = value
            order[a, q] = b
            if filled < listed:
                filled += 1
            if filled == listed:
                worst = values[listed - 1]
        for q in range(listed):
            distances[a, q] = np.sqrt(values[q]) if values[q] > 0 else 0.0
