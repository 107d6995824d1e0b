"""Compiled EM pass for Gaussian mixtures with few features (numba).

One pass per EM iteration computes the E-step and the sufficient statistics of
the M-step together, a tile of rows at a time, while the tile is in cache: the
log-density of every component, the log-sum-exp and the responsibilities, then
the weighted sums and second moments of each component about its current mean.
Nothing of size n x k x d exists; a tile's (k, rows) log-densities are the
largest temporary.

The rows of a tile are transposed first, so every inner loop runs along rows
(SIMD lanes). Chunks of ``chunk_rows`` rows keep their own partial statistics,
added in chunk order: the result does not depend on the number of threads.

With ``d = x - μ_k`` and ``U_k`` the upper-triangular precision Cholesky factor,
``log N(x | μ_k, Σ_k) = log det U_k - ½ (p log 2π + ‖d U_k‖²)``; the statistics
are ``Σ w r``, ``Σ w r d`` and ``Σ w r d dᵀ`` (or its diagonal), with the same
``d``: the moments are taken about the current means, as in
:func:`kmix.kernels.gmm.block_statistics`.

The last four functions serve the full pass for more features
(:func:`kmix.kernels.gmm_passes.full_block_moments`): the rows' terms (outer
products, then the row) a row or a column each, and the E-step's loops between
its two products (:mod:`.dots`). They release the GIL, so blocks run on threads
side by side.
"""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from numba import njit, prange

from . import CONTRACT, prange_only
from .elementary import exp_flushed
from .kmeans_lloyd import _transpose_rows
from .sums import lane_dot, lane_dot_vector, lane_total

__all__ = ["em_pass", "em_pass_serial", "row_terms", "column_terms",
           "full_block_exponentials", "full_block_responsibilities"]

# Sums along a tile's rows run in written-out lanes (.sums; see the package);
# the log-densities' products may be fused multiply-adds (CONTRACT).


@njit(cache=True)
def _differences(xt, m, mean, diff):  # pragma: no cover - compiled
    """diff[f, r] = xt[f, r] - mean[f], in float64. Written: diff."""
    for f in range(xt.shape[0]):
        mu = mean[f]
        for r in range(m):
            diff[f, r] = np.float64(xt[f, r]) - mu
    return diff


@njit(cache=True, fastmath=CONTRACT)
def _log_density(diff, m, factor, constant, acc, out):  # pragma: no cover - compiled
    """out[r] = constant - ½ ‖diff[:, r] U‖² for one component, U upper triangular.
    Written: acc, out."""
    d = diff.shape[0]
    for r in range(m):
        out[r] = 0.0
    # y_f = Σ_{g <= f} diff_g U[g, f]
    for f in range(d):
        u = factor[0, f]
        for r in range(m):
            acc[r] = diff[0, r] * u
        for g in range(1, f + 1):
            u = factor[g, f]
            for r in range(m):
                acc[r] += diff[g, r] * u
        for r in range(m):
            out[r] += acc[r] * acc[r]
    for r in range(m):
        out[r] = constant - 0.5 * out[r]


@njit(cache=True, fastmath=CONTRACT)
def _log_density_diagonal(xt, m, mean, factor_diag, constant, out):  # pragma: no cover - compiled
    """out[r] = constant - ½ Σ_f ((x_fr - μ_f) u_f)² for one component with a
    diagonal factor; the differences are taken in float64 as they are needed.
    Written: out."""
    d = xt.shape[0]
    for r in range(m):
        out[r] = 0.0
    for f in range(d):
        mu = mean[f]
        u = factor_diag[f]
        for r in range(m):
            y = (np.float64(xt[f, r]) - mu) * u
            out[r] += y * y
    for r in range(m):
        out[r] = constant - 0.5 * out[r]


