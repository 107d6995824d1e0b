"""Compiled k-means kernels (numba) for the bounded pass (:mod:`.kmeans_bounded`):
which rows of a chunk it must scan in full.

A row keeps its label when its lower bound on the distance to every other centre,
lowered by how far those centres moved (Hamerly's bound), or half the gap from its
centre to the nearest other (the triangle inequality), exceeds its exact distance
to its own centre by more than the rounding of the distances can explain. With
many features (BLAS products), a row the bounds leave open is then measured
against the centres near its own (the rest are provably farther), and against
the few centres that moved most (the others, settled, lower its bound little),
before it goes to a full scan.
"""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from numba import njit

from . import REASSOCIATE

# Nothing public: the bounded passes of kmeans_bounded import these.
__all__: list[str] = []

# A bound moved down is multiplied by this: it then stays below the exact value
# whatever the rounding of the subtraction (1 - 2^-50 takes off more than the two
# roundings can add), so no number of iterations accumulates an error upwards.
_DOWN = 1.0 - 2.0**-50


@njit(cache=True, fastmath=REASSOCIATE)
def _direct_distance(X, i, centers, j):  # pragma: no cover - compiled
    """``||x_i - c_j||²`` computed directly, in X's dtype, its additions in an order
    the compiler chooses (SIMD lanes), not written in lanes (see the package). No
    label depends on its last bits (a row keeps its label only with a margin over
    the rounding); they can move which rows are scanned again and a kept row's SSD
    term. Written in lanes, its loop over the features no longer ran in SIMD lanes,
    in the bounded pass's most frequent call."""
    total = X[i, 0] - X[i, 0]
    for f in range(X.shape[1]):
        t = X[i, f] - centers[j, f]
        total += t * t
    return total


@njit(cache=True)
def center_separation(centers):  # pragma: no cover - compiled
    """Each centre's distance to its nearest other centre, (k,) float64 (+inf for
    one centre), rounded down: measured directly, ``sqrt(sum((c_a - c_b)²))`` in
    float64 (within a few (d + 2)·eps of the exact value, far less than the 1e-12
    taken off). A row within half of it of its centre is nearer to that centre
    than to any other.

    The bounded pass with few features, and the compiled bounded loop
    (:mod:`.kmeans_loop`), both take it from here, so a fit gets the same bounds
    through either; k·k·d operations, for few centres (see
    ``kmeans_passes.direct_separation``)."""
    k, d = centers.shape
    nearest = np.full(k, np.inf)
    for a in range(k):
        for b in range(a + 1, k):
            total = 0.0
            for f in range(d):
                t = np.float64(centers[a, f]) - np.float64(centers[b, f])
                total += t * t
            nearest[a] = min(nearest[a], total)
            nearest[b] = min(nearest[b], total)
    for a in range(k):
        nearest[a] = np.sqrt(nearest[a]) * (1.0 - 1e-12)
    return nearest


# Rows per block of ``_keep_rows``: each block takes the branching or the
# branch-free test by how many rows the block before it kept.
_KEEP_BLOCK = 256


@njit(cache=True)
def _keep_rows(X, row0, m, centers, previous_labels, lower, drop, separation, slack_scale,
               x_norms, max_center_norm, kept_labels, distances, previous_distances,
               pending):  # pragma: no cover - compiled
    """Which of rows ``row0 .. row0 + m`` provably keep their label; the others are
    listed in ``pending`` (offsets from row0), their number returned.

    Per row r: ``previous_distances[r]``, its squared distance to its own centre,
    computed directly (no cancellation; its additions in SIMD lanes, the bound
    arithmetic exactly as written). A kept row also gets ``kept_labels[r]``,
    ``distances[r]`` (the same distance) and its new bound in ``lower``; the
    branch-free test writes the first two for pending rows too, and their scan
    writes them again. Written: those, and pending.

    The slack covers the rounding of the plain pass's expanded distances (a few
    (d + 2)·eps·(||x|| + ||c||)²), so a row is kept only where the plain pass finds
    the same nearest centre. A bound moved down is multiplied by ``_DOWN``, so it
    stays below the exact value whatever the rounding.

    While most rows keep their label (the later passes), a test per row that
    branches costs least: the branch is predicted. While the centres still move
    far, whether a row keeps its label is close to a coin toss, and a mispredicted
    branch costs more than the test itself; the branch-free test then takes every
    row through the same instructions. Both decide alike, so a block of rows takes
    the branching test when the block before it left at most one row in sixteen
    to scan.
    """
    count = 0
    predictable = True
    for r0 in range(0, m, _KEEP_BLOCK):
        r1 = min(m, r0 + _KEEP_BLOCK)
        before = count
        if predictable:
            count = _keep_branching(X, row0, r0, r1, count, centers, previous_labels, lower, drop,
                                    separation, slack_scale, x_norms, max_center_norm,
                                    kept_labels, distances, previous_distances, pending)
        else:
            count = _keep_branch_free(X, row0, r0, r1, count, centers, previous_labels, lower,
                                      drop, separation, slack_scale, x_norms, max_center_norm,
                                      kept_labels, distances, previous_distances, pending)
        predictable = 16 * (count - before) <= r1 - r0
    return count


