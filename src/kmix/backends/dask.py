"""The dask backend: kernels run on every chunk of a dask array, their results tree-reduced.

:class:`DaskData` is the data protocol over a dask array on a dask.distributed
cluster, with the methods of the in-memory :class:`kmix.backends.numpy.InMemoryData`.
A pass runs ``kernel(block, *params)`` once per chunk, on a worker, with one thread
(a kernel that asks for blocks of rows gets them one after the other): a chunk's
partial result is small (O(k·d)) and merges with the other chunks' in a tree, so
only the merged result reaches the client, whatever the number of rows. On chunks
persisted on the workers, a pass is one task per worker thread, over the chunks
that worker holds, and the chunks' partial results are merged in the same tree
(the first chunks of each of its first runs folded on their worker, the rest on
the client): the scheduler's work is per task, so a pass then costs it per worker
instead of per chunk. A kernel's per-row state (the labels of the last Lloyd
step, with their bounds; the distances of k-means||) stays on the workers from
one pass to the next. There is no second implementation of the math: the kernels
are the in-memory ones.

dask and distributed are imported here and in :mod:`kmix.backends.dask_session`
only, inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .._validation import magnitude_dtype, nonfinite_message, sample_weight_problem
from ..exceptions import DataError
from ..kernels.kmeans_parallel import chunk_keyed_sample, merge_keyed
from ..kernels.moments import ColumnMoments, column_moments, merge_column_moments
from .blocks import Block, row_blocks
from .dask_placement import chunk_placement, holders, worker_groups
from .dask_session import aligned_weight, client_session, dask_modules, distributed_module

__all__ = ["DaskData", "map_rows", "weighted_sum"]

# Partial results merged per reduction task: a tree of depth log_8(n_chunks).
SPLIT_EVERY = 8
# Keep the centred data in the workers' memory when it takes at most this share
# of their total memory limit; above it every pass reads the chunks again from
# their source (a memory-mapped file, say), which keeps a fit out of core.
PERSIST_FRACTION = 0.4


# --- the first pass: column moments and the checks that need the values -----------------

class _ChunkCheck(NamedTuple):
    """A chunk's column moments and what is wrong with it, merged over chunks."""

    moments: ColumnMoments
    n_bad: int  # NaN or inf cells
    first_bad_row: int  # global row of the first one (-1: none)
    weight_nonfinite: int
    weight_negative: int
    weight_first_negative: int  # global index (-1: none)
    weight_positive: bool
    weight_total: float


def _check_chunk(X: np.ndarray, weight: np.ndarray | None, start: int) -> _ChunkCheck:
    moments = column_moments(X, compiled=True)
    n_bad, first_bad = 0, -1
    if not np.isfinite(moments.sums).all():  # NaN or inf somewhere (or an overflow): look closer
        bad = ~np.isfinite(X)
        n_bad = int(bad.sum())
        first_bad = start + int(np.flatnonzero(bad.any(axis=1))[0]) if n_bad else -1
    if weight is None:
        w_stats = (0, 0, -1, X.shape[0] > 0, float(X.shape[0]))
    else:
        negative = weight < 0
        n_negative = int(np.count_nonzero(negative))
        w_stats = (
            int(np.count_nonzero(~np.isfinite(weight))),
            n_negative,
            start + int(np.argmax(negative)) if n_negative else -1,
            bool(np.any(weight > 0)),
            float(np.sum(weight, dtype=np.float64)),
        )
    return _ChunkCheck(moments, n_bad, first_bad, *w_stats)


def _first(a: int, b: int) -> int:
    return b if a < 0 else a


def _merge_checks(a: _ChunkCheck, b: _ChunkCheck) -> _ChunkCheck:
    return _ChunkCheck(
        merge_column_moments(a.moments, b.moments), a.n_bad + b.n_bad,
        _first(a.first_bad_row, b.first_bad_row),
        a.weight_nonfinite + b.weight_nonfinite, a.weight_negative + b.weight_negative,
        _first(a.weight_first_negative, b.weight_first_negative),
        a.weight_positive or b.weight_positive, a.weight_total + b.weight_total,
    )


# --- running kernels on chunks ------------------------------------------------------------

