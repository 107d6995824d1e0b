"""``KMeans.partial_fit``: k-means one batch at a time, by mini-batch steps.

The first batch is also where the centres start: KMeans's own initialisation
(``init``, ``n_init``) on that batch's rows, the start with the lowest SSD on
the batch kept when there are several. Each call then makes one step of
:func:`kmix.models.minibatch.minibatch_step` on every row of the batch (each
with its weight, no draw): every centre that received weight w moves toward the
batch mean of its points by w / (its cumulative weight), so that it stays the
running mean of every point it was given. KMeans has no reassignment of
low-count centres (MiniBatchKMeans with ``reassignment_ratio=0`` makes the same
steps from the same start).

:meth:`kmix.models.kmeans.KMeansCore.partial_fit` calls :func:`partial_fit` here.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import backends
from .._validation import check_data, check_random_state
from ..kernels import kmeans as kk
from ..kernels import kmeans_passes as kpass
from .kmeans import _check_verbose, _checked_centers, _in_frame, _init_random_state
from .lloyd import initial_centers
from .minibatch import MiniBatchState, _batch_block, _new_history, minibatch_step

__all__ = ["OnlineKMeansState", "is_first_batch", "partial_fit"]


class OnlineKMeansState(NamedTuple):
    """What a KMeans keeps between two calls of ``partial_fit``."""

    counts: MiniBatchState  # cumulative weight of each centre
    rng: np.random.RandomState  # passed to the step (it draws nothing without reassignment)
    centers: np.ndarray  # the model's cluster_centers_ after the last step (the same object)
    records_centers: bool


def is_first_batch(model: Any) -> bool:
    """Whether the next ``partial_fit`` of ``model`` starts again on its batch: no
    step made yet, or ``fit`` has replaced the centres since the last one."""
    state: OnlineKMeansState | None = getattr(model, "_online_kmeans", None)
    return state is None or getattr(model, "cluster_centers_", None) is not state.centers


def _start(model: Any, data: Any, X: Any) -> np.ndarray:
    """The initial centres on the first batch, float64 in the batch's frame: of
    ``n_init`` starts, the one with the lowest SSD on the batch."""
    n_clusters, n_init, init_name, init_array, _ = model._check_params(X, stacklevel=5)
    if init_array is not None:
        return _in_frame(init_array.astype(np.float64), data.offset.astype(np.float64))
    rng = check_random_state(model.random_state)
    callable_state = _init_random_state(model.random_state) if callable(model.init) else None
    rows, weights, norms = data.arrays()
    block = _batch_block(rows, weights, norms, data.n_threads)
    best, best_ssd = None, None
    for _ in range(n_init):
        if callable_state is not None:
            given = _checked_centers(model.init(X, n_clusters, random_state=callable_state), X.dtype,
                                     n_clusters, X.shape[1], "init(X, n_clusters, random_state)")
            start = _in_frame(given.astype(np.float64), data.offset.astype(np.float64))
        else:
            start = np.asarray(initial_centers(data, n_clusters, init_name, rng), dtype=np.float64)
        if n_init == 1:
            return start
        ssd = kpass.lloyd_block(block, start.astype(data.dtype))[1].ssd
        if best_ssd is None or ssd < best_ssd:
            best, best_ssd = start, ssd
    return best


def partial_fit(model: Any, X: Any, sample_weight: Any = None) -> None:
    """One mini-batch step of ``model`` (a KMeansCore) on every row of X; sets
    ``cluster_centers_``, ``labels_`` and ``inertia_`` (of X after the step),
    ``n_iter_`` (steps made), ``n_features_in_`` and ``history_``.

    Raises
    ------
    ValueError
        X with another number of features than the batches before it.
    """
    X = check_data(X, finite=False, accept_sparse=True)
    first = is_first_batch(model)
    if not first and X.shape[1] != model.cluster_centers_.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(model).__name__} is expecting "
            f"{model.cluster_centers_.shape[1]} features as input"
        )
    verbose = _check_verbose(model.verbose)
    with backends.wrap(X, sample_weight, centre=True) as data:
        offset = data.offset.astype(np.float64)
        if first:
            centers = _start(model, data, X)
            n_clusters, n_features = centers.shape
            state = OnlineKMeansState(MiniBatchState(n_clusters), np.random.RandomState(0), centers,
                                      model._records_centers(n_clusters, n_features))
            history = _new_history() if model.record_history is not False else None
            if history is not None and state.records_centers:
                history.append(centers=centers + offset)
            n_steps = 0
        else:
            state = model._online_kmeans
            centers = _in_frame(model.cluster_centers_.astype(np.float64), offset)
            history, n_steps = model.history_, model.n_iter_
        rows, weights, norms = data.arrays()
        block = _batch_block(rows, weights, norms, data.n_threads)
        centers, batch_ssd = minibatch_step(block, centers, state.counts, state.rng, reassign=False,
                                            reassignment_ratio=0.0, verbose=verbose)
        labels, stats = data.reduce(kpass.lloyd_block, centers.astype(data.dtype), merge=kk.merge_statistics,
                                    keep_state=True, blas_in_threads=kpass.uses_blas(data.n_features))
        labels = data.final_labels(centers, labels)
    dtype = X.dtype if first else model.cluster_centers_.dtype
    model.cluster_centers_ = _in_frame(centers, -offset).astype(dtype, copy=False)
    model.labels_ = labels
    model.inertia_ = float(stats.ssd)
    model.n_iter_ = n_steps + 1
    model.n_features_in_ = X.shape[1]
    if history is not None:
        if state.records_centers:
            history.append(centers=model.cluster_centers_)
        history.append(ssd=batch_ssd, smoothed_ssd=np.nan)
        history.n_iter = model.n_iter_
    model.history_ = history
    model._online_kmeans = state._replace(centers=model.cluster_centers_)