@njit(cache=True)
def _keep_branching(X, row0, r0, r1, count, centers, previous_labels, lower, drop, separation,
                    slack_scale, x_norms, max_center_norm, kept_labels, distances,
                    previous_distances, pending):  # pragma: no cover - compiled
    """``_keep_rows`` for rows ``r0 .. r1`` (offsets from row0), the pending ones
    listed from ``count`` on; the new count returned. One branch per test."""
    for r in range(r0, r1):
        i = row0 + r
        a = previous_labels[i]
        own = _direct_distance(X, i, centers, a)
        previous_distances[r] = own
        distance = np.float64(own)
        slack = slack_scale * (np.float64(x_norms[i]) + max_center_norm)
        bound = (lower[i] - drop[a]) * _DOWN
        keep = bound > 0 and bound * bound - distance > slack
        if not keep:
            # Triangle inequality: every other centre is at least separation[a] - ||x - c_a||.
            gap = (separation[a] - np.sqrt(distance)) * _DOWN
            if gap > bound:
                bound = gap
                keep = gap > 0 and gap * gap - distance > slack
        if keep:
            lower[i] = bound
            kept_labels[r] = a
            distances[r] = own
        else:
            pending[count] = r
            count += 1
    return count


@njit(cache=True)
def _keep_branch_free(X, row0, r0, r1, count, centers, previous_labels, lower, drop, separation,
                      slack_scale, x_norms, max_center_norm, kept_labels, distances,
                      previous_distances, pending):  # pragma: no cover - compiled
    """``_keep_branching``'s decisions with no branch on them: both tests computed
    for every row ('&' and '|' on booleans, where 'and' and 'or' would branch),
    every row written to ``pending`` and the count raised only for those not kept.
    The distances first, in a loop of their own."""
    for r in range(r0, r1):
        i = row0 + r
        a = previous_labels[i]
        own = _direct_distance(X, i, centers, a)
        previous_distances[r] = own
        kept_labels[r] = a
        distances[r] = own
    for r in range(r0, r1):
        i = row0 + r
        a = kept_labels[r]
        distance = np.float64(previous_distances[r])
        slack = slack_scale * (np.float64(x_norms[i]) + max_center_norm)
        old = lower[i]
        bound = (old - drop[a]) * _DOWN
        keep = (bound > 0) & (bound * bound - distance > slack)
        gap = (separation[a] - np.sqrt(distance)) * _DOWN
        by_gap = (not keep) & (gap > bound)
        keep = keep | (by_gap & (gap > 0) & (gap * gap - distance > slack))
        bound = gap if by_gap else bound
        lower[i] = bound if keep else old
        pending[count] = r
        count += 1 - np.int64(keep)
    return count


@njit(cache=True)
def _neighbour_scan(X, i, centers, a, own, neighbour_order, neighbour_distances, slack,
                    upward):  # pragma: no cover - compiled
    """Nearest centre of row i from its own centre a's neighbours only.

    A centre j with ``||c_j - c_a|| - ||x - c_a|| > ||x - c_a||`` cannot be nearer
    than c_a (triangle inequality), so only the centres close to c_a are measured,
    nearest first, directly. Returns (label, squared distance, lower bound on the
    distance to every other centre), or label -1 when the row needs a full scan:
    more neighbours to measure than the list holds, or a runner-up within the
    rounding slack (only the plain pass's own arithmetic may settle a near tie).

    ``own`` is the squared distance to c_a; ``upward`` (> 1) rounds its root up.
    """
    listed = neighbour_order.shape[1]
    u = np.sqrt(own) * upward
    # How many neighbours to measure: every centre from the t-th neighbour on is at
    # least ``gap`` from x. Found from the centre distances alone, so a row that
    # would need more than the list holds goes to a full scan at no cost.
    outside = np.inf
    t_stop = listed
    for t in range(listed):
        gap = (neighbour_distances[a, t] - u) * _DOWN
        if gap > 0 and gap * gap - own > slack:
            outside = gap
            t_stop = t
            break
    if t_stop == listed and listed < centers.shape[0] - 1:
        return -1, 0.0, 0.0
    best = own
    label = a
    second = np.inf
    for t in range(t_stop):
        j = neighbour_order[a, t]
        v = np.float64(_direct_distance(X, i, centers, j))
        if v < best:
            second = best
            best = v
            label = j
        elif v < second:
            second = v
    if second - best <= slack:
        return -1, 0.0, 0.0
    inside = second - slack
    bound = np.sqrt(inside) if inside > 0 else 0.0
    return label, best, min(bound, outside)


