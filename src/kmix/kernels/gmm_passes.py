"""Whole EM passes over a block of rows: the E-step and the M-step's statistics together.

Two fast paths of :func:`kmix.kernels.gmm.e_step` followed by
:func:`kmix.kernels.gmm.block_statistics` (statistics about the current means):

- :func:`compiled_statistics`: float64 or float32 data with up to ``COMPILED_MAX_FEATURES``
  features (full, diagonal or spherical covariances), one compiled loop over tiles
  of rows (:mod:`kmix.kernels.compiled.gmm_em`);
- :func:`full_block_moments`: float64 or float32 data, full
  covariances with more features (up to ``FULL_TRIANGLE_MAX_FEATURES``), one
  product of the rows' outer products with the parameters for the E-step and one
  with the responsibilities for the M-step (compiled products,
  :mod:`kmix.kernels.compiled.dots`); a pass merges the blocks' raw moments
  (:func:`merge_full_moments`) and turns them into statistics once
  (:func:`full_statistics`).

:func:`em_pass_plan` is the one entry point: it picks the path for a pass and
says how to run it over blocks of rows (the backends own the blocks and threads).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from . import gmm as gk
from .compiled import threads
from .gmm import LOG_2PI, GMMStats, log_det_precision_cholesky

__all__ = [
    "COMPILED_MAX_FEATURES",
    "compiled_applies",
    "compiled_statistics",
    "compiled_tile_rows",
    "FullPassTerms",
    "full_pass_terms",
    "FullMoments",
    "full_block_moments",
    "merge_full_moments",
    "full_statistics",
    "full_block_rows",
    "full_triangle_applies",
    "FULL_TRIANGLE_MAX_FEATURES",
    "row_terms",
    "unpack_triangles",
    "EMPassPlan",
    "em_pass_plan",
    "labels_statistics",
    "random_resp_statistics",
    "predict_block",
    "predict_proba_block",
    "score_samples_block",
]


# --- the rows' outer products (the full pass for many features) ---------------------


def row_terms(Z: np.ndarray) -> np.ndarray:
    """(n, d(d+1)/2 + d): each row's products z_a z_b, a <= b (row a of the triangle
    after row a - 1), then the row itself (compiled: one pass, off the GIL)."""
    from .compiled import gmm_em  # numba is imported on first use only

    Z = np.ascontiguousarray(Z, dtype=np.float64)
    n, d = Z.shape
    out = np.empty((n, d * (d + 1) // 2 + d))
    gmm_em.row_terms(Z, out)
    return out


@functools.lru_cache(maxsize=32)
def _triangle_indices(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the upper and of the lower triangle of a d x d matrix, in the
    order of :func:`row_terms`."""
    rows, cols = np.triu_indices(d)
    return rows * d + cols, cols * d + rows


def unpack_triangles(packed: np.ndarray, d: int) -> np.ndarray:
    """(k, d(d+1)/2) upper triangles, in the order of :func:`row_terms`, as
    (k, d, d) symmetric matrices (float64)."""
    upper, lower = _triangle_indices(d)
    full = np.empty((packed.shape[0], d * d))
    full[:, upper] = packed
    full[:, lower] = packed
    return full.reshape(packed.shape[0], d, d)


# --- the full pass ---------------------------------------------------------------------


class FullPassTerms(NamedTuple):
    """What :func:`full_block_moments` needs of the parameters, computed once a pass."""

    means: np.ndarray  # (k, d) float64, the shift of the statistics
    anchor: np.ndarray  # (d,) a, the mean of the means
    offsets: np.ndarray  # (k, d) m_k = μ_k - a
    # (t, k'): column k is P_k's upper triangle, off-diagonal entries doubled, then -2 P_k m_k
    packed: np.ndarray
    constant: np.ndarray  # (k,) m_kᵀ P_k m_k
    log_constant: np.ndarray  # (k,) log π_k + log det U_k - ½ d log 2π


