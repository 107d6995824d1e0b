"""k-means clustering by Lloyd's algorithm, with every iteration recorded."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .._typing import ArrayLike, RandomStateLike
from .._validation import (
    check_array,
    check_float,
    check_int,
    check_is_fitted,
    check_n_features,
    check_random_state,
    check_sample_weight,
)
from ..backends import numpy as numpy_backend
from ..exceptions import ConvergenceWarning
from ..kernels import kmeans as kk
from ..kernels.seeding import kmeans_plusplus, random_points
from ._base import BaseModel
from .history import History

__all__ = ["KMeans", "KMeansState", "lloyd"]

_INITS = ("k-means++", "random")


class KMeansState(NamedTuple):
    """What ``callback(iteration, state)`` receives after each iteration."""

    iteration: int  # 1-based count of completed iterations
    centers: np.ndarray  # (k, d) centres after the update step
    labels: np.ndarray  # (n,) labels from the assignment step
    ssd_assignment: float  # SSD after the assignment step
    n_changed: int  # points that changed cluster in this assignment step
    center_shift: float  # total squared movement of the centres


class LloydResult(NamedTuple):
    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int
    converged: bool
    history: History


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
    """Lloyd iterations from ``centers`` on already validated (and centred) X.

    Each iteration is an assignment pass followed by the update step. The pass
    that assigns points for iteration t+1 also yields the SSD after the update of
    iteration t (distances of the old labels to the moved centres), so recording
    both half-steps costs no extra pass over the data.

    Stops when no label changes (strict convergence), when the total squared
    centre shift is <= ``tol`` (already scaled to the data), at ``max_iter``, or
    when the callback returns True. The returned labels and inertia always belong
    to the returned centres.
    """
    if x_norms is None:
        x_norms = kk.squared_norms(X)
    history = _new_history() if record else History()
    centers = np.array(centers, dtype=X.dtype, copy=True)
    if record:
        history.append(centers=centers)
    labels, _, stats = numpy_backend.lloyd_pass(X, sample_weight, centers, x_norms)
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
            labels, _, stats = numpy_backend.lloyd_pass(X, sample_weight, centers, x_norms, previous)
            ssd_update = stats.ssd_previous
        if record:
            history.append(centers=centers, ssd=[ssd_assignment, ssd_update], n_changed=n_changed)
        history.n_iter = n_iter
        stop = False
        if callback is not None:
            state = KMeansState(n_iter, centers.copy(), labels.copy(), ssd_assignment, n_changed, shift)
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
    return LloydResult(centers, labels, inertia, n_iter, converged, history)


class KMeans(BaseModel):
    """k-means clustering (Lloyd's algorithm) with a record of every iteration.

    Parameters
    ----------
    n_clusters : int, default 8
        Number of clusters, at least 1 and at most n_samples.
    init : {"k-means++", "random"} or array of shape (n_clusters, n_features)
        "k-means++" is greedy k-means++ (2 + ln k candidates per step, the best
        kept); "random" picks n_clusters distinct data points; an array gives the
        initial centres.
    n_init : int or "auto", default "auto"
        Number of runs from different initialisations; the one with the lowest
        inertia is kept. "auto" means 1 for "k-means++" or an array, 10 for "random".
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
    callback : callable, optional
        ``callback(iteration, state)`` after every iteration, ``state`` a
        :class:`KMeansState`. Returning True stops the run early;
        ``history_.stopped_by_callback`` and ``n_iter_`` say so.

    Attributes
    ----------
    cluster_centers_ : ndarray (n_clusters, n_features), dtype of X
    labels_ : ndarray (n_samples,) int
        Nearest centre of each training point, with respect to ``cluster_centers_``.
    inertia_ : float
        Weighted SSD of ``labels_`` with respect to ``cluster_centers_``.
    n_iter_ : int
    history_ : History or None
    n_features_in_ : int

    Notes
    -----
    An empty cluster never yields NaN: its centre moves to the point farthest from
    its own centre (the next empty one to the next farthest point).
    """

    _is_transformer = True

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init: str | ArrayLike = "k-means++",
        n_init: int | str = "auto",
        max_iter: int = 300,
        tol: float = 1e-4,
        random_state: RandomStateLike = None,
        record_history: bool = True,
        callback: Callable[[int, KMeansState], Any] | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.record_history = record_history
        self.callback = callback

    # --- checks -------------------------------------------------------------------
    def _check_params(self, X: np.ndarray) -> tuple[int, int, np.ndarray | None]:
        n_samples, n_features = X.shape
        n_clusters = check_int(self.n_clusters, "n_clusters", minimum=1)
        if n_clusters > n_samples:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={n_clusters}: "
                "there must be at least as many points as clusters"
            )
        check_int(self.max_iter, "max_iter", minimum=1)
        check_float(self.tol, "tol", minimum=0.0)
        init_array = None
        if isinstance(self.init, str):
            if self.init not in _INITS:
                raise ValueError(
                    f"init must be 'k-means++', 'random' or an array of shape "
                    f"(n_clusters, n_features); got {self.init!r}"
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
            n_init = 10 if isinstance(self.init, str) and self.init == "random" else 1
        else:
            n_init = check_int(self.n_init, "n_init", minimum=1)
        if init_array is not None and n_init != 1:
            warnings.warn(
                f"init is an array, so the n_init={n_init} runs would be identical; running once",
                UserWarning,
                stacklevel=3,
            )
            n_init = 1
        if self.callback is not None and not callable(self.callback):
            raise ValueError(f"callback must be callable, got {self.callback!r}")
        return n_clusters, n_init, init_array

    # --- fitting --------------------------------------------------------------------
    def fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> "KMeans":
        """Cluster X.

        Parameters
        ----------
        X : array-like (n_samples, n_features)
            float32 data stays float32; other numeric types become float64.
        y : ignored
        sample_weight : array-like (n_samples,), optional
            Non-negative weights, not all zero.

        Returns
        -------
        self
        """
        X = check_array(X)
        n_clusters, n_init, init_array = self._check_params(X)
        weight = check_sample_weight(sample_weight, X.shape[0], dtype=X.dtype)
        rng = check_random_state(self.random_state)
        # Centre the data: distances through ||x||² - 2x·c + ||c||² lose less to
        # cancellation, and the result is shifted back at the end.
        offset = X.mean(axis=0)
        Xc = X - offset
        x_norms = kk.squared_norms(Xc)
        tol = self.tol * float(np.mean(np.var(X, axis=0)))
        best: LloydResult | None = None
        for _ in range(n_init):
            if init_array is not None:
                start = init_array - offset
            elif self.init == "random":
                start = Xc[random_points(Xc, n_clusters, rng, weight)]
            else:
                start = Xc[kmeans_plusplus(Xc, n_clusters, rng, weight, x_norms)]
            result = lloyd(
                Xc, weight, start, max_iter=self.max_iter, tol=tol,
                record=self.record_history, callback=self.callback, x_norms=x_norms,
            )
            if best is None or result.inertia < best.inertia:
                best = result
        assert best is not None
        if not best.converged and not best.history.stopped_by_callback:
            warnings.warn(
                f"KMeans did not converge in max_iter={self.max_iter} iterations; "
                "increase max_iter or tol",
                ConvergenceWarning,
                stacklevel=2,
            )
        n_distinct = len(np.unique(best.labels))
        if n_distinct < n_clusters:
            warnings.warn(
                f"only {n_distinct} distinct clusters found for n_clusters={n_clusters}; "
                "X probably has fewer distinct points than clusters",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.cluster_centers_ = (best.centers + offset).astype(X.dtype)
        self.labels_ = best.labels.astype(np.int64)
        self.inertia_ = float(best.inertia)
        self.n_iter_ = int(best.n_iter)
        self.n_features_in_ = X.shape[1]
        history = best.history
        if self.record_history:
            history._values["centers"] = [c + offset for c in history._values["centers"]]
            self.history_ = history
        else:
            self.history_ = None
        return self

    def fit_predict(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> np.ndarray:
        """Fit, then return ``labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def fit_transform(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> np.ndarray:
        """Fit, then return the distances of X to the centres."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    # --- using a fitted model -----------------------------------------------------
    def _validated(self, X: ArrayLike) -> np.ndarray:
        check_is_fitted(self, "cluster_centers_")
        X = check_array(X)
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

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Index of the nearest centre for each row of X, shape (n_samples,)."""
        return self._nearest(self._validated(X))[0]

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Euclidean distance from each row of X to each centre, shape (n_samples, n_clusters)."""
        X = self._validated(X)
        centers = self.cluster_centers_.astype(X.dtype, copy=False)
        offset = centers.mean(axis=0)
        return np.sqrt(kk.squared_distances(X - offset, centers - offset))

    def score(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> float:
        """Minus the weighted SSD of X to its nearest centres (higher is better)."""
        X = self._validated(X)
        weight = check_sample_weight(sample_weight, X.shape[0], dtype=np.float64)
        _, min_distances = self._nearest(X)
        return -float(np.dot(weight, min_distances.astype(np.float64)))