@njit(cache=True)
def _tile_log_densities(xt, m, means, factors, factors_diag, diagonal, constants, diff, acc,
                        log_prob):  # pragma: no cover - compiled
    """log_prob[j, r]: the weighted log-density of every component at the tile's
    rows. Written: diff, acc (scratch), log_prob (k, m)."""
    for j in range(means.shape[0]):
        if diagonal:
            _log_density_diagonal(xt, m, means[j], factors_diag[j], constants[j], log_prob[j])
        else:
            _differences(xt, m, means[j], diff)
            _log_density(diff, m, factors[j], constants[j], acc, log_prob[j])


@njit(cache=True)
def _responsibilities(log_prob, m, resp, log_norm):  # pragma: no cover - compiled
    """Log-sum-exp over components and responsibilities for a tile.

    log_prob (k, m): weighted log-densities. Written: resp (k, m), log_norm (m,).
    The row maximum is subtracted before exponentiating (0 where it is not
    finite), as in :func:`kmix.kernels.gmm.log_prob_resp`.
    """
    k = log_prob.shape[0]
    for r in range(m):
        log_norm[r] = log_prob[0, r]
    for j in range(1, k):
        for r in range(m):
            value = log_prob[j, r]
            log_norm[r] = value if value > log_norm[r] else log_norm[r]
    for r in range(m):
        if not np.isfinite(log_norm[r]):
            log_norm[r] = 0.0
    totals = np.zeros(m)
    for j in range(k):
        for r in range(m):
            # A subnormal term changes no sum here, but slows every product it
            # enters many times over: flushed to zero.
            value = exp_flushed(log_prob[j, r] - log_norm[r])
            resp[j, r] = value
            totals[r] += value
    for r in range(m):
        log_norm[r] = np.log(totals[r]) + log_norm[r]
        totals[r] = 1.0 / totals[r] if totals[r] > 0 else np.nan
    for j in range(k):
        for r in range(m):
            resp[j, r] *= totals[r]


@njit(cache=True)
def _component_statistics(diff, m, weighted, weighted_diff, sums, second_full):  # pragma: no cover
    """Add one component's Σ w r d and Σ w r d dᵀ (lower triangle) over a tile.
    ``weighted`` (m,): w r. Written: weighted_diff scratch; sums (d,) and
    second_full (d, d), added to."""
    d = diff.shape[0]
    for f in range(d):
        for r in range(m):
            weighted_diff[f, r] = weighted[r] * diff[f, r]
    for f in range(d):
        sums[f] += lane_total(weighted_diff[f], m)
        for g in range(f + 1):
            second_full[f, g] += lane_dot_vector(weighted_diff[f], diff[g], m)


@njit(cache=True)
def _diagonal_statistics(diff, m, weighted, sums, second_diag):  # pragma: no cover - compiled
    """Add one component's Σ w r d and Σ w r d² (per feature) over a tile, each in
    four written-out lanes (row r into sum r % 4, see the package). ``weighted``
    (m,): w r. The sums run over float64 arrays only, so float32 rows (widened
    exactly) give their float64 copy's sums bit for bit. Written: sums (d,) and
    second_diag (d,), added to."""
    for f in range(diff.shape[0]):
        a0 = a1 = a2 = a3 = 0.0  # Σ w r d
        b0 = b1 = b2 = b3 = 0.0  # Σ w r d²
        r = 0
        while r + 4 <= m:
            t0 = weighted[r] * diff[f, r]
            t1 = weighted[r + 1] * diff[f, r + 1]
            t2 = weighted[r + 2] * diff[f, r + 2]
            t3 = weighted[r + 3] * diff[f, r + 3]
            a0 += t0
            a1 += t1
            a2 += t2
            a3 += t3
            b0 += t0 * diff[f, r]
            b1 += t1 * diff[f, r + 1]
            b2 += t2 * diff[f, r + 2]
            b3 += t3 * diff[f, r + 3]
            r += 4
        while r < m:
            t = weighted[r] * diff[f, r]
            a0 += t
            b0 += t * diff[f, r]
            r += 1
        sums[f] += (a0 + a1) + (a2 + a3)
        second_diag[f] += (b0 + b1) + (b2 + b3)


