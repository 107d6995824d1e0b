"""Gaussian-mixture kernels: log-densities, the E-step, sufficient statistics, the M-step.

A fit is a sum of per-block statistics followed by an update:

* :func:`e_step` turns one block of rows into log p(x) and responsibilities,
  in log space (log-sum-exp), through Cholesky factors of the precisions
  (:func:`weighted_log_prob`: the weighted log-densities of any X, for predictions);
* :func:`block_statistics` sums the weighted responsibilities, first moments and
  second moments of that block into a :class:`GMMStats`;
* :func:`merge_statistics` adds the statistics of two blocks (:func:`resp_statistics`
  does both for given responsibilities, as an initialisation needs);
* :func:`update` turns the merged statistics into new weights, means,
  covariances and precision Cholesky factors.

Second moments are taken about a fixed shift per component (the means the E-step
used). The shift is the same for every block, so statistics merge by plain
addition, and it lies close to the new mean, so the final
"second moment minus squared mean" subtracts two small numbers instead of two
large ones: no catastrophic cancellation, and one pass over the data per
iteration where the textbook M-step (centred at the new means) needs two. The
result is the textbook one up to rounding; from the same start, fits agree with
scikit-learn's two-pass M-step to about 1e-13. For "diag" and "spherical" the
elementwise squares are formed about the mean of the shifts and moved to each
shift algebraically, which turns k passes into two matrix products.

The covariance layouts and their factors are in :mod:`.gmm_covariances` (their
names are available here too). Nothing here validates its inputs; :class:`kmix.GaussianMixture` and
:mod:`kmix.textbook` do.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.linalg

from .gmm_covariances import (
    COVARIANCE_NAMES,
    COVARIANCE_TYPES,
    SCIKIT_LEARN_MODELS,
    compute_precision_cholesky,
    covariances_from_precision_cholesky,
    full_covariances,
    layout_of,
    log_det_precision_cholesky,
    model_of,
    n_parameters,
    precision_cholesky_from_precisions,
)
from .gmm_models import STATISTICS, model_covariances

__all__ = [
    "GMMStats",
    "COVARIANCE_TYPES",
    "COVARIANCE_NAMES",
    "layout_of",
    "model_of",
    "LOG_2PI",
    "gaussian_log_density",
    "compute_precision_cholesky",
    "precision_cholesky_from_precisions",
    "covariances_from_precision_cholesky",
    "full_covariances",
    "log_det_precision_cholesky",
    "estimate_log_gaussian_prob",
    "log_prob_resp",
    "log_of_weights",
    "weighted_log_prob",
    "mixture_log_density",
    "e_step",
    "block_statistics",
    "merge_statistics",
    "resp_statistics",
    "estimate_parameters",
    "model_parameters",
    "update",
    "n_parameters",
]

LOG_2PI = math.log(2.0 * math.pi)

# Added to every component's total responsibility: an empty component then gets
# a finite mean and a covariance of reg_covar instead of 0/0. It is the same
# constant scikit-learn adds, so fits from the same start agree to rounding.
_NK_FLOOR = 10.0 * np.finfo(np.float64).eps
# The smallest normal float64.
_TINY = np.finfo(np.float64).tiny


# Up to this many features, the full second moments of all components come from
# one product of the responsibilities with the rows' outer products (d² values a
# row); above it, from one weighted product per component.
OUTER_PRODUCT_MAX_FEATURES = 16


def block_rows(n_components: int, n_features: int, itemsize: int = 8) -> int:
    """Rows per block so that a block's temporaries stay within about 1 MiB.

    Per row the E-step holds k·d projected values and k log-densities, the
    M-step d² outer-product entries and k weighted responsibilities; keeping
    them in cache is worth more than the per-block overhead saved by bigger
    blocks.
    """
    k, d = n_components, n_features
    outer = d * d if d <= OUTER_PRODUCT_MAX_FEATURES else d
    per_row = (k * d + outer + 2 * k + d) * itemsize
    rows = 2**20 // max(per_row, 1)
    if rows < 256:
        # Many features and components: 1 MiB holds too few rows for BLAS to run
        # its products efficiently; take 1024 and leave the cache to L3.
        return 1024
    return int(min(65536, rows))


class GMMStats(NamedTuple):
    """Sufficient statistics of one block of data for one EM iteration.

    With ``w`` the sample weights, ``r`` the responsibilities and ``c_k`` the
    shift of component k (``shift[k]``):

    weight_sums : ndarray (k,) float64
        N_k = Σ_i w_i r_ik.
    sums : ndarray (k, d) float64
        Σ_i w_i r_ik (x_i - c_k).
    second_moments : ndarray, float64
        ``"full"``: (k, d, d), Σ_i w_i r_ik (x_i - c_k)(x_i - c_k)ᵀ;
        ``"tied"``: (d, d), the same summed over k;
        ``"diag"`` and ``"spherical"``: (k, d), Σ_i w_i r_ik (x_i - c_k)², elementwise.
    shift : ndarray (k, d) float64
        The c_k. Only statistics with the same shift may be merged.
    log_likelihood : float
        Σ_i w_i log p(x_i) under the parameters the E-step used.
    total_weight : float
        Σ_i w_i.

    The statistics of ``X[:m]`` merged with those of ``X[m:]`` equal those of ``X``.
    """

    weight_sums: np.ndarray
    sums: np.ndarray
    second_moments: np.ndarray
    shift: np.ndarray
    log_likelihood: float
    total_weight: float


# --- densities ------------------------------------------------------------------


def gaussian_log_density(X: np.ndarray, mean: np.ndarray, covariance_cholesky: np.ndarray) -> np.ndarray:
    """log N(x | mean, Σ) for every row of X, with Σ = L Lᵀ given by its Cholesky factor.

    Parameters
    ----------
    X : ndarray (n, d)
    mean : ndarray (d,)
    covariance_cholesky : ndarray (d, d)
        Lower-triangular L with positive diagonal.

    Returns
    -------
    ndarray (n,), float64 for float64 input

    Notes
    -----
    z = L⁻¹(x - μ) by a triangular solve (no inverse is formed), so the squared
    Mahalanobis distance is ‖z‖² and log det Σ = 2 Σ_j log L_jj:
    log N = -½ (d log 2π + log det Σ + ‖z‖²).
    """
    d = X.shape[1]
    z = scipy.linalg.solve_triangular(covariance_cholesky, (X - mean).T, lower=True, check_finite=False)
    mahalanobis = np.einsum("ij,ij->j", z, z)
    log_det = 2.0 * np.sum(np.log(np.diagonal(covariance_cholesky)))
    return -0.5 * (d * LOG_2PI + log_det + mahalanobis)


def estimate_log_gaussian_prob(
    X: np.ndarray, means: np.ndarray, precisions_cholesky: np.ndarray, covariance_type: str
) -> np.ndarray:
    """log N(x_i | μ_k, Σ_k) for one block, shape (n, k), in X's dtype.

    Memory O(n·(k + d)), never n × k × d.

    "full": one product of the block (centred at the mean a of the means) with
    all components' factors side by side; "tied": one product with the shared
    factor and one with the means. Centring at a keeps the cancellation in
    z U_k - m_k U_k at eps·‖m_k U_k‖, the size the fit can resolve anyway.

    "diag" and "spherical": with p_k = u_k² the precisions, z = x - a centred
    at the mean a of the means and m_k = μ_k - a,
    Σ_j p_kj (z_j - m_kj)² = (z²)·p_k - 2 z·(m_k p_k) + m_k²·p_k: two matrix
    products for all components instead of k passes over the block. Centring
    at a keeps the cancellation at eps·(‖μ_k - a‖/σ)², far below what the
    fit can resolve.
    """
    n, d = X.shape
    k = means.shape[0]
    log_det = log_det_precision_cholesky(precisions_cholesky, covariance_type, d)
    if covariance_type in ("diag", "spherical"):
        precisions = precisions_cholesky**2
        if covariance_type == "spherical":
            precisions = np.repeat(precisions[:, None], d, axis=1)
        anchor = means.mean(axis=0)
        offsets = means - anchor
        centred = X - anchor
        out = np.square(centred) @ precisions.T
        out -= 2.0 * (centred @ (offsets * precisions).T)
        out += np.sum(offsets**2 * precisions, axis=1)
        np.maximum(out, 0.0, out=out)  # a sum of squares: negative only by rounding
    else:
        # Rows centred at the mean a of the means (z = x - a, m_k = μ_k - a), then
        # y_k = z U_k - m_k U_k for every component from ONE product of the block
        # with all factors side by side, (n, d) @ (d, k·d): a wide GEMM instead of
        # k thin ones and k centred copies of the block.
        anchor = means.mean(axis=0)
        centred = X - anchor.astype(X.dtype, copy=False)
        offsets = (means - anchor).astype(X.dtype, copy=False)
        if covariance_type == "full":
            factors = precisions_cholesky.astype(X.dtype, copy=False)  # (k, d, d)
            # The rows get a last column of ones and the factors a last row of
            # -m_k U_k: the product then subtracts the offsets itself, with no
            # second pass over its (n, k·d) result.
            side_by_side = np.empty((d + 1, k * d), dtype=X.dtype)
            side_by_side[:d] = factors.transpose(1, 0, 2).reshape(d, k * d)
            side_by_side[d] = -np.einsum("ki,kij->kj", offsets, factors).reshape(k * d)
            augmented = np.empty((n, d + 1), dtype=X.dtype)
            augmented[:, :d] = centred
            augmented[:, d] = 1.0
            y = augmented @ side_by_side  # (n, k·d)
            y3 = y.reshape(n, k, d)
            out = np.einsum("nkd,nkd->nk", y3, y3)
        else:
            # One factor U for all: ‖zU - m_kU‖² = ‖zU‖² - 2 (zU)·(m_kU) + ‖m_kU‖².
            factor = precisions_cholesky.astype(X.dtype, copy=False)
            y = centred @ factor
            v = offsets @ factor
            out = y @ (-2.0 * v.T)
            out += np.einsum("ij,ij->i", y, y)[:, None]
            out += np.einsum("ij,ij->i", v, v)
            np.maximum(out, 0.0, out=out)  # a sum of squares: negative only by rounding
    # log N = -½ (d log 2π + ‖y‖²) + log det U, as log det U = -½ log det Σ.
    out *= -0.5
    out += log_det - 0.5 * d * LOG_2PI
    return out


def log_prob_resp(weighted_log_prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-sum-exp over components and the responsibilities.

    Parameters
    ----------
    weighted_log_prob : ndarray (n, k)
        log π_k + log N(x_i | μ_k, Σ_k). Not modified.

    Returns
    -------
    log_norm : ndarray (n,)
        log p(x_i) = log Σ_k exp(weighted_log_prob[i, k]).
    resp : ndarray (n, k)
        r_ik = exp(weighted_log_prob[i, k] - log_norm[i]); rows sum to 1.

    Notes
    -----
    The row maximum is subtracted before exponentiating, so the largest term
    is exp(0) = 1: finite even where every density underflows to 0 in float64.
    """
    row_max = np.max(weighted_log_prob, axis=1, keepdims=True)
    row_max[~np.isfinite(row_max)] = 0.0
    shifted = weighted_log_prob - row_max
    with np.errstate(under="ignore"):
        np.exp(shifted, out=shifted)
    total = shifted.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        log_norm = (np.log(total) + row_max)[:, 0]
    shifted /= total
    return log_norm, shifted


