"""Whole EM passes over a block of rows: the E-step and the M-step's statistics together.

Two fast paths of :func:`kmix.kernels.gmm.e_step` followed by
:func:`kmix.kernels.gmm.block_statistics` (statistics about the current means):

- :func:`compiled_statistics`: float64 or float32 data with up to ``COMPILED_MAX_FEATURES``
  features (full, diagonal or spherical covariances), one compiled loop over tiles
  of rows (:mod:`kmix.kernels._gmm_compiled`);
- :func:`full_block_moments`: float64 or float32 data, full
  covariances with more features (up to ``FULL_TRIANGLE_MAX_FEATURES``), BLAS
  products that share the rows' outer products between the two steps; a pass
  merges the blocks' raw moments (:func:`merge_full_moments`) and turns them into
  statistics once (:func:`full_statistics`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .gmm import (
    LOG_2PI,
    GMMStats,
    log_det_precision_cholesky,
    triangle_products,
    unpack_triangles,
)


def _gmm_compiled():
    from . import _gmm_compiled as compiled  # numba is imported on first use only

    return compiled

__all__ = [
    "COMPILED_MAX_FEATURES",
    "compiled_applies",
    "compiled_statistics",
    "FullPassTerms",
    "full_pass_terms",
    "FullMoments",
    "full_block_moments",
    "merge_full_moments",
    "full_statistics",
    "full_block_rows",
    "full_triangle_applies",
    "FULL_TRIANGLE_MAX_FEATURES",
]


class FullPassTerms(NamedTuple):
    """What :func:`full_block_moments` needs of the parameters, computed once a pass."""

    means: np.ndarray  # (k, d) float64, the shift of the statistics
    anchor: np.ndarray  # (d,) a, the mean of the means
    offsets: np.ndarray  # (k, d) m_k = μ_k - a
    packed: np.ndarray  # (t, k): P_k's upper triangle, off-diagonal entries doubled
    moved: np.ndarray  # (d, k): -2 P_k m_k
    constant: np.ndarray  # (k,) m_kᵀ P_k m_k
    log_constant: np.ndarray  # (k,) log π_k + log det U_k - ½ d log 2π


def full_pass_terms(means: np.ndarray, precisions_cholesky: np.ndarray,
                    log_weights: np.ndarray) -> FullPassTerms:
    """The per-pass terms of :func:`full_block_moments` (full covariances)."""
    means = np.asarray(means, dtype=np.float64)
    d = means.shape[1]
    anchor = means.mean(axis=0)
    offsets = means - anchor
    factors = np.asarray(precisions_cholesky, dtype=np.float64)
    precisions = factors @ factors.transpose(0, 2, 1)  # (k, d, d), P = U Uᵀ
    rows, cols = np.triu_indices(d)
    packed = precisions[:, rows, cols] * np.where(rows == cols, 1.0, 2.0)
    moved = np.einsum("kij,kj->ki", precisions, offsets)  # P_k m_k
    constant = np.einsum("ki,ki->k", offsets, moved)
    log_constant = (log_det_precision_cholesky(factors, "full", d) - 0.5 * d * LOG_2PI
                    + np.asarray(log_weights, dtype=np.float64))
    return FullPassTerms(means, anchor, offsets, np.ascontiguousarray(packed.T),
                         np.ascontiguousarray(-2.0 * moved.T), constant, log_constant)


class FullMoments(NamedTuple):
    """Raw moments of a block about the anchor a (:class:`FullPassTerms`), z = x - a;
    merged by adding, turned into :class:`GMMStats` once a pass (:func:`full_statistics`)."""

    weight_sums: np.ndarray  # (k,) N_k = Σ w r
    first: np.ndarray  # (k, d) Σ w r z
    packed: np.ndarray  # (k, t) Σ w r z zᵀ, upper triangles in the order of triangle_products
    log_likelihood: float
    total_weight: float


def merge_full_moments(a: FullMoments, b: FullMoments) -> FullMoments:
    """The moments of the union of two blocks (the same terms)."""
    return FullMoments(a.weight_sums + b.weight_sums, a.first + b.first, a.packed + b.packed,
                       a.log_likelihood + b.log_likelihood, a.total_weight + b.total_weight)


def full_block_moments(X: np.ndarray, sample_weight: np.ndarray, terms: FullPassTerms,
                       unit_weight: bool = False) -> FullMoments:
    """E-step and raw moments of one block, full covariances, many features; all in
    float64 (float32 rows are widened as they are centred).

    Both steps read the rows' outer products (upper triangles, d(d+1)/2 a row) of
    z = x - a, a the mean of the means, which halves the flops of a product
    against every factor side by side followed by one with every component's
    weighted rows. With m_k = μ_k - a and P_k = U_k U_kᵀ, the E-step's
    ‖(z - m_k) U_k‖² = zᵀP_k z - 2 zᵀP_k m_k + m_kᵀP_k m_k: its first term for all
    components is one product of the outer products with the packed P_k; the
    M-step's Σ w r z zᵀ is one product of the responsibilities with them. The
    expanded form loses to cancellation about eps·‖z U_k‖²: far below what the fit
    resolves for points near component k, and irrelevant for far ones (their
    responsibility underflows). ``unit_weight``: every weight is 1.
    """
    n = X.shape[0]
    k = terms.packed.shape[1]
    compiled = _gmm_compiled()
    centred = X - terms.anchor
    triangle = triangle_products(centred)
    quadratic = triangle @ terms.packed
    linear = centred @ terms.moved
    weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
    weight_sums = np.empty(k)
    tops = np.empty(n)
    # quadratic becomes the log-densities less the row maxima, their exponentials,
    # then the weighted responsibilities w_i r_ik.
    compiled.full_block_log_values(quadratic, linear, terms.constant, terms.log_constant, tops)
    with np.errstate(under="ignore"):
        np.exp(quadratic, out=quadratic)
    log_likelihood = compiled.full_block_responsibilities(quadratic, tops, weight, unit_weight,
                                                          weight_sums)
    return FullMoments(weight_sums, quadratic.T @ centred, quadratic.T @ triangle,
                       float(log_likelihood), float(weight.sum()))


def full_statistics(moments: FullMoments, terms: FullPassTerms) -> GMMStats:
    """:class:`GMMStats` about the means from a pass's merged raw moments.

    With s_k = Σ w r z: Σ w r (x - μ_k) = s_k - N_k m_k and
    Σ w r (z - m_k)(z - m_k)ᵀ = Σ w r z zᵀ - s_k m_kᵀ - m_k s_kᵀ + N_k m_k m_kᵀ.
    """
    d = terms.offsets.shape[1]
    nk, first, offsets = moments.weight_sums, moments.first, terms.offsets
    second = unpack_triangles(moments.packed, d)
    cross = first[:, :, None] * offsets[:, None, :]
    second -= cross
    second -= cross.transpose(0, 2, 1)
    second += nk[:, None, None] * offsets[:, :, None] * offsets[:, None, :]
    sums = first - nk[:, None] * offsets
    return GMMStats(nk, sums, second, terms.means, moments.log_likelihood, moments.total_weight)


# Above this many features the rows' outer products (d(d+1)/2 a row, 64 rows a
# block at least) would take more than about 16 MiB a block: the pass then takes
# the E-step's and the M-step's products one after the other instead.
FULL_TRIANGLE_MAX_FEATURES = 256


def full_triangle_applies(X: np.ndarray, covariance_type: str) -> bool:
    """Whether the full pass through the rows' outer products handles this data."""
    return (covariance_type == "full" and X.dtype in (np.float64, np.float32) and X.ndim == 2
            and COMPILED_MAX_FEATURES < X.shape[1] <= FULL_TRIANGLE_MAX_FEATURES)


