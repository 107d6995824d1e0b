"""Compiled M-step of mclust's fourteen covariance models (numba).

A port of :func:`kmix.kernels.gmm_models.model_covariances`, the numpy
reference, with the same mathematics and the same stopping rules, so that a
whole EM loop for small data can run in machine code. Every model reads the
scatter as (k, d, d) matrices and writes (k, d, d) full covariances: one loop
serves all fourteen. The diagonal and spherical models read only the
diagonals and write zeros off them; EEE writes its one matrix for every k.

Nine models have a closed form; VEI, VEV and VEE alternate closed forms for
the volumes and the common shape (or shape-and-orientation); EVE and VVE fit a
common orientation (:mod:`.gmm_orientation`, the port of
:mod:`kmix.kernels.gmm_models_orientation`). As in the reference, degenerate
scatter never gives a NaN: a component whose covariance is not finite, or whose
shape collapses, gets a zero covariance (all of them for EEE), which the
Cholesky factorisation downstream rejects.

numba's ``np.linalg.eigh`` refuses non-finite input where LAPACK, behind numpy,
returns NaN; :func:`_sorted_eigh` and :func:`_root_det` return NaN and 0 there
instead, so the degenerate paths match the reference's. Divisions follow
numpy's rules (``error_model="numpy"``: inf or NaN, never an exception), as the
reference runs under ``np.errstate(all="ignore")``.
"""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from numba import njit

from ..gmm_models_orientation import DEGENERATE
from .elementary import copy_values

from .gmm_orientation import _converged, common_orientation, fit_common_orientation

__all__: list[str] = []  # the entry points are in .gmm_model_step

_TINY = np.finfo(np.float64).tiny



# --- scalar rules ----------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _greater(value, current):  # pragma: no cover - compiled
    # The larger, NaN once either is NaN (np.max's rule).
    return value if (value > current or value != value) else current


@njit(cache=True, error_model="numpy")
def _smaller(value, current):  # pragma: no cover - compiled
    return value if (value < current or value != value) else current


@njit(cache=True, error_model="numpy")
def _relative(new, old):  # pragma: no cover - compiled
    # Largest entrywise relative change of positive parameters (1-D).
    result = np.abs(new[0] - old[0]) / max(np.abs(new[0]), _TINY)
    for i in range(1, new.shape[0]):
        result = _greater(np.abs(new[i] - old[i]) / max(np.abs(new[i]), _TINY), result)
    return result


# --- small array helpers, as loops (numba compiles loops with much less work than array expressions)


@njit(cache=True, error_model="numpy")
def _finite(matrix):  # pragma: no cover - compiled
    for i in range(matrix.shape[0]):
        for m in range(matrix.shape[1]):
            if not np.isfinite(matrix[i, m]):
                return False
    return True


@njit(cache=True, error_model="numpy")
def _all_positive(values):  # pragma: no cover - compiled
    for i in range(values.shape[0]):
        if not values[i] > 0:
            return False
    return True


@njit(cache=True, error_model="numpy")
def _symmetric(matrix):  # pragma: no cover - compiled
    """½ (M + Mᵀ), a new array."""
    d = matrix.shape[0]
    out = np.empty((d, d))
    for i in range(d):
        for m in range(d):
            out[i, m] = 0.5 * (matrix[i, m] + matrix[m, i])
    return out


@njit(cache=True, error_model="numpy")
def _scaled(matrix, factor, divisor):  # pragma: no cover - compiled
    """factor · M / divisor, a new array (the product or the quotient, as numpy
    rounds it, where the other is 1)."""
    out = np.empty((matrix.shape[0], matrix.shape[1]))
    for i in range(matrix.shape[0]):
        for m in range(matrix.shape[1]):
            out[i, m] = factor * matrix[i, m] / divisor
    return out


@njit(cache=True, error_model="numpy")
def _weighted(weights, matrices):  # pragma: no cover - compiled
    """W_k = n_k M_k, (k, d, d), a new array."""
    k, d = matrices.shape[0], matrices.shape[1]
    out = np.empty((k, d, d))
    for j in range(k):
        copy_values(_scaled(matrices[j], weights[j], 1.0), out[j])
    return out


