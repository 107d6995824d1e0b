"""The M-step of the fourteen covariance models of mclust.

Celeux & Govaert (1995, "Gaussian parsimonious clustering models", Pattern
Recognition 28, 781-793) write a covariance as Σ_k = λ_k D_k A_k D_kᵀ: a volume
λ_k = |Σ_k|^(1/d), a shape A_k (diagonal, det 1) and an orientation D_k
(orthogonal). A model names each of the three in turn as Equal across the
components, Variable, or I (the identity: a spherical shape, or the coordinate
axes as orientation); mclust (Fraley & Raftery, "MCLUST version 3 for R",
Technical Report 504, University of Washington, 2006/2012) fits fourteen of them.

For the components' weights n_k and scatter S_k about their means (W_k = n_k S_k),
the M-step maximises, over the covariances the model allows,

    Q(Σ) = -½ Σ_k [ n_k log det Σ_k + tr(W_k Σ_k⁻¹) ].

Nine models have a closed-form maximiser; VEI, VEE and VEV alternate two closed
forms (volumes given the rest, the rest given the volumes), and EVE and VVE
alternate closed-form shapes and volumes with a majorisation-minimisation step for
the common orientation, finished by Newton steps (:mod:`.gmm_models_orientation`).
Each step of an alternation maximises Q over its block, so started from the
previous EM iteration's covariances an M-step never lowers Q (a generalised EM).

Nothing here validates its inputs.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._typing import MCLUST_MODELS
from .gmm_models_orientation import (
    DEGENERATE,
    common_orientation,
    converged,
    fit_common_orientation,
    root_det,
    root_det_diagonal,
    unit_det,
)

__all__ = [
    "MODELS",
    "LAYOUT",
    "STATISTICS",
    "Decomposition",
    "model_covariances",
    "decompose",
    "n_parameters",
]

MODELS = MCLUST_MODELS

# How each model's covariances are stored, in one of kmix's four layouts:
# "spherical" (k,) variances, "diag" (k, d) variances, "tied" (d, d), "full" (k, d, d).
LAYOUT = {
    "EII": "spherical",
    "VII": "spherical",
    "EEI": "diag",
    "VEI": "diag",
    "EVI": "diag",
    "VVI": "diag",
    "EEE": "tied",
    "VEE": "full",
    "EVE": "full",
    "VVE": "full",
    "EEV": "full",
    "VEV": "full",
    "EVV": "full",
    "VVV": "full",
}

# What each model's M-step reads of the scatter: "diag", the (k, d) diagonals
# (a diagonal Σ_k sees only diag(W_k) in tr(W_k Σ_k⁻¹)), or "full", the (k, d, d)
# matrices.
STATISTICS = {model: "diag" if LAYOUT[model] in ("spherical", "diag") else "full" for model in MODELS}

_TINY = np.finfo(np.float64).tiny


class Decomposition(NamedTuple):
    """Σ_k = λ_k D_k diag(A_k) D_kᵀ, component by component.

    volume : ndarray (k,) float64
        λ_k = |Σ_k|^(1/d).
    shape : ndarray (k, d) float64
        The diagonal of A_k, det 1. Decreasing for the models with a
        per-component eigen-decomposition (EEE, VEE, EEV, VEV, EVV, VVV); in
        coordinate order for the diagonal models; for EVE and VVE in the
        order of the common orientation's columns.
    orientation : ndarray (k, d, d) float64
        D_k, its columns the eigenvectors (the identity for the spherical and
        diagonal models; the same matrix for every k for EVE and VVE).
    """

    volume: np.ndarray
    shape: np.ndarray
    orientation: np.ndarray


# --- helpers ---------------------------------------------------------------------------


def _symmetric(matrices: np.ndarray) -> np.ndarray:
    return 0.5 * (matrices + np.swapaxes(matrices, -1, -2))


def _relative(new: np.ndarray, old: np.ndarray) -> float:
    # Largest entrywise relative change, for positive parameters (volumes, shapes).
    return float(np.max(np.abs(new - old) / np.maximum(np.abs(new), _TINY)))


def _sorted_eigh(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Eigenvalues in decreasing order, the order that pairs the largest
    # eigenvalues of W_k with the largest entries of a common shape.
    values, vectors = np.linalg.eigh(_symmetric(matrices))
    return values[..., ::-1], vectors[..., ::-1]


def _rotate(vectors: np.ndarray, diagonals: np.ndarray) -> np.ndarray:
    # L_k diag(c_k) L_kᵀ for every k.
    return _symmetric(np.einsum("kij,kj,klj->kil", vectors, diagonals, vectors))


# --- closed forms ------------------------------------------------------------------------


def _eii(n: np.ndarray, S: np.ndarray) -> np.ndarray:
    # σ² = Σ_k tr(W_k) / (n d)
    variance = np.dot(n, S.sum(axis=1)) / (n.sum() * S.shape[1])
    return np.full(n.shape, variance)


def _eei(n: np.ndarray, S: np.ndarray) -> np.ndarray:
    # λ A = B / n with B = diag(Σ_k W_k): the normalisation of A cancels.
    pooled = np.dot(n, S) / n.sum()
    return np.repeat(pooled[None], n.shape[0], axis=0)


def _evi(n: np.ndarray, S: np.ndarray) -> np.ndarray:
    # A_k = B_k / |B_k|^(1/d), λ = Σ_k |B_k|^(1/d) / n, B_k = diag(W_k)
    B = n[:, None] * S
    roots = root_det_diagonal(B)
    return (roots.sum() / n.sum()) * unit_det(B, roots, diagonal=True)


def _eee(n: np.ndarray, S: np.ndarray) -> np.ndarray:
    return np.tensordot(n, S, axes=1) / n.sum()


def _eev(n: np.ndarray, S: np.ndarray) -> np.ndarray:
    # With W_k = L_k Ω_k L_kᵀ (decreasing), the best D_k for any common A with
    # decreasing entries is L_k (von Neumann's trace inequality pairs the largest
    # ω_ki with the smallest 1/a_i), leaving tr(A⁻¹ Σ_k Ω_k)/λ: A ∝ Σ_k Ω_k and
    # λ A = Σ_k Ω_k / n.
    values, vectors = _sorted_eigh(S)
    pooled = np.dot(n, values) / n.sum()
    return _rotate(vectors, np.repeat(pooled[None], n.shape[0], axis=0))


def _evv(n: np.ndarray, S: np.ndarray) -> np.ndarray:
    # C_k = W_k / |W_k|^(1/d), λ = Σ_k |W_k|^(1/d) / n
    W = n[:, None, None] * S
    roots = root_det(W)
    return _symmetric((roots.sum() / n.sum()) * unit_det(W, roots, diagonal=False))


# --- alternations ------------------------------------------------------------------------


def _equal_shape(
    values: np.ndarray, n: np.ndarray, shape: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Volumes λ_k and one shape A maximising -½ Σ_k [n_k d log λ_k + Σ_i v_ki / (λ_k a_i)].

    ``values`` (k, d): diag(W_k) for VEI, the decreasing eigenvalues of W_k for
    VEV (whose best orientations are the eigenvectors, as for EEV). Given A,
    λ_k = Σ_i v_ki/a_i / (d n_k); given the λ_k, A = M / |M|^(1/d) with
    M = Σ_k v_k / λ_k. In log λ and log A the objective is a sum of linear and
    exponential terms, convex, so the alternation reaches the global maximum.
    Returns (volumes, shape, iterations); the shape is zero where M is singular.
    """
    d = values.shape[1]
    volumes = (values / shape).sum(axis=1) / (d * n)
    previous: float | None = None
    iteration = 0
    for iteration in range(1, max_iter + 1):
        # A component with W_k = 0 has λ_k = 0 and adds nothing to M (its term
        # v_k/λ_k is 0 for every λ_k > 0).
        live = volumes > 0
        pooled = (values[live] / volumes[live, None]).sum(axis=0)
        root = root_det_diagonal(pooled)
        new_shape = unit_det(pooled, root, diagonal=True)
        if not (root > 0 and np.min(new_shape) > DEGENERATE * np.max(new_shape)):
            # Singular scatter flattening A without bound: no maximum.
            return volumes, np.zeros_like(shape), iteration
        new_volumes = (values / new_shape).sum(axis=1) / (d * n)
        delta = max(_relative(new_shape, shape), _relative(new_volumes, volumes))
        shape, volumes = new_shape, new_volumes
        if converged(delta, previous, tol):
            break
        previous = delta
    return volumes, shape, iteration


