"""The in-memory backend: a numpy array, its row blocks on this process's threads.

:class:`InMemoryData` is the data protocol over an in-memory array (the dask
backend's :class:`kmix.backends.dask.DaskData` has the same methods):

- ``reduce(kernel, *params, merge=..., block_rows=...)``: per-block statistics,
  merged in block order. With ``block_rows=None`` the kernel gets the whole array
  and all threads (a compiled pass that splits the rows itself, in fixed chunks);
  with an int, blocks of that many rows run on a pool of threads, one thread each.
  Either way the result does not depend on the number of threads, bit for bit.
- ``rows(state)``: per-row results of a pass (labels) as the user gets them.
- ``sample(size, rng)``, ``arrays()``, ``centred()``, ``hold_blas()``: see each.

Per-row results of a fitted model (predict, transform, ...) go through
:func:`map_rows`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import check_finite, magnitude_dtype
from ..kernels import compiled_pays
from ..kernels.moments import centered, column_ranges
from ..kernels.seeding import random_points
from .blocks import Block, row_blocks
from .threads import n_threads, one_blas_thread, reduce_blocks, start_compiled_threads

__all__ = ["InProcessData", "InMemoryData", "map_rows"]


class InProcessData:
    """The passes of a data object whose rows are in this process (a numpy array,
    or a scipy.sparse matrix: :class:`kmix.backends.sparse.SparseData`): kernels on
    all threads or on row blocks, merged in order. A subclass sets ``X``,
    ``sample_weight``, ``x_norms``, ``unit_weight``, ``n_samples`` and ``n_threads``."""

    def __enter__(self) -> "InProcessData":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    @property
    def keeps_results(self) -> bool:
        """Per-row results of a pass stay valid after the fit (always, in memory)."""
        return True

    @property
    def dense_block(self) -> bool:
        """All rows are one dense block in this process: a kernel given the whole
        block (``block_rows=None``) may run a fitting loop's every iteration itself."""
        return isinstance(self.X, np.ndarray)

    def n_positive_weights(self) -> int:
        """Rows with a positive sample weight."""
        return int(np.count_nonzero(self.sample_weight > 0))

    def hold_blas(self) -> contextlib.AbstractContextManager:
        """Held around a fitting loop's passes and the small products between them:
        BLAS on one thread, so that no BLAS worker left spinning after a product on
        several threads takes a core from the next pass (see :mod:`.threads`)."""
        return one_blas_thread()

    # Whether dense passes run compiled; small in-memory data sets it False.
    compiled = True

    def _whole(self, state: Any = None) -> Block:
        return Block(self.X, self.sample_weight, x_norms=self.x_norms, unit_weight=self.unit_weight,
                     state=state, index=0, n_threads=self.n_threads, owns_state=True,
                     compiled=self.compiled)

    def reduce(self, kernel: Callable, *params: Any, merge: Callable, block_rows: int | None = None,
               state: Any = None, keep_state: bool = False, blas_in_threads: bool = False) -> Any:
        """Run ``kernel(block, *params)`` over the rows and merge the partial results.

        Parameters
        ----------
        kernel : per-block function; returns a partial result, or ``(state, partial)``
            with ``keep_state``
        merge : ``merge(a, b)`` of two partial results (associative; order is kept)
        block_rows : None (one call over all rows, on all threads) or rows per block
            (blocks on a pool of threads, one each, BLAS held to one thread)
        state : the per-row state an earlier ``keep_state`` call returned, or None
        keep_state : return ``(state, merged)``: the kernel's per-row state is kept
            for a later pass
        blas_in_threads : the kernel calls BLAS from its own threads (``block_rows``
            None): BLAS is then held to one thread while it runs

        Returns
        -------
        merged, or (state, merged)
        """
        if block_rows is None:
            with one_blas_thread(blas_in_threads):
                return kernel(self._whole(state), *params)
        if keep_state or state is not None:
            raise ValueError("per-row state needs block_rows=None")
        whole = self._whole()
        return reduce_blocks(lambda rows: kernel(whole.rows(rows), *params),
                             row_blocks(self.n_samples, block_rows), merge, self.n_threads)

    def rows(self, state: Any, copy: bool = True) -> np.ndarray:
        """The per-row result of a pass (its first array when the state is a tuple), as
        the user gets it: a copy unless ``copy`` is False (the loop owns the original)."""
        values = state[0] if isinstance(state, tuple) else state
        return values.copy() if copy else values

    def final_labels(self, centers: np.ndarray, state: Any) -> np.ndarray:
        """The labels of the last pass, int32 (as scikit-learn's): the pass's own
        array when it is int32 already (the fit is over, nothing else holds it)."""
        return self.rows(state, copy=False).astype(np.int32, copy=False)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(X, sample_weight, x_norms) as kernels see them (x_norms None unless centred)."""
        return self.X, self.sample_weight, self.x_norms


class InMemoryData(InProcessData):
    """A validated in-memory array and its sample weights, for passes over its rows.

    Parameters
    ----------
    X : ndarray (n_samples, n_features), float32 or float64, validated
    sample_weight : ndarray (n_samples,), X's dtype, validated
    centre : bool
        Hold the rows minus their column means (k-means works in that frame:
        distances through ``||x||² - 2x·c + ||c||²`` lose less to cancellation).
    threads : int, optional
        Threads for its passes (default: :func:`kmix.backends.threads.n_threads`).
    compiled : bool, optional
        Run the compiled passes (True) or the numpy entry points (False); by
        default, compiled unless the data is small (:func:`kmix.kernels.compiled_pays`).

    Attributes
    ----------
    X : ndarray, the rows as kernels see them (centred when ``centre``)
    sample_weight : ndarray (n_samples,)
    offset : ndarray (n_features,), X's dtype: what was subtracted (zeros if not centred)
    mean_variance : float, the variance of the data averaged over the features
        (only when centred; None otherwise)
    n_samples, n_features, dtype, n_threads
    unit_weight : bool, every weight is 1
    compiled : bool
    """

    def __init__(self, X: np.ndarray, sample_weight: np.ndarray, *, centre: bool = False,
                 threads: int | None = None, compiled: bool | None = None) -> None:
        self.compiled = compiled_pays(*X.shape) if compiled is None else bool(compiled)
        total_weight = float(np.sum(sample_weight, dtype=np.float64))
        low, high, sums_finite = self._prepare(X, sample_weight, threads, centre)
        # The column sums and ranges find NaN and inf (a pass of its own over X only
        # when there are some, for the message); the ranges bound the kernels' numbers.
        if not (sums_finite and np.isfinite(low).all() and np.isfinite(high).all()):
            check_finite(X)
        dtype = magnitude_dtype(low, high, self.offset, total_weight, X.dtype)
        if dtype != X.dtype:
            # float32 rows whose squares would leave float32's range: the fit runs
            # in float64 (its results are float64 too).
            self._prepare(X.astype(dtype), sample_weight.astype(dtype), threads, centre)

    def _prepare(self, X: np.ndarray, sample_weight: np.ndarray, threads: int | None,
                 centre: bool) -> tuple[np.ndarray, np.ndarray, bool]:
        """Hold X (centred when ``centre``); return its column minima and maxima
        (float64) and whether its column sums are finite, taken in the centring pass
        when there is one."""
        self._hold(X, sample_weight, threads, centred=centre)
        if centre:
            low, high = self._centre_from(X)
            return low, high, bool(np.isfinite(self.offset).all())
        self.X, self.offset, self.x_norms, self.mean_variance = X, np.zeros(X.shape[1], X.dtype), None, None
        sums, low, high = column_ranges(X, n_threads=self.n_threads, compiled=self.compiled)
        return low, high, bool(np.isfinite(sums).all())

    @classmethod
    def of_centred(cls, X: np.ndarray, sample_weight: np.ndarray, x_norms: np.ndarray) -> "InMemoryData":
        """Data already centred (and checked), with its rows' squared norms."""
        data = cls.__new__(cls)
        data._hold(X, sample_weight, None, centred=True)
        data.X, data.offset, data.x_norms, data.mean_variance = X, np.zeros(X.shape[1], X.dtype), x_norms, None
        return data

    def _hold(self, X: np.ndarray, sample_weight: np.ndarray, threads: int | None, centred: bool) -> None:
        self.n_threads = n_threads() if threads is None else threads
        if self.compiled:
            start_compiled_threads()
        self._source = X
        self.sample_weight = sample_weight
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.unit_weight = bool(np.all(sample_weight == 1))
        # The centred twin of uncentred data, made on first use. A centred object
        # holds no reference to itself, so it is freed as soon as the fit drops it.
        self._is_centred = centred
        self._twin: InMemoryData | None = None

    def _centre_from(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hold X less its column means; return X's column minima and maxima."""
        with np.errstate(over="ignore", invalid="ignore"):  # found by magnitude_dtype
            centred = centered(X, n_threads=self.n_threads, compiled=self.compiled)
        self.X, self.offset, self.x_norms, self.mean_variance = centred[:4]
        return centred.low, centred.high

    def centred(self) -> "InMemoryData":
        """The same data minus its column means (made once, then kept)."""
        if self._is_centred:
            return self
        if self._twin is None:
            twin = InMemoryData.__new__(InMemoryData)
            twin.__dict__.update(self.__dict__)
            twin._centre_from(self._source)
            twin._is_centred = True
            twin._twin = None
            self._twin = twin
        return self._twin

    def sample(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``size`` distinct rows drawn with probability proportional to their weight,
        without replacement, in this data's frame and dtype, with their weights."""
        indices = random_points(self.X, size, rng, self.sample_weight)
        return self.X[indices], self.sample_weight[indices]

def map_rows(X: np.ndarray, func: Callable, *params: Any, dtype: Any, n_columns: int | None = None,
             blas_in_threads: bool = False) -> np.ndarray:
    """``func(block, *params)`` of the whole of X, on all of this process's threads:
    one value, or ``n_columns`` values, per row of X (predictions, distances).
    ``dtype`` and ``n_columns`` describe the result for the dask twin of this
    function, which must declare them before computing; here the result says it
    itself. ``blas_in_threads``: as for :meth:`InMemoryData.reduce`."""
    compiled = compiled_pays(*X.shape)
    if compiled:
        start_compiled_threads()
    block = Block(X, np.ones(X.shape[0], dtype=X.dtype), unit_weight=False, n_threads=n_threads(),
                  compiled=compiled)
    with one_blas_thread(blas_in_threads):
        return func(block, *params)
