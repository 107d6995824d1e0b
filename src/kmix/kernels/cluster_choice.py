"""Choosing k beyond the moment indices (see :mod:`kmix.kernels.cluster_indices`):
the silhouette, block by block; the gap statistic's reference data and its
one-standard-error rule (Tibshirani, Walther & Hastie 2001); the knee of a curve."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = [
    "silhouette_block_rows",
    "silhouette_samples",
    "silhouette_samples_many",
    "ReferenceBox",
    "reference_box",
    "draw_reference",
    "gap_from_log_w",
    "one_standard_error_choice",
    "knee",
]


# --- silhouette ---------------------------------------------------------------------

# Elements of one block's (rows × n) distance matrix: 32 MiB of float64.
_SILHOUETTE_BLOCK_ELEMENTS = 2**22


def silhouette_block_rows(n_samples: int) -> int:
    """Rows per block of the silhouette so that a block's distances take about 32 MiB."""
    return int(max(1, min(n_samples, _SILHOUETTE_BLOCK_ELEMENTS // max(n_samples, 1))))


def _clusters(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Only the labels present are clusters (scikit-learn's LabelEncoder): each
    # row's cluster 0..K-1 and the clusters' sizes.
    _, cluster = np.unique(np.asarray(labels), return_inverse=True)
    cluster = cluster.reshape(-1)
    return cluster, np.bincount(cluster)


def _block_distances(points: np.ndarray, norms: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(m, n): the Euclidean distances of the listed rows to every row, through
    ||x||² - 2 x·y + ||y||² (one product), floored at 0, a row's distance to itself
    exactly 0."""
    distances = points[rows] @ points.T
    distances *= -2.0
    distances += norms[rows][:, None]
    distances += norms[None, :]
    np.maximum(distances, 0.0, out=distances)
    distances[np.arange(len(rows)), rows] = 0.0
    return np.sqrt(distances, out=distances)


def _silhouette_of_block(per_cluster: np.ndarray, own: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Silhouette values of a block's rows from their distance sums to each cluster
    (m, K) (written), their clusters and the clusters' sizes."""
    rows = np.arange(len(own))
    own_sizes = counts[own]
    # a: mean distance to the OTHER members (the own distance is 0);
    # b: the smallest mean distance to another cluster.
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = per_cluster[rows, own] / (own_sizes - 1)
    per_cluster /= counts
    per_cluster[rows, own] = np.inf
    outside = per_cluster.min(axis=1)
    larger = np.maximum(inside, outside)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (outside - inside) / larger
    # scikit-learn's conventions: 0 for a singleton (a undefined) and for
    # a = b = 0 (a row and its nearest cluster all at one point).
    values[(own_sizes == 1) | (larger == 0.0)] = 0.0
    return values


def silhouette_samples_many(X: np.ndarray, labelings: list[np.ndarray], *,
                            block_rows: int | None = None) -> np.ndarray:
    """The exact silhouette value of every row under each of several labelings of the
    same rows (see :func:`silhouette_samples`), computed block by block.

    Every pairwise distance is computed once for all the labelings: a block's
    (rows × n) distances times the rows' one-hot cluster memberships of every
    labeling side by side, (n × ΣK), give each row's distance sums to every
    cluster of every labeling in one matrix product. Choosing k fits many
    labelings of one sample: the distances, the costly part, are shared.

    Returns
    -------
    ndarray (len(labelings), n) float64
    """
    n = X.shape[0]
    data = np.asarray(X, dtype=np.float64)
    # Centred, so the Gram-matrix distances lose only eps·(spread)², not eps·||x||².
    points = data - data.mean(axis=0)
    norms = np.einsum("ij,ij->i", points, points)
    clusters = [_clusters(labels) for labels in labelings]
    offsets = np.concatenate(([0], np.cumsum([len(counts) for _, counts in clusters])))
    membership = np.zeros((n, int(offsets[-1])))
    for offset, (cluster, _) in zip(offsets, clusters):
        membership[np.arange(n), offset + cluster] = 1.0
    values = np.full((len(labelings), n), np.nan)
    rows_per_block = silhouette_block_rows(n) if block_rows is None else int(block_rows)
    for first in range(0, n, rows_per_block):
        rows = np.arange(first, min(first + rows_per_block, n))
        sums = _block_distances(points, norms, rows) @ membership
        for index, (offset, (cluster, counts)) in enumerate(zip(offsets, clusters)):
            if len(counts) >= 2:  # b is undefined for one cluster: NaN stays
                per_cluster = sums[:, offset:offset + len(counts)].copy()
                values[index, rows] = _silhouette_of_block(per_cluster, cluster[rows], counts)
    return values


def silhouette_samples(X: np.ndarray, labels: np.ndarray, *, block_rows: int | None = None) -> np.ndarray:
    """The exact silhouette value of every row (Euclidean), computed block by block.

    s_i = (b_i - a_i) / max(a_i, b_i) with a_i the mean distance of row i to the
    other members of its cluster and b_i the smallest mean distance to the members
    of another cluster; 0 for a row alone in its cluster and where a_i = b_i = 0
    (scikit-learn's ``silhouette_samples``, whose values these equal to rounding).

    Parameters
    ----------
    X : ndarray (n, d), float
        In memory: every row is compared with every other.
    labels : ndarray (n,), int
        Any integer labels; only the labels present are clusters.
    block_rows : int, optional
        Rows whose distances to all n rows are held at once; the memory is
        O(block_rows · n) beside one centred float64 copy of X. Default
        :func:`silhouette_block_rows`. The values do not depend on it beyond rounding.

    Returns
    -------
    ndarray (n,) float64
        NaN everywhere when fewer than two labels are present (b is undefined;
        scikit-learn raises). All zeros when every row is alone in its cluster
        (scikit-learn raises).

    Notes
    -----
    One labeling of :func:`silhouette_samples_many`: distances from
    ||x||² - 2 x·y + ||y||² on the data centred at its column means (one matrix
    product per block), each row's distance to itself set to 0, the per-cluster
    sums by a second product with the rows' one-hot memberships.
    """
    return silhouette_samples_many(X, [labels], block_rows=block_rows)[0]


# --- gap statistic ------------------------------------------------------------------


class ReferenceBox(NamedTuple):
    """The region reference data are drawn from, uniformly.

    low, high : ndarray (d,) float64
        The box's corners, in the rotated coordinates z = x @ rotation.T (in the
        data's own coordinates when ``rotation`` is None).
    rotation : ndarray (d, d) float64 or None
        Orthonormal rows, the data's principal axes ("pca"); None for "box".
        A draw z maps back to x = z @ rotation.
    """

    low: np.ndarray
    high: np.ndarray
    rotation: np.ndarray | None


def reference_box(X: np.ndarray, method: str = "box") -> ReferenceBox:
    """The box of the gap statistic's reference distribution (Tibshirani et al. 2001, §4).

    Parameters
    ----------
    X : ndarray (n, d), float
    method : {"box", "pca"}
        "box": the data's bounding box, features independent and uniform over their
        ranges (the paper's method (a)). "pca": the bounding box of the data in the
        coordinates of its principal axes, V from the SVD of the centred data
        X - x̄ = U D Vᵀ (method (b)); it follows the data's shape and orientation.
        Since V is orthonormal the box is taken about x @ V directly, centre
        included, so draws map back with no further shift.

    Returns
    -------
    ReferenceBox
        For "pca" with n < d the axes are completed to a full basis; along the
        added ones the data, and so the draws, have zero extent.
    """
    data = np.asarray(X, dtype=np.float64)
    if method == "box":
        return ReferenceBox(data.min(axis=0), data.max(axis=0), None)
    if method == "pca":
        n, d = data.shape
        centred = data - data.mean(axis=0)
        # full_matrices when n < d: vh must be a square basis, or the draws would
        # lose the mean's component outside the data's span.
        _, _, axes = np.linalg.svd(centred, full_matrices=n < d)
        rotated = data @ axes.T
        return ReferenceBox(rotated.min(axis=0), rotated.max(axis=0), axes)
    raise ValueError(f"method must be 'box' or 'pca', got {method!r}")


def draw_reference(box: ReferenceBox, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A reference data set: ``n_samples`` rows uniform in the box.

    Parameters
    ----------
    box : ReferenceBox
    n_samples : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray (n_samples, d) float64
        In the data's coordinates (rotated back for "pca").
    """
    draws = rng.uniform(box.low, box.high, size=(n_samples, len(box.low)))
    return draws if box.rotation is None else draws @ box.rotation


def gap_from_log_w(log_w_data: np.ndarray, log_w_refs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The gap statistic and its standard error per k.

    Gap(k) = (1/B) Σ_b log W*_kb - log W_k and s_k = sd_k √(1 + 1/B), with sd_k the
    standard deviation of the log W*_kb over the B reference sets taken with 1/B
    (not 1/(B - 1)), as in the paper. W_k is the within-cluster sum of squares
    (:func:`within_ssd`): the paper's Σ_r D_r / (2 n_r), with D_r the sum of squared
    pairwise distances in cluster r, equals it.

    Parameters
    ----------
    log_w_data : ndarray (K,) float
        log W_k of the data for each k tried.
    log_w_refs : ndarray (B, K) float
        log W*_kb of each reference set b.

    Returns
    -------
    gap : ndarray (K,) float64
    s : ndarray (K,) float64
    """
    references = np.asarray(log_w_refs, dtype=np.float64)
    n_references = references.shape[0]
    gap = references.mean(axis=0) - np.asarray(log_w_data, dtype=np.float64)
    s = references.std(axis=0) * math.sqrt(1.0 + 1.0 / n_references)
    return gap, s


def one_standard_error_choice(ks: np.ndarray, gap: np.ndarray, s: np.ndarray) -> int:
    """Tibshirani's rule: the smallest k with Gap(k) >= Gap(k+1) - s_{k+1}.

    Parameters
    ----------
    ks : ndarray (K,) int
        The k tried, increasing; "k + 1" is the next k in this list.
    gap, s : ndarray (K,) float
        From :func:`gap_from_log_w`.

    Returns
    -------
    int
        The chosen k; the largest k tried when no k satisfies the rule (the gap
        still rises by more than one standard error at the end: more clusters may
        be needed than were tried).
    """
    ks = np.asarray(ks)
    for i in range(len(ks) - 1):
        if gap[i] >= gap[i + 1] - s[i + 1]:
            return int(ks[i])
    return int(ks[-1])


# --- elbow --------------------------------------------------------------------------


def knee(ks: np.ndarray, values: np.ndarray) -> int:
    """The knee of a decreasing convex curve by Kneedle (Satopää et al. 2011), offline.

    Both axes are scaled to [0, 1], x = (k - k_first)/(k_last - k_first) and
    y = (v - min v)/(max v - min v); for a decreasing curve the difference curve is
    1 - x - y, and the knee is the k of its maximum (the first, among equal ones).
    For a monotone curve the chord joining the first and last points runs from
    (0, 1) to (1, 0) in the scaled axes, so this is also the point farthest below
    that chord ("maximum distance to the line", the same choice).

    Parameters
    ----------
    ks : ndarray (K,) int
        Increasing; need not be consecutive.
    values : ndarray (K,) float
        Finite, e.g. the within-cluster SSD per k.

    Returns
    -------
    int
        The k at the knee. The first k when there are fewer than three points,
        when the values are constant, or when no point lies below the chord by more
        than 1e-9 of the scaled range (a straight line, or a concave curve: no knee).
    """
    ks = np.asarray(ks)
    values = np.asarray(values, dtype=np.float64)
    if len(ks) < 3:
        return int(ks[0])
    spread = values.max() - values.min()
    if spread == 0.0:
        return int(ks[0])
    x = (ks - ks[0]) / (ks[-1] - ks[0])
    y = (values - values.min()) / spread
    difference = 1.0 - x - y
    best = int(np.argmax(difference))
    if difference[best] <= 1e-9:
        return int(ks[0])
    return int(ks[best])
