"""Cluster-validity indices for choosing k: moments that merge, and the indices built on them.

Three families, by what they need from the data:

* **Moment indices** (within-cluster SSD, Calinski–Harabasz, Davies–Bouldin) need
  per-cluster sums only. :func:`cluster_moments` takes them for one block of rows,
  :func:`merge_cluster_moments` adds two blocks, and the index functions read the
  merged :class:`ClusterMoments`; the moments of ``X[:m]`` merged with those of
  ``X[m:]`` equal those of ``X``, so a chunked backend computes them with one
  reduce per pass.
* **Silhouette** needs every pairwise distance: :func:`silhouette_samples` computes
  them block by block (memory O(block_rows · n), never n × n) for data in memory;
  a caller estimates the mean from a sample of rows by passing the sample.
* **Gap statistic** (Tibshirani, Walther & Hastie 2001) compares log W_k of the data
  with that of uniform reference data: :func:`reference_box`, :func:`draw_reference`,
  :func:`gap_from_log_w`, :func:`one_standard_error_choice`. The clustering of the
  reference sets is the caller's (a k-means fit per set and k).

:func:`knee` picks the elbow of a decreasing curve such as the SSD against k.

Two-pass protocol for the moment indices
----------------------------------------
The moments are taken about centres given by the caller (usually the fitted
k-means centres, which lie at or near the clusters' means), for accuracy on data
far from the origin. The clusters' means follow exactly from them
(:func:`cluster_means`), so the SSD and Calinski–Harabasz need one pass. The
Davies–Bouldin index needs each cluster's mean *Euclidean* distance to its own mean,
which is no polynomial moment; it is exact from a pass whose centres are the means::

    first = data.reduce(cluster_moments, labels, centers, merge=merge_cluster_moments)
    means = cluster_means(first, centers)
    second = data.reduce(cluster_moments, labels, means, merge=merge_cluster_moments)
    davies_bouldin(second, means)          # within_ssd / calinski_harabasz: either pass

(``cluster_moments`` is called as ``kernel(block.X, block.sample_weight, labels of
the block, centres)``; the labels travel with the rows.) A first-order correction
(:attr:`ClusterMoments.direction_sums`) absorbs the rounding of the means, so the
second pass gives the index to rounding even for data offset far from the origin.

Empty clusters
--------------
Every index is defined over the clusters with positive total weight only, as
scikit-learn, which only sees the labels present, computes them: a centre without
points is not a cluster. ``k`` below is the number of such clusters.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.spatial.distance

__all__ = [
    "ClusterMoments",
    "cluster_moments",
    "merge_cluster_moments",
    "empty_cluster_moments",
    "cluster_means",
    "within_ssd",
    "calinski_harabasz",
    "davies_bouldin",
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


# --- moments ----------------------------------------------------------------------


class ClusterMoments(NamedTuple):
    """Per-cluster weighted moments of a block of rows about fixed centres c_j.

    With ``w`` the sample weights and ``c_j`` the centres the moments were taken
    about (the caller's ``centers``; not stored, so pass the same ones to the index
    functions):

    weight_sums : ndarray (k,) float64
        W_j = Σ_{i in j} w_i.
    sums : ndarray (k, d) float64
        Σ_{i in j} w_i (x_i - c_j).
    squares : ndarray (k,) float64
        Σ_{i in j} w_i ||x_i - c_j||².
    distance_sums : ndarray (k,) float64
        Σ_{i in j} w_i ||x_i - c_j|| (Euclidean, not squared).
    direction_sums : ndarray (k, d) float64
        Σ_{i in j} w_i (x_i - c_j) / ||x_i - c_j|| (rows at a centre count 0): the
        gradient of ``distance_sums`` with respect to c_j, negated, used to move
        ``distance_sums`` to the exact mean to first order.

    Only moments about the same centres may be merged; the moments of ``X[:m]``
    merged with those of ``X[m:]`` equal those of ``X``.
    """

    weight_sums: np.ndarray
    sums: np.ndarray
    squares: np.ndarray
    distance_sums: np.ndarray
    direction_sums: np.ndarray


def empty_cluster_moments(n_clusters: int, n_features: int) -> ClusterMoments:
    """The moments of a block without rows: all zeros (the identity of the merge).

    Parameters
    ----------
    n_clusters, n_features : int
        k and d.

    Returns
    -------
    ClusterMoments
        float64 zeros of shapes (k,), (k, d), (k,), (k,), (k, d).
    """
    k, d = n_clusters, n_features
    return ClusterMoments(np.zeros(k), np.zeros((k, d)), np.zeros(k), np.zeros(k), np.zeros((k, d)))


def cluster_moments(X: np.ndarray, sample_weight: np.ndarray, labels: np.ndarray,
                    centers: np.ndarray) -> ClusterMoments:
    """The moments of one block of rows about the centres of their clusters.

    Parameters
    ----------
    X : ndarray (m, d), float
        The block's rows, in the same frame as ``centers``.
    sample_weight : ndarray (m,) float64
    labels : ndarray (m,) int
        Each row's cluster, in 0..k-1.
    centers : ndarray (k, d) float64
        The c_j the moments are taken about. Centres at or near the clusters' means
        keep the SSD free of cancellation; the Davies–Bouldin index needs them to be
        the means (see the module's two-pass protocol).

    Returns
    -------
    ClusterMoments
        float64 throughout; memory O(m · d) beside X.
    """
    m = X.shape[0]
    k, d = centers.shape
    # Every per-row quantity side by side in one (m, 2d + 3) array, summed per
    # cluster by ONE sparse (k, m) product with the weights at (label, row): one
    # pass in row order, the same sums whatever the block split up to rounding.
    columns = np.empty((m, 2 * d + 3))
    offsets = columns[:, :d]
    np.subtract(X, centers[labels], out=offsets)
    squares = np.einsum("ij,ij->i", offsets, offsets)
    distances = np.sqrt(squares)
    columns[:, d] = 1.0
    columns[:, d + 1] = squares
    columns[:, d + 2] = distances
    # Unit vectors (x - c)/||x - c||; a row on its centre has none and counts 0.
    inverse = np.divide(1.0, distances, out=np.zeros(m), where=distances > 0.0)
    np.multiply(offsets, inverse[:, None], out=columns[:, d + 3:])
    import scipy.sparse  # loaded only where a pass needs it

    weights = scipy.sparse.csr_matrix(
        (np.asarray(sample_weight, dtype=np.float64), (np.asarray(labels), np.arange(m))), shape=(k, m))
    totals = np.asarray(weights @ columns)
    return ClusterMoments(
        weight_sums=totals[:, d].copy(),
        sums=totals[:, :d].copy(),
        squares=totals[:, d + 1].copy(),
        distance_sums=totals[:, d + 2].copy(),
        direction_sums=totals[:, d + 3:].copy(),
    )


def merge_cluster_moments(a: ClusterMoments, b: ClusterMoments) -> ClusterMoments:
    """The moments of the union of two blocks (taken about the same centres): fieldwise sums."""
    return ClusterMoments(*(x + y for x, y in zip(a, b)))


def _offsets_from_anchor(moments: ClusterMoments, centers: np.ndarray,
                         present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The means of the clusters present as offsets from an anchor, and their weights.

    m_j - a = (c_j - a) + Σw(x - c_j)/W_j with a the first present centre: the
    means are never rounded to the data's (possibly large) magnitude, so their
    differences keep full relative precision.
    """
    sizes = moments.weight_sums[present]
    anchor = centers[present][0]
    offsets = (centers[present] - anchor) + moments.sums[present] / sizes[:, None]
    return offsets, sizes


def cluster_means(moments: ClusterMoments, centers: np.ndarray) -> np.ndarray:
    """The clusters' weighted means m_j = c_j + Σw(x - c_j)/W_j.

    Parameters
    ----------
    moments : ClusterMoments
        Merged over all rows, taken about ``centers``.
    centers : ndarray (k, d) float64

    Returns
    -------
    ndarray (k, d) float64
        A cluster without weight keeps its centre (it has no mean; the centre is
        harmless as the shift of a second pass, which sees no rows there).
    """
    sizes = moments.weight_sums
    shift = np.divide(moments.sums, sizes[:, None], out=np.zeros_like(moments.sums), where=sizes[:, None] > 0)
    return centers + shift


def within_ssd(moments: ClusterMoments, centers: np.ndarray | None = None) -> float:
    """The weighted within-cluster sum of squares about the clusters' own means.

    Σ_j Σ_{i in j} w_i ||x_i - m_j||² = Σ_j [S_j - ||s_j||² / W_j], with S_j, s_j the
    squares and sums about c_j (the parallel-axis theorem). About centres near the
    means ||s_j||²/W_j is small beside S_j, so the subtraction loses nothing.

    Parameters
    ----------
    moments : ClusterMoments
        Merged over all rows.
    centers : ndarray (k, d), optional
        Not needed (the SSD about the means does not depend on the shift); accepted
        so that every index takes ``(moments, centers)``.

    Returns
    -------
    float
        The SSD; also the gap statistic's W_k.
    """
    present = moments.weight_sums > 0
    sizes = moments.weight_sums[present]
    sums = moments.sums[present]
    per_cluster = moments.squares[present] - np.einsum("ij,ij->i", sums, sums) / sizes
    # Each term is a sum of squares: negative only by rounding.
    return float(np.sum(np.maximum(per_cluster, 0.0)))


def calinski_harabasz(moments: ClusterMoments, centers: np.ndarray) -> float:
    """The Calinski–Harabasz (variance-ratio) index, weighted.

    CH = [B / (k - 1)] / [W / (n - k)] with, for the k clusters of positive weight,
    n = Σ w_i the total weight, m the overall weighted mean,
    B = Σ_j W_j ||m_j - m||² the between-cluster and W = Σ_i w_i ||x_i - m_{l(i)}||²
    the within-cluster sum of squares. The weights count as frequencies: integer
    weights give the index of the data with repeated rows, and with unit weights it
    is scikit-learn's ``calinski_harabasz_score``. (So it is not invariant to scaling
    the weights: n - k is a count of degrees of freedom.)

    Parameters
    ----------
    moments : ClusterMoments
        Merged over all rows, taken about ``centers``.
    centers : ndarray (k, d) float64

    Returns
    -------
    float
        Larger is better. NaN for fewer than two clusters (B/(k - 1) is 0/0; where
        scikit-learn raises) or n <= k (no within-cluster degree of freedom); 1.0 when
        W = 0, scikit-learn's convention.
    """
    present = moments.weight_sums > 0
    k = int(np.count_nonzero(present))
    n = float(np.sum(moments.weight_sums[present]))
    if k < 2 or n <= k:
        return math.nan
    offsets, sizes = _offsets_from_anchor(moments, centers, present)
    # Overall mean as an offset from the same anchor: Σ W_j (m_j - a) / n.
    overall = sizes @ offsets / n
    gaps = offsets - overall
    between = float(sizes @ np.einsum("ij,ij->i", gaps, gaps))
    within = within_ssd(moments)
    if within == 0.0:
        return 1.0
    return between * (n - k) / (within * (k - 1))


def davies_bouldin(moments: ClusterMoments, centers: np.ndarray) -> float:
    """The Davies–Bouldin index, weighted; needs moments about the clusters' means.

    With S_j = Σ_{i in j} w_i ||x_i - m_j|| / W_j the mean distance of cluster j to its
    mean and M_ij = ||m_i - m_j||, DB = (1/k) Σ_i max_{j != i} (S_i + S_j) / M_ij over
    the k clusters of positive weight: scikit-learn's ``davies_bouldin_score`` for
    unit weights, and the index of repeated rows for integer weights.

    ``moments`` must come from a pass whose centres are the means (module docstring):
    S_j is then ``distance_sums / W_j``, corrected to first order in the small gap
    δ_j = m_j - c_j left by rounding, Σ w ||x - m_j|| ≈ Σ w ||x - c_j|| - δ_j · Σ w u_ij
    with u_ij the unit vectors (``direction_sums``); the neglected term is of order
    |δ_j|² / distance. From centres far from the means the result is meaningless.

    Parameters
    ----------
    moments : ClusterMoments
        Merged over all rows, taken about ``centers``.
    centers : ndarray (k, d) float64
        The clusters' means (:func:`cluster_means` of a first pass).

    Returns
    -------
    float
        Smaller is better. NaN for fewer than two clusters (where scikit-learn
        raises); 0.0 when every S_j is 0 or every pair of means coincides
        (scikit-learn's convention, here for exact zeros rather than below 1e-8).
        A pair of clusters with identical means is skipped in the max, as
        scikit-learn does.
    """
    present = moments.weight_sums > 0
    k = int(np.count_nonzero(present))
    if k < 2:
        return math.nan
    offsets, sizes = _offsets_from_anchor(moments, centers, present)
    gaps = moments.sums[present] / sizes[:, None]  # δ_j = m_j - c_j
    distance_sums = moments.distance_sums[present] - np.einsum("ij,ij->i", gaps, moments.direction_sums[present])
    spreads = np.maximum(distance_sums, 0.0) / sizes
    # Differences of the offsets, not a Gram-matrix formula: no cancellation.
    separations = scipy.spatial.distance.cdist(offsets, offsets)
    if np.all(spreads == 0.0) or np.all(separations == 0.0):
        return 0.0
    separations[separations == 0.0] = np.inf  # the diagonal, and coinciding means
    ratios = (spreads[:, None] + spreads[None, :]) / separations
    return float(np.mean(np.max(ratios, axis=1)))


# The indices that need more than moments, under the same names.
from .cluster_choice import (  # noqa: E402
    ReferenceBox,
    draw_reference,
    gap_from_log_w,
    knee,
    one_standard_error_choice,
    reference_box,
    silhouette_block_rows,
    silhouette_samples,
    silhouette_samples_many,
)
