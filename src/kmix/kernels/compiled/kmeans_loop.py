"""Compiled k-means kernels (numba): Lloyd's iterations on data in memory, in one call.

:func:`kmix.models.lloyd.run_lloyd` returns to Python after every pass for the
update step, the stop tests and the records. On data of some thousands of rows
that interpreted part is a large share of an iteration, and fits run side by side
(the gap statistic's reference sets, model selection) wait for each other's
interpreted part, which holds the GIL. :func:`lloyd_loop` runs the same iterations
without the GIL: the plain pass (:func:`.kmeans_lloyd.fused_pass`), the weighted
means, the centres' squared shift and the same stop tests, recording what
run_lloyd records.

It stops early, with the state run_lloyd needs to go on, when a pass leaves a
cluster empty: the update then moves the farthest points into the empty clusters,
which only run_lloyd does.
"""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from numba import njit

from .kmeans_lloyd import center_norms, fused_pass, fused_pass_for
from .kmeans_unrolled import width_copy

__all__ = ["LOOP_DONE", "LOOP_EMPTY_CLUSTER", "lloyd_loop_for"]

# lloyd_loop's status: finished (converged or max_iter), or stopped before the
# update of an iteration whose statistics have an empty cluster.
LOOP_DONE = 0
LOOP_EMPTY_CLUSTER = 1


@njit(cache=True)
def _pass_centers(centers, narrow):  # pragma: no cover - compiled
    """``-2 C.T`` and the centres' squared norms as the plain pass reads them (see
    ``kmeans_passes.padded_centers``): as they are for 1 to 3 features, else
    zero-padded to multiples of four, a padded centre with an infinite norm."""
    k, d = centers.shape
    norms = center_norms(centers)
    if narrow:
        scaled_t = np.empty((d, k), dtype=centers.dtype)
        for f in range(d):
            for j in range(k):
                scaled_t[f, j] = centers[j, f] * -2
        return scaled_t, norms
    d4 = (d + 3) // 4 * 4
    k4 = (k + 3) // 4 * 4
    scaled_t = np.zeros((d4, k4), dtype=centers.dtype)
    for f in range(d):
        for j in range(k):
            scaled_t[f, j] = centers[j, f] * -2
    padded = np.full(k4, np.inf, dtype=centers.dtype)
    padded[:k] = norms
    return scaled_t, padded


@njit(cache=True)
def _one_pass(X, sample_weight, unit_weight, centers, previous, has_previous, chunk_rows, tile,
              step, labels, weight_sums, sums, scalars):  # pragma: no cover - compiled
    """The plain pass over every row (labels and statistics only), ``step`` rows per
    call as ``kmeans_passes.lloyd_statistics`` makes them (the same additions in
    the same order). Written: labels; weight_sums, sums, scalars (set, not added to).
    """
    n, d = X.shape
    k = centers.shape[0]
    scaled_t, norms = _pass_centers(centers, d <= 3)
    weight_sums[:] = 0.0
    sums[:] = 0.0
    scalars[:] = 0.0
    no_distances = np.empty(0, dtype=X.dtype)
    # False, but as a run-time boolean: a constant argument is typed as a literal,
    # which makes a signature of the pass of its own, compiled once more.
    store_distances = n < 0
    for row0 in range(0, n, step):
        fused_pass(scaled_t, row0, min(step, n - row0), X, sample_weight, unit_weight, norms, k,
                   previous, has_previous, chunk_rows, tile, labels, store_distances,
                   no_distances, weight_sums, sums, scalars)


