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

from ._validation import check_array, check_int, check_random_state
from .kernels import kmeans as kk
from .kernels.seeding import random_points

__all__ = [
    "assignment_step",
    "adjustment_step",
    "k_means",
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
    offset = data_points.mean(axis=0)
    X = data_points - offset
    labels, _, _ = kk.assign(X, centers - offset, kk.squared_norms(X), kk.squared_norms(centers - offset))
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
        farthest from its own (previous) centre, as in :class:`kmix.KMeans`.

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
    from .models.kmeans import lloyd

    data_points = check_array(data_points, name="data_points")
    k = check_int(k, "k", minimum=1, maximum=data_points.shape[0])
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    vis_interval = check_int(vis_interval, "vis_interval", minimum=1)
    rng = check_random_state(random_state)
    weight = np.ones(data_points.shape[0], dtype=data_points.dtype)
    initial = data_points[random_points(data_points, k, rng)]
    offset = data_points.mean(axis=0)
    # tol=-1: only unchanged assignments (or max_iter) stop the loop, as in the exercise.
    result = lloyd(data_points - offset, weight, initial - offset, max_iter=max_iter, tol=-1.0)
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
