"""k-means clustering by Lloyd's algorithm, with every iteration recorded: the
estimator's core, without scikit-learn (the command line fits with it; the
scikit-learn estimator :class:`kmix.KMeans` is a thin shell over it, in
:mod:`kmix.estimators`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backends
from .._typing import ArrayLike, RandomStateLike
from .._validation import (
    check_array,
    check_data,
    check_float,
    check_int,
    check_is_fitted,
    check_n_features,
    check_random_state,
    is_dask_array,
)
from .. import exceptions
from ..kernels import kmeans_passes as kpass
from ._base import BaseModel
from .lloyd import KMeansState, LloydResult, fit_kmeans, uses_bounds

__all__ = ["KMeansCore", "KMeansState"]

_INITS = ("auto", "k-means++", "k-means||", "random")
_ALGORITHMS = ("auto", "lloyd", "hamerly")


class KMeansCore(BaseModel):
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
        see :func:`kmix.kernels.kmeans_passes.bounded_statistics` for the one caveat
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

    # Saved under this name; kmix.io.load_model gives back a kmix.KMeans.
    _saved_as = "KMeans"
    # What a saved model must hold to be a fitted one (see kmix.io.load_model).
    _fitted_arrays = ("cluster_centers_",)

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
    def _check_params(self, X: Any, stacklevel: int = 3) -> tuple[int, int, str | None, np.ndarray | None, bool]:
        """n_clusters, n_init, the initialisation's name (None for an array), the array,
        and whether the passes keep Hamerly's bounds."""
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
        # Bounds on dask only when asked: they keep 8 bytes per row more on the workers.
        bounds = self.algorithm == "hamerly" or (
            self.algorithm == "auto" and not dask_input and uses_bounds("auto", n_clusters, n_features))
        return n_clusters, n_init, init_name, init_array, bounds

    # --- fitting --------------------------------------------------------------------
    def fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> "KMeansCore":
        """Cluster X.

        Parameters
        ----------
        X : array-like or dask array (n_samples, n_features)
            float32 data stays float32 (unless its squared distances would leave
            float32's range: then the fit runs in float64); other numeric types
            become float64. Values whose squares would leave float64's range (about
            1e154) raise a DataError that says how to rescale. A dask
            array is fitted on a dask.distributed cluster (see ``client``), one
            chunk of rows at a time.
        y : ignored
        sample_weight : array-like (n_samples,) or dask array, optional
            Non-negative weights, not all zero.

        Returns
        -------
        self
        """
        # NaN and inf are found by the data's first pass (in memory, the centring's
        # column sums), for the whole array at once.
        X = check_data(X, finite=False)
        # Centred data: distances through ||x||² - 2x·c + ||c||² lose less to
        # cancellation; the result is shifted back at the end.
        with backends.wrap(X, sample_weight, client=self.client, centre=True) as data:
            n_clusters, n_init, init_name, init_array, bounds = self._check_params(X)
            rng = check_random_state(self.random_state)
            best = fit_kmeans(
                data, n_clusters, rng,
                init=init_name if init_array is None else init_array - data.offset,
                n_init=n_init, bounds=bounds, max_iter=self.max_iter,
                tol=self.tol * data.mean_variance, record=self.record_history, callback=self.callback,
                oversampling_factor=self.oversampling_factor, n_rounds=self.init_rounds,
            )
            labels = data.final_labels(best.centers, best.labels)
        return self._set_fitted(best, data.offset, X.dtype, labels)

    def _set_fitted(self, best: LloydResult, offset: np.ndarray, dtype: np.dtype, labels: Any,
                    stacklevel: int = 3) -> "KMeansCore":
        n_clusters = best.centers.shape[0]
        n_distinct = int(np.count_nonzero(best.cluster_weights > 0))
        if not best.converged and not best.history.stopped_by_callback:
            warnings.warn(
                f"KMeans did not converge in max_iter={self.max_iter} iterations; "
                "increase max_iter or tol",
                exceptions.ConvergenceWarning,
                stacklevel=stacklevel,
            )
        if n_distinct < n_clusters:
            warnings.warn(
                f"only {n_distinct} distinct clusters found for n_clusters={n_clusters}; "
                "X probably has fewer distinct points than clusters",
                exceptions.ConvergenceWarning,
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
    def _per_row(self, X: ArrayLike, kernel: Callable, dtype: Any = None, n_columns: int | None = None) -> Any:
        """``kernel`` of the rows of X against the centres (centred at their mean, as the
        fit's data was at its own); ``dtype`` None: X's."""
        check_is_fitted(self, "cluster_centers_")
        X = check_data(X)
        check_n_features(self, X)
        dtype = X.dtype if dtype is None else dtype
        X = backends.rows_in_range(X, self.cluster_centers_.mean(axis=0))
        centers = self.cluster_centers_.astype(X.dtype, copy=False)
        offset = centers.mean(axis=0)
        return backends.map_rows(X, kernel, offset, centers - offset, dtype=dtype, n_columns=n_columns,
                                 blas_in_threads=kpass.uses_blas(X.shape[1]))

    def predict(self, X: ArrayLike) -> Any:
        """Index of the nearest centre for each row of X, shape (n_samples,).

        A dask array in gives a lazy dask array out.
        """
        return self._per_row(X, kpass.predict_block, np.int64)

    def transform(self, X: ArrayLike) -> Any:
        """Euclidean distance from each row of X to each centre, shape (n_samples, n_clusters).

        A dask array in gives a lazy dask array out.
        """
        check_is_fitted(self, "cluster_centers_")
        return self._per_row(X, kpass.transform_block, None, self.cluster_centers_.shape[0])

    def score(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> float:
        """Minus the weighted SSD of X to its nearest centres (higher is better).

        For a dask array the sum is computed with the active dask scheduler.
        """
        distances = self._per_row(X, kpass.min_distances_block, np.float64)
        return -backends.weighted_sum(distances, sample_weight)