def log_of_weights(weights: np.ndarray) -> np.ndarray:
    """log π_k, shape (k,): a zero weight (a user may give one) gives -inf, silently."""
    with np.errstate(divide="ignore"):
        return np.log(weights)


def weighted_log_prob(X: np.ndarray, means: np.ndarray, precisions_cholesky: np.ndarray,
                      log_weights: np.ndarray, covariance_type: str) -> np.ndarray:
    """log π_k + log N(x_i | μ_k, Σ_k), shape (n, k), in X's dtype.

    Computed :func:`block_rows` rows at a time, so the temporaries of
    :func:`estimate_log_gaussian_prob` stay small whatever n is.
    """
    out = np.empty((X.shape[0], means.shape[0]), dtype=X.dtype)
    step = block_rows(means.shape[0], X.shape[1], X.dtype.itemsize)
    for start in range(0, X.shape[0], step):
        rows = slice(start, min(start + step, X.shape[0]))
        out[rows] = estimate_log_gaussian_prob(X[rows], means, precisions_cholesky, covariance_type)
        out[rows] += log_weights
    return out


def mixture_log_density(X: np.ndarray, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray,
                        covariance_type: str = "full") -> np.ndarray:
    """log p(x) = log Σ_k π_k N(x | μ_k, Σ_k) of every row of X, shape (n,), from the
    covariances (factorised here; a NumericalError names a component that is not
    positive definite)."""
    factors = compute_precision_cholesky(covariances, covariance_type)
    return log_prob_resp(weighted_log_prob(X, means, factors, log_of_weights(weights), covariance_type))[0]



