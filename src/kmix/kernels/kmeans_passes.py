"""k-means passes: assignment and statistics of a whole X in one compiled pass.

:func:`lloyd_statistics` gives the results of :func:`kmix.kernels.kmeans.assign`
followed by :func:`kmix.kernels.kmeans.block_statistics` (the reference) without an
(n, k) distance matrix: the rows go through in cache-sized chunks, in parallel,
and each chunk's nearest centres and sums are computed while it is in cache.
:func:`bounded_statistics` is the same pass with Hamerly's bounds, skipping the
rows whose nearest centre provably did not change (X centred first by
:func:`kmix.kernels.moments.centered`). The tests hold every pass to the reference, which the protocol kernels
below run instead on small data (``block.compiled`` False).

Each pass runs its compiled code on ``n_threads`` threads (one by default; the
backends pass their count); its result does not depend on that number. The
compiled loops live in :mod:`kmix.kernels.compiled` and load numba on first use.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import is_sparse
from .compiled import threads
from .kmeans import (KMeansStats, farthest_rows, merge_statistics, nearest_centers, reference_pass,
                     squared_distances, squared_norms)
from .kmeans_bounds import center_neighbours, movers, neighbour_list_length

__all__ = [
    "FUSED_MAX_FEATURES", "FUSED_CHUNK_ROWS",
    "chunk_rows",
    "direct_separation",
    "fused_tile_rows",
    "pass_steps",
    "padded_centers",
    "plain_pass_width",
    "uses_blas",
    "lloyd_statistics",
    "bounded_statistics",
    "empty_statistics",
    "lloyd_block",
    "bounded_block",
    "merge_counted",
    "predict_block",
    "min_distances_block",
    "transform_block",
]

# Up to this many features the x·c products are computed by the compiled loop; above
# it as one product of a chunk's rows with every centre (compiled.dots.chunk_products,
# in the plain pass and in the bounded pass's scans).
FUSED_MAX_FEATURES = 32
# Rows per chunk of the compiled pass: the unit of parallel work and of partial
# statistics. A function of (k, d, dtype) only, never of the thread count, so the
# order in which partial sums are added (and so every rounding) is always the same.
# Each chunk's partial sums (k x d) are zeroed and merged once per pass, a cost
# that fewer, longer chunks spread over more rows; much longer chunks would split
# small arrays unevenly between threads.
FUSED_CHUNK_ROWS = 2048
# For many features: rows such that one chunk's (k, rows) product takes about 4 MiB,
# small enough to stay in L3 cache while its argmin and sums are taken, large
# enough that a chunk's set-up is small beside its product.
_PRODUCT_BYTES = 4 * 2**20
# Rows per call into the compiled code: bounds the partial sums (chunks x k x d).
_BLOCK_BYTES = 16 * 2**20
# Centres' separations measured directly up to this many k·k·d operations;
# beyond, BLAS's Gram matrix is the cheaper way.
_DIRECT_SEPARATION_WORK = 2**20


def chunk_rows(n_clusters: int, n_features: int, itemsize: int) -> int:
    """Rows per chunk of :func:`lloyd_statistics` (a function of the shapes only)."""
    if n_features <= FUSED_MAX_FEATURES:
        return FUSED_CHUNK_ROWS
    rows = _PRODUCT_BYTES // (n_clusters * itemsize)
    return int(min(4096, max(64, rows // 64 * 64)))


def pass_steps(n_clusters: int, n_features: int, itemsize: int) -> tuple[int, int]:
    """Rows per chunk and rows per call of :func:`lloyd_statistics`'s compiled pass
    (the call's partial sums, chunks x k x d, stay under 16 MiB)."""
    rows = chunk_rows(n_clusters, n_features, itemsize)
    return rows, rows * int(min(4096, max(4, _BLOCK_BYTES // max(1, 8 * n_clusters * n_features))))


def fused_tile_rows(padded_features: int, itemsize: int) -> int:
    """Rows per tile of the compiled loop: the tile's transpose takes about 16 KiB,
    so it stays in L1 cache with the partial values of four centres."""
    return int(min(512, max(64, 16384 // (padded_features * itemsize) // 16 * 16)))


def plain_pass_width(n_features: int) -> int:
    """Rows of the plain pass's transposed tiles: the features themselves for 1 to 3
    (a loop of their own), else padded with zeros to the next width with a
    written-out kernel (8 or 16, :mod:`.compiled.kmeans_unrolled`), or to a
    multiple of four above."""
    if n_features <= 3:
        return n_features
    if n_features <= 8:
        return 8
    if n_features <= 16:
        return 16
    return -(-n_features // 4) * 4


def padded_centers(scaled: np.ndarray, center_norms: np.ndarray, narrow: bool = True,
                   features: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``scaled.T`` and the centre norms as the compiled loops read them: as they are
    for 1 to 3 features if ``narrow`` (the pass has its own loop for those);
    otherwise zero-padded to ``features`` (by default the next multiple of four)
    features and a multiple of four centres, a padded centre with an infinite norm
    (never the nearest)."""
    k, d = scaled.shape
    if narrow and d <= 3:
        return np.ascontiguousarray(scaled.T), center_norms
    d4, k4 = -(-d // 4) * 4 if features is None else features, -(-k // 4) * 4
    scaled_t = np.zeros((d4, k4), dtype=scaled.dtype)
    scaled_t[:d, :k] = scaled.T
    norms = np.full(k4, np.inf, dtype=center_norms.dtype)
    norms[:k] = center_norms
    return scaled_t, norms


def _padded_columns(scaled: np.ndarray) -> np.ndarray:
    """``scaled`` (k, d) transposed, with zero columns to a multiple of the
    products' tiles (:func:`kmix.kernels.compiled.dots.transposed_products`)."""
    from .compiled.dots import TRANSPOSED_COLUMNS

    k, d = scaled.shape
    padded = np.zeros((d, -(-k // TRANSPOSED_COLUMNS) * TRANSPOSED_COLUMNS), dtype=scaled.dtype)
    padded[:, :k] = scaled.T
    return padded


def direct_separation(n_clusters: int, n_features: int) -> bool:
    """Whether the bounded pass with few features measures the distance from each
    centre to its nearest other directly (``compiled.kmeans_settle.center_separation``,
    k·k·d operations), as the compiled bounded loop does, rather than from BLAS's
    Gram matrix (:func:`kmeans_bounds.center_neighbours`): for few centres."""
    return n_clusters * n_clusters * n_features <= _DIRECT_SEPARATION_WORK


def uses_blas(n_features: int) -> bool:
    """Whether kernels over blocks of rows with this many features may call BLAS
    from every thread at once (the passes' products without AVX-512, numpy's in
    ``transform_block``): the caller should limit BLAS to one thread, as the numpy
    backend does."""
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
    *,
    n_threads: int = 1,
) -> tuple[np.ndarray, np.ndarray | None, KMeansStats]:
    """Assignment and statistics of X in one compiled pass.

    The results of :func:`kmix.kernels.kmeans.assign` followed by
    :func:`kmix.kernels.kmeans.block_statistics` (the same labels; sums and SSDs up
    to rounding), without an (n, k) distance matrix: the rows go through in
    cache-sized chunks, in parallel, and each chunk's nearest centres and sums are
    computed while it is in cache.

    The farthest points (with their labels and weights) are found only when a
    cluster is left empty, the one case in which
    :func:`kmix.kernels.kmeans.update_centers` reads them (otherwise those fields
    have no rows). That keeps the exact result when blocks merge: a
    cluster empty in the merged statistics is empty in every block, so every block
    then has its list.

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
        ``sample_weight`` (the path for many features reads it anyway).
    keep_distances : bool
        Return each row's squared distance to its centre. Without them (Lloyd's
        loop needs only the statistics) the compiled loop writes n values less per
        pass; they are then computed only if a cluster is empty.
    n_threads : int
        Threads for the compiled pass (at most one per chunk of rows). The result
        does not depend on it, bit for bit.

    Returns
    -------
    labels : ndarray (n,) int32
    min_distances : ndarray (n,), X's dtype, or None if not ``keep_distances``
    stats : KMeansStats
    """
    from .compiled import kmeans_lloyd  # numba is imported on first use only

    X, sample_weight, centers, x_norms = _pass_inputs(X, sample_weight, centers, x_norms)
    dtype = X.dtype
    n, d = X.shape
    k = centers.shape[0]
    # The centres' norms as the compiled loop of kernels.kmeans_loop takes them.
    center_norms = kmeans_lloyd.center_norms(centers)
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
    rows, step = pass_steps(k, d, dtype.itemsize)
    # -2C once, so the products need no scaling (a power of two: exact).
    scaled = centers * dtype.type(-2)
    with threads(n_threads, -(-n // rows)):
        if blas:
            scaled = _padded_columns(scaled)
            for row0 in range(0, n, step):
                kmeans_lloyd.gemm_pass(scaled, row0, min(step, n - row0), X, sample_weight,
                                       center_norms, x_norms, previous, has_previous, rows, labels,
                                       min_distances, weight_sums, sums, scalars)
        else:
            scaled_t, padded_norms = padded_centers(scaled, center_norms, features=plain_pass_width(d))
            tile = fused_tile_rows(scaled_t.shape[0], dtype.itemsize)
            nearest = kmeans_lloyd.nearest_argument(scaled_t.shape[0], dtype)
            for row0 in range(0, n, step):
                kmeans_lloyd.fused_pass(nearest, scaled_t, row0, min(step, n - row0), X,
                                        sample_weight, unit_weight, padded_norms, k, previous,
                                        has_previous, rows, tile, labels, store, min_distances,
                                        weight_sums, sums, scalars)
    if np.any(weight_sums <= 0):
        if not store:  # rare: a cluster is empty; the distances once more
            min_distances = lloyd_statistics(X, sample_weight, centers, x_norms,
                                             n_threads=n_threads)[1]
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
        labels[farthest],
        # The weights as the pass added them (in X's dtype), so that a relocated
        # point leaves its old cluster's sums with what it brought to them.
        sample_weight[farthest].astype(np.float64),
    )
    return labels, (min_distances if keep_distances else None), stats


# --- the bounded pass: Lloyd's iteration with Hamerly's bounds ------------------------


def bounded_statistics(
    X: np.ndarray,
    sample_weight: np.ndarray,
    centers: np.ndarray,
    x_norms: np.ndarray,
    previous_labels: np.ndarray | None,
    lower: np.ndarray,
    drops: np.ndarray | None = None,
    unit_weight: bool = False,
    *,
    movement: np.ndarray | None = None,
    n_threads: int = 1,
) -> tuple[np.ndarray, KMeansStats, int]:
    """The assignment pass of :func:`lloyd_statistics`, skipping the rows whose
    nearest centre provably did not change (Hamerly's bounds).

    With ``previous_labels`` None every row is scanned and ``lower`` is set. Then,
    given the labels the last call returned, its ``lower`` (written by it) and
    ``drops = kmeans_bounds.bound_drops(last centres, centers)``, a row keeps its label when its
    bound, or half the distance from its centre to the nearest other, exceeds its
    exact distance to its own centre by more than the rounding of the plain pass's
    distances: the labels are then those :func:`lloyd_statistics` gives. Every other
    row is scanned in full by the plain pass's own loops (above 32 features only if
    measuring it against its centre's nearest neighbours, the others provably
    farther, leaves a doubt); on float64 data by a float32 scan first, which settles
    a row only when its two nearest centres are further apart than float32's
    rounding can explain, and leaves the others to float64. The sums are added in
    the plain pass's order; SSDs agree with it up to rounding (a kept row's
    distance, and a row's the float32 scan settled, is computed directly,
    ``sum((x - c)²)``, not by the expanded form). Above 32 features the scanned
    rows' products are made as the plain pass makes them
    (:func:`kmix.kernels.compiled.dots.chunk_products`: with AVX-512 the same
    chain of multiply-adds for a row and a centre, whatever rows are gathered, so
    both passes break a near tie alike; else BLAS, whose rounding may depend on
    the shape, so a near tie, an exact tie of centred data, could go the other
    way); the tests compare labels and centres exactly on both paths.

    Parameters
    ----------
    X, sample_weight, centers, x_norms : as in :func:`lloyd_statistics`
    previous_labels : ndarray (n,) int32 or None
    lower : ndarray (n,) float64, written: lower bounds on each row's distance to
        every centre but its own
    drops : ndarray (k,) float64, required with ``previous_labels``
    unit_weight, n_threads : as in :func:`lloyd_statistics`
    movement : ndarray (k,) float64, optional
        ``kmeans_bounds.center_movement`` of the same centres: with many features, the
        centres that moved most are then measured directly (``kmeans_bounds.movers``) for a
        row whose bound fails, before a full scan.

    Returns
    -------
    labels : ndarray (n,) int32
    stats : KMeansStats
    rescanned : int, the rows whose distances to all centres were computed
    """
    from .compiled import kmeans_bounded, kmeans_lloyd, kmeans_settle  # numba is imported on first use only

    X, sample_weight, centers, x_norms = _pass_inputs(X, sample_weight, centers, x_norms)
    dtype = X.dtype
    n, d = X.shape
    k = centers.shape[0]
    # The centres' norms as the plain pass takes them (so the same labels).
    center_norms = kmeans_lloyd.center_norms(centers)
    initial = previous_labels is None
    previous = (np.zeros(0, dtype=np.int32) if initial
                else np.ascontiguousarray(previous_labels, dtype=np.int32))
    if drops is None:
        if not initial:
            raise ValueError("drops are required with previous_labels")
        drops = np.zeros(k)
    # With many features, rows the bounds cannot keep try their centre's nearest
    # neighbours first. With few features the compiled loop scans such rows in full,
    # a tile at a time in SIMD lanes: cheaper than measuring neighbours row by row.
    if not uses_blas(d) and direct_separation(k, d):
        separation = kmeans_settle.center_separation(centers)
        order, neighbour_distances = np.zeros((k, 0), dtype=np.int32), np.zeros((k, 0))
    else:
        listed = neighbour_list_length(k) if uses_blas(d) else 1
        order, neighbour_distances = center_neighbours(centers, listed)
        # Contiguous for every k (a column is typed apart: a second compiled pass).
        separation = (np.ascontiguousarray(neighbour_distances[:, 0]) if k > 1
                      else np.full(1, np.inf))
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
    rows, step = pass_steps(k, d, dtype.itemsize)
    scaled = centers * dtype.type(-2)
    # A float64 pass scans in float32 first (twice the products a second), then in
    # float64 only the rows that leaves in doubt: the same labels.
    single = dtype == np.float64 and max_center_norm < kmeans_bounded.SINGLE_NORM_LIMIT
    single_slack = 8.0 * (d + 4) * float(np.finfo(np.float32).eps)
    with threads(n_threads, -(-n // rows)):
        if uses_blas(d):
            measured, rest_drop = (movers(movement, float(np.median(separation)))
                                   if movement is not None and not initial
                                   else (np.zeros(0, dtype=np.int32), drops))
            scaled_single = (None if dtype != np.float64
                             else _padded_columns(scaled.astype(np.float32)) if single
                             else np.zeros((d, 0), dtype=np.float32))
            scaled_t = _padded_columns(scaled)
            for row0 in range(0, n, step):
                kmeans_bounded.bounded_gemm_pass(
                    scaled_t, scaled_single, single_slack, centers, row0, min(step, n - row0), X,
                    sample_weight, center_norms, x_norms, previous, initial, lower, drops,
                    measured, rest_drop, separation, slack_scale, max_center_norm, order,
                    neighbour_distances, upward, rows, labels, min_distances, weight_sums, sums,
                    scalars, rescanned)
        else:
            # Padded as the plain pass pads: 4 to 16 features have a written-out kernel.
            width = max(4, plain_pass_width(d))
            scaled_t, padded_norms = padded_centers(scaled, center_norms, narrow=False, features=width)
            tile = fused_tile_rows(width, dtype.itemsize)
            nearest_two = kmeans_bounded.nearest_two_argument(width, dtype, written_out=not single)
            nearest_single = kmeans_bounded.nearest_two_argument(width, np.float32)
            scaled_single_t = (None if dtype != np.float64
                               else scaled_t.astype(np.float32) if single
                               else np.zeros((width, 0), dtype=np.float32))
            single_norms = (padded_norms.astype(np.float32) if single
                            else np.zeros(0, dtype=np.float32))
            for row0 in range(0, n, step):
                kmeans_bounded.bounded_fused_pass(
                    nearest_two, scaled_t, nearest_single, scaled_single_t, single_norms,
                    single_slack, centers, row0, min(step, n - row0), X, sample_weight,
                    unit_weight, padded_norms, k, x_norms, previous, initial, lower, drops,
                    separation, slack_scale, max_center_norm, order, neighbour_distances, upward,
                    rows, tile, labels, min_distances, weight_sums, sums, scalars, rescanned)
    if np.any(weight_sums <= 0):  # a cluster is empty: its re-seeding needs the farthest rows
        slack = slack_scale * (x_norms.astype(np.float64) + max_center_norm)
        farthest, far_distances = _farthest_as_plain_pass(X, sample_weight, centers, x_norms,
                                                          min_distances, slack, k,
                                                          n_threads=n_threads)
    else:
        farthest, far_distances = np.empty(0, dtype=np.intp), np.empty(0)
    stats = KMeansStats(
        weight_sums, sums, float(scalars[0]),
        float("nan") if initial else float(scalars[1]),
        n if initial else int(scalars[2]),
        far_distances, X[farthest].astype(np.float64), labels[farthest],
        sample_weight[farthest].astype(np.float64),
    )
    return labels, stats, int(rescanned[0])


def _farthest_as_plain_pass(X: np.ndarray, sample_weight: np.ndarray, centers: np.ndarray,
                            x_norms: np.ndarray, distances: np.ndarray, slack: np.ndarray,
                            m: int, *, n_threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The indices of the ``m`` farthest rows (positive weight) as
    :func:`lloyd_statistics` ranks them, and its distances (float64), for re-seeding
    empty clusters.

    The bounded pass's distances of kept rows are measured directly and differ from
    the plain pass's by up to ``slack`` (per row); on a near tie the two could rank
    rows differently. So every row that could be among the m farthest by the plain
    pass's distances is measured again by it (a handful of rows), and those are
    ranked: largest first, the earlier row first among equal distances.
    """
    positive = np.flatnonzero(sample_weight > 0)
    m = min(m, len(positive))
    if m == 0:
        return np.empty(0, dtype=np.intp), np.empty(0)
    estimate = distances[positive].astype(np.float64)
    least = estimate - slack[positive]
    # The m-th largest plain distance is at least the m-th largest of these.
    threshold = np.partition(least, len(least) - m)[len(least) - m]
    candidates = positive[estimate + slack[positive] >= threshold]
    plain = lloyd_statistics(X[candidates], sample_weight[candidates], centers, x_norms[candidates],
                             n_threads=n_threads)[1]
    order = np.lexsort((candidates, -plain.astype(np.float64)))[:m]
    return candidates[order], plain[order].astype(np.float64)


# --- the passes as kernels of the data protocol: kernel(block, *params) ----------------
#
# ``block`` is what a backend hands a kernel (kmix.backends.blocks.Block): the rows
# X (centred), sample_weight, x_norms, unit_weight, the per-row state of the last
# pass (or None), n_threads and owns_state. A pass's state is a tuple whose first
# array is the labels. Rows in a scipy.sparse CSR matrix (never centred) go to the
# sparse passes of kmix.kernels.kmeans_sparse, which take the same arguments and
# give the same results.


def _sparse_passes(X: Any) -> Any:
    """:mod:`kmix.kernels.kmeans_sparse` when X is a scipy.sparse matrix, else None."""
    if not is_sparse(X):
        return None
    from . import kmeans_sparse

    return kmeans_sparse


def empty_statistics(n_clusters: int, n_features: int, with_previous: bool) -> KMeansStats:
    """The statistics of a block without rows (what merging with it leaves unchanged)."""
    return KMeansStats(
        weight_sums=np.zeros(n_clusters),
        sums=np.zeros((n_clusters, n_features)),
        ssd=0.0,
        ssd_previous=0.0 if with_previous else float("nan"),
        n_changed=0,
        farthest_distances=np.empty(0),
        farthest_points=np.empty((0, n_features)),
        farthest_labels=np.empty(0, dtype=np.int32),
        farthest_weights=np.empty(0),
    )


def lloyd_block(block: Any, centers: np.ndarray) -> tuple[tuple[np.ndarray], KMeansStats]:
    """One Lloyd assignment pass over a block (:func:`lloyd_statistics`).

    ``block.state``: the last pass's state (labels first) or None. Returns
    ``((labels (n,) int32,), KMeansStats)``.
    """
    previous = None if block.state is None else block.state[0]
    if block.X.shape[0] == 0:
        return (np.empty(0, dtype=np.int32),), empty_statistics(*centers.shape, previous is not None)
    sparse = _sparse_passes(block.X)
    if sparse is None and not block.compiled:
        labels, _, stats = reference_pass(block.X, block.sample_weight, centers, block.x_norms, previous)
        return (labels,), stats
    statistics = lloyd_statistics if sparse is None else sparse.lloyd_statistics
    labels, _, stats = statistics(block.X, block.sample_weight, centers, block.x_norms, previous,
                                  block.unit_weight, keep_distances=False, n_threads=block.n_threads)
    return (labels,), stats


def bounded_block(block: Any, centers: np.ndarray, drops: np.ndarray | None,
                  movement: np.ndarray | None = None,
                  ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[KMeansStats, int]]:
    """One bounded assignment pass over a block (:func:`bounded_statistics`).

    ``block.state``: None (every row scanned, the bounds set) or the ``(labels,
    lower)`` of the last bounded pass, whose centres ``drops`` (and ``movement``,
    optional) were computed from.
    The bounds are written in place only when ``block.owns_state``. Returns
    ``((labels (n,) int32, lower (n,) float64), (KMeansStats, rows rescanned))``;
    merge the second with :func:`merge_counted`.
    """
    n = block.X.shape[0]
    if n == 0:
        empty = (np.empty(0, dtype=np.int32), np.empty(0))
        return empty, (empty_statistics(*centers.shape, block.state is not None), 0)
    if block.state is None:
        previous, lower = None, np.zeros(n)
    else:
        previous = block.state[0]
        lower = block.state[1] if block.owns_state else block.state[1].copy()
    sparse = _sparse_passes(block.X)
    if sparse is None:
        labels, stats, rescanned = bounded_statistics(
            block.X, block.sample_weight, centers, block.x_norms, previous, lower, drops,
            block.unit_weight, movement=movement, n_threads=block.n_threads)
    else:
        labels, stats, rescanned = sparse.bounded_statistics(
            block.X, block.sample_weight, centers, block.x_norms, previous, lower, drops,
            block.unit_weight, n_threads=block.n_threads)
    return (labels, lower), (stats, rescanned)


def merge_counted(a: tuple[KMeansStats, int], b: tuple[KMeansStats, int]) -> tuple[KMeansStats, int]:
    """Merge two ``(KMeansStats, count)`` partial results."""
    return merge_statistics(a[0], b[0]), a[1] + b[1]


def _nearest(block: Any, offset: np.ndarray, centers: np.ndarray,
             keep_distances: bool) -> tuple[np.ndarray, np.ndarray | None]:
    sparse = _sparse_passes(block.X)
    if sparse is not None:
        # Sparse rows are not centred (that would fill in their zeros): the centres
        # go back to the rows' frame instead.
        if block.X.shape[0] == 0:
            return np.empty(0, dtype=np.int32), np.empty(0, dtype=block.X.dtype)
        return sparse.nearest_centers(block.X, centers + offset, block.x_norms, n_threads=block.n_threads)
    X = block.X - offset
    if X.shape[0] == 0:
        return np.empty(0, dtype=np.int32), np.empty(0, dtype=X.dtype)
    if not block.compiled:
        return nearest_centers(X, centers.astype(X.dtype, copy=False))
    labels, distances, _ = lloyd_statistics(X, block.sample_weight, centers, squared_norms(X),
                                            keep_distances=keep_distances, n_threads=block.n_threads)
    return labels, distances


def predict_block(block: Any, offset: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest centre of each row, (n,) int32 as scikit-learn's labels;
    the rows are centred by ``offset`` and ``centers`` are in that frame."""
    return _nearest(block, offset, centers, False)[0].astype(np.int32, copy=False)


def min_distances_block(block: Any, offset: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Squared distance of each row to its nearest centre, (n,) float64 (frames as in
    :func:`predict_block`)."""
    return _nearest(block, offset, centers, True)[1].astype(np.float64)


def transform_block(block: Any, offset: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Euclidean distance of each row to each centre, (n, k), X's dtype (frames as in
    :func:`predict_block`)."""
    sparse = _sparse_passes(block.X)
    if sparse is not None:
        return np.sqrt(sparse.squared_distances(block.X, centers + offset, block.x_norms,
                                                n_threads=block.n_threads))
    rows = block.X - offset
    row_norms, center_norms = squared_norms(rows), squared_norms(centers)
    squared = squared_distances(rows, centers, row_norms, center_norms)
    # ||x||² - 2 x·c + ||c||² loses a few eps·(||x||² + ||c||²) to cancellation: a
    # distance within that of 0 is taken from the differences themselves instead
    # (exactly 0 for a row equal to a centre). Such pairs are rare: few recomputed.
    bound = 16.0 * np.finfo(squared.dtype).eps * (row_norms[:, None] + center_norms[None, :])
    close_rows, close_centers = np.nonzero(squared <= bound)
    if close_rows.size:
        differences = rows[close_rows] - centers[close_centers]
        squared[close_rows, close_centers] = np.einsum("ij,ij->i", differences, differences)
    return np.sqrt(squared)
