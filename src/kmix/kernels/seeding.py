"""Initial centres: greedy k-means++ and uniform random choice."""

from __future__ import annotations

import math

import numpy as np

from .compiled import threads
from .kmeans import squared_norms
from .kmeans_passes import FUSED_CHUNK_ROWS, fused_tile_rows, padded_centers

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


def kmeans_plusplus(
    X: np.ndarray,
    n_clusters: int,
    rng: np.random.Generator,
    sample_weight: np.ndarray,
    x_norms: np.ndarray | None = None,
    n_local_trials: int | None = None,
    *,
    n_threads: int = 1,
) -> np.ndarray:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007, greedy variant).

    The first centre is a point drawn with probability proportional to its
    weight. Each later centre: draw ``n_local_trials`` candidates with probability
    proportional to weight x squared distance to the nearest chosen centre, and
    keep the candidate that lowers the total weighted SSD the most.

    The candidates' potentials come from one compiled pass over X per step, in
    parallel chunks, with no (n_local_trials, n) distance matrix. The choice does
    not depend on the number of threads.

    Parameters
    ----------
    X : ndarray (n, d)
    n_clusters : int
    rng : numpy Generator
    sample_weight : ndarray (n,)
    x_norms : ndarray (n,), optional
    n_local_trials : int, optional
        Defaults to 2 + floor(ln k), the usual choice.
    n_threads : int
        Threads for the compiled passes (at most one per chunk of rows).

    Returns
    -------
    indices : ndarray (n_clusters,) of int, rows of X chosen as centres
    """
    from .compiled import kmeans_prep  # numba is imported on first use only

    X = np.ascontiguousarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    n = X.shape[0]
    x_norms = squared_norms(X) if x_norms is None else np.ascontiguousarray(x_norms, dtype=X.dtype)
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(n_clusters))
    weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
    rows = FUSED_CHUNK_ROWS
    tile = fused_tile_rows(-(-X.shape[1] // 4) * 4, X.dtype.itemsize)
    indices = np.empty(n_clusters, dtype=np.int64)
    first = rng.choice(n, p=weight / weight.sum())
    indices[0] = first
    closest = np.full(n, np.inf)
    cumulative = np.empty(n)
    potentials = np.empty(n_local_trials)
    with threads(n_threads, -(-n // rows)):
        kmeans_prep.seeding_update(X, X[first], rows, closest)
        potential = float(weight @ closest)
        for c in range(1, n_clusters):
            if potential <= 0:  # every point already coincides with a chosen centre
                indices[c] = rng.choice(n, p=weight / weight.sum())
                continue
            kmeans_prep.cumulative_potential(weight, closest, cumulative)
            draws = rng.uniform(size=n_local_trials) * cumulative[-1]
            candidates = np.searchsorted(cumulative, draws, side="right")
            np.clip(candidates, 0, n - 1, out=candidates)
            scaled_t, norms = padded_centers(X[candidates] * X.dtype.type(-2), x_norms[candidates],
                                             narrow=False)
            kmeans_prep.seeding_potentials(X, x_norms, weight, closest, scaled_t, norms,
                                           n_local_trials, rows, tile, potentials)
            best = int(np.argmin(potentials))
            indices[c] = candidates[best]
            kmeans_prep.seeding_update(X, X[candidates[best]], rows, closest)
            potential = float(potentials[best])
    return indices