@njit(cache=True)
def _chunk_pass(X, sample_weight, unit_weight, means, factors, factors_diag, diagonal, constants,
                start, stop, tile, weights, sums, second_full, second_diag):  # pragma: no cover
    """The E-step and statistics of rows start:stop, added to one chunk's partial
    sums (weights (k,), sums (k, d), second_full (k, d, d) or second_diag (k, d),
    written). Returns the rows' Σ w log p(x)."""
    d = X.shape[1]
    k = means.shape[0]
    loglik = 0.0
    xt = np.empty((d, tile), dtype=X.dtype)
    diff = np.empty((d, tile))
    weighted_diff = np.empty((d, tile))
    acc = np.empty(tile)
    log_prob = np.empty((k, tile))
    resp = np.empty((k, tile))
    log_norm = np.empty(tile)
    weighted = np.empty(tile)
    for tile0 in range(start, stop, tile):
        m = min(tile, stop - tile0)
        _transpose_rows(X, tile0, m, xt)
        _tile_log_densities(xt, m, means, factors, factors_diag, diagonal, constants, diff, acc, log_prob)
        _responsibilities(log_prob, m, resp, log_norm)
        if unit_weight:
            loglik += lane_total(log_norm, m)
        else:
            loglik += lane_dot(sample_weight, tile0, log_norm, m)
        for j in range(k):
            if unit_weight:
                for r in range(m):
                    weighted[r] = resp[j, r]
            else:
                tile_weights = sample_weight[tile0:tile0 + m]
                for r in range(m):
                    weighted[r] = tile_weights[r] * resp[j, r]
            weights[j] += lane_total(weighted, m)
            _differences(xt, m, means[j], diff)
            if diagonal:
                _diagonal_statistics(diff, m, weighted, sums[j], second_diag[j])
            else:
                _component_statistics(diff, m, weighted, weighted_diff, sums[j], second_full[j])
    return loglik


@njit(parallel=prange_only(), cache=True)
def em_pass(X, sample_weight, unit_weight, means, factors, factors_diag, diagonal, constants,
            chunk_rows, tile, weight_sums, sums, second_full, second_diag):  # pragma: no cover
    """E-step and M-step statistics over all of X. Returns Σ w log p(x) (float64).

    Parameters
    ----------
    X : ndarray (n, d), C-contiguous
    sample_weight : ndarray (n,) float64; not read if ``unit_weight``
    means : ndarray (k, d) float64
    factors : ndarray (k, d, d) float64, upper-triangular U_k (read unless ``diagonal``)
    factors_diag : ndarray (k, d) float64, diagonal U_k (read if ``diagonal``)
    constants : ndarray (k,) float64: log π_k + log det U_k - ½ d log 2π
    chunk_rows, tile : int
        Rows per chunk of partial statistics, and per tile (in cache).
    weight_sums : ndarray (k,) float64, written
    sums : ndarray (k, d) float64, written
    second_full : ndarray (k, d, d) float64, written unless ``diagonal`` (symmetric)
    second_diag : ndarray (k, d) float64, written if ``diagonal``
    """
    n = X.shape[0]
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    part_loglik, part_weights, part_sums, part_full, part_diag = _parts(n_chunks, means.shape[0],
                                                                        means.shape[1], diagonal)
    for c in prange(n_chunks):
        part_loglik[c] = _chunk_pass(X, sample_weight, unit_weight, means, factors, factors_diag, diagonal,
                                     constants, c * chunk_rows, min(c * chunk_rows + chunk_rows, n), tile,
                                     part_weights[c], part_sums[c], part_full[c], part_diag[c])
    return _merge_parts(part_loglik, part_weights, part_sums, part_full, part_diag, diagonal, weight_sums,
                        sums, second_full, second_diag)