@njit(cache=True, error_model="numpy")
def _sum_over_components(matrices):  # pragma: no cover - compiled
    # matrices.sum(axis=0) of (k, d, d), added in component order.
    k, d = matrices.shape[0], matrices.shape[1]
    total = np.zeros((d, d))
    for j in range(k):
        for i in range(d):
            for m in range(d):
                total[i, m] += matrices[j, i, m]
    return total


@njit(cache=True, error_model="numpy")
def _zero(out):  # pragma: no cover - compiled
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            for m in range(out.shape[2]):
                out[j, i, m] = 0.0


@njit(cache=True, error_model="numpy")
def _diagonals(matrices):  # pragma: no cover - compiled
    k, d = matrices.shape[0], matrices.shape[1]
    out = np.empty((k, d))
    for j in range(k):
        for i in range(d):
            out[j, i] = matrices[j, i, i]
    return out


# --- determinants and eigen-decompositions ---------------------------------------------


@njit(cache=True, error_model="numpy")
def _root_det_diagonal(values):  # pragma: no cover - compiled
    """|diag(v)|^(1/d) as exp(mean(log v)), 0 where an entry is not positive."""
    total = 0.0
    for i in range(values.shape[0]):
        if not values[i] > 0:
            return 0.0
        total += np.log(values[i])
    return np.exp(total / values.shape[0])


@njit(cache=True, error_model="numpy")
def _unit_det(values, root, out):  # pragma: no cover - compiled
    """values / root (1-D); where root is not positive, 0 (d > 1) or 1 (d = 1), as
    gmm_models_orientation.unit_det. Written: out."""
    d = values.shape[0]
    for i in range(d):
        if root > 0:
            out[i] = values[i] / root
        else:
            out[i] = 1.0 if d == 1 else 0.0


@njit(cache=True, error_model="numpy")
def _sorted_eigh(matrix):  # pragma: no cover - compiled
    """Eigenvalues (decreasing) and eigenvectors (columns) of ½ (M + Mᵀ); NaN where
    M is not finite."""
    d = matrix.shape[0]
    symmetric = _symmetric(matrix)
    values = np.empty(d)
    vectors = np.empty((d, d))
    if not _finite(symmetric):
        values.fill(np.nan)
        vectors.fill(np.nan)
        return values, vectors
    ascending, columns = np.linalg.eigh(symmetric)
    for j in range(d):
        values[j] = ascending[d - 1 - j]
        for i in range(d):
            vectors[i, j] = columns[i, d - 1 - j]
    return values, vectors


@njit(cache=True, error_model="numpy")
def _root_det(matrix):  # pragma: no cover - compiled
    """|M|^(1/d) from the eigenvalues (of the lower triangle, as numpy's eigvalsh
    reads it); 0 where one is not positive or M is not finite."""
    if not _finite(matrix):
        return 0.0
    return _root_det_diagonal(np.linalg.eigvalsh(np.ascontiguousarray(matrix)))


@njit(cache=True, error_model="numpy")
def _rotate(vectors, diagonal, out):  # pragma: no cover - compiled
    """Written: out = ½ (P + Pᵀ), P = V diag(c) Vᵀ."""
    d = diagonal.shape[0]
    product = np.empty((d, d))
    for i in range(d):
        for m in range(d):
            total = 0.0
            for j in range(d):
                total += vectors[i, j] * diagonal[j] * vectors[m, j]
            product[i, m] = total
    for i in range(d):
        for m in range(d):
            out[i, m] = 0.5 * (product[i, m] + product[m, i])


@njit(cache=True, error_model="numpy")
def _zero_non_finite(out, tied):  # pragma: no cover - compiled
    # A component with a non-finite entry gets a zero covariance; for EEE (one
    # matrix) every component does.
    k, d = out.shape[0], out.shape[1]
    any_bad = False
    for j in range(k):
        if not _finite(out[j]):
            any_bad = True
            for i in range(d):
                for m in range(d):
                    out[j, i, m] = 0.0
    if tied and any_bad:
        _zero(out)


