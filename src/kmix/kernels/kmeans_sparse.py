"""k-means on sparse rows (a scipy.sparse CSR matrix or array): the reference math
and the compiled passes that are held to it.

Sparse data is never centred (centring would fill in every zero), so distances
are ``||x||² - 2 x·c + ||c||²`` in the data's own frame, with ``||x||²`` computed
once. The passes take the same arguments and give the same results as the dense
ones of :mod:`kmix.kernels.kmeans_passes` (labels, distances, :class:`KMeansStats`
that merge with :func:`kmix.kernels.kmeans.merge_statistics`), so Lloyd's loop,
its empty-cluster handling and its History do not ask which kind of rows they
have; the dense block kernels dispatch here when a block's rows are sparse.

- reference twins (numpy and scipy, one block at a time): :func:`squared_norms_reference`,
  :func:`column_summary_reference`, :func:`squared_distances_reference`,
  :func:`assign_reference`, :func:`block_statistics_reference`,
  :func:`seeding_potentials_reference`, :func:`seeding_update_reference`;
- compiled passes (:mod:`kmix.kernels.compiled.kmeans_sparse`, numba on first use):
  :func:`squared_norms`, :func:`column_summary`, :func:`lloyd_statistics`,
  :func:`bounded_statistics`, :func:`nearest_centers`, :func:`squared_distances`,
  :func:`seeding_potentials`, :func:`seeding_update`.

Every compiled pass runs on ``n_threads`` threads over fixed chunks of
:data:`CHUNK_ROWS` rows; no result depends on the number of threads, bit for bit.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import scipy.sparse

from .compiled import threads
from .kmeans import KMeansStats, farthest_rows

__all__ = [
    "CHUNK_ROWS",
    "ColumnSummary",
    "squared_norms",
    "squared_norms_reference",
    "column_summary",
    "column_summary_reference",
    "scaled_centers",
    "lloyd_statistics",
    "bounded_statistics",
    "nearest_centers",
    "squared_distances",
    "squared_distances_reference",
    "assign_reference",
    "block_statistics_reference",
    "seeding_potentials",
    "seeding_potentials_reference",
    "seeding_update",
    "seeding_update_reference",
]

# Rows per chunk of the compiled passes: the unit of parallel work and of partial
# sums, fixed so that the order of every addition is too. A chunk of typical
# sparse rows (tens of stored values) is enough work to outweigh its start.
CHUNK_ROWS = 512


def _chunks(n: int) -> int:
    return -(-n // CHUNK_ROWS)


# --- the data's own numbers ---------------------------------------------------------------


def squared_norms(X: Any, *, n_threads: int = 1) -> np.ndarray:
    """Squared norms of the rows of a CSR X, shape (n,), X's dtype (added in float64,
    rounded once)."""
    from .compiled import kmeans_sparse  # numba is imported on first use only

    out = np.empty(X.shape[0], dtype=X.dtype)
    with threads(n_threads, _chunks(X.shape[0])):
        kmeans_sparse.row_squared_norms(X.data, X.indptr, CHUNK_ROWS, out)
    return out


def squared_norms_reference(X: Any) -> np.ndarray:
    """The reference of :func:`squared_norms`: float64 (n,)."""
    X = scipy.sparse.csr_matrix(X, dtype=np.float64)
    return np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()


class ColumnSummary(NamedTuple):
    """Per-column numbers of a sparse X, implicit zeros included where a column has
    fewer stored values than X has rows. All (d,) float64 but ``counts``."""

    sums: np.ndarray  # sum of the column
    squares: np.ndarray  # sum of its squares
    low: np.ndarray  # least value (0 where a zero is implicit and below the stored ones)
    high: np.ndarray  # largest value
    counts: np.ndarray  # (d,) int64: stored values per column
    first_nonfinite: int  # row of the first stored NaN or inf (in CSR order), -1 if none
    n_nonfinite: int  # how many stored values are NaN or inf

    def mean_variance(self, n_samples: int) -> float:
        """The variance of the columns (over the rows, unweighted) averaged over the
        columns: ``(sum of squares - sum² / n) / n`` per column, in float64."""
        n = max(n_samples, 1)
        variances = np.maximum(self.squares - self.sums * self.sums / n, 0.0) / n
        return float(np.mean(variances)) if variances.size else 0.0


def _with_implicit_zeros(low: np.ndarray, high: np.ndarray, counts: np.ndarray,
                         n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    implicit = counts < n_rows
    return np.where(implicit, np.minimum(low, 0.0), low), np.where(implicit, np.maximum(high, 0.0), high)


def column_summary(X: Any) -> ColumnSummary:
    """:class:`ColumnSummary` of a CSR X in one compiled pass over its stored values
    (no temporary of their size). Where a value is not finite the other fields are
    meaningless; ``n_nonfinite`` and ``first_nonfinite`` say where."""
    from .compiled import kmeans_sparse  # numba is imported on first use only

    n, d = X.shape
    sums, squares, low, high = np.empty(d), np.empty(d), np.empty(d), np.empty(d)
    counts = np.empty(d, dtype=np.int64)
    first = int(kmeans_sparse.column_summary(X.data, X.indices, X.indptr, sums, squares, low, high, counts))
    if first >= 0:
        bad = ~np.isfinite(X.data)
        row = int(np.searchsorted(X.indptr, first, side="right")) - 1
        return ColumnSummary(sums, squares, low, high, counts, row, int(np.count_nonzero(bad)))
    low, high = _with_implicit_zeros(low, high, counts, n)
    return ColumnSummary(sums, squares, low, high, counts, -1, 0)


def column_summary_reference(X: Any) -> ColumnSummary:
    """The reference of :func:`column_summary` (finite X), by scipy's reductions."""
    X = scipy.sparse.csr_matrix(X, dtype=np.float64)
    n, d = X.shape
    counts = np.bincount(X.indices, minlength=d).astype(np.int64)
    low = np.asarray(X.min(axis=0).toarray(), dtype=np.float64).ravel()
    high = np.asarray(X.max(axis=0).toarray(), dtype=np.float64).ravel()
    sums = np.asarray(X.sum(axis=0), dtype=np.float64).ravel()
    squares = np.asarray(X.multiply(X).sum(axis=0), dtype=np.float64).ravel()
    return ColumnSummary(sums, squares, low, high, counts, -1, 0)


