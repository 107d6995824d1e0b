"""Lloyd's iterations in one compiled call, for data in memory in one dense block.

The kernel :func:`lloyd_loop` runs what :func:`kmix.models.lloyd.run_lloyd` runs
with plain passes and no callback (see :mod:`kmix.kernels.compiled.kmeans_loop`),
and :func:`bounded_loop` what it runs with Hamerly's bounds: the same passes,
means, records and stop tests, to the rounding of the centres' squared shift
(summed in another order, it can only move a stop that falls exactly on
``tol``). Each hands back early when a pass leaves a cluster empty.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np

from .compiled import threads
from .kmeans_passes import (FUSED_MAX_FEATURES, _pass_inputs, direct_separation, fused_tile_rows,
                            pass_steps, plain_pass_width)

__all__ = ["LoopResult", "bounded_loop", "bounded_pass_argument", "loop_applies", "lloyd_loop",
           "plain_pass_argument"]

# The loop keeps every iteration's centres in one preallocated array (max_iter + 1
# of them); above this size run_lloyd's own loop records them instead.
_PATH_BYTES = 32 * 2**20


class LoopResult(NamedTuple):
    finished: bool  # converged or max_iter; False: the last pass left a cluster empty
    n_iter: int  # iterations done and recorded
    converged: bool
    centers: np.ndarray  # (k, d), X's dtype: the centres the last pass assigned to
    labels: np.ndarray  # (n,) int32, from the last pass
    had_previous: bool  # whether the last pass had the labels of a pass before it
    ssd_previous: float  # the last pass's SSD of those labels (nan without them)
    changed: int  # the labels the last pass changed (n without labels before it)
    inertia: float  # the last pass's SSD
    weight_sums: np.ndarray  # (k,) float64, the last pass's
    path: np.ndarray | None  # (n_iter, k, d): the centres after every update (None if not kept)
    ssd: np.ndarray  # (n_iter, 2) float64: SSD after each assignment and each update
    n_changed: np.ndarray  # (n_iter,) int64
    rescanned: tuple[int, ...] = ()  # bounded: the rows each pass scanned in full


def loop_applies(n_clusters: int, n_features: int, itemsize: int, max_iter: int,
                 record_centers: bool, bounds: bool = False) -> bool:
    """Whether :func:`lloyd_loop` (or with ``bounds`` :func:`bounded_loop`) takes a
    fit of this shape (the compiled pass of few features; with bounds, few enough
    centres to measure their separations directly; a path of recorded centres of
    moderate size)."""
    if n_features > FUSED_MAX_FEATURES:
        return False
    if bounds and not direct_separation(n_clusters, n_features):
        return False
    return not record_centers or (max_iter + 1) * n_clusters * n_features * itemsize <= _PATH_BYTES


def _result(status: int, n_iter: int, converged: bool, centers: np.ndarray,
            weight_sums: np.ndarray, inertia: float, had_previous: bool, labels: np.ndarray,
            ssd_previous: float, changed: int, path: np.ndarray, ssd: np.ndarray,
            n_changed: np.ndarray, record_centers: bool,
            rescanned: tuple[int, ...] = ()) -> LoopResult:
    """A compiled loop's returned values as a LoopResult (its records cut to the
    iterations done)."""
    from .compiled import kmeans_loop

    return LoopResult(
        finished=status == kmeans_loop.LOOP_DONE, n_iter=int(n_iter), converged=bool(converged),
        centers=centers, labels=labels, had_previous=bool(had_previous),
        ssd_previous=float(ssd_previous) if had_previous else float("nan"),
        changed=int(changed) if had_previous else labels.shape[0],
        inertia=float(inertia), weight_sums=weight_sums,
        path=path[1:n_iter + 1] if record_centers else None,
        ssd=ssd[:n_iter], n_changed=n_changed[:n_iter], rescanned=rescanned,
    )


def lloyd_loop(block: Any, centers: np.ndarray, *, max_iter: int, tol: float,
               record_centers: bool) -> LoopResult:
    """Lloyd's plain iterations from ``centers`` over a whole dense block
    (``block.X``, ``sample_weight``, ``unit_weight``, ``n_threads``)."""
    from .compiled import kmeans_lloyd, kmeans_loop  # numba is imported on first use only

    X, sample_weight, centers, _ = _pass_inputs(block.X, block.sample_weight, centers,
                                                np.empty(0))
    n, d = X.shape
    k = centers.shape[0]
    rows, step = pass_steps(k, d, X.dtype.itemsize)
    features = plain_pass_width(d)
    tile = fused_tile_rows(features, X.dtype.itemsize)
    path = np.empty((max_iter + 1 if record_centers else 0, k, d), dtype=X.dtype)
    ssd = np.empty((max_iter, 2))
    n_changed = np.empty(max_iter, dtype=np.int64)
    labels = np.empty(n, dtype=np.int32)
    nearest = kmeans_lloyd.nearest_argument(features, X.dtype)
    plain_pass = plain_pass_argument(nearest, X, sample_weight)
    with threads(block.n_threads, -(-n // rows)):
        (status, n_iter, converged, centers, weight_sums, inertia, had_previous, labels,
         ssd_previous, changed) = kmeans_loop.lloyd_loop(
             plain_pass, nearest, X, sample_weight, bool(block.unit_weight), centers,
             int(max_iter), float(tol), features, rows, tile, step, bool(record_centers), path,
             ssd, n_changed, labels)
    return _result(status, n_iter, converged, centers, weight_sums, inertia, had_previous, labels,
                   ssd_previous, changed, path, ssd, n_changed, record_centers)


def bounded_loop(block: Any, centers: np.ndarray, *, max_iter: int, tol: float,
                 record_centers: bool) -> LoopResult:
    """Lloyd's iterations with Hamerly's bounds from ``centers`` over a whole dense
    block of centred rows (``block.X``, ``sample_weight``, ``x_norms``,
    ``unit_weight``, ``n_threads``): the passes, updates and records of run_lloyd
    with ``LloydPasses(bounds=True)``, the same numbers."""
    from numba.core.errors import NumbaExperimentalFeatureWarning

    from .compiled import kmeans_bounded, kmeans_loop  # numba is imported on first use only

    X, sample_weight, centers, x_norms = _pass_inputs(block.X, block.sample_weight, centers,
                                                      block.x_norms)
    n, d = X.shape
    k = centers.shape[0]
    rows, step = pass_steps(k, d, X.dtype.itemsize)
    width = max(4, plain_pass_width(d))
    tile = fused_tile_rows(width, X.dtype.itemsize)
    path = np.empty((max_iter + 1 if record_centers else 0, k, d), dtype=X.dtype)
    ssd = np.empty((max_iter, 2))
    n_changed = np.empty(max_iter, dtype=np.int64)
    rescanned = np.zeros(max_iter + 1, dtype=np.int64)
    labels = np.empty(n, dtype=np.int32)
    lower = np.zeros(n)
    eps = float(np.finfo(X.dtype).eps)
    # The arguments bounded_statistics gives the pass (see there). For float64 the
    # blocked loop: bounded_statistics takes it while the float32 scan is on, and
    # the written-out kernel (the same values) only when the centres are too large
    # for float32.
    nearest = kmeans_bounded.nearest_two_argument(width, X.dtype,
                                                  written_out=X.dtype != np.float64)
    nearest_single = kmeans_bounded.nearest_two_argument(width, np.float32)
    single_template = np.zeros((width, 0), dtype=np.float32) if X.dtype == np.float64 else None
    bounded_pass = bounded_pass_argument(nearest, nearest_single, X, sample_weight, x_norms)
    with threads(block.n_threads, -(-n // rows)), warnings.catch_warnings():
        # Compiling the loop, numba builds a tuple type whose first member is a
        # compiled function (the loop's arguments as it types a call) and warns that
        # such tuples are experimental; the loop only hands the functions on.
        warnings.simplefilter("ignore", NumbaExperimentalFeatureWarning)
        (status, n_iter, converged, centers, weight_sums, inertia, had_previous, labels,
         ssd_previous, changed, n_passes) = kmeans_loop.bounded_loop(
             bounded_pass, nearest, nearest_single, single_template, X, sample_weight,
             bool(block.unit_weight), x_norms, centers, int(max_iter), float(tol), width, rows,
             tile, step, 8.0 * (d + 4) * eps, 8.0 * (d + 4) * float(np.finfo(np.float32).eps),
             1.0 + (d + 2) * eps, bool(record_centers), path, ssd, n_changed, rescanned, labels,
             lower)
    return _result(status, n_iter, converged, centers, weight_sums, inertia, had_previous, labels,
                   ssd_previous, changed, path, ssd, n_changed, record_centers,
                   tuple(int(count) for count in rescanned[:n_passes]))


def _c_array(dtype: Any, ndim: int) -> Any:
    """numba's type of a C-contiguous, writable array: the passes' own arrays."""
    from numba import types

    return types.Array(dtype, ndim, "C")


def plain_pass_argument(nearest: Any, X: np.ndarray, sample_weight: np.ndarray) -> Any:
    """``kmeans_lloyd.fused_pass`` as a first-class function for :func:`lloyd_loop`,
    typed for the arrays the loop passes it, as :func:`bounded_pass_argument` is
    for the bounded pass (and for the same reason). One per kernel and argument
    types."""
    import numba
    from numba import types

    from .compiled import kmeans_lloyd
    from .compiled.function_argument import FunctionArgument

    real = numba.from_dtype(X.dtype)
    key = (nearest, numba.typeof(X), numba.typeof(sample_weight))
    if key not in _PASS_ARGUMENTS:
        signature = types.void(
            nearest.numba_type, _c_array(real, 2), types.int64, types.int64, key[1],
            key[2], types.boolean, _c_array(real, 1), types.int64,
            _c_array(types.int32, 1), types.boolean, types.int64, types.int64,
            _c_array(types.int32, 1), types.boolean, _c_array(real, 1),
            _c_array(types.float64, 1), _c_array(types.float64, 2),
            _c_array(types.float64, 1))
        _PASS_ARGUMENTS[key] = FunctionArgument(kmeans_lloyd.fused_pass, signature)
    return _PASS_ARGUMENTS[key]


def bounded_pass_argument(nearest: Any, nearest_single: Any, X: np.ndarray,
                          sample_weight: np.ndarray, x_norms: np.ndarray) -> Any:
    """``kmeans_bounded.bounded_fused_pass`` as a first-class function for
    :func:`bounded_loop`, typed for the arrays the loop passes it (its own arrays
    C-contiguous and writable; X, the weights and the norms as they come). A loop
    calling the pass directly would hold a compiled copy of it, built again with
    the loop; through the argument the pass is compiled once, as the passes run
    from Python call it. One per kernel pair and argument types."""
    import numba
    from numba import types

    from .compiled import kmeans_bounded
    from .compiled.function_argument import FunctionArgument

    real = numba.from_dtype(X.dtype)

    single = X.dtype == np.float64
    key = (nearest, nearest_single, numba.typeof(X), numba.typeof(sample_weight),
           numba.typeof(x_norms))
    if key not in _PASS_ARGUMENTS:
        signature = types.void(
            nearest.numba_type, _c_array(real, 2), nearest_single.numba_type,
            _c_array(types.float32, 2) if single else types.none, _c_array(types.float32, 1),
            types.float64, _c_array(real, 2), types.int64, types.int64, key[2], key[3],
            types.boolean, _c_array(real, 1), types.int64, key[4], _c_array(types.int32, 1),
            types.boolean, _c_array(types.float64, 1), _c_array(types.float64, 1),
            _c_array(types.float64, 1), types.float64, types.float64, _c_array(types.int32, 2),
            _c_array(types.float64, 2), types.float64, types.int64, types.int64,
            _c_array(types.int32, 1), _c_array(real, 1), _c_array(types.float64, 1),
            _c_array(types.float64, 2), _c_array(types.float64, 1), _c_array(types.int64, 1))
        _PASS_ARGUMENTS[key] = FunctionArgument(kmeans_bounded.bounded_fused_pass, signature)
    return _PASS_ARGUMENTS[key]


_PASS_ARGUMENTS: dict = {}