@njit(cache=True)
def em_pass_serial(X, sample_weight, unit_weight, means, factors, factors_diag, diagonal, constants,
                   chunk_rows, tile, weight_sums, sums, second_full, second_diag):  # pragma: no cover
    """:func:`em_pass` on the calling thread alone, the same numbers bit for bit: for
    a loop that runs many passes over few rows, where handing a pass to the
    thread pool would take longer than the pass itself."""
    n = X.shape[0]
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    part_loglik, part_weights, part_sums, part_full, part_diag = _parts(n_chunks, means.shape[0],
                                                                        means.shape[1], diagonal)
    for c in range(n_chunks):
        part_loglik[c] = _chunk_pass(X, sample_weight, unit_weight, means, factors, factors_diag, diagonal,
                                     constants, c * chunk_rows, min(c * chunk_rows + chunk_rows, n), tile,
                                     part_weights[c], part_sums[c], part_full[c], part_diag[c])
    return _merge_parts(part_loglik, part_weights, part_sums, part_full, part_diag, diagonal, weight_sums,
                        sums, second_full, second_diag)


@njit(cache=True)
def _parts(n_chunks, k, d, diagonal):  # pragma: no cover - compiled
    """Zeroed per-chunk partial statistics: log-likelihoods, weights, sums, and the
    full or the diagonal second moments (the other one a placeholder)."""
    part_full = np.zeros((n_chunks, k, d, d)) if not diagonal else np.zeros((n_chunks, 1, 1, 1))
    part_diag = np.zeros((n_chunks, k, d)) if diagonal else np.zeros((n_chunks, 1, 1))
    return np.zeros(n_chunks), np.zeros((n_chunks, k)), np.zeros((n_chunks, k, d)), part_full, part_diag


@njit(cache=True)
def _merge_parts(part_loglik, part_weights, part_sums, part_full, part_diag, diagonal, weight_sums, sums,
                 second_full, second_diag):  # pragma: no cover - compiled
    """The chunks' partial statistics added in chunk order (the second moments'
    lower triangle, mirrored). Written: the four outputs. Returns Σ w log p(x)."""
    n_chunks, k, d = part_sums.shape
    loglik = 0.0
    for j in range(k):
        weight_sums[j] = 0.0
        for f in range(d):
            sums[j, f] = 0.0
            if diagonal:
                second_diag[j, f] = 0.0
            else:
                for g in range(d):
                    second_full[j, f, g] = 0.0
    for c in range(n_chunks):
        loglik += part_loglik[c]
        for j in range(k):
            weight_sums[j] += part_weights[c, j]
            for f in range(d):
                sums[j, f] += part_sums[c, j, f]
                if diagonal:
                    second_diag[j, f] += part_diag[c, j, f]
                else:
                    for g in range(f + 1):
                        second_full[j, f, g] += part_full[c, j, f, g]
    if not diagonal:
        for j in range(k):
            for f in range(d):
                for g in range(f + 1, d):
                    second_full[j, f, g] = second_full[j, g, f]
    return loglik


@njit(cache=True, nogil=True)
def _zero(out, row0, row1, column0):  # pragma: no cover - compiled
    """out[row0:row1, column0:] = 0 (the padding of the rows' terms)."""
    for r in range(row0, row1):
        padding = out[r, column0:]
        for i in range(padding.shape[0]):
            padding[i] = 0.0


@njit(cache=True, nogil=True)
def row_terms(Z, out):  # pragma: no cover - compiled
    """out[i] = the products Z[i, a] * Z[i, b], a <= b (row a of the triangle after
    row a - 1), then Z[i] itself, for i < n; out (>= n, >= d(d+1)/2 + d), zeros in
    its other columns and rows (the padding of
    :func:`kmix.kernels.compiled.dots.column_products`). Releases the GIL: blocks on
    threads build theirs at the same time."""
    n, d = Z.shape
    for i in range(n):
        row = Z[i]
        products = out[i]
        start = 0
        for a in range(d):
            za = row[a]
            # Slices as the loop's operands: the compiler then vectorises the
            # loop (indexing the 2-d arrays inside it keeps it scalar).
            target = products[start:start + d - a]
            source = row[a:]
            for b in range(d - a):
                target[b] = za * source[b]
            start += d - a
        target = products[start:start + d]
        for b in range(d):
            target[b] = row[b]
        _zero(out, i, i + 1, start + d)
    _zero(out, n, out.shape[0], 0)