def _padded(count: int, multiple: int) -> int:
    return -(-count // multiple) * multiple


def full_pass_terms(means: np.ndarray, precisions_cholesky: np.ndarray,
                    log_weights: np.ndarray) -> FullPassTerms:
    """The per-pass terms of :func:`full_block_moments` (full covariances). The
    packed terms, t = d(d+1)/2 + d a component in the order of :func:`row_terms`,
    are padded with zero columns to k', the multiple of the products' vectors
    (:mod:`kmix.kernels.compiled.dots`) at or above k."""
    from .compiled.dots import LANES

    means = np.asarray(means, dtype=np.float64)
    k, d = means.shape
    anchor = means.mean(axis=0)
    offsets = means - anchor
    factors = np.asarray(precisions_cholesky, dtype=np.float64)
    precisions = factors @ factors.transpose(0, 2, 1)  # (k, d, d), P = U Uᵀ
    rows, cols = np.triu_indices(d)
    moved = np.einsum("kij,kj->ki", precisions, offsets)  # P_k m_k
    packed = np.zeros((rows.size + d, _padded(k, LANES)))
    packed[:rows.size, :k] = (precisions[:, rows, cols] * np.where(rows == cols, 1.0, 2.0)).T
    packed[rows.size:, :k] = -2.0 * moved.T
    constant = np.einsum("ki,ki->k", offsets, moved)
    log_constant = (log_det_precision_cholesky(factors, "full", d) - 0.5 * d * LOG_2PI
                    + np.asarray(log_weights, dtype=np.float64))
    return FullPassTerms(means, anchor, offsets, packed, constant, log_constant)


class FullMoments(NamedTuple):
    """Raw moments of a block about the anchor a (:class:`FullPassTerms`), z = x - a;
    merged by adding, turned into :class:`GMMStats` once a pass (:func:`full_statistics`)."""

    weight_sums: np.ndarray  # (k,) N_k = Σ w r
    first: np.ndarray  # (k, d) Σ w r z
    packed: np.ndarray  # (k, t) Σ w r z zᵀ, upper triangles in the order of row_terms
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

    The rows' terms (:func:`row_terms`: the outer products, then the row) make
    both steps one product each (:mod:`kmix.kernels.compiled.dots`): the E-step's
    of the terms, a row each, with the components' packed terms, which gives
    zᵀP_k z - 2 zᵀP_k m_k; the M-step's of the terms, a column each (built again,
    in the same memory), with the weighted responsibilities, which gives
    Σ w r z zᵀ and Σ w r z.
    """
    from .compiled import dots, gmm_em  # numba is imported on first use only

    n, d = X.shape
    k = terms.offsets.shape[0]
    t = d * (d + 1) // 2
    width, components = terms.packed.shape
    rows = _padded(n, 4 * dots.ROWS)
    columns = _padded(width, 4 * dots.ROWS)
    centred = np.ascontiguousarray(X - terms.anchor)
    memory = np.empty(max(rows * width, columns * n))
    row_wise = memory[:rows * width].reshape(rows, width)
    gmm_em.row_terms(centred, row_wise)
    products = np.empty((rows, components))
    dots.column_products(row_wise, terms.packed, products)
    weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
    weight_sums = np.empty(k)
    tops = np.empty(n)
    # The products' first k columns become the exponentials of the log-densities
    # less the row maxima, then the weighted responsibilities w_i r_ik.
    block = products[:n]
    gmm_em.full_block_exponentials(block, terms.constant, terms.log_constant, tops)
    log_likelihood = gmm_em.full_block_responsibilities(block, tops, weight, unit_weight, weight_sums)
    column_wise = memory[:columns * n].reshape(columns, n)
    gmm_em.column_terms(np.ascontiguousarray(centred.T), column_wise)
    moments = np.empty((columns, components))
    dots.column_products(column_wise, block, moments)
    return FullMoments(weight_sums, np.ascontiguousarray(moments[t:t + d, :k].T),
                       np.ascontiguousarray(moments[:t, :k].T), float(log_likelihood),
                       float(weight.sum()))


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


def full_triangle_applies(n_features: int, dtype: np.dtype | type, covariance_type: str) -> bool:
    """Whether the full pass through the rows' outer products handles data of this
    width and dtype."""
    return (covariance_type == "full" and np.dtype(dtype) in (np.float64, np.float32)
            and COMPILED_MAX_FEATURES < n_features <= FULL_TRIANGLE_MAX_FEATURES)


def full_block_rows(n_features: int) -> int:
    """Rows per block of :func:`full_block_moments`: its outer products (d(d+1)/2 a
    row) within about 8 MiB, so that two threads' blocks stay in the last-level
    cache while their products read them; smaller blocks would add calls (each
    with its Python between the compiled steps) and shorten the M-step's dot
    products, which run along the block's rows."""
    t = n_features * (n_features + 1) // 2
    return int(min(4096, max(64, 2**23 // (8 * t) // 16 * 16)))


# Up to this many features (float64 or float32 data; full, diagonal or spherical covariances)
# a pass is one compiled loop over tiles of rows (E-step and statistics together);
# above it, products over whole blocks of rows do the bulk of the work.
COMPILED_MAX_FEATURES = 16
_COMPILED_CHUNK_ROWS = 2048


def compiled_applies(n_features: int, dtype: np.dtype | type, covariance_type: str) -> bool:
    """Whether :func:`compiled_statistics` handles data of this width and dtype with
    this covariance type."""
    return (np.dtype(dtype) in (np.float64, np.float32) and 0 < n_features <= COMPILED_MAX_FEATURES
            and covariance_type in ("full", "diag", "spherical"))


def compiled_tile_rows(n_components: int, n_features: int) -> int:
    """Rows per tile of the compiled pass and of the compiled EM loop (the same
    tiles, so the same sums): 8(k + 2d + 4) bytes a row of the tile's arrays within
    about 32 KiB, a multiple of 16 between 64 and 256."""
    return int(min(256, max(64, 2**15 // (8 * (n_components + 2 * n_features + 4)) // 16 * 16)))


def compiled_statistics(
    X: np.ndarray,
    sample_weight: np.ndarray,
    means: np.ndarray,
    precisions_cholesky: np.ndarray,
    log_weights: np.ndarray,
    covariance_type: str,
    *,
    unit_weight: bool = False,
    n_threads: int = 1,
) -> GMMStats:
    """E-step and statistics of X in one compiled pass, about the current means.

    The statistics of :func:`kmix.kernels.gmm.e_step` followed by
    :func:`kmix.kernels.gmm.block_statistics` with ``shift = means`` (the same
    numbers up to rounding; float32 rows are widened to float64 as they are read,
    so float32 data gets float64 arithmetic), on ``n_threads`` threads (at most one
    per chunk of rows; the result does not depend on it, bit for bit). See
    :mod:`kmix.kernels.compiled.gmm_em`.
    """
    from .compiled import as_read_only, as_writable, gmm_em  # numba is imported on first use only

    # float32 rows are read as they are and widened in the loop: all arithmetic is float64.
    X = as_read_only(np.ascontiguousarray(X, dtype=X.dtype if X.dtype == np.float32 else np.float64))
    n, d = X.shape
    means = as_writable(np.ascontiguousarray(means, dtype=np.float64))
    k = means.shape[0]
    weight = as_writable(np.ascontiguousarray(sample_weight, dtype=np.float64))
    log_det = log_det_precision_cholesky(precisions_cholesky.astype(np.float64), covariance_type, d)
    constants = np.ascontiguousarray(log_weights, dtype=np.float64) + log_det - 0.5 * d * LOG_2PI
    diagonal = covariance_type != "full"
    if diagonal:
        factors_diag = as_writable(np.ascontiguousarray(
            np.broadcast_to(np.asarray(precisions_cholesky, dtype=np.float64).reshape(k, -1), (k, d))))
        factors = np.zeros((1, d, d))
    else:
        factors = as_writable(np.ascontiguousarray(precisions_cholesky, dtype=np.float64))
        factors_diag = np.zeros((1, d))
    weight_sums = np.empty(k)
    sums = np.empty((k, d))
    second_full = np.empty((k, d, d) if not diagonal else (1, 1, 1))
    second_diag = np.empty((k, d) if diagonal else (1, 1))
    tile = compiled_tile_rows(k, d)
    chunks = -(-n // _COMPILED_CHUNK_ROWS)
    with threads(n_threads, chunks):
        log_likelihood = gmm_em.em_pass(
            X, weight, unit_weight, means, factors, factors_diag, diagonal, constants,
            _COMPILED_CHUNK_ROWS, tile, weight_sums, sums, second_full, second_diag,
        )
    second = second_full if not diagonal else second_diag
    return GMMStats(weight_sums, sums, second, means, float(log_likelihood), float(weight.sum()))


# --- the plan of a pass: which path, over which blocks ---------------------------------


class EMPassPlan(NamedTuple):
    """How to run one EM pass (E-step and statistics about ``shift``) over X.

    ``kernel(block, *args)`` gives one block's partial result; ``block`` is any
    object with the attributes ``X`` (the rows), ``sample_weight``, ``unit_weight``
    (the caller vouches that every weight is 1) and ``n_threads``. A block without
    rows gives a partial that merges as zero. ``merge(a, b)`` merges two partials
    (blocks in order); ``finish(merged)`` turns the merged partial into
    :class:`~kmix.kernels.gmm.GMMStats`.

    ``block_rows`` is None when the kernel takes a whole array at once and runs its
    compiled loop on ``block.n_threads`` threads; otherwise it is the number of rows
    per block that the caller cuts X into (the blocks may run on threads side by
    side, each kernel call on one).
    """

    kernel: Callable[..., Any]
    args: tuple[Any, ...]
    merge: Callable[[Any, Any], Any]
    block_rows: int | None
    finish: Callable[[Any], GMMStats]


def em_pass_plan(n_features: int, dtype: np.dtype | type, covariance_type: str, means: np.ndarray,
                 precisions_cholesky: np.ndarray, log_weights: np.ndarray,
                 shift: np.ndarray, compiled: bool = True) -> EMPassPlan:
    """The plan of one EM pass over data of ``n_features`` columns of ``dtype``.

    Statistics about the current means (``shift`` equal to ``means``) take a fast
    path where one applies: the compiled loop (:func:`compiled_applies`) or the
    pass through the rows' outer products (:func:`full_triangle_applies`). Any
    other case, and any other shift, takes :func:`kmix.kernels.gmm.e_step` and
    :func:`kmix.kernels.gmm.block_statistics` per block of
    :func:`kmix.kernels.gmm.block_rows` rows.

    Parameters
    ----------
    n_features : int
    dtype : the data's dtype
    covariance_type : {"full", "tied", "diag", "spherical"}
    means : ndarray (k, d)
    precisions_cholesky : ndarray, the layout of ``covariance_type``
    log_weights : ndarray (k,), log π_k (-inf for a zero weight)
    shift : ndarray (k, d) float64, the point each component's moments are taken about
    compiled : bool
        False (small data): no fast path, the numpy functions per block.

    Returns
    -------
    EMPassPlan
    """
    dtype = np.dtype(dtype)
    about_means = compiled and np.array_equal(shift, means)
    if compiled_applies(n_features, dtype, covariance_type) and about_means:
        # Few features: E-step and statistics in one compiled loop over row tiles.
        return EMPassPlan(_compiled_block, (means, precisions_cholesky, log_weights, shift,
                                            covariance_type), gk.merge_statistics, None, _unchanged)
    if covariance_type == "tied" and compiled_applies(n_features, dtype, "full") and about_means:
        # One shared covariance is k equal full ones: the compiled full pass, whose
        # per-component second moments (about each component's mean) add up to the
        # tied statistics.
        shared = np.ascontiguousarray(
            np.broadcast_to(precisions_cholesky, (means.shape[0],) + precisions_cholesky.shape))
        return EMPassPlan(_compiled_block, (means, shared, log_weights, shift, "full"), gk.merge_statistics,
                          None, _tied_from_full)
    if full_triangle_applies(n_features, dtype, covariance_type) and about_means:
        # Many features, full covariances: E-step and statistics through the rows'
        # outer products; raw moments merged, turned into statistics once.
        terms = full_pass_terms(means, precisions_cholesky, log_weights)
        return EMPassPlan(_triangle_block, (terms,), merge_full_moments, full_block_rows(n_features),
                          functools.partial(full_statistics, terms=terms))
    rows = gk.block_rows(means.shape[0], n_features, dtype.itemsize)
    return EMPassPlan(_generic_block, (means, precisions_cholesky, log_weights, shift, covariance_type),
                      gk.merge_statistics, rows, _unchanged)


def _unchanged(stats: GMMStats) -> GMMStats:
    return stats


def _tied_from_full(stats: GMMStats) -> GMMStats:
    return stats._replace(second_moments=stats.second_moments.sum(axis=0))


def _no_rows(block: Any, n_components: int, shift: np.ndarray, covariance_type: str) -> GMMStats:
    """Statistics of a block without rows: zeros of the right shapes, which merge as zero."""
    X = block.X
    return gk.block_statistics(X, block.sample_weight, np.empty((0, n_components), dtype=X.dtype),
                               shift, covariance_type, np.empty(0))


def _compiled_block(block: Any, means: np.ndarray, precisions_cholesky: np.ndarray,
                    log_weights: np.ndarray, shift: np.ndarray, covariance_type: str) -> GMMStats:
    """The pass of :func:`compiled_statistics` over all of ``block.X``."""
    if block.X.shape[0] == 0:
        return _no_rows(block, means.shape[0], shift, covariance_type)
    # The weights are read even when they are all 1 (unit_weight not passed on): the
    # statistics are then the same whether or not the caller has checked them.
    return compiled_statistics(block.X, block.sample_weight, means, precisions_cholesky, log_weights,
                               covariance_type, n_threads=block.n_threads)


def _triangle_block(block: Any, terms: FullPassTerms) -> FullMoments:
    """:func:`full_block_moments` of one block."""
    if block.X.shape[0] == 0:
        k, d = terms.offsets.shape
        return FullMoments(np.zeros(k), np.zeros((k, d)), np.zeros((k, d * (d + 1) // 2)), 0.0, 0.0)
    return full_block_moments(block.X, block.sample_weight, terms, block.unit_weight)


def _generic_block(block: Any, means: np.ndarray, precisions_cholesky: np.ndarray,
                   log_weights: np.ndarray, shift: np.ndarray, covariance_type: str) -> GMMStats:
    """E-step and statistics of one block (any covariance type, any shift)."""
    if block.X.shape[0] == 0:
        return _no_rows(block, means.shape[0], shift, covariance_type)
    log_norm, resp = gk.e_step(block.X, means, precisions_cholesky, log_weights, covariance_type)
    return gk.block_statistics(block.X, block.sample_weight, resp, shift, covariance_type, log_norm)


# --- kernels of the data protocol: kernel(block, *params) ------------------------------
#
# ``block`` is what a backend hands a kernel (kmix.backends.blocks.Block): the rows
# X, sample_weight, the per-row state of an earlier pass (or None) and the chunk
# index that seeds per-chunk random draws.


def labels_statistics(block: Any, n_components: int, shift: np.ndarray,
                      covariance_type: str) -> GMMStats:
    """Statistics of one-hot responsibilities on the labels in ``block.state`` (a
    pass's state, labels first: a k-means run's)."""
    labels = block.state[0]
    n = block.X.shape[0]
    resp = np.zeros((n, n_components), dtype=block.X.dtype)
    resp[np.arange(n), labels] = 1.0
    return gk.resp_statistics(block.X, block.sample_weight, resp, shift, covariance_type)


def random_resp_statistics(block: Any, seed: int, n_components: int, shift: np.ndarray,
                           covariance_type: str) -> GMMStats:
    """Statistics of uniform random responsibilities, normalised per row, drawn from
    ``chunk_rng(seed, block.index)``: every pass over a chunk sees the same ones,
    whichever worker computes it."""
    from .kmeans_parallel import chunk_rng

    n = block.X.shape[0]
    resp = chunk_rng(seed, block.index).uniform(size=(n, n_components)).astype(block.X.dtype)
    resp /= resp.sum(axis=1, keepdims=True)
    return gk.resp_statistics(block.X, block.sample_weight, resp, shift, covariance_type)


def predict_block(block: Any, means: np.ndarray, precisions_cholesky: np.ndarray,
                  log_weights: np.ndarray, covariance_type: str) -> np.ndarray:
    """Most probable component of each row, (n,) int64."""
    weighted = gk.weighted_log_prob(block.X, means, precisions_cholesky, log_weights, covariance_type)
    return np.argmax(weighted, axis=1).astype(np.int64)


def predict_proba_block(block: Any, means: np.ndarray, precisions_cholesky: np.ndarray,
                        log_weights: np.ndarray, covariance_type: str) -> np.ndarray:
    """Responsibilities of each row, (n, k); rows sum to 1."""
    weighted = gk.weighted_log_prob(block.X, means, precisions_cholesky, log_weights, covariance_type)
    return gk.log_prob_resp(weighted)[1]


def score_samples_block(block: Any, means: np.ndarray, precisions_cholesky: np.ndarray,
                        log_weights: np.ndarray, covariance_type: str) -> np.ndarray:
    """log p(x) of each row, (n,)."""
    weighted = gk.weighted_log_prob(block.X, means, precisions_cholesky, log_weights, covariance_type)
    return gk.log_prob_resp(weighted)[0]
