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

__all__ = [
    "KMeansStats",
    "block_rows",
    "squared_norms",
    "squared_distances",
    "nearest_centers",
    "assign",
    "block_statistics",
    "reference_pass",
    "merge_statistics",
    "update_centers",
    "squared_shift",
    "relocations",
    "relocation_ssd",
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
    # The m points (positive weight only) farthest from their assigned centres, the
    # farthest first (the earlier row first among equal distances): (m,) their
    # distances, (m, d) their coordinates, (m,) their labels and (m,) their weights
    # as the sums took them, so that re-seeding an empty cluster can take a point
    # out of the cluster it was counted in. lloyd_statistics leaves them empty
    # (m = 0) unless a cluster is empty, the only case in which they are read.
    farthest_distances: np.ndarray  # (m,) float64
    farthest_points: np.ndarray  # (m, d) float64
    farthest_labels: np.ndarray  # (m,) int32
    farthest_weights: np.ndarray  # (m,) float64


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

    Sums are per-cluster weighted counts of each column (``np.bincount``), O(n·d),
    instead of a dense one-hot GEMM, O(n·k·d). The farthest ``k`` points (by
    distance to their own centre, positive weight only), with their labels and
    weights, are kept so empty clusters can be re-seeded after a merge (see
    :func:`update_centers`).
    """
    n = X.shape[0]
    weight = sample_weight.astype(np.float64, copy=False)
    weight_sums = np.bincount(labels, weights=weight, minlength=n_clusters).astype(np.float64)
    weighted_rows = X.astype(np.float64) * weight[:, None]
    sums = np.empty((n_clusters, X.shape[1]))
    for feature in range(X.shape[1]):
        sums[:, feature] = np.bincount(labels, weights=weighted_rows[:, feature], minlength=n_clusters)
    weighted = sample_weight * min_distances
    ssd = float(np.sum(weighted, dtype=np.float64))
    if previous_labels is None:
        ssd_previous = float("nan")
        n_changed = n
    else:
        ssd_previous = float(np.sum(sample_weight * previous_distances, dtype=np.float64))
        n_changed = int(np.count_nonzero(labels != previous_labels))
    top = farthest_rows(min_distances, sample_weight, n_clusters)
    return KMeansStats(
        weight_sums, sums, ssd, ssd_previous, n_changed,
        min_distances[top].astype(np.float64), X[top].astype(np.float64),
        labels[top].astype(np.int32), sample_weight[top].astype(np.float64),
    )


def reference_pass(X: np.ndarray, sample_weight: np.ndarray, centers: np.ndarray, x_norms: np.ndarray,
                   previous_labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, KMeansStats]:
    """One Lloyd assignment pass over a block by the functions above: :func:`assign`
    then :func:`block_statistics`, what the compiled passes are held to.

    Returns
    -------
    labels : ndarray (n,) int32
    min_distances : ndarray (n,), squared distance of each row to its centre
    stats : KMeansStats
    """
    labels, min_distances, previous_distances = assign(X, centers, x_norms, squared_norms(centers),
                                                       previous_labels)
    stats = block_statistics(X, sample_weight, labels, min_distances, centers.shape[0],
                             previous_labels, previous_distances)
    return labels, min_distances, stats


def merge_statistics(a: KMeansStats, b: KMeansStats) -> KMeansStats:
    """Statistics of the union of two blocks, ``a``'s rows before ``b``'s.

    The farthest points keep the k largest distances of both lists with their
    points, labels and weights; among equal distances ``a``'s come first (the
    earlier rows, as in one block's list).
    """
    distances = np.concatenate([a.farthest_distances, b.farthest_distances])
    keep = np.argsort(-distances, kind="stable")[: len(a.weight_sums)]
    return KMeansStats(
        a.weight_sums + b.weight_sums,
        a.sums + b.sums,
        a.ssd + b.ssd,
        a.ssd_previous + b.ssd_previous,
        a.n_changed + b.n_changed,
        distances[keep],
        np.concatenate([a.farthest_points, b.farthest_points])[keep],
        np.concatenate([a.farthest_labels, b.farthest_labels])[keep],
        np.concatenate([a.farthest_weights, b.farthest_weights])[keep],
    )


def relocations(stats: KMeansStats, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which empty cluster takes which of the farthest points in :func:`update_centers`.

    The empty clusters (no weight), in index order, take the farthest points in
    their order: the first empty cluster the farthest point, the next one the next
    farthest, as long as there are points. None is taken when every listed point
    lies on its centre (more clusters than distinct points), as in scikit-learn,
    for whom relocating is then pointless. That is judged on the coordinates, not
    on the listed distances: the expanded form ``||x||² - 2 x·c + ||c||²`` leaves a
    rounding residue where x is c.

    Parameters
    ----------
    stats : KMeansStats of the pass that assigned the points to ``centers``
    centers : ndarray (k, d), the centres of that pass

    Returns
    -------
    clusters : ndarray (r,) intp, the empty clusters that take a point
    ranks : ndarray (r,) intp, the rank of the point each takes in
        ``stats.farthest_*``
    """
    empty = np.flatnonzero(stats.weight_sums <= 0)
    available = len(stats.farthest_distances)
    none = np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    if empty.size == 0 or available == 0:
        return none
    own = np.asarray(centers)[stats.farthest_labels].astype(np.float64)
    if np.array_equal(stats.farthest_points, own):
        return none
    taken = min(empty.size, available)
    return empty[:taken], np.arange(taken, dtype=np.intp)


def update_centers(stats: KMeansStats, centers: np.ndarray, *,
                   in_place: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The adjustment step: each centre moves to the weighted mean of its points.

    Empty clusters are re-seeded as scikit-learn's Lloyd does (see
    :func:`relocations`): the k-th empty cluster, in index order, takes the k-th
    point (of positive weight) farthest from its assigned centre. kmix ranks equal
    distances by row, the earlier first; scikit-learn leaves the order among its
    several farthest points undefined, so the two agree whenever one cluster is
    empty and its farthest point is unique. Such a point, of weight w, becomes its
    new cluster's centre and leaves the cluster it was counted in: w·x and w are
    taken off that cluster's sums before the means are taken (that cluster is not
    checked for emptiness again, as in scikit-learn).

    A cluster left without weight (the cluster of a point that moved out of it
    alone, or an empty cluster when no point can be taken) never becomes NaN: it
    takes the new centre of the heaviest cluster (the lowest index among equal
    weights), which is where scikit-learn means to put it (its own code copies
    that cluster's weighted sum instead of its mean when the heaviest cluster has
    the higher index). The assignment then gives their common points to the lower
    index, so at most one of the two keeps any.

    Parameters
    ----------
    stats : KMeansStats of the pass that assigned the points to ``centers``
    centers : ndarray (k, d), the centres of that pass
    in_place : bool
        Write the new centres over ``stats.sums`` and return that array (float64,
        whatever the dtype of ``centers``): for a caller that is done with the
        sums and would rather not hold a third (k, d) array (a sparse fit's k x d
        can be as large as its data).

    Returns
    -------
    new_centers : ndarray (k, d), dtype of ``centers`` (float64 with ``in_place``)
    empty : ndarray (k,) bool, the clusters that had no weight in ``stats``
    """
    empty = stats.weight_sums <= 0
    weight_sums, sums = stats.weight_sums, stats.sums
    clusters, ranks = relocations(stats, centers)
    # The clusters the relocated points leave, with their sums less those points:
    # a few rows, so that the (k, d) sums are never copied.
    left = np.unique(stats.farthest_labels[ranks]) if clusters.size else np.empty(0, dtype=np.intp)
    left_sums = sums[left]
    if clusters.size:
        weight_sums = weight_sums.copy()
        for cluster, rank in zip(clusters, ranks):
            weight = stats.farthest_weights[rank]
            old = stats.farthest_labels[rank]
            left_sums[np.searchsorted(left, old)] -= weight * stats.farthest_points[rank]
            weight_sums[old] -= weight
            weight_sums[cluster] = weight
    filled = weight_sums > 0
    new_centers = sums if in_place else np.empty_like(centers)
    # No temporary: the float64 quotient rounded once to the output's dtype, as
    # (sums / w).astype(dtype) would give. Rows without weight are set below
    # (numpy may divide them anyway when it casts: 0/0, hence the errstate).
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(sums, weight_sums[:, None], out=new_centers, where=filled[:, None], casting="unsafe")
    for row, cluster in enumerate(left):
        if filled[cluster]:
            new_centers[cluster] = left_sums[row] / weight_sums[cluster]
    # A relocated centre is its point itself, not w·x / w (which could round).
    new_centers[clusters] = stats.farthest_points[ranks].astype(new_centers.dtype)
    if not filled.all():
        if filled.any():
            new_centers[~filled] = new_centers[np.argmax(weight_sums)]
        else:  # no weight anywhere: nothing to move to
            new_centers[~filled] = centers[~filled]
    return new_centers, empty


def squared_shift(old: np.ndarray, new: np.ndarray) -> float:
    """``sum((new - old)²)`` in float64, with ``new`` rounded to the dtype of ``old``
    (as the centres are stored: ``new`` may be the float64 means of an update in
    place), a few rows at a time: the centres can be large (k x d of a sparse
    fit), and a full difference would be another copy."""
    step = max(1, (1 << 16) // max(old.shape[1], 1))
    total = 0.0
    for start in range(0, old.shape[0], step):
        rounded = new[start:start + step].astype(old.dtype, copy=False)
        difference = rounded.astype(np.float64) - old[start:start + step]
        total += float(np.einsum("ij,ij->", difference, difference))
    return total


def relocation_ssd(stats: KMeansStats, centers: np.ndarray, new_centers: np.ndarray) -> float:
    """The weighted SSD of the points :func:`update_centers` moved to empty clusters,
    measured from the new centres of the clusters they left.

    The SSD after the update step is that of the labels after the relocations;
    the next pass measures the labels it was given (with each relocated point in
    its old cluster), so it counts these distances where the points, now centres of
    their new clusters, add nothing. The update step's SSD is the next pass's
    ``ssd_previous`` less this.

    Parameters
    ----------
    stats, centers : as given to :func:`update_centers`
    new_centers : ndarray (k, d), what it returned

    Returns
    -------
    float, 0.0 when no point moved
    """
    _, ranks = relocations(stats, centers)
    if ranks.size == 0:
        return 0.0
    points = stats.farthest_points[ranks]
    # The new centres as they are stored (the dtype of ``centers``), whatever
    # ``new_centers`` holds (the float64 means of an update in place).
    left = new_centers[stats.farthest_labels[ranks]].astype(centers.dtype).astype(np.float64)
    return float(np.sum(stats.farthest_weights[ranks] * np.sum((points - left) ** 2, axis=1)))


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
