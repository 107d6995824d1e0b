"""Covariance layouts of a Gaussian mixture and their Cholesky factors.

Covariances come in four layouts: (k, d, d) "full", (d, d) "tied", (k, d) "diag"
and (k,) "spherical". A ``covariance_type`` is one of those four names (scikit-learn's)
or one of mclust's fourteen models (:mod:`.gmm_models`), each stored in one of the
layouts (:func:`layout_of`); everything but the M-step reads only the layout. Densities are computed through
the upper-triangular factor U of each precision, Σ⁻¹ = U Uᵀ (for "diag" and
"spherical", the square roots of the precisions); this module turns covariances
into factors and back, counts a mixture's free parameters, and names the
component whose covariance is not positive definite.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.linalg.lapack

from .._typing import COVARIANCE_NAMES
from ..exceptions import NumericalError
from .gmm_models import LAYOUT, MODELS
from .gmm_models import n_parameters as _model_parameters

__all__ = [
    "COVARIANCE_TYPES",
    "COVARIANCE_NAMES",
    "SCIKIT_LEARN_MODELS",
    "layout_of",
    "model_of",
    "compute_precision_cholesky",
    "precision_cholesky_from_precisions",
    "covariances_from_precision_cholesky",
    "full_covariances",
    "log_det_precision_cholesky",
    "n_parameters",
]

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
# scikit-learn's four are mclust's VVV, EEE, VVI and VII.
SCIKIT_LEARN_MODELS = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}
# Every name covariance_type takes, COVARIANCE_NAMES: COVARIANCE_TYPES, then MODELS
# (named in kmix._typing).


def layout_of(covariance_type: str) -> str:
    """The layout ("full", "tied", "diag" or "spherical") a covariance_type is stored in."""
    return covariance_type if covariance_type in COVARIANCE_TYPES else LAYOUT[covariance_type]


def model_of(covariance_type: str) -> str:
    """The mclust model (one of :data:`kmix.kernels.gmm_models.MODELS`) a covariance_type is."""
    return SCIKIT_LEARN_MODELS.get(covariance_type, covariance_type)


def _cholesky_failed(component: int | None, covariance_type: str) -> NumericalError:
    which = "the tied covariance" if component is None else f"component {component}"
    error = NumericalError(
        f"the covariance of {which} ({covariance_type}) is not positive definite (a collapsed "
        "component: too few or duplicate points); increase reg_covar, reduce n_components "
        "or scale the data"
    )
    error.component = component  # for callers that name it their own way
    return error


def compute_precision_cholesky(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    """Upper-triangular U with Σ⁻¹ = U Uᵀ, for each covariance.

    Parameters
    ----------
    covariances : ndarray
        (k, d, d) full, (d, d) tied, (k, d) diag or (k,) spherical.
    covariance_type : {"full", "tied", "diag", "spherical"}

    Returns
    -------
    ndarray of the same shape and dtype as ``covariances``

    Raises
    ------
    NumericalError
        Naming the component whose covariance is not positive definite.

    Notes
    -----
    With Σ = L Lᵀ (Cholesky), Σ⁻¹ = L⁻ᵀ L⁻¹, so U = L⁻ᵀ, obtained by one
    triangular solve against the identity. (x - μ)ᵀ Σ⁻¹ (x - μ) = ‖(x - μ) U‖²
    then costs one matrix product per component.
    """
    dtype = covariances.dtype
    if covariance_type in ("full", "tied"):
        stack = covariances[None] if covariance_type == "tied" else covariances
        d = stack.shape[-1]
        out = np.empty(stack.shape, dtype=dtype)
        for k, covariance in enumerate(stack):
            try:
                lower = np.linalg.cholesky(covariance.astype(np.float64, copy=False))
            except np.linalg.LinAlgError:
                raise _cholesky_failed(None if covariance_type == "tied" else k, covariance_type) from None
            # LAPACK's triangular inverse directly: the same L⁻¹ as a triangular
            # solve against the identity, without the wrapper's checks per call
            # (small covariances are factored once per component and iteration).
            inverse, info = scipy.linalg.lapack.dtrtri(lower, lower=1)
            if info != 0:
                raise _cholesky_failed(None if covariance_type == "tied" else k, covariance_type)
            out[k] = inverse.T
        return out[0] if covariance_type == "tied" else out
    bad = ~(covariances > 0)
    if np.any(bad):
        component = int(np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1))[0])
        raise _cholesky_failed(component, covariance_type)
    return (1.0 / np.sqrt(covariances)).astype(dtype, copy=False)


def precision_cholesky_from_precisions(precisions: np.ndarray, covariance_type: str) -> np.ndarray:
    """Upper-triangular U with Λ = U Uᵀ for user-given precisions Λ.

    Raises ``numpy.linalg.LinAlgError`` if a precision matrix is not positive
    definite.

    Notes
    -----
    numpy's Cholesky gives lower factors, Λ = L Lᵀ. With J the exchange matrix
    (reversal of rows and columns), J Λ J = M Mᵀ gives Λ = (J M J)(J M J)ᵀ and
    J M J is upper triangular: no inverse of Λ is needed.
    """
    if covariance_type == "full":
        flipped = precisions[:, ::-1, ::-1]
        return np.ascontiguousarray(np.linalg.cholesky(flipped)[:, ::-1, ::-1])
    if covariance_type == "tied":
        return np.ascontiguousarray(np.linalg.cholesky(precisions[::-1, ::-1])[::-1, ::-1])
    return np.sqrt(precisions)


def covariances_from_precision_cholesky(precisions_cholesky: np.ndarray, covariance_type: str) -> np.ndarray:
    """Σ = (U Uᵀ)⁻¹ = U⁻ᵀ U⁻¹ from precision Cholesky factors, same layout as U."""
    if covariance_type in ("full", "tied"):
        stack = precisions_cholesky[None] if covariance_type == "tied" else precisions_cholesky
        d = stack.shape[-1]
        out = np.empty(stack.shape, dtype=np.float64)
        for k, upper in enumerate(stack):
            inverse = scipy.linalg.solve_triangular(upper, np.eye(d), lower=False, check_finite=False)
            out[k] = inverse.T @ inverse
        out = out.astype(precisions_cholesky.dtype, copy=False)
        return out[0] if covariance_type == "tied" else out
    return 1.0 / precisions_cholesky**2


def full_covariances(covariances: np.ndarray, covariance_type: str, n_components: int, n_features: int) -> np.ndarray:
    """Any covariance layout as (k, d, d) full matrices (a new array, same dtype)."""
    covariances = np.asarray(covariances)
    if covariance_type == "full":
        return covariances.copy()
    if covariance_type == "tied":
        return np.repeat(covariances[None], n_components, axis=0)
    identity = np.eye(n_features, dtype=covariances.dtype)
    if covariance_type == "diag":
        return covariances[:, :, None] * identity
    return covariances[:, None, None] * identity


def log_det_precision_cholesky(precisions_cholesky: np.ndarray, covariance_type: str, n_features: int) -> np.ndarray:
    """log det U for each component (= -½ log det Σ), shape (k,) or scalar for tied."""
    if covariance_type == "full":
        return np.sum(np.log(np.diagonal(precisions_cholesky, axis1=1, axis2=2)), axis=1)
    if covariance_type == "tied":
        return np.sum(np.log(np.diagonal(precisions_cholesky)))
    if covariance_type == "diag":
        return np.sum(np.log(precisions_cholesky), axis=1)
    return n_features * np.log(precisions_cholesky)


def n_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Free parameters of a mixture: weights (k - 1), means (k d) and covariances
    (as mclust counts them, for its fourteen models)."""
    if covariance_type not in COVARIANCE_TYPES:
        return _model_parameters(covariance_type, n_components, n_features)
    k, d = n_components, n_features
    covariance_parameters = {
        "full": k * d * (d + 1) // 2,
        "tied": d * (d + 1) // 2,
        "diag": k * d,
        "spherical": k,
    }[covariance_type]
    return covariance_parameters + k * d + k - 1