# A worker process's unit weights, one array per (rows, dtype), shared by every pass
# over chunks without weights. distributed's nanny sets glibc's trim threshold, which
# also fixes its mmap threshold: every large array a pass allocates is new memory
# from the system, its pages faulted in again on each pass. No kernel writes the
# weights it is given (tested). At most _UNIT_WEIGHTS_BYTES are kept, so that a
# worker holds little memory for them after the fit.
_UNIT_WEIGHTS: dict[tuple[int, str], np.ndarray] = {}
_UNIT_WEIGHTS_BYTES = 32 * 2**20


def _unit_weights(n_rows: int, dtype: Any) -> np.ndarray:
    """Weights of 1 for ``n_rows`` rows of ``dtype``: on every call in this process
    the same array, unless longer than the cache holds (then a new one)."""
    dtype = np.dtype(dtype)
    key = (n_rows, dtype.str)
    weights = _UNIT_WEIGHTS.get(key)
    if weights is not None:
        return weights
    weights = np.ones(n_rows, dtype=dtype)
    if weights.nbytes <= _UNIT_WEIGHTS_BYTES:
        if weights.nbytes + sum(kept.nbytes for kept in list(_UNIT_WEIGHTS.values())) > _UNIT_WEIGHTS_BYTES:
            _UNIT_WEIGHTS.clear()
        _UNIT_WEIGHTS[key] = weights
    return weights


def _run_chunk(kernel: Callable, X: np.ndarray, weight: np.ndarray | None, offset: np.ndarray | None,
               previous: tuple[Any, Any] | None, index: int, block_rows: int | None,
               merge: Callable, params: Sequence[Any]) -> Any:
    """Centre one chunk, fill in unit weights, and run a kernel on it (or on its
    blocks of ``block_rows`` rows, one after the other, merged in order).

    ``previous`` is this chunk's ``(state, partial)`` output of an earlier pass (its
    state is passed on) or None. The state is never written: dask may hand the
    same output to a task run again.
    """
    x_norms = None
    if isinstance(X, tuple):  # a persisted centred chunk with its rows' squared norms
        X, x_norms = X
    if offset is not None:
        X = X - offset
    unit_weight = None
    if weight is None:
        weight, unit_weight = _unit_weights(X.shape[0], X.dtype), True
    block = Block(X, weight, x_norms=x_norms, unit_weight=unit_weight,
                  state=None if previous is None else previous[0], index=index, n_threads=1,
                  owns_state=False)
    if block_rows is None:
        return kernel(block, *params)
    slices = row_blocks(X.shape[0], block_rows) or [slice(0, 0)]
    return functools.reduce(merge, (kernel(block.rows(rows), *params) for rows in slices))


def _run_group_task(parts: list, weights: list, previous: list | None, indices: list, *, kernel: Callable,
                    block_rows: int | None, merge: Callable, params: Sequence[Any]) -> list:
    """:func:`_run_chunk` on each persisted chunk of one worker's group in turn: the
    list of their outputs, in the group's order. ``previous`` is the group's output
    of an earlier pass (or None)."""
    previous = [None] * len(parts) if previous is None else previous
    return [_run_chunk(kernel, X, weight, None, before, index, block_rows, merge, params)
            for X, weight, before, index in zip(parts, weights, previous, indices)]


