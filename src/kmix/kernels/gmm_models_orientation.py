"""The M-step of the mixture models with a common orientation, EVE and VVE.

Both have Σ_k = λ_k D A_k Dᵀ with one orthogonal D, shapes A_k (diagonal,
det 1) that vary, and volumes that are equal (EVE) or vary (VVE). With
W_k = n_k S_k the components' scatter, the M-step maximises

    Q = -½ Σ_k [ n_k log det Σ_k + tr(W_k Σ_k⁻¹) ].

Given D the rest is in closed form (:func:`profile`): with b_k = diag(Dᵀ W_k D),
A_k = b_k / |b_k|^(1/d) and λ_k = |b_k|^(1/d) / n_k (VVE) or
λ = Σ_k |b_k|^(1/d) / n (EVE). Given the shapes and volumes, D minimises

    f(D) = Σ_k tr(Dᵀ W_k D Ψ_k),    Ψ_k = A_k⁻¹ / λ_k,

over the orthogonal matrices, which :func:`orientation_step` decreases by one
majorisation-minimisation (MM) step in the manner of Browne & McNicholas (2014,
"Estimating common principal components in high dimensions", Adv. Data Anal.
Classif. 8, 217-226). :func:`fit_common_orientation` alternates the two,
accelerates the alternation with SQUAREM (Varadhan & Roland 2008) and finishes
with Newton steps on the profile likelihood over the rotations, keeping an
accelerated or Newton point only where it does not lower Q (beyond rounding),
so that every iterate is at least as good as the start (a generalised EM step).

This module also holds the determinant helpers that :mod:`.gmm_models` shares.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

__all__ = [
    "DEGENERATE",
    "NEWTON_MAX_FEATURES",
    "collapsed",
    "common_orientation",
    "profile",
    "orientation_objective",
    "orientation_step",
    "fit_common_orientation",
]

_TINY = np.finfo(np.float64).tiny

# Distinct positive weights (fractional parts of multiples of the golden ratio)
# for the combination of covariances whose eigenvectors give their common
# orientation: with equal weights, two components whose shapes are each other's
# permutation would add up to a multiple of the identity, which has no
# orientation.
_GOLDEN = 0.6180339887498949

# Shapes more elongated than this (smallest over largest entry, eps²) are taken
# for a collapse: far beyond any ratio of the variances of real features, far
# short of overflow.
DEGENERATE = np.finfo(np.float64).eps ** 2

# Newton steps need the eigen-decomposition of a d(d - 1)/2 square Hessian;
# above this many features its cost (O(d⁶)) outweighs the MM steps it saves,
# and the iteration relies on MM with SQUAREM alone.
NEWTON_MAX_FEATURES = 32


# --- determinants and normalisation, shared with gmm_models ------------------------


def root_det_diagonal(values: np.ndarray) -> np.ndarray:
    """|diag(v)|^(1/d) of (..., d) float64 values, shape (...): their geometric mean.

    Taken as exp(mean(log v)), which neither overflows nor underflows where the
    product of d values would. It is 0 where an entry is ≤ 0 (a singular
    matrix), which the callers turn into a singular covariance, not a NaN.
    """
    positive = values > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.where(positive, values, 1.0))
    roots = np.exp(np.mean(logs, axis=-1))
    return np.where(np.all(positive, axis=-1), roots, 0.0)


def root_det(matrices: np.ndarray) -> np.ndarray:
    """|M|^(1/d) of symmetric (..., d, d) float64 matrices from their eigenvalues, shape (...);
    0 where one is ≤ 0."""
    return root_det_diagonal(np.linalg.eigvalsh(matrices))


def unit_det(values: np.ndarray, roots: np.ndarray, *, diagonal: bool) -> np.ndarray:
    """values / roots: diagonals (..., d) or matrices (..., d, d) scaled to determinant 1.

    Where the root is 0 (a singular input) the result is 0 for d > 1 (the
    normalised shape has no limit; a zero covariance is what the callers
    return for a collapsed component) and 1 for d = 1 (every positive
    1 × 1 matrix normalises to 1, so the limit exists).
    """
    d = values.shape[-1]
    scale = np.where(roots > 0, roots, 1.0)
    scale = scale[..., None] if diagonal else scale[..., None, None]
    out = values / scale
    zero = (roots <= 0)[..., None] if diagonal else (roots <= 0)[..., None, None]
    if d == 1:
        return np.where(zero, 1.0, out)
    return np.where(zero, 0.0, out)


def _align_signs(D: np.ndarray, reference: np.ndarray) -> np.ndarray:
    # Flipping a column of D changes neither f nor any λ_k D A_k Dᵀ (A_k is
    # diagonal); matching the reference's signs keeps successive iterates close,
    # which the acceleration and the convergence test rely on.
    signs = np.where(np.einsum("ij,ij->j", D, reference) < 0, -1.0, 1.0)
    return D * signs


def _canonical_signs(D: np.ndarray) -> np.ndarray:
    # The entry of largest magnitude of each column positive: a deterministic
    # choice among the 2^d sign patterns of the same eigenvectors.
    rows = np.argmax(np.abs(D), axis=0)
    signs = np.where(D[rows, np.arange(D.shape[1])] < 0, -1.0, 1.0)
    return D * signs


def _polar(X: np.ndarray) -> np.ndarray:
    # The orthogonal matrix nearest to X (and the maximiser of tr(Qᵀ X) over
    # orthogonal Q): P Rᵀ from X = P Σ Rᵀ.
    P, _, Rt = np.linalg.svd(X)
    return P @ Rt


# --- the model given its orientation ------------------------------------------------


def common_orientation(covariances: np.ndarray) -> np.ndarray:
    """An orthogonal D that diagonalises every covariance, if one does.

    Parameters
    ----------
    covariances : ndarray (k, d, d) float64
        Symmetric; exactly or nearly Σ_k = λ_k D A_k Dᵀ for a common D.

    Returns
    -------
    ndarray (d, d) float64
        Orthogonal; its columns are ordered by decreasing mean of
        Σ_k / tr(Σ_k) along them, each with its largest entry positive.

    Notes
    -----
    D diagonalises every Σ_k, hence any combination Σ_k c_k Σ_k; its
    eigenvectors give D. Distinct weights c_k keep the combination's
    eigenvalues apart in the cases where equal weights would merge them.
    Where the covariances share no orientation the result is the eigenvectors
    of that combination, a reasonable starting point.
    """
    k, d, _ = covariances.shape
    traces = np.trace(covariances, axis1=1, axis2=2)
    scaled = covariances / np.where(traces > 0, traces, 1.0)[:, None, None]
    weights = 1.0 + ((np.arange(1, k + 1) * _GOLDEN) % 1.0)
    combination = np.tensordot(weights, scaled, axes=1)
    _, D = np.linalg.eigh(0.5 * (combination + combination.T))
    spread = np.einsum("ij,il,lj->j", D, scaled.sum(axis=0), D)
    D = D[:, np.argsort(-spread, kind="stable")]
    return _canonical_signs(D)


def profile(
    scatters: np.ndarray, weight_sums: np.ndarray, orientation: np.ndarray, *, equal_volume: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The maximum-likelihood volumes and shapes of EVE or VVE given the orientation.

    Parameters
    ----------
    scatters : ndarray (k, d, d) float64
        W_k = n_k S_k, symmetric positive semi-definite.
    weight_sums : ndarray (k,) float64
        n_k, positive.
    orientation : ndarray (d, d) float64
        D, orthogonal.
    equal_volume : bool
        True for EVE (one λ), False for VVE (λ_k).

    Returns
    -------
    volumes : ndarray (k,) float64
        λ_k (all equal for EVE).
    shapes : ndarray (k, d) float64
        diag(A_k), det 1; zeros where b_k has a zero entry (d > 1).

    Notes
    -----
    With D fixed, tr(W_k Σ_k⁻¹) = Σ_i b_ki / (λ_k a_ki) with b_k = diag(Dᵀ W_k D):
    minimising over A_k with det A_k = 1 gives A_k ∝ b_k and the term
    d |b_k|^(1/d) / λ_k; then λ_k = |b_k|^(1/d)/n_k, or for a common λ,
    λ = Σ_k |b_k|^(1/d) / n.
    """
    b = np.einsum("ij,kil,lj->kj", orientation, scatters, orientation)
    return _profile_of_diagonals(b, weight_sums, equal_volume)


