"""Compiled k-means kernels (numba): Lloyd's iterations on data in memory, in one call.

:func:`kmix.models.lloyd.run_lloyd` returns to Python after every pass for the
update step, the stop tests and the records. On data of some thousands of rows
that interpreted part is a large share of an iteration, and fits run side by side
(the gap statistic's reference sets, model selection) wait for each other's
interpreted part, which holds the GIL. :func:`lloyd_loop` runs the same iterations
without the GIL: the plain pass (:func:`.kmeans_lloyd.fused_pass`), the weighted
means, the centres' squared shift and the same stop tests, recording what
run_lloyd records. :func:`bounded_loop` runs them with Hamerly's bounds (the
bounded pass, and between passes the centres' movement and separation), as
run_lloyd does with ``LloydPasses(bounds=True)``: there the interpreted part of an
iteration is a share of it even on large data.

Both stop early, with the state run_lloyd needs to go on, when a pass leaves a
cluster empty: the update then moves the farthest points into the empty clusters,
which only run_lloyd does.
"""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from numba import njit

from .kmeans_bounded import SINGLE_NORM_LIMIT
from .kmeans_lloyd import center_norms
from .kmeans_settle import center_separation

__all__ = ["LOOP_DONE", "LOOP_EMPTY_CLUSTER", "bounded_loop", "lloyd_loop"]

# lloyd_loop's status: finished (converged or max_iter), or stopped before the
# update of an iteration whose statistics have an empty cluster.
LOOP_DONE = 0
LOOP_EMPTY_CLUSTER = 1


@njit(cache=True)
def _pass_centers(centers, features):  # pragma: no cover - compiled
    """``-2 C.T`` and the centres' squared norms as the plain pass reads them (see
    ``kmeans_passes.padded_centers``): (features, k) and (k,) for 1 to 3 features
    (``features`` = d), else zero-padded to (features, k4) and (k4,), k4 the next
    multiple of four, a padded centre with an infinite norm."""
    k, d = centers.shape
    norms = center_norms(centers)
    k4 = k if features == d and d <= 3 else (k + 3) // 4 * 4
    scaled_t = np.zeros((features, k4), dtype=centers.dtype)
    padded = np.empty(k4, dtype=centers.dtype)
    for j in range(k4):
        padded[j] = norms[j] if j < k else np.inf
    for f in range(d):
        for j in range(k):
            scaled_t[f, j] = centers[j, f] * -2
    return scaled_t, padded


@njit(cache=True)
def _record(path, i, centers):  # pragma: no cover - compiled
    """path[i] = centers, element by element (an array assignment would compile
    numba's shape-mismatch error message, which costs more than all the rest)."""
    for j in range(centers.shape[0]):
        for f in range(centers.shape[1]):
            path[i, j, f] = centers[j, f]


@njit(cache=True)
def _clear(weight_sums, sums, scalars):  # pragma: no cover - compiled
    """Zero a pass's statistics before it adds to them."""
    for j in range(sums.shape[0]):
        weight_sums[j] = 0.0
        for f in range(sums.shape[1]):
            sums[j, f] = 0.0
    for s in range(scalars.shape[0]):
        scalars[s] = 0.0


@njit(cache=True)
def _any_empty(weight_sums):  # pragma: no cover - compiled
    """Whether a cluster got no weight (its update is run_lloyd's relocation)."""
    empty = False
    for j in range(weight_sums.shape[0]):
        empty = empty or weight_sums[j] <= 0
    return empty


@njit(cache=True)
def _means(centers, sums, weight_sums):  # pragma: no cover - compiled
    """The update: the float64 means rounded once to the centres' dtype, and their
    squared shift from ``centers``, as ``kmeans.update_centers`` and
    ``kmeans.squared_shift`` give them (the shift summed in another order)."""
    k, d = centers.shape
    shift = 0.0
    new_centers = np.empty_like(centers)
    for j in range(k):
        for f in range(d):
            new_centers[j, f] = sums[j, f] / weight_sums[j]
            difference = np.float64(new_centers[j, f]) - np.float64(centers[j, f])
            shift += difference * difference
    return new_centers, shift


