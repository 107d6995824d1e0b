"""The one place where user input becomes a checked array, or a clear error.

Functions here never compute anything beyond what checking needs; kernels assume
their inputs went through them.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from .exceptions import DataError, MissingDependencyError, NotFittedError

__all__ = [
    "check_array",
    "check_random_state",
    "check_sample_weight",
    "check_int",
    "check_float",
    "check_choice",
    "check_is_fitted",
    "check_n_features",
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
        raise DataError(f"{where}Complex data not supported: kmix works on real numbers")
    if X.dtype.kind in "OUSV":
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError) as exc:
            cls = _DataTypeError if isinstance(exc, TypeError) else DataError
            raise cls(f"{where}could not be converted to float: {exc}") from exc
    if X.dtype.kind not in "fiub":
        raise DataError(f"{where}has dtype {X.dtype}, which is not numeric")
    if ensure_2d:
        if X.ndim != 2:
            hint = (
                ". Reshape your data: X.reshape(-1, 1) for a single feature, "
                "X.reshape(1, -1) for a single sample"
                if X.ndim == 1 else ""
            )
            raise DataError(
                f"{where}must be a 2-D array (n_samples, n_features), got {X.ndim}-D "
                f"with shape {X.shape}{hint}"
            )
        if X.shape[0] < min_samples:
            raise DataError(
                f"{where}has {X.shape[0]} rows: {X.shape[0]} sample(s) (shape={X.shape}) "
                f"while a minimum of {min_samples} is required."
            )
        if X.shape[1] < min_features:
            raise DataError(
                f"{where}has {X.shape[1]} columns: {X.shape[1]} feature(s) (shape={X.shape}) "
                f"while a minimum of {min_features} is required."
            )
    target = X.dtype.type if X.dtype.type in targets else targets[0]
    if copy:
        X = np.array(X, dtype=target, order="C", copy=True)
    else:
        X = np.ascontiguousarray(X, dtype=target)
    bad = ~np.isfinite(X)
    if bad.any():
        count = int(bad.sum())
        rows = np.flatnonzero(bad.any(axis=tuple(range(1, X.ndim)))) if X.ndim > 1 else np.flatnonzero(bad)
        raise DataError(
            f"{where}contains {count} NaN or inf value{'s' if count != 1 else ''} "
            f"(first in row {int(rows[0])}); remove or impute them"
        )
    return X


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
        weight = np.full(n_samples, float(sample_weight), dtype=dtype)
    else:
        weight = np.asarray(sample_weight)
        if weight.ndim != 1:
            raise ValueError(
                f"sample_weight must be 1-D with {n_samples} entries, got shape {weight.shape}"
            )
        if weight.shape[0] != n_samples:
            raise ValueError(
                f"sample_weight has {weight.shape[0]} entries but X has {n_samples} samples"
            )
        weight = np.ascontiguousarray(weight, dtype=dtype)
    if not np.all(np.isfinite(weight)):
        raise ValueError("sample_weight contains NaN or inf")
    if np.any(weight < 0):
        raise ValueError(
            f"sample_weight must be non-negative; {int(np.sum(weight < 0))} negative "
            f"value(s), first at index {int(np.flatnonzero(weight < 0)[0])}"
        )
    if not np.any(weight > 0):
        raise ValueError("sample_weight is all zero: at least one sample needs a positive weight")
    return weight


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
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet; call fit first"
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
