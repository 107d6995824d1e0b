"""The one place where user input becomes a checked array, or a clear error.

Functions here never compute anything beyond what checking needs; kernels assume
their inputs went through them.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from . import exceptions
from ._typing import is_sparse
from .exceptions import DataError, MissingDependencyError

__all__ = [
    "check_array",
    "distinct_rows_below",
    "check_finite",
    "check_random_state",
    "check_sample_weight",
    "check_int",
    "check_float",
    "check_choice",
    "check_is_fitted",
    "check_n_features",
    "check_dask_array",
    "is_dask_array",
    "is_batches",
    "nonfinite_message",
    "magnitude_dtype",
    "sample_weight_problem",
    "require",
]

_FLOAT_DTYPES = (np.float64, np.float32)


class _DataTypeError(DataError, TypeError):
    """Data whose cells are not numbers at all (also a TypeError, as numpy raises)."""


def _where(source: str | None, name: str) -> str:
    return f"{source}: " if source else f"{name} "


def is_dask_array(X: Any) -> bool:
    """True for a dask array, without importing dask."""
    return type(X).__module__.startswith("dask.") and hasattr(X, "chunks")


def is_batches(X: Any) -> bool:
    """True for a :class:`kmix.backends.batches.Batches` (checked or not), without
    importing it."""
    return getattr(type(X), "_kmix_batches", False) is True


def check_array(
    X: Any,
    *,
    dtype: Any = "numeric",
    name: str = "X",
    source: str | None = None,
    ensure_2d: bool = True,
    min_samples: int = 1,
    min_features: int = 1,
    copy: bool = False,
    finite: bool = True,
) -> np.ndarray:
    """Turn ``X`` into a checked, C-contiguous 2-D float array.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Input data.
    dtype : "numeric", numpy dtype or tuple of dtypes
        ``"numeric"`` keeps float32 and float64 as they are and turns anything else
        into float64; a tuple keeps the dtypes it lists and converts others to its
        first; a single dtype converts to it.
    name : str
        How the array is called in error messages.
    source : str, optional
        A file or dataset name to put at the front of error messages.
    ensure_2d : bool
        Require exactly two dimensions.
    min_samples, min_features : int
        Smallest allowed number of rows and of columns.
    copy : bool
        Always return a new array.
    finite : bool
        Check for NaN and inf. A caller that passes False must call
        :func:`check_finite` before using the values (``KMeans.fit`` does when the
        column sums it computes anyway are not finite: a NaN or inf in a column
        makes its sum NaN or inf).

    Returns
    -------
    ndarray of shape (n_samples, n_features), float32 or float64, C-contiguous

    Raises
    ------
    DataError
        Naming the source and the problem: complex or non-numeric cells, wrong
        number of dimensions, too few rows or columns, NaN or inf (with their count
        and the first row holding one).
    """
    where = _where(source, name)
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise DataError(f"{where}sparse input is not supported: pass a dense array (X.toarray())")
    if dtype == "numeric":
        targets: tuple = _FLOAT_DTYPES
    elif isinstance(dtype, tuple):
        targets = tuple(np.dtype(d).type for d in dtype)
    else:
        targets = (np.dtype(dtype).type,)
    try:
        X = np.asarray(X)
    except Exception as exc:  # ragged nested lists and the like
        raise DataError(f"{where}could not be read as an array: {exc}") from exc
    if np.iscomplexobj(X):
        raise DataError(f"{where}is complex (Complex data not supported: kmix works on real numbers)")
    if X.dtype.kind in "OUSV":
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError) as exc:
            cls = _DataTypeError if isinstance(exc, TypeError) else DataError
            raise cls(f"{where}could not be converted to float: {exc}") from exc
    if X.dtype.kind not in "fiub":
        raise DataError(f"{where}has dtype {X.dtype}, which is not numeric")
    if ensure_2d:
        _check_shape(tuple(X.shape), where, min_samples, min_features)
    target = X.dtype.type if X.dtype.type in targets else targets[0]
    if copy:
        X = np.array(X, dtype=target, order="C", copy=True)
    elif X.ndim == 0:  # a single number stays one (ascontiguousarray would make it 1-D)
        X = np.asarray(X, dtype=target)
    else:
        X = np.ascontiguousarray(X, dtype=target)
    if finite:
        check_finite(X, name=name, source=source)
    return X


def check_finite(X: np.ndarray, *, name: str = "X", source: str | None = None) -> None:
    """Raise a DataError if ``X`` (an ndarray) holds NaN or inf, with their count and
    the first row holding one (named as :func:`check_array` names it)."""
    bad = ~np.isfinite(X)
    if bad.any():
        count = int(bad.sum())
        rows = np.flatnonzero(bad.any(axis=tuple(range(1, X.ndim)))) if X.ndim > 1 else np.flatnonzero(bad)
        raise DataError(nonfinite_message(_where(source, name), count, int(rows[0])))


def _check_shape(shape: tuple, where: str, min_samples: int, min_features: int) -> None:
    """The dimension and size checks shared by in-memory and dask arrays."""
    if len(shape) != 2:
        hint = (
            ". Reshape your data: X.reshape(-1, 1) for a single feature, "
            "X.reshape(1, -1) for a single sample"
            if len(shape) == 1 else ""
        )
        raise DataError(
            f"{where}must be a 2-D array (n_samples, n_features), got {len(shape)}-D "
            f"with shape {shape}{hint}"
        )
    if shape[0] < min_samples:
        raise DataError(
            f"{where}has {shape[0]} rows: {shape[0]} sample(s) (shape={shape}) "
            f"while a minimum of {min_samples} is required."
        )
    if shape[1] < min_features:
        raise DataError(
            f"{where}has {shape[1]} columns: {shape[1]} feature(s) (shape={shape}) "
            f"while a minimum of {min_features} is required."
        )


def nonfinite_message(where: str, count: int, first_row: int) -> str:
    """The message for data holding NaN or inf, the same for every kind of input.

    ``where`` is ``"path: "`` or ``"X "``, as the checks build it.
    """
    return (
        f"{where}contains {count} NaN or inf value{'s' if count != 1 else ''} "
        f"(first in row {first_row}); remove or impute them"
    )


def magnitude_dtype(low: np.ndarray, high: np.ndarray, offset: np.ndarray, total_weight: float,
                    dtype: Any, where: str = "X ") -> np.dtype:
    """The dtype in which the kernels can compute on X without a silent overflow or
    underflow: X's own, float64 where float32 would not do, or a DataError that says
    how to rescale.

    The kernels see X minus ``offset``. Their largest numbers are weighted sums of
    squared distances between rows (or between rows and centres, means, which lie
    within the rows' range): at most ``total_weight · d · (2·extent)²``, with
    ``extent`` the largest ``|x - offset|``. Their smallest meaningful numbers are
    squared differences at the data's resolution, about ``eps · spread²``, which
    must stay normal numbers, or distinct rows look identical.

    Parameters
    ----------
    low, high : ndarray (n_features,), the columns' minima and maxima (finite)
    offset : ndarray (n_features,), what the kernels subtract (zeros, or the means)
    total_weight : float, the sum of the sample weights
    dtype : X's dtype (float32 or float64)
    where : how messages name X ("X ", or "path: ")

    Returns
    -------
    numpy dtype: ``dtype``, or float64 for float32 data whose squares would leave
    float32's range

    Raises
    ------
    DataError
        For float64 data whose squares leave float64's range.
    """
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    offset = np.asarray(offset, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        extent = float(np.max(np.maximum(np.abs(high - offset), np.abs(low - offset)), initial=0.0))
        spread = float(np.max(high - low, initial=0.0))
    if not np.isfinite(offset).all():
        extent = np.inf  # the column means themselves overflowed
    weight = max(float(total_weight), 1.0)

    def log2_largest(weight: float) -> float:
        # log2 of the bound: the bound itself may not be representable.
        if extent == 0:
            return -np.inf
        return float(np.log2(weight) + np.log2(max(low.shape[0], 1)) + 2 * np.log2(2 * extent))

    dtype = np.dtype(dtype)
    for candidate in [dtype] + ([np.dtype(np.float64)] if dtype != np.float64 else []):
        info = np.finfo(candidate)
        too_large = log2_largest(weight) > np.log2(float(info.max)) - 2
        too_small = 0 < spread and spread * spread * float(info.eps) < float(info.tiny)
        if not (too_large or too_small):
            return candidate
    if too_large:
        if log2_largest(1.0) <= np.log2(float(info.max)) - 2:
            raise DataError(
                f"the sample weights add up to {weight:.3g}: the weighted sums of squared "
                f"distances in {where.strip() or 'X'} would overflow float64. Divide the "
                "weights by a constant and fit again"
            )
        largest = float(np.max(np.abs(np.concatenate([low, high]))))
        raise DataError(
            f"{where}has values as large as {largest:.3g}: their squared distances would "
            f"overflow float64 and the fit would give inf or NaN. Divide the data by a constant "
            f"(for example 1e{int(np.ceil(np.log10(largest)))}) and fit again"
        )
    raise DataError(
        f"{where}has rows that differ by at most {spread:.3g}: their squared differences "
        f"underflow float64 and distinct rows would look identical. Multiply the data by a "
        f"constant (for example 1e{-int(np.floor(np.log10(spread)))}) and fit again"
    )


def check_dask_array(
    X: Any,
    *,
    name: str = "X",
    source: str | None = None,
    min_samples: int = 1,
    min_features: int = 1,
    check_finite: bool = True,
) -> Any:
    """Check a dask array as :func:`check_array` checks an in-memory one, lazily.

    The shape and dtype are checked at once, with the same messages as for numpy
    input. The array is returned chunked along rows only (the columns rechunked
    into one), float32 kept and other numeric types cast to float64, all lazily.
    Nothing is computed here, and dask is not imported: only the array's methods
    are used.

    Parameters
    ----------
    X : dask array of shape (n_samples, n_features)
    name, source, min_samples, min_features
        As for :func:`check_array`.
    check_finite : bool
        Add a per-chunk check that raises a DataError (naming the chunk's rows and
        its first bad row) when the chunk is computed. Estimators that make a full
        reduction first check there instead, for the whole array at once.

    Returns
    -------
    dask array of shape (n_samples, n_features), float32 or float64, one chunk
    along the columns

    Raises
    ------
    DataError
        Unknown chunk sizes, complex or non-numeric dtype, wrong number of
        dimensions, too few rows or columns.
    """
    where = _where(source, name)
    if any(np.isnan(size) for size in X.shape):
        raise DataError(
            f"{where}has unknown chunk sizes (shape {X.shape}); call X.compute_chunk_sizes() first"
        )
    if X.dtype.kind == "c":
        raise DataError(f"{where}is complex (Complex data not supported: kmix works on real numbers)")
    if X.dtype.kind not in "fiub":
        raise DataError(f"{where}has dtype {X.dtype}, which is not numeric")
    _check_shape(tuple(int(size) for size in X.shape), where, min_samples, min_features)
    if X.dtype.type not in _FLOAT_DTYPES:
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:
        # Every kernel works on whole rows: one chunk spans all the columns.
        X = X.rechunk((X.chunks[0], (X.shape[1],)))
    if check_finite:
        X = X.map_blocks(_finite_chunk, where, dtype=X.dtype, meta=np.empty((0, 0), X.dtype))
    return X


def check_data(X: Any, *, finite: bool = True, accept_sparse: bool = False,
               accept_batches: bool = False) -> Any:
    """X as an estimator takes it: :func:`check_array` for in-memory input,
    :func:`check_dask_array` for a dask array (lazily), with ``accept_sparse``
    a scipy.sparse matrix as canonical CSR (:func:`kmix.backends.sparse.as_csr`),
    and with ``accept_batches`` a :class:`kmix.backends.batches.Batches` after its
    checking pass (one read of every batch; see ``Batches.checked``).
    A fit passes ``finite=False``: the first pass of its data object
    (:func:`kmix.backends.wrap`) finds NaN and inf, for the whole array at once."""
    if is_batches(X):
        if not accept_batches:
            raise DataError(
                "X is a kmix.Batches, which only KMeans.fit and GaussianMixture.fit take: "
                "give the batches' arrays here one at a time (for example "
                "[model.predict(batch) for batch in batches])"
            )
        return X.checked()
    if is_sparse(X):
        if not accept_sparse:
            raise DataError(
                "X is a sparse matrix, but dense data is required here: densify it "
                "(X.toarray()) or reduce its dimension first (for example with TruncatedSVD)"
            )
        from .backends.sparse import as_csr, check_finite_sparse

        X = as_csr(X)
        if finite:
            check_finite_sparse(X)
        return X
    if is_dask_array(X):
        return check_dask_array(X, check_finite=finite)
    return check_array(X, finite=finite)


def _finite_chunk(block: np.ndarray, where: str, block_info: Any = None) -> np.ndarray:
    """A chunk of a dask array unchanged, or a DataError naming its first bad row."""
    with np.errstate(over="ignore", invalid="ignore"):
        total = block.sum()
    if np.isfinite(total):  # every term finite (one pass, no temporary)
        return block
    bad = ~np.isfinite(block)
    if bad.any():
        start = block_info[0]["array-location"][0][0] if block_info else 0
        rows = np.flatnonzero(bad.any(axis=1))
        count = int(bad.sum())
        raise DataError(
            f"{where}contains {count} NaN or inf value{'s' if count != 1 else ''} in rows "
            f"{start} to {start + block.shape[0] - 1} (first in row {start + int(rows[0])}); "
            "remove or impute them"
        )
    return block


def check_random_state(seed: Any) -> np.random.Generator:
    """Turn ``seed`` (None, int, Generator or legacy RandomState) into a Generator."""
    if seed is None or isinstance(seed, (numbers.Integral, np.integer)):
        if seed is not None and int(seed) < 0:
            raise ValueError(f"random_state must be a non-negative integer, got {seed}")
        return np.random.default_rng(None if seed is None else int(seed))
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.RandomState):
        # Derive a Generator deterministically from the legacy state.
        return np.random.default_rng(seed.randint(0, 2**31 - 1))
    raise ValueError(
        f"random_state must be None, an int, a numpy Generator or RandomState, got {seed!r}"
    )


def check_sample_weight(
    sample_weight: Any, n_samples: int, dtype: Any = np.float64
) -> np.ndarray:
    """Check ``sample_weight``: None (all ones), a scalar, or n_samples non-negative
    finite numbers, not all zero."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=dtype)
    if np.isscalar(sample_weight):
        if isinstance(sample_weight, (bool, np.bool_)) or not isinstance(sample_weight, (numbers.Real, np.number)):
            raise ValueError(f"sample_weight must be a number or an array of numbers, got {sample_weight!r}")
        weight = np.full(n_samples, float(sample_weight), dtype=dtype)
    else:
        weight = np.asarray(sample_weight)
        if weight.dtype.kind not in "biuf":
            raise ValueError(f"sample_weight must hold numbers, got an array of {weight.dtype}")
        if weight.ndim != 1:
            raise ValueError(
                f"sample_weight must be 1-D with {n_samples} entries, got shape {weight.shape}"
            )
        if weight.shape[0] != n_samples:
            raise ValueError(
                f"sample_weight has {weight.shape[0]} entries but X has {n_samples} samples"
            )
        weight = np.ascontiguousarray(weight, dtype=dtype)
    negative = weight < 0
    problem = sample_weight_problem(
        int(np.count_nonzero(~np.isfinite(weight))),
        int(np.count_nonzero(negative)),
        int(np.argmax(negative)),
        bool(np.any(weight > 0)),
    )
    if problem:
        raise ValueError(problem)
    return weight


def sample_weight_problem(n_nonfinite: int, n_negative: int, first_negative: int,
                          any_positive: bool) -> str | None:
    """What is wrong with a sample_weight, from its counts (None when nothing is).

    Shared by the in-memory check and the dask backend's one-pass check, so both
    say the same thing.
    """
    if n_nonfinite:
        return "sample_weight contains NaN or inf"
    if n_negative:
        return (
            f"sample_weight must be non-negative; {n_negative} negative "
            f"value(s), first at index {first_negative}"
        )
    if not any_positive:
        return "sample_weight is all zero: at least one sample needs a positive weight"
    return None


def check_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer parameter within [minimum, maximum], or a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_counts(values: Any, name: str, example: str) -> np.ndarray:
    """Distinct positive integers (numbers of clusters to try, say), as an int64
    array in the order given, or a ValueError naming the parameter."""
    listed = [values] if np.isscalar(values) else list(values)
    array = np.asarray(listed)
    if array.size == 0 or array.ndim != 1 or array.dtype.kind not in "iu" or np.any(array < 1):
        raise ValueError(f"{name} must be positive integers (for example {example}); got {values!r}")
    if len(set(array.tolist())) != array.size:
        raise ValueError(f"{name} must not repeat a number; got {array.tolist()}")
    return array.astype(np.int64)


def check_float(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
) -> float:
    """A finite real parameter within bounds, or a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None:
        if exclusive_minimum and value <= minimum:
            raise ValueError(f"{name} must be > {minimum}, got {value}")
        if not exclusive_minimum and value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_choice(value: Any, name: str, allowed: Iterable[str]) -> str:
    """One of a fixed set of strings, or a ValueError listing them."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {options}; got {value!r}")
    return value


