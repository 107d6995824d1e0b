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
    is_batches,
    is_dask_array,
    is_sparse,
)
from .. import exceptions
from ..kernels import kmeans_passes as kpass
from ..kernels import seeding
from ._base import BaseModel
from .lloyd import KMeansState, LloydResult, fit_kmeans, uses_bounds

__all__ = ["KMeansCore", "KMeansState", "kmeans_plusplus"]

_INITS = ("auto", "k-means++", "k-means||", "random")
# record_history="auto" keeps the centres of every iteration up to this many
# numbers a set (80 kB in float64).
_AUTO_CENTERS_MAX = 10_000
_ALGORITHMS = ("auto", "lloyd", "elkan", "hamerly")


class KMeansCore(BaseModel):
    """k-means clustering (Lloyd's algorithm) with a record of every iteration.

    Parameters
    ----------
    n_clusters : int, default 8
        Number of clusters, at least 1 and at most n_samples.
    init : {"auto", "k-means++", "k-means||", "random"}, callable or array of shape (n_clusters, n_features)
        "k-means++" is greedy k-means++ (2 + ln k candidates per step, the best
        kept); "k-means||" is the scalable variant that makes a few passes over
        the data instead of one per centre (``oversampling_factor``,
        ``init_rounds``); "random" picks n_clusters distinct data points; an
        array gives the initial centres. "auto" (the default) is "k-means++" for
        in-memory data and "k-means||" for a dask array. A callable is called as
        ``init(X, n_clusters, random_state=random_state)`` once per run, with X
        as ``fit`` checked it (float32 or float64, not centred) and, as
        scikit-learn passes it, a numpy ``RandomState`` (``random_state`` itself
        when it is a RandomState or a Generator, else a RandomState seeded with
        it); it returns the initial centres, shape (n_clusters, n_features), in
        the frame of X. (scikit-learn passes X less its mean and reads the
        centres in that frame: the same for centres taken from the rows of X.)
    n_init : int or "auto", default "auto"
        Number of runs from different initialisations; the one with the lowest
        inertia is kept. "auto" means 1 for "k-means++", "k-means||" or an array,
        10 for "random" or a callable. An array with n_init > 1 runs once (and
        warns: the runs would all start from the same centres).
    max_iter : int, default 300
        Most Lloyd iterations per run.
    tol : float, default 1e-4
        The run stops once the total squared centre shift of an iteration is at most
        ``tol`` times the mean per-feature variance of X (or when no label changes).
    verbose : int, default 0
        Above 0, print scikit-learn's progress lines to standard output:
        "Initialization complete" for each run, then per iteration (counted
        from 0) "Iteration i, inertia x." (the SSD after its assignment step), and
        "Converged at iteration i: strict convergence." or "... center shift s
        within tolerance t." when the run converges.
    random_state : int, numpy Generator, RandomState or None
        Seed of the initialisation.
    copy_x : bool, default True
        Accepted for scikit-learn's sake; X is never modified either way. kmix
        centres a copy of the data it works on (scikit-learn with
        ``copy_x=False`` centres X in place and adds the mean back afterwards,
        which leaves X changed by rounding).
    record_history : {"auto", True, False}, default "auto"
        Keep ``history_``: per iteration the SSD after each half-step, the number
        of points that changed cluster and, with True, the centres (memory
        O(n_iter x k x d)). "auto" keeps the centres when n_clusters x n_features
        <= 10,000 (a sparse TF-IDF fit's would be as large as its data every
        iteration); False keeps no history (``history_`` is None).
    algorithm : {"auto", "lloyd", "elkan", "hamerly"}, default "auto"
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
        "elkan" is accepted for scikit-learn's sake and runs the "hamerly" pass:
        both skip distances by the triangle inequality, and this one gives
        exactly Lloyd's labels, centres and number of iterations. With
        n_clusters=1 it warns (RuntimeWarning, as scikit-learn does) and runs
        "lloyd".
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
    An empty cluster never yields NaN: as in scikit-learn, the k-th empty cluster
    takes the k-th farthest point from its own centre (positive weight only), and
    that point leaves the cluster it was counted in. A cluster left with no weight
    takes the heaviest cluster's centre; when every point sits on its centre,
    nothing moves.

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
        init: str | ArrayLike | Callable[..., ArrayLike] = "auto",
        n_init: int | str = "auto",
        max_iter: int = 300,
        tol: float = 1e-4,
        verbose: int = 0,
        random_state: RandomStateLike = None,
        copy_x: bool = True,
        record_history: bool | str = "auto",
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
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.record_history = record_history
        self.callback = callback
        self.algorithm = algorithm
        self.oversampling_factor = oversampling_factor
        self.init_rounds = init_rounds
        self.client = client

    # --- checks -------------------------------------------------------------------
    def _check_params(self, X: Any, stacklevel: int = 3) -> tuple[int, int, str | None, np.ndarray | None, bool]:
        """n_clusters, n_init, the initialisation's name (None for an array or a
        callable), the array, and whether the passes keep Hamerly's bounds."""
        n_samples, n_features = X.shape
        # Data read chunk by chunk (a dask array, kmix.Batches): no greedy k-means++.
        dask_input = is_dask_array(X) or is_batches(X)
        n_clusters = check_int(self.n_clusters, "n_clusters", minimum=1)
        if n_clusters > n_samples:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={n_clusters}: "
                "there must be at least as many points as clusters"
            )
        check_int(self.max_iter, "max_iter", minimum=1)
        check_float(self.tol, "tol", minimum=0.0)
        _check_verbose(self.verbose)
        if not isinstance(self.copy_x, (bool, np.bool_)):
            raise ValueError(f"copy_x must be True or False, got {self.copy_x!r}")
        check_float(self.oversampling_factor, "oversampling_factor", minimum=0.0, exclusive_minimum=True)
        check_int(self.init_rounds, "init_rounds", minimum=1)
        if not isinstance(self.algorithm, str) or self.algorithm not in _ALGORITHMS:
            raise ValueError(
                f"algorithm must be 'auto', 'lloyd', 'elkan' or 'hamerly'; got {self.algorithm!r}"
            )
        algorithm = self.algorithm
        if algorithm == "elkan":
            if n_clusters == 1:
                warnings.warn(
                    "algorithm='elkan' doesn't make sense for a single cluster. Using 'lloyd' instead.",
                    RuntimeWarning,
                    stacklevel=stacklevel,
                )
                algorithm = "lloyd"
            else:
                # Elkan's and Hamerly's bounds both skip the distances the triangle
                # inequality rules out; the bounded pass here is Hamerly's, with
                # exactly Lloyd's labels.
                algorithm = "hamerly"
        init_array = None
        init_name: str | None = None
        if isinstance(self.init, str):
            if self.init not in _INITS:
                raise ValueError(
                    f"init must be 'k-means++', 'random', a callable or an array of shape "
                    f"(n_clusters, n_features), or 'k-means||' or 'auto'; got {self.init!r}"
                )
            init_name = self.init
            if init_name == "auto":
                init_name = "k-means||" if dask_input else "k-means++"
            if init_name == "k-means++" and dask_input:
                raise ValueError(
                    "init='k-means++' makes one pass over the data per centre; for a dask array "
                    "or kmix.Batches use init='k-means||' (the default), 'random' or an array of "
                    "centres"
                )
        elif not callable(self.init):
            init_array = _checked_centers(self.init, X.dtype, n_clusters, n_features, "init")
        if isinstance(self.n_init, str):
            if self.n_init != "auto":
                raise ValueError(f"n_init must be 'auto' or an integer >= 1; got {self.n_init!r}")
            n_init = 10 if init_name == "random" or callable(self.init) else 1
        else:
            n_init = check_int(self.n_init, "n_init", minimum=1)
        if init_array is not None and n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init in KMeans "
                f"instead of n_init={n_init} (the runs would all start from the same centres).",
                RuntimeWarning,
                stacklevel=stacklevel,
            )
            n_init = 1
        if self.callback is not None and not callable(self.callback):
            raise ValueError(f"callback must be callable, got {self.callback!r}")
        if not (isinstance(self.record_history, (bool, np.bool_)) or
                (isinstance(self.record_history, str) and self.record_history == "auto")):
            raise ValueError(f"record_history must be 'auto', True or False; got {self.record_history!r}")
        # Bounds on dask only when asked: they keep 8 bytes per row more on the workers.
        # On sparse data (TF-IDF, one-hot) the bounds rule out few rows: Lloyd by default.
        # Over kmix.Batches always Lloyd's plain pass: only the labels are kept between passes.
        bounds = not is_batches(X) and (algorithm == "hamerly" or (
            algorithm == "auto" and not dask_input and not is_sparse(X)
            and uses_bounds("auto", n_clusters, n_features)))
        return n_clusters, n_init, init_name, init_array, bounds

    # --- fitting --------------------------------------------------------------------
    def fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> "KMeansCore":
        """Cluster X.

        Parameters
        ----------
        X : array-like, dask array (n_samples, n_features) or kmix.Batches
            float32 data stays float32 (unless its squared distances would leave
            float32's range: then the fit runs in float64); other numeric types
            become float64. Values whose squares would leave float64's range (about
            1e154) raise a DataError that says how to rescale. A dask
            array is fitted on a dask.distributed cluster (see ``client``), one
            chunk of rows at a time; a :class:`kmix.Batches` one batch at a time
            (Lloyd's plain pass; weights given per batch). X is never modified.
        y : ignored
        sample_weight : array-like (n_samples,) or dask array, optional
            Non-negative weights, not all zero. As in scikit-learn, they weigh the
            k-means++, k-means|| and "random" draws too, but not a callable ``init``.

        Returns
        -------
        self
        """
        # NaN and inf are found by the data's first pass (in memory, the centring's
        # column sums), for the whole array at once.
        X = check_data(X, finite=False, accept_sparse=True, accept_batches=True)
        # Centred data (sparse data is never centred: that would fill every zero):
        # distances through ||x||² - 2x·c + ||c||² lose less to
        # cancellation; the result is shifted back at the end.
        with backends.wrap(X, sample_weight, client=self.client, centre=True) as data:
            n_clusters, n_init, init_name, init_array, bounds = self._check_params(X)
            self._n_init = n_init  # the runs made, as scikit-learn records them
            tol = self.tol * data.mean_variance
            if callable(self.init):
                # Every start first: the runs draw nothing, so the callable sees the
                # random state as it would between runs.
                random_state = _init_random_state(self.random_state)
                starts: list[np.ndarray | None] = [
                    _checked_centers(self.init(X, n_clusters, random_state=random_state), X.dtype,
                                     n_clusters, X.shape[1], "init(X, n_clusters, random_state)")
                    for _ in range(n_init)
                ]
            else:
                starts = [init_array]
            rng = check_random_state(self.random_state)
            callback = _verbose_callback(self.callback, tol) if _check_verbose(self.verbose) else self.callback
            best: LloydResult | None = None
            for start in starts:
                # One run per given array; n_init runs from a named initialisation.
                result = fit_kmeans(
                    data, n_clusters, rng,
                    init=init_name if start is None else _in_frame(start, data.offset),
                    n_init=n_init if start is None else 1, bounds=bounds, max_iter=self.max_iter,
                    tol=tol, record=self.record_history is not False,
                    record_centers=self._records_centers(n_clusters, X.shape[1]), callback=callback,
                    oversampling_factor=self.oversampling_factor, n_rounds=self.init_rounds,
                )
                if best is None or result.inertia < best.inertia:
                    best = result
            assert best is not None
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
                f"Number of distinct clusters ({n_distinct}) found smaller than n_clusters "
                f"({n_clusters}). Possibly due to duplicate points in X.",
                exceptions.ConvergenceWarning,
                stacklevel=stacklevel,
            )
        self.cluster_centers_ = _in_frame(best.centers, -offset).astype(dtype, copy=False)
        self.labels_ = labels
        self.inertia_ = float(best.inertia)
        self.n_iter_ = int(best.n_iter)
        self.n_features_in_ = best.centers.shape[1]
        history = best.history
        if self.record_history is not False:
            if "centers" in history:
                history._values["centers"] = [c + offset for c in history._values["centers"]]
            self.history_ = history
        else:
            self.history_ = None
        return self

    def _records_centers(self, n_clusters: int, n_features: int) -> bool:
        """Whether the history keeps every iteration's centres (see ``record_history``)."""
        if isinstance(self.record_history, str):  # "auto"
            return n_clusters * n_features <= _AUTO_CENTERS_MAX
        return bool(self.record_history)

    def partial_fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> "KMeansCore":
        """One mini-batch step on every row of X (see :mod:`kmix.models.kmeans_online`).

        The first call (or the first after ``fit``) initialises on X with ``init``
        and ``n_init``; every call moves each centre toward the mean of the rows
        it is given, by their weight over its cumulative weight (MiniBatchKMeans's
        step, without reassignment). ``labels_`` and ``inertia_`` are X's after
        the step, ``n_iter_`` the steps made, ``history_`` records every step (the
        batch SSD, and the centres as ``record_history`` says). Returns self.
        """
        from .kmeans_online import partial_fit

        partial_fit(self, X, sample_weight)
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
        X = check_data(X, accept_sparse=True)
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
        return self._per_row(X, kpass.predict_block, np.int32)

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