def _profile_of_diagonals(
    b: np.ndarray, weight_sums: np.ndarray, equal_volume: bool
) -> tuple[np.ndarray, np.ndarray]:
    roots = root_det_diagonal(b)
    shapes = unit_det(b, roots, diagonal=True)
    if equal_volume:
        volumes = np.full(roots.shape, roots.sum() / weight_sums.sum())
    else:
        volumes = roots / weight_sums
    return volumes, shapes


def _loss(weight_sums: np.ndarray, volumes: np.ndarray) -> float:
    # At the profile volumes and shapes Σ_i b_ki/(λ_k a_ki) = d |b_k|^(1/d)/λ_k,
    # which sums to d n for both models, so -2Q/d = Σ_k n_k log λ_k + const:
    # the lower, the better.
    with np.errstate(divide="ignore"):
        return float(np.sum(weight_sums * np.log(volumes)))


def orientation_objective(
    scatters: np.ndarray, orientation: np.ndarray, volumes: np.ndarray, shapes: np.ndarray
) -> float:
    """f(D) = Σ_k tr(Dᵀ W_k D A_k⁻¹) / λ_k, the part of -2Q that depends on D, for
    scatters (k, d, d), orientation (d, d), volumes (k,) and shapes (k, d), float64."""
    b = np.einsum("ij,kil,lj->kj", orientation, scatters, orientation)
    return float(np.sum(b / (shapes * volumes[:, None])))


