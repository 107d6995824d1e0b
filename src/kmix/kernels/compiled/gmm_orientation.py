"""Compiled M-step of the mixture models with a common orientation, EVE and VVE (numba).

The algorithm of :mod:`kmix.kernels.gmm_models_orientation` step for step, so that a
whole EM loop for small data can run in machine code: the profile volumes and shapes
given D, MM steps for D accelerated by SQUAREM, then safeguarded Newton steps over the
plane rotations (1 < d ≤ NEWTON_MAX_FEATURES), with the reference's rules.

Sums are added in numpy's order (``einsum``'s nested loops, the pairwise sum of
``np.sum`` and ``np.mean``, libm's ``pow`` for a scalar's square) and the
products the reference leaves to BLAS go to BLAS. Where numpy's LAPACK and BLAS
and scipy's (which numba calls) give the same bits, the MM and SQUAREM steps
then agree with the reference's bit for bit, and so do decisions that hang on
rounding, such as when a component with singular scatter collapses. A Newton
step's rotation e^S (S skew, entries at most ½) is a Taylor series after
scaling to a 1-norm ≤ ¼, squared back, where the reference calls scipy's
``expm``: the two agree to rounding.

Divisions follow numpy's rules (``error_model="numpy"``), as the reference runs
under ``np.errstate(all="ignore")``. Where the reference's SVD or
eigen-decomposition would raise on a non-finite matrix (an overflowing SQUAREM
extrapolation, a non-finite Hessian) the step is rejected instead.
"""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from numba import njit

from ..gmm_models_orientation import _GOLDEN, _NOISE, DEGENERATE, NEWTON_MAX_FEATURES
from .elementary import copy_values
from .sums import pairwise_total

__all__ = ["common_orientation", "fit_common_orientation"]

_TINY = float(np.finfo(np.float64).tiny)
_EPS = float(np.finfo(np.float64).eps)


@njit(cache=True, error_model="numpy")
def _scalar_square(x):  # pragma: no cover - compiled
    # x ** 2 of a numpy float64 scalar, which calls libm's pow: that can differ
    # from x * x in the last bit. The exponent 2 + 0·x keeps LLVM from turning
    # the call into x * x (it cannot assume x finite).
    return x ** (2.0 + 0.0 * x)


# --- small helpers -------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _canonical_signs(D):  # pragma: no cover - compiled
    """The entry of largest magnitude of each column of D made positive. Written: D."""
    for j in range(D.shape[1]):
        if D[np.argmax(np.abs(D[:, j])), j] < 0:
            for i in range(D.shape[0]):  # no slice assignment (see .elementary)
                D[i, j] = -D[i, j]


@njit(cache=True, error_model="numpy")
def _align_signs(D, reference):  # pragma: no cover - compiled
    """Columns of D flipped where they point away from the reference's. Written: D."""
    d = D.shape[0]
    for j in range(D.shape[1]):
        dot = 0.0
        for i in range(d):
            dot += D[i, j] * reference[i, j]
        if dot < 0:
            for i in range(D.shape[0]):  # no slice assignment (see .elementary)
                D[i, j] = -D[i, j]


@njit(cache=True, error_model="numpy")
def _polar(X):  # pragma: no cover - compiled
    # The orthogonal matrix nearest to X: P Rᵀ from its SVD X = P Σ Rᵀ.
    P, _, Rt = np.linalg.svd(X)
    return P @ Rt


@njit(cache=True, error_model="numpy")
def _expm_skew(S):  # pragma: no cover - compiled
    """e^S for a small square S: its Taylor series at S / 2^s, ‖S / 2^s‖₁ ≤ ¼ (the
    terms past the 16th are below 1e-25 of the sum), squared s times."""
    d = S.shape[0]
    norm = np.max(np.sum(np.abs(S), axis=0))
    squarings, scale = 0, 1.0
    while norm * scale > 0.25:
        scale *= 0.5
        squarings += 1
    A = S * scale
    result, term = np.eye(d), np.eye(d)
    for m in range(1, 17):
        term = (term @ A) / m
        result += term
    for _ in range(squarings):
        result = result @ result
    return result