def check_is_fitted(estimator: Any, attribute: str) -> None:
    """Raise NotFittedError unless ``estimator`` has ``attribute``."""
    if not hasattr(estimator, attribute):
        raise exceptions.NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
            "appropriate arguments before using this estimator."
        )


def check_n_features(estimator: Any, X: np.ndarray) -> None:
    """X must have as many columns as the data the estimator was fitted on."""
    expected = estimator.n_features_in_
    if X.shape[1] != expected:
        raise DataError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{expected} features as input"
        )


def require(module: str, extra: str, feature: str):
    """Import an optional dependency, or say which extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{feature} needs the optional package '{module}': "
            f"pip install 'kmix[{extra}]' (or pip install {module})"
        ) from exc


def distinct_rows_below(X: np.ndarray, sample_weight: np.ndarray, limit: int) -> int | None:
    """The number of distinct rows of X with a positive weight when it is below
    ``limit``, else None.

    The rows are read in blocks that double in size, the distinct ones kept, until
    ``limit`` distinct rows are found: data with that many distinct rows near its
    start costs one small sort; only data with fewer distinct rows (or long runs
    of repeated ones) is read further.
    """
    n_samples = X.shape[0]
    found = X[:0]
    start, size = 0, max(64, 4 * limit)
    while start < n_samples:
        block = X[start:start + size]
        weights = sample_weight[start:start + size]
        if not np.all(weights > 0):
            block = block[weights > 0]
        # np.unique compares the rows' values: -0.0 and 0.0 are one point.
        found = np.unique(np.concatenate([found, block]), axis=0)
        if found.shape[0] >= limit:
            return None
        start += size
        size *= 2
    return found.shape[0]