def e_step(
    X: np.ndarray,
    means: np.ndarray,
    precisions_cholesky: np.ndarray,
    log_weights: np.ndarray,
    covariance_type: str,
) -> tuple[np.ndarray, np.ndarray]:
    """E-step on one block: (log p(x_i) (n,), responsibilities (n, k))."""
    weighted = estimate_log_gaussian_prob(X, means, precisions_cholesky, covariance_type)
    weighted += log_weights.astype(weighted.dtype, copy=False)
    return log_prob_resp(weighted)


# --- statistics and the M-step --------------------------------------------------------


def block_statistics(
    X: np.ndarray,
    sample_weight: np.ndarray,
    resp: np.ndarray,
    shift: np.ndarray,
    covariance_type: str,
    log_norm: np.ndarray | None = None,
) -> GMMStats:
    """Sufficient statistics of one block (see :class:`GMMStats`), in float64.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64
    sample_weight : ndarray (n,)
    resp : ndarray (n, k)
        Responsibilities of the block's rows.
    shift : ndarray (k, d)
        Point about which each component's moments are taken; use the same for
        every block of one pass (the means the E-step used are a good choice).
    covariance_type : {"full", "tied", "diag", "spherical"}
    log_norm : ndarray (n,), optional
        log p(x_i) from the E-step; its weighted sum becomes ``log_likelihood``
        (0 when omitted).
    """
    X = X.astype(np.float64, copy=False)
    weight = sample_weight.astype(np.float64, copy=False)
    shift = np.asarray(shift, dtype=np.float64)
    # w_i r_ik: the weight each row gives each component.
    weighted_resp = resp.astype(np.float64, copy=False) * weight[:, None]
    # Subnormal weights (a row far from a component) change no sum in float64 but
    # make every product they enter many times slower: flushed to zero.
    weighted_resp[weighted_resp < _TINY] = 0.0
    weight_sums = weighted_resp.sum(axis=0)
    k, d = shift.shape
    # Σ_i w r (x - c_k) = (w r)ᵀ X - N_k c_k: one product for all components.
    sums = weighted_resp.T @ X - weight_sums[:, None] * shift
    if covariance_type in ("full", "tied"):
        # Second moments about c_k through the mean a of the shifts, with
        # z = x - a, m_k = c_k - a and s_k = Σ w r z:
        #   Σ w r (z - m_k)(z - m_k)ᵀ = Σ w r z zᵀ - s_k m_kᵀ - m_k s_kᵀ + N_k m_k m_kᵀ.
        # For few features the first term of all components is ONE product,
        # (k, n) @ (n, d²), of the weighted responsibilities with the rows' outer
        # products; for many, one weighted (d, n) @ (n, d) product per component.
        anchor = shift.mean(axis=0)
        offsets = shift - anchor
        centred = X - anchor
        first = weighted_resp.T @ centred  # (k, d): s_k
        if covariance_type == "full":
            if d > OUTER_PRODUCT_MAX_FEATURES:
                # Many features: the d² outer products per row would outweigh the
                # products themselves. Instead the block's rows weighted for every
                # component side by side, (n, k·d), and ONE product zᵀ [w r_1 z, ...,
                # w r_k z] of shape (d, k·d): a wide GEMM instead of k small ones.
                n_rows = X.shape[0]
                weighted = (weighted_resp[:, :, None] * centred[:, None, :]).reshape(n_rows, k * d)
                second = np.ascontiguousarray((centred.T @ weighted).reshape(d, k, d).transpose(1, 0, 2))
            else:
                outer = (centred[:, :, None] * centred[:, None, :]).reshape(X.shape[0], d * d)
                second = (weighted_resp.T @ outer).reshape(k, d, d)
            cross = first[:, :, None] * offsets[:, None, :]
            second -= cross
            second -= cross.transpose(0, 2, 1)
            second += weight_sums[:, None, None] * offsets[:, :, None] * offsets[:, None, :]
        else:
            # Tied: one weighted (d, n) @ (n, d) product, the weights summed over k.
            second = (centred * weighted_resp.sum(axis=1)[:, None]).T @ centred
            cross = first.T @ offsets
            second -= cross
            second -= cross.T
            second += (offsets * weight_sums[:, None]).T @ offsets
    else:
        # Elementwise squares about c_k through the mean a of the shifts, with
        # z = x - a and m_k = c_k - a: Σ w r (z - m_k)² = (w r)ᵀz² - 2 m_k (w r)ᵀz + N_k m_k²,
        # two products for all components (see estimate_log_gaussian_prob).
        anchor = shift.mean(axis=0)
        offsets = shift - anchor
        centred = X - anchor
        second = weighted_resp.T @ np.square(centred)
        second -= 2.0 * offsets * (weighted_resp.T @ centred)
        second += weight_sums[:, None] * offsets**2
        np.maximum(second, 0.0, out=second)
    log_likelihood = 0.0 if log_norm is None else float(weight @ log_norm.astype(np.float64, copy=False))
    return GMMStats(weight_sums, sums, second, shift, log_likelihood, float(weight.sum()))