# --- the model given its orientation ------------------------------------------------


@njit(cache=True, error_model="numpy")
def _profile_of_diagonals(b, weight_sums, equal_volume, volumes, shapes, roots):  # pragma: no cover
    """Volumes (k,), shapes (k, d) and roots |b_k|^(1/d) (k,) from b (k, d).

    As the reference: the root is exp(mean log b_k), 0 where an entry is ≤ 0
    (then the shape is 0, or 1 for d = 1). Written: volumes, shapes, roots.
    """
    k, d = b.shape
    logs = np.empty(d)
    for c in range(k):
        positive = True
        for i in range(d):
            if b[c, i] > 0:
                logs[i] = np.log(b[c, i])
            else:
                logs[i] = 0.0
                positive = False
        root = np.exp(pairwise_total(logs) / d) if positive else 0.0
        roots[c] = root
        for i in range(d):
            shapes[c, i] = b[c, i] / root if root > 0 else (1.0 if d == 1 else 0.0)
    if equal_volume:
        volumes[:] = pairwise_total(roots) / pairwise_total(weight_sums)
    else:
        for c in range(volumes.shape[0]):
            volumes[c] = roots[c] / weight_sums[c]


@njit(cache=True, error_model="numpy")
def _profile(scatters, weight_sums, D, equal_volume):  # pragma: no cover - compiled
    """The profile volumes (k,) and shapes (k, d) at orientation D."""
    k, d, _ = scatters.shape
    b = np.empty((k, d))
    for c in range(k):
        for j in range(d):
            # b_kj = Σ_i Σ_l D_ij W_kil D_lj, in einsum's order
            total = 0.0
            for i in range(d):
                for m in range(d):
                    total += D[i, j] * scatters[c, i, m] * D[m, j]
            b[c, j] = total
    volumes, shapes, roots = np.empty(k), np.empty((k, d)), np.empty(k)
    _profile_of_diagonals(b, weight_sums, equal_volume, volumes, shapes, roots)
    return volumes, shapes


@njit(cache=True, error_model="numpy")
def _loss(weight_sums, volumes):  # pragma: no cover - compiled
    # -2Q/d less a constant at the profile: Σ_k n_k log λ_k, the lower the better.
    return pairwise_total(weight_sums * np.log(volumes))


@njit(cache=True, error_model="numpy")
def _collapsed(volume, shapes, c):  # pragma: no cover - compiled
    """Whether component c has collapsed, as the reference's ``collapsed``."""
    row = shapes[c]
    if not (np.isfinite(volume) and volume > 0 and np.all(np.isfinite(row)) and np.all(row > 0)):
        return True
    return not (np.min(row) > DEGENERATE * np.max(row))


@njit(cache=True, error_model="numpy")
def _usable(volumes, shapes):  # pragma: no cover - compiled
    # Ψ_k = A_k⁻¹/λ_k needs positive, finite shapes and volumes.
    for c in range(volumes.shape[0]):
        if _collapsed(volumes[c], shapes, c):
            return False
    return True


@njit(cache=True, error_model="numpy")
def _covariances(D, volumes, shapes, out):  # pragma: no cover - compiled
    """out_k = λ_k D A_k Dᵀ, symmetrised as the reference does. Written: out (k, d, d)."""
    k, d = shapes.shape
    for c in range(k):
        for i in range(d):
            for m in range(d):
                total = 0.0
                for j in range(d):
                    total += D[i, j] * (shapes[c, j] * volumes[c]) * D[m, j]
                out[c, i, m] = total
        for i in range(d):
            for m in range(i + 1):
                out[c, i, m] = out[c, m, i] = 0.5 * (out[c, i, m] + out[c, m, i])


@njit(cache=True, error_model="numpy")
def _relative_change(new, old):  # pragma: no cover - compiled
    # Per component max |ΔΣ_k| / max |Σ_k|, the largest over components; a NaN
    # anywhere gives NaN, as numpy's max.
    worst = 0.0
    for c in range(new.shape[0]):
        change, size = np.max(np.abs(new[c] - old[c])), np.max(np.abs(new[c]))
        if np.isnan(change) or np.isnan(size):
            return np.nan
        worst = max(worst, change / max(size, _TINY))
    return worst