# --- closed forms ------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _closed_diagonal(code, n, S, out):  # pragma: no cover - compiled
    """EII (0), VII (1), EEI (2), EVI (4), VVI (5) from the (k, d) diagonals S. Written: out."""
    k, d = S.shape
    total = n.sum()
    result = np.empty((k, d))  # the diagonals of the covariances
    if code == 0:  # σ² = Σ_k tr(W_k) / (n d)
        variance = 0.0
        for j in range(k):
            variance += n[j] * S[j].sum()
        result.fill(variance / (total * d))
    elif code == 1:  # σ_k² = tr(W_k) / (n_k d)
        for j in range(k):
            result[j].fill(S[j].sum() / d)
    elif code == 2:  # λ A = diag(Σ_k W_k) / n
        pooled = np.zeros(d)
        for j in range(k):
            for i in range(d):
                pooled[i] += n[j] * S[j, i]
        for j in range(k):
            for i in range(d):
                result[j, i] = pooled[i] / total
    elif code == 4:  # A_k = B_k / |B_k|^(1/d), λ = Σ_k |B_k|^(1/d) / n, B_k = diag(W_k)
        B = np.empty((k, d))
        roots = np.empty(k)
        for j in range(k):
            for i in range(d):
                B[j, i] = n[j] * S[j, i]
            roots[j] = _root_det_diagonal(B[j])
        volume = roots.sum() / total
        for j in range(k):
            _unit_det(B[j], roots[j], result[j])
            for i in range(d):
                result[j, i] *= volume
    else:  # VVI: Σ_k = diag(W_k) / n_k
        result = S
    _zero(out)
    for j in range(k):
        for i in range(d):
            out[j, i, i] = result[j, i]


@njit(cache=True, error_model="numpy")
def _closed_full(code, n, S, out):  # pragma: no cover - compiled
    """EEE (6), EEV (10), EVV (12), VVV (13) from (k, d, d) scatter. Written: out."""
    k, d = S.shape[0], S.shape[1]
    total = n.sum()
    if code == 6:  # Σ = Σ_k W_k / n
        pooled = _sum_over_components(_weighted(n, S))
        for j in range(k):
            for i in range(d):
                for m in range(d):
                    out[j, i, m] = pooled[i, m] / total
    elif code == 10:
        # With W_k = L_k Ω_k L_kᵀ (decreasing), D_k = L_k and λ A = Σ_k Ω_k / n
        # (von Neumann's trace inequality; see gmm_models._eev).
        vectors = np.empty((k, d, d))
        pooled = np.zeros(d)
        for j in range(k):
            values, component_vectors = _sorted_eigh(S[j])
            copy_values(component_vectors, vectors[j])
            for i in range(d):
                pooled[i] += n[j] * values[i]
        for i in range(d):
            pooled[i] /= total
        for j in range(k):
            _rotate(vectors[j], pooled, out[j])
    elif code == 12:  # C_k = W_k / |W_k|^(1/d), λ = Σ_k |W_k|^(1/d) / n
        W = _weighted(n, S)
        roots = np.empty(k)
        volume = 0.0
        for j in range(k):
            roots[j] = _root_det(W[j])
            volume += roots[j]
        volume /= total
        for j in range(k):
            # unit_det: W_k / root, or 0 (d > 1) and 1 (d = 1) for a singular W_k
            if roots[j] > 0:
                shape = _scaled(W[j], 1.0, roots[j])
            else:
                shape = np.empty((d, d))
                shape.fill(1.0 if d == 1 else 0.0)
            copy_values(_symmetric(_scaled(shape, volume, 1.0)), out[j])
    else:  # VVV: Σ_k = W_k / n_k
        for j in range(k):
            for i in range(d):
                for m in range(d):
                    out[j, i, m] = S[j, i, m]


# --- alternations --------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _volume(values, shape, scale):  # pragma: no cover - compiled
    # Σ_i v_i / a_i / scale
    total = 0.0
    for i in range(values.shape[0]):
        total += values[i] / shape[i]
    return total / scale


@njit(cache=True, error_model="numpy")
def _start_shape(values, start_values, has_start):  # pragma: no cover - compiled
    """The shape the alternation starts from (gmm_models._start_shape): the
    geometric mean of the start's (k, d) shapes, det 1; where there is no start,
    or a start component has no shape, the shape of Σ_k values_k."""
    k, d = values.shape
    pooled = np.zeros(d)
    for j in range(k):
        for i in range(d):
            pooled[i] += values[j, i]
    default = np.empty(d)
    _unit_det(pooled, _root_det_diagonal(pooled), default)
    if not has_start:
        return default
    logs = np.zeros(d)
    shape = np.empty(d)
    for j in range(k):
        _unit_det(start_values[j], _root_det_diagonal(start_values[j]), shape)
        if not _all_positive(shape):
            return default
        for i in range(d):
            logs[i] += np.log(shape[i])
    for i in range(d):
        shape[i] = np.exp(logs[i] / k)
    root = _root_det_diagonal(shape)
    for i in range(d):
        shape[i] /= root
    return shape