def merge_statistics(a: GMMStats, b: GMMStats) -> GMMStats:
    """Statistics of the union of two blocks taken with the same shift."""
    return GMMStats(
        a.weight_sums + b.weight_sums,
        a.sums + b.sums,
        a.second_moments + b.second_moments,
        a.shift,
        a.log_likelihood + b.log_likelihood,
        a.total_weight + b.total_weight,
    )


def resp_statistics(X: np.ndarray, sample_weight: np.ndarray, resp: np.ndarray, shift: np.ndarray,
                    covariance_type: str) -> GMMStats:
    """Statistics of given responsibilities (n, k) about ``shift``, over X.

    :func:`block_statistics` of blocks of :func:`block_rows` rows, merged in block
    order, starting from the statistics of an empty block: X without rows gives
    statistics that merge as zero. No log-likelihood (it is 0): the
    responsibilities do not come from an E-step.
    """
    k = resp.shape[1]
    stats = block_statistics(X[:0], sample_weight[:0], resp[:0], shift, covariance_type)
    step = block_rows(k, X.shape[1], X.dtype.itemsize)
    for start in range(0, X.shape[0], step):
        rows = slice(start, min(start + step, X.shape[0]))
        block = block_statistics(X[rows], sample_weight[rows], resp[rows], shift, covariance_type)
        stats = merge_statistics(stats, block)
    return stats