def _start_shape(start: np.ndarray | None, default: np.ndarray) -> np.ndarray:
    # The common shape of a start, (k, d) diagonals or eigenvalues: the geometric
    # mean of its components' shapes (all equal for a feasible start). A start
    # without one (a singular component) gives way to the default.
    if start is None:
        return default
    shapes = unit_det(start, root_det_diagonal(start), diagonal=True)
    if not np.all(shapes > 0):
        return default
    mean = np.exp(np.mean(np.log(shapes), axis=0))
    return mean / root_det_diagonal(mean)


def _vei(
    n: np.ndarray, S: np.ndarray, start: np.ndarray | None, tol: float, max_iter: int
) -> tuple[np.ndarray, int]:
    B = n[:, None] * S
    pooled = B.sum(axis=0)
    default = unit_det(pooled, root_det_diagonal(pooled), diagonal=True)
    shape = _start_shape(start, default)
    if not np.all(shape > 0):  # every component zero in some coordinate
        return np.zeros_like(S), 0
    volumes, shape, iterations = _equal_shape(B, n, shape, tol, max_iter)
    return volumes[:, None] * shape, iterations


def _vev(
    n: np.ndarray, S: np.ndarray, start: np.ndarray | None, tol: float, max_iter: int
) -> tuple[np.ndarray, int]:
    values, vectors = _sorted_eigh(S)
    values = np.maximum(values, 0.0) * n[:, None]  # rounding can leave -eps for a singular S_k
    pooled = values.sum(axis=0)
    default = unit_det(pooled, root_det_diagonal(pooled), diagonal=True)
    start_values = None if start is None else _sorted_eigh(start)[0]
    shape = _start_shape(start_values, default)
    if not np.all(shape > 0):
        return np.zeros_like(S), 0
    volumes, shape, iterations = _equal_shape(values, n, shape, tol, max_iter)
    return _rotate(vectors, volumes[:, None] * shape), iterations


