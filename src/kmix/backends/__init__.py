"""Where the data lives: one data protocol, three implementations.

Every estimator and fitting loop reaches its data through a data object made by
:func:`wrap`, and never asks which backend holds it:

- :class:`kmix.backends.numpy.InMemoryData`: a numpy array; row blocks on this
  process's threads, merged in block order (results independent of the thread
  count, bit for bit);
- :class:`kmix.backends.dask.DaskData`: a dask array on a dask.distributed
  cluster; chunks on the workers, tree-reduced;
- :class:`kmix.backends.sparse.SparseData`: a scipy.sparse matrix held as CSR,
  never centred, for k-means (the block kernels run their sparse passes);
- :class:`kmix.backends.batches.BatchData`: a :class:`kmix.backends.batches.Batches`
  (arrays, .npy files or a callable), read one batch at a time on every pass,
  merged in batch order.

All have ``reduce(kernel, *params, merge=...)`` (per-block statistics, merged),
``rows(state)`` (a pass's per-row result), ``final_labels``, ``sample``,
``centred()``, ``hold_blas()``, ``n_positive_weights()`` and the attributes
``n_samples``, ``n_features``, ``dtype``, ``offset``, ``mean_variance``. Kernels
are called as ``kernel(block, *params)`` with a :class:`kmix.backends.blocks.Block`.
Per-row results of a fitted model (predict, transform, score_samples,
predict_proba) go through :func:`map_rows`, and weighted sums of them through
:func:`weighted_sum`: in memory at once, lazily on dask.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .._validation import check_sample_weight, is_batches, is_dask_array, is_sparse, magnitude_dtype

__all__ = ["wrap", "map_rows", "weighted_sum", "rows_in_range"]


def wrap(X: Any, sample_weight: Any = None, *, client: Any = None, centre: bool = False,
         compiled: bool | None = None) -> Any:
    """The data object of a validated X (see :func:`kmix._validation.check_data`).

    Parameters
    ----------
    X : ndarray or dask array (n_samples, n_features), float32 or float64, a
        scipy.sparse matrix or array (any format; held as CSR), or checked
        :class:`kmix.backends.batches.Batches` (their weights are their own)
    sample_weight : None, array-like (n_samples,) or (with a dask X) a dask array
        Checked here (in memory) or in the dask backend's first pass.
    client : where a dask array is fitted (see
        :func:`kmix.backends.dask_session.client_session`); ignored in memory
    centre : bool
        In memory, hold the rows minus their column means (k-means works in that
        frame); a dask array is always centred, as its chunks are read; sparse
        rows never are (:class:`kmix.backends.sparse.SparseData`).
    compiled : bool, optional
        In memory, whether dense passes run compiled; by default unless the data
        is small (:func:`kmix.kernels.compiled_pays`). Elsewhere they always do.

    Returns
    -------
    InMemoryData, SparseData, BatchData or DaskData, a context manager (the dask one closes
    the client session it opened on exit)
    """
    if is_dask_array(X):
        from .dask import DaskData

        return DaskData(X, sample_weight, client)
    if is_batches(X):
        from .batches import BatchData

        if sample_weight is not None:
            raise ValueError(
                "sample_weight: the weights of a kmix.Batches are given per batch, "
                "Batches(sources, sample_weight=[w0, w1, ...]); pass sample_weight=None to fit"
            )
        return BatchData(X.checked(), centre=centre)
    if _is_sparse(X):
        # Never centred: centring would fill in the zeros (see SparseData).
        from .sparse import SparseData, as_csr

        X = as_csr(X)
        return SparseData(X, check_sample_weight(sample_weight, X.shape[0], dtype=X.dtype))
    from .numpy import InMemoryData

    weight = check_sample_weight(sample_weight, X.shape[0], dtype=X.dtype)
    return InMemoryData(X, weight, centre=centre, compiled=compiled)


def _is_sparse(X: Any) -> bool:
    """True for a scipy.sparse matrix or array (one CSR can be made of)."""
    return is_sparse(X) and hasattr(X, "tocsr")


def rows_in_range(X: Any, reference: np.ndarray) -> Any:
    """A validated, finite X to be compared with a fitted model's centres or means,
    whose mean is ``reference``: X itself, X in float64 where its distances to them
    would leave float32's range, or a DataError saying how to rescale (see
    :func:`kmix._validation.magnitude_dtype`). A dask array is passed through: its
    chunks are not read before the result is computed."""
    if is_dask_array(X) or X.shape[0] == 0:
        return X
    low, high = X.min(axis=0), X.max(axis=0)
    if is_sparse(X):  # column extremes with the implicit zeros, as a sparse row
        low, high = (np.asarray(v.todense()).ravel() for v in (low, high))
    dtype = magnitude_dtype(low, high, reference, X.shape[0], X.dtype)
    return X if dtype == X.dtype else X.astype(dtype)


def map_rows(X: Any, func: Callable, *params: Any, dtype: Any, n_columns: int | None = None,
             blas_in_threads: bool = False) -> Any:
    """``func(block, *params)`` over the rows of a validated X: one value, or
    ``n_columns`` values, per row. An ndarray for in-memory X (computed on all
    threads; a scipy.sparse X reaches ``func`` as CSR rows), a lazy dask array for
    a dask X."""
    if is_dask_array(X):
        from .dask import map_rows as dask_map_rows

        return dask_map_rows(X, func, *params, dtype=dtype, n_columns=n_columns)
    if _is_sparse(X):
        from .sparse import map_rows as sparse_map_rows

        return sparse_map_rows(X, func, *params, dtype=dtype, n_columns=n_columns,
                               blas_in_threads=blas_in_threads)
    from .numpy import map_rows as numpy_map_rows

    return numpy_map_rows(X, func, *params, dtype=dtype, n_columns=n_columns,
                          blas_in_threads=blas_in_threads)


def weighted_sum(values: Any, sample_weight: Any = None, *, mean: bool = False) -> float:
    """``sum w * v`` of per-row values (``/ sum w`` with ``mean``), as a float;
    on dask computed with the active scheduler."""
    if is_dask_array(values):
        from .dask import weighted_sum as dask_weighted_sum

        return dask_weighted_sum(values, sample_weight, mean=mean)
    weight = check_sample_weight(sample_weight, values.shape[0], dtype=np.float64)
    total = float(np.dot(weight, values.astype(np.float64)))
    return total / float(weight.sum()) if mean else total
