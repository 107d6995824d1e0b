"""Mini-batch k-means (Sculley 2010, with scikit-learn's choices): the batch-step
loop over the data protocol and the estimator's core, without scikit-learn (the
scikit-learn estimator :class:`kmix.MiniBatchKMeans` is a thin shell over
:class:`MiniBatchKMeansCore`, in :mod:`kmix.estimators`).

Each step draws a batch, assigns it with kmix's k-means pass
(:func:`kmix.kernels.kmeans_passes.lloyd_block` on the batch's rows) and moves
every centre that received weight w toward the batch mean of its points by
w / (its cumulative weight): each centre is the running mean of every point it
was ever given.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .. import backends
from .._typing import ArrayLike, RandomStateLike
from .._validation import check_data, check_float, check_int, check_random_state, is_dask_array, is_sparse
from ..backends.blocks import Block
from ..backends.threads import one_blas_thread
from ..kernels import kmeans as kk
from ..kernels import kmeans_passes as kpass
from ..kernels import seeding
from .history import History
from .kmeans import KMeansCore, _check_verbose, _checked_centers, _in_frame

__all__ = ["MiniBatchKMeansCore", "MiniBatchState", "MiniBatchResult", "minibatch_step", "run_minibatch"]

_INITS = ("k-means++", "random")
# record_history="auto" keeps each step's centres when one set has at most this
# many numbers (as KMeans) and all of the steps' together at most _AUTO_TOTAL_MAX
# (200 MB in float64: a mini-batch fit can take many thousands of steps).
_AUTO_CENTERS_MAX = 10_000
_AUTO_TOTAL_MAX = 25_000_000


class MiniBatchState:
    """What the batch steps carry from one to the next (partial_fit keeps it between calls).

    Attributes
    ----------
    counts : ndarray (k,) float64
        Cumulative weight each centre has been given: its learning rate's denominator.
    n_since_reassign : int
        Rows seen since the last check for low-count centres.
    """

    def __init__(self, n_clusters: int) -> None:
        self.counts = np.zeros(n_clusters)
        self.n_since_reassign = 0

    def due_for_reassignment(self, batch_size: int) -> bool:
        """Counted before each step (scikit-learn's rule): a check every 10 x k rows
        seen, and at once while a centre has never been given weight."""
        self.n_since_reassign += batch_size
        if np.any(self.counts == 0) or self.n_since_reassign >= 10 * self.counts.shape[0]:
            self.n_since_reassign = 0
            return True
        return False


def _batch_block(rows: Any, weights: np.ndarray, norms: np.ndarray | None, n_threads: int) -> Block:
    return Block(rows, np.ascontiguousarray(weights), x_norms=norms, n_threads=n_threads, owns_state=True)


def minibatch_step(
    block: Block,
    centers: np.ndarray,
    state: MiniBatchState,
    rng: np.random.RandomState,
    *,
    reassign: bool,
    reassignment_ratio: float,
    verbose: int = 0,
) -> tuple[np.ndarray, float]:
    """One mini-batch step on the rows of ``block``.

    Parameters
    ----------
    block : Block of the batch's rows (dense, or CSR), in the frame of ``centers``
    centers : ndarray (k, d) float64, not written
    state : MiniBatchState, its ``counts`` written
    rng : RandomState for the rows that replace low-count centres
    reassign : whether low-count centres are replaced at this step
    reassignment_ratio : a centre whose count is below this fraction of the largest is replaced

    Returns
    -------
    new_centers : ndarray (k, d) float64
    batch_ssd : float
        Weighted SSD of the batch to ``centers`` (before the update).
    """
    with one_blas_thread(kpass.uses_blas(centers.shape[1])):
        (_,), stats = kpass.lloyd_block(block, centers.astype(block.X.dtype))
    counts = state.counts
    batch_weight = stats.weight_sums
    given = batch_weight > 0
    new_centers = centers.copy()
    counts[given] += batch_weight[given]
    # centre + (batch mean - centre) * w / count, as (sum - w * centre) / count:
    # the centre stays the running mean of every point it was given.
    new_centers[given] += (stats.sums[given] - batch_weight[given, None] * centers[given]) / counts[given, None]
    if reassign and reassignment_ratio > 0:
        _reassign(block.X, new_centers, counts, rng, reassignment_ratio, verbose)
    return new_centers, float(stats.ssd)


def _reassign(rows: Any, centers: np.ndarray, counts: np.ndarray, rng: np.random.RandomState,
              ratio: float, verbose: int) -> None:
    """Move the centres whose count is below ``ratio`` x the largest count to rows
    of the batch drawn uniformly (at most half the batch's size of them); they take
    the smallest count left, so that they are not moved again at once. Writes
    ``centers`` and ``counts``."""
    n_rows = rows.shape[0]
    low = counts < ratio * counts.max()
    if low.sum() > 0.5 * n_rows:
        low[np.argsort(counts)[int(0.5 * n_rows):]] = False
    n_moved = int(low.sum())
    if n_moved == 0 or low.all():
        return
    picked = rng.choice(n_rows, replace=False, size=n_moved)
    if verbose:
        print(f"[MiniBatchKMeans] Reassigning {n_moved} cluster centers.")
    new = rows[picked]
    centers[low] = new.toarray() if is_sparse(new) else new
    counts[low] = np.min(counts[~low])


class MiniBatchResult(NamedTuple):
    centers: np.ndarray  # (k, d) float64, in the data's frame
    state: MiniBatchState  # cumulative weights and the reassignment clock, for partial_fit
    n_steps: int
    converged: bool
    history: History
    ewa_inertia: float  # smoothed batch SSD per row at the last step (NaN before step 2)


def _new_history() -> History:
    return History({
        "centers": "centres: the initial ones, then after every batch step (n_steps + 1, k, d)",
        "ssd": "weighted SSD of each batch to the centres it was assigned to (n_steps,)",
        "smoothed_ssd": "exponentially weighted average of the batch SSD per row (n_steps,); NaN at step 1",
    })


def run_minibatch(
    data: Any,
    centers: np.ndarray,
    rng: np.random.RandomState,
    *,
    batch_size: int,
    n_steps: int,
    tol: float,
    max_no_improvement: int | None,
    reassignment_ratio: float,
    record: bool = True,
    record_centers: bool = True,
    verbose: int = 0,
) -> MiniBatchResult:
    """Mini-batch steps on an in-memory data object from ``centers`` (its frame).

    Each step draws ``batch_size`` rows with replacement, with probability
    proportional to their weight (so each batch row then counts once). The fit
    stops after ``n_steps``, when the squared centre change of a step is at most
    ``tol`` (already scaled; 0 disables), or when the exponentially weighted
    average of the batch SSD per row (smoothing alpha = 2 batch_size / (n + 1))
    has not improved for ``max_no_improvement`` steps (None disables); the first
    step's SSD, measured on the initial centres, is left out of the average.
    """
    X, weights, norms = data.arrays()
    n_samples, k = data.n_samples, centers.shape[0]
    probabilities = weights.astype(np.float64) / np.sum(weights, dtype=np.float64)
    # RandomState.choice(n, size, p=probabilities, replace=True) is a search of
    # random_sample(size) in this normalised cumulative sum, which it would rebuild
    # (and check p again, all n of it) at every step: built once here, the same
    # uniforms give the same rows. The uniforms are searched in increasing order
    # (neighbouring searches then share their path through the n values) and the
    # rows put back in the order drawn.
    cumulative = probabilities.cumsum()
    cumulative /= cumulative[-1]
    indices = np.empty(batch_size, dtype=np.intp)
    ones = np.ones(batch_size, dtype=data.dtype)
    state = MiniBatchState(k)
    history = _new_history() if record else History()
    record_centers = record and record_centers
    centers = np.array(centers, dtype=np.float64)
    if record_centers:
        history.append(centers=centers)
    alpha = min(batch_size * 2.0 / (n_samples + 1), 1.0)
    ewa = best = None
    no_improvement = 0
    converged = False
    step = 0
    for step in range(1, n_steps + 1):
        uniforms = rng.random_sample(batch_size)
        order = np.argsort(uniforms)
        indices[order] = cumulative.searchsorted(uniforms[order], side="right")
        block = _batch_block(X[indices], ones, None if norms is None else norms[indices], data.n_threads)
        reassign = state.due_for_reassignment(batch_size)
        new_centers, batch_ssd = minibatch_step(block, centers, state, rng, reassign=reassign,
                                                reassignment_ratio=reassignment_ratio, verbose=verbose)
        shift = kk.squared_shift(centers, new_centers) if tol > 0 else 0.0
        centers = new_centers
        per_row = batch_ssd / batch_size
        if step > 1:
            ewa = per_row if ewa is None else ewa * (1 - alpha) + per_row * alpha
        if record_centers:
            history.append(centers=centers)
        if record:
            history.append(ssd=batch_ssd, smoothed_ssd=np.nan if ewa is None else ewa)
        history.n_iter = step
        if verbose:
            tail = "" if ewa is None else f", ewa inertia: {ewa}"
            print(f"Minibatch step {step}/{n_steps}: mean batch inertia: {per_row}{tail}")
        if step == 1:
            continue
        if tol > 0 and shift <= tol:
            if verbose:
                print(f"Converged (small centers change) at step {step}/{n_steps}")
            converged = True
            break
        if best is None or ewa < best:
            best, no_improvement = ewa, 0
        else:
            no_improvement += 1
        if max_no_improvement is not None and no_improvement >= max_no_improvement:
            if verbose:
                print(f"Converged (lack of improvement in inertia) at step {step}/{n_steps}")
            converged = True
            break
    history.converged = converged
    ewa_value = float("nan") if ewa is None else float(ewa)
    return MiniBatchResult(centers, state, step, converged, history, ewa_value)


class MiniBatchKMeansCore(KMeansCore):
    """k-means by mini-batches (scikit-learn's ``MiniBatchKMeans``), every batch step recorded.

    Parameters
    ----------
    n_clusters : int, default 8
    init : {"k-means++", "random"}, callable or array (n_clusters, n_features), default "k-means++"
        How the initial centres are chosen, on ``init_size`` rows drawn at
        random: kmix's greedy k-means++, ``n_clusters`` distinct rows drawn by
        weight, ``init(X_rows, n_clusters, random_state=RandomState)``, or the
        centres given.
    max_iter : int, default 100
        Most passes over the data (epochs): at most max_iter x n_samples //
        batch_size steps.
    batch_size : int, default 1024
        Rows per batch (at most n_samples).
    verbose : int, default 0
        Above 0, print scikit-learn's progress lines.
    compute_labels : bool, default True
        After ``fit``, label every row and compute the inertia with one more pass;
        without it ``labels_`` is not set and ``inertia_`` is the smoothed batch
        SSD per row times the total weight.
    random_state : int, RandomState, Generator or None
        Seed of the batches, the initialisation and the reassignments. The draws
        are made in scikit-learn's order from a numpy RandomState, so that from
        the same array ``init`` and seed the batches are scikit-learn's.
    tol : float, default 0.0
        Stop when a step moves the centres by at most tol x (mean per-feature
        variance of X) in total squared distance; 0 disables the test.
    max_no_improvement : int or None, default 10
        Stop when the smoothed batch SSD has not improved for this many steps.
    init_size : int or None, default None
        Rows the initialisation is drawn from: 3 x batch_size by default (3 x
        n_clusters if that is smaller than n_clusters), at most n_samples.
    n_init : int or "auto", default "auto"
        Initialisations tried (each on its own rows); the one with the lowest SSD
        on ``init_size`` validation rows is kept. "auto": 1 for "k-means++" or an
        array, 3 otherwise.
    reassignment_ratio : float, default 0.01
        Centres whose cumulative weight is below this fraction of the largest are
        moved to random batch rows (checked every 10 x n_clusters rows seen).
    record_history : {"auto", True, False}, default "auto"
        Keep ``history_``: per step the batch SSD, the smoothed SSD and (True, or
        "auto" when k x d <= 10,000 and all steps' centres fit in 25 million
        numbers) the centres.

    Attributes
    ----------
    cluster_centers_ : ndarray (n_clusters, n_features), dtype of X
    labels_ : ndarray (n_samples,) int32 (with ``compute_labels``)
    inertia_ : float
    n_iter_ : int
        Passes over the data started: ceil(n_steps_ x batch_size / n_samples).
    n_steps_ : int
        Batch steps made.
    history_ : History or None
    n_features_in_ : int
    """

    # kmix.save_model does not store mini-batch models yet (it says so).
    _saved_as = None

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init: str | ArrayLike | Callable[..., ArrayLike] = "k-means++",
        max_iter: int = 100,
        batch_size: int = 1024,
        verbose: int = 0,
        compute_labels: bool = True,
        random_state: RandomStateLike = None,
        tol: float = 0.0,
        max_no_improvement: int | None = 10,
        init_size: int | None = None,
        n_init: int | str = "auto",
        reassignment_ratio: float = 0.01,
        record_history: bool | str = "auto",
    ) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio
        self.record_history = record_history

    # --- checks -------------------------------------------------------------------
    def _check_params(self, X: Any, stacklevel: int = 4) -> tuple[int, int, str | None, np.ndarray | None]:
        """n_clusters, n_init, the init's name (None otherwise) and the init array;
        sets ``_batch_size``, ``_init_size`` and ``_n_init`` as scikit-learn does."""
        n_samples, n_features = X.shape
        n_clusters = check_int(self.n_clusters, "n_clusters", minimum=1)
        if n_clusters > n_samples:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={n_clusters}: "
                "there must be at least as many points as clusters"
            )
        check_int(self.max_iter, "max_iter", minimum=1)
        batch_size = check_int(self.batch_size, "batch_size", minimum=1)
        check_float(self.tol, "tol", minimum=0.0)
        _check_verbose(self.verbose)
        if not isinstance(self.compute_labels, (bool, np.bool_)):
            raise ValueError(f"compute_labels must be True or False, got {self.compute_labels!r}")
        if self.max_no_improvement is not None:
            check_int(self.max_no_improvement, "max_no_improvement", minimum=0)
        check_float(self.reassignment_ratio, "reassignment_ratio", minimum=0.0)
        if not (isinstance(self.record_history, (bool, np.bool_)) or
                (isinstance(self.record_history, str) and self.record_history == "auto")):
            raise ValueError(f"record_history must be 'auto', True or False; got {self.record_history!r}")
        self._batch_size = min(batch_size, n_samples)
        if self.init_size is None:
            init_size = 3 * self._batch_size
            if init_size < n_clusters:
                init_size = 3 * n_clusters
        else:
            init_size = check_int(self.init_size, "init_size", minimum=1)
            if init_size < n_clusters:
                warnings.warn(
                    f"init_size={init_size} should be larger than n_clusters={n_clusters}. "
                    "Setting it to min(3*n_clusters, n_samples)",
                    RuntimeWarning, stacklevel=stacklevel,
                )
                init_size = 3 * n_clusters
        self._init_size = min(init_size, n_samples)
        init_name: str | None = None
        init_array = None
        if isinstance(self.init, str):
            if self.init not in _INITS:
                raise ValueError(
                    f"init must be 'k-means++', 'random', a callable or an array of shape "
                    f"(n_clusters, n_features); got {self.init!r}"
                )
            init_name = self.init
        elif not callable(self.init):
            init_array = _checked_centers(self.init, X.dtype, n_clusters, n_features, "init")
        if isinstance(self.n_init, str):
            if self.n_init != "auto":
                raise ValueError(f"n_init must be 'auto' or an integer >= 1; got {self.n_init!r}")
            n_init = 1 if init_name == "k-means++" or init_array is not None else 3
        else:
            n_init = check_int(self.n_init, "n_init", minimum=1)
        if init_array is not None and n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init in "
                f"MiniBatchKMeans instead of n_init={n_init}.",
                RuntimeWarning, stacklevel=stacklevel,
            )
            n_init = 1
        self._n_init = n_init
        return n_clusters, n_init, init_name, init_array

    def _records_centers(self, n_clusters: int, n_features: int, n_steps: int = 1) -> bool:
        if isinstance(self.record_history, str):  # "auto"
            size = n_clusters * n_features
            return size <= _AUTO_CENTERS_MAX and size * (n_steps + 1) <= _AUTO_TOTAL_MAX
        return bool(self.record_history)

    @staticmethod
    def _rows_data(X: Any, what: str) -> Any:
        if is_dask_array(X):
            raise ValueError(
                f"MiniBatchKMeans.{what} takes data in memory (a numpy array or a scipy.sparse "
                "matrix): give it X.compute(), or its chunks one at a time to partial_fit"
            )
        return check_data(X, finite=False, accept_sparse=True)

    def _random_state(self) -> np.random.RandomState:
        """The RandomState every draw comes from, in scikit-learn's order."""
        seed = self.random_state
        if isinstance(seed, np.random.RandomState):
            return seed
        if isinstance(seed, np.random.Generator):
            return np.random.RandomState(int(seed.integers(2**31 - 1)))
        check_random_state(seed)  # the same rule for a seed as everywhere else
        return np.random.RandomState(None if seed is None else int(seed))

    def _initial(self, data: Any, X: Any, n_clusters: int, init_name: str | None,
                 init_array: np.ndarray | None, rng: np.random.RandomState) -> np.ndarray:
        """One set of initial centres (float64, in the data's frame), from
        ``_init_size`` rows drawn with replacement (drawn even for an array, as
        scikit-learn does)."""
        rows, weights, norms = data.arrays()
        n = data.n_samples
        chosen = rng.randint(0, n, self._init_size) if self._init_size < n else None
        if chosen is not None:
            rows, weights = rows[chosen], weights[chosen]
            norms = None if norms is None else norms[chosen]
        if init_array is not None:
            return _in_frame(init_array.astype(np.float64), data.offset.astype(np.float64))
        if callable(self.init):
            source = X if chosen is None else X[chosen]
            given = _checked_centers(self.init(source, n_clusters, random_state=rng), X.dtype,
                                     n_clusters, X.shape[1], "init(X, n_clusters, random_state)")
            return _in_frame(given.astype(np.float64), data.offset.astype(np.float64))
        generator = check_random_state(rng)
        if init_name == "random":
            picked = seeding.random_points(rows, n_clusters, generator, weights)
        else:
            if norms is None:
                norms = kk.squared_norms(rows)
            picked = seeding.kmeans_plusplus(rows, n_clusters, generator, weights, norms,
                                             n_threads=data.n_threads)
        centers = rows[picked]
        return (centers.toarray() if is_sparse(centers) else centers).astype(np.float64)

    # --- fitting --------------------------------------------------------------------
    def fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> "MiniBatchKMeansCore":
        """Cluster X by mini-batches.

        Parameters
        ----------
        X : array-like (n_samples, n_features) or scipy.sparse matrix
            float32 stays float32; other numeric types become float64.
        y : ignored
        sample_weight : array-like (n_samples,), optional
            Batches are drawn with probability proportional to the weights (and
            the k-means++ and "random" initialisations weigh them too).

        Returns
        -------
        self
        """
        X = self._rows_data(X, "fit")
        with backends.wrap(X, sample_weight, centre=True) as data:
            n_clusters, n_init, init_name, init_array = self._check_params(X)
            rng = self._random_state()
            verbose = _check_verbose(self.verbose)
            rows, weights, norms = data.arrays()
            validation = rng.randint(0, data.n_samples, self._init_size)
            valid_block = _batch_block(rows[validation], weights[validation],
                                       None if norms is None else norms[validation], data.n_threads)
            best, best_ssd = None, None
            for run in range(n_init):
                if verbose:
                    print(f"Init {run + 1}/{n_init} with method {self.init if init_array is None else 'array'}")
                start = self._initial(data, X, n_clusters, init_name, init_array, rng)
                ssd = kpass.lloyd_block(valid_block, start.astype(data.dtype))[1].ssd
                if verbose:
                    print(f"Inertia for init {run + 1}/{n_init}: {ssd}")
                if best_ssd is None or ssd < best_ssd:
                    best, best_ssd = start, ssd
            batch_size = self._batch_size
            n_steps = (self.max_iter * data.n_samples) // batch_size
            result = run_minibatch(
                data, best, rng, batch_size=batch_size, n_steps=n_steps,
                tol=self.tol * data.mean_variance, max_no_improvement=self.max_no_improvement,
                reassignment_ratio=float(self.reassignment_ratio), record=self.record_history is not False,
                record_centers=self._records_centers(n_clusters, X.shape[1], n_steps), verbose=verbose,
            )
            centers = result.centers.astype(data.dtype)
            if self.compute_labels:
                labels, stats = data.reduce(kpass.lloyd_block, centers, merge=kk.merge_statistics,
                                            keep_state=True, blas_in_threads=kpass.uses_blas(data.n_features))
                self.labels_ = data.final_labels(centers, labels)
                self.inertia_ = float(stats.ssd)
            else:
                total = float(np.sum(weights, dtype=np.float64))
                self.inertia_ = result.ewa_inertia * total
            offset = data.offset.astype(np.float64)
        # What a later partial_fit carries on from (as scikit-learn's does).
        self._state, self._rng, self._counts = result.state, rng, result.state.counts
        self._records = "centers" in result.history
        self.cluster_centers_ = _in_frame(result.centers, -offset).astype(X.dtype, copy=False)
        self.n_steps_ = int(result.n_steps)
        self.n_iter_ = int(np.ceil(result.n_steps * batch_size / X.shape[0]))
        self.n_features_in_ = X.shape[1]
        self.history_ = self._shifted(result.history, offset) if self.record_history is not False else None
        return self

    @staticmethod
    def _shifted(history: History, offset: np.ndarray) -> History:
        if "centers" in history and offset.any():
            history._values["centers"] = [c + offset for c in history._values["centers"]]
        return history

    def partial_fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> "MiniBatchKMeansCore":
        """One mini-batch step on X (the first call also initialises on X).

        Each row of X counts with its weight (no draw). ``history_`` gains the
        step's centres and batch SSD (the smoothed SSD is NaN: partial_fit has no
        data size to smooth over). With ``compute_labels``, ``labels_`` and
        ``inertia_`` are those of X after the step.

        Returns
        -------
        self
        """
        X = self._rows_data(X, "partial_fit")
        first = not hasattr(self, "cluster_centers_")
        if not first and X.shape[1] != self.cluster_centers_.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.cluster_centers_.shape[1]} features as input"
            )
        with backends.wrap(X, sample_weight, centre=True) as data:
            offset = data.offset.astype(np.float64)
            if first:
                n_clusters, _, init_name, init_array = self._check_params(X)
                self._rng = self._random_state()
                self._state = MiniBatchState(n_clusters)
                centers = self._initial(data, X, n_clusters, init_name, init_array, self._rng)
                self.n_steps_ = 0
                record = self.record_history is not False
                self.history_ = _new_history() if record else None
                self._records = record and self._records_centers(n_clusters, X.shape[1])
                if self._records:
                    self.history_.append(centers=centers + offset)
            else:
                centers = _in_frame(self.cluster_centers_.astype(np.float64), offset)
            rows, weights, norms = data.arrays()
            block = _batch_block(rows, weights, norms, data.n_threads)
            reassign = self._state.due_for_reassignment(self._batch_size)
            centers, batch_ssd = minibatch_step(block, centers, self._state, self._rng, reassign=reassign,
                                                reassignment_ratio=float(self.reassignment_ratio),
                                                verbose=_check_verbose(self.verbose))
            if self.compute_labels:
                labels, stats = data.reduce(kpass.lloyd_block, centers.astype(data.dtype),
                                            merge=kk.merge_statistics, keep_state=True,
                                            blas_in_threads=kpass.uses_blas(data.n_features))
                self.labels_ = data.final_labels(centers, labels)
                self.inertia_ = float(stats.ssd)
        self._counts = self._state.counts
        dtype = X.dtype if first else self.cluster_centers_.dtype
        self.cluster_centers_ = _in_frame(centers, -offset).astype(dtype, copy=False)
        self.n_steps_ += 1
        self.n_features_in_ = X.shape[1]
        if self.history_ is not None:
            if self._records:
                self.history_.append(centers=self.cluster_centers_)
            self.history_.append(ssd=batch_ssd, smoothed_ssd=np.nan)
            self.history_.n_iter = self.n_steps_
        return self