@njit(cache=True, error_model="numpy")
def _converged(delta, has_previous, previous, tol):  # pragma: no cover - compiled
    """The reference's ``converged``, ``previous`` None where not ``has_previous``."""
    if not np.isfinite(delta):
        return True
    if has_previous and delta >= previous and delta <= max(tol, _NOISE):
        return True
    if delta > tol:
        return False
    if not has_previous:
        return True
    rate = delta / previous
    return delta * rate <= tol * (1.0 - rate)


# --- the common orientation of given covariances ---------------------------------------


@njit(cache=True, error_model="numpy")
def common_orientation(covariances):  # pragma: no cover - compiled
    """An orthogonal D that diagonalises every covariance, if one does.

    Parameters
    ----------
    covariances : ndarray (k, d, d) float64
        Symmetric; exactly or nearly Σ_k = λ_k D A_k Dᵀ for a common D.

    Returns
    -------
    ndarray (d, d) float64
        Orthogonal: the eigenvectors of Σ_k c_k Σ_k / tr(Σ_k) (distinct weights
        c_k), ordered by decreasing mean of Σ_k / tr(Σ_k) along them, each with
        its largest entry positive; as :func:`.gmm_models_orientation.common_orientation`.
    """
    k, d, _ = covariances.shape
    scaled = np.empty((k, d * d))  # Σ_k / tr(Σ_k), one row each
    for c in range(k):
        trace = pairwise_total(np.diag(covariances[c]))
        copy_values((covariances[c] / (trace if trace > 0 else 1.0)).ravel(), scaled[c])
    weights = 1.0 + ((np.arange(1, k + 1) * _GOLDEN) % 1.0)
    combination = np.dot(weights, scaled).reshape((d, d))  # np.tensordot's product
    _, vectors = np.linalg.eigh(0.5 * (combination + combination.T))
    pooled = scaled[0].copy()  # Σ_k Σ_k / tr(Σ_k), added in k's order
    for c in range(1, k):
        pooled += scaled[c]
    spread = np.empty(d)
    for j in range(d):
        total = 0.0
        for i in range(d):
            for m in range(d):
                total += vectors[i, j] * pooled[i * d + m] * vectors[m, j]
        spread[j] = -total
    D = vectors[:, np.argsort(spread, kind="mergesort")]  # stable: ties keep eigh's order
    _canonical_signs(D)
    return D


# --- MM and SQUAREM ------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _orientation_step(scatters, D, volumes, shapes, smallest):  # pragma: no cover - compiled
    """One MM step for D at fixed volumes and shapes, as the reference's
    ``orientation_step``: the polar factor of G = Σ_k (W_k - w_k I) D (p_k I - Ψ_k),
    its columns' signs matched to D."""
    k, d, _ = scatters.shape
    psi = 1.0 / (shapes * volumes.reshape((k, 1)))
    gap = np.empty((k, d))  # diag(p_k I - Ψ_k)
    for c in range(k):
        largest = np.max(psi[c])
        for i in range(d):
            gap[c, i] = largest - psi[c, i]
    G = np.empty((d, d))
    nonzero = False
    for i in range(d):
        for m in range(d):
            total = 0.0
            for c in range(k):
                for j in range(d):
                    shifted = scatters[c, i, j] - (smallest[c] if i == j else smallest[c] * 0.0)
                    total += shifted * D[j, m] * gap[c, m]
            G[i, m] = total
            nonzero = nonzero or total != 0  # NaN counts, as in np.any
    if not nonzero:
        # Every Ψ_k isotropic (or every W_k): f does not depend on D.
        return D.copy()
    result = _polar(G)
    _align_signs(result, D)
    return result


@njit(cache=True, error_model="numpy")
def _frobenius(X):  # pragma: no cover - compiled
    # np.linalg.norm of a matrix: the square root of the dot product of its entries.
    flat = X.ravel()
    return np.sqrt(np.dot(flat, flat))