@njit(cache=True)
def _mover_bound(X, i, centers, a, movers, rest_bound, slack):  # pragma: no cover - compiled
    """A lower bound on row i's distance to every centre but its own (a): the
    ``movers`` measured directly (less the slack that covers the rounding), every
    other centre by ``rest_bound`` (its old bound less how far those moved)."""
    nearest = np.inf
    for t in range(movers.shape[0]):
        j = movers[t]
        if j != a:
            v = np.float64(_direct_distance(X, i, centers, j))
            nearest = v if v < nearest else nearest
    measured = np.sqrt(nearest - slack) if nearest > slack else 0.0
    return rest_bound if rest_bound < measured else measured


@njit(cache=True)
def _settle_pending(X, start, count, pending, centers, previous_labels, x_norms, slack_scale,
                    max_center_norm, neighbour_order, neighbour_distances, upward, movers,
                    rest_drop, previous_distances, chunk_labels, distances,
                    lower):  # pragma: no cover - compiled
    """The pending rows (offsets from ``start``) that ``_neighbour_scan`` settles
    (when ``neighbour_order`` has columns), or that keep their label once the
    centres that moved most, ``movers``, are measured directly and the bound falls
    only by ``rest_drop`` for the others (:func:`_mover_bound`, when ``movers`` is
    not empty). Those get their label, distance and bound; the others stay in
    ``pending`` (compacted), their number returned. Written: pending,
    chunk_labels, distances, lower."""
    still = 0
    for q in range(count):
        r = pending[q]
        i = start + r
        a = previous_labels[i]
        own = np.float64(previous_distances[r])
        slack = slack_scale * (np.float64(x_norms[i]) + max_center_norm)
        label, distance, bound = -1, 0.0, 0.0
        if neighbour_order.shape[1] > 0:
            label, distance, bound = _neighbour_scan(X, i, centers, a, own, neighbour_order,
                                                     neighbour_distances, slack, upward)
        if label < 0 and movers.shape[0] > 0:
            bound = _mover_bound(X, i, centers, a, movers, (lower[i] - rest_drop[a]) * _DOWN,
                                 slack)
            if bound > 0 and bound * bound - own > slack:
                label, distance = a, own
        if label >= 0:
            chunk_labels[r] = label
            distances[r] = distance
            lower[i] = bound
        else:
            pending[still] = r
            still += 1
    return still


@njit(cache=True)
def _rows_to_scan(X, start, m, centers, previous_labels, initial, lower, drop, movers, rest_drop,
                  separation, slack_scale, x_norms, max_center_norm, neighbour_order,
                  neighbour_distances, upward, chunk_labels, distances, previous_distances,
                  pending):  # pragma: no cover - compiled
    """The rows of a chunk that must be scanned in full, listed in ``pending``
    (offsets from start), their number returned: every row if ``initial``; else
    those neither their bounds (``_keep_rows``) nor their centre's neighbours nor
    the centres that moved most settle (``_settle_pending``). Written: pending,
    and for the settled rows chunk_labels, distances, lower; previous_distances
    for every row unless initial."""
    if initial:
        for r in range(m):
            pending[r] = r
        return m
    count = _keep_rows(X, start, m, centers, previous_labels, lower, drop, separation,
                       slack_scale, x_norms, max_center_norm, chunk_labels, distances,
                       previous_distances, pending)
    if neighbour_order.shape[1] > 0 or movers.shape[0] > 0:
        count = _settle_pending(X, start, count, pending, centers, previous_labels, x_norms,
                                slack_scale, max_center_norm, neighbour_order, neighbour_distances,
                                upward, movers, rest_drop, previous_distances, chunk_labels,
                                distances, lower)
    return count
