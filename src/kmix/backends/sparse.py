"""The in-memory backend for sparse rows: a scipy.sparse matrix or array, held as CSR.

:class:`SparseData` is the data protocol of :class:`kmix.backends.numpy.InMemoryData`
over a sparse X (TF-IDF, one-hot and other mostly-zero matrices), for k-means. Its
rows are never centred: centring would fill in every zero. So ``offset`` is zeros,
``centred()`` is the object itself, and the kernels compute distances as
``||x||² - 2 x·c + ||c||²`` from the rows' squared norms, computed once here. The
block kernels of :mod:`kmix.kernels.kmeans_passes` see a sparse ``block.X`` and run
the sparse passes of :mod:`kmix.kernels.kmeans_sparse`.

:func:`as_csr` turns any scipy.sparse input into the CSR form every kernel reads;
:func:`map_rows` runs a per-row kernel (predict, transform, score) over it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import _check_shape, magnitude_dtype, nonfinite_message
from ..exceptions import DataError
from ..kernels.kmeans_sparse import column_summary, squared_norms
from ..kernels.seeding import random_points
from .blocks import Block
from .numpy import InProcessData
from .threads import n_threads, one_blas_thread, start_compiled_threads

__all__ = ["SparseData", "as_csr", "check_finite_sparse", "map_rows"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def as_csr(X: Any, *, where: str = "X ") -> Any:
    """A scipy.sparse X in the form the sparse kernels read: CSR (a matrix stays a
    matrix, an array an array), canonical (sorted column indices, no duplicate
    entries: duplicates are added up), float32 or float64 as given and any other
    real type as float64. X itself when it is already so; otherwise a new object
    (the caller's X is never changed).

    Raises
    ------
    DataError
        Not 2-D, no rows or no columns, complex or non-numeric values (``where``
        names X in the message: ``"X "`` or ``"path: "``).
    """
    _check_shape(tuple(int(size) for size in X.shape), where, 1, 1)
    dtype = np.dtype(X.dtype)
    if dtype.kind == "c":
        raise DataError(f"{where}is complex (Complex data not supported: kmix works on real numbers)")
    if dtype.kind not in "fiub":
        raise DataError(f"{where}has dtype {dtype}, which is not numeric")
    owned = False
    if X.format != "csr":
        X = X.tocsr()
        owned = True
    if dtype not in _FLOATS:
        X = X.astype(np.float64)
        owned = True
    if not X.has_canonical_format:
        if not owned:
            X = X.copy()
        X.sum_duplicates()  # sorts the indices too
    return X


def check_finite_sparse(X: Any, *, where: str = "X ") -> None:
    """Raise the DataError of dense data (:func:`kmix._validation.nonfinite_message`:
    the count, the first row) if a stored value of the CSR X is NaN or inf."""
    with np.errstate(over="ignore", invalid="ignore"):
        total = X.data.sum(dtype=np.float64)
    if np.isfinite(total):  # every term finite (one pass, no temporary)
        return
    bad = ~np.isfinite(X.data)
    if bad.any():
        first = int(np.searchsorted(X.indptr, int(np.argmax(bad)), side="right")) - 1
        raise DataError(nonfinite_message(where, int(np.count_nonzero(bad)), first))


class SparseData(InProcessData):
    """A sparse X (scipy.sparse, any format) and its sample weights, for passes over
    its rows; the methods and attributes of :class:`kmix.backends.numpy.InMemoryData`.

    Parameters
    ----------
    X : scipy.sparse matrix or array (n_samples, n_features)
        Turned into canonical CSR once (:func:`as_csr`); float32 stays float32
        unless its squared distances would leave float32's range (then float64,
        as for dense data; float64 data whose squares would overflow is refused).
    sample_weight : ndarray (n_samples,), validated
    threads : int, optional
        Threads for its passes (default: :func:`kmix.backends.threads.n_threads`).

    Attributes
    ----------
    X : the CSR rows as kernels see them (never centred)
    sample_weight : ndarray (n_samples,), X's dtype
    x_norms : ndarray (n_samples,), X's dtype: squared norms of the rows
    offset : ndarray (n_features,) of zeros, X's dtype
    mean_variance : float, the variance of the columns averaged over the features
        (from the column sums and sums of squares, float64)
    n_samples, n_features, dtype, n_threads
    unit_weight : bool, every weight is 1
    """

    def __init__(self, X: Any, sample_weight: np.ndarray, *, threads: int | None = None) -> None:
        X = as_csr(X)
        self.n_threads = n_threads() if threads is None else threads
        start_compiled_threads()
        # One pass over the stored values finds NaN and inf and gives the columns'
        # ranges (implicit zeros included), which bound the kernels' numbers, and
        # their moments.
        summary = column_summary(X)
        if summary.first_nonfinite >= 0:
            raise DataError(nonfinite_message("X ", summary.n_nonfinite, summary.first_nonfinite))
        sample_weight = np.ascontiguousarray(sample_weight, dtype=X.dtype)
        total_weight = float(np.sum(sample_weight, dtype=np.float64))
        dtype = magnitude_dtype(summary.low, summary.high, np.zeros(X.shape[1]), total_weight, X.dtype)
        if dtype != X.dtype:
            # float32 rows whose squares would leave float32's range: the fit runs
            # in float64 (its results are float64 too).
            X = X.astype(dtype)
            sample_weight = sample_weight.astype(dtype)
        self.X = X
        self.sample_weight = sample_weight
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.offset = np.zeros(self.n_features, dtype=self.dtype)
        self.x_norms = squared_norms(X, n_threads=self.n_threads)
        self.mean_variance = summary.mean_variance(self.n_samples)
        self.unit_weight = bool(np.all(sample_weight == 1))

    def centred(self) -> "SparseData":
        """Itself: sparse rows are never centred (that would fill in the zeros)."""
        return self

    def sample(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``size`` distinct rows drawn with probability proportional to their weight,
        without replacement, as a dense array in X's dtype, with their weights."""
        indices = random_points(self.X, size, rng, self.sample_weight)
        return self.X[indices].toarray(), self.sample_weight[indices]


def map_rows(X: Any, func: Callable, *params: Any, dtype: Any, n_columns: int | None = None,
             blas_in_threads: bool = False) -> np.ndarray:
    """``func(block, *params)`` of a sparse X (any scipy.sparse format; NaN and inf
    refused), on all of this process's threads: one value, or ``n_columns`` values,
    per row. ``dtype``, ``n_columns`` and ``blas_in_threads`` as for
    :func:`kmix.backends.numpy.map_rows`."""
    X = as_csr(X)
    check_finite_sparse(X)
    start_compiled_threads()
    block = Block(X, np.ones(X.shape[0], dtype=X.dtype), unit_weight=False, n_threads=n_threads())
    with one_blas_thread(blas_in_threads):
        return func(block, *params)

