"""The dask backend: the in-memory kernels run on every chunk, their statistics tree-reduced.

A fit over a dask array makes passes over its row chunks. Each pass runs one
*chunk function* per chunk, on a worker, with the signature
``f(X, sample_weight, x_norms, state, chunk_index, *args) -> (state, partial)``
(X already centred): ``state`` is a per-row array that stays on the cluster from
one pass to the next (the labels of the previous Lloyd step, the distances of
k-means||), ``partial`` is something small (O(k·d)) that merges with the
statistics of the other chunks in a tree. Only the merged result comes back to
the client, so one iteration moves O(k·d) numbers, whatever the number of rows.
A Lloyd step is such a pass whose chunk function is the in-memory backend's
``lloyd_pass`` (or, with ``algorithm="hamerly"``, its ``bounded_pass``, the state
then holding each row's bound beside its label) and whose merge is
``merge_statistics``: there is no second implementation of the math. An EM iteration of
:class:`kmix.GaussianMixture` is the same kind of pass: the in-memory E-step and
statistics kernels per chunk, merged with ``kernels.gmm.merge_statistics``.

dask and distributed are imported here only, inside the functions that need them,
so ``import kmix`` stays light and works without the ``dask`` extra.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from .._validation import is_dask_array, nonfinite_message, require, sample_weight_problem
from ..exceptions import DataError
from ..kernels import kmeans as kk
from . import numpy as numpy_backend

__all__ = [
    "Session",
    "client_session",
    "DaskData",
    "BoundedDaskData",
    "array_from_readers",
    "from_array",
    "predict_labels",
    "center_distances",
    "weighted_min_distance_sum",
    "weighted_mean",
]

# Partial results merged per reduction task: a tree of depth log_8(n_chunks).
SPLIT_EVERY = 8
# Keep the centred data in the workers' memory when it takes at most this share
# of their total memory limit; above it every pass reads the chunks again from
# their source (a memory-mapped file, say), which keeps a fit out of core.
PERSIST_FRACTION = 0.4


def _dask():
    require("dask", "dask", "Working with dask arrays")
    import dask
    import dask.array as da

    return dask, da


def _distributed():
    return require("distributed", "dask", "Fitting on a dask array")


# --- where the work runs --------------------------------------------------------------

class Session(NamedTuple):
    """The dask.distributed client a fit runs on."""

    client: Any  # distributed.Client
    closes: bool  # True when the client (and anything it holds) goes away after the fit
    is_default: bool  # the client that dask's compute() uses when none is named

    @property
    def keeps_results(self) -> bool:
        """Whether data left on the cluster stays usable by a plain ``.compute()``."""
        return self.is_default and not self.closes


@contextlib.contextmanager
def client_session(client: Any = None) -> Iterator[Session]:
    """The client to run on, closed afterwards when it was opened here.

    Parameters
    ----------
    client : None, distributed.Client or str
        None: the active client (``distributed.default_client()``) if there is one,
        else a LocalCluster of one single-threaded worker process per core,
        started here and closed afterwards. A Client: used as it is. A string: the
        address of a running scheduler (``"tcp://host:8786"``), connected to here
        and disconnected afterwards (the cluster keeps running).

    Yields
    ------
    Session
    """
    distributed = _distributed()
    if client is None:
        try:
            active = distributed.default_client()
        except ValueError:
            active = None
        if active is not None and active.status == "running":
            yield Session(active, False, True)
            return
        cluster = distributed.LocalCluster(
            n_workers=os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: never collides with another cluster
            # One thread per worker, as dask already sets for BLAS: the compiled
            # kernels would otherwise start one thread per core in every worker.
            env={"NUMBA_NUM_THREADS": "1"},
        )
        try:
            with distributed.Client(cluster) as own:
                yield Session(own, True, True)
        finally:
            cluster.close()
    elif isinstance(client, (str, os.PathLike)):
        with distributed.Client(os.fspath(client)) as own:
            yield Session(own, True, True)
    elif isinstance(client, distributed.Client):
        try:
            is_default = distributed.default_client() is client
        except ValueError:
            is_default = False
        yield Session(client, False, is_default)
    else:
        raise ValueError(
            "client must be None, a dask.distributed Client or a scheduler address such as "
            f"'tcp://host:8786'; got {client!r}"
        )


# --- building dask arrays ---------------------------------------------------------

def array_from_readers(readers: Sequence[Any], row_chunks: Sequence[tuple[int, ...]]) -> Any:
    """One dask array, chunked along rows, from lazy readers of row blocks.

    Parameters
    ----------
    readers : sequence of objects with ``shape`` (n_i, d), ``dtype``, ``ndim`` and
        ``__getitem__`` returning an ndarray (see :class:`kmix.io.NpyRows`)
    row_chunks : sequence of tuples of int
        How each reader's rows are cut into chunks (each tuple sums to n_i).

    Returns
    -------
    dask array (sum n_i, d), one chunk along the columns
    """
    _, da = _dask()
    parts = []
    for reader, chunks in zip(readers, row_chunks):
        parts.append(da.from_array(
            reader, chunks=(tuple(chunks), (reader.shape[1],)), asarray=True, lock=False,
            fancy=False, meta=np.empty((0, 0), dtype=reader.dtype),
        ))
    return parts[0] if len(parts) == 1 else da.concatenate(parts, axis=0)


def from_array(array: np.ndarray, chunks: Any) -> Any:
    """An in-memory array as a dask array cut along rows (``chunks``: rows per chunk,
    "auto" or a tuple of row counts)."""
    _, da = _dask()
    if isinstance(chunks, str):
        return da.from_array(array, chunks=(chunks, -1))
    if isinstance(chunks, (int, np.integer)):
        return da.from_array(array, chunks=(int(chunks), -1))
    return da.from_array(array, chunks=(tuple(int(c) for c in chunks), -1))


def _aligned_weight(sample_weight: Any, X: Any, dtype: np.dtype) -> Any:
    """sample_weight as a dask array with X's row chunks (None stays None)."""
    _, da = _dask()
    if sample_weight is None:
        return None
    if is_dask_array(sample_weight):
        if sample_weight.ndim != 1:
            raise ValueError(
                f"sample_weight must be 1-D with {X.shape[0]} entries, got shape {sample_weight.shape}"
            )
        if sample_weight.shape[0] != X.shape[0]:
            raise ValueError(
                f"sample_weight has {sample_weight.shape[0]} entries but X has {X.shape[0]} samples"
            )
        return sample_weight.astype(dtype).rechunk((X.chunks[0],))
    from .._validation import check_sample_weight

    weight = check_sample_weight(sample_weight, X.shape[0], dtype=dtype)
    return da.from_array(weight, chunks=(X.chunks[0],))


