"""Initial centres: greedy k-means++ and uniform random choice."""

from __future__ import annotations

import math

import numpy as np

from .kmeans import block_rows, squared_distances, squared_norms

__all__ = ["kmeans_plusplus", "random_points"]


def random_points(X: np.ndarray, n_clusters: int, rng: np.random.Generator,
                  sample_weight: np.ndarray | None = None) -> np.ndarray:
    """``n_clusters`` distinct rows of X chosen at random (weighted by sample_weight
    where it is not uniform), as indices of shape (n_clusters,)."""
    n = X.shape[0]
    if sample_weight is None or np.all(sample_weight == sample_weight[0]):
        return rng.choice(n, size=n_clusters, replace=False)
    p = sample_weight / sample_weight.sum()
    return rng.choice(n, size=n_clusters, replace=False, p=p)


def _distances_to_rows(X: np.ndarray, x_norms: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Squared distances from every point to the points ``X[rows]``, shape (len(rows), n)."""
    candidates = X[rows]
    out = np.empty((len(rows), X.shape[0]), dtype=X.dtype)
    step = block_rows(len(rows), X.shape[1], X.dtype.itemsize)
    for start in range(0, X.shape[0], step):
        stop = min(start + step, X.shape[0])
        out[:, start:stop] = squared_distances(
            X[start:stop], candidates, x_norms[start:stop], x_norms[rows]
        ).T
    return out


def kmeans_plusplus(
    X: np.ndarray,
    n_clusters: int,
    rng: np.random.Generator,
    sample_weight: np.ndarray,
    x_norms: np.ndarray | None = None,
    n_local_trials: int | None = None,
) -> np.ndarray:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007, greedy variant).

    The first centre is a point drawn with probability proportional to its
    weight. Each later centre: draw ``n_local_trials`` candidates with probability
    proportional to weight x squared distance to the nearest chosen centre, and
    keep the candidate that lowers the total weighted SSD the most.

    Parameters
    ----------
    X : ndarray (n, d)
    n_clusters : int
    rng : numpy Generator
    sample_weight : ndarray (n,)
    x_norms : ndarray (n,), optional
    n_local_trials : int, optional
        Defaults to 2 + floor(ln k), the usual choice.

    Returns
    -------
    indices : ndarray (n_clusters,) of int, rows of X chosen as centres
    """
    n = X.shape[0]
    if x_norms is None:
        x_norms = squared_norms(X)
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(n_clusters))
    weight = sample_weight.astype(np.float64, copy=False)
    indices = np.empty(n_clusters, dtype=np.int64)
    first = rng.choice(n, p=weight / weight.sum())
    indices[0] = first
    closest = _distances_to_rows(X, x_norms, np.array([first]))[0].astype(np.float64)
    potential = float(weight @ closest)
    for c in range(1, n_clusters):
        if potential <= 0:  # every point already coincides with a chosen centre
            indices[c] = rng.choice(n, p=weight / weight.sum())
            continue
        cumulative = np.cumsum(weight * closest)
        draws = rng.uniform(size=n_local_trials) * cumulative[-1]
        candidates = np.searchsorted(cumulative, draws, side="right")
        np.clip(candidates, 0, n - 1, out=candidates)
        distances = _distances_to_rows(X, x_norms, candidates).astype(np.float64)
        np.minimum(distances, closest, out=distances)
        potentials = distances @ weight
        best = int(np.argmin(potentials))
        indices[c] = candidates[best]
        closest = distances[best]
        potential = float(potentials[best])
    return indices
