"""k-means clustering by Lloyd's algorithm, with every iteration recorded."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .._typing import ArrayLike, RandomStateLike
from .._validation import (
    check_array,
    check_dask_array,
    check_finite,
    check_float,
    check_int,
    check_is_fitted,
    check_n_features,
    check_random_state,
    check_sample_weight,
    is_dask_array,
)
from ..backends import numpy as numpy_backend
from ..exceptions import ConvergenceWarning
from ..kernels import kmeans as kk
from ..kernels import kmeans_parallel as kp
from ..kernels.seeding import kmeans_plusplus, random_points
from ._base import BaseModel
from .history import History

__all__ = ["KMeans", "KMeansState", "InMemoryData", "BoundedData", "lloyd", "run_lloyd",
           "kmeans_parallel"]

_INITS = ("auto", "k-means++", "k-means||", "random")
_ALGORITHMS = ("auto", "lloyd", "hamerly")
# "auto" takes Hamerly's bounds when a full scan of a row (k x d multiply-adds)
# costs more than keeping its bound (about d of them and some bookkeeping): from
# k·d = 256, or with more than 32 features (where the plain pass calls BLAS per
# chunk). Measured on 300,000 rows, 20 iterations from k random rows, time per
# iteration bounds / Lloyd: d x k = 4 x 8: 1.43, 4 x 32: 1.44, 8 x 8: 1.28 (Lloyd
# faster); 8 x 32: 0.93, 16 x 16: 0.78, 4 x 64: 0.74, 32 x 8: 0.61, 8 x 64: 0.79,
# 64 x 4: 0.46.
HAMERLY_MIN_WORK = 256


def uses_bounds(algorithm: str, n_clusters: int, n_features: int) -> bool:
    """Whether a fit of in-memory data runs the bounded pass (see ``algorithm``)."""
    if algorithm != "auto":
        return algorithm == "hamerly"
    return n_features > kk.FUSED_MAX_FEATURES or n_clusters * n_features >= HAMERLY_MIN_WORK


class KMeansState(NamedTuple):
    """What ``callback(iteration, state)`` receives after each iteration."""

    iteration: int  # 1-based count of completed iterations
    centers: np.ndarray  # (k, d) centres after the update step
    labels: Any  # (n,) labels from the assignment step (a dask array for dask input)
    ssd_assignment: float  # SSD after the assignment step
    n_changed: int  # points that changed cluster in this assignment step
    center_shift: float  # total squared movement of the centres


class LloydResult(NamedTuple):
    centers: np.ndarray
    labels: Any  # ndarray, or a dask array kept on the cluster
    inertia: float
    n_iter: int
    converged: bool
    history: History
    cluster_weights: np.ndarray  # (k,) total weight of each cluster under ``labels``


class InMemoryData:
    """In-memory data as the Lloyd loop and k-means|| see it: the whole of X is one chunk.

    The dask backend's :class:`kmix.backends.dask.DaskData` has the same methods;
    the loops below run unchanged on either.

    Parameters
    ----------
    X : ndarray (n_samples, n_features), already validated and centred
    sample_weight : ndarray (n_samples,)
    x_norms : ndarray (n_samples,), optional
        Squared norms of the rows of X (computed when not given).
    """

    def __init__(self, X: np.ndarray, sample_weight: np.ndarray, x_norms: np.ndarray | None = None) -> None:
        self.X = X
        self.sample_weight = sample_weight
        self.x_norms = kk.squared_norms(X) if x_norms is None else x_norms
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        # Checked once: the compiled pass then skips the weights.
        self.unit_weight = bool(np.all(sample_weight == 1))

    def lloyd_pass(self, centers: np.ndarray, previous_labels: np.ndarray | None = None):
        """Labels (n,) int32 and the KMeansStats of one assignment pass."""
        labels, _, stats = numpy_backend.lloyd_pass(
            self.X, self.sample_weight, centers, self.x_norms, previous_labels, self.unit_weight,
            keep_distances=False,
        )
        return labels, stats

    def snapshot(self, labels: np.ndarray) -> np.ndarray:
        """Labels to hand to a callback (a copy: the loop owns the original)."""
        return labels.copy()

    def map_chunks(self, func: Callable, args: tuple = (), *, state: Any = None,
                   merge: Callable, state_dtype: Any = None) -> tuple[Any, Any]:
        """Run a chunk function (see :mod:`kmix.kernels.kmeans_parallel`) on X as one chunk."""
        return func(self.X, self.sample_weight, self.x_norms, state, 0, *args)


class BoundedData(InMemoryData):
    """In-memory data whose passes skip rows by Hamerly's bounds (the same labels).

    Between passes it keeps, per row, a lower bound on the distance to every centre
    but its own, with the centres and labels of the last pass; a pass given those
    labels as ``previous_labels`` moves the bounds by the centres' movement and
    scans only the rows it cannot rule out. Any other call starts over (all rows).

    Attributes
    ----------
    rescanned : list of int
        Per pass, the rows whose distances to all centres were computed.
    """

    def __init__(self, X: np.ndarray, sample_weight: np.ndarray, x_norms: np.ndarray | None = None) -> None:
        super().__init__(X, sample_weight, x_norms)
        self._lower = np.zeros(self.n_samples)
        self._centers: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self.rescanned: list[int] = []

    def lloyd_pass(self, centers: np.ndarray, previous_labels: np.ndarray | None = None):
        """Labels (n,) int32 and the KMeansStats of one assignment pass."""
        if previous_labels is not None and (previous_labels is not self._labels or self._centers is None):
            # Not the labels the bounds belong to: a plain pass, and the bounds are void.
            self._labels = self._centers = None
            return super().lloyd_pass(centers, previous_labels)
        drops = None if previous_labels is None else kk.bound_drops(self._centers, centers)
        labels, stats, rescanned = numpy_backend.bounded_pass(
            self.X, self.sample_weight, centers, self.x_norms, previous_labels, self._lower, drops,
            self.unit_weight,
        )
        self._centers = np.array(centers, copy=True)
        self._labels = labels
        self.rescanned.append(rescanned)
        return labels, stats


def _new_history() -> History:
    return History(
        {
            "centers": "centres: the initial ones, then after every update step (n_iter + 1, k, d)",
            "ssd": "SSD after the assignment step and after the update step (n_iter, 2)",
            "n_changed": "points that changed cluster in each assignment step (n_iter,)",
        }
    )


def lloyd(
    X: np.ndarray,
    sample_weight: np.ndarray,
    centers: np.ndarray,
    *,
    max_iter: int,
    tol: float,
    record: bool = True,
    callback: Callable[[int, KMeansState], Any] | None = None,
    x_norms: np.ndarray | None = None,
) -> LloydResult:
    """Lloyd iterations from ``centers`` on already validated (and centred) in-memory X.

    See :func:`run_lloyd`; this is it on :class:`InMemoryData`.
    """
    return run_lloyd(
        InMemoryData(X, sample_weight, x_norms), centers,
        max_iter=max_iter, tol=tol, record=record, callback=callback,
    )


def run_lloyd(
    data: Any,
    centers: np.ndarray,
    *,
    max_iter: int,
    tol: float,
    record: bool = True,
    callback: Callable[[int, KMeansState], Any] | None = None,
) -> LloydResult:
    """Lloyd iterations from ``centers`` on data held by a backend.

    Each iteration is an assignment pass followed by the update step. The pass
    that assigns points for iteration t+1 also yields the SSD after the update of
    iteration t (distances of the old labels to the moved centres), so recording
    both half-steps costs no extra pass over the data.

    Stops when no label changes (strict convergence), when the total squared
    centre shift is <= ``tol`` (already scaled to the data), at ``max_iter``, or
    when the callback returns True. The returned labels and inertia always belong
    to the returned centres.

    Parameters
    ----------
    data : InMemoryData or kmix.backends.dask.DaskData
        Anything with ``lloyd_pass(centers, previous_labels)`` returning labels and
        merged KMeansStats, ``snapshot(labels)`` and ``dtype``; validated, centred.
    centers : ndarray (k, d)
    """
    history = _new_history() if record else History()
    centers = np.array(centers, dtype=data.dtype, copy=True)
    if record:
        history.append(centers=centers)
    labels, stats = data.lloyd_pass(centers)
    converged = False
    strict = False
    n_iter = 0
    for iteration in range(max_iter):
        n_iter = iteration + 1
        new_centers, _ = kk.update_centers(stats, centers)
        shift = float(np.sum((new_centers.astype(np.float64) - centers) ** 2))
        ssd_assignment = stats.ssd
        n_changed = stats.n_changed
        strict = iteration > 0 and n_changed == 0
        centers = new_centers
        if strict:
            # Same labels as before: the centres did not move; nothing to recompute.
            ssd_update = ssd_assignment
        else:
            previous = labels
            labels, stats = data.lloyd_pass(centers, previous)
            ssd_update = stats.ssd_previous
        if record:
            history.append(centers=centers, ssd=[ssd_assignment, ssd_update], n_changed=n_changed)
        history.n_iter = n_iter
        stop = False
        if callback is not None:
            state = KMeansState(n_iter, centers.copy(), data.snapshot(labels), ssd_assignment, n_changed, shift)
            if callback(n_iter, state) is True:
                history.stopped_by_callback = True
                stop = True
        if strict or shift <= tol:
            converged = True
            break
        if stop:
            break
    history.converged = converged
    inertia = stats.ssd
    return LloydResult(centers, labels, inertia, n_iter, converged, history, stats.weight_sums)


def kmeans_parallel(
    data: Any,
    n_clusters: int,
    rng: np.random.Generator,
    *,
    oversampling_factor: float = 2.0,
    n_rounds: int = 5,
) -> np.ndarray:
    """k-means|| initial centres (Bahmani et al. 2012) on data held by a backend.

    One pass draws the first centre (weighted); ``n_rounds`` rounds each keep
    about ``oversampling_factor * n_clusters`` new candidates, drawn with
    probability proportional to weight x squared distance to the candidates so
    far (two passes a round: draw, then update the distances); one last pass
    weighs each candidate by the weight of the points nearest to it. The few
    hundred weighted candidates are then clustered in memory: weighted greedy
    k-means++, refined by weighted Lloyd iterations.

    Parameters
    ----------
    data : InMemoryData or kmix.backends.dask.DaskData (centred)
    n_clusters : int
    rng : numpy Generator
    oversampling_factor : float
    n_rounds : int

    Returns
    -------
    centers : ndarray (n_clusters, n_features), data's dtype, in the centred frame
    """
    k = n_clusters

    def seed() -> int:
        return int(rng.integers(2**63 - 1))

    # A weighted sample of k points: its first is the first centre; the rest
    # fill in if the data has fewer than k distinct points.
    _, sample = data.map_chunks(
        kp.chunk_keyed_sample, (seed(), k), merge=functools.partial(kp.merge_keyed, size=k)
    )
    candidates = sample.points[:1]
    closest, cost = data.map_chunks(
        kp.chunk_update_closest, (candidates,), merge=kp.add, state_dtype=np.float64
    )
    factor = oversampling_factor * k
    for round_index in range(n_rounds):
        if not cost > 0:  # every point is a candidate already
            break
        _, new = data.map_chunks(
            kp.chunk_oversample, (factor, float(cost), seed()), state=closest, merge=kp.concatenate_points
        )
        if new.shape[0] == 0:
            continue
        candidates = np.concatenate([candidates, new])
        if round_index < n_rounds - 1:  # the last round's distances are never used
            closest, cost = data.map_chunks(
                kp.chunk_update_closest, (new,), state=closest, merge=kp.add, state_dtype=np.float64
            )
    del closest
    _, weights = data.map_chunks(kp.chunk_candidate_weights, (candidates,), merge=kp.add)
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
    result = lloyd(points, weights, start, max_iter=100, tol=tol, record=False, x_norms=x_norms)
    return result.centers


class KMeans(BaseModel):
    """k-means clustering (Lloyd's algorithm) with a record of every iteration.

    Parameters
    ----------
    n_clusters : int, default 8
        Number of clusters, at least 1 and at most n_samples.
    init : {"auto", "k-means++", "k-means||", "random"} or array of shape (n_clusters, n_features)
        "k-means++" is greedy k-means++ (2 + ln k candidates per step, the best
        kept); "k-means||" is the scalable variant that makes a few passes over
        the data instead of one per centre (``oversampling_factor``,
        ``init_rounds``); "random" picks n_clusters distinct data points; an
        array gives the initial centres. "auto" (the default) is "k-means++" for
        in-memory data and "k-means||" for a dask array.
    n_init : int or "auto", default "auto"
        Number of runs from different initialisations; the one with the lowest
        inertia is kept. "auto" means 1 for "k-means++", "k-means||" or an array,
        10 for "random".
    max_iter : int, default 300
        Most Lloyd iterations per run.
    tol : float, default 1e-4
        The run stops once the total squared centre shift of an iteration is at most
        ``tol`` times the mean per-feature variance of X (or when no label changes).
    random_state : int, numpy Generator or None
        Seed of the initialisation.
    record_history : bool, default True
        Keep ``history_``: per iteration the centres, the SSD after each half-step
        and the number of points that changed cluster. Memory O(n_iter x k x d).
    algorithm : {"auto", "lloyd", "hamerly"}, default "auto"
        How each assignment step finds the nearest centres. "lloyd" computes the
        distance of every point to every centre. "hamerly" keeps a bound per point
        (one float64 more per point) and skips the points whose nearest centre
        provably has not changed, with a margin for rounding: the same labels,
        centres and iterations as "lloyd" (the sums are added in the same order;
        see :func:`kmix.kernels.kmeans.bounded_statistics` for the one caveat
        above 32 features), the SSDs equal up to rounding, usually several times
        fewer distances once the first iterations have settled most points; two
        numbers more per point. "auto" is "hamerly" for in-memory data where a
        point's full scan is long enough to be worth skipping (n_clusters x
        n_features >= 256, or more than 32 features), "lloyd" otherwise. On a
        dask array "auto" is "lloyd"; "hamerly" keeps each row's bound beside its
        label on the workers (8 bytes a row more) and gives the same labels.
    callback : callable, optional
        ``callback(iteration, state)`` after every iteration, ``state`` a
        :class:`KMeansState`. Returning True stops the run early;
        ``history_.stopped_by_callback`` and ``n_iter_`` say so.
    oversampling_factor : float, default 2.0
        k-means|| keeps about ``oversampling_factor * n_clusters`` candidates per round.
    init_rounds : int, default 5
        Number of k-means|| oversampling rounds.
    client : None, dask.distributed Client or str
        Where a fit on a dask array runs: None uses the active client, or starts
        a LocalCluster (one single-threaded worker process per core) and closes
        it after the fit; a Client is used as it is; a string is the address of a
        running scheduler (``"tcp://host:8786"``). Ignored for in-memory data.

    Attributes
    ----------
    cluster_centers_ : ndarray (n_clusters, n_features), dtype of X
    labels_ : ndarray (n_samples,) int, or a dask array for dask input
        Nearest centre of each training point, with respect to ``cluster_centers_``.
        For dask input: a dask array, kept on the cluster when the fit ran on the
        default client and that client outlives the fit, otherwise a lazy array
        that recomputes the same labels from X when computed.
    inertia_ : float
        Weighted SSD of ``labels_`` with respect to ``cluster_centers_``.
    n_iter_ : int
    history_ : History or None
    n_features_in_ : int

    Notes
    -----
    An empty cluster never yields NaN: its centre moves to the point farthest from
    its own centre (the next empty one to the next farthest point).

    A dask array is fitted chunk by chunk: each iteration runs the in-memory
    kernels on every chunk and tree-reduces their statistics, so only O(k·d)
    numbers reach the client per iteration. From the same initial centres the
    result equals the in-memory one (up to rounding in the last bits of the
    sums). k-means|| and "random" draw per chunk, so with a dask array their
    centres depend on the seed and on the chunking.
    """

    _is_transformer = True

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init: str | ArrayLike = "auto",
        n_init: int | str = "auto",
        max_iter: int = 300,
        tol: float = 1e-4,
        random_state: RandomStateLike = None,
        record_history: bool = True,
        callback: Callable[[int, KMeansState], Any] | None = None,
        algorithm: str = "auto",
        oversampling_factor: float = 2.0,
        init_rounds: int = 5,
        client: Any = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.record_history = record_history
        self.callback = callback
        self.algorithm = algorithm
        self.oversampling_factor = oversampling_factor
        self.init_rounds = init_rounds
        self.client = client

    # --- checks -------------------------------------------------------------------
    def _check_params(self, X: Any, stacklevel: int = 3) -> tuple[int, int, str | None, np.ndarray | None]:
        """n_clusters, n_init, the initialisation's name (None for an array) and the array."""
        n_samples, n_features = X.shape
        dask_input = is_dask_array(X)
        n_clusters = check_int(self.n_clusters, "n_clusters", minimum=1)
        if n_clusters > n_samples:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={n_clusters}: "
                "there must be at least as many points as clusters"
            )
        check_int(self.max_iter, "max_iter", minimum=1)
        check_float(self.tol, "tol", minimum=0.0)
        check_float(self.oversampling_factor, "oversampling_factor", minimum=0.0, exclusive_minimum=True)
        check_int(self.init_rounds, "init_rounds", minimum=1)
        if not isinstance(self.algorithm, str) or self.algorithm not in _ALGORITHMS:
            raise ValueError(f"algorithm must be 'auto', 'lloyd' or 'hamerly'; got {self.algorithm!r}")
        init_array = None
        init_name: str | None = None
        if isinstance(self.init, str):
            if self.init not in _INITS:
                raise ValueError(
                    f"init must be 'k-means++', 'random' or an array of shape "
                    f"(n_clusters, n_features), or 'k-means||' or 'auto'; got {self.init!r}"
                )
            init_name = self.init
            if init_name == "auto":
                init_name = "k-means||" if dask_input else "k-means++"
            if init_name == "k-means++" and dask_input:
                raise ValueError(
                    "init='k-means++' makes one pass over the data per centre; for a dask array "
                    "use init='k-means||' (the default), 'random' or an array of centres"
                )
        elif callable(self.init):
            raise ValueError("init must be 'k-means++', 'random' or an array; a callable is not supported")
        else:
            init_array = check_array(self.init, name="init", dtype=(X.dtype.type,))
            if init_array.shape != (n_clusters, n_features):
                raise ValueError(
                    f"init array has shape {init_array.shape}; expected (n_clusters, n_features) = "
                    f"({n_clusters}, {n_features})"
                )
        if isinstance(self.n_init, str):
            if self.n_init != "auto":
                raise ValueError(f"n_init must be 'auto' or an integer >= 1; got {self.n_init!r}")
            n_init = 10 if init_name == "random" else 1
        else:
            n_init = check_int(self.n_init, "n_init", minimum=1)
        if init_array is not None and n_init != 1:
            warnings.warn(
                f"init is an array, so the n_init={n_init} runs would be identical; running once",
                UserWarning,
                stacklevel=stacklevel,
            )
            n_init = 1
        if self.callback is not None and not callable(self.callback):
            raise ValueError(f"callback must be callable, got {self.callback!r}")
        return n_clusters, n_init, init_name, init_array

    # --- fitting --------------------------------------------------------------------
    def fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> "KMeans":
        """Cluster X.

        Parameters
        ----------
        X : array-like or dask array (n_samples, n_features)
            float32 data stays float32; other numeric types become float64. A dask
            array is fitted on a dask.distributed cluster (see ``client``), one
            chunk of rows at a time.
        y : ignored
        sample_weight : array-like (n_samples,) or dask array, optional
            Non-negative weights, not all zero.

        Returns
        -------
        self
        """
        if is_dask_array(X):
            return self._fit_dask(X, sample_weight)
        X = check_array(X, finite=False)
        # Centre the data: distances through ||x||² - 2x·c + ||c||² lose less to
        # cancellation, and the result is shifted back at the end. The column sums
        # it takes are finite unless X holds NaN or inf: only then is X searched
        # for them (a pass of its own over X otherwise).
        Xc, offset, x_norms, mean_variance = kk.centered(X)
        if not np.all(np.isfinite(offset)):
            check_finite(X)
        n_clusters, n_init, init_name, init_array = self._check_params(X)
        weight = check_sample_weight(sample_weight, X.shape[0], dtype=X.dtype)
        rng = check_random_state(self.random_state)
        bounded = uses_bounds(self.algorithm, n_clusters, X.shape[1])
        data = (BoundedData if bounded else InMemoryData)(Xc, weight, x_norms)
        tol = self.tol * mean_variance
        best = self._best_run(data, n_clusters, n_init, init_name, init_array, offset, rng, tol)
        n_distinct = int(np.count_nonzero(np.bincount(best.labels, minlength=n_clusters)))
        return self._set_fitted(best, offset, X.dtype, best.labels.astype(np.int64), n_distinct)

    def _fit_dask(self, X: Any, sample_weight: Any) -> "KMeans":
        from ..backends import dask as dask_backend

        # NaN and inf are counted in the first pass, for the whole array at once.
        X = check_dask_array(X, check_finite=False)
        n_clusters, n_init, init_name, init_array = self._check_params(X, stacklevel=4)
        rng = check_random_state(self.random_state)
        with dask_backend.client_session(self.client) as session:
            # One pass: the mean (the same centring as in memory), variances, checks.
            # Bounds on dask only when asked: they keep 8 bytes per row more on the workers.
            data_type = dask_backend.BoundedDaskData if self.algorithm == "hamerly" else dask_backend.DaskData
            data = data_type(X, sample_weight, session.client)
            tol = self.tol * data.mean_variance
            best = self._best_run(data, n_clusters, n_init, init_name, init_array, data.offset, rng, tol)
            labels = data.final_labels(best.centers, best.labels, keep=session.keeps_results)
        n_distinct = int(np.count_nonzero(best.cluster_weights > 0))
        return self._set_fitted(best, data.offset, X.dtype, labels, n_distinct, stacklevel=4)

    def _initial_centers(self, data: Any, n_clusters: int, init_name: str | None,
                         init_array: np.ndarray | None, offset: np.ndarray,
                         rng: np.random.Generator) -> np.ndarray:
        if init_array is not None:
            return init_array - offset
        if init_name == "k-means||":
            return kmeans_parallel(
                data, n_clusters, rng,
                oversampling_factor=self.oversampling_factor, n_rounds=self.init_rounds,
            )
        if isinstance(data, InMemoryData):
            if init_name == "random":
                return data.X[random_points(data.X, n_clusters, rng, data.sample_weight)]
            return data.X[kmeans_plusplus(data.X, n_clusters, rng, data.sample_weight, data.x_norms)]
        # "random" on chunks: a weighted sample without replacement that merges.
        seed = int(rng.integers(2**63 - 1))
        _, sample = data.map_chunks(
            kp.chunk_keyed_sample, (seed, n_clusters),
            merge=functools.partial(kp.merge_keyed, size=n_clusters),
        )
        return sample.points.astype(data.dtype)

    def _best_run(self, data: Any, n_clusters: int, n_init: int, init_name: str | None,
                  init_array: np.ndarray | None, offset: np.ndarray, rng: np.random.Generator,
                  tol: float) -> LloydResult:
        best: LloydResult | None = None
        for _ in range(n_init):
            start = self._initial_centers(data, n_clusters, init_name, init_array, offset, rng)
            result = run_lloyd(
                data, start, max_iter=self.max_iter, tol=tol,
                record=self.record_history, callback=self.callback,
            )
            if best is None or result.inertia < best.inertia:
                best = result
        assert best is not None
        return best

    def _set_fitted(self, best: LloydResult, offset: np.ndarray, dtype: np.dtype, labels: Any,
                    n_distinct: int, stacklevel: int = 3) -> "KMeans":
        n_clusters = best.centers.shape[0]
        if not best.converged and not best.history.stopped_by_callback:
            warnings.warn(
                f"KMeans did not converge in max_iter={self.max_iter} iterations; "
                "increase max_iter or tol",
                ConvergenceWarning,
                stacklevel=stacklevel,
            )
        if n_distinct < n_clusters:
            warnings.warn(
                f"only {n_distinct} distinct clusters found for n_clusters={n_clusters}; "
                "X probably has fewer distinct points than clusters",
                ConvergenceWarning,
                stacklevel=stacklevel,
            )
        self.cluster_centers_ = (best.centers + offset).astype(dtype)
        self.labels_ = labels
        self.inertia_ = float(best.inertia)
        self.n_iter_ = int(best.n_iter)
        self.n_features_in_ = best.centers.shape[1]
        history = best.history
        if self.record_history:
            history._values["centers"] = [c + offset for c in history._values["centers"]]
            self.history_ = history
        else:
            self.history_ = None
        return self

    def fit_predict(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> Any:
        """Fit, then return ``labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def fit_transform(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> Any:
        """Fit, then return the distances of X to the centres."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    # --- using a fitted model -----------------------------------------------------
    def _validated(self, X: ArrayLike) -> Any:
        check_is_fitted(self, "cluster_centers_")
        X = check_dask_array(X) if is_dask_array(X) else check_array(X)
        check_n_features(self, X)
        return X

    def _nearest(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        centers = self.cluster_centers_.astype(X.dtype, copy=False)
        offset = centers.mean(axis=0)
        Xc = X - offset
        weight = np.ones(X.shape[0], dtype=X.dtype)
        labels, min_distances, _ = numpy_backend.lloyd_pass(
            Xc, weight, centers - offset, kk.squared_norms(Xc)
        )
        return labels.astype(np.int64), min_distances

    def predict(self, X: ArrayLike) -> Any:
        """Index of the nearest centre for each row of X, shape (n_samples,).

        A dask array in gives a lazy dask array out.
        """
        X = self._validated(X)
        if is_dask_array(X):
            from ..backends import dask as dask_backend

            return dask_backend.predict_labels(X, self.cluster_centers_.astype(X.dtype, copy=False))
        return self._nearest(X)[0]

    def transform(self, X: ArrayLike) -> Any:
        """Euclidean distance from each row of X to each centre, shape (n_samples, n_clusters).

        A dask array in gives a lazy dask array out.
        """
        X = self._validated(X)
        centers = self.cluster_centers_.astype(X.dtype, copy=False)
        if is_dask_array(X):
            from ..backends import dask as dask_backend

            return dask_backend.center_distances(X, centers)
        offset = centers.mean(axis=0)
        return np.sqrt(kk.squared_distances(X - offset, centers - offset))

    def score(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> float:
        """Minus the weighted SSD of X to its nearest centres (higher is better).

        For a dask array the sum is computed with the active dask scheduler.
        """
        X = self._validated(X)
        if is_dask_array(X):
            from ..backends import dask as dask_backend

            centers = self.cluster_centers_.astype(X.dtype, copy=False)
            return -dask_backend.weighted_min_distance_sum(X, centers, sample_weight)
        weight = check_sample_weight(sample_weight, X.shape[0], dtype=np.float64)
        _, min_distances = self._nearest(X)
        return -float(np.dot(weight, min_distances.astype(np.float64)))
