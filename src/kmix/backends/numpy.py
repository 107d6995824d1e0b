"""The in-memory backend: loops over row blocks of a numpy array."""

from __future__ import annotations

import numpy as np

from ..kernels import kmeans as kk

__all__ = ["lloyd_pass"]


def lloyd_pass(
    X: np.ndarray,
    sample_weight: np.ndarray,
    centers: np.ndarray,
    x_norms: np.ndarray,
    previous_labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, kk.KMeansStats]:
    """One assignment pass over X in blocks, with the merged statistics.

    Returns
    -------
    labels : ndarray (n,) int32
    min_distances : ndarray (n,)
    stats : KMeansStats of the whole of X
    """
    n, d = X.shape
    k = centers.shape[0]
    center_norms = kk.squared_norms(centers)
    labels = np.empty(n, dtype=np.int32)
    min_distances = np.empty(n, dtype=X.dtype)
    step = kk.block_rows(k, d, X.dtype.itemsize)
    stats = None
    for start in range(0, n, step):
        stop = min(start + step, n)
        previous = None if previous_labels is None else previous_labels[start:stop]
        block_labels, block_min, block_previous = kk.assign(
            X[start:stop], centers, x_norms[start:stop], center_norms, previous
        )
        labels[start:stop] = block_labels
        min_distances[start:stop] = block_min
        block = kk.block_statistics(
            X[start:stop], sample_weight[start:stop], block_labels, block_min, k,
            previous, block_previous,
        )
        stats = block if stats is None else kk.merge_statistics(stats, block)
    return labels, min_distances, stats