# --- the first pass: mean, variance and checks ----------------------------------------

class _Moments(NamedTuple):
    """Per-column moments of a chunk and what is wrong with it, merged over chunks."""

    n: int
    sums: np.ndarray  # (d,) float64
    m2: np.ndarray  # (d,) float64: sum of squared deviations from the chunk's mean
    n_bad: int  # NaN or inf cells
    first_bad_row: int  # global row of the first one (-1: none)
    weight_nonfinite: int
    weight_negative: int
    weight_first_negative: int  # global index (-1: none)
    weight_positive: bool


def _moments_chunk(X: np.ndarray, weight: np.ndarray | None, start: int) -> _Moments:
    n = X.shape[0]
    data = X.astype(np.float64, copy=False)
    with np.errstate(over="ignore", invalid="ignore"):
        sums = data.sum(axis=0)
    n_bad, first_bad = 0, -1
    if not np.isfinite(sums).all():  # NaN or inf somewhere (or an overflow): look closer
        bad = ~np.isfinite(data)
        n_bad = int(bad.sum())
        first_bad = start + int(np.flatnonzero(bad.any(axis=1))[0]) if n_bad else -1
    if n and not n_bad:
        with np.errstate(over="ignore"):  # values near the float limit: as np.var, inf
            m2 = ((data - sums / n) ** 2).sum(axis=0)
    else:
        m2 = np.zeros(X.shape[1])
    if weight is None:
        w_stats = (0, 0, -1, n > 0)
    else:
        negative = weight < 0
        n_negative = int(np.count_nonzero(negative))
        w_stats = (
            int(np.count_nonzero(~np.isfinite(weight))),
            n_negative,
            start + int(np.argmax(negative)) if n_negative else -1,
            bool(np.any(weight > 0)),
        )
    return _Moments(n, sums, m2, n_bad, first_bad, *w_stats)


def _first(a: int, b: int) -> int:
    return b if a < 0 else a