@njit(cache=True)
def _close_and_update(centers, shift, tol, had_previous, n_iter, max_iter, n, weight_sums, sums,
                      scalars, record_centers, path, ssd, n_changed):  # pragma: no cover - compiled
    """What both loops do after a pass: close the iteration before it (its SSD
    after the update, the stop on ``tol``), stop at ``max_iter`` or on an empty
    cluster, else update the centres, record the iteration and stop if no label
    changed (the same labels: the centres did not move, no pass needed).

    Returns
    -------
    go_on : bool, whether another pass follows
    status : LOOP_DONE or LOOP_EMPTY_CLUSTER
    converged : bool
    n_iter : int, iterations done
    centers : ndarray (k, d), the updated centres, or ``centers`` if there was no update
    shift : float, the update's squared shift (``shift`` if there was no update)
    """
    if had_previous:
        ssd[n_iter - 1, 1] = max(scalars[1], 0.0)
        if shift <= tol:
            return False, LOOP_DONE, True, n_iter, centers, shift
    if n_iter == max_iter:
        return False, LOOP_DONE, False, n_iter, centers, shift
    if _any_empty(weight_sums):
        return False, LOOP_EMPTY_CLUSTER, False, n_iter, centers, shift
    new_centers, new_shift = _means(centers, sums, weight_sums)
    ssd_assignment = scalars[0]
    changed = int(scalars[2]) if had_previous else n
    if record_centers:
        _record(path, n_iter + 1, new_centers)
    ssd[n_iter, 0] = ssd_assignment
    n_changed[n_iter] = changed
    n_iter += 1
    if n_iter > 1 and changed == 0:
        ssd[n_iter - 1, 1] = ssd_assignment
        return False, LOOP_DONE, True, n_iter, new_centers, new_shift
    return True, LOOP_DONE, False, n_iter, new_centers, new_shift


@njit(cache=True, nogil=True)
def lloyd_loop(plain_pass, nearest, X, sample_weight, unit_weight, centers, max_iter, tol,
               features, chunk_rows, tile, step, record_centers, path, ssd, n_changed,
               labels):  # pragma: no cover - compiled
    """Lloyd's iterations from ``centers``, as run_lloyd runs them (plain passes, no
    callback), until convergence, ``max_iter`` or a pass that leaves a cluster empty.

    Parameters
    ----------
    plain_pass : :func:`.kmeans_lloyd.fused_pass` as a first-class function
        (:func:`kmix.kernels.kmeans_loop.plain_pass_argument`): compiled once, on
        its own, as the passes run from Python call it, not again inside the loop
    nearest : the plain pass's nearest-centre kernel for the tiles' width
        (:func:`.kmeans_lloyd.nearest_argument`)
    X : ndarray (n, d), float32 or float64, C-contiguous, at most 32 features
    sample_weight : ndarray (n,), X's dtype; not read if ``unit_weight``
    centers : ndarray (k, d), X's dtype: the start (not written)
    max_iter : int, at least 1
    tol : float, on the total squared shift of the centres
    features, chunk_rows, tile, step : int, the tiles' (padded) features, the rows
        per chunk, per tile and per call of the pass, as
        ``kmeans_passes.lloyd_statistics`` sets them
    record_centers : bool, write ``path``
    path : ndarray (max_iter + 1, k, d), X's dtype, written: the start, then the
        centres after every update (if ``record_centers``)
    ssd : ndarray (max_iter, 2) float64, written: the SSD after the assignment and
        after the update step of every iteration
    n_changed : ndarray (max_iter,) int64, written: the labels each assignment changed
    labels : ndarray (n,) int32, written: the last pass's labels. Each pass reads
        the labels of the pass before from it and writes its own over them, a
        tile at a time (one stream through memory instead of two).

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
    had_previous : bool, whether the last pass had the labels of a pass before it
    ssd_previous, changed : the last pass's SSD of those labels (to its centres)
        and the number of rows whose label it changed (if ``had_previous``)
    """
    n, d = X.shape
    k = centers.shape[0]
    centers = centers.copy()
    if record_centers:
        _record(path, 0, centers)
    weight_sums = np.zeros(k)
    sums = np.zeros((k, d))
    scalars = np.zeros(3)  # ssd, ssd_previous, n_changed of the last pass
    no_distances = np.empty(0, dtype=X.dtype)
    # Flags as run-time booleans: a constant argument would be typed as a literal,
    # a signature of the pass of its own, compiled once more.
    store_distances = n < 0
    had_previous = n < 0
    n_iter = 0
    shift = 0.0
    status = LOOP_DONE
    converged = False
    # Each trip: a pass, which closes the iteration before it (its SSD after the
    # update), then the update of the next iteration, if there is one.
    while True:
        scaled_t, norms = _pass_centers(centers, features)
        _clear(weight_sums, sums, scalars)
        for row0 in range(0, n, step):
            plain_pass(nearest, scaled_t, row0, min(step, n - row0), X, sample_weight, unit_weight,
                       norms, k, labels, had_previous, chunk_rows, tile, labels,
                       store_distances, no_distances, weight_sums, sums, scalars)
        go_on, status, converged, n_iter, centers, shift = _close_and_update(
            centers, shift, tol, had_previous, n_iter, max_iter, n, weight_sums, sums, scalars,
            record_centers, path, ssd, n_changed)
        if not go_on:
            break
        had_previous = n_iter > 0  # True, as a run-time boolean
    return (status, n_iter, converged, centers, weight_sums, scalars[0], had_previous, labels,
            scalars[1], int(scalars[2]))


