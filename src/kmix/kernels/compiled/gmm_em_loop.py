"""The whole EM loop of a Gaussian mixture in machine code (numba), for data held
as one block in memory with few features.

One call runs every iteration: the E-step and the statistics (the compiled pass
of :mod:`.gmm_em`, the same numbers bit for bit), the M-step of any of the
fourteen covariance models (:mod:`.gmm_model_step`, given as a function argument),
the precisions' Cholesky
factors and the stopping rules. Between two iterations nothing returns to the
interpreter: on small data sets, where a model-selection grid runs thousands of
short iterations, that per-iteration return is what a fit would otherwise spend
most of its time on.

Covariances and factors are held as (k, d, d) full matrices whatever the model
(diagonal and spherical ones with zeros off the diagonal); the E-step reads only
their diagonals for the diagonal and spherical layouts, as the pass of
:mod:`kmix.kernels.gmm_passes` does.
"""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from numba import njit, types

from .elementary import copy_values
from .gmm_em import _responsibilities, _tile_log_densities, em_pass, em_pass_serial
from .kmeans_lloyd import _transpose_rows
from .gmm_model_step import SIGNATURE

__all__ = ["em_loop", "loaded", "start_parameters", "precision_factor", "score_parameters"]

_COMPILED: list = []
_STARTS: list = []

_LOG_2PI = np.log(2.0 * np.pi)
# N_k + 10 eps, as kmix.kernels.gmm's M-step: a component without weight keeps
# finite means.
_NK_FLOOR = 10.0 * np.finfo(np.float64).eps


@njit(cache=True)
def precision_factor(covariance, lower, out):  # pragma: no cover - compiled
    """U = L⁻ᵀ with Σ = L Lᵀ (Cholesky), so that Σ⁻¹ = U Uᵀ. Returns False where Σ
    is not positive definite (a pivot not above 0, or a factor not finite).
    Written: lower (d, d) scratch, out (d, d)."""
    d = covariance.shape[0]
    for j in range(d):
        pivot = covariance[j, j]
        for p in range(j):
            pivot -= lower[j, p] * lower[j, p]
        if not pivot > 0.0:
            return False
        lower[j, j] = np.sqrt(pivot)
        for i in range(j + 1, d):
            value = covariance[i, j]
            for p in range(j):
                value -= lower[i, p] * lower[j, p]
            lower[i, j] = value / lower[j, j]
    # L⁻¹ by forward substitution, column by column, written transposed.
    for i in range(d):
        for j in range(d):
            out[i, j] = 0.0
    for j in range(d):
        out[j, j] = 1.0 / lower[j, j]
        for i in range(j + 1, d):
            value = 0.0
            for p in range(j, i):
                value -= lower[i, p] * out[j, p]
            out[j, i] = value / lower[i, i]
    for i in range(d):
        for j in range(i, d):
            if not np.isfinite(out[i, j]):
                return False
    return True


@njit(cache=True)
def _scatter(weight_sums, sums, second_full, second_diag, diagonal, reg_covar, means, weights,
             scatter):  # pragma: no cover - compiled
    """The M-step's weights, means and scatter S_k + reg_covar I from statistics
    about the current means (see :func:`kmix.kernels.gmm.estimate_parameters`).
    Written: means (moved), weights, scatter (k, d, d)."""
    k, d = means.shape
    total = 0.0
    for j in range(k):
        total += weight_sums[j] + _NK_FLOOR
    for j in range(k):
        nk = weight_sums[j] + _NK_FLOOR
        weights[j] = nk / total
        factor = 2.0 - weight_sums[j] / nk
        for f in range(d):
            offset_f = sums[j, f] / nk
            if diagonal:
                value = second_diag[j, f] / nk - factor * offset_f * offset_f
                for g in range(d):
                    scatter[j, f, g] = 0.0
                scatter[j, f, f] = (value if value > 0.0 else 0.0) + reg_covar
            else:
                for g in range(d):
                    offset_g = sums[j, g] / nk
                    scatter[j, f, g] = second_full[j, f, g] / nk - (factor * offset_f) * offset_g
                scatter[j, f, f] += reg_covar
        for f in range(d):
            means[j, f] += sums[j, f] / nk