def _merge_moments(a: _Moments, b: _Moments) -> _Moments:
    n = a.n + b.n
    if a.n and b.n:
        # Chan et al.: M2 of a union from the parts' M2 and the gap of their means.
        delta = b.sums / b.n - a.sums / a.n
        m2 = a.m2 + b.m2 + delta**2 * (a.n * b.n / n)
    else:
        m2 = a.m2 + b.m2
    return _Moments(
        n, a.sums + b.sums, m2, a.n_bad + b.n_bad, _first(a.first_bad_row, b.first_bad_row),
        a.weight_nonfinite + b.weight_nonfinite, a.weight_negative + b.weight_negative,
        _first(a.weight_first_negative, b.weight_first_negative),
        a.weight_positive or b.weight_positive,
    )


# --- running chunk functions ----------------------------------------------------------

def _run_chunk(func: Callable, X: np.ndarray, weight: np.ndarray | None, offset: np.ndarray | None,
               previous: tuple[Any, Any] | None, chunk_index: int, args: Sequence[Any]) -> tuple[Any, Any]:
    """Centre one chunk, fill in the unit weights and norms, and call a chunk function.

    ``previous`` is this chunk's ``(state, partial)`` output of an earlier pass (its
    state is passed on) or None.
    """
    state = None if previous is None else previous[0]
    if offset is not None:
        X = X - offset
    if weight is None:
        weight = np.ones(X.shape[0], dtype=X.dtype)
    return func(X, weight, kk.squared_norms(X), state, chunk_index, *args)


def _merge_all(merge: Callable, parts: Sequence[Any], outputs: bool) -> Any:
    if outputs:  # chunk outputs (state, partial): merge the partials
        parts = [part[1] for part in parts]
    return functools.reduce(merge, parts)


def _tree_reduce(parts: list, merge: Callable, outputs: bool = False) -> Any:
    """Merge delayed partial results in groups of SPLIT_EVERY, keeping chunk order.

    With ``outputs``, ``parts`` are chunk outputs ``(state, partial)``: reading the
    partial inside the first merge saves one small task per chunk.
    """
    dask, _ = _dask()
    if len(parts) == 1:
        return dask.delayed(_merge_all, pure=True)(merge, parts, outputs) if outputs else parts[0]
    while len(parts) > 1:
        parts = [
            dask.delayed(_merge_all, pure=True)(merge, parts[i:i + SPLIT_EVERY], outputs)
            for i in range(0, len(parts), SPLIT_EVERY)
        ]
        outputs = False
    return parts[0]


def _empty_statistics(n_clusters: int, n_features: int, with_previous: bool) -> kk.KMeansStats:
    """The statistics of a chunk without rows (what merging with it leaves unchanged)."""
    return kk.KMeansStats(
        weight_sums=np.zeros(n_clusters),
        sums=np.zeros((n_clusters, n_features)),
        ssd=0.0,
        ssd_previous=0.0 if with_previous else float("nan"),
        n_changed=0,
        farthest_distances=np.empty(0),
        farthest_points=np.empty((0, n_features)),
    )


def lloyd_chunk(X: np.ndarray, sample_weight: np.ndarray, x_norms: np.ndarray,
                state: np.ndarray | None, chunk_index: int,
                centers: np.ndarray) -> tuple[np.ndarray, kk.KMeansStats]:
    """One Lloyd assignment pass over one chunk: the in-memory backend's pass.

    Returns ``(labels (n,) int32, KMeansStats)``; ``state`` is the previous labels or None.
    """
    if X.shape[0] == 0:
        return np.empty(0, dtype=np.int32), _empty_statistics(*centers.shape, state is not None)
    labels, _, stats = numpy_backend.lloyd_pass(X, sample_weight, centers, x_norms, state,
                                                keep_distances=False)
    return labels, stats


def bounded_chunk(X: np.ndarray, sample_weight: np.ndarray, x_norms: np.ndarray,
                  state: tuple[np.ndarray, np.ndarray] | None, chunk_index: int,
                  centers: np.ndarray, drops: np.ndarray | None) -> tuple[tuple, kk.KMeansStats]:
    """One bounded assignment pass over one chunk: the in-memory backend's
    :func:`~kmix.backends.numpy.bounded_pass` (Hamerly's bounds).

    ``state`` is the chunk's ``(labels, lower bounds)`` from the last pass, or None
    (every row scanned, the bounds set). Returns ``((labels (n,) int32, lower (n,)
    float64), KMeansStats)``. The last pass's bounds are copied, not written: dask
    may hand the same output to a task run again.
    """
    if X.shape[0] == 0:
        empty = (np.empty(0, dtype=np.int32), np.empty(0))
        return empty, _empty_statistics(*centers.shape, state is not None)
    if state is None:
        previous, lower = None, np.zeros(X.shape[0])
    else:
        previous, lower = state[0], state[1].copy()
    labels, stats, _ = numpy_backend.bounded_pass(X, sample_weight, centers, x_norms, previous, lower,
                                                  drops)
    return (labels, lower), stats