@njit(cache=True, error_model="numpy")
def _equal_shape(values, n, start_values, has_start, tol, max_iter):  # pragma: no cover - compiled
    """Volumes λ_k and one shape A for VEI and VEV (gmm_models._vei, _vev, _equal_shape).

    values (k, d): diag(W_k) or the decreasing eigenvalues of W_k; start_values
    the same of the start. Given A, λ_k = Σ_i v_ki/a_i / (d n_k); given the λ_k,
    A = M / |M|^(1/d) with M = Σ_k v_k / λ_k. Returns (volumes (k,), shape (d,),
    iterations); the shape is zero where M is singular or no start shape is
    positive (then the volumes are zero too, and the iterations 0).
    """
    k, d = values.shape
    shape = _start_shape(values, start_values, has_start)
    volumes = np.zeros(k)
    if not _all_positive(shape):  # every component zero in some coordinate
        shape.fill(0.0)
        return volumes, shape, 0
    for j in range(k):
        volumes[j] = _volume(values[j], shape, d * n[j])
    pooled = np.empty(d)
    new_shape = np.empty(d)
    new_volumes = np.empty(k)
    previous = 0.0
    has_previous = False
    iteration = 0
    while iteration < max_iter:
        iteration += 1
        # A component with W_k = 0 has λ_k = 0 and adds nothing to M.
        pooled.fill(0.0)
        for j in range(k):
            if volumes[j] > 0:
                for i in range(d):
                    pooled[i] += values[j, i] / volumes[j]
        root = _root_det_diagonal(pooled)
        _unit_det(pooled, root, new_shape)
        smallest = new_shape[0]
        largest = new_shape[0]
        for i in range(1, d):
            smallest = _smaller(new_shape[i], smallest)
            largest = _greater(new_shape[i], largest)
        if not (root > 0 and smallest > DEGENERATE * largest):
            # Singular scatter flattening A without bound: no maximum.
            shape.fill(0.0)
            return volumes, shape, iteration
        for j in range(k):
            new_volumes[j] = _volume(values[j], new_shape, d * n[j])
        delta = max(_relative(new_shape, shape), _relative(new_volumes, volumes))
        copy_values(new_shape, shape)
        copy_values(new_volumes, volumes)
        if _converged(delta, has_previous, previous, tol):
            break
        previous = delta
        has_previous = True
    return volumes, shape, iteration


@njit(cache=True, error_model="numpy")
def _vei(n, S, start, has_start, tol, max_iter, out):  # pragma: no cover - compiled
    k, d = S.shape
    B = np.empty((k, d))
    for j in range(k):
        for i in range(d):
            B[j, i] = n[j] * S[j, i]
    volumes, shape, iterations = _equal_shape(
        B, n, _diagonals(start) if has_start else B, has_start, tol, max_iter
    )
    _zero(out)
    for j in range(k):
        for i in range(d):
            out[j, i, i] = volumes[j] * shape[i]
    return iterations


@njit(cache=True, error_model="numpy")
def _vev(n, S, start, has_start, tol, max_iter, out):  # pragma: no cover - compiled
    # The best orientations are the eigenvectors of W_k, as for EEV; the volumes
    # and the common shape alternate on the eigenvalues.
    k, d = S.shape[0], S.shape[1]
    values = np.empty((k, d))
    vectors = np.empty((k, d, d))
    start_values = np.empty((k, d))
    for j in range(k):
        eigenvalues, component_vectors = _sorted_eigh(S[j])
        copy_values(component_vectors, vectors[j])
        for i in range(d):
            value = eigenvalues[i]
            # rounding can leave -eps for a singular S_k (np.maximum keeps NaN)
            values[j, i] = (value if (value >= 0.0 or value != value) else 0.0) * n[j]
        if has_start:
            copy_values(_sorted_eigh(start[j])[0], start_values[j])
    volumes, shape, iterations = _equal_shape(values, n, start_values, has_start, tol, max_iter)
    scaled = np.empty(d)
    for j in range(k):
        for i in range(d):
            scaled[i] = volumes[j] * shape[i]
        _rotate(vectors[j], scaled, out[j])
    return iterations


