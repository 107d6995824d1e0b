"""k-means kernels, the reference math: distances, nearest centres, per-block
statistics that merge, the centre update.

Everything here is numpy over one block of rows, with an (n, k) distance matrix per
block at most. The compiled passes of :mod:`kmix.kernels.kmeans_passes` give the
same labels and statistics without that matrix (what the estimators run); the
tests hold them to the functions here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse

__all__ = [
    "KMeansStats",
    "block_rows",
    "squared_norms",
    "squared_distances",
    "nearest_centers",
    "assign",
    "block_statistics",
    "merge_statistics",
    "update_centers",
    "farthest_rows",
]

# Rows per block: a block's distance matrix (rows x k) plus its share of X stay
# within a few MB, so the GEMM output is reused while still in cache.
DEFAULT_BLOCK_BYTES = 4 * 2**20


def block_rows(n_clusters: int, n_features: int, itemsize: int = 8) -> int:
    """Rows per block so that one block's distances and data take about 4 MiB."""
    per_row = (n_clusters + n_features) * itemsize
    return int(max(256, min(65536, DEFAULT_BLOCK_BYTES // max(per_row, 1))))


class KMeansStats(NamedTuple):
    """Sufficient statistics of one block of data for one Lloyd iteration.

    All fields merge by :func:`merge_statistics`; the statistics of ``X[:m]`` merged
    with those of ``X[m:]`` equal those of ``X``.
    """

    weight_sums: np.ndarray  # (k,) float64: total sample weight per cluster
    sums: np.ndarray  # (k, d) float64: weighted sum of the points per cluster
    ssd: float  # weighted SSD of the new labels w.r.t. the centres used
    ssd_previous: float  # weighted SSD of the previous labels w.r.t. the same centres
    n_changed: int  # points whose label differs from the previous one
    # (m,) largest distances to the assigned centre, descending, and (m, d) the points
    # with those distances (positive weight only). lloyd_statistics leaves them empty
    # (m = 0) unless a cluster is empty, the only case in which they are read.
    farthest_distances: np.ndarray
    farthest_points: np.ndarray


def squared_norms(X: np.ndarray) -> np.ndarray:
    """Row-wise squared Euclidean norms, shape (n,), in X's dtype."""
    return np.einsum("ij,ij->i", X, X)


def squared_distances(X: np.ndarray, centers: np.ndarray, x_norms: np.ndarray | None = None,
                      center_norms: np.ndarray | None = None) -> np.ndarray:
    """All squared distances ``||x - c||²``, shape (n, k), never negative.

    Computed as ``||x||² - 2 x·c + ||c||²`` so the bulk of the work is one GEMM;
    the data should be centred (as the models do) to keep the cancellation small.
    """
    if x_norms is None:
        x_norms = squared_norms(X)
    if center_norms is None:
        center_norms = squared_norms(centers)
    distances = X @ centers.T
    distances *= -2.0
    distances += center_norms
    distances += x_norms[:, None]
    np.maximum(distances, 0.0, out=distances)
    return distances


def nearest_centers(X: np.ndarray, centers: np.ndarray, x_norms: np.ndarray | None = None,
                    center_norms: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centre of each row of X and the squared distance to it.

    Block by block (:func:`block_rows` rows at a time) through
    :func:`squared_distances` and an argmin, so no (n, k) matrix is held for the
    whole of X. Ties go to the lower centre index.

    Parameters
    ----------
    X : ndarray (n, d)
    centers : ndarray (k, d)
    x_norms, center_norms : ndarray (n,), (k,), optional
        Squared norms of the rows of X and of the centres (computed if omitted).

    Returns
    -------
    labels : ndarray (n,) int32
    min_distances : ndarray (n,), the dtype of the distances (X's and the centres'
        common type): each row's distance at its label
    """
    n = X.shape[0]
    k = centers.shape[0]
    if x_norms is None:
        x_norms = squared_norms(X)
    if center_norms is None:
        center_norms = squared_norms(centers)
    labels = np.empty(n, dtype=np.int32)
    min_distances = np.empty(n, dtype=np.result_type(X.dtype, centers.dtype))
    step = block_rows(k, X.shape[1], X.dtype.itemsize)
    for start in range(0, n, step):
        stop = min(start + step, n)
        distances = squared_distances(X[start:stop], centers, x_norms[start:stop], center_norms)
        nearest = np.argmin(distances, axis=1)
        labels[start:stop] = nearest
        min_distances[start:stop] = distances[np.arange(stop - start), nearest]
    return labels, min_distances


def assign(
    X: np.ndarray,
    centers: np.ndarray,
    x_norms: np.ndarray,
    center_norms: np.ndarray,
    previous_labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Nearest centre of each row of one block.

    Parameters
    ----------
    X : ndarray (n, d)
    centers : ndarray (k, d), same dtype as X
    x_norms, center_norms : ndarray (n,), (k,)
        Squared norms of the rows of X and of the centres.
    previous_labels : ndarray (n,) of int, optional
        When given, also return each point's squared distance to the current
        position of its previous centre (the SSD after the previous update step).

    Returns
    -------
    labels : ndarray (n,) int32
    min_distances : ndarray (n,) float, squared distance to the nearest centre
    previous_distances : ndarray (n,) or None
    """
    labels, min_distances = nearest_centers(X, centers, x_norms, center_norms)
    previous = None
    if previous_labels is not None:
        # Each row against its previous centre only, by the expanded form of
        # squared_distances: ||x||² - 2 x·c + ||c||², never negative.
        dots = np.einsum("ij,ij->i", X, centers[previous_labels])
        previous = x_norms - 2 * dots + center_norms[previous_labels]
        np.maximum(previous, 0, out=previous)
    return labels, min_distances, previous


def block_statistics(
    X: np.ndarray,
    sample_weight: np.ndarray,
    labels: np.ndarray,
    min_distances: np.ndarray,
    n_clusters: int,
    previous_labels: np.ndarray | None = None,
    previous_distances: np.ndarray | None = None,
) -> KMeansStats:
    """Per-cluster weights and weighted sums of one block, plus SSDs and outliers.

    Sums use a sparse (k x n) indicator product, O(n·d), instead of a dense
    one-hot GEMM, O(n·k·d). The farthest ``k`` points (by distance to their own
    centre) are kept so empty clusters can be re-seeded after a merge.
    """
    n = X.shape[0]
    weight_sums = np.bincount(labels, weights=sample_weight, minlength=n_clusters).astype(np.float64)
    indicator = scipy.sparse.csr_matrix(
        (sample_weight.astype(np.float64, copy=False), (labels, np.arange(n))),
        shape=(n_clusters, n),
    )
    sums = np.asarray(indicator @ X.astype(np.float64, copy=False))
    weighted = sample_weight * min_distances
    ssd = float(np.sum(weighted, dtype=np.float64))
    if previous_labels is None:
        ssd_previous = float("nan")
        n_changed = n
    else:
        ssd_previous = float(np.sum(sample_weight * previous_distances, dtype=np.float64))
        n_changed = int(np.count_nonzero(labels != previous_labels))
    m = min(n_clusters, n)
    # Only points with positive weight may seed an empty cluster.
    score = np.where(sample_weight > 0, min_distances, -1.0)
    if m < n:
        top = np.argpartition(score, n - m)[n - m:]
    else:
        top = np.arange(n)
    top = top[np.argsort(-score[top], kind="stable")]
    top = top[score[top] >= 0]
    return KMeansStats(
        weight_sums, sums, ssd, ssd_previous, n_changed,
        min_distances[top].astype(np.float64), X[top].astype(np.float64),
    )


def merge_statistics(a: KMeansStats, b: KMeansStats) -> KMeansStats:
    """Statistics of the union of two blocks."""
    distances = np.concatenate([a.farthest_distances, b.farthest_distances])
    points = np.concatenate([a.farthest_points, b.farthest_points])
    keep = np.argsort(-distances, kind="stable")[: len(a.weight_sums)]
    return KMeansStats(
        a.weight_sums + b.weight_sums,
        a.sums + b.sums,
        a.ssd + b.ssd,
        a.ssd_previous + b.ssd_previous,
        a.n_changed + b.n_changed,
        distances[keep],
        points[keep],
    )


def update_centers(stats: KMeansStats, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The adjustment step: each centre moves to the weighted mean of its points.

    A cluster left with no weight never becomes NaN: its centre moves to the point
    farthest from its own centre (the worst-served point), the second empty
    cluster to the second-farthest point, and so on.

    Returns
    -------
    new_centers : ndarray (k, d), dtype of ``centers``
    empty : ndarray (k,) bool, the clusters that were re-seeded
    """
    empty = stats.weight_sums <= 0
    new_centers = np.empty_like(centers)
    filled = ~empty
    new_centers[filled] = (stats.sums[filled] / stats.weight_sums[filled, None]).astype(centers.dtype)
    empty_indices = np.flatnonzero(empty)
    if empty_indices.size:
        available = len(stats.farthest_distances)
        for rank, cluster in enumerate(empty_indices):
            if rank < available:
                new_centers[cluster] = stats.farthest_points[rank]
            else:  # fewer weighted points than clusters: keep the old centre
                new_centers[cluster] = centers[cluster]
    return new_centers, empty


def farthest_rows(min_distances: np.ndarray, sample_weight: np.ndarray, m: int) -> np.ndarray:
    """Indices of the ``m`` rows with positive weight farthest from their centres,
    largest distance first, the earlier row first among equal distances. O(n)."""
    candidates = np.flatnonzero(sample_weight > 0)
    scores = min_distances[candidates]
    if m < len(candidates):
        # The m-th largest score; every row above it is in, ties fill up in row order.
        threshold = np.partition(scores, len(scores) - m)[len(scores) - m]
        above = candidates[scores > threshold]
        tied = candidates[scores == threshold][: m - len(above)]
        candidates = np.concatenate([above, tied])
        scores = min_distances[candidates]
    return candidates[np.lexsort((candidates, -scores.astype(np.float64)))]
