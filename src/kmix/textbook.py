"""The course exercise's functions, by their names and shapes, done right.

These keep the exercise's signatures (``data_points``, ``assignments_one_hot``,
``samples``, ``responsibilities``, ...) so the exercise's notebook code runs
unchanged, but they are correct and general: Euclidean distances, any number of
dimensions, log-space probabilities, no Python loops over samples. They are thin
layers over the same kernels the estimators use.

Plotting is off by default; with ``plot=True`` the figures are made with pyplot
(so a notebook shows them) every ``vis_interval`` iterations, from the recorded
history.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import check_array, check_float, check_int, check_random_state, magnitude_dtype
from .exceptions import NumericalError
from .kernels import gmm as gk
from .kernels import kmeans as kk
from .kernels.seeding import random_points

__all__ = [
    "assignment_step",
    "adjustment_step",
    "k_means",
    "gaussian_log_density",
    "gmm_log_likelihood",
    "e_step",
    "m_step",
    "fit_gaussian_mixture",
]


# --- k-means (exercise section 2) -----------------------------------------------


def assignment_step(data_points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Assign every point to its nearest centre by Euclidean distance.

    Parameters
    ----------
    data_points : ndarray (N, d)
    centers : ndarray (k, d)

    Returns
    -------
    ndarray (N, k) float64, one-hot: row i has a 1 in the column of the nearest
    centre (the lowest index on ties).
    """
    data_points = check_array(data_points, name="data_points")
    centers = check_array(centers, name="centers", dtype=(data_points.dtype.type,))
    if centers.shape[1] != data_points.shape[1]:
        raise ValueError(
            f"centers have {centers.shape[1]} dimensions but data_points have {data_points.shape[1]}"
        )
    # Centred: distances through ||x||² - 2x·c + ||c||² lose less to cancellation.
    offset = data_points.mean(axis=0)
    labels, _ = kk.nearest_centers(data_points - offset, centers - offset)
    return _one_hot(labels, centers.shape[0])


def _one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    one_hot = np.zeros((labels.shape[0], k))
    one_hot[np.arange(labels.shape[0]), labels] = 1.0
    return one_hot


def adjustment_step(
    data_points: np.ndarray,
    assignments_one_hot: np.ndarray,
    previous_centers: np.ndarray | None = None,
) -> np.ndarray:
    """Move each centre to the mean of the points assigned to it.

    Parameters
    ----------
    data_points : ndarray (N, d), any d
    assignments_one_hot : ndarray (N, k)
    previous_centers : ndarray (k, d), optional
        Needed only when a cluster is empty: its centre then moves to the point
        farthest from its own (previous) centre, which leaves its old cluster, as
        in :class:`kmix.KMeans` and scikit-learn.

    Returns
    -------
    ndarray (k, d): the new centres.

    Raises
    ------
    ValueError
        If a cluster is empty and ``previous_centers`` is not given (its mean is
        undefined).
    """
    data_points = check_array(data_points, name="data_points")
    assignments = np.asarray(assignments_one_hot, dtype=np.float64)
    if assignments.ndim != 2 or assignments.shape[0] != data_points.shape[0]:
        raise ValueError(
            f"assignments_one_hot must have shape (N, k) with N={data_points.shape[0]}, "
            f"got {assignments.shape}"
        )
    counts = assignments.sum(axis=0)
    empty = counts <= 0
    if empty.any() and previous_centers is None:
        raise ValueError(
            f"cluster(s) {np.flatnonzero(empty).tolist()} have no points, so their mean is "
            "undefined; pass previous_centers to move them to the farthest points"
        )
    # (k, N) @ (N, d): sums per cluster in one product, no loop over clusters.
    sums = assignments.T @ data_points
    if not empty.any():
        return sums / counts[:, None]
    previous = check_array(previous_centers, name="previous_centers")
    labels = np.argmax(assignments, axis=1).astype(np.int32)
    distances = np.sum((data_points - previous[labels]) ** 2, axis=1)
    stats = kk.block_statistics(
        data_points, np.ones(len(data_points)), labels, distances, assignments.shape[1]
    )
    return kk.update_centers(stats._replace(weight_sums=counts, sums=sums), previous)[0]