@njit(cache=True, nogil=True)
def lloyd_loop(X, sample_weight, unit_weight, centers, max_iter, tol, chunk_rows, tile, step,
               record_centers, path, ssd, n_changed, labels, previous):  # pragma: no cover
    """Lloyd's iterations from ``centers``, as run_lloyd runs them (plain passes, no
    callback), until convergence, ``max_iter`` or a pass that leaves a cluster empty.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64, C-contiguous, at most 32 features
    sample_weight : ndarray (n,), X's dtype; not read if ``unit_weight``
    centers : ndarray (k, d), X's dtype: the start (not written)
    max_iter : int
    tol : float, on the total squared shift of the centres
    chunk_rows, tile, step : int, as ``kmeans_passes.lloyd_statistics`` sets them
    record_centers : bool, write ``path``
    path : ndarray (max_iter + 1, k, d), X's dtype, written: the start, then the
        centres after every update (if ``record_centers``)
    ssd : ndarray (max_iter, 2) float64, written: the SSD after the assignment and
        after the update step of every iteration
    n_changed : ndarray (max_iter,) int64, written: the labels each assignment changed
    labels, previous : ndarray (n,) int32, written: the last pass's labels and the
        labels it was given (those of the pass before; unset if it had none)

    Returns
    -------
    status : LOOP_DONE or LOOP_EMPTY_CLUSTER (the statistics of the last pass, the
        one that assigned ``labels`` to the returned centres, have an empty
        cluster; its update is left to the caller)
    n_iter : int, iterations done (recorded)
    converged : bool
    centers : ndarray (k, d), X's dtype: those of the last pass
    weight_sums : ndarray (k,) float64, of the last pass
    inertia : float, the last pass's SSD
    had_previous : bool, whether the last pass was given ``previous``
    labels, previous : the arrays holding them now (the two are swapped between
        passes)
    """
    n, d = X.shape
    k = centers.shape[0]
    centers = centers.copy()
    if record_centers:
        path[0] = centers
    weight_sums = np.zeros(k)
    sums = np.zeros((k, d))
    scalars = np.zeros(3)  # ssd, ssd_previous, n_changed of the last pass
    had_previous = max_iter < 0  # False, as a run-time boolean (see _one_pass)
    _one_pass(X, sample_weight, unit_weight, centers, previous, had_previous, chunk_rows, tile,
              step, labels, weight_sums, sums, scalars)
    n_iter = 0
    converged = False
    status = LOOP_DONE
    for iteration in range(max_iter):
        if np.any(weight_sums <= 0):
            status = LOOP_EMPTY_CLUSTER
            break
        # The update: the float64 means rounded once to X's dtype, and their shift.
        shift = 0.0
        new_centers = np.empty_like(centers)
        for j in range(k):
            for f in range(d):
                new_centers[j, f] = sums[j, f] / weight_sums[j]
                difference = np.float64(new_centers[j, f]) - np.float64(centers[j, f])
                shift += difference * difference
        ssd_assignment = scalars[0]
        changed = int(scalars[2]) if had_previous else n
        strict = iteration > 0 and changed == 0
        centers = new_centers
        if strict:
            # Same labels as before: the centres did not move.
            ssd_update = ssd_assignment
        else:
            labels, previous = previous, labels
            had_previous = iteration >= 0  # True, as a run-time boolean
            _one_pass(X, sample_weight, unit_weight, centers, previous, had_previous, chunk_rows,
                      tile, step, labels, weight_sums, sums, scalars)
            ssd_update = max(scalars[1], 0.0)
        if record_centers:
            path[iteration + 1] = centers
        ssd[iteration, 0] = ssd_assignment
        ssd[iteration, 1] = ssd_update
        n_changed[iteration] = changed
        n_iter = iteration + 1
        if strict or shift <= tol:
            converged = True
            break
    return status, n_iter, converged, centers, weight_sums, scalars[0], had_previous, labels, previous


_width_loops: dict[int, object] = {}


def lloyd_loop_for(d4: int):
    """:func:`lloyd_loop` with the plain pass of ``d4`` padded features
    (:func:`.kmeans_lloyd.fused_pass_for`; 0 for 1 to 3 features)."""
    width_pass = fused_pass_for(d4)
    if width_pass is fused_pass:
        return lloyd_loop
    if d4 not in _width_loops:
        one_pass = width_copy(_one_pass, d4, {"fused_pass": width_pass}, cache=True)
        loop = None if one_pass is None else width_copy(lloyd_loop, d4, {"_one_pass": one_pass},
                                                          cache=True, nogil=True)
        _width_loops[d4] = lloyd_loop if loop is None else loop
    return _width_loops[d4]