def _vee_volumes(W: np.ndarray, n: np.ndarray, C: np.ndarray) -> np.ndarray | None:
    # λ_k = tr(W_k C⁻¹) / (d n_k), through C = V diag(c) Vᵀ: tr(W_k C⁻¹) = Σ_i (Vᵀ W_k V)_ii / c_i.
    # None where C is (numerically) singular: singular scatter flattening C
    # without bound.
    c, V = np.linalg.eigh(C)
    if not c[0] > DEGENERATE * c[-1]:
        return None
    return np.einsum("ij,kil,lj->k", V, W, V / c) / (C.shape[0] * n)


def _vee(
    n: np.ndarray, S: np.ndarray, start: np.ndarray | None, tol: float, max_iter: int
) -> tuple[np.ndarray, int]:
    # Σ_k = λ_k C, det C = 1. Given C, λ_k = tr(W_k C⁻¹)/(d n_k); given the λ_k,
    # C = M / |M|^(1/d) with M = Σ_k W_k/λ_k (tr(M C⁻¹) is least over det C = 1 there).
    # Each is the maximum over its block, and Q is geodesically concave in
    # (log λ, C), so the alternation reaches the global maximum.
    W = n[:, None, None] * S
    k, d, _ = W.shape
    C = None
    if start is not None:
        roots = root_det(start)
        if np.all(roots > 0):
            mean = _symmetric((start / roots[:, None, None]).sum(axis=0))
            C = mean / root_det(mean)
    if C is None:
        pooled = _symmetric(W.sum(axis=0))
        root = root_det(pooled)
        if not root > 0:
            return np.zeros_like(S), 0
        C = pooled / root
    volumes = _vee_volumes(W, n, C)
    if volumes is None:
        return np.zeros_like(S), 0
    previous: float | None = None
    iteration = 0
    for iteration in range(1, max_iter + 1):
        live = volumes > 0
        pooled = _symmetric((W[live] / volumes[live, None, None]).sum(axis=0))
        root = root_det(pooled)
        new_volumes = None if not root > 0 else _vee_volumes(W, n, pooled / root)
        if new_volumes is None:
            return np.zeros_like(S), iteration
        new_C = pooled / root
        delta = max(_relative(new_volumes, volumes), float(np.max(np.abs(new_C - C)) / np.max(np.abs(new_C))))
        C, volumes = new_C, new_volumes
        if converged(delta, previous, tol):
            break
        previous = delta
    return volumes[:, None, None] * C, iteration