class DaskData:
    """A checked dask array on a cluster, centred by its mean, for passes over its chunks.

    Construction makes one pass: the column means (the centring offset, as the
    in-memory fit uses), the per-column variances (for the tolerance) and the
    checks that need the values (NaN or inf in X, bad sample weights). The
    centred data is then persisted on the workers if it takes at most
    ``PERSIST_FRACTION`` of their memory; otherwise every pass reads the chunks
    again from the source, centring them on the fly.

    Parameters
    ----------
    X : dask array (n_samples, n_features)
        Checked by :func:`kmix._validation.check_dask_array` (one column chunk).
    sample_weight : None, array-like (n_samples,) or dask array (n_samples,)
    client : distributed.Client
    persist : bool or "auto"

    Attributes
    ----------
    offset : ndarray (n_features,), X's dtype: the column means
    mean_variance : float, mean of the per-column variances
    n_samples, n_features : int
    dtype : numpy dtype
    persisted : bool
    """

    def __init__(self, X: Any, sample_weight: Any, client: Any, *, persist: bool | str = "auto") -> None:
        self.client = client
        self.n_samples, self.n_features = (int(s) for s in X.shape)
        self.dtype = np.dtype(X.dtype)
        self.shape = (self.n_samples, self.n_features)
        self._source = X
        self._row_chunks = tuple(int(c) for c in X.chunks[0])
        self._starts = np.concatenate([[0], np.cumsum(self._row_chunks)[:-1]]).astype(int).tolist()
        self._weight = _aligned_weight(sample_weight, X, self.dtype)
        if self._weight is not None:
            # 1/d of X's size: sent to the workers once rather than with every pass.
            self._weight = client.persist(self._weight)
        self._weight_parts = (
            [None] * len(self._row_chunks) if self._weight is None
            else list(self._weight.to_delayed(optimize_graph=False).ravel())
        )
        moments = self._moments(X)
        if moments.n_bad:
            raise DataError(nonfinite_message("X ", moments.n_bad, moments.first_bad_row))
        problem = sample_weight_problem(
            moments.weight_nonfinite, moments.weight_negative,
            moments.weight_first_negative, moments.weight_positive,
        )
        if problem:
            raise ValueError(problem)
        self.offset = (moments.sums / moments.n).astype(self.dtype)
        self.mean_variance = float(np.mean(moments.m2 / moments.n))
        if persist == "auto":
            persist = self._fits_in_memory(X.nbytes)
        self.persisted = bool(persist)
        if self.persisted:
            # Keep the collection: it holds the futures of the persisted chunks.
            self._centred = client.persist(X - self.offset)
            self._parts = list(self._centred.to_delayed(optimize_graph=False).ravel())
            self._task_offset = None
        else:
            self._parts = list(X.to_delayed().ravel())
            self._task_offset = self.offset

    def _moments(self, X: Any) -> _Moments:
        dask, _ = _dask()
        parts = [
            dask.delayed(_moments_chunk, pure=True)(x, w, start)
            for x, w, start in zip(X.to_delayed().ravel(), self._weight_parts, self._starts)
        ]
        return self.client.compute(_tree_reduce(parts, _merge_moments)).result()

    def _fits_in_memory(self, nbytes: int) -> bool:
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        limits = [info.get("memory_limit") or 0 for info in workers.values()]
        if not limits or any(limit <= 0 for limit in limits):
            import psutil  # a dependency of distributed

            # No limit set: the workers share this machine's memory (LocalCluster).
            return nbytes <= PERSIST_FRACTION * psutil.virtual_memory().total
        return nbytes <= PERSIST_FRACTION * sum(limits)

    def n_positive_weights(self) -> int:
        """Number of rows with a positive sample weight (n_samples without weights)."""
        if self._weight is None:
            return self.n_samples
        return int(self.client.compute((self._weight > 0).sum()).result())

    @property
    def n_chunks(self) -> int:
        return len(self._row_chunks)

    def map_chunks(self, func: Callable, args: Sequence[Any] = (), *, state: Any = None,
                   merge: Callable, state_dtype: Any = None) -> tuple[Any, Any]:
        """Run a chunk function on every chunk and merge the partial results.

        Parameters
        ----------
        func : chunk function ``f(X, sample_weight, x_norms, state, chunk_index, *args)``
        args : extra arguments, the same for every chunk (arrays are sent once)
        state : the state returned by an earlier call, or None
        merge : ``merge(a, b)`` of two partial results (associative, order kept)
        state_dtype : dtype of the new per-row state, or None when ``func``
            returns None as its state

        Returns
        -------
        state : the new per-row state, kept on the cluster (a list with one
            persisted delayed ``(state, partial)`` per chunk), or None
        merged : the merged partial result, on the client
        """
        dask, _ = _dask()
        distributed = _distributed()
        shared = [dask.delayed(a) if isinstance(a, np.ndarray) else a for a in args]
        offset = None if self._task_offset is None else dask.delayed(self._task_offset)
        states = [None] * self.n_chunks if state is None else state
        outputs = [
            dask.delayed(_run_chunk, pure=True)(func, x, w, offset, s, index, shared)
            for index, (x, w, s) in enumerate(zip(self._parts, self._weight_parts, states))
        ]
        merged = _tree_reduce(outputs, merge, outputs=True)
        if state_dtype is None:
            return None, self.client.compute(merged).result()
        # One submission, so each chunk's task runs once for both uses. The chunk
        # outputs stay on the cluster, one per chunk (a list, not a dask array, so
        # that chunks of zero rows keep their place).
        *new_state, merged = self.client.persist(outputs + [merged])
        return new_state, distributed.futures_of(merged)[0].result()

    def _as_array(self, parts: list, dtype: Any) -> Any:
        _, da = _dask()
        arrays = [
            da.from_delayed(part[0], shape=(rows,), dtype=dtype)
            for part, rows in zip(parts, self._row_chunks) if rows
        ]
        return da.concatenate(arrays)

    # --- what lloyd needs -------------------------------------------------------------
    def lloyd_pass(self, centers: np.ndarray, previous_labels: Any = None) -> tuple[Any, kk.KMeansStats]:
        """Labels (per chunk, kept on the cluster) and the merged statistics."""
        return self.map_chunks(
            lloyd_chunk, (np.ascontiguousarray(centers, dtype=self.dtype),),
            state=previous_labels, merge=kk.merge_statistics, state_dtype=np.int32,
        )

    def snapshot(self, labels: list) -> Any:
        """Labels to hand to a callback: a dask array (n_samples,) int32 of the chunks on the cluster."""
        return self._as_array(labels, np.int32)

    def final_labels(self, centers: np.ndarray, labels: list, keep: bool) -> Any:
        """The fitted labels as a dask array (n,) int64.

        ``keep``: return the labels already on the cluster (valid while the client
        lives); otherwise a lazy array that assigns the source chunks to
        ``centers`` again, with the same centring and the same kernel, so it gives
        the same labels wherever it is computed.
        """
        if keep:
            return self._as_array(labels, np.int32).astype(np.int64)
        return self._source.map_blocks(
            _labels_chunk, offset=self.offset, centers=np.ascontiguousarray(centers, dtype=self.dtype),
            dtype=np.int64, drop_axis=1, meta=np.empty((0,), dtype=np.int64),
        )