def orientation_step(
    scatters: np.ndarray,
    orientation: np.ndarray,
    volumes: np.ndarray,
    shapes: np.ndarray,
    smallest_eigenvalues: np.ndarray | None = None,
) -> np.ndarray:
    """One MM step for D: f(result) ≤ f(orientation), volumes and shapes held fixed.

    Parameters
    ----------
    scatters : ndarray (k, d, d) float64
        W_k, symmetric positive semi-definite.
    orientation : ndarray (d, d) float64
        D₀, orthogonal.
    volumes : ndarray (k,) float64, positive
    shapes : ndarray (k, d) float64, positive
    smallest_eigenvalues : ndarray (k,) float64, optional
        The smallest eigenvalue w_k of each W_k (computed if not given).

    Returns
    -------
    ndarray (d, d) float64
        Orthogonal, its columns' signs matched to D₀.

    Notes
    -----
    f(D) = vec(D)ᵀ H vec(D) with H = Σ_k Ψ_k ⊗ W_k and Ψ_k = A_k⁻¹/λ_k. On the
    orthogonal matrices the quadratic forms of I ⊗ W_k (tr W_k), Ψ_k ⊗ I
    (tr Ψ_k) and I ⊗ I (d) are constants. With p_k the largest entry of Ψ_k,
    M_k = w_k Ψ_k ⊗ I + p_k I ⊗ W_k - p_k w_k I satisfies
    M_k - Ψ_k ⊗ W_k = (p_k I - Ψ_k) ⊗ (W_k - w_k I) ⪰ 0, so

        f(D) ≤ const - 2 tr(Dᵀ G),   G = Σ_k (W_k - w_k I) D₀ (p_k I - Ψ_k),

    with equality at D₀. The majoriser is least at the orthogonal D that
    maximises tr(Dᵀ G): D = P Rᵀ with G = P Σ Rᵀ (its SVD), hence
    f(D) ≤ const - 2 tr(Dᵀ G) ≤ f(D₀). Browne & McNicholas bound one factor
    by its largest eigenvalue (here w_k = 0, G = Σ_k W_k D₀ (p_k I - Ψ_k); or
    the roles of W_k and Ψ_k exchanged, G = Σ_k (a_k I - W_k) D₀ Ψ_k with a_k
    the largest eigenvalue of W_k); shifting by the smallest eigenvalue of
    the other factor as well gives a tighter majoriser, several times fewer steps.
    """
    if smallest_eigenvalues is None:
        smallest_eigenvalues = np.linalg.eigvalsh(scatters)[:, 0]
    d = orientation.shape[0]
    psi = 1.0 / (shapes * volumes[:, None])
    gap = psi.max(axis=1, keepdims=True) - psi  # diag(p_k I - Ψ_k), (k, d)
    shifted = scatters - smallest_eigenvalues[:, None, None] * np.eye(d)
    G = np.einsum("kij,jl,kl->il", shifted, orientation, gap)
    if not np.any(G):
        # Every Ψ_k isotropic (or every W_k): f does not depend on D.
        return orientation.copy()
    return _align_signs(_polar(G), orientation)


