"""k-means as a loop over the data protocol: Lloyd's iterations, k-means||, the best of n_init runs.

Everything here reaches the data through a data object of :mod:`kmix.backends`
(centred: see ``data.centred()``) and the kernels' public functions, so the same
loop runs in memory and on a dask cluster. :class:`kmix.KMeans` is a thin shell
over :func:`fit_kmeans`, and :class:`kmix.GaussianMixture` starts from it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .._typing import is_sparse
from ..backends.blocks import whole_block_only
from ..kernels import kmeans as kk
from ..kernels import kmeans_bounds as kbounds
from ..kernels import kmeans_loop as kloop
from ..kernels import kmeans_parallel as kp
from ..kernels import kmeans_passes as kpass
from ..kernels.seeding import kmeans_plusplus
from .history import History

__all__ = ["KMeansState", "LloydResult", "LloydPasses", "run_lloyd", "kmeans_parallel",
           "initial_centers", "fit_kmeans", "lloyd_on_array", "uses_bounds", "HAMERLY_MIN_WORK"]

# "auto" takes Hamerly's bounds when a full scan of a row (k x d multiply-adds)
# costs more than keeping its bound (about d of them and some bookkeeping): from
# k·d = 256, or with more than 32 features (where a full scan is a product of the
# rows with every centre). bench/RESULTS.md has the measurements behind the threshold.
HAMERLY_MIN_WORK = 256


def uses_bounds(algorithm: str, n_clusters: int, n_features: int) -> bool:
    """Whether a fit of in-memory data runs the bounded pass (see ``KMeans.algorithm``)."""
    if algorithm != "auto":
        return algorithm == "hamerly"
    return n_features > kpass.FUSED_MAX_FEATURES or n_clusters * n_features >= HAMERLY_MIN_WORK


class KMeansState(NamedTuple):
    """What ``callback(iteration, state)`` receives after each iteration."""

    iteration: int  # 1-based count of completed iterations
    centers: np.ndarray  # (k, d) centres after the update step
    labels: Any  # (n,) labels from the assignment step (a dask array for dask input)
    ssd_assignment: float  # SSD after the assignment step
    n_changed: int  # points that changed cluster in this assignment step
    center_shift: float  # total squared movement of the centres


class LloydResult(NamedTuple):
    centers: np.ndarray  # (k, d), in the data's (centred) frame
    labels: Any  # the last pass's per-row state (see data.rows)
    inertia: float
    n_iter: int
    converged: bool
    history: History
    cluster_weights: np.ndarray  # (k,) total weight of each cluster under ``labels``


class LloydPasses:
    """Lloyd's assignment passes over a data object, with Hamerly's bounds kept
    between them when ``bounds`` (the same labels as the plain pass).

    With bounds, a pass given the state the last pass returned moves each row's
    lower bound by the centres' movement and scans only the rows it cannot rule
    out; any other call starts over (a plain pass, and the bounds are void).

    Attributes
    ----------
    rescanned : list of int
        Per bounded pass, the rows whose distances to all centres were computed.
    """

    def __init__(self, data: Any, bounds: bool) -> None:
        self.data = data
        # The numpy passes of small data keep no bounds (the labels are the same).
        self.bounds = bounds and getattr(data, "compiled", True)
        self._centers: np.ndarray | None = None
        self._state: Any = None
        self.rescanned: list[int] = []

    def __call__(self, centers: np.ndarray, previous: Any = None) -> tuple[Any, kk.KMeansStats]:
        """The per-row state (labels first) and the merged KMeansStats of one pass."""
        centers = np.ascontiguousarray(centers, dtype=self.data.dtype)
        own = previous is None or (previous is self._state and self._centers is not None)
        if not self.bounds or not own:
            # Not the state the bounds belong to: a plain pass, and the bounds are void.
            self._state = self._centers = None
            return self.data.reduce(kpass.lloyd_block, centers, merge=kk.merge_statistics,
                                    state=previous, keep_state=True,
                                    blas_in_threads=kpass.uses_blas(self.data.n_features))
        movement = None if previous is None else kbounds.center_movement(self._centers, centers)
        drops = None if previous is None else kbounds.bound_drops(self._centers, centers, movement)
        state, (stats, rescanned) = self.data.reduce(
            kpass.bounded_block, centers, drops, movement, merge=kpass.merge_counted, state=previous,
            keep_state=True, blas_in_threads=kpass.uses_blas(self.data.n_features))
        self._centers = centers.copy()
        self._state = state
        self.rescanned.append(rescanned)
        return state, stats


def _new_history() -> History:
    return History(
        {
            "centers": "centres: the initial ones, then after every update step (n_iter + 1, k, d)",
            "ssd": "SSD after the assignment step and after the update step (n_iter, 2)",
            "n_changed": "points that changed cluster in each assignment step (n_iter,)",
        }
    )


def run_lloyd(
    passes: LloydPasses,
    centers: np.ndarray,
    *,
    max_iter: int,
    tol: float,
    record: bool = True,
    record_centers: bool = True,
    callback: Callable[[int, KMeansState], Any] | None = None,
) -> LloydResult:
    """Lloyd iterations from ``centers`` on the data of ``passes``.

    Each iteration is an assignment pass followed by the update step. The pass
    that assigns points for iteration t+1 also yields the SSD after the update of
    iteration t (distances of the old labels to the moved centres, less those of
    the points the update moved to empty clusters: they are their new clusters'
    centres), so recording both half-steps costs no extra pass over the data.

    Stops when no label changes (strict convergence), when the total squared
    centre shift is <= ``tol`` (already scaled to the data), at ``max_iter``, or
    when the callback returns True. The returned labels and inertia always belong
    to the returned centres, even when the last update re-seeded an empty cluster.

    Parameters
    ----------
    passes : LloydPasses over a centred data object
    centers : ndarray (k, d), in the data's frame
    record : bool
        Keep a History: the SSDs and changed labels of every iteration.
    record_centers : bool
        With ``record``, also every iteration's centres (k x d each).
    """
    data = passes.data
    history = _new_history() if record else History()
    record_centers = record and record_centers
    centers = np.array(centers, dtype=data.dtype, copy=True)
    if record_centers:
        history.append(centers=centers)
    start = 0
    if callback is None and _loop_applies(passes, centers, max_iter, record_centers):
        kernel = functools.partial(kloop.bounded_loop if passes.bounds else kloop.lloyd_loop,
                                   max_iter=max_iter, tol=tol, record_centers=record_centers)
        loop = data.reduce(kernel, centers, merge=whole_block_only, block_rows=None)
        passes.rescanned.extend(loop.rescanned)
        if record_centers:
            history.extend(centers=loop.path)
        if record:
            history.extend(ssd=loop.ssd, n_changed=loop.n_changed)
        history.n_iter = loop.n_iter
        if loop.finished:
            history.converged = loop.converged
            return LloydResult(loop.centers, (loop.labels,), loop.inertia, loop.n_iter,
                               loop.converged, history, loop.weight_sums)
        # A cluster left empty: the rest here, from the loop's last pass (run again
        # for the farthest rows the relocation reads; the labels before that pass
        # are gone, written over, so its SSD of them and its changed labels come
        # from the loop: the same pass, the same numbers).
        start, centers = loop.n_iter, loop.centers
        labels, stats = passes(centers)
        if loop.had_previous:
            stats = stats._replace(ssd_previous=loop.ssd_previous, n_changed=loop.changed)
    else:
        labels, stats = passes(centers)
    converged = False
    n_iter = start
    for iteration in range(start, max_iter):
        n_iter = iteration + 1
        # The old centres and the sums are spent once the new centres are known
        # (a history keeps copies): the means replace the sums, and the old centres
        # go before the means are cast, so that at most two (k, d) arrays are held
        # at a time.
        new_centers, _ = kk.update_centers(stats, centers, in_place=True)
        # Points moved to empty clusters: the next pass measures them in the
        # clusters they left (see kk.relocation_ssd).
        relocated = kk.relocations(stats, centers)[0].size > 0
        relocated_ssd = kk.relocation_ssd(stats, centers, new_centers) if relocated else 0.0
        shift = kk.squared_shift(centers, new_centers)
        ssd_assignment = stats.ssd
        n_changed = stats.n_changed
        stats = stats._replace(sums=None)
        strict = iteration > 0 and n_changed == 0
        centers = None
        centers = new_centers.astype(data.dtype, copy=False)
        del new_centers
        if strict and not relocated:
            # Same labels as before: the centres did not move; nothing to recompute.
            ssd_update = ssd_assignment
        else:
            # (Also when the labels stayed but a relocation moved centres: the stop
            # is the same as scikit-learn's, and this pass gives the labels and
            # inertia of the returned centres.)
            labels, stats = passes(centers, labels)
            ssd_update = max(stats.ssd_previous - relocated_ssd, 0.0)
        if record_centers:
            history.append(centers=centers)
        if record:
            history.append(ssd=[ssd_assignment, ssd_update], n_changed=n_changed)
        history.n_iter = n_iter
        stop = False
        if callback is not None:
            state = KMeansState(n_iter, centers.copy(), data.rows(labels), ssd_assignment, n_changed, shift)
            if callback(n_iter, state) is True:
                history.stopped_by_callback = True
                stop = True
        if strict or shift <= tol:
            converged = True
            break
        if stop:
            break
    history.converged = converged
    return LloydResult(centers, labels, stats.ssd, n_iter, converged, history, stats.weight_sums)


def _loop_applies(passes: LloydPasses, centers: np.ndarray, max_iter: int, record_centers: bool) -> bool:
    """Whether run_lloyd's iterations run in one compiled call (kernels.kmeans_loop):
    compiled passes, plain or bounded, over data in memory in one dense block (with
    bounds, centred: the rows' norms kept beside them)."""
    data = passes.data
    return (max_iter > 0 and getattr(data, "dense_block", False)
            and getattr(data, "compiled", True)
            and (not passes.bounds or getattr(data, "x_norms", None) is not None)
            and kloop.loop_applies(centers.shape[0], data.n_features, np.dtype(data.dtype).itemsize,
                                   max_iter, record_centers, passes.bounds))



def kmeans_parallel(
    data: Any,
    n_clusters: int,
    rng: np.random.Generator,
    *,
    oversampling_factor: float = 2.0,
    n_rounds: int = 5,
) -> np.ndarray:
    """k-means|| initial centres (Bahmani et al. 2012) on a centred data object.

    One pass draws the first centre (weighted); ``n_rounds`` rounds each keep
    about ``oversampling_factor * n_clusters`` new candidates, drawn with
    probability proportional to weight x squared distance to the candidates so
    far (two passes a round: draw, then update the distances); one last pass
    weighs each candidate by the weight of the points nearest to it. The few
    hundred weighted candidates are then clustered in memory: weighted greedy
    k-means++, refined by weighted Lloyd iterations.

    Returns
    -------
    centers : ndarray (n_clusters, n_features), data's dtype, in the centred frame
    """
    k = n_clusters

    def seed() -> int:
        return int(rng.integers(2**63 - 1))

    # A weighted sample of k points: its first is the first centre; the rest
    # fill in if the data has fewer than k distinct points.
    sample = data.reduce(kp.chunk_keyed_sample, seed(), k, merge=functools.partial(kp.merge_keyed, size=k))
    candidates = sample.points[:1]
    closest, cost = data.reduce(kp.chunk_update_closest, candidates, merge=kp.add, keep_state=True)
    factor = oversampling_factor * k
    for round_index in range(n_rounds):
        if not cost > 0:  # every point is a candidate already
            break
        new = data.reduce(kp.chunk_oversample, factor, float(cost), seed(), state=closest,
                          merge=kp.concatenate_points)
        if new.shape[0] == 0:
            continue
        candidates = np.concatenate([candidates, new])
        if round_index < n_rounds - 1:  # the last round's distances are never used
            closest, cost = data.reduce(kp.chunk_update_closest, new, state=closest, merge=kp.add,
                                        keep_state=True)
    del closest
    weights = data.reduce(kp.chunk_candidate_weights, candidates, merge=kp.add)
    return _recluster(candidates, weights, k, rng, sample.points).astype(data.dtype)


def _recluster(candidates: np.ndarray, weights: np.ndarray, n_clusters: int,
               rng: np.random.Generator, fallback: np.ndarray) -> np.ndarray:
    """k centres from weighted candidates: weighted k-means++, then weighted Lloyd."""
    positive = weights > 0
    points, weights = candidates[positive], weights[positive]
    if points.shape[0] <= n_clusters:
        # Fewer distinct candidates than clusters: take them all, then sampled points.
        return np.concatenate([points, fallback])[:n_clusters]
    x_norms = kk.squared_norms(points)
    start = points[kmeans_plusplus(points, n_clusters, rng, weights, x_norms)]
    # Candidates are few (about oversampling_factor * k * n_rounds): iterate to the end.
    tol = 1e-8 * float(np.mean(np.var(points, axis=0)))
    return lloyd_on_array(points, weights, start, max_iter=100, tol=tol, record=False, x_norms=x_norms).centers


def lloyd_on_array(X: np.ndarray, sample_weight: np.ndarray, centers: np.ndarray, *, max_iter: int,
                   tol: float, record: bool = True, x_norms: np.ndarray | None = None) -> LloydResult:
    """:func:`run_lloyd` (plain passes) on an in-memory array that is already
    centred and checked; the result's labels are an ndarray (n,) int32."""
    from ..backends.numpy import InMemoryData

    data = InMemoryData.of_centred(X, sample_weight, kk.squared_norms(X) if x_norms is None else x_norms)
    result = run_lloyd(LloydPasses(data, bounds=False), centers, max_iter=max_iter, tol=tol, record=record)
    return result._replace(labels=data.rows(result.labels, copy=False))


def initial_centers(data: Any, n_clusters: int, init: str, rng: np.random.Generator, *,
                    oversampling_factor: float = 2.0, n_rounds: int = 5) -> np.ndarray:
    """Initial centres in the centred frame of ``data``: "k-means++" (greedy, needs the
    data in memory), "k-means||" or "random" (weighted distinct rows)."""
    if init == "k-means||":
        if is_sparse(getattr(data, "X", None)):
            raise ValueError(
                "init='k-means||' is not available for sparse X; use init='k-means++' (the "
                "default for in-memory data), 'random' or an array of centres"
            )
        return kmeans_parallel(data, n_clusters, rng, oversampling_factor=oversampling_factor,
                               n_rounds=n_rounds)
    if init == "random":
        return data.sample(n_clusters, rng)[0]
    X, sample_weight, x_norms = data.arrays()
    chosen = X[kmeans_plusplus(X, n_clusters, rng, sample_weight, x_norms, n_threads=data.n_threads,
                               compiled=getattr(data, "compiled", True))]
    # Centres are dense, whatever the rows are stored as.
    return chosen.toarray() if is_sparse(chosen) else chosen


def fit_kmeans(
    data: Any,
    n_clusters: int,
    rng: np.random.Generator,
    *,
    init: str | np.ndarray,
    n_init: int = 1,
    bounds: bool,
    max_iter: int,
    tol: float,
    record: bool = True,
    record_centers: bool = True,
    callback: Callable[[int, KMeansState], Any] | None = None,
    oversampling_factor: float = 2.0,
    n_rounds: int = 5,
) -> LloydResult:
    """The best (lowest inertia) of ``n_init`` Lloyd runs on a centred data object.

    ``init``: a name (see :func:`initial_centers`) or an array of centres in the
    data's centred frame. ``tol``: on the total squared centre shift, already
    scaled to the data.
    """
    passes = LloydPasses(data, bounds)
    best: LloydResult | None = None
    for _ in range(n_init):
        if isinstance(init, str):
            start = initial_centers(data, n_clusters, init, rng, oversampling_factor=oversampling_factor,
                                    n_rounds=n_rounds)
        else:
            start = init
        result = run_lloyd(passes, start, max_iter=max_iter, tol=tol, record=record,
                           record_centers=record_centers, callback=callback)
        if best is None or result.inertia < best.inertia:
            best = result
    assert best is not None
    return best