class _BoundedParts(list):
    """The chunk outputs of a bounded pass, one per chunk: ``((labels, bounds), partial)``
    (a list of its own kind, so that its labels can be read after later passes)."""


class BoundedDaskData(DaskData):
    """:class:`DaskData` whose passes skip rows by Hamerly's bounds, as
    :class:`kmix.models.kmeans.BoundedData` does in memory: the same labels as
    Lloyd's pass, with a lower bound per row (8 bytes) kept on the workers beside
    its label between passes.

    A pass given the labels the last one returned moves the bounds by the centres'
    movement; any other call starts over (every row scanned).
    """

    def __init__(self, X: Any, sample_weight: Any, client: Any, *, persist: bool | str = "auto") -> None:
        super().__init__(X, sample_weight, client, persist=persist)
        self._centers: np.ndarray | None = None
        self._state: list | None = None

    def lloyd_pass(self, centers: np.ndarray, previous_labels: Any = None) -> tuple[Any, kk.KMeansStats]:
        """Labels (per chunk with their bounds, kept on the cluster) and the merged statistics."""
        if previous_labels is not None and (previous_labels is not self._state or self._centers is None):
            # Not the state the bounds belong to: a plain pass, and the bounds are void.
            self._state = self._centers = None
            return super().lloyd_pass(centers, previous_labels)
        centers = np.ascontiguousarray(centers, dtype=self.dtype)
        drops = None if previous_labels is None else kk.bound_drops(self._centers, centers)
        state, stats = self.map_chunks(
            bounded_chunk, (centers, drops), state=previous_labels, merge=kk.merge_statistics,
            state_dtype=np.int32,
        )
        state = _BoundedParts(state)
        self._centers = centers.copy()
        self._state = state
        return state, stats

    def _as_array(self, parts: list, dtype: Any) -> Any:
        if not isinstance(parts, _BoundedParts):  # a plain pass's labels
            return super()._as_array(parts, dtype)
        _, da = _dask()
        arrays = [
            da.from_delayed(part[0][0], shape=(rows,), dtype=dtype)
            for part, rows in zip(parts, self._row_chunks) if rows
        ]
        return da.concatenate(arrays)