@njit(cache=True, nogil=True)
def column_terms(ZT, out):  # pragma: no cover - compiled
    """The transpose of :func:`row_terms` of Z = ZTᵀ (ZT (d, n)): out[j, i] = the
    j-th of row i's terms; out (>= d(d+1)/2 + d, >= n), zeros in its other columns
    and rows. Releases the GIL."""
    d, n = ZT.shape
    j = 0
    for a in range(d):
        first = ZT[a, :n]
        for b in range(a, d):
            second = ZT[b, :n]
            target = out[j]
            for i in range(n):
                target[i] = first[i] * second[i]
            j += 1
    for a in range(d):
        source = ZT[a, :n]
        target = out[j]
        for i in range(n):
            target[i] = source[i]
        j += 1
    _zero(out, 0, j, n)
    _zero(out, j, out.shape[0], 0)


@njit(cache=True, nogil=True)
def full_block_exponentials(quadratic, constant, log_constant, tops):  # pragma: no cover
    """The exponentials of the E-step's log-densities for a block of the full pass,
    less each row's maximum, in place.

    quadratic (n, >= k), its first k columns: zᵀP_k z - 2 zᵀP_k m_k on entry; on
    return exp(log π_k + log N(x_i | k) - ``tops[i]``), ``tops[i]`` the row's
    maximum (0 where that is not finite), values below the smallest normal number
    flushed to zero. constant (k,): m_kᵀP_k m_k; log_constant (k,): log π_k + log
    det U_k - ½ d log 2π. The squared distance is clipped at 0 (a sum of squares:
    negative only by rounding). Written: quadratic, tops (n,). Releases the GIL.
    """
    n = quadratic.shape[0]
    k = constant.shape[0]
    for i in range(n):
        row = quadratic[i]
        top = -np.inf
        for j in range(k):
            value = row[j] + constant[j]
            value = value if value > 0.0 else 0.0
            value = -0.5 * value + log_constant[j]
            row[j] = value
            top = value if value > top else top
        if not np.isfinite(top):
            top = 0.0
        tops[i] = top
        for j in range(k):
            row[j] = exp_flushed(row[j] - top)


@njit(cache=True, nogil=True)
def full_block_responsibilities(terms, tops, sample_weight, unit_weight,
                                weight_sums):  # pragma: no cover - compiled
    """From exp(log-density - row maximum) (n, >= k; its first k columns), in place:
    the weighted responsibilities w_i r_ik, weights below the smallest normal number
    flushed to zero (they change no sum, but slow every product they enter).
    Written: terms, weight_sums (k,) = Σ_i w_i r_ik. Returns Σ_i w_i log p(x_i).
    Releases the GIL.
    """
    n = terms.shape[0]
    k = weight_sums.shape[0]
    tiny = np.finfo(np.float64).tiny
    for j in range(k):
        weight_sums[j] = 0.0
    log_likelihood = 0.0
    for i in range(n):
        row = terms[i]
        total = 0.0
        for j in range(k):
            total += row[j]
        weight = 1.0 if unit_weight else sample_weight[i]
        scale = weight / total if total > 0.0 else np.nan
        for j in range(k):
            value = row[j] * scale
            if value < tiny:  # NaN stays
                value = 0.0
            row[j] = value
            weight_sums[j] += value
        log_likelihood += weight * (np.log(total) + tops[i])
    return log_likelihood