@njit(cache=True, error_model="numpy")
def _squarem_cycle(scatters, weight_sums, equal_volume, smallest, D, volumes, shapes,
                   max_steps):  # pragma: no cover - compiled
    """One SQUAREM cycle of the MM map T from (D, volumes, shapes), as the reference's
    ``_squarem_cycle``; returns the new D, volumes, shapes and the steps taken."""
    D1 = _orientation_step(scatters, D, volumes, shapes, smallest)
    volumes1, shapes1 = _profile(scatters, weight_sums, D1, equal_volume)
    if max_steps < 2 or not _usable(volumes1, shapes1):
        return D1, volumes1, shapes1, 1
    D2 = _orientation_step(scatters, D1, volumes1, shapes1, smallest)
    volumes2, shapes2 = _profile(scatters, weight_sums, D2, equal_volume)
    r = D1 - D
    v = (D2 - 2.0 * D1) + D
    norm_v = _frobenius(v)
    if max_steps < 3 or not norm_v > 0 or not _usable(volumes2, shapes2):
        return D2, volumes2, shapes2, 2
    alpha = -_frobenius(r) / norm_v
    if alpha >= -1.0:  # no faster than the plain steps
        return D2, volumes2, shapes2, 2
    extrapolated = (D - (2.0 * alpha) * r) + _scalar_square(alpha) * v
    if not np.all(np.isfinite(extrapolated)):
        return D2, volumes2, shapes2, 2
    jumped = _polar(extrapolated)
    _align_signs(jumped, D2)
    volumes_jumped, shapes_jumped = _profile(scatters, weight_sums, jumped, equal_volume)
    if not _usable(volumes_jumped, shapes_jumped):
        return D2, volumes2, shapes2, 2
    D3 = _orientation_step(scatters, jumped, volumes_jumped, shapes_jumped, smallest)
    volumes3, shapes3 = _profile(scatters, weight_sums, D3, equal_volume)
    if _loss(weight_sums, volumes3) <= _loss(weight_sums, volumes2):
        _align_signs(D3, D2)
        return D3, volumes3, shapes3, 3
    return D2, volumes2, shapes2, 3


# --- Newton steps near the maximum ---------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _derivatives(scatters, weight_sums, equal_volume, D, p, q):  # pragma: no cover - compiled
    """The gradient (P,) and Hessian (P, P) of the profile loss ℓ = -2Q/d in the
    coordinates x_pq (p < q) of D expm(Σ x_pq (e_p e_qᵀ - e_q e_pᵀ)) at x = 0.

    The formulas (and the order of the sums) of the reference's ``_gradient``
    and ``_hessian``, which derive them.
    """
    k, d, _ = scatters.shape
    pairs = p.size
    B = np.empty((k, d, d))  # B_k = Dᵀ W_k D
    for c in range(k):
        for i in range(d):
            for m in range(d):
                total = 0.0
                for j in range(d):
                    for l in range(d):
                        total += D[j, i] * scatters[c, j, l] * D[l, m]
                B[c, i, m] = total
    b = np.empty((k, d))
    for c in range(k):
        for i in range(d):
            b[c, i] = B[c, i, i]
    volumes, shapes, roots = np.empty(k), np.empty((k, d)), np.empty(k)
    _profile_of_diagonals(b, weight_sums, equal_volume, volumes, shapes, roots)

    # ∂ℓ/∂x_pq = (2/d) Σ_k B_kpq (ψ_kq - ψ_kp)
    gradient = np.empty(pairs)
    for a in range(pairs):
        plus = 0.0
        minus = 0.0
        for c in range(k):
            plus += B[c, p[a], q[a]] * (1.0 / (shapes[c, q[a]] * volumes[c]))
            minus += B[c, p[a], q[a]] * (1.0 / (shapes[c, p[a]] * volumes[c]))
        gradient[a] = (2.0 / d) * (plus - minus)

    # J_α = ∂b/∂x_α: -2 B_kpq at i = p, +2 B_kpq at i = q; rows k d + i.
    J = np.zeros((k * d, pairs))
    for c in range(k):
        for a in range(pairs):
            J[c * d + p[a], a], J[c * d + q[a], a] = -2.0 * B[c, p[a], q[a]], 2.0 * B[c, p[a], q[a]]
    if equal_volume:
        weights = roots.reshape((k, 1)) / (b * b)
    else:
        weights = weight_sums.reshape((k, 1)) / (d * (b * b))
    gram = (J * weights.reshape((k * d, 1))).T @ J  # Σ_ki weights_ki J_kiα J_kiβ
    if equal_volume:
        total_root, total_weight = pairwise_total(roots), pairwise_total(weight_sums)
        u = np.zeros((k, pairs))
        for c in range(k):
            for i in range(d):
                inverse = 1.0 / b[c, i]
                for a in range(pairs):
                    u[c, a] += J[c * d + i, a] * inverse
        within = (u * roots.reshape((k, 1))).T @ u  # the reference's (u.T * roots) @ u
        across = roots @ u
        H = (total_weight / total_root) * (within / d**2 - gram / d)
        H -= (total_weight / _scalar_square(total_root)) * np.outer(across, across) / d**2
    else:
        H = -gram

    # The second-order term of the rotated diagonals, M + Mᵀ with
    # M_αβ = Σ_k C^α_k,rs (c_ks - c_kr) and c = ψ/d, through Y and Z.
    Y = np.zeros((pairs, d))
    Z = np.zeros((pairs, d))
    for c in range(k):
        for e in range(pairs):
            dc = 1.0 / (shapes[c, q[e]] * volumes[c] * d) - 1.0 / (shapes[c, p[e]] * volumes[c] * d)
            for i in range(d):
                Y[e, i] += B[c, p[e], i] * dc
                Z[e, i] += B[c, q[e], i] * dc
    M = np.empty((pairs, pairs))
    for a in range(pairs):
        for e in range(pairs):  # the reference's sum of four masked terms, in its order
            M[a, e] = ((Y[e, p[a]] * (q[a] == q[e]) - Y[e, q[a]] * (p[a] == q[e]))
                       - (p[a] == p[e]) * Z[e, q[a]]) + (q[a] == p[e]) * Z[e, p[a]]
    return gradient, (H + M) + M.T