@njit(cache=True)
def _maximise(model_step, code, diagonal, weight_sums, sums, second_full, second_diag, reg_covar,
              previous, has_previous, mstep_tol, mstep_max_iter, scatter, lower, weights, means,
              covariances, factors):  # pragma: no cover - compiled
    """The M-step from statistics about ``means`` (read, then written with the new
    means): weights, means, the model's covariances and their precisions' factors.
    ``previous``: the covariances the model's iterative M-step starts from, where
    ``has_previous``. Written: scatter and lower (scratch), and the four outputs.
    Returns -1, or the first component whose covariance is not positive definite."""
    _scatter(weight_sums, sums, second_full, second_diag, diagonal, reg_covar, means, weights, scatter)
    model_step(code, weight_sums + _NK_FLOOR, scatter, previous, has_previous, mstep_tol, mstep_max_iter,
               covariances)
    for j in range(weights.shape[0]):
        if not precision_factor(covariances[j], lower, factors[j]):
            return j
    return -1


def _start_parameters(model_step, code, diagonal, weight_sums, sums, second_full, second_diag, reg_covar,
                      mstep_tol, mstep_max_iter, weights, means, covariances,
                      factors):  # pragma: no cover - compiled
    """The parameters of one M-step from given statistics (a start, such as a
    partition's one-hot responsibilities), as an iteration of :func:`_em_loop`
    takes it, with no previous covariances.

    ``weight_sums`` (k,), ``sums`` (k, d) and ``second_full`` (k, d, d) or
    ``second_diag`` (k, d) (as ``diagonal``): the statistics about ``means``
    (k, d), which is then written with the new means. Written: weights (k,),
    covariances and factors (k, d, d). Returns -1, or the first component whose
    covariance is not positive definite.
    """
    k, d = means.shape
    return _maximise(model_step, code, diagonal, weight_sums, sums, second_full, second_diag, reg_covar,
                     covariances, False, mstep_tol, mstep_max_iter, np.empty((k, d, d)), np.zeros((d, d)),
                     weights, means, covariances, factors)


@njit(cache=True)
def _pass_constants(weights, factors, factors_diag, constants):  # pragma: no cover - compiled
    """The E-step pass's per-component terms: the factors' diagonals and
    log π_k + log det U_k - ½ d log 2π. Written: factors_diag (k, d), constants (k,)."""
    k, d = factors_diag.shape
    for j in range(k):
        log_det = 0.0
        for f in range(d):
            factors_diag[j, f] = factors[j, f, f]
            log_det += np.log(factors[j, f, f])
        constants[j] = np.log(weights[j]) + log_det - 0.5 * d * _LOG_2PI


