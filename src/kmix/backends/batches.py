"""Data that arrives in batches: exact fits over batches never held together.

:class:`Batches` names the batches (2-D arrays, ``.npy`` files read memory-mapped
one at a time, or a callable giving a fresh iterator of arrays for every pass) and
their optional per-batch sample weights. A fit takes it in place of X:

- :func:`kmix._validation.check_data` makes the checking pass
  (:meth:`Batches.checked`): every batch's shape, dtype and values, its weights,
  and the column moments of all rows, merged in batch order;
- :func:`kmix.backends.wrap` makes :class:`BatchData`, the data protocol over the
  checked batches (the methods of :class:`kmix.backends.numpy.InMemoryData`):
  each ``reduce`` reads the batches one after the other, runs the kernel on each
  (on all threads, or on its row blocks) and merges the partial results in batch
  order. Only one batch is in memory at a time; a kernel's per-row state (the
  labels of the last Lloyd pass, the distances of k-means||) is kept per batch.

Operations that need every row at once (greedy k-means++ seeding) raise a
ValueError naming an initialisation that works over batches (k-means||, random).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .._validation import magnitude_dtype, nonfinite_message
from ..exceptions import DataError
from ..kernels.kmeans_parallel import chunk_keyed_sample, merge_keyed
from ..kernels.moments import ColumnMoments, column_moments, merge_column_moments
from .blocks import Block, row_blocks
from .threads import n_threads, one_blas_thread, reduce_blocks, start_compiled_threads

__all__ = ["Batches", "CheckedBatches", "BatchData"]

_PATH_TYPES = (str, bytes, os.PathLike)


def _name(index: int, item: Any) -> str:
    """How messages name a batch: its index, and its file when it is one."""
    if isinstance(item, _PATH_TYPES):
        return f"batch {index} ({os.fsdecode(item)})"
    return f"batch {index}"


def _load(item: Any, where: str) -> Any:
    """A batch (or its weights) as an array: a path read memory-mapped, never unpickled."""
    if isinstance(item, _PATH_TYPES):
        try:
            loaded = np.load(item, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"{where}: cannot be read as a .npy file: {exc}") from None
        if not isinstance(loaded, np.ndarray):
            loaded.close()
            raise DataError(f"{where}: is an .npz archive, not a .npy file of one array")
        return loaded
    return np.asarray(item)


class Batches:
    """Rows that arrive in batches, for an exact fit that reads them one at a time.

    Pass it as X to ``KMeans.fit`` or ``GaussianMixture.fit``: every iteration
    reads the batches once, in order, and the fit equals the in-memory fit of
    all the rows stacked (to rounding), from the same start.

    Parameters
    ----------
    sources : sequence of 2-D arrays or .npy paths (str or Path), or a callable
        The batches, all with the same number of columns. Paths are loaded with
        ``np.load(path, mmap_mode="r", allow_pickle=False)`` one at a time. A
        callable is called once per pass and must return a fresh iterator of
        2-D arrays, the same batches every time. A batch of zero rows is skipped.
    sample_weight : None or sequence of (None, 1-D arrays or .npy paths), optional
        One entry per batch (None: unit weights), each with one non-negative
        weight per row of its batch.

    Notes
    -----
    Greedy k-means++ needs every row at once: over batches, KMeans starts by
    default from k-means|| (``init="auto"``), and GaussianMixture's
    ``init_params="kmeans"`` runs it; "random", "random_from_data" and given
    centres or parameters work as well. ``labels_`` of a KMeans fitted on
    batches is an ndarray of every row's label, in batch order.
    """

    _kmix_batches = True

    def __init__(self, sources: Sequence[Any] | Callable[[], Any], sample_weight: Sequence[Any] | None = None
                 ) -> None:
        if isinstance(sources, (np.ndarray, *_PATH_TYPES)) or not (
                callable(sources) or isinstance(sources, Sequence)):
            raise ValueError(
                "sources must be a sequence of 2-D arrays or .npy paths, or a callable that "
                f"returns an iterator of 2-D arrays; got {type(sources).__name__}"
            )
        self.sources = sources if callable(sources) else list(sources)
        if sample_weight is not None:
            if isinstance(sample_weight, (np.ndarray, *_PATH_TYPES)) or not isinstance(sample_weight, Sequence):
                raise ValueError(
                    "sample_weight of Batches must be a sequence with one 1-D array (or None) per "
                    f"batch; got {type(sample_weight).__name__}"
                )
            sample_weight = list(sample_weight)
            if not callable(sources) and len(sample_weight) != len(self.sources):
                raise ValueError(
                    f"sample_weight has {len(sample_weight)} entries but there are "
                    f"{len(self.sources)} batches"
                )
        self.sample_weight = sample_weight

    def __repr__(self) -> str:
        what = "a callable" if callable(self.sources) else f"{len(self.sources)} batches"
        weights = "" if self.sample_weight is None else ", weighted"
        return f"Batches({what}{weights})"

    def raw(self) -> Iterator[tuple[int, str, Any]]:
        """``(index, name, array)`` of every batch, read now (a path memory-mapped).

        The caller drops each array before asking for the next: nothing here
        keeps a reference to a batch once it has been handed out.
        """
        items = iter(self.sources()) if callable(self.sources) else iter(self.sources)
        index = 0
        for item in items:
            where = _name(index, item)
            array = _load(item, where)
            yield index, where, array
            # Neither the array nor the source's item outlives its turn: the next
            # batch is read only once this one can be freed.
            del array, item
            index += 1

    def weights_of(self, index: int, n_rows: int, dtype: Any) -> np.ndarray | None:
        """The weights of batch ``index`` as given (None: unit weights), checked for
        their shape and type."""
        if self.sample_weight is None or index >= len(self.sample_weight) or self.sample_weight[index] is None:
            return None
        where = f"sample_weight of {_name(index, self.sample_weight[index])}"
        weight = _load(self.sample_weight[index], where)
        if weight.dtype.kind not in "biuf":
            raise ValueError(f"{where}: must hold numbers, got an array of {weight.dtype}")
        if weight.ndim != 1 or weight.shape[0] != n_rows:
            raise ValueError(
                f"{where}: has shape {weight.shape} but the batch has {n_rows} rows "
                f"(expected a 1-D array of {n_rows})"
            )
        return np.ascontiguousarray(weight, dtype=dtype)

    def checked(self) -> "CheckedBatches":
        """One pass over the batches that checks them (see :class:`CheckedBatches`)."""
        return CheckedBatches(self)


def _check_shape(array: Any, where: str, n_features: int | None) -> None:
    if array.dtype.kind == "c":
        raise DataError(f"{where}: is complex (Complex data not supported: kmix works on real numbers)")
    if array.dtype.kind not in "fiub":
        raise DataError(f"{where}: has dtype {array.dtype}, which is not numeric")
    if array.ndim != 2:
        raise DataError(
            f"{where}: must be a 2-D array (n_samples, n_features), got {array.ndim}-D "
            f"with shape {array.shape}"
        )
    if n_features is not None and array.shape[1] != n_features:
        raise DataError(
            f"{where}: has {array.shape[1]} columns but the batches before it have {n_features}"
        )


class CheckedBatches:
    """Batches after their checking pass: what a fit needs to know before its first
    iteration, with no batch kept.

    The pass checks every batch (2-D, numeric, the same number of columns, no NaN
    or inf) and its weights (1-D, one per row, finite, non-negative), and merges
    the column moments of all the rows (centring offset, variance, range).

    Attributes
    ----------
    batches : Batches
    shape : (n_samples, n_features)
    dtype : float32 when every batch is float32, else float64
    batch_rows : list of int, the rows of each batch
    moments : ColumnMoments of all rows
    weight_total : float; n_positive : int (rows of positive weight)
    """

    _kmix_batches = True

    def __init__(self, batches: Batches) -> None:
        self.batches = batches
        n_features: int | None = None
        rows: list[int] = []
        moments: ColumnMoments | None = None
        all_float32 = True
        for index, where, array in batches.raw():
            _check_shape(array, where, n_features)
            n_features = array.shape[1]
            rows.append(array.shape[0])
            all_float32 = all_float32 and array.dtype == np.float32
            if array.shape[0] == 0:
                del array
                continue
            part = column_moments(array, compiled=array.dtype in (np.float32, np.float64))
            if not np.isfinite(part.sums).all():
                bad = ~np.isfinite(np.asarray(array, dtype=np.float64))
                if bad.any():
                    first = int(np.flatnonzero(bad.any(axis=1))[0])
                    raise DataError(nonfinite_message(f"{where}: ", int(bad.sum()), first))
            moments = part if moments is None else merge_column_moments(moments, part)
            del array, part
        if moments is None:
            raise DataError(
                f"the batches hold no rows: all {len(rows)} batch(es) are empty"
                if rows else "there are no batches: Batches needs at least one with rows"
            )
        weights = batches.sample_weight
        if weights is not None and len(weights) != len(rows):
            raise ValueError(f"sample_weight has {len(weights)} entries but there are {len(rows)} batches")
        self.batch_rows = rows
        self.shape = (int(sum(rows)), int(n_features))
        self.dtype = np.dtype(np.float32 if all_float32 else np.float64)
        self.moments = moments
        self.weight_total, self.n_positive = self._check_weights()

    def _check_weights(self) -> tuple[float, int]:
        total, positive = 0.0, 0
        for index, n_rows in enumerate(self.batch_rows):
            weight = self.batches.weights_of(index, n_rows, np.float64)
            if weight is None:
                total, positive = total + n_rows, positive + n_rows
                continue
            where = f"sample_weight of batch {index}"
            if not np.isfinite(weight).all():
                raise ValueError(f"{where}: contains NaN or inf")
            negative = np.flatnonzero(weight < 0)
            if negative.size:
                raise ValueError(
                    f"{where}: must be non-negative; {negative.size} negative value(s), first at "
                    f"index {int(negative[0])} of the batch"
                )
            total += float(np.sum(weight))
            positive += int(np.count_nonzero(weight > 0))
        if positive == 0:
            raise ValueError("sample_weight is all zero: at least one sample needs a positive weight")
        return total, positive

    def checked(self) -> "CheckedBatches":
        return self

    def __repr__(self) -> str:
        return f"CheckedBatches({self.batches!r}, shape={self.shape})"


class BatchData:
    """The data protocol over checked batches, read one at a time on every pass.

    Parameters
    ----------
    checked : CheckedBatches
    centre : bool
        Rows minus their column means, as each batch is read (k-means works in
        that frame, as in memory).
    threads : int, optional
        Threads for a kernel on one batch (default
        :func:`kmix.backends.threads.n_threads`).

    Attributes
    ----------
    offset : ndarray (n_features,), the fit's dtype: what is subtracted (zeros
        unless centred)
    mean_variance : float, the variance of the data averaged over the features
    n_samples, n_features, shape, dtype, n_threads, n_batches
    """

    def __init__(self, checked: CheckedBatches, *, centre: bool = False, threads: int | None = None) -> None:
        self.checked = checked
        self.n_samples, self.n_features = self.shape = checked.shape
        self.n_batches = len(checked.batch_rows)
        self.n_threads = n_threads() if threads is None else threads
        start_compiled_threads()
        moments = checked.moments
        with np.errstate(over="ignore", invalid="ignore"):  # found by magnitude_dtype
            mean = moments.mean
        offset = mean if centre else np.zeros(self.n_features)
        # float32 rows whose squares would leave float32's range: the fit runs in
        # float64, each batch converted as it is read.
        self.dtype = magnitude_dtype(moments.low, moments.high, offset, checked.weight_total, checked.dtype)
        self.offset = offset.astype(self.dtype)
        self.mean_variance = float(np.mean(moments.variance))
        self._is_centred = centre
        self._twin: BatchData | None = None

    def __enter__(self) -> "BatchData":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    @property
    def keeps_results(self) -> bool:
        """Per-row results of a pass stay valid after the fit (they are in this process)."""
        return True

    @property
    def dense_block(self) -> bool:
        """Never: no kernel sees all the rows at once."""
        return False

    def n_positive_weights(self) -> int:
        return self.checked.n_positive

    def hold_blas(self) -> contextlib.AbstractContextManager:
        """BLAS on one thread around a loop's passes, as in memory (see
        :meth:`kmix.backends.numpy.InProcessData.hold_blas`)."""
        return one_blas_thread()

    def centred(self) -> "BatchData":
        """The same batches minus their column means (each batch centred as it is read)."""
        if self._is_centred:
            return self
        if self._twin is None:
            self._twin = BatchData(self.checked, centre=True, threads=self.n_threads)
        return self._twin

    def _blocks(self, states: list | None) -> Iterator[Block]:
        """The non-empty batches as Blocks in this data's frame, one at a time. The
        caller drops each block before asking for the next."""
        batches, rows = self.checked.batches, self.checked.batch_rows
        n_read = 0
        for index, where, array in batches.raw():
            n_read += 1
            if index >= len(rows) or array.ndim != 2 or array.shape != (rows[index], self.n_features):
                expected = "no batch" if index >= len(rows) else f"shape {(rows[index], self.n_features)}"
                raise DataError(
                    f"{where}: has shape {getattr(array, 'shape', None)} on this pass but {expected} on "
                    "the first: the source must give the same batches on every pass"
                )
            if rows[index] == 0:
                del array
                continue
            # A memory-mapped (read-only) batch is read into memory: the compiled
            # kernels take writeable arrays, and the file is then read once a pass.
            X = (np.ascontiguousarray(array, dtype=self.dtype) if array.flags.writeable
                 else np.array(array, dtype=self.dtype, order="C"))
            del array
            if self._is_centred:
                X = X - self.offset
            weight = batches.weights_of(index, rows[index], self.dtype)
            unit = weight is None
            if unit:
                weight = np.ones(rows[index], dtype=self.dtype)
            block = Block(X, weight, unit_weight=True if unit else None,
                          state=None if states is None else states[index], index=index,
                          n_threads=self.n_threads, owns_state=True)
            del X, weight
            yield block
            del block
        if n_read != len(rows):
            raise DataError(
                f"the source gave {n_read} batches on this pass but {len(rows)} on the first: "
                "it must give the same batches on every pass"
            )

    def reduce(self, kernel: Callable, *params: Any, merge: Callable, block_rows: int | None = None,
               state: Any = None, keep_state: bool = False, blas_in_threads: bool = False) -> Any:
        """Run ``kernel(block, *params)`` on every batch (all threads; or on its blocks
        of ``block_rows`` rows, on a pool of threads) and merge the partial results in
        batch order; see :meth:`kmix.backends.numpy.InProcessData.reduce`.

        With ``keep_state`` the state returned is a list with one kernel state per
        batch (None for an empty batch), to be passed back as ``state``.
        """
        if block_rows is not None and (keep_state or state is not None):
            raise ValueError("per-row state needs block_rows=None")
        new_state: list = [None] * self.n_batches
        merged: Any = None
        first = True
        for block in self._blocks(state):
            if block_rows is None:
                with one_blas_thread(blas_in_threads):
                    output = kernel(block, *params)
            else:
                whole = block
                output = reduce_blocks(lambda rows: kernel(whole.rows(rows), *params),
                                       row_blocks(whole.X.shape[0], block_rows), merge, self.n_threads)
                del whole
            if keep_state:
                new_state[block.index], output = output
            merged = output if first else merge(merged, output)
            first = False
            del block, output
        return (new_state, merged) if keep_state else merged

    def rows(self, state: list, copy: bool = True) -> np.ndarray:
        """The per-row result of a pass (its first array when a batch's state is a
        tuple) of every row, in batch order, as one ndarray."""
        parts = [s[0] if isinstance(s, tuple) else s for s in state if s is not None]
        return np.concatenate(parts)

    def final_labels(self, centers: np.ndarray, state: list) -> np.ndarray:
        """The labels of the last pass, int32 (as scikit-learn's), in batch order."""
        return self.rows(state).astype(np.int32, copy=False)

    def sample(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``size`` distinct rows drawn with probability proportional to their weight,
        without replacement (per batch, merged), in this data's frame and dtype, with
        their weights."""
        seed = int(rng.integers(2**63 - 1))
        sample = self.reduce(chunk_keyed_sample, seed, size, merge=functools.partial(merge_keyed, size=size))
        return sample.points.astype(self.dtype), sample.weights.astype(self.dtype)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise ValueError(
            "this needs every row in memory at once, and the data is a kmix.Batches: stack the "
            "batches into one array, or choose an initialisation that works over batches"
        )