def _labels_chunk(X: np.ndarray, offset: np.ndarray, centers: np.ndarray) -> np.ndarray:
    Xc = X - offset
    labels, _ = lloyd_chunk(Xc, np.ones(X.shape[0], dtype=X.dtype), kk.squared_norms(Xc), None, 0, centers)
    return labels.astype(np.int64)


# --- a fitted model on dask input: lazy results -----------------------------------------

def _nearest_chunk(X: np.ndarray, centers: np.ndarray, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # The same centring and pass as KMeans._nearest on in-memory data.
    Xc = X - offset
    if X.shape[0] == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=X.dtype)
    labels, min_distances, _ = numpy_backend.lloyd_pass(
        Xc, np.ones(X.shape[0], dtype=X.dtype), centers - offset, kk.squared_norms(Xc)
    )
    return labels.astype(np.int64), min_distances


def _predict_chunk(X: np.ndarray, centers: np.ndarray, offset: np.ndarray) -> np.ndarray:
    return _nearest_chunk(X, centers, offset)[0]


def _min_distances_chunk(X: np.ndarray, centers: np.ndarray, offset: np.ndarray) -> np.ndarray:
    return _nearest_chunk(X, centers, offset)[1].astype(np.float64)


def _transform_chunk(X: np.ndarray, centers: np.ndarray, offset: np.ndarray) -> np.ndarray:
    return np.sqrt(kk.squared_distances(X - offset, centers - offset))


def predict_labels(X: Any, centers: np.ndarray) -> Any:
    """Index of the nearest centre of each row, a lazy dask array (n_samples,) int64."""
    return X.map_blocks(
        _predict_chunk, centers=centers, offset=centers.mean(axis=0),
        dtype=np.int64, drop_axis=1, meta=np.empty((0,), dtype=np.int64),
    )


def center_distances(X: Any, centers: np.ndarray) -> Any:
    """Euclidean distances to the centres, a lazy dask array (n_samples, n_clusters)."""
    return X.map_blocks(
        _transform_chunk, centers=centers, offset=centers.mean(axis=0),
        dtype=X.dtype, chunks=(X.chunks[0], (centers.shape[0],)), meta=np.empty((0, 0), dtype=X.dtype),
    )


def weighted_min_distance_sum(X: Any, centers: np.ndarray, sample_weight: Any) -> float:
    """``sum w * min_j ||x - c_j||²`` over a dask array, computed (with the active scheduler)."""
    min_distances = X.map_blocks(
        _min_distances_chunk, centers=centers, offset=centers.mean(axis=0),
        dtype=np.float64, drop_axis=1, meta=np.empty((0,), dtype=np.float64),
    )
    weight = _aligned_weight(sample_weight, X, np.dtype(np.float64))
    total = min_distances.sum() if weight is None else (weight * min_distances).sum()
    return float(total.compute())


def weighted_mean(values: Any, sample_weight: Any) -> float:
    """``sum w * v / sum w`` of a 1-D dask array, computed (with the active scheduler).

    ``sample_weight``: None (the plain mean), array-like or a dask array of the same length.
    """
    values = values.astype(np.float64)
    weight = _aligned_weight(sample_weight, values, np.dtype(np.float64))
    if weight is None:
        return float(values.mean().compute())
    dask, _ = _dask()
    total, weight_sum = dask.compute((weight * values).sum(), weight.sum())
    return float(total / weight_sum)