def _common(
    n: np.ndarray, S: np.ndarray, start: np.ndarray | None, tol: float, max_iter: int, equal: bool
) -> tuple[np.ndarray, int]:
    W = _symmetric(n[:, None, None] * S)
    if start is not None:
        orientation = common_orientation(start)
    else:
        orientation = _sorted_eigh(W.sum(axis=0)[None])[1][0]
    return fit_common_orientation(
        W, n, equal_volume=equal, orientation=orientation, tol=tol, max_iter=max_iter, warm=start is not None
    )


# --- public --------------------------------------------------------------------------------


def model_covariances(
    model: str,
    weight_sums: np.ndarray,
    scatter: np.ndarray,
    *,
    start: np.ndarray | None = None,
    tol: float = 1e-12,
    max_iter: int = 10_000,
) -> tuple[np.ndarray, int]:
    """The maximum-likelihood covariances of ``model`` given the components' statistics.

    Parameters
    ----------
    model : str
        One of :data:`MODELS`.
    weight_sums : ndarray (k,) float64
        n_k, the components' total weights, positive.
    scatter : ndarray float64
        S_k = W_k / n_k, the weighted scatter of each component about its own
        mean: (k, d) diagonals where ``STATISTICS[model]`` is "diag",
        (k, d, d) symmetric matrices where it is "full".
    start : ndarray float64, optional
        Covariances in ``LAYOUT[model]`` (the previous EM iteration's) to start
        the iterative models (VEI, VEE, VEV, EVE, VVE) from; ignored by the
        others. The result's Q is then at least Q(start) if ``start`` is
        feasible for the model. Without it: the shape (and orientation) of the
        pooled scatter Σ_k W_k.
    tol : float
        The iterative models stop once the relative change of the parameters
        in one iteration, and that change extrapolated over the remaining
        iterations, are below it (or the changes stop shrinking at rounding
        level); EVE and VVE once a Newton step for the orientation is below
        ``tol`` radians. At the default the result is within about 1e-10
        (relative) of the exact maximiser for well-conditioned scatter.
    max_iter : int
        The most iterations (MM and Newton steps for EVE and VVE); reaching it
        is not an error.

    Returns
    -------
    covariances : ndarray float64
        In ``LAYOUT[model]``: (k,) spherical, (k, d) diag, (d, d) tied or
        (k, d, d) full, symmetric.
    n_iter : int
        Iterations taken (0 for the closed-form models).

    Notes
    -----
    Degenerate scatter (zero, or singular where the model normalises by a
    determinant) gives no NaN: where the likelihood is unbounded, the
    components concerned (all of them for a singular pooled matrix) get a zero
    covariance, which the Cholesky factorisation downstream rejects.
    """
    n = np.asarray(weight_sums, dtype=np.float64)
    S = np.asarray(scatter, dtype=np.float64)
    start = None if start is None else np.asarray(start, dtype=np.float64)
    if model not in LAYOUT:
        raise ValueError(f"unknown model {model!r}; expected one of {', '.join(MODELS)}")
    # Singular scatter can take intermediate values to 0, inf or 0/0; those
    # components are zeroed below (or inside the iterations), never returned as NaN.
    with np.errstate(all="ignore"):
        covariances, n_iter = _dispatch(model, n, S, start, tol, max_iter)
    finite = np.isfinite(covariances)
    if not np.all(finite):
        if LAYOUT[model] == "tied":
            covariances = np.zeros_like(covariances)
        else:
            covariances[~np.all(finite.reshape(finite.shape[0], -1), axis=1)] = 0.0
    return covariances, n_iter


def _dispatch(
    model: str, n: np.ndarray, S: np.ndarray, start: np.ndarray | None, tol: float, max_iter: int
) -> tuple[np.ndarray, int]:
    if model == "EII":
        return _eii(n, S), 0
    if model == "VII":
        return S.sum(axis=1) / S.shape[1], 0  # σ_k² = tr(W_k) / (n_k d)
    if model == "EEI":
        return _eei(n, S), 0
    if model == "VVI":
        return S.copy(), 0  # Σ_k = diag(W_k) / n_k
    if model == "EVI":
        return _evi(n, S), 0
    if model == "VEI":
        return _vei(n, S, start, tol, max_iter)
    if model == "EEE":
        return _eee(n, S), 0
    if model == "VVV":
        return S.copy(), 0  # Σ_k = W_k / n_k
    if model == "EEV":
        return _eev(n, S), 0
    if model == "EVV":
        return _evv(n, S), 0
    if model == "VEV":
        return _vev(n, S, start, tol, max_iter)
    if model == "VEE":
        return _vee(n, S, start, tol, max_iter)
    return _common(n, S, start, tol, max_iter, equal=model == "EVE")  # EVE, VVE