@njit(cache=True)
def _movement_drops(old, new, drops):  # pragma: no cover - compiled
    """``kmeans_bounds.bound_drops`` of ``kmeans_bounds.center_movement``, the same
    numbers: how far the bounds of each cluster's rows fall. Written: drops (k,)."""
    k, d = new.shape
    movement = np.empty(k)
    first = 0
    for j in range(k):
        total = 0.0
        for f in range(d):
            t = np.float64(new[j, f]) - np.float64(old[j, f])
            total += t * t
        movement[j] = np.sqrt(total) * (1.0 + 1e-12)
        if movement[j] > movement[first]:
            first = j
    second = 0.0  # the largest movement of any other centre (none: 0)
    for j in range(k):
        drops[j] = movement[first]
        if j != first and movement[j] > second:
            second = movement[j]
    drops[first] = second


@njit(cache=True)
def _bounded_blocks(bounded_pass, nearest, nearest_single, single_template, scaled_t,
                    single_slack, centers, X, sample_weight, unit_weight, norms, x_norms, previous,
                    initial, lower, drops, separation, slack_scale, max_center_norm, upward,
                    chunk_rows, tile, step, labels, min_distances, weight_sums, sums, scalars,
                    counted):  # pragma: no cover - compiled
    """One bounded pass over X, ``step`` rows per call of ``bounded_pass``
    (``kmeans_bounded.bounded_fused_pass``), with the arguments
    ``kmeans_passes.bounded_statistics`` gives it: for float64 data
    (``single_template`` not None) the centres rounded to float32 for its float32
    scan, unless they are too large for float32; no neighbour lists.

    The first branch passes ``single_template`` itself, None where it runs: numba
    prunes the other branch for a None argument, but not this one for an array
    (float64 data), which must then type as the pass's float32 scan tables, an
    empty (width, 0) array (never used)."""
    n = X.shape[0]
    k = centers.shape[0]
    no_neighbours = np.zeros((k, 0), dtype=np.int32)
    no_distances = np.zeros((k, 0))
    if single_template is None:
        no_norms = np.zeros(0, dtype=np.float32)
        for row0 in range(0, n, step):
            bounded_pass(nearest, scaled_t, nearest_single, single_template, no_norms,
                         single_slack, centers, row0, min(step, n - row0), X, sample_weight,
                         unit_weight, norms, k, x_norms, previous, initial, lower, drops,
                         separation, slack_scale, max_center_norm, no_neighbours, no_distances,
                         upward, chunk_rows, tile, labels, min_distances, weight_sums, sums,
                         scalars, counted)
    else:
        width = scaled_t.shape[0]
        columns = scaled_t.shape[1] if max_center_norm < SINGLE_NORM_LIMIT else 0
        scaled_single_t = np.empty((width, columns), dtype=np.float32)
        for f in range(width):
            for j in range(columns):
                scaled_single_t[f, j] = scaled_t[f, j]
        single_norms = np.empty(columns, dtype=np.float32)
        for j in range(columns):
            single_norms[j] = norms[j]
        for row0 in range(0, n, step):
            bounded_pass(nearest, scaled_t, nearest_single, scaled_single_t, single_norms,
                         single_slack, centers, row0, min(step, n - row0), X, sample_weight,
                         unit_weight, norms, k, x_norms, previous, initial, lower, drops,
                         separation, slack_scale, max_center_norm, no_neighbours, no_distances,
                         upward, chunk_rows, tile, labels, min_distances, weight_sums, sums,
                         scalars, counted)