# --- Newton steps near the maximum ----------------------------------------------------


def _gradient(B: np.ndarray, weight_sums: np.ndarray, equal_volume: bool, upper) -> np.ndarray:
    """∂ℓ/∂x_pq (p < q) of the profile loss ℓ = -2Q/d at D expm(Σ x_pq (e_p e_qᵀ - e_q e_pᵀ)), x = 0.

    B_k = Dᵀ W_k D. Rotating by x in plane (p, q) moves b_kp by -2x B_kpq and
    b_kq by +2x B_kpq; the volumes and shapes, at their maximum given D, add
    nothing to first order (the envelope theorem), so ∂ℓ/∂b_ki = ψ_ki / d and
    ∂ℓ/∂x_pq = (2/d) Σ_k B_kpq (ψ_kq - ψ_kp); for VVE, zero is Flury's
    condition for common principal components.
    """
    d = B.shape[-1]
    volumes, shapes = _profile_of_diagonals(np.diagonal(B, axis1=1, axis2=2), weight_sums, equal_volume)
    psi = 1.0 / (shapes * volumes[:, None])
    gradient = np.einsum("kpq,kq->pq", B, psi) - np.einsum("kpq,kp->pq", B, psi)
    return (2.0 / d) * gradient[upper]


def _hessian(B: np.ndarray, weight_sums: np.ndarray, equal_volume: bool, upper) -> np.ndarray:
    """∂²ℓ/∂x_α∂x_β of the same profile loss, α = (p, q), β = (r, s) the pairs in ``upper``.

    With K = Σ_α x_α E_α, E_α = e_p e_qᵀ - e_q e_pᵀ, the scatters in the new
    basis are e^(-K) B e^K = B + [B, K] + ½ [[B, K], K] + O(x³), so with
    b_k = diag of that and ℓ = F(b):

        H_αβ = Σ J_α F'' J_β + Σ_ki c_ki ½ ([[B_k, E_α], E_β] + [[B_k, E_β], E_α])_ii,

    J_α = ∂b/∂x_α (-2 B_kpq at i = p, +2 B_kpq at i = q), c = ∂F/∂b = ψ/d and
    F'' the second derivatives of F: -n_k/(d b_ki²) on the diagonal for VVE
    (F = Σ_k (n_k/d) Σ_i log b_ki); for EVE (F = n log Σ_k r_k, r_k = |b_k|^(1/d))
    (n/R) r_k (1/(d² b_ki b_kj) - δ_ij/(d b_ki²)) within a component less
    (n/R²) r_k r_l / (d² b_ki b_lj) across, R = Σ_k r_k. Writing
    C = [B, E_α], C_rs = B_rp δ_qs - B_rq δ_ps - δ_rp B_qs + δ_rq B_ps and
    Σ_i c_i ([C, E_β])_ii = 2 C_rs (c_s - c_r), the second term is M + Mᵀ
    with M_αβ = Σ_k C^α_k,rs (c_ks - c_kr).
    """
    k, d, _ = B.shape
    p, q = upper
    pairs = np.arange(p.size)
    b = np.diagonal(B, axis1=1, axis2=2)
    volumes, shapes = _profile_of_diagonals(b, weight_sums, equal_volume)
    c = 1.0 / (shapes * volumes[:, None] * d)
    J = np.zeros((k, d, p.size))
    J[:, p, pairs] = -2.0 * B[:, p, q]
    J[:, q, pairs] = 2.0 * B[:, p, q]

    def gram(weights: np.ndarray) -> np.ndarray:
        # Σ_ki weights_ki J_kiα J_kiβ, one matrix product
        return (J * weights[:, :, None]).reshape(k * d, -1).T @ J.reshape(k * d, -1)

    if equal_volume:
        roots = root_det_diagonal(b)
        total_root, total_weight = roots.sum(), weight_sums.sum()
        u = np.einsum("kia,ki->ka", J, 1.0 / b)
        within = (u.T * roots) @ u / d**2 - gram(roots[:, None] / b**2) / d
        across = roots @ u
        H = (total_weight / total_root) * within
        H -= (total_weight / total_root**2) * np.outer(across, across) / d**2
    else:
        H = -gram(weight_sums[:, None] / (d * b**2))
    dc = c[:, q] - c[:, p]  # c_ks - c_kr for each β = (r, s)
    Y = np.einsum("kbi,kb->bi", B[:, p, :], dc)  # Σ_k B_k[r_β, i] (c_ks - c_kr)
    Z = np.einsum("kbi,kb->bi", B[:, q, :], dc)  # Σ_k B_k[s_β, i] (c_ks - c_kr)

    def same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a[:, None] == b[None, :]  # (α, β)

    M = Y[:, p].T * same(q, q) - Y[:, q].T * same(p, q) - same(p, p) * Z[:, q].T + same(q, p) * Z[:, p].T
    return H + M + M.T