def _runs_of(outputs: list, indices: list, merge: Callable, n_chunks: int, pairs: bool) -> tuple[dict, dict]:
    """A group's partial results as they travel to the client: ``(prefixes, loose)``.

    The merge tree's first level folds the chunks ``SPLIT_EVERY * r`` to
    ``SPLIT_EVERY * (r + 1) - 1`` from the left. Where the group holds the first
    chunks of such a run, they are folded here, in the same order
    (``prefixes[r] = (count, value)``), so that fewer large partials (full
    covariances) travel; the group's other chunks go as they are
    (``loose[index]``). ``pairs``: the outputs are ``(state, partial)``, whose
    states stay on the worker."""
    held = {index: (output[1] if pairs else output) for index, output in zip(indices, outputs)}
    prefixes, loose = {}, {}
    for run in sorted({index // SPLIT_EVERY for index in indices}):
        members = range(run * SPLIT_EVERY, min((run + 1) * SPLIT_EVERY, n_chunks))
        count = 0
        while count < len(members) and members[count] in held:
            count += 1
        if count:
            prefixes[run] = (count, functools.reduce(merge, [held[member] for member in members[:count]]))
        loose.update((member, held[member]) for member in members[count:] if member in held)
    return prefixes, loose


def _chunk_rows(outputs: list, position: int) -> np.ndarray:
    return _first_array(outputs[position])


class _GroupState(NamedTuple):
    """The per-row state a pass over persisted chunks keeps: one future per group
    (:func:`.dask_placement.worker_groups`) of the list of its chunks' ``(state,
    partial)``."""

    futures: list


def _chunk_futures(persisted: Any, parts: list) -> list:
    """The future of each delayed chunk in ``parts``, found by its key among the
    futures of the ``persisted`` collection (a chunk's delayed object may carry the
    whole collection's graph)."""
    by_key = {future.key: future for future in distributed_module().futures_of(persisted)}
    return [by_key[part.key] for part in parts]


def _centre_chunk(X: np.ndarray, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A chunk less the column means, with its rows' squared norms: what every pass
    reads, kept on the workers so that no pass computes the norms again. The
    in-memory fit's compiled centring, on one thread: one pass over the chunk, and
    the same norms as in memory."""
    # numba is imported on first use only
    from ..kernels.compiled import as_read_only, as_writable, kmeans_prep, threads

    X = np.ascontiguousarray(X)
    centred, norms = np.empty_like(X), np.empty(X.shape[0], dtype=X.dtype)
    if X.shape[0]:
        with threads(1, 1):
            kmeans_prep.center_rows(as_read_only(X), as_writable(np.asarray(offset, dtype=X.dtype)),
                                    X.shape[0], centred, norms)
    return centred, norms


def _held(array: np.ndarray) -> np.ndarray:
    """The array itself: computed on a chosen worker, a copy of it kept there."""
    return array


def _merge_all(merge: Callable, parts: Sequence[Any], outputs: bool) -> Any:
    if outputs:  # chunk outputs (state, partial): merge the partials
        parts = [part[1] for part in parts]
    return functools.reduce(merge, parts)


def _tree_reduce(parts: list, merge: Callable, outputs: bool = False, task: Callable | None = None) -> Any:
    """Merge partial results in groups of SPLIT_EVERY, keeping chunk order.

    ``task(merge, group, outputs)`` makes one merge task of :func:`_merge_all`: by
    default a delayed call (``parts`` delayed objects); the persisted passes give a
    ``client.submit`` (``parts`` futures). With ``outputs``, ``parts`` are chunk
    outputs ``(state, partial)``: reading the partial inside the first merge saves
    one small task per chunk.
    """
    if task is None:
        dask, _ = dask_modules()
        task = dask.delayed(_merge_all, pure=True)
    while len(parts) > 1 or outputs:
        parts = [task(merge, parts[i:i + SPLIT_EVERY], outputs) for i in range(0, len(parts), SPLIT_EVERY)]
        outputs = False
    return parts[0]


def _first_array(output: tuple[Any, Any]) -> np.ndarray:
    """The per-row result in a chunk's ``(state, partial)``: the state, or its first array."""
    state = output[0]
    return state[0] if isinstance(state, tuple) else state


class DaskData:
    """A checked dask array on a cluster, centred by its column means, for passes over its chunks.

    Construction opens the client session (see
    :func:`kmix.backends.dask_session.client_session`; closed on ``__exit__``) and
    makes one pass: the column means (the centring offset, as the in-memory fit
    uses), the per-column variances (for the tolerance) and the checks that need
    the values (NaN or inf in X, bad sample weights). The centred data, with its
    rows' squared norms, is then persisted on the workers if it takes at most
    ``PERSIST_FRACTION`` of their memory; otherwise every pass reads the chunks
    again from the source, centring them on the fly.

    Parameters
    ----------
    X : dask array (n_samples, n_features)
        Checked by :func:`kmix._validation.check_dask_array` (one column chunk).
    sample_weight : None, array-like (n_samples,) or dask array (n_samples,)
    client : None, distributed.Client or str (see ``client_session``)
    persist : bool or "auto"

    Attributes
    ----------
    offset : ndarray (n_features,), X's dtype: the column means
    mean_variance : float, mean of the per-column variances
    n_samples, n_features : int
    dtype : numpy dtype
    persisted : bool
    client : distributed.Client
    """

    def __init__(self, X: Any, sample_weight: Any, client: Any = None, *,
                 persist: bool | str = "auto") -> None:
        self._exit = contextlib.ExitStack()
        self._session = self._exit.enter_context(client_session(client))
        try:
            self._setup(X, sample_weight, persist)
        except BaseException:
            self._exit.close()
            raise

    def _setup(self, X: Any, sample_weight: Any, persist: bool | str) -> None:
        client = self.client = self._session.client
        self.n_samples, self.n_features = (int(s) for s in X.shape)
        self.dtype = np.dtype(X.dtype)
        self.shape = (self.n_samples, self.n_features)
        self._source = X
        self._row_chunks = tuple(int(c) for c in X.chunks[0])
        starts = np.concatenate([[0], np.cumsum(self._row_chunks)[:-1]]).astype(int).tolist()
        self._weight = aligned_weight(sample_weight, X, self.dtype)
        if self._weight is not None:
            # 1/d of X's size: sent to the workers once rather than with every pass.
            self._weight = client.persist(self._weight)
        self._weight_parts = (
            [None] * len(self._row_chunks) if self._weight is None
            else list(self._weight.to_delayed(optimize_graph=False).ravel())
        )
        dask, _ = dask_modules()
        checks = [
            dask.delayed(_check_chunk, pure=True)(x, w, start)
            for x, w, start in zip(X.to_delayed().ravel(), self._weight_parts, starts)
        ]
        check = client.compute(_tree_reduce(checks, _merge_checks)).result()
        if check.n_bad:
            raise DataError(nonfinite_message("X ", check.n_bad, check.first_bad_row))
        problem = sample_weight_problem(
            check.weight_nonfinite, check.weight_negative, check.weight_first_negative,
            check.weight_positive,
        )
        if problem:
            raise ValueError(problem)
        with np.errstate(over="ignore", invalid="ignore"):  # found by magnitude_dtype
            mean = check.moments.mean
        dtype = magnitude_dtype(check.moments.low, check.moments.high, mean, check.weight_total, self.dtype)
        if dtype != self.dtype:
            # float32 rows whose squares would leave float32's range: the fit runs
            # in float64, each chunk converted as it is read.
            X = self._source = X.astype(dtype)
            self.dtype = dtype
            if self._weight is not None:
                self._weight = client.persist(self._weight.astype(dtype))
                self._weight_parts = list(self._weight.to_delayed(optimize_graph=False).ravel())
        self.offset = mean.astype(self.dtype)
        self.mean_variance = float(np.mean(check.moments.variance))
        if persist == "auto":
            persist = self._fits_in_memory(X.nbytes + self.n_samples * self.dtype.itemsize)
        self.persisted = bool(persist)
        if self.persisted:
            self._part_futures, self._weight_futures = self._persist_centred(X)
            self._task_offset = None
            self._groups = worker_groups(client, self._part_futures)
        else:
            self._parts = list(X.to_delayed().ravel())
            self._task_offset = self.offset
            self._part_futures = self._weight_futures = self._groups = None

    def _persist_centred(self, X: Any) -> tuple[list, list]:
        """The futures of the centred chunks (with their rows' squared norms) and of
        their weights (None without weights), each chunk's on the worker
        :func:`.dask_placement.chunk_placement` gives it: a pass then runs the
        futures directly, which builds no task graph on the client."""
        client = self.client
        dask, _ = dask_modules()
        centred = client.persist([
            dask.delayed(_centre_chunk, pure=True)(x, self.offset) for x in X.to_delayed().ravel()
        ])
        parts = _chunk_futures(centred, centred)
        weights = ([None] * len(parts) if self._weight is None
                   else _chunk_futures(self._weight, self._weight_parts))
        where = holders(client, parts)
        targets = chunk_placement(where, self._row_chunks, client.nthreads())
        moves = [(parts, where)]
        if self._weight is not None:
            moves.append((weights, holders(client, weights)))
        for futures, held in moves:
            for index, (holder, target) in enumerate(zip(held, targets)):
                if holder != target:  # a copy kept on the target; the original is let go
                    futures[index] = client.submit(_held, futures[index], workers=[target],
                                                   allow_other_workers=True, pure=False)
        return parts, weights

    def __enter__(self) -> "DaskData":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._exit.close()

    def _fits_in_memory(self, nbytes: int) -> bool:
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        limits = [info.get("memory_limit") or 0 for info in workers.values()]
        if not limits or any(limit <= 0 for limit in limits):
            import psutil  # a dependency of distributed

            # No limit set: the workers share this machine's memory (LocalCluster).
            return nbytes <= PERSIST_FRACTION * psutil.virtual_memory().total
        return nbytes <= PERSIST_FRACTION * sum(limits)

    @property
    def dense_block(self) -> bool:
        """Never: the rows are chunks on the workers."""
        return False

    @property
    def keeps_results(self) -> bool:
        """Whether per-row results left on the cluster stay usable after the fit by a
        plain ``.compute()`` (the default client, not closed with the fit)."""
        return self._session.keeps_results

    @property
    def n_chunks(self) -> int:
        return len(self._row_chunks)

    def centred(self) -> "DaskData":
        """The data minus its column means: itself (its chunks are always centred)."""
        return self

    def hold_blas(self) -> contextlib.AbstractContextManager:
        """Held around a fitting loop's passes and the small products between them:
        nothing to hold here (the passes run on the workers, one thread each)."""
        return contextlib.nullcontext()

    def n_positive_weights(self) -> int:
        """Number of rows with a positive sample weight (n_samples without weights)."""
        if self._weight is None:
            return self.n_samples
        return int(self.client.compute((self._weight > 0).sum()).result())

    def reduce(self, kernel: Callable, *params: Any, merge: Callable, block_rows: int | None = None,
               state: Any = None, keep_state: bool = False, blas_in_threads: bool = False) -> Any:
        """Run ``kernel(block, *params)`` on every chunk and merge the partial results;
        see :meth:`kmix.backends.numpy.InMemoryData.reduce`.

        On persisted chunks one task per worker thread runs the chunks it holds
        (:func:`.dask_placement.worker_groups`), ``params`` going with each task
        (they are small: centres, parameters); otherwise arrays among ``params`` are
        sent to the workers once per call, in the pass's task graph. With
        ``keep_state`` the state returned is kept on the cluster: the chunks'
        ``(state, partial)``, one future per group (:class:`_GroupState`), or on
        chunks read from their source a list with one persisted delayed object per
        chunk (a list, not a dask array, so that chunks of zero rows keep their
        place). ``blas_in_threads`` does not apply (one thread per worker).
        """
        if self._part_futures is not None:
            return self._reduce_persisted(kernel, params, merge, block_rows, state, keep_state)
        states = [None] * self.n_chunks if state is None else state
        dask, _ = dask_modules()
        shared = [dask.delayed(p) if isinstance(p, np.ndarray) else p for p in params]
        offset = None if self._task_offset is None else dask.delayed(self._task_offset)
        outputs = [
            dask.delayed(_run_chunk, pure=True)(kernel, x, w, offset, s, index, block_rows, merge, shared)
            for index, (x, w, s) in enumerate(zip(self._parts, self._weight_parts, states))
        ]
        merged = _tree_reduce(outputs, merge, outputs=keep_state)
        if not keep_state:
            return self.client.compute(merged).result()
        # One submission, so each chunk's task runs once for both uses.
        *new_state, merged = self.client.persist(outputs + [merged])
        return new_state, distributed_module().futures_of(merged)[0].result()

    def _reduce_persisted(self, kernel: Callable, params: Sequence[Any], merge: Callable,
                          block_rows: int | None, state: _GroupState | None, keep_state: bool) -> Any:
        """:meth:`reduce` on the persisted chunks: one task per group, submitted on
        the chunks' futures and placed on the worker that holds them; the partial
        results merged in a tree of ``SPLIT_EVERY`` in chunk order (the first
        chunks of each run of its first level folded on their worker,
        :func:`_runs_of`, the rest on the client): the same tree whatever the
        groups, so that the result does not depend on them."""
        client = self.client
        previous = [None] * len(self._groups) if state is None else state.futures
        outputs = [
            client.submit(_run_group_task, [self._part_futures[i] for i in indices],
                          [self._weight_futures[i] for i in indices], before, indices, kernel=kernel,
                          block_rows=block_rows, merge=merge, params=list(params), pure=False,
                          workers=None if worker is None else [worker], allow_other_workers=True)
            for (worker, indices), before in zip(self._groups, previous)
        ]
        # Only the partial results travel to the client, each run's first chunks folded
        # where they are (_runs_of): the states stay with their chunks.
        travelling = [client.submit(_runs_of, output, indices, merge, self.n_chunks, keep_state, pure=False)
                      for output, (_, indices) in zip(outputs, self._groups)]
        prefixes, loose = {}, {}
        for group_prefixes, group_loose in client.gather(travelling):
            prefixes.update(group_prefixes)
            loose.update(group_loose)
        first_level = []
        for run in range(-(-self.n_chunks // SPLIT_EVERY)):
            members = range(run * SPLIT_EVERY, min((run + 1) * SPLIT_EVERY, self.n_chunks))
            count, value = prefixes[run]  # a run's first chunk is some group's
            first_level.append(functools.reduce(merge, [loose[index] for index in members[count:]], value))
        merged = _tree_reduce(first_level, merge, task=_merge_all)
        return (_GroupState(outputs), merged) if keep_state else merged

    def rows(self, state: _GroupState | list, copy: bool = True) -> Any:
        """The per-row result of a pass (its first array when the state is a tuple), as
        a dask array (n_samples,) of the chunks on the cluster; ``state`` as
        :meth:`reduce` returned it."""
        dask, da = dask_modules()
        if isinstance(state, _GroupState):
            # A future wrapped as a delayed object: the array's graph then holds it, so
            # the array keeps the chunks on the cluster (and futures_of finds it).
            groups = [dask.delayed(future) for future in state.futures]
            parts: list = [None] * self.n_chunks
            for group, (_, indices) in zip(groups, self._groups):
                for position, index in enumerate(indices):
                    parts[index] = dask.delayed(_chunk_rows, pure=True)(group, position)
        else:
            parts = [dask.delayed(_first_array, pure=True)(part) for part in state]
        arrays = [
            da.from_delayed(part, shape=(rows,), dtype=np.int32)
            for part, rows in zip(parts, self._row_chunks) if rows
        ]
        return da.concatenate(arrays)

    def final_labels(self, centers: np.ndarray, state: _GroupState | list) -> Any:
        """The fitted labels as a dask array (n,) int32.

        The labels already on the cluster when they outlive the fit; otherwise a
        lazy array that assigns the source chunks to ``centers`` (in the centred
        frame) again, with the same centring and the same kernel, so it gives the
        same labels wherever it is computed.
        """
        from ..kernels.kmeans_passes import predict_block

        if self.keeps_results:
            return self.rows(state).astype(np.int32)
        return map_rows(self._source, predict_block, self.offset,
                        np.ascontiguousarray(centers, dtype=self.dtype), dtype=np.int32)

    def sample(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``size`` distinct rows drawn with probability proportional to their weight,
        without replacement (per chunk, merged), in this data's frame and dtype, with
        their weights."""
        seed = int(rng.integers(2**63 - 1))
        sample = self.reduce(chunk_keyed_sample, seed, size, merge=functools.partial(merge_keyed, size=size))
        return sample.points.astype(self.dtype), sample.weights.astype(self.dtype)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise ValueError("this needs the data in memory, as a numpy array; it is a dask array")


# --- a fitted model on dask input: lazy results -----------------------------------------

def _map_chunk(X: np.ndarray, func: Callable, *params: Any) -> np.ndarray:
    return func(Block(X, _unit_weights(X.shape[0], X.dtype), unit_weight=False, n_threads=1), *params)


def map_rows(X: Any, func: Callable, *params: Any, dtype: Any, n_columns: int | None = None,
             blas_in_threads: bool = False) -> Any:
    """A lazy dask array of ``func(block, *params)`` over X's row chunks: one value,
    or ``n_columns`` values, per row."""
    if n_columns is None:
        return X.map_blocks(_map_chunk, func, *params, dtype=dtype, drop_axis=1,
                            meta=np.empty((0,), dtype=dtype))
    return X.map_blocks(_map_chunk, func, *params, dtype=dtype, chunks=(X.chunks[0], (n_columns,)),
                        meta=np.empty((0, 0), dtype=dtype))


def weighted_sum(values: Any, sample_weight: Any, mean: bool = False) -> float:
    """``sum w * v`` (``/ sum w`` with ``mean``) of a 1-D dask array, computed with the
    active scheduler. ``sample_weight``: None (unit weights), array-like or a dask array."""
    values = values.astype(np.float64)
    weight = aligned_weight(sample_weight, values, np.dtype(np.float64))
    if weight is None:
        return float((values.mean() if mean else values.sum()).compute())
    if not mean:
        return float((weight * values).sum().compute())
    dask, _ = dask_modules()
    total, weight_sum = dask.compute((weight * values).sum(), weight.sum())
    return float(total / weight_sum)