# --- helpers ------------------------------------------------------------------------

def _check_verbose(verbose: Any) -> int:
    """``verbose`` as scikit-learn takes it: a bool or an integer >= 0."""
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    return check_int(verbose, "verbose", minimum=0)


def _checked_centers(centers: Any, dtype: np.dtype, n_clusters: int, n_features: int, what: str) -> np.ndarray:
    """Initial centres given as an array (``what`` names where they came from),
    checked and in X's dtype, with scikit-learn's messages for a wrong shape."""
    centers = check_array(centers, name=what, dtype=(np.dtype(dtype).type,))
    expected = f"{what} must have shape (n_clusters, n_features) = ({n_clusters}, {n_features})"
    if centers.shape[0] != n_clusters:
        raise ValueError(
            f"The shape of the initial centers {centers.shape} does not match the number of "
            f"clusters {n_clusters}: {expected}"
        )
    if centers.shape[1] != n_features:
        raise ValueError(
            f"The shape of the initial centers {centers.shape} does not match the number of "
            f"features of the data {n_features}: {expected}"
        )
    return centers


def _in_frame(centers: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """``centers - offset``, without a copy where nothing is subtracted (sparse data
    is never centred, and its k x d centres can be large)."""
    return centers - offset if offset.any() else centers


def _init_random_state(random_state: RandomStateLike) -> np.random.RandomState | np.random.Generator:
    """What a callable ``init`` receives: a numpy RandomState, as scikit-learn
    passes (the given one, or one seeded with the given int or from the operating
    system for None); a Generator is passed as it is."""
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    if random_state is not None:
        check_random_state(random_state)  # the same rule for a seed as everywhere else
        return np.random.RandomState(int(random_state))
    return np.random.RandomState()


def _verbose_callback(callback: Callable[[int, KMeansState], Any] | None,
                      tol: float) -> Callable[[int, KMeansState], Any]:
    """``callback`` preceded by scikit-learn's verbose lines for the iteration it
    is called after (scikit-learn counts iterations from 0). ``tol``: the scaled
    tolerance the run stops at, as the loop compares it."""

    def report(iteration: int, state: KMeansState) -> Any:
        count = iteration - 1
        if iteration == 1:
            # Called after the first iteration of each run: its start is complete.
            print("Initialization complete")
        print(f"Iteration {count}, inertia {state.ssd_assignment}.")
        # The loop's own tests, in its order: no label changed, then the shift.
        if iteration > 1 and state.n_changed == 0:
            print(f"Converged at iteration {count}: strict convergence.")
        elif state.center_shift <= tol:
            print(f"Converged at iteration {count}: center shift {state.center_shift} within tolerance {tol}.")
        return None if callback is None else callback(iteration, state)

    return report


# --- k-means++ as a function ----------------------------------------------------------------

def kmeans_plusplus(
    X: ArrayLike,
    n_clusters: int,
    *,
    sample_weight: ArrayLike | None = None,
    x_squared_norms: ArrayLike | None = None,
    random_state: RandomStateLike = None,
    n_local_trials: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Initial centres by greedy k-means++, as scikit-learn's ``kmeans_plusplus``.

    The first centre is a point drawn with probability proportional to its
    weight; each later one is the best (lowest total weighted SSD) of
    ``n_local_trials`` points drawn with probability proportional to weight x
    squared distance to the nearest centre chosen so far. These are the seeds
    ``KMeans(init="k-means++")`` starts from, given the same random_state.

    Parameters
    ----------
    X : array-like (n_samples, n_features), or a scipy.sparse matrix
        The data to choose from (in memory: k-means++ makes one pass over the
        data per centre). float32 stays float32; other numeric types become
        float64.
    n_clusters : int
        Number of centres, from 1 to n_samples.
    sample_weight : array-like (n_samples,), optional
        Non-negative weights, not all zero (default: all ones).
    x_squared_norms : array-like (n_samples,), optional
        Accepted for scikit-learn's sake and checked for its length only: kmix
        computes the norms it uses, for dense X those of the rows less their
        mean (distances from them lose less to cancellation).
    random_state : int, numpy Generator, RandomState or None
        Seed of the draws (kmix's draws: the same seed does not give
        scikit-learn's centres).
    n_local_trials : int, optional
        Candidates per centre after the first; default 2 + floor(ln n_clusters).
        1 gives the original (not greedy) k-means++.

    Returns
    -------
    centers : ndarray (n_clusters, n_features), X's (float) dtype
        The chosen rows of X: ``centers[j]`` equals ``X[indices[j]]``.
    indices : ndarray (n_clusters,) int64
        Their row numbers in X.
    """
    if is_dask_array(X):
        raise ValueError(
            "kmeans_plusplus makes one pass over the data per centre and needs X in memory: "
            "pass X.compute(), or fit KMeans(init='k-means||') on the dask array"
        )
    X = check_data(X, finite=False, accept_sparse=True)
    n_clusters = check_int(n_clusters, "n_clusters", minimum=1)
    n_samples = X.shape[0]
    if n_samples < n_clusters:
        raise ValueError(
            f"n_samples={n_samples} should be >= n_clusters={n_clusters}: "
            "there must be at least as many points as centres"
        )
    if x_squared_norms is not None:
        norms = check_array(x_squared_norms, name="x_squared_norms", ensure_2d=False)
        if norms.ndim != 1 or norms.shape[0] != n_samples:
            raise ValueError(
                f"The length of x_squared_norms {norms.shape[0] if norms.ndim else norms.size} should "
                f"be equal to the length of n_samples {n_samples}."
            )
    if n_local_trials is not None:
        n_local_trials = check_int(n_local_trials, "n_local_trials", minimum=1)
    rng = check_random_state(random_state)
    # The frame KMeans draws its seeds in (NaN and inf are found on the way).
    with backends.wrap(X, sample_weight, centre=True) as data:
        rows, weights, norms_of_rows = data.arrays()
        indices = seeding.kmeans_plusplus(rows, n_clusters, rng, weights, norms_of_rows, n_local_trials,
                                          n_threads=data.n_threads)
        if is_sparse(X):
            return data.X[indices].toarray(), indices
    return X[indices], indices