@njit(cache=True, error_model="numpy")
def _newton(scatters, weight_sums, equal_volume, D, volumes, shapes, p, q):  # pragma: no cover
    """One safeguarded Newton step over the rotations of D, as the reference's ``_newton``:
    saddle-free (the curvatures' magnitudes), capped at 0.5 radian, shortened
    (1, 1/4, 1/16) until Q does not fall by more than its rounding.

    Returns (found, D, volumes, shapes, step, definite, undamped); ``found`` is
    False where no step was kept (the rest is then the input).
    """
    d = D.shape[0]
    pairs = p.size
    gradient, hessian = _derivatives(scatters, weight_sums, equal_volume, D, p, q)
    if not np.all(np.isfinite(hessian)):
        return False, D, volumes, shapes, 0.0, False, False
    curvatures, vectors = np.linalg.eigh(hessian)
    top = np.max(np.abs(curvatures))
    if not top > 0:
        return False, D, volumes, shapes, 0.0, False, False
    definite = curvatures[0] > 0
    projected = vectors.T @ gradient
    for a in range(pairs):
        projected[a] /= max(abs(curvatures[a]), 1e-8 * top)
    x = -vectors @ projected
    largest = np.max(np.abs(x))
    capped = largest > 0.5
    if capped:
        x *= 0.5 / largest
    # Near the maximum Q changes by less than its rounding; allow that much.
    slack = 64.0 * _EPS * pairwise_total(weight_sums * (1.0 + np.abs(np.log(volumes))))
    current = _loss(weight_sums, volumes)
    skew = np.zeros((d, d))
    shrink = 1.0
    for _ in range(3):  # shrink 1, 1/4, 1/16
        for a in range(pairs):
            skew[p[a], q[a]], skew[q[a], p[a]] = shrink * x[a], -(shrink * x[a])
        D_new = D @ _expm_skew(skew)
        volumes_new, shapes_new = _profile(scatters, weight_sums, D_new, equal_volume)
        if _loss(weight_sums, volumes_new) <= current + slack:
            step = np.max(np.abs(shrink * x))
            return True, D_new, volumes_new, shapes_new, step, definite, shrink == 1.0 and not capped
        shrink *= 0.25
    return False, D, volumes, shapes, 0.0, False, False