def _newton(
    scatters: np.ndarray, weight_sums: np.ndarray, equal_volume: bool,
    D: np.ndarray, volumes: np.ndarray, shapes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, bool, bool] | None:
    """One safeguarded Newton step on the profile loss over the rotations of D.

    The gradient and Hessian are exact (:func:`_gradient`, :func:`_hessian`),
    in the coordinates x of D expm(K(x)). Where the Hessian is not positive
    definite (near a saddle) its eigenvalues are replaced by their magnitudes
    (a saddle-free Newton step, which still descends). Steps are capped at 0.5 radian and shortened (1, 1/4, 1/16)
    until Q does not fall by more than its rounding.

    Returns (D, volumes, shapes, step, definite, undamped): step the largest
    angle of the step taken, definite whether the Hessian was positive
    definite, undamped whether the whole step was taken; or None where no
    step was kept.
    """
    d = D.shape[0]
    upper = np.triu_indices(d, 1)
    B = np.einsum("ji,kjl,lm->kim", D, scatters, D)
    gradient = _gradient(B, weight_sums, equal_volume, upper)
    curvatures, vectors = np.linalg.eigh(_hessian(B, weight_sums, equal_volume, upper))
    top = np.max(np.abs(curvatures))
    if not top > 0:
        return None
    definite = bool(curvatures[0] > 0)
    curvatures = np.maximum(np.abs(curvatures), 1e-8 * top)
    x = -vectors @ ((vectors.T @ gradient) / curvatures)
    largest = float(np.max(np.abs(x)))
    capped = largest > 0.5
    if capped:
        x *= 0.5 / largest
    # Near the maximum Q changes by less than its rounding; allow that much.
    slack = 64.0 * np.finfo(np.float64).eps * float(np.sum(weight_sums * (1.0 + np.abs(np.log(volumes)))))
    current = _loss(weight_sums, volumes)
    for shrink in (1.0, 0.25, 0.0625):
        K = np.zeros((d, d))
        K[upper] = shrink * x
        D_new = D @ scipy.linalg.expm(K - K.T)
        volumes_new, shapes_new = profile(scatters, weight_sums, D_new, equal_volume=equal_volume)
        if _loss(weight_sums, volumes_new) <= current + slack:
            step = float(np.max(np.abs(shrink * x)))
            return D_new, volumes_new, shapes_new, step, definite, shrink == 1.0 and not capped
    return None


# --- the whole M-step ---------------------------------------------------------------


