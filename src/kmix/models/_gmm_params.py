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
    covariance_type = check_choice(model.covariance_type, "covariance_type", gk.COVARIANCE_NAMES)
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
    # scikit-learn's verbose: a bool or an integer >= 0.
    verbose = model.verbose
    verbose = int(verbose) if isinstance(verbose, (bool, np.bool_)) else check_int(verbose, "verbose", minimum=0)
    verbose_interval = check_int(model.verbose_interval, "verbose_interval", minimum=1)
    # partial_fit's steps (t + t0)^(-α): t0 >= 1 keeps every step at most 1, and
    # α in (0.5, 1] is Cappé and Moulines's condition for the average to converge.
    step_offset = check_float(model.step_offset, "step_offset", minimum=1.0)
    step_exponent = check_float(model.step_exponent, "step_exponent", minimum=0.5, maximum=1.0,
                                exclusive_minimum=True)
    half_life = model.half_life
    if half_life is not None:
        half_life = check_float(half_life, "half_life", minimum=0.0, exclusive_minimum=True)
    dtype_arg = (np.dtype(dtype).type,)

    weights_init = None
    if model.weights_init is not None:
        weights_init = check_array(model.weights_init, name="weights_init", dtype=dtype_arg, ensure_2d=False)
        _check_shape(weights_init, (n_components,), "weights", "weights_init", "(n_components,)")
        if np.any(weights_init < 0) or np.any(weights_init > 1):
            raise ValueError(
                f"The parameter 'weights' should be in the range [0, 1], but got min value "
                f"{weights_init.min():.5f}, max value {weights_init.max():.5f}: weights_init must be "
                "non-negative and sum to 1"
            )
        atol = 1e-6 if np.dtype(dtype) == np.float32 else 1e-8
        total = float(np.sum(weights_init, dtype=np.float64))
        if abs(total - 1.0) > atol:
            raise ValueError(
                f"The parameter 'weights' should be normalized, but got sum(weights) = {total:.5f}: "
                "weights_init must sum to 1"
            )

    means_init = None
    if model.means_init is not None:
        means_init = check_array(model.means_init, name="means_init", dtype=dtype_arg, ensure_2d=False)
        _check_shape(means_init, (n_components, n_features), "means", "means_init", "(n_components, n_features)")

    precisions_cholesky_init = None
    if model.precisions_init is not None:
        precisions_cholesky_init = check_precisions(
            model.precisions_init, covariance_type, n_components, n_features, dtype_arg
        )
    return dict(
        n_components=n_components, covariance_type=covariance_type, init_params=init_params,
        tol=tol, reg_covar=reg_covar, max_iter=max_iter, n_init=n_init, record=record,
        verbose=verbose, verbose_interval=verbose_interval,
        step_offset=step_offset, step_exponent=step_exponent, half_life=half_life,
        weights_init=weights_init, means_init=means_init,
        precisions_cholesky_init=precisions_cholesky_init,
    )

def check_precisions(precisions: Any, covariance_type: str, n_components: int, n_features: int,
                     dtype: tuple) -> np.ndarray:
    """Check precisions_init, in the layout of ``covariance_type``; return its
    Cholesky factors (upper, U Uᵀ = Λ)."""
    layout = gk.layout_of(covariance_type)
    precisions = check_array(precisions, name="precisions_init", dtype=dtype, ensure_2d=False)
    expected = {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[layout]
    names = {
        "full": "(n_components, n_features, n_features)",
        "tied": "(n_features, n_features)",
        "diag": "(n_components, n_features)",
        "spherical": "(n_components,)",
    }[layout]
    # scikit-learn calls the precisions of each layout "'<covariance_type> precision'".
    called = f"{covariance_type} precision"
    _check_shape(precisions, expected, called, "precisions_init",
                 f"{names} for covariance_type={covariance_type!r}")
    if layout in ("diag", "spherical"):
        if np.any(precisions <= 0):
            raise ValueError(
                f"'{called}' should be positive: precisions_init must be positive for "
                f"covariance_type={covariance_type!r}; got minimum {precisions.min():g}"
            )
        return gk.precision_cholesky_from_precisions(precisions, layout)
    stack = precisions[None] if layout == "tied" else precisions
    for j, matrix in enumerate(stack):
        which = "precisions_init" if layout == "tied" else f"precisions_init[{j}]"
        # Relative test, with an absolute floor for rounding residue in near-zero entries.
        if not np.allclose(matrix, matrix.T, rtol=1e-7, atol=1e-12 * float(np.abs(matrix).max())):
            raise ValueError(f"'{called}' should be symmetric, positive-definite: {which} is not symmetric")
        try:
            np.linalg.cholesky(matrix.astype(np.float64))
        except np.linalg.LinAlgError:
            raise ValueError(
                f"'{called}' should be symmetric, positive-definite: {which} is not positive definite"
            ) from None
    return gk.precision_cholesky_from_precisions(precisions.astype(np.float64), layout).astype(
        precisions.dtype
    )


def _check_shape(array: np.ndarray, expected: tuple, called: str, parameter: str, layout: str) -> None:
    """A ValueError in scikit-learn's words (which call the parameter ``called``)
    when an initial parameter's shape is not ``expected``; kmix's name for the
    parameter and its layout follow."""
    if array.shape != expected:
        raise ValueError(
            f"The parameter '{called}' should have the shape of {expected}, but got {array.shape}: "
            f"{parameter} must be {layout} = {expected}"
        )