def full_block_rows(n_features: int) -> int:
    """Rows per block of :func:`full_block_moments`: its outer products (d(d+1)/2 a
    row) within about 8 MiB, so that they are still in cache (L3) when the M-step's
    product reads them after the E-step's. Measured at 64 features (two threads):
    blocks of 512 rows, 8 MiB, beat 256 and 1024 by about 10 %."""
    t = n_features * (n_features + 1) // 2
    return int(min(4096, max(64, 2**23 // (8 * t) // 16 * 16)))


# Up to this many features (float64 or float32 data; full, diagonal or spherical covariances)
# a pass is one compiled loop over tiles of rows (E-step and statistics together);
# above it, BLAS products per block of rows do the bulk of the work.
COMPILED_MAX_FEATURES = 16
_COMPILED_CHUNK_ROWS = 2048


def compiled_applies(X: np.ndarray, covariance_type: str) -> bool:
    """Whether :func:`compiled_statistics` handles this data and covariance type."""
    return (X.dtype in (np.float64, np.float32) and X.ndim == 2 and 0 < X.shape[1] <= COMPILED_MAX_FEATURES
            and covariance_type in ("full", "diag", "spherical"))


def compiled_statistics(
    X: np.ndarray,
    sample_weight: np.ndarray,
    means: np.ndarray,
    precisions_cholesky: np.ndarray,
    log_weights: np.ndarray,
    covariance_type: str,
    *,
    unit_weight: bool = False,
    parallel: bool = True,
) -> GMMStats:
    """E-step and statistics of X in one compiled pass, about the current means.

    The statistics of :func:`e_step` followed by :func:`block_statistics` with
    ``shift = means`` (the same numbers up to rounding; float32 rows are widened
    to float64 as they are read, so float32 data gets float64 arithmetic), on all
    cores (one thread unless ``parallel``). See :mod:`kmix.kernels._gmm_compiled`.
    """
    from . import _compiled, _gmm_compiled  # numba is imported on first use only

    # float32 rows are read as they are and widened in the loop: all arithmetic is float64.
    X = np.ascontiguousarray(X, dtype=X.dtype if X.dtype == np.float32 else np.float64)
    n, d = X.shape
    means = np.ascontiguousarray(means, dtype=np.float64)
    k = means.shape[0]
    weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
    log_det = log_det_precision_cholesky(precisions_cholesky.astype(np.float64), covariance_type, d)
    constants = np.ascontiguousarray(log_weights, dtype=np.float64) + log_det - 0.5 * d * LOG_2PI
    diagonal = covariance_type != "full"
    if diagonal:
        factors_diag = np.ascontiguousarray(
            np.broadcast_to(np.asarray(precisions_cholesky, dtype=np.float64).reshape(k, -1), (k, d)))
        factors = np.zeros((1, d, d))
    else:
        factors = np.ascontiguousarray(precisions_cholesky, dtype=np.float64)
        factors_diag = np.zeros((1, d))
    weight_sums = np.empty(k)
    sums = np.empty((k, d))
    second_full = np.empty((k, d, d) if not diagonal else (1, 1, 1))
    second_diag = np.empty((k, d) if diagonal else (1, 1))
    tile = int(min(256, max(64, 2**15 // (8 * (k + 2 * d + 4)) // 16 * 16)))
    chunks = -(-n // _COMPILED_CHUNK_ROWS)
    with _compiled.threads_for(chunks if parallel else 1):
        log_likelihood = _gmm_compiled.em_pass(
            X, weight, unit_weight, means, factors, factors_diag, diagonal, constants,
            _COMPILED_CHUNK_ROWS, tile, weight_sums, sums, second_full, second_diag,
        )
    second = second_full if not diagonal else second_diag
    return GMMStats(weight_sums, sums, second, means, float(log_likelihood), float(weight.sum()))
