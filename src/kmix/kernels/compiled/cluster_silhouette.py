"""The silhouette's distance sums, compiled: per row of a block, the sum of its
Euclidean distances to every row of each cluster, from the block's Gram products.

One pass over the (m, n) products, on all threads (one row per iteration, its
sums in a fixed order: no result depends on the thread count), where the numpy
twin (:func:`kmix.kernels.cluster_choice._cluster_distance_sums_reference`)
makes several.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import REASSOCIATE

__all__ = ["cluster_distance_sums"]


@njit(parallel=True, cache=True, fastmath=REASSOCIATE)
def cluster_distance_sums(products: np.ndarray, row_norms: np.ndarray, column_norms: np.ndarray,
                          self_columns: np.ndarray, starts: np.ndarray, counts: np.ndarray,
                          out: np.ndarray) -> None:  # pragma: no cover - compiled
    """out[i, c] = Σ_{j in cluster c} sqrt(max(|x_i|² + |y_j|² - 2 products[i, j], 0)),
    the distance of row i to its own column ``self_columns[i]`` counted as 0; the
    columns of cluster c are ``starts[c] .. starts[c] + counts[c]``.

    out : ndarray (m, K) float64, written.
    """
    m = products.shape[0]
    n_clusters = starts.shape[0]
    for i in prange(m):
        norm = row_norms[i]
        # No branch in the inner loop (so that it vectorises): every column,
        # then the row's own column taken off again.
        for c in range(n_clusters):
            total = 0.0
            for j in range(starts[c], starts[c] + counts[c]):
                total += math.sqrt(max(norm + column_norms[j] - 2.0 * products[i, j], 0.0))
            out[i, c] = total
        own = self_columns[i]
        for c in range(n_clusters):
            if starts[c] <= own < starts[c] + counts[c]:
                out[i, c] -= math.sqrt(max(norm + column_norms[own] - 2.0 * products[i, own], 0.0))