def k_means(
    data_points: np.ndarray,
    k: int,
    max_iter: int = 100,
    vis_interval: int = 3,
    *,
    random_state: Any = None,
    plot: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """k-means as the exercise describes it: k random data points, then assignment
    and adjustment steps until no assignment changes.

    Parameters
    ----------
    data_points : ndarray (N, d)
    k : int
        Number of clusters.
    max_iter : int
        Most iterations if the assignments keep changing.
    vis_interval : int
        With ``plot=True``, draw the clustering every ``vis_interval`` iterations.
    random_state : int, Generator or None
        Seed for the initial centres: the same seed gives the same result.
    plot : bool, default False
        Draw the intermediate clusterings (pyplot figures).

    Returns
    -------
    assignments_one_hot : ndarray (N, k)
    centers : ndarray (k, d)
    ssd_history : ndarray (2 * num_iters,)
        SSD after every assignment step and after every adjustment step, in order.
    centers_history : ndarray (num_iters + 1, k, d)
        The initial centres, then the centres after every adjustment step.
    """
    from .models.lloyd import lloyd_on_array

    data_points = check_array(data_points, name="data_points")
    k = check_int(k, "k", minimum=1, maximum=data_points.shape[0])
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    vis_interval = check_int(vis_interval, "vis_interval", minimum=1)
    rng = check_random_state(random_state)
    weight = np.ones(data_points.shape[0], dtype=data_points.dtype)
    initial = data_points[random_points(data_points, k, rng)]
    offset = data_points.mean(axis=0)
    dtype = magnitude_dtype(data_points.min(axis=0), data_points.max(axis=0), offset,
                            data_points.shape[0], data_points.dtype, where="data_points ")
    data_points, initial, weight = (a.astype(dtype, copy=False) for a in (data_points, initial, weight))
    offset = data_points.mean(axis=0)
    # tol=-1: only unchanged assignments (or max_iter) stop the loop, as in the exercise.
    result = lloyd_on_array(data_points - offset, weight, initial - offset, max_iter=max_iter, tol=-1.0)
    centers_history = result.history.centers + offset
    ssd_history = result.history.ssd.reshape(-1)
    centers = result.centers + offset
    assignments = _one_hot(result.labels, k)
    if plot:
        _plot_kmeans_iterations(data_points, result, centers_history, vis_interval)
    return assignments, centers, ssd_history, centers_history


def _plot_kmeans_iterations(data_points, result, centers_history, vis_interval) -> None:
    import matplotlib.pyplot as plt

    from .viz import plot_clusters

    for iteration in range(0, result.n_iter, vis_interval):
        centers = centers_history[iteration + 1]
        labels = np.argmax(assignment_step(data_points, centers_history[iteration]), axis=1)
        _, ax = plt.subplots(figsize=(6, 6))
        plot_clusters(data_points, labels, centers, ax=ax)
        ax.set_title(f"Iteration {iteration:02d}")


# --- Gaussian mixtures by EM (exercise section 3) ------------------------------------
#
# The exercise's student code exponentiated log-densities before summing them
# (underflow to log 0 = -inf for far-away points), multiplied log-densities by
# the weights in the E-step, looped over samples in the M-step and hard-coded
# two dimensions. Here everything stays in log space until the responsibilities
# are formed, the M-step is loop-free, and any dimension works.


def _check_mixture(
    samples: Any, weights: Any, means: Any, covariances: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X = check_array(samples, name="samples", dtype=np.float64)
    d = X.shape[1]
    means = check_array(means, name="means", dtype=np.float64)
    k = means.shape[0]
    if means.shape[1] != d:
        raise ValueError(f"means must have shape (num_components, {d}) to match samples; got {means.shape}")
    weights = check_array(weights, name="weights", dtype=np.float64, ensure_2d=False)
    if weights.shape != (k,):
        raise ValueError(f"weights must have shape ({k},), one per component; got {weights.shape}")
    if np.any(weights < 0):
        raise ValueError("weights must be non-negative")
    covariances = check_array(covariances, name="covariances", dtype=np.float64, ensure_2d=False)
    if covariances.shape != (k, d, d):
        raise ValueError(f"covariances must have shape ({k}, {d}, {d}); got {covariances.shape}")
    return X, weights, means, covariances


def _cholesky(covariance: np.ndarray, name: str) -> np.ndarray:
    try:
        return np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"{name} is not positive definite (a collapsed component?); "
            "use reg_covar > 0, fewer components or scaled data"
        ) from None


def _weighted_log_prob(X: np.ndarray, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """log π_k + log N(x_i | μ_k, Σ_k), shape (N, k), never leaving log space."""
    try:
        factors = gk.compute_precision_cholesky(covariances, "full")
    except NumericalError as exc:
        raise ValueError(
            f"covariances[{exc.component}] is not positive definite (a collapsed component?); "
            "use reg_covar > 0, fewer components or scaled data"
        ) from None
    return gk.weighted_log_prob(X, means, factors, gk.log_of_weights(weights), "full")


def gaussian_log_density(samples: np.ndarray, mean: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """Log density of every sample under one Gaussian N(mean, covariance).

    Through the Cholesky factor Σ = L Lᵀ: z = L⁻¹(x - μ) by a triangular solve
    (no inverse is formed), log N = -½ (d log 2π + 2 Σ log L_jj + ‖z‖²).

    Parameters
    ----------
    samples : ndarray (N, d)
    mean : ndarray (d,)
    covariance : ndarray (d, d), symmetric positive definite

    Returns
    -------
    ndarray (N,) float64: log N(x_i | mean, covariance)
    """
    X = check_array(samples, name="samples", dtype=np.float64)
    d = X.shape[1]
    mean = check_array(mean, name="mean", dtype=np.float64, ensure_2d=False)
    if mean.shape != (d,):
        raise ValueError(f"mean must have shape ({d},) to match samples; got {mean.shape}")
    covariance = check_array(covariance, name="covariance", dtype=np.float64)
    if covariance.shape != (d, d):
        raise ValueError(f"covariance must have shape ({d}, {d}); got {covariance.shape}")
    return gk.gaussian_log_density(X, mean, _cholesky(covariance, "covariance"))


def gmm_log_likelihood(samples: np.ndarray, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> float:
    """Log-likelihood Σ_i log Σ_k π_k N(x_i | μ_k, Σ_k) of the samples under a mixture.

    The inner sum is a log-sum-exp of log π_k + log N: finite and accurate even
    where every density underflows to 0 in float64 (points far from all means).

    Parameters
    ----------
    samples : ndarray (N, d)
    weights : ndarray (k,)
    means : ndarray (k, d)
    covariances : ndarray (k, d, d)

    Returns
    -------
    float
    """
    X, weights, means, covariances = _check_mixture(samples, weights, means, covariances)
    log_norm, _ = gk.log_prob_resp(_weighted_log_prob(X, weights, means, covariances))
    return float(np.sum(log_norm))


def e_step(samples: np.ndarray, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """E-step: responsibilities p(z = k | x_i) under the current mixture.

    r_ik = exp(log π_k + log N(x_i | μ_k, Σ_k) - log p(x_i)), with log p(x_i)
    by log-sum-exp, so no density is exponentiated on its own.

    Parameters
    ----------
    samples : ndarray (N, d)
    weights : ndarray (k,)
    means : ndarray (k, d)
    covariances : ndarray (k, d, d)

    Returns
    -------
    ndarray (N, k) float64; every row sums to 1.
    """
    X, weights, means, covariances = _check_mixture(samples, weights, means, covariances)
    return gk.log_prob_resp(_weighted_log_prob(X, weights, means, covariances))[1]


def m_step(
    samples: np.ndarray, responsibilities: np.ndarray, *, reg_covar: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """M-step: new weights, means and covariances from the responsibilities.

    N_k = Σ_i r_ik, π_k = N_k / N, μ_k = Σ_i r_ik x_i / N_k,
    Σ_k = Σ_i r_ik (x_i - μ_k)(x_i - μ_k)ᵀ / N_k (+ reg_covar I), in any
    dimension and without a Python loop over samples or components.

    Parameters
    ----------
    samples : ndarray (N, d)
    responsibilities : ndarray (N, k)
        Non-negative; rows summing to 1 (as :func:`e_step` returns).
    reg_covar : float, default 0.0
        Added to every covariance's diagonal; 0 is the exercise's formula.

    Returns
    -------
    weights : ndarray (k,)
    means : ndarray (k, d)
    covariances : ndarray (k, d, d)
    """
    X = check_array(samples, name="samples", dtype=np.float64)
    resp = check_array(responsibilities, name="responsibilities", dtype=np.float64)
    if resp.shape[0] != X.shape[0]:
        raise ValueError(
            f"responsibilities must have shape (N, num_components) with N={X.shape[0]}; got {resp.shape}"
        )
    if np.any(resp < 0):
        raise ValueError("responsibilities must be non-negative")
    reg_covar = check_float(reg_covar, "reg_covar", minimum=0.0)
    k = resp.shape[1]
    # Moments about the data mean c (not about 0) keep the subtraction
    # Σ_k = S2/N_k - (μ_k - c)(μ_k - c)ᵀ small; the kernels do both steps.
    shift = np.broadcast_to(X.mean(axis=0), (k, X.shape[1]))
    stats = gk.resp_statistics(X, np.ones(X.shape[0]), resp, shift, "full")
    return gk.estimate_parameters(stats, "full", reg_covar)


def fit_gaussian_mixture(
    samples: np.ndarray,
    num_components: int,
    num_iters: int = 30,
    vis_interval: int = 5,
    *,
    random_state: Any = None,
    tol: float | None = None,
    reg_covar: float = 0.0,
    plot: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fit a Gaussian mixture by EM as the exercise describes it.

    Initialisation: means at ``num_components`` distinct random data points,
    identity covariances, uniform weights. Then E-step and M-step alternate;
    after each M-step the log-likelihood L(i) of the new parameters is recorded.

    Parameters
    ----------
    samples : ndarray (N, d)
    num_components : int
    num_iters : int, default 30
        Number of EM iterations (fewer if ``tol`` stops the loop).
    vis_interval : int, default 5
        With ``plot=True``, draw the mixture after iterations 0, vis_interval, ...
    random_state : int, Generator or None
        Seed for the initial means: the same seed gives the same fit.
    tol : float, optional
        The exercise's stopping rule: stop once |L(i) - L(i-1)| < tol, with L(0)
        the log-likelihood of the initial parameters. None runs all iterations.
    reg_covar : float, default 0.0
        Added to the covariances' diagonals in every M-step; 0 is the
        exercise's algorithm, a small value (1e-6) keeps collapsing components
        positive definite.
    plot : bool, default False
        Draw the intermediate mixtures (pyplot figures).

    Returns
    -------
    weights : ndarray (num_components,)
    means : ndarray (num_components, d)
    covariances : ndarray (num_components, d, d)
    log_likelihoods : ndarray (iterations run,)
        Total log-likelihood of the samples after each iteration.
    """
    X = check_array(samples, name="samples", dtype=np.float64)
    magnitude_dtype(X.min(axis=0), X.max(axis=0), np.zeros(X.shape[1]), X.shape[0], X.dtype,
                    where="samples ")
    n, d = X.shape
    k = check_int(num_components, "num_components", minimum=1, maximum=n)
    num_iters = check_int(num_iters, "num_iters", minimum=1)
    vis_interval = check_int(vis_interval, "vis_interval", minimum=1)
    if tol is not None:
        tol = check_float(tol, "tol", minimum=0.0)
    reg_covar = check_float(reg_covar, "reg_covar", minimum=0.0)
    rng = check_random_state(random_state)
    means = X[random_points(X, k, rng)]
    covariances = np.tile(np.eye(d), (k, 1, 1))
    weights = np.full(k, 1.0 / k)
    # One evaluation of log π_k + log N per iteration gives both L(i) and the
    # responsibilities of the next E-step.
    log_norm, resp = gk.log_prob_resp(_weighted_log_prob(X, weights, means, covariances))
    previous = float(np.sum(log_norm))
    log_likelihoods = []
    for iteration in range(num_iters):
        weights, means, covariances = m_step(X, resp, reg_covar=reg_covar)
        log_norm, resp = gk.log_prob_resp(_weighted_log_prob(X, weights, means, covariances))
        log_likelihood = float(np.sum(log_norm))
        log_likelihoods.append(log_likelihood)
        if plot and iteration % vis_interval == 0:
            _plot_mixture(X, weights, means, covariances, f"After Iteration {iteration:02d}")
        if tol is not None and abs(log_likelihood - previous) < tol:
            break
        previous = log_likelihood
    return weights, means, covariances, np.array(log_likelihoods)


def _plot_mixture(X, weights, means, covariances, title: str) -> None:
    import matplotlib.pyplot as plt

    from .viz import plot_gmm

    _, ax = plt.subplots(figsize=(7, 7))
    plot_gmm(X, (weights, means, covariances), ax=ax)
    ax.set_title(title)