def decompose(model: str, covariances: np.ndarray, *, n_features: int | None = None) -> Decomposition:
    """Volumes, shapes and orientations of covariances stored in ``LAYOUT[model]``.

    Parameters
    ----------
    model : str
        One of :data:`MODELS`.
    covariances : ndarray float64
        (k,) spherical, (k, d) diag, (d, d) tied or (k, d, d) full.
    n_features : int, optional
        d; needed for the spherical layout only, which does not carry it.

    Returns
    -------
    Decomposition
        For the tied layout (EEE) a single component, k = 1.

    Notes
    -----
    λ_k = |Σ_k|^(1/d) from the eigenvalues, A_k = eigenvalues / λ_k (decreasing)
    and D_k the eigenvectors, each column with its largest entry positive. For
    EVE and VVE, D is the common orientation (:func:`.common_orientation`) and
    λ_k A_k = diag(Dᵀ Σ_k D), so that λ_k D A_k Dᵀ reconstructs Σ_k exactly where
    the covariances share D. A singular Σ_k has λ_k = 0 and a zero shape.
    """
    C = np.asarray(covariances, dtype=np.float64)
    layout = LAYOUT[model]
    if layout == "spherical":
        if n_features is None:
            raise ValueError("decompose needs n_features for the spherical layout")
        k = C.shape[0]
        identity = np.broadcast_to(np.eye(n_features), (k, n_features, n_features)).copy()
        return Decomposition(C.copy(), np.ones((k, n_features)), identity)
    if layout == "diag":
        k, d = C.shape
        roots = root_det_diagonal(C)
        identity = np.broadcast_to(np.eye(d), (k, d, d)).copy()
        return Decomposition(roots, unit_det(C, roots, diagonal=True), identity)
    stack = C[None] if layout == "tied" else C
    k, d, _ = stack.shape
    if model in ("EVE", "VVE"):
        D = common_orientation(_symmetric(stack))
        scaled = np.einsum("ij,kil,lj->kj", D, stack, D)
        roots = root_det_diagonal(scaled)
        return Decomposition(roots, unit_det(scaled, roots, diagonal=True), np.repeat(D[None], k, axis=0))
    values, vectors = _sorted_eigh(stack)
    rows = np.argmax(np.abs(vectors), axis=1)  # (k, d): the row of each column's largest entry
    signs = np.where(np.take_along_axis(vectors, rows[:, None, :], axis=1)[:, 0, :] < 0, -1.0, 1.0)
    roots = root_det_diagonal(values)
    return Decomposition(roots, unit_det(values, roots, diagonal=True), vectors * signs[:, None, :])


def n_parameters(model: str, n_components: int, n_features: int) -> int:
    """Free parameters of the whole mixture as mclust counts them (``nMclustParams``).

    Parameters
    ----------
    model : str
        One of :data:`MODELS`.
    n_components, n_features : int
        k and d.

    Returns
    -------
    int
        k·d means + (k - 1) mixing proportions + the covariance parameters:
        a volume is 1 number (k if Variable), a shape d - 1 (det 1; k(d - 1) if
        Variable), an orientation d(d - 1)/2 (k times if Variable); EVV and VVV
        count a whole unit-determinant (d(d + 1)/2 - 1) or free (d(d + 1)/2)
        matrix per component, as do EEE and VEE for the common one.
    """
    k, d = n_components, n_features
    half = d * (d - 1) // 2  # an orientation
    covariance = {
        "EII": 1,
        "VII": k,
        "EEI": d,
        "VEI": k + (d - 1),
        "EVI": 1 + k * (d - 1),
        "VVI": k * d,
        "EEE": d * (d + 1) // 2,
        "VEE": k + d * (d + 1) // 2 - 1,
        "EVE": 1 + k * (d - 1) + half,
        "VVE": k + k * (d - 1) + half,
        "EEV": 1 + (d - 1) + k * half,
        "VEV": k + (d - 1) + k * half,
        "EVV": 1 + k * (d * (d + 1) // 2 - 1),
        "VVV": k * d * (d + 1) // 2,
    }[model]
    return k * d + (k - 1) + covariance