@njit(cache=True, nogil=True)
def score_parameters(X, sample_weight, unit_weight, weights, means, covariances, factors, diagonal, tile,
                     out):  # pragma: no cover - compiled
    """What model selection needs of a fitted mixture, in one pass on the calling
    thread: Σ w log p(x), Σ w log max_k z_k(x) (z: the responsibilities), and the
    least ratio of a covariance's smallest eigenvalue to its largest.

    Parameters
    ----------
    X, sample_weight, unit_weight, diagonal, tile : as :func:`_em_loop`
    weights (k,), means (k, d), covariances (k, d, d), factors (k, d, d) : float64,
        the parameters (factors upper triangular, Σ⁻¹ = U Uᵀ; only the diagonals
        are read if ``diagonal``)
    out : ndarray (3,) float64, written: the two sums and the ratio (-inf where a
        covariance's largest eigenvalue is not above 0, NaN where it is not finite)

    Notes
    -----
    log max_k z_k is taken as max_k log(π_k N_k) - log p(x): no responsibility is
    formed, so none is lost to underflow.
    """
    n, d = X.shape
    k = means.shape[0]
    factors_diag = np.empty((k, d))
    constants = np.empty(k)
    _pass_constants(weights, factors, factors_diag, constants)
    xt = np.empty((d, tile), dtype=X.dtype)
    diff = np.empty((d, tile))
    acc = np.empty(tile)
    log_prob = np.empty((k, tile))
    resp = np.empty((k, tile))
    log_norm = np.empty(tile)
    top = np.empty(tile)
    log_likelihood = 0.0
    classification = 0.0
    for tile0 in range(0, n, tile):
        m = min(tile, n - tile0)
        _transpose_rows(X, tile0, m, xt)
        _tile_log_densities(xt, m, means, factors, factors_diag, diagonal, constants, diff, acc, log_prob)
        for r in range(m):
            top[r] = log_prob[0, r]
        for j in range(1, k):
            for r in range(m):
                top[r] = max(top[r], log_prob[j, r])
        _responsibilities(log_prob, m, resp, log_norm)
        for r in range(m):
            weight = 1.0 if unit_weight else sample_weight[tile0 + r]
            log_likelihood += weight * log_norm[r]
            classification += weight * (top[r] - log_norm[r])
    out[0] = log_likelihood
    out[1] = classification
    least = np.inf
    for j in range(k):
        if not np.all(np.isfinite(covariances[j])):  # numba's eigvalsh refuses these
            least = np.nan
            break
        values = np.linalg.eigvalsh(covariances[j])
        ratio = values[0] / values[-1] if values[-1] > 0 else -np.inf
        least = min(least, ratio)
    out[2] = least


_C1, _C2, _C3 = types.float64[::1], types.float64[:, ::1], types.float64[:, :, ::1]
# The rows come as a read-only view (see compiled.as_read_only), as they come to the pass.
_ROWS = types.Array(types.float64, 2, "C", readonly=True)
# One signature, so that the loop is compiled once for every model's M-step.
_LOOP_SIGNATURE = types.Tuple((types.int64, types.boolean, types.boolean, types.int64))(
    _ROWS, _C1, types.boolean, types.FunctionType(SIGNATURE), types.int64, types.boolean, _C1, _C2, _C3,
    _C3, types.float64, types.int64, types.float64, types.float64, types.float64, types.float64,
    types.int64, types.int64, types.float64, types.int64, _C1,
)