# --- the centres as the compiled passes read them ----------------------------------------------


def scaled_centers(centers: np.ndarray, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """``-2 * centers.T``, (d, k) C-contiguous, and the centres' squared norms (k,),
    both in ``dtype``. The norms are added in float64 and rounded once: over
    thousands of features a sum in float32 would be off by more than the bounded
    pass's slack allows for."""
    dtype = np.dtype(dtype)
    centers = np.asarray(centers)
    scaled_t = np.empty(centers.shape[::-1], dtype=dtype)
    # -2 is a power of two: exact in either dtype.
    np.multiply(centers.T, dtype.type(-2), out=scaled_t, casting="unsafe")
    norms = np.empty(centers.shape[0])
    step = max(1, (1 << 16) // max(centers.shape[1], 1))
    for start in range(0, centers.shape[0], step):  # a few rows widened at a time, never all
        wide = centers[start:start + step].astype(np.float64, copy=False)
        norms[start:start + step] = np.einsum("ij,ij->i", wide, wide)
    return scaled_t, norms.astype(dtype)


def _weight_inputs(X: Any, sample_weight: np.ndarray, x_norms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (np.ascontiguousarray(sample_weight, dtype=X.dtype),
            np.ascontiguousarray(x_norms, dtype=X.dtype))


# --- the assignment pass --------------------------------------------------------------------


def _slack(dtype: np.dtype, n_features: int) -> tuple[float, float]:
    """(slack_scale, slack_base) of the bounded pass: row i's distances are within
    ``(slack_base + slack_scale * stored_i) (||x_i||² + max ||c||²)`` of the exact
    ones, four times over. The products of a row with s stored values round by at
    most about s·eps·(||x||² + ||c||²), the norms and the final additions by a few
    eps more; the centre norms, added over every feature in float64, by d·eps64."""
    eps = float(np.finfo(dtype).eps)
    return 8.0 * eps, 8.0 * (4.0 * eps + n_features * float(np.finfo(np.float64).eps))


def _cluster_sums(X: Any, sample_weight: np.ndarray, unit_weight: bool, labels: np.ndarray, k: int,
                  n_threads: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster total weight and weighted sums (float64) of the rows of X under
    ``labels``: each cluster's rows added in row order by one thread, the clusters
    shared out in runs of about equal work."""
    from .compiled import kmeans_sparse  # numba is imported on first use only

    n = X.shape[0]
    starts = np.empty(k + 1, dtype=np.int64)
    members = np.empty(n, dtype=np.int64)
    loads = np.empty(k, dtype=np.int64)
    kmeans_sparse.group_rows(labels, X.indptr, k, starts, members, loads)
    workers = max(1, min(int(n_threads), k))
    cumulative = np.cumsum(loads)
    total = int(cumulative[-1]) if k else 0
    # Worker w takes the clusters whose work ends in its share of the total. Any
    # split gives the same sums: it only balances the threads.
    cuts = np.searchsorted(cumulative, [total * w / workers for w in range(1, workers)], side="left")
    worker_starts = np.concatenate([[0], np.minimum(cuts + 1, k), [k]]).astype(np.int64)
    worker_starts = np.maximum.accumulate(worker_starts)
    weight_sums = np.empty(k)
    sums = np.empty((k, X.shape[1]))
    with threads(n_threads, workers):
        kmeans_sparse.cluster_sums(X.data, X.indices, X.indptr, sample_weight, unit_weight, starts,
                                   members, worker_starts, weight_sums, sums)
    return weight_sums, sums


def _assign(X: Any, sample_weight: np.ndarray, centers: np.ndarray, x_norms: np.ndarray,
            previous_labels: np.ndarray | None, unit_weight: bool, bounded: bool,
            lower: np.ndarray | None, drops: np.ndarray | None,
            n_threads: int, statistics: bool = True
            ) -> tuple[np.ndarray, np.ndarray, KMeansStats | None, int]:
    """The pass shared by :func:`lloyd_statistics`, :func:`bounded_statistics` and
    (without ``statistics``: no sums, no KMeansStats) :func:`nearest_centers`."""
    from .compiled import kmeans_sparse  # numba is imported on first use only

    dtype = X.dtype
    n, d = X.shape
    k = centers.shape[0]
    sample_weight, x_norms = _weight_inputs(X, sample_weight, x_norms)
    scaled_t, center_norms = scaled_centers(centers, dtype)
    has_previous = previous_labels is not None
    previous = (np.ascontiguousarray(previous_labels, dtype=np.int32) if has_previous
                else np.zeros(0, dtype=np.int32))
    if bounded:
        if has_previous and drops is None:
            raise ValueError("drops are required with previous_labels")
        from .kmeans_bounds import center_neighbours

        # Half the gap to the nearest other centre settles a row only when there is a
        # bound to compare it with (not on the first pass, which scans every row).
        separation = (np.ascontiguousarray(center_neighbours(centers, 1)[1][:, 0])
                      if has_previous and k > 1 else np.full(k, np.inf))
        drops = np.zeros(k) if drops is None else np.ascontiguousarray(drops, dtype=np.float64)
        assert lower is not None
    else:
        separation = drops = np.zeros(0)
        lower = np.zeros(0)
    slack_scale, slack_base = _slack(dtype, d)
    max_center_norm = float(np.max(center_norms.astype(np.float64))) if k else 0.0
    labels = np.empty(n, dtype=np.int32)
    min_distances = np.empty(n, dtype=dtype)
    n_chunks = _chunks(n)
    chunk_scalars = np.zeros((n_chunks, 3))
    chunk_rescanned = np.zeros(n_chunks, dtype=np.int64)
    with threads(n_threads, n_chunks):
        kmeans_sparse.assign_pass(X.data, X.indices, X.indptr, x_norms, sample_weight, unit_weight,
                                  scaled_t, center_norms, previous, has_previous, bounded, lower,
                                  drops, separation, slack_scale, slack_base, max_center_norm,
                                  CHUNK_ROWS, labels, min_distances, chunk_scalars, chunk_rescanned)
    del scaled_t
    if not statistics:
        return labels, min_distances, None, int(chunk_rescanned.sum())
    weight_sums, sums = _cluster_sums(X, sample_weight, unit_weight, labels, k, n_threads)
    scalars = np.zeros(3)
    for c in range(n_chunks):  # in chunk order, whatever the threads
        scalars += chunk_scalars[c]
    if np.any(weight_sums <= 0):  # a cluster is empty: its re-seeding needs the farthest rows
        farthest = farthest_rows(min_distances, sample_weight, k)
    else:
        farthest = np.empty(0, dtype=np.intp)
    # The weights as the sums took them (X's dtype), so that a relocated row leaves
    # its old cluster's sums with what it brought to them.
    stats = KMeansStats(
        weight_sums, sums, float(scalars[0]),
        float(scalars[1]) if has_previous else float("nan"),
        int(scalars[2]) if has_previous else n,
        min_distances[farthest].astype(np.float64),
        X[farthest].toarray().astype(np.float64, copy=False), labels[farthest],
        sample_weight[farthest].astype(np.float64),
    )
    return labels, min_distances, stats, int(chunk_rescanned.sum())


def lloyd_statistics(
    X: Any,
    sample_weight: np.ndarray,
    centers: np.ndarray,
    x_norms: np.ndarray,
    previous_labels: np.ndarray | None = None,
    unit_weight: bool = False,
    keep_distances: bool = True,
    *,
    n_threads: int = 1,
) -> tuple[np.ndarray, np.ndarray | None, KMeansStats]:
    """Assignment and statistics of a CSR X in compiled passes: what
    :func:`kmix.kernels.kmeans_passes.lloyd_statistics` gives for dense rows (the
    same arguments and results), without densifying a row.

    Two passes over the stored values: the first finds each row's nearest centre
    (its products with every centre, from ``-2 C.T``), its distance and the SSDs;
    the second adds the rows into their clusters' sums (float64), each cluster's
    rows in row order.

    Parameters
    ----------
    X : scipy.sparse CSR matrix or array (n, d), float32 or float64
    sample_weight : ndarray (n,)
    centers : ndarray (k, d)
    x_norms : ndarray (n,), squared norms of the rows of X
    previous_labels : ndarray (n,) of int, optional
        When given, the statistics include the SSD of these labels with respect to
        ``centers`` and the number of changed labels.
    unit_weight : bool
        The caller vouches that every weight is 1: ``sample_weight`` is not read.
    keep_distances : bool
        Return each row's squared distance to its centre.
    n_threads : int
        The result does not depend on it, bit for bit.

    Returns
    -------
    labels : ndarray (n,) int32
    min_distances : ndarray (n,), X's dtype, or None if not ``keep_distances``
    stats : KMeansStats
    """
    labels, distances, stats, _ = _assign(X, sample_weight, centers, x_norms, previous_labels,
                                          unit_weight, False, None, None, n_threads)
    return labels, (distances if keep_distances else None), stats


def bounded_statistics(
    X: Any,
    sample_weight: np.ndarray,
    centers: np.ndarray,
    x_norms: np.ndarray,
    previous_labels: np.ndarray | None,
    lower: np.ndarray,
    drops: np.ndarray | None = None,
    unit_weight: bool = False,
    *,
    n_threads: int = 1,
) -> tuple[np.ndarray, KMeansStats, int]:
    """:func:`lloyd_statistics` with Hamerly's bounds: the arguments and results of
    :func:`kmix.kernels.kmeans_passes.bounded_statistics`.

    A row keeps its previous label without a scan when its bound, or half the
    distance from its centre to the nearest other one, exceeds its distance to its
    centre by more than the rounding slack of the distances. That distance is
    computed as the full scan computes it (the same products in the same order),
    so the labels, the distances and therefore every statistic are those of
    :func:`lloyd_statistics`, bit for bit.

    Parameters
    ----------
    X, sample_weight, centers, x_norms, unit_weight, n_threads : as in :func:`lloyd_statistics`
    previous_labels : ndarray (n,) int32 or None (every row scanned, ``lower`` set)
    lower : ndarray (n,) float64, written: lower bounds on each row's distance to
        every centre but its own
    drops : ndarray (k,) float64 (:func:`kmix.kernels.kmeans_bounds.bound_drops`),
        required with ``previous_labels``

    Returns
    -------
    labels : ndarray (n,) int32
    stats : KMeansStats
    rescanned : int, the rows whose distances to all centres were computed
    """
    labels, _, stats, rescanned = _assign(X, sample_weight, centers, x_norms, previous_labels,
                                          unit_weight, True, lower, drops, n_threads)
    return labels, stats, rescanned


def nearest_centers(X: Any, centers: np.ndarray, x_norms: np.ndarray, *,
                    n_threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centre of each row of a CSR X and the squared distance to it: the
    labels and distances of :func:`lloyd_statistics` without its sums (predict,
    score). Returns labels (n,) int32 and distances (n,), X's dtype."""
    labels, distances, _, _ = _assign(X, np.ones(0, dtype=X.dtype), centers, x_norms, None, True,
                                      False, None, None, n_threads, statistics=False)
    return labels, distances


def squared_distances(X: Any, centers: np.ndarray, x_norms: np.ndarray | None = None, *,
                      n_threads: int = 1) -> np.ndarray:
    """All squared distances ``||x - c||²`` of the rows of a CSR X, (n, k), X's dtype,
    never negative (the compiled twin of :func:`squared_distances_reference`)."""
    from .compiled import kmeans_sparse  # numba is imported on first use only

    if x_norms is None:
        x_norms = squared_norms(X, n_threads=n_threads)
    x_norms = np.ascontiguousarray(x_norms, dtype=X.dtype)
    scaled_t, center_norms = scaled_centers(centers, X.dtype)
    out = np.empty((X.shape[0], centers.shape[0]), dtype=X.dtype)
    with threads(n_threads, _chunks(X.shape[0])):
        kmeans_sparse.squared_distances(X.data, X.indices, X.indptr, x_norms, scaled_t, center_norms,
                                        CHUNK_ROWS, out)
    return out


# --- the reference math -----------------------------------------------------------------------


def squared_distances_reference(X: Any, centers: np.ndarray, x_norms: np.ndarray | None = None) -> np.ndarray:
    """``||x||² - 2 x·c + ||c||²`` by scipy's sparse-dense product, float64 (n, k),
    never negative."""
    X = scipy.sparse.csr_matrix(X, dtype=np.float64)
    C = np.asarray(centers, dtype=np.float64)
    norms = squared_norms_reference(X) if x_norms is None else np.asarray(x_norms, dtype=np.float64)
    distances = norms[:, None] - 2.0 * np.asarray(X @ C.T) + np.einsum("ij,ij->i", C, C)
    return np.maximum(distances, 0.0)


def assign_reference(X: Any, centers: np.ndarray, x_norms: np.ndarray | None = None,
                     previous_labels: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Nearest centre of each row (ties to the lower index), the squared distance to
    it and, with ``previous_labels``, to the previous label's centre: the results of
    :func:`kmix.kernels.kmeans.assign` for sparse rows, in float64."""
    distances = squared_distances_reference(X, centers, x_norms)
    labels = np.argmin(distances, axis=1).astype(np.int32)
    rows = np.arange(distances.shape[0])
    previous = None if previous_labels is None else distances[rows, previous_labels]
    return labels, distances[rows, labels], previous


def block_statistics_reference(X: Any, sample_weight: np.ndarray, labels: np.ndarray,
                               min_distances: np.ndarray, n_clusters: int,
                               previous_labels: np.ndarray | None = None,
                               previous_distances: np.ndarray | None = None) -> KMeansStats:
    """:func:`kmix.kernels.kmeans.block_statistics` for sparse rows: the sums by a
    sparse (k x n) indicator product, the farthest rows (positive weight) densified."""
    X = scipy.sparse.csr_matrix(X, dtype=np.float64)
    n = X.shape[0]
    weight = np.asarray(sample_weight, dtype=np.float64)
    weight_sums = np.bincount(labels, weights=weight, minlength=n_clusters).astype(np.float64)
    indicator = scipy.sparse.csr_matrix((weight, (labels, np.arange(n))), shape=(n_clusters, n))
    sums = (indicator @ X).toarray()
    ssd = float(np.sum(weight * min_distances))
    if previous_labels is None:
        ssd_previous, n_changed = float("nan"), n
    else:
        ssd_previous = float(np.sum(weight * previous_distances))
        n_changed = int(np.count_nonzero(labels != previous_labels))
    top = farthest_rows(np.asarray(min_distances, dtype=np.float64), weight, n_clusters)
    return KMeansStats(weight_sums, sums, ssd, ssd_previous, n_changed,
                       np.asarray(min_distances, dtype=np.float64)[top], X[top].toarray(),
                       np.asarray(labels)[top].astype(np.int32), weight[top])


# --- k-means++ ------------------------------------------------------------------------------


def seeding_potentials(X: Any, x_norms: np.ndarray, sample_weight: np.ndarray, closest: np.ndarray,
                       candidates: np.ndarray, candidate_norms: np.ndarray, *,
                       n_threads: int = 1) -> np.ndarray:
    """``sum_i w_i min(closest_i, ||x_i - c_t||²)`` for each candidate row c_t (dense
    (t, d)) with squared norms ``candidate_norms``: (t,) float64, without a (t, n)
    temporary. ``sample_weight`` and ``closest`` (n,) float64."""
    from .compiled import kmeans_sparse  # numba is imported on first use only

    scaled_t, _ = scaled_centers(candidates, X.dtype)
    potentials = np.empty(candidates.shape[0])
    with threads(n_threads, _chunks(X.shape[0])):
        kmeans_sparse.seeding_potentials(X.data, X.indices, X.indptr, x_norms, sample_weight, closest,
                                         scaled_t, np.ascontiguousarray(candidate_norms, dtype=X.dtype),
                                         CHUNK_ROWS, potentials)
    return potentials


def seeding_update(X: Any, x_norms: np.ndarray, center: np.ndarray, center_norm: Any,
                   closest: np.ndarray, *, n_threads: int = 1) -> None:
    """closest_i = min(closest_i, ||x_i - c||²) for one new centre c (dense (d,)) with
    squared norm ``center_norm``. Written: closest (n,) float64."""
    from .compiled import kmeans_sparse  # numba is imported on first use only

    scaled = np.asarray(center, dtype=X.dtype) * X.dtype.type(-2)
    with threads(n_threads, _chunks(X.shape[0])):
        kmeans_sparse.seeding_update(X.data, X.indices, X.indptr, x_norms, scaled,
                                     X.dtype.type(center_norm), CHUNK_ROWS, closest)


def seeding_potentials_reference(X: Any, x_norms: np.ndarray, sample_weight: np.ndarray,
                                 closest: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The reference of :func:`seeding_potentials`, by a (n, t) distance matrix."""
    distances = squared_distances_reference(X, candidates, x_norms)
    return np.asarray(sample_weight, dtype=np.float64) @ np.minimum(distances, closest[:, None])


def seeding_update_reference(X: Any, x_norms: np.ndarray, center: np.ndarray,
                             closest: np.ndarray) -> np.ndarray:
    """The reference of :func:`seeding_update` (a new array)."""
    return np.minimum(closest, squared_distances_reference(X, center[None, :], x_norms)[:, 0])
