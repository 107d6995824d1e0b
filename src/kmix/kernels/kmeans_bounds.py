"""What the bounded k-means pass knows between passes: how far the centres moved
(:func:`center_movement`, and by how much that lowers the rows' bounds,
:func:`bound_drops`), which centres it measures apart when a bound fails
(:func:`movers`), and each centre's nearest neighbours (:func:`center_neighbours`).
The pass itself is :func:`kmix.kernels.kmeans_passes.bounded_statistics`."""

from __future__ import annotations

import numpy as np

__all__ = ["MOVERS", "center_movement", "bound_drops", "movers", "center_neighbours",
           "neighbour_list_length"]

# The bounded pass with BLAS products measures at most this many of the centres
# that moved most directly before it scans a row in full (see movers).
MOVERS = 16


def center_movement(old_centers: np.ndarray, new_centers: np.ndarray) -> np.ndarray:
    """How far each centre moved, (k,) float64, rounded up (a bound lowered by it
    must stay below the exact distance).

    The squares are added feature by feature in order (a running sum, where
    ``np.sum`` along a row would add them pairwise): the compiled bounded loop
    (:mod:`kmix.kernels.compiled.kmeans_loop`) adds them so too, and gets the
    same bounds. Laid out a feature per row, they are added along the outer
    axis, which numpy does row after row."""
    difference = new_centers.astype(np.float64) - old_centers.astype(np.float64)
    if difference.shape[1] == 0:
        return np.zeros(difference.shape[0])
    squares = np.square(difference.T, order="C")
    return np.sqrt(np.add.reduce(squares, axis=0)) * (1.0 + 1e-12)


def bound_drops(old_centers: np.ndarray, new_centers: np.ndarray,
                movement: np.ndarray | None = None) -> np.ndarray:
    """How far the lower bounds of each cluster's rows fall when the centres move
    (``movement``, if given, is :func:`center_movement` of the two).

    A row's bound is on its distance to every centre but its own, so it falls by the
    largest movement of any other centre: the largest movement overall, or the
    second largest for the cluster that moved most.

    Returns
    -------
    drops : ndarray (k,) float64
    """
    if movement is None:
        movement = center_movement(old_centers, new_centers)
    k = movement.shape[0]
    if k == 1:
        return np.zeros(1)
    first = int(np.argmax(movement))
    drops = np.full(k, movement[first])
    drops[first] = np.max(np.delete(movement, first))
    return drops


def center_neighbours(centers: np.ndarray, listed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each centre's ``listed`` nearest other centres, nearest first.

    By the triangle inequality a row within half the first distance of its own
    centre is nearer to that centre than to any other, and no centre farther from
    it than twice the row's distance can be nearer. Computed in float64 by the
    expanded form, block by block (never k x k x d), less the form's rounding error.

    Returns
    -------
    order : ndarray (k, m) int32, m = min(listed, k - 1)
    distances : ndarray (k, m) float64, rounded down
    """
    from .compiled import kmeans_bounded  # numba is imported on first use only

    C = centers.astype(np.float64)
    k, d = C.shape
    listed = max(0, min(listed, k - 1))
    norms = np.einsum("ij,ij->i", C, C)
    order = np.empty((k, listed), dtype=np.int32)
    distances = np.empty((k, listed))
    # The expanded form's rounding, bounded above, is taken off.
    error_scale = 4.0 * (d + 2) * float(np.finfo(np.float64).eps)
    step = max(1, 2**22 // max(k, 1))
    if listed > 0:
        for start in range(0, k, step):
            stop = min(k, start + step)
            kmeans_bounded.nearest_listed(C[start:stop] @ C.T, norms, start, error_scale,
                                          order[start:stop], distances[start:stop])
    return order, distances * (1.0 - 1e-12)


def movers(movement: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """The centres a bounded pass with BLAS products measures directly for a row
    that neither its bound nor its centre's neighbours settle, and how far the
    bounds then fall for the others: ``(movers (m,) int32, rest_drop (k,) float64)``.

    The MOVERS centres that moved most, when the others moved at most half as far
    as the first and the difference is a tenth of ``spacing`` (the centres' typical
    distance to their nearest other) or more: the iterations in which a few centres
    still travel while the rest have settled. None otherwise: measuring them would
    then settle few rows (those whose margin falls between the two movements). A
    row's bound falls by the largest movement of a centre not measured and not its
    own.
    """
    k = movement.shape[0]
    count = min(MOVERS, k - 2)
    rest_drop = np.zeros(k)
    none = np.zeros(0, dtype=np.int32)
    if count < 1:
        return none, rest_drop
    order = np.argsort(-movement, kind="stable")
    largest, rest = movement[order[0]], movement[order[count]]
    if rest > 0.5 * largest or largest - rest < 0.1 * spacing:
        return none, rest_drop
    rest_drop[:] = rest
    rest_drop[order[count]] = movement[order[count + 1]]
    return order[:count].astype(np.int32), rest_drop


def neighbour_list_length(n_clusters: int) -> int:
    """How many of its centre's neighbours a row may be measured against before a
    full scan is the cheaper way (a full scan runs at BLAS speed). Short lists
    settle nearly every row a long one would (the rows they miss have dozens of
    centres within reach, and a full scan suits those) and cost less to make."""
    return int(min(64, max(4, n_clusters // 32)))
