"""Initial centres: greedy k-means++ and uniform random choice."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .._typing import is_sparse
from .compiled import threads
from .kmeans import squared_distances, squared_norms
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
    compiled: bool = True,
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
    X : ndarray (n, d), or a scipy.sparse CSR matrix (its rows' distances by the
        sparse passes; the same draws from ``rng``)
    n_clusters : int
    rng : numpy Generator
    sample_weight : ndarray (n,)
    x_norms : ndarray (n,), optional
    n_local_trials : int, optional
        Defaults to 2 + floor(ln k), the usual choice.
    n_threads : int
        Threads for the compiled passes (at most one per chunk of rows).
    compiled : bool
        False (small data): the distances and potentials by numpy, through an
        (n, n_local_trials) distance matrix; the same draws from ``rng``.

    Returns
    -------
    indices : ndarray (n_clusters,) of int, rows of X chosen as centres
    """
    if is_sparse(X):
        return _sparse_kmeans_plusplus(X, n_clusters, rng, sample_weight, x_norms, n_local_trials,
                                       n_threads=n_threads)
    X = np.ascontiguousarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    n = X.shape[0]
    x_norms = squared_norms(X) if x_norms is None else np.ascontiguousarray(x_norms, dtype=X.dtype)
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(n_clusters))
    weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
    if not compiled:
        return _greedy(n, n_clusters, rng, weight, n_local_trials, *_numpy_distances(X, x_norms, weight),
                       value_key(X), compiled=False)
    from .compiled import kmeans_prep  # numba is imported on first use only

    rows = FUSED_CHUNK_ROWS
    tile = fused_tile_rows(-(-X.shape[1] // 4) * 4, X.dtype.itemsize)
    potentials = np.empty(n_local_trials)

    def update(index: int, closest: np.ndarray) -> None:
        kmeans_prep.seeding_update(X, X[index], rows, closest)

    def candidate_potentials(candidates: np.ndarray, closest: np.ndarray) -> np.ndarray:
        scaled_t, norms = padded_centers(X[candidates] * X.dtype.type(-2), x_norms[candidates],
                                         narrow=False)
        kmeans_prep.seeding_potentials(X, x_norms, weight, closest, scaled_t, norms,
                                       n_local_trials, rows, tile, potentials)
        return potentials

    with threads(n_threads, -(-n // rows)):
        return _greedy(n, n_clusters, rng, weight, n_local_trials, update, candidate_potentials,
                       value_key(X))


def _numpy_distances(X: np.ndarray, x_norms: np.ndarray, weight: np.ndarray) -> tuple[Callable, Callable]:
    """The ``update`` and ``candidate_potentials`` of :func:`_greedy` by numpy: each
    update's distances measured directly (one centre), the candidates' through
    :func:`kmix.kernels.kmeans.squared_distances` (an (n, t) matrix: small data only)."""

    def update(index: int, closest: np.ndarray) -> None:
        difference = X - X[index]
        np.minimum(closest, np.einsum("ij,ij->i", difference, difference), out=closest)

    def candidate_potentials(candidates: np.ndarray, closest: np.ndarray) -> np.ndarray:
        distances = squared_distances(X, X[candidates], x_norms, x_norms[candidates]).astype(np.float64)
        np.minimum(distances, closest[:, None], out=distances)
        return weight @ distances

    return update, candidate_potentials


def value_key(X: Any) -> np.ndarray:
    """A number per row that depends only on the row's values: its projection on a
    fixed direction (the same for every call with as many features)."""
    direction = np.random.default_rng(0x6B6D6978).standard_normal(X.shape[1]).astype(X.dtype)
    return np.asarray(X @ direction).ravel()


def _greedy(n: int, n_clusters: int, rng: np.random.Generator, weight: np.ndarray, n_local_trials: int,
            update: Callable[[int, np.ndarray], None],
            candidate_potentials: Callable[[np.ndarray, np.ndarray], np.ndarray],
            key: np.ndarray, *, compiled: bool = True) -> np.ndarray:
    """The draws and choices of greedy k-means++, over the rows' distances as
    ``update(row, closest)`` (closest written: min with the distances to that row)
    and ``candidate_potentials(rows, closest)`` compute them. The same draws from
    ``rng`` whatever the rows are stored as.

    Each draw inverts the cumulative probability over the rows taken in the order
    of ``key`` (:func:`value_key`), not in the order they are stored: the seeds
    then depend on the rows' values and weights only, so shuffling the rows, or
    repeating a row w times in place of a weight w, gives the same seeds (up to
    rounding in the sums). ``compiled=False``: the cumulative sums by numpy (the
    same numbers, bit for bit)."""
    if compiled:
        from .compiled import kmeans_prep  # numba is imported on first use only

        cumulative_potential = kmeans_prep.cumulative_potential
    else:
        def cumulative_potential(weight: np.ndarray, closest: np.ndarray, out: np.ndarray) -> None:
            np.cumsum(weight * closest, out=out)

    order = np.argsort(key)
    weight_in_order = np.ascontiguousarray(weight[order])
    cumulative = np.empty(n)

    def by_weight() -> int:
        np.cumsum(weight_in_order, out=cumulative)
        position = np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")
        return int(order[min(int(position), n - 1)])

    indices = np.empty(n_clusters, dtype=np.int64)
    first = by_weight()
    indices[0] = first
    closest = np.full(n, np.inf)
    update(first, closest)
    potential = float(weight @ closest)
    for c in range(1, n_clusters):
        if potential <= 0:  # every point already coincides with a chosen centre
            indices[c] = by_weight()
            continue
        cumulative_potential(weight_in_order, np.ascontiguousarray(closest[order]), cumulative)
        draws = rng.uniform(size=n_local_trials) * cumulative[-1]
        positions = np.searchsorted(cumulative, draws, side="right")
        np.clip(positions, 0, n - 1, out=positions)
        candidates = order[positions]
        potentials = candidate_potentials(candidates, closest)
        best = int(np.argmin(potentials))
        indices[c] = candidates[best]
        update(candidates[best], closest)
        potential = float(potentials[best])
    return indices


def _sparse_kmeans_plusplus(X: Any, n_clusters: int, rng: np.random.Generator, sample_weight: np.ndarray,
                            x_norms: np.ndarray | None, n_local_trials: int | None, *,
                            n_threads: int) -> np.ndarray:
    """:func:`kmeans_plusplus` of a CSR X: the same draws, the distances by the
    sparse passes of :mod:`kmix.kernels.kmeans_sparse` (the candidates densified,
    a few rows at a time)."""
    from . import kmeans_sparse

    n = X.shape[0]
    if x_norms is None:
        x_norms = kmeans_sparse.squared_norms(X, n_threads=n_threads)
    x_norms = np.ascontiguousarray(x_norms, dtype=X.dtype)
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(n_clusters))
    weight = np.ascontiguousarray(sample_weight, dtype=np.float64)

    def update(index: int, closest: np.ndarray) -> None:
        kmeans_sparse.seeding_update(X, x_norms, X[[index]].toarray()[0], x_norms[index], closest,
                                     n_threads=n_threads)

    def candidate_potentials(candidates: np.ndarray, closest: np.ndarray) -> np.ndarray:
        return kmeans_sparse.seeding_potentials(X, x_norms, weight, closest, X[candidates].toarray(),
                                                x_norms[candidates], n_threads=n_threads)

    return _greedy(n, n_clusters, rng, weight, n_local_trials, update, candidate_potentials,
                   value_key(X))
