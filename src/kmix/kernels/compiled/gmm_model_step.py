"""The compiled M-step of each of mclust's fourteen covariance models, as one
function per model with one signature (:data:`SIGNATURE`), over the ported
mathematics of :mod:`.gmm_mstep` and :mod:`.gmm_orientation`.

Each model's function is compiled when first asked for (:func:`model_function`):
a fit of one model compiles that model alone, and the EM loop
(:mod:`.gmm_em_loop`) takes it as a function argument, so that one loop, compiled
once, serves every model.
"""

from __future__ import annotations

from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from numba import njit, types

from .function_argument import FunctionArgument
from .gmm_mstep import _closed_diagonal, _closed_full, _common, _diagonals, _vee, _vei, _vev, _zero_non_finite

__all__ = ["SIGNATURE", "model_function", "model_argument", "model_covariances"]

# (code, weight_sums, scatter, start, has_start, tol, max_iter, out) -> n_iter
SIGNATURE = types.int64(
    types.int64, types.float64[::1], types.float64[:, :, ::1], types.float64[:, :, ::1],
    types.boolean, types.float64, types.int64, types.float64[:, :, ::1],
)


def _closed_diagonal_models(code, weight_sums, scatter, start, has_start, tol, max_iter, out):  # pragma: no cover
    _closed_diagonal(code, weight_sums, _diagonals(scatter), out)
    _zero_non_finite(out, False)
    return 0


def _closed_full_models(code, weight_sums, scatter, start, has_start, tol, max_iter, out):  # pragma: no cover
    _closed_full(code, weight_sums, scatter, out)
    _zero_non_finite(out, code == 6)
    return 0


def _vei_model(code, weight_sums, scatter, start, has_start, tol, max_iter, out):  # pragma: no cover
    n_iter = _vei(weight_sums, _diagonals(scatter), start, has_start, tol, max_iter, out)
    _zero_non_finite(out, False)
    return n_iter


def _vee_model(code, weight_sums, scatter, start, has_start, tol, max_iter, out):  # pragma: no cover
    n_iter = _vee(weight_sums, scatter, start, has_start, tol, max_iter, out)
    _zero_non_finite(out, False)
    return n_iter


def _vev_model(code, weight_sums, scatter, start, has_start, tol, max_iter, out):  # pragma: no cover
    n_iter = _vev(weight_sums, scatter, start, has_start, tol, max_iter, out)
    _zero_non_finite(out, False)
    return n_iter


def _common_models(code, weight_sums, scatter, start, has_start, tol, max_iter, out):  # pragma: no cover
    n_iter = _common(weight_sums, scatter, start, has_start, tol, max_iter, code == 8, out)
    _zero_non_finite(out, False)
    return n_iter


# Model codes (indices into kmix.kernels.gmm_models.MODELS) and their M-step.
_MODEL_FUNCTIONS = {
    0: _closed_diagonal_models, 1: _closed_diagonal_models, 2: _closed_diagonal_models,
    4: _closed_diagonal_models, 5: _closed_diagonal_models, 3: _vei_model,
    6: _closed_full_models, 10: _closed_full_models, 12: _closed_full_models, 13: _closed_full_models,
    7: _vee_model, 11: _vev_model, 8: _common_models, 9: _common_models,
}
_COMPILED: dict = {}
_ARGUMENTS: dict = {}


def model_function(code: int):
    """The compiled M-step of model ``code`` (see :func:`model_covariances` for its
    arguments), compiled on first use (or loaded from numba's cache)."""
    if code not in _MODEL_FUNCTIONS:
        raise ValueError(f"unknown model code {code}; expected 0 to 13")
    python_function = _MODEL_FUNCTIONS[code]
    compiled = _COMPILED.get(python_function)
    if compiled is None:
        compiled = njit(SIGNATURE, cache=True, error_model="numpy")(python_function)
        _COMPILED[python_function] = compiled
    return compiled


def model_argument(code: int) -> FunctionArgument:
    """The compiled M-step of model ``code`` in the form the EM loop
    (:mod:`.gmm_em_loop`) takes it: a first-class function of :data:`SIGNATURE`."""
    argument = _ARGUMENTS.get(code)
    if argument is None:
        argument = _ARGUMENTS[code] = FunctionArgument(model_function(code), SIGNATURE)
    return argument


def model_covariances(code, weight_sums, scatter, start, has_start, tol, max_iter, out):
    """The maximum-likelihood covariances of a model, in full form (compiled).

    Parameters
    ----------
    code : int
        Index into :data:`kmix.kernels.gmm_models.MODELS` (0 EII ... 13 VVV).
    weight_sums : ndarray (k,) float64
        n_k, positive.
    scatter : ndarray (k, d, d) float64, C-contiguous
        S_k = W_k / n_k, symmetric; the diagonal and spherical models read the
        diagonals only.
    start : ndarray (k, d, d) float64, C-contiguous
        The previous covariances in full form, read only where ``has_start``
        and only by the iterative models (VEI, VEE, EVE, VVE, VEV).
    has_start : bool
    tol : float
        Relative tolerance of the iterative models (1e-12 in the reference).
    max_iter : int
        Their most iterations; reaching it is not an error.
    out : ndarray (k, d, d) float64, C-contiguous, written
        The covariances: zeros off the diagonal for the diagonal models, σ_k² I
        for the spherical ones, one matrix repeated for EEE; a zero matrix for a
        component whose likelihood is unbounded (all of them for EEE).

    Returns
    -------
    int
        Iterations taken, 0 for the closed forms.

    Notes
    -----
    The result equals, to rounding, the reference's
    ``full_covariances(gmm_models.model_covariances(MODELS[code], ...)[0], LAYOUT, k, d)``
    given the same statistics and the start in its layout.
    """
    return model_function(code)(code, weight_sums, scatter, start, has_start, tol, max_iter, out)