def _em_loop(X, sample_weight, unit_weight, model_step, code, diagonal, weights, means, covariances, factors,
            reg_covar, max_iter, tol, relative_tol, relative_scale, lower_bound, chunk_rows, tile,
            mstep_tol, mstep_max_iter, log_likelihoods):  # pragma: no cover - compiled
    """EM iterations from the given parameters, in place.

    Parameters
    ----------
    X : ndarray (n, d), float64, C-contiguous (every array argument is)
    sample_weight : ndarray (n,) float64 (not read if ``unit_weight``)
    model_step : the model's compiled M-step, :func:`.gmm_model_step.model_argument`
    code : int, the model's index in :data:`kmix.kernels.gmm_models.MODELS`
    diagonal : bool, the layout is diagonal or spherical (the E-step reads diagonals)
    weights (k,), means (k, d), covariances (k, d, d), factors (k, d, d) : float64
        The start, written: the parameters after the last M-step (factors upper
        triangular, Σ⁻¹ = U Uᵀ).
    reg_covar : float, added to the scatter's diagonal before the model's M-step
    max_iter : int
    tol : float, stop once |L_t - L_{t-1}| < tol (L: mean log-likelihood); converged
    relative_tol : float, if >= 0 also stop (stopped, not converged) after an
        iteration t > 1 whose change of the total log-likelihood l = L·s
        (s = ``relative_scale``) is at most relative_tol (1 + |l|): mclust's rule
    lower_bound : float, L_0 (-inf without a previous fit)
    chunk_rows, tile : int, the E-step pass's chunks and tiles (see :mod:`.gmm_em`)
    mstep_tol, mstep_max_iter : the M-step's own iterations (see :mod:`.gmm_mstep`)
    log_likelihoods : ndarray (max_iter,) float64, written: L_t of every iteration

    Returns
    -------
    (n_iter, converged, stopped, failed) : failed is -1, or the component whose
    covariance is not positive definite after the M-step of iteration n_iter
    (the parameters are then those of the iteration before).
    """
    n, d = X.shape
    k = means.shape[0]
    weight_sums = np.empty(k)
    sums = np.empty((k, d))
    second_full = np.empty((1, 1, 1) if diagonal else (k, d, d))
    second_diag = np.empty((k, d) if diagonal else (1, 1))
    factors_diag = np.empty((k, d))
    constants = np.empty(k)
    scatter = np.empty((k, d, d))
    new_covariances = np.empty((k, d, d))
    new_factors = np.empty((k, d, d))
    new_means = np.empty((k, d))
    new_weights = np.empty(k)
    lower = np.zeros((d, d))
    total_weight = 0.0
    if unit_weight:
        total_weight = float(n)
    else:
        for r in range(n):
            total_weight += sample_weight[r]
    n_iter = 0
    converged = False
    stopped = False
    for iteration in range(1, max_iter + 1):
        _pass_constants(weights, factors, factors_diag, constants)
        if n <= chunk_rows:  # one chunk: on this thread
            log_likelihood = em_pass_serial(X, sample_weight, unit_weight, means, factors, factors_diag,
                                            diagonal, constants, chunk_rows, tile, weight_sums, sums,
                                            second_full, second_diag)
        else:
            log_likelihood = em_pass(X, sample_weight, unit_weight, means, factors, factors_diag, diagonal,
                                     constants, chunk_rows, tile, weight_sums, sums, second_full,
                                     second_diag)
        copy_values(means, new_means)
        failed = _maximise(model_step, code, diagonal, weight_sums, sums, second_full, second_diag,
                           reg_covar, covariances, True, mstep_tol, mstep_max_iter, scatter, lower,
                           new_weights, new_means, new_covariances, new_factors)
        if failed >= 0:
            return iteration, False, False, failed
        copy_values(new_weights, weights)
        copy_values(new_means, means)
        copy_values(new_covariances, covariances)
        copy_values(new_factors, factors)
        current = log_likelihood / total_weight
        log_likelihoods[iteration - 1] = current
        change = current - lower_bound
        lower_bound = current
        n_iter = iteration
        if relative_tol >= 0.0 and iteration > 1:
            if abs(change) * relative_scale <= relative_tol * (1.0 + abs(current * relative_scale)):
                stopped = True
        if abs(change) < tol:
            converged = True
            break
        if stopped:
            break
    return n_iter, converged, stopped, -1


_START_SIGNATURE = types.int64(
    types.FunctionType(SIGNATURE), types.int64, types.boolean, _C1, _C2, _C3, _C2, types.float64,
    types.float64, types.int64, _C1, _C2, _C3, _C3,
)


def start_parameters():
    """:func:`_start_parameters` compiled with its one signature on first use (or
    loaded from numba's cache); it releases the GIL, as the loop does."""
    if not _STARTS:
        _STARTS.append(njit(_START_SIGNATURE, cache=True, nogil=True)(_start_parameters))
    return _STARTS[0]


def loaded() -> bool:
    """Whether :func:`em_loop` has compiled or loaded the loop in this process."""
    return bool(_COMPILED)


def em_loop():
    """:func:`_em_loop` compiled with its one signature on first use (or loaded from
    numba's cache).

    Called inside :func:`kmix.kernels.compiled.threads`, so that numba's thread
    pool has started before the loop's machine code, which calls the parallel
    pass, is compiled or loaded: once, loading it at import ended in numba's
    "Symbol not found: allocate_sched" abort (not reproduced since). Compiling
    here keeps that order whatever was imported first. The loop releases the GIL,
    so that short runs on small data (model selection's cells) may run side by
    side on threads.
    """
    if not _COMPILED:
        _COMPILED.append(njit(_LOOP_SIGNATURE, cache=True, nogil=True)(_em_loop))
    return _COMPILED[0]
