"""k-means kernels: nearest-centre assignment, per-block statistics, centre update.

Two implementations of one pass give the same statistics: :func:`assign` with
:func:`block_statistics` (numpy, the reference: an (n, k) distance matrix per
block) and :func:`lloyd_statistics` (compiled with numba, fused, parallel: what the
estimators run). Tests hold the second to the first.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse

__all__ = [
    "KMeansStats",
    "squared_norms",
    "assign",
    "block_statistics",
    "merge_statistics",
    "update_centers",
    "squared_distances",
    "lloyd_statistics",
    "farthest_rows",
    "centered",
    "padded_centers",
    "fused_tile_rows",
    "chunk_rows",
    "uses_blas",
    "bound_drops",
    "center_neighbours",
    "bounded_statistics",
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
    distances = squared_distances(X, centers, x_norms, center_norms)
    labels = np.argmin(distances, axis=1).astype(np.int32)
    rows = np.arange(X.shape[0])
    min_distances = distances[rows, labels]
    previous = None if previous_labels is None else distances[rows, previous_labels]
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


# --- the fast path: one compiled pass per iteration ----------------------------------

# Up to this many features the x·c products are computed by the compiled loop; above
# it by a BLAS product per chunk (a GEMM with a thin inner dimension is slow).
FUSED_MAX_FEATURES = 32
# Rows per chunk of the compiled pass: the unit of parallel work and of partial
# statistics. A function of (k, d, dtype) only, never of the thread count, so the
# order in which partial sums are added (and so every rounding) is always the same.
# Each chunk's partial sums (k x d) are zeroed and merged once per pass: with 1024
# rows that was a few per cent of a pass with bounds on 200,000 x 16, k = 64 (20
# iterations: 4.55 vs 4.25 ms in float32 with 2048 rows; 4096 was no faster again
# and splits small arrays unevenly between threads).
FUSED_CHUNK_ROWS = 2048
# For the BLAS path: rows such that one chunk's (k, rows) product takes about 4 MiB (in
# L3 cache): on 100,000 x 128, k = 256 a pass measured faster than with 1 MiB chunks.
_PRODUCT_BYTES = 4 * 2**20
# Rows per call into the compiled code: bounds the partial sums (chunks x k x d).
_BLOCK_BYTES = 16 * 2**20


def chunk_rows(n_clusters: int, n_features: int, itemsize: int) -> int:
    """Rows per chunk of :func:`lloyd_statistics` (a function of the shapes only)."""
    if n_features <= FUSED_MAX_FEATURES:
        return FUSED_CHUNK_ROWS
    rows = _PRODUCT_BYTES // (n_clusters * itemsize)
    return int(min(4096, max(64, rows // 64 * 64)))


def fused_tile_rows(padded_features: int, itemsize: int) -> int:
    """Rows per tile of the compiled loop: the tile's transpose takes about 16 KiB,
    so it stays in L1 cache with the partial values of four centres."""
    return int(min(512, max(64, 16384 // (padded_features * itemsize) // 16 * 16)))


def padded_centers(scaled: np.ndarray, center_norms: np.ndarray,
                   narrow: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``scaled.T`` and the centre norms as the compiled loops read them: as they are
    for 1 to 3 features if ``narrow`` (the pass has its own loop for those);
    otherwise zero-padded to multiples of four features and centres, a padded
    centre with an infinite norm (never the nearest)."""
    k, d = scaled.shape
    if narrow and d <= 3:
        return np.ascontiguousarray(scaled.T), center_norms
    d4, k4 = -(-d // 4) * 4, -(-k // 4) * 4
    scaled_t = np.zeros((d4, k4), dtype=scaled.dtype)
    scaled_t[:d, :k] = scaled.T
    norms = np.full(k4, np.inf, dtype=center_norms.dtype)
    norms[:k] = center_norms
    return scaled_t, norms


def uses_blas(n_features: int) -> bool:
    """Whether :func:`lloyd_statistics` calls BLAS (from every thread at once: the
    caller should limit BLAS to one thread, as the numpy backend does)."""
    return n_features > FUSED_MAX_FEATURES


def _pass_inputs(X: np.ndarray, sample_weight: np.ndarray, centers: np.ndarray,
                 x_norms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The arrays as the compiled passes read them: C-contiguous, float32 or float64
    (X's type; any other becomes float64), no copy where they already are."""
    X = np.ascontiguousarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    dtype = X.dtype
    return (X, np.ascontiguousarray(sample_weight, dtype=dtype),
            np.ascontiguousarray(centers, dtype=dtype), np.ascontiguousarray(x_norms, dtype=dtype))


def lloyd_statistics(
    X: np.ndarray,
    sample_weight: np.ndarray,
    centers: np.ndarray,
    x_norms: np.ndarray,
    previous_labels: np.ndarray | None = None,
    unit_weight: bool = False,
    keep_distances: bool = True,
) -> tuple[np.ndarray, np.ndarray | None, KMeansStats]:
    """Assignment and statistics of X in one compiled pass.

    The results of :func:`assign` followed by :func:`block_statistics` (the same
    labels; sums and SSDs up to rounding), without an (n, k) distance matrix: the
    rows go through in cache-sized chunks, in parallel over numba's threads, and
    each chunk's nearest centres and sums are computed while it is in cache.

    The farthest points are found only when a cluster is left empty, the one case
    in which :func:`update_centers` reads them (otherwise those fields have no
    rows). That keeps the exact result when blocks merge: a cluster empty in the
    merged statistics is empty in every block, so every block then has its list.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64
    sample_weight : ndarray (n,)
    centers : ndarray (k, d)
    x_norms : ndarray (n,), squared norms of the rows of X
    previous_labels : ndarray (n,) of int, optional
        When given, the statistics include the SSD of these labels with respect to
        ``centers`` and the number of changed labels.
    unit_weight : bool
        The caller vouches that every weight is 1: the pass then does not read
        ``sample_weight`` (the BLAS path reads it anyway).
    keep_distances : bool
        Return each row's squared distance to its centre. Without them (Lloyd's
        loop needs only the statistics) the compiled loop writes n values less per
        pass; they are then computed only if a cluster is empty.

    Returns
    -------
    labels : ndarray (n,) int32
    min_distances : ndarray (n,), X's dtype, or None if not ``keep_distances``
    stats : KMeansStats
    """
    from . import _compiled  # numba is imported on first use only

    X, sample_weight, centers, x_norms = _pass_inputs(X, sample_weight, centers, x_norms)
    dtype = X.dtype
    n, d = X.shape
    k = centers.shape[0]
    center_norms = squared_norms(centers)
    has_previous = previous_labels is not None
    previous = (np.ascontiguousarray(previous_labels, dtype=np.int32) if has_previous
                else np.zeros(0, dtype=np.int32))
    labels = np.empty(n, dtype=np.int32)
    blas = uses_blas(d)
    store = keep_distances or blas
    min_distances = np.empty(n if store else 0, dtype=dtype)
    weight_sums = np.zeros(k)
    sums = np.zeros((k, d))
    scalars = np.zeros(3)  # ssd, ssd_previous, n_changed
    rows = chunk_rows(k, d, dtype.itemsize)
    step = rows * int(min(4096, max(4, _BLOCK_BYTES // max(1, 8 * k * d))))
    # -2C once, so the products need no scaling (a power of two: exact).
    scaled = centers * dtype.type(-2)
    with _compiled.threads_for(-(-n // rows)):
        if blas:
            for row0 in range(0, n, step):
                _compiled.gemm_pass(scaled, row0, min(step, n - row0), X, sample_weight, center_norms,
                                    x_norms, previous, has_previous, rows, labels, min_distances,
                                    weight_sums, sums, scalars)
        else:
            scaled_t, padded_norms = padded_centers(scaled, center_norms)
            tile = fused_tile_rows(scaled_t.shape[0], dtype.itemsize)
            for row0 in range(0, n, step):
                _compiled.fused_pass(scaled_t, row0, min(step, n - row0), X, sample_weight,
                                     unit_weight, padded_norms, k, previous, has_previous,
                                     rows, tile, labels, store, min_distances, weight_sums,
                                     sums, scalars)
    if np.any(weight_sums <= 0):
        if not store:  # rare: a cluster is empty; the distances once more
            min_distances = lloyd_statistics(X, sample_weight, centers, x_norms)[1]
        farthest = farthest_rows(min_distances, sample_weight, k)
    else:
        farthest = np.empty(0, dtype=np.intp)
    stats = KMeansStats(
        weight_sums,
        sums,
        float(scalars[0]),
        float(scalars[1]) if has_previous else float("nan"),
        int(scalars[2]) if has_previous else n,
        min_distances[farthest].astype(np.float64),
        X[farthest].astype(np.float64),
    )
    return labels, (min_distances if keep_distances else None), stats


# --- the bounded pass: Lloyd's iteration with Hamerly's bounds ------------------------


def bound_drops(old_centers: np.ndarray, new_centers: np.ndarray) -> np.ndarray:
    """How far the lower bounds of each cluster's rows fall when the centres move.

    A row's bound is on its distance to every centre but its own, so it falls by the
    largest movement of any other centre: the largest movement overall, or the
    second largest for the cluster that moved most. Rounded up (a bound must stay
    below the exact distance).

    Returns
    -------
    drops : ndarray (k,) float64
    """
    movement = np.sqrt(np.sum((new_centers.astype(np.float64) - old_centers.astype(np.float64)) ** 2,
                              axis=1)) * (1.0 + 1e-12)
    k = movement.shape[0]
    if k == 1:
        return np.zeros(1)
    first = int(np.argmax(movement))
    drops = np.full(k, movement[first])
    drops[first] = np.max(np.delete(movement, first))
    return drops


def center_neighbours(centers: np.ndarray, listed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each centre's ``listed`` nearest other centres, nearest first.

    By the triangle inequality a row within half the first distance of its own
    centre is nearer to that centre than to any other, and no centre farther from
    it than twice the row's distance can be nearer. Computed in float64 by the
    expanded form, block by block (never k x k x d), less the form's rounding error.

    Returns
    -------
    order : ndarray (k, m) int32, m = min(listed, k - 1)
    distances : ndarray (k, m) float64, rounded down
    """
    from . import _compiled_bounded  # numba is imported on first use only

    C = centers.astype(np.float64)
    k, d = C.shape
    listed = max(0, min(listed, k - 1))
    norms = np.einsum("ij,ij->i", C, C)
    order = np.empty((k, listed), dtype=np.int32)
    distances = np.empty((k, listed))
    # The expanded form's rounding, bounded above, is taken off.
    error_scale = 4.0 * (d + 2) * float(np.finfo(np.float64).eps)
    step = max(1, 2**22 // max(k, 1))
    if listed > 0:
        for start in range(0, k, step):
            stop = min(k, start + step)
            _compiled_bounded.nearest_listed(C[start:stop] @ C.T, norms, start, error_scale,
                                             order[start:stop], distances[start:stop])
    return order, distances * (1.0 - 1e-12)


def neighbour_list_length(n_clusters: int) -> int:
    """How many of its centre's neighbours a row may be measured against before a
    full scan is the cheaper way (a full scan runs at BLAS speed). On 100,000 x
    128, k = 256, lists of 8 settled as many rows as lists of 32 or 64 (the rows
    they miss have dozens of centres within reach) and cost less to make."""
    return int(min(64, max(4, n_clusters // 32)))


def bounded_statistics(
    X: np.ndarray,
    sample_weight: np.ndarray,
    centers: np.ndarray,
    x_norms: np.ndarray,
    previous_labels: np.ndarray | None,
    lower: np.ndarray,
    drops: np.ndarray | None = None,
    unit_weight: bool = False,
) -> tuple[np.ndarray, KMeansStats, int]:
    """The assignment pass of :func:`lloyd_statistics`, skipping the rows whose
    nearest centre provably did not change (Hamerly's bounds).

    With ``previous_labels`` None every row is scanned and ``lower`` is set. Then,
    given the labels the last call returned, its ``lower`` (written by it) and
    ``drops = bound_drops(last centres, centers)``, a row keeps its label when its
    bound, or half the distance from its centre to the nearest other, exceeds its
    exact distance to its own centre by more than the rounding of the plain pass's
    distances: the labels are then those :func:`lloyd_statistics` gives. Every other
    row is scanned in full by the plain pass's own loops (above 32 features only if
    measuring it against its centre's nearest neighbours, the others provably
    farther, leaves a doubt). The sums are added in the plain pass's order; SSDs
    agree with it up to rounding (a kept row's distance is computed directly,
    ``sum((x - c)²)``, not by the expanded form). Above 32
    features the scanned rows' products come from BLAS calls on the gathered rows,
    shapes other than the plain pass's; a BLAS that rounded a product differently
    for another shape could then break a near tie (distances equal to within their
    rounding) the other way, in a label or in the choice of the farthest point
    that re-seeds an empty cluster. On centred data such ties are exact ties of
    the data; the tests compare labels and centres exactly on both paths.

    Parameters
    ----------
    X, sample_weight, centers, x_norms : as in :func:`lloyd_statistics`
    previous_labels : ndarray (n,) int32 or None
    lower : ndarray (n,) float64, written: lower bounds on each row's distance to
        every centre but its own
    drops : ndarray (k,) float64, required with ``previous_labels``
    unit_weight : bool, as in :func:`lloyd_statistics`

    Returns
    -------
    labels : ndarray (n,) int32
    stats : KMeansStats
    rescanned : int, the rows whose distances to all centres were computed
    """
    from . import _compiled, _compiled_bounded  # numba is imported on first use only

    X, sample_weight, centers, x_norms = _pass_inputs(X, sample_weight, centers, x_norms)
    dtype = X.dtype
    n, d = X.shape
    k = centers.shape[0]
    center_norms = squared_norms(centers)
    initial = previous_labels is None
    previous = (np.zeros(0, dtype=np.int32) if initial
                else np.ascontiguousarray(previous_labels, dtype=np.int32))
    if drops is None:
        if not initial:
            raise ValueError("drops are required with previous_labels")
        drops = np.zeros(k)
    # With BLAS products, rows the bounds cannot keep try their centre's nearest
    # neighbours first (on 200,000 x 16, k = 64 the compiled loop's full scan of
    # such rows was faster than measuring them one neighbour at a time).
    listed = neighbour_list_length(k) if uses_blas(d) else 1
    order, neighbour_distances = center_neighbours(centers, listed)
    separation = neighbour_distances[:, 0] if k > 1 else np.full(1, np.inf)
    if not uses_blas(d):
        order, neighbour_distances = order[:, :0], neighbour_distances[:, :0]
    upward = 1.0 + (d + 2) * float(np.finfo(dtype).eps)
    # Rounding of the plain pass's expanded distances, per row: at most a few
    # (d + 2)·eps·(||x|| + ||c||)² <= 2(d + 2)·eps·(||x||² + ||c||²); four times that.
    slack_scale = 8.0 * (d + 4) * float(np.finfo(dtype).eps)
    max_center_norm = float(np.max(center_norms.astype(np.float64)))
    labels = np.empty(n, dtype=np.int32)
    min_distances = np.empty(n, dtype=dtype)
    weight_sums = np.zeros(k)
    sums = np.zeros((k, d))
    scalars = np.zeros(3)
    rescanned = np.zeros(1, dtype=np.int64)
    rows = chunk_rows(k, d, dtype.itemsize)
    step = rows * int(min(4096, max(4, _BLOCK_BYTES // max(1, 8 * k * d))))
    scaled = centers * dtype.type(-2)
    with _compiled.threads_for(-(-n // rows)):
        if uses_blas(d):
            for row0 in range(0, n, step):
                _compiled_bounded.bounded_gemm_pass(
                    scaled, centers, row0, min(step, n - row0), X, sample_weight, center_norms,
                    x_norms, previous, initial, lower, drops, separation, slack_scale,
                    max_center_norm, order, neighbour_distances, upward, rows, labels,
                    min_distances, weight_sums, sums, scalars, rescanned)
        else:
            scaled_t, padded_norms = padded_centers(scaled, center_norms, narrow=False)
            tile = fused_tile_rows(scaled_t.shape[0], dtype.itemsize)
            for row0 in range(0, n, step):
                _compiled_bounded.bounded_fused_pass(
                    scaled_t, centers, row0, min(step, n - row0), X, sample_weight, unit_weight,
                    padded_norms, k, x_norms, previous, initial, lower, drops, separation,
                    slack_scale, max_center_norm, order, neighbour_distances, upward, rows,
                    tile, labels, min_distances,
                    weight_sums, sums, scalars, rescanned)
    if np.any(weight_sums <= 0):  # a cluster is empty: its re-seeding needs the farthest rows
        slack = slack_scale * (x_norms.astype(np.float64) + max_center_norm)
        far_distances, far_points = _farthest_as_plain_pass(X, sample_weight, centers, x_norms,
                                                            min_distances, slack, k)
    else:
        far_distances, far_points = np.empty(0), np.empty((0, d))
    stats = KMeansStats(
        weight_sums, sums, float(scalars[0]),
        float("nan") if initial else float(scalars[1]),
        n if initial else int(scalars[2]),
        far_distances, far_points,
    )
    return labels, stats, int(rescanned[0])


def _farthest_as_plain_pass(X: np.ndarray, sample_weight: np.ndarray, centers: np.ndarray,
                            x_norms: np.ndarray, distances: np.ndarray, slack: np.ndarray,
                            m: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``m`` farthest rows (positive weight) as :func:`lloyd_statistics` ranks
    them, with its distances, for re-seeding empty clusters.

    The bounded pass's distances of kept rows are measured directly and differ from
    the plain pass's by up to ``slack`` (per row); on a near tie the two could rank
    rows differently. So every row that could be among the m farthest by the plain
    pass's distances is measured again by it (a handful of rows), and those are
    ranked: largest first, the earlier row first among equal distances.
    """
    positive = np.flatnonzero(sample_weight > 0)
    m = min(m, len(positive))
    if m == 0:
        return np.empty(0), np.empty((0, X.shape[1]))
    estimate = distances[positive].astype(np.float64)
    least = estimate - slack[positive]
    # The m-th largest plain distance is at least the m-th largest of these.
    threshold = np.partition(least, len(least) - m)[len(least) - m]
    candidates = positive[estimate + slack[positive] >= threshold]
    plain = lloyd_statistics(X[candidates], sample_weight[candidates], centers, x_norms[candidates])[1]
    order = np.lexsort((candidates, -plain.astype(np.float64)))[:m]
    return plain[order].astype(np.float64), X[candidates[order]].astype(np.float64)


def centered(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """X minus its column means, in a new array, with what the fit needs besides.

    Distances through ``||x||² - 2x·c + ||c||²`` lose less to cancellation on
    centred data. Two compiled passes on all threads (column sums in float64, then
    the difference and the rows' squared norms), in place of numpy's mean, subtract,
    squared norms and variance, which run on one thread and each go over X.

    Returns
    -------
    Xc : ndarray (n, d), X's dtype
    offset : ndarray (d,), X's dtype: the column means, so that X = Xc + offset
    x_norms : ndarray (n,), X's dtype: squared norms of the rows of Xc
    mean_variance : float, the variance of X averaged over the features
    """
    from . import _compiled, _compiled_prep  # numba is imported on first use only

    X = np.ascontiguousarray(X)
    n, d = X.shape
    rows = max(1024, -(-(2**18) // max(d, 1)))  # about 2 MiB of float64 per chunk
    sums = np.empty(d)
    Xc = np.empty_like(X)
    x_norms = np.empty(n, dtype=X.dtype)
    with _compiled.threads_for(-(-n // rows)):
        _compiled_prep.column_sums(X, rows, sums)
        offset = (sums / n).astype(X.dtype)
        total = _compiled_prep.center_rows(X, offset, rows, Xc, x_norms)
    return Xc, offset, x_norms, total / max(n * d, 1)


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
