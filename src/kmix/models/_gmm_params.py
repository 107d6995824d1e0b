"""Checks of GaussianMixture's constructor parameters against the data."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_array, check_choice, check_float, check_int
from ..kernels import gmm as gk

__all__ = ["check_parameters", "check_precisions", "INIT_PARAMS"]

INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")


def check_parameters(model: Any, n_samples: int, n_features: int, dtype: np.dtype,
                     n_positive: int) -> dict[str, Any]:
    """Every constructor parameter of a GaussianMixture ``model``, checked against
    the data's shape, dtype and number of positive sample weights; returns the
    checked values (a ValueError naming the parameter otherwise)."""
    n_components = check_int(model.n_components, "n_components", minimum=1)
    if n_components > n_samples:
        raise ValueError(
            f"n_components={n_components} must be <= n_samples={n_samples}: "
            "a mixture needs at least as many points as components"
        )
    if n_components > n_positive:
        raise ValueError(
            f"n_components={n_components} must be <= the number of samples with positive "
            f"sample_weight ({n_positive})"
        )
    covariance_type = check_choice(model.covariance_type, "covariance_type", gk.COVARIANCE_TYPES)
    init_params = check_choice(model.init_params, "init_params", INIT_PARAMS)
    tol = check_float(model.tol, "tol", minimum=0.0)
    reg_covar = check_float(model.reg_covar, "reg_covar", minimum=0.0)
    max_iter = check_int(model.max_iter, "max_iter", minimum=0)
    n_init = check_int(model.n_init, "n_init", minimum=1)
    if not isinstance(model.warm_start, (bool, np.bool_)):
        raise ValueError(f"warm_start must be True or False, got {model.warm_start!r}")
    if isinstance(model.record_history, str):
        if model.record_history != "auto":
            raise ValueError(f"record_history must be 'auto', True or False; got {model.record_history!r}")
        record = n_features <= 10
    elif isinstance(model.record_history, (bool, np.bool_)):
        record = bool(model.record_history)
    else:
        raise ValueError(f"record_history must be 'auto', True or False; got {model.record_history!r}")
    if model.callback is not None and not callable(model.callback):
        raise ValueError(f"callback must be callable, got {model.callback!r}")
    dtype_arg = (np.dtype(dtype).type,)

    weights_init = None
    if model.weights_init is not None:
        weights_init = check_array(model.weights_init, name="weights_init", dtype=dtype_arg, ensure_2d=False)
        if weights_init.shape != (n_components,):
            raise ValueError(
                f"weights_init has shape {weights_init.shape}; expected (n_components,) = ({n_components},)"
            )
        if np.any(weights_init < 0):
            raise ValueError(f"weights_init must be non-negative; got minimum {weights_init.min():g}")
        atol = 1e-6 if np.dtype(dtype) == np.float32 else 1e-8
        total = float(np.sum(weights_init, dtype=np.float64))
        if abs(total - 1.0) > atol:
            raise ValueError(f"weights_init must sum to 1; got sum {total:.8g}")

    means_init = None
    if model.means_init is not None:
        means_init = check_array(model.means_init, name="means_init", dtype=dtype_arg, ensure_2d=False)
        if means_init.shape != (n_components, n_features):
            raise ValueError(
                f"means_init has shape {means_init.shape}; expected (n_components, n_features) = "
                f"({n_components}, {n_features})"
            )

    precisions_cholesky_init = None
    if model.precisions_init is not None:
        precisions_cholesky_init = check_precisions(
            model.precisions_init, covariance_type, n_components, n_features, dtype_arg
        )
    return dict(
        n_components=n_components, covariance_type=covariance_type, init_params=init_params,
        tol=tol, reg_covar=reg_covar, max_iter=max_iter, n_init=n_init, record=record,
        weights_init=weights_init, means_init=means_init,
        precisions_cholesky_init=precisions_cholesky_init,
    )

def check_precisions(precisions: Any, covariance_type: str, n_components: int, n_features: int,
                     dtype: tuple) -> np.ndarray:
    """Check precisions_init; return its Cholesky factors (upper, U Uᵀ = Λ)."""
    precisions = check_array(precisions, name="precisions_init", dtype=dtype, ensure_2d=False)
    expected = {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[covariance_type]
    names = {
        "full": "(n_components, n_features, n_features)",
        "tied": "(n_features, n_features)",
        "diag": "(n_components, n_features)",
        "spherical": "(n_components,)",
    }[covariance_type]
    if precisions.shape != expected:
        raise ValueError(
            f"precisions_init has shape {precisions.shape}; for covariance_type={covariance_type!r} "
            f"expected {names} = {expected}"
        )
    if covariance_type in ("diag", "spherical"):
        if np.any(precisions <= 0):
            raise ValueError(
                f"precisions_init must be positive for covariance_type={covariance_type!r}; "
                f"got minimum {precisions.min():g}"
            )
        return gk.precision_cholesky_from_precisions(precisions, covariance_type)
    stack = precisions[None] if covariance_type == "tied" else precisions
    for j, matrix in enumerate(stack):
        which = "precisions_init" if covariance_type == "tied" else f"precisions_init[{j}]"
        # Relative test, with an absolute floor for rounding residue in near-zero entries.
        if not np.allclose(matrix, matrix.T, rtol=1e-7, atol=1e-12 * float(np.abs(matrix).max())):
            raise ValueError(f"{which} must be symmetric positive definite; it is not symmetric")
        try:
            np.linalg.cholesky(matrix.astype(np.float64))
        except np.linalg.LinAlgError:
            raise ValueError(
                f"{which} must be symmetric positive definite; it is not positive definite"
            ) from None
    return gk.precision_cholesky_from_precisions(precisions.astype(np.float64), covariance_type).astype(
        precisions.dtype
    )