@njit(cache=True, error_model="numpy")
def _vee_volumes(W, n, C, volumes):  # pragma: no cover - compiled
    """λ_k = tr(W_k C⁻¹) / (d n_k) through C = V diag(c) Vᵀ. Written: volumes.
    Returns False where C is (numerically) singular."""
    k, d = W.shape[0], W.shape[1]
    if not _finite(C):
        return False  # LAPACK's NaN eigenvalues in the reference
    c, V = np.linalg.eigh(C)
    if not c[0] > DEGENERATE * c[d - 1]:
        return False
    for j in range(k):
        total = 0.0
        for m in range(d):
            quadratic = 0.0  # (Vᵀ W_k V)_mm
            for i in range(d):
                for l in range(d):
                    quadratic += V[i, m] * W[j, i, l] * V[l, m]
            total += quadratic / c[m]
        volumes[j] = total / (d * n[j])
    return True


@njit(cache=True, error_model="numpy")
def _vee(n, S, start, has_start, tol, max_iter, out):  # pragma: no cover - compiled
    # Σ_k = λ_k C, det C = 1. Given C, λ_k = tr(W_k C⁻¹)/(d n_k); given the λ_k,
    # C = M / |M|^(1/d) with M = Σ_k W_k/λ_k (gmm_models._vee).
    k, d = S.shape[0], S.shape[1]
    W = _weighted(n, S)
    _zero(out)
    C = np.empty((0, 0))
    if has_start:
        roots = np.empty(k)
        for j in range(k):
            roots[j] = _root_det(start[j])
        if _all_positive(roots):
            mean = np.zeros((d, d))
            for j in range(k):
                for i in range(d):
                    for m in range(d):
                        mean[i, m] += start[j, i, m] / roots[j]
            mean = _symmetric(mean)
            C = _scaled(mean, 1.0, _root_det(mean))
    if C.shape[0] == 0:
        pooled = _symmetric(_sum_over_components(W))
        root = _root_det(pooled)
        if not root > 0:
            return 0
        C = _scaled(pooled, 1.0, root)
    volumes = np.empty(k)
    if not _vee_volumes(W, n, C, volumes):
        return 0
    new_volumes = np.empty(k)
    pooled = np.empty((d, d))
    previous = 0.0
    has_previous = False
    iteration = 0
    while iteration < max_iter:
        iteration += 1
        pooled.fill(0.0)
        for j in range(k):
            if volumes[j] > 0:
                for i in range(d):
                    for m in range(d):
                        pooled[i, m] += W[j, i, m] / volumes[j]
        symmetric = _symmetric(pooled)
        root = _root_det(symmetric)
        new_C = _scaled(symmetric, 1.0, root)
        if not (root > 0 and _vee_volumes(W, n, new_C, new_volumes)):
            return iteration
        change = np.abs(new_C[0, 0] - C[0, 0])
        size = np.abs(new_C[0, 0])
        for i in range(d):
            for m in range(d):
                change = _greater(np.abs(new_C[i, m] - C[i, m]), change)
                size = _greater(np.abs(new_C[i, m]), size)
        delta = max(_relative(new_volumes, volumes), change / size)
        C = new_C
        copy_values(new_volumes, volumes)
        if _converged(delta, has_previous, previous, tol):
            break
        previous = delta
        has_previous = True
    for j in range(k):
        copy_values(_scaled(C, volumes[j], 1.0), out[j])
    return iteration


# Inlined (numba IR) into the model's M-step, its one caller: called as a function
# of its own, every function below it would be optimised once more in each caller.
@njit(cache=True, error_model="numpy", inline="always")
def _common(n, S, start, has_start, tol, max_iter, equal_volume, out):  # pragma: no cover
    """EVE (``equal_volume``) and VVE, as gmm_models._common. Written: out."""
    k, d = S.shape[0], S.shape[1]
    W = np.empty((k, d, d))
    for j in range(k):
        copy_values(_symmetric(_scaled(S[j], n[j], 1.0)), W[j])
    if has_start:
        orientation = common_orientation(start)
    else:
        orientation = _sorted_eigh(_sum_over_components(W))[1]
    return fit_common_orientation(W, n, equal_volume, orientation, tol, max_iter, has_start, out)
