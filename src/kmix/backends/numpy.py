"""The in-memory backend: one compiled pass over a numpy array per Lloyd iteration."""

from __future__ import annotations

import numpy as np

from ..kernels import kmeans as kk
from ._threads import one_blas_thread

__all__ = ["lloyd_pass", "bounded_pass"]


def lloyd_pass(
    X: np.ndarray,
    sample_weight: np.ndarray,
    centers: np.ndarray,
    x_norms: np.ndarray,
    previous_labels: np.ndarray | None = None,
    unit_weight: bool = False,
    keep_distances: bool = True,
) -> tuple[np.ndarray, np.ndarray | None, kk.KMeansStats]:
    """One assignment pass over X with the statistics of the whole of X.

    The kernel goes through X in cache-sized chunks, in parallel, so no (n, k)
    distance matrix is ever held; see :func:`kmix.kernels.kmeans.lloyd_statistics`.

    Returns
    -------
    labels : ndarray (n,) int32
    min_distances : ndarray (n,), or None if not ``keep_distances``
    stats : KMeansStats of the whole of X

    ``unit_weight`` (every weight is 1) and ``keep_distances``: see
    :func:`kmix.kernels.kmeans.lloyd_statistics`.
    """
    with one_blas_thread(kk.uses_blas(X.shape[1])):
        return kk.lloyd_statistics(X, sample_weight, centers, x_norms, previous_labels,
                                   unit_weight, keep_distances)


def bounded_pass(
    X: np.ndarray,
    sample_weight: np.ndarray,
    centers: np.ndarray,
    x_norms: np.ndarray,
    previous_labels: np.ndarray | None,
    lower: np.ndarray,
    drops: np.ndarray | None = None,
    unit_weight: bool = False,
) -> tuple[np.ndarray, kk.KMeansStats, int]:
    """One assignment pass that skips the rows whose nearest centre provably did not
    change; see :func:`kmix.kernels.kmeans.bounded_statistics` (``lower`` is written).

    Returns labels (n,) int32, the KMeansStats of the whole of X and the number of
    rows whose distances to all centres were computed.
    """
    with one_blas_thread(kk.uses_blas(X.shape[1])):
        return kk.bounded_statistics(X, sample_weight, centers, x_norms, previous_labels, lower,
                                     drops, unit_weight)