# --- the whole M-step (inlined into its compiled caller, as gmm_mstep._common is) ---------


@njit(cache=True, error_model="numpy", inline="always")
def fit_common_orientation(scatters, weight_sums, equal_volume, orientation, tol, max_iter, warm,
                           out):  # pragma: no cover - compiled
    """The EVE (``equal_volume``) or VVE covariances maximising Q, from a starting D.

    Parameters
    ----------
    scatters : ndarray (k, d, d) float64
        W_k = n_k S_k, symmetric.
    weight_sums : ndarray (k,) float64
        n_k, positive.
    equal_volume : bool
        True for EVE, False for VVE.
    orientation : ndarray (d, d) float64
        The starting D, orthogonal.
    tol : float
        Convergence, as the reference's (its M-step uses 1e-12).
    max_iter : int
        The most MM and Newton steps; reaching it is not an error.
    warm : bool
        D is the previous EM iteration's: try a Newton step first.
    out : ndarray (k, d, d) float64, written
        λ_k D A_k Dᵀ; zeros for a collapsed component (singular scatter).

    Returns
    -------
    int
        The MM and Newton steps taken.

    Notes
    -----
    :func:`.gmm_models_orientation.fit_common_orientation` step for step:
    SQUAREM cycles of the MM map until a cycle changes the covariances by less
    than 1 %, then (for 1 < d ≤ NEWTON_MAX_FEATURES) a Newton step first in each
    iteration, with the same acceptance and stopping rules. C-contiguous
    arguments use the one compiled (and cached) specialisation.
    """
    k, d, _ = scatters.shape
    W = np.ascontiguousarray(scatters)
    smallest = np.empty(k)
    for c in range(k):  # numba's eigvalsh raises where numpy's gives NaN
        smallest[c] = np.linalg.eigvalsh(W[c])[0] if np.all(np.isfinite(W[c])) else np.nan
    p, q = np.triu_indices(d, 1)  # the planes (p, q) of the Newton coordinates

    D = orientation.copy()
    volumes, shapes = _profile(W, weight_sums, D, equal_volume)
    _covariances(D, volumes, shapes, out)
    new = np.empty((k, d, d))
    n_steps, has_previous, previous, has_previous_step, previous_step = 0, False, 0.0, False, 0.0
    while n_steps < max_iter and _usable(volumes, shapes):
        found, step, definite, undamped = False, 0.0, False, False
        near = (has_previous and previous < 1e-2) or (warm and n_steps == 0)
        if 1 < d <= NEWTON_MAX_FEATURES and near:
            found, D_new, volumes_new, shapes_new, step, definite, undamped = _newton(
                W, weight_sums, equal_volume, D, volumes, shapes, p, q
            )
            if found:
                D, volumes, shapes = D_new, volumes_new, shapes_new
        if found:
            n_steps += 1
            _covariances(D, volumes, shapes, new)
            delta = _relative_change(new, out)
            copy_values(new, out)
            if definite and undamped:
                # Quadratic convergence: the error is far below the step. Steps
                # that no longer shrink are rounding noise.
                stalled = has_previous_step and 0.5 * previous_step <= step <= 1e-6
                if step <= tol or stalled:
                    break
                has_previous_step = True
                previous_step = step
            elif undamped and _converged(delta, has_previous, previous, tol):
                break  # flat directions, in which the covariances do not change
            has_previous = True
            previous = delta if not (_TINY > delta) else _TINY  # max(delta, tiny), NaN kept
            continue
        D, volumes, shapes, taken = _squarem_cycle(
            W, weight_sums, equal_volume, smallest, D, volumes, shapes, max_iter - n_steps
        )
        n_steps += taken
        _covariances(D, volumes, shapes, new)
        delta = _relative_change(new, out)
        copy_values(new, out)
        if _converged(delta, has_previous, previous, tol):
            break
        has_previous = True
        previous = delta
    for c in range(k):
        if _collapsed(volumes[c], shapes, c):
            out[c] = 0.0
    return n_steps