def estimate_parameters(
    stats: GMMStats, covariance_type: str, reg_covar: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The M-step from merged statistics: weights (k,), means (k, d), covariances.

    Returns float64 arrays; covariances have the layout of ``covariance_type``,
    with ``reg_covar`` added to their diagonals.

    Notes
    -----
    With Ñ_k = N_k + 10 eps, m_k = S1_k / Ñ_k and μ_k = c_k + m_k,
    Σ_i w r (x - μ_k)(x - μ_k)ᵀ = S2_k - (2 Ñ_k - N_k) m_k m_kᵀ exactly, so
    Σ_k = S2_k / Ñ_k - (2 - N_k/Ñ_k) m_k m_kᵀ + reg_covar·I. As the shift is
    the previous mean, m_k is the (small) move of the mean and the subtraction
    loses little. Weights are Ñ_k / Σ Ñ.
    """
    nk = stats.weight_sums + _NK_FLOOR
    offsets = stats.sums / nk[:, None]
    means = stats.shift + offsets
    weights = nk / nk.sum()
    factor = 2.0 - stats.weight_sums / nk  # ≈ 1; exact form of the correction
    if covariance_type == "full":
        covariances = stats.second_moments / nk[:, None, None]
        covariances -= (factor[:, None, None] * offsets[:, :, None]) * offsets[:, None, :]
        d = means.shape[1]
        covariances[:, np.arange(d), np.arange(d)] += reg_covar
    elif covariance_type == "tied":
        correction = (offsets * (factor * nk)[:, None]).T @ offsets
        covariances = (stats.second_moments - correction) / nk.sum()
        covariances[np.diag_indices_from(covariances)] += reg_covar
    else:
        variances = stats.second_moments / nk[:, None] - factor[:, None] * offsets**2
        # A variance is a mean of squares: below zero only by rounding.
        np.maximum(variances, 0.0, out=variances)
        variances += reg_covar
        covariances = variances if covariance_type == "diag" else variances.mean(axis=1)
    return weights, means, covariances


def model_parameters(
    stats: GMMStats, covariance_type: str, reg_covar: float, previous: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The M-step of any covariance_type (scikit-learn's four or mclust's fourteen):
    weights (k,), means (k, d) and covariances in its layout, float64.

    ``stats`` are in the layout of ``covariance_type``. scikit-learn's four, and
    their mclust names, take :func:`estimate_parameters`. The other models take
    each component's scatter S_k + reg_covar·I (S_k = W_k / Ñ_k, from the same
    statistics) and fit the model's constraint to it
    (:func:`kmix.kernels.gmm_models.model_covariances`): for the four this is
    exactly scikit-learn's regularisation, and every model's covariances keep their
    structure. ``previous`` (covariances in the layout, of the iteration before)
    starts the models whose M-step iterates, so that it never lowers the
    expected complete-data log-likelihood.
    """
    layout = layout_of(covariance_type)
    model = model_of(covariance_type)
    if model in SCIKIT_LEARN_MODELS.values():
        return estimate_parameters(stats, layout, reg_covar)
    # EII, EEI, VEI and EVI are stored as spherical or diag: their second moments
    # are the per-component diagonals either way.
    weights, means, scatter = estimate_parameters(stats, STATISTICS[model], reg_covar)
    covariances, _ = model_covariances(model, stats.weight_sums + _NK_FLOOR, scatter, start=previous)
    return weights, means, covariances


def update(
    stats: GMMStats, covariance_type: str, reg_covar: float, dtype: np.dtype | type = np.float64,
    previous: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """New weights, means, covariances and precision Cholesky factors, in ``dtype``
    (see :func:`model_parameters`).

    The factors are computed in float64 before the cast, so float32 fits lose no
    accuracy in the factorisation.

    Raises
    ------
    NumericalError
        If a covariance is not positive definite, naming the component.
    """
    weights, means, covariances = model_parameters(stats, covariance_type, reg_covar, previous)
    precisions_cholesky = compute_precision_cholesky(covariances, layout_of(covariance_type))
    return (
        weights.astype(dtype, copy=False),
        means.astype(dtype, copy=False),
        covariances.astype(dtype, copy=False),
        precisions_cholesky.astype(dtype, copy=False),
    )
