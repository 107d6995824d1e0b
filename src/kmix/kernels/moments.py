"""Column moments of a block of rows, merged over blocks: the mean, variance and
range per feature.

The statistics of ``X[:m]`` merged with those of ``X[m:]`` equal those of ``X``
(up to rounding), so a chunked backend gets the column means and variances of
the whole data in one pass. (The in-memory fit takes them in its compiled
centring pass, :func:`kmix.kernels.kmeans_passes.centered`; the tests hold the
two to each other.)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["ColumnMoments", "column_moments", "merge_column_moments"]


class ColumnMoments(NamedTuple):
    """Per-column moments of a block of rows."""

    n: int
    sums: np.ndarray  # (d,) float64
    m2: np.ndarray  # (d,) float64: sum of squared deviations from the block's own mean
    low: np.ndarray  # (d,) float64: column minima (+inf for a block without rows)
    high: np.ndarray  # (d,) float64: column maxima (-inf for a block without rows)

    @property
    def mean(self) -> np.ndarray:
        return self.sums / self.n

    @property
    def variance(self) -> np.ndarray:
        return self.m2 / self.n


def column_moments(X: np.ndarray) -> ColumnMoments:
    """The moments of one block, in float64. The block's own mean is subtracted before
    squaring, so the variance carries no cancellation from a large mean. Values near
    the float limit overflow to inf, as in ``np.var``."""
    n = X.shape[0]
    data = X.astype(np.float64, copy=False)
    with np.errstate(over="ignore", invalid="ignore"):
        sums = data.sum(axis=0)
        m2 = ((data - sums / n) ** 2).sum(axis=0) if n else np.zeros(X.shape[1])
    if n:
        low, high = data.min(axis=0), data.max(axis=0)
    else:
        low, high = np.full(X.shape[1], np.inf), np.full(X.shape[1], -np.inf)
    return ColumnMoments(n, sums, m2, low, high)


def merge_column_moments(a: ColumnMoments, b: ColumnMoments) -> ColumnMoments:
    """The moments of the union of two blocks."""
    n = a.n + b.n
    if a.n and b.n:
        # Chan et al.: M2 of a union from the parts' M2 and the gap of their means.
        delta = b.sums / b.n - a.sums / a.n
        m2 = a.m2 + b.m2 + delta**2 * (a.n * b.n / n)
    else:
        m2 = a.m2 + b.m2
    return ColumnMoments(n, a.sums + b.sums, m2, np.minimum(a.low, b.low), np.maximum(a.high, b.high))