@njit(cache=True, nogil=True)
def bounded_loop(bounded_pass, nearest, nearest_single, single_template, X,
                 sample_weight, unit_weight, x_norms, centers, max_iter, tol, width, chunk_rows,
                 tile, step, slack_scale, single_slack, upward, record_centers, path, ssd,
                 n_changed, rescanned, labels, lower):  # pragma: no cover - compiled
    """:func:`lloyd_loop` with Hamerly's bounds: the passes of
    ``kmeans_passes.bounded_statistics`` (the compiled loop's, few features) between
    the same updates, as run_lloyd runs them with ``LloydPasses(bounds=True)``.

    Parameters, beyond lloyd_loop's
    -------------------------------
    bounded_pass : ``kmeans_bounded.bounded_fused_pass`` as a first-class function
        (:func:`kmix.kernels.kmeans_loop.bounded_pass_argument`): called through
        it, the pass is compiled once, on its own, and not again inside the loop
    nearest, nearest_single : the full scan's kernels for the tiles' width
        (``kmeans_bounded.nearest_two_argument``): in X's dtype (for float64 the
        blocked loop, whose values the written-out kernel gives too, bit for bit),
        and written out in float32
    single_template : None for float32 data (no float32 scan); for float64 an
        empty (width, 0) float32 array (a float32 scan first while the centres fit
        float32)
    x_norms : ndarray (n,), X's dtype, the rows' squared norms
    width : the tiles' padded features; slack_scale, single_slack, upward : as
        bounded_statistics sets them
    rescanned : ndarray (max_iter + 1,) int64, written: the rows each pass scanned
        in full
    labels, lower : ndarray (n,) int32 and float64, written: the last pass's labels
        and bounds

    Returns lloyd_loop's tuple, then the number of passes.
    """
    n, d = X.shape
    k = centers.shape[0]
    centers = centers.copy()
    if record_centers:
        _record(path, 0, centers)
    weight_sums = np.zeros(k)
    sums = np.zeros((k, d))
    scalars = np.zeros(3)
    counted = np.zeros(1, dtype=np.int64)
    drops = np.zeros(k)
    previous = np.empty(n, dtype=np.int32)  # the labels of the pass before, swapped in
    min_distances = np.empty(n, dtype=X.dtype)
    had_previous = n < 0  # a run-time boolean (see lloyd_loop)
    n_iter = 0
    n_passes = 0
    shift = 0.0
    status = LOOP_DONE
    converged = False
    while True:
        scaled_t, norms = _pass_centers(centers, width)
        max_center_norm = 0.0
        for j in range(k):
            max_center_norm = max(max_center_norm, np.float64(norms[j]))
        separation = center_separation(centers)
        _clear(weight_sums, sums, scalars)
        counted[0] = 0
        initial = not had_previous
        _bounded_blocks(bounded_pass, nearest, nearest_single, single_template, scaled_t,
                        single_slack, centers, X, sample_weight, unit_weight, norms, x_norms,
                        previous, initial, lower, drops, separation, slack_scale, max_center_norm,
                        upward, chunk_rows, tile, step, labels, min_distances, weight_sums, sums,
                        scalars, counted)
        rescanned[n_passes] = counted[0]
        n_passes += 1
        go_on, status, converged, n_iter, updated, shift = _close_and_update(
            centers, shift, tol, had_previous, n_iter, max_iter, n, weight_sums, sums, scalars,
            record_centers, path, ssd, n_changed)
        if go_on:
            _movement_drops(centers, updated, drops)
        # One assignment on every path: with ``centers = updated`` in a branch that
        # breaks, numba passed _movement_drops an empty (0, 0) array for ``centers``.
        centers = updated
        if not go_on:
            break
        # The labels just written are the next pass's previous ones.
        previous, labels = labels, previous
        had_previous = n_iter > 0
    return (status, n_iter, converged, centers, weight_sums, scalars[0], had_previous, labels,
            scalars[1], int(scalars[2]), n_passes)