def _covariances(orientation: np.ndarray, volumes: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    scaled = shapes * volumes[:, None]
    out = np.einsum("ij,kj,lj->kil", orientation, scaled, orientation)
    return 0.5 * (out + np.swapaxes(out, 1, 2))


def _relative_change(new: np.ndarray, old: np.ndarray) -> float:
    # Per component, max |ΔΣ_k| / max |Σ_k|: insensitive to the components' scales
    # and to D moving where f is flat (directions in which Σ_k does not change).
    size = np.max(np.abs(new), axis=(1, 2))
    change = np.max(np.abs(new - old), axis=(1, 2))
    with np.errstate(over="ignore"):
        return float(np.max(change / np.maximum(size, _TINY)))


# Steps that no longer shrink below this size are rounding noise.
_NOISE = 1e-8


def converged(delta: float, previous: float | None, tol: float) -> bool:
    """Whether an iteration whose last step changed the parameters by ``delta`` has converged.

    Stops once ``delta`` ≤ ``tol`` and, where the steps shrink geometrically
    (r = delta / previous < 1), once the distance still to go, about
    delta · r / (1 - r), is also below ``tol``: a slow iteration with small
    steps is not yet close. Steps that no longer shrink, below ``tol`` or
    at the level of rounding, are noise.
    """
    if not np.isfinite(delta):
        return True
    if previous is not None and delta >= previous and delta <= max(tol, _NOISE):
        return True
    if delta > tol:
        return False
    if previous is None:
        return True
    rate = delta / previous
    return delta * rate <= tol * (1.0 - rate)


def _squarem_cycle(T, profile_of, loss, D, state, max_steps):
    """One SQUAREM cycle of the map T from (D, volumes, shapes); returns the new state and steps taken."""
    D1, volumes1, shapes1 = T(D, *state)
    if max_steps < 2 or not _usable(volumes1, shapes1):
        return (D1, volumes1, shapes1), 1
    D2, volumes2, shapes2 = T(D1, volumes1, shapes1)
    best = (D2, volumes2, shapes2)
    r = D1 - D
    v = D2 - 2.0 * D1 + D
    norm_v = np.linalg.norm(v)
    if max_steps < 3 or not norm_v > 0 or not _usable(volumes2, shapes2):
        return best, 2
    alpha = -np.linalg.norm(r) / norm_v
    if alpha >= -1.0:  # no faster than the plain steps
        return best, 2
    jumped = _align_signs(_polar(D - 2.0 * alpha * r + alpha**2 * v), D2)
    jumped_state = profile_of(jumped)
    if not _usable(*jumped_state):
        return best, 2
    D3, volumes3, shapes3 = T(jumped, *jumped_state)
    if loss(volumes3) <= loss(volumes2):
        best = (_align_signs(D3, D2), volumes3, shapes3)
    return best, 3


def collapsed(volumes: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """Which components, (k,) bool, have collapsed: a volume or shape entry that
    is not positive and finite, or shapes more elongated than 1 / DEGENERATE.

    Such a component's likelihood grows without bound as it flattens further
    (its scatter is singular); the iterations stop there and give it a zero
    covariance.
    """
    volumes = np.asarray(volumes)
    bad = ~(np.isfinite(volumes) & (volumes > 0))
    bad |= ~np.all(np.isfinite(shapes) & (shapes > 0), axis=-1)
    bad |= ~(np.min(shapes, axis=-1) > DEGENERATE * np.max(shapes, axis=-1))
    return np.broadcast_to(bad, volumes.shape)


def _usable(volumes: np.ndarray, shapes: np.ndarray) -> bool:
    # Ψ_k = A_k⁻¹/λ_k needs positive, finite shapes and volumes.
    return not np.any(collapsed(volumes, shapes))


def fit_common_orientation(
    scatters: np.ndarray,
    weight_sums: np.ndarray,
    *,
    equal_volume: bool,
    orientation: np.ndarray,
    tol: float,
    max_iter: int,
    warm: bool = False,
) -> tuple[np.ndarray, int]:
    """The EVE (``equal_volume``) or VVE covariances maximising Q, from a starting D.

    Parameters
    ----------
    scatters : ndarray (k, d, d) float64
        W_k = n_k S_k.
    weight_sums : ndarray (k,) float64
        n_k, positive.
    equal_volume : bool
        True for EVE, False for VVE.
    orientation : ndarray (d, d) float64
        The starting D, orthogonal.
    tol : float
        Convergence: a Newton step (in radians) or a relative change of the
        covariances (see :func:`converged`) below it.
    max_iter : int
        The most steps (MM and Newton) to take; reaching it is not an error.
    warm : bool
        D is the previous EM iteration's (see the notes).

    Returns
    -------
    covariances : ndarray (k, d, d) float64
        λ_k D A_k Dᵀ; a component that collapses (:func:`collapsed`: its
        scatter is singular and its likelihood unbounded) gets a zero covariance.
    n_iter : int
        The MM and Newton steps taken.

    Notes
    -----
    T(D) = the MM step taken at the profile volumes and shapes of D. Q at the
    profile of T(D) is at least Q at the profile of D, which is at least Q at
    any other volumes and shapes with orientation D: Q never decreases.
    T is accelerated by SQUAREM: one cycle takes D₁ = T(D), D₂ = T(D₁),
    extrapolates along r = D₁ - D, v = D₂ - 2 D₁ + D to D - 2αr + α²v
    (α = -‖r‖/‖v‖), brings that back to the orthogonal matrices (its polar
    factor), takes one more T there and keeps the result only where its Q is
    at least that of D₂.

    MM converges linearly, slowly where Q is flat in some rotation, and there
    small steps say little about the distance still to go. Once a cycle
    changes the covariances by less than 1 % (and d ≤ NEWTON_MAX_FEATURES),
    or from the start where it is ``warm`` (EM's later iterations move D
    little), each iteration first tries a Newton step on the profile over the
    d(d - 1)/2 plane rotations (:func:`_newton`), kept only where Q does not
    fall by more than its rounding; near the maximum these converge
    quadratically, and their size bounds the error. The iteration stops at a
    plain Newton step below ``tol``, or where the covariances change by less
    than ``tol`` (:func:`converged`) in a SQUAREM cycle or an undamped Newton
    step at an indefinite Hessian (directions in which Q is flat).
    """
    d = orientation.shape[0]
    smallest = np.linalg.eigvalsh(scatters)[:, 0]

    def profile_of(D: np.ndarray):
        return profile(scatters, weight_sums, D, equal_volume=equal_volume)

    def T(D: np.ndarray, volumes: np.ndarray, shapes: np.ndarray):
        D_next = orientation_step(scatters, D, volumes, shapes, smallest)
        return (D_next, *profile_of(D_next))

    def loss(volumes: np.ndarray) -> float:
        return _loss(weight_sums, volumes)

    D = orientation
    volumes, shapes = profile_of(D)
    covariances = _covariances(D, volumes, shapes)
    n_steps = 0
    previous: float | None = None
    previous_step: float | None = None
    while n_steps < max_iter and _usable(volumes, shapes):
        newton = None
        if 1 < d <= NEWTON_MAX_FEATURES and ((previous is not None and previous < 1e-2) or (warm and not n_steps)):
            newton = _newton(scatters, weight_sums, equal_volume, D, volumes, shapes)
        if newton is not None:
            D, volumes, shapes, step, definite, undamped = newton
            n_steps += 1
            new_covariances = _covariances(D, volumes, shapes)
            delta = _relative_change(new_covariances, covariances)
            covariances = new_covariances
            if definite and undamped:
                # Quadratic convergence: the error is far below the step. Steps
                # that no longer shrink are rounding noise.
                stalled = previous_step is not None and 0.5 * previous_step <= step <= 1e-6
                if step <= tol or stalled:
                    break
                previous_step = step
            elif undamped and converged(delta, previous, tol):
                break  # flat directions, in which the covariances do not change
            previous = max(delta, _TINY)
            continue
        (D, volumes, shapes), taken = _squarem_cycle(
            T, profile_of, loss, D, (volumes, shapes), max_iter - n_steps
        )
        n_steps += taken
        new_covariances = _covariances(D, volumes, shapes)
        delta = _relative_change(new_covariances, covariances)
        covariances = new_covariances
        if converged(delta, previous, tol):
            break
        previous = delta
    covariances[collapsed(volumes, shapes)] = 0.0
    return covariances, n_steps
