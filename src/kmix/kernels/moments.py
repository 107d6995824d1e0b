"""Column moments of a block of rows, merged over blocks: the mean, variance and
range per feature.

The statistics of ``X[:m]`` merged with those of ``X[m:]`` equal those of ``X``
(up to rounding), so a chunked backend gets the column means and variances of
the whole data in one pass. (The in-memory fit takes them in its compiled
centring pass, :func:`centered`; the tests hold the two to each other.)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .compiled import threads
from .kmeans import squared_norms

__all__ = ["ColumnMoments", "column_moments", "merge_column_moments", "centered"]


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


def column_moments(X: np.ndarray, *, compiled: bool = False) -> ColumnMoments:
    """The moments of one block, in float64. The block's own mean is subtracted before
    squaring, so the variance carries no cancellation from a large mean. Values near
    the float limit overflow to inf, as in ``np.var``.

    ``compiled``: two compiled passes over the block (the sums and the range, then
    the squared deviations) instead of numpy's six and its temporaries; the same
    sums in the same order, so equal to numpy's up to the rounding of the squared
    deviations. The chunked backends take it (their passes are compiled anyway).
    """
    n = X.shape[0]
    if compiled and n:
        from .compiled import kmeans_prep  # numba is imported on first use only

        X = np.ascontiguousarray(np.asarray(X))
        d = X.shape[1]
        sums, low, high, m2 = np.empty(d), np.empty(d), np.empty(d), np.empty(d)
        kmeans_prep.column_sums_range(X, sums, low, high)
        with np.errstate(over="ignore", invalid="ignore"):
            kmeans_prep.column_deviations(X, sums / n, m2)
        return ColumnMoments(n, sums, m2, low, high)
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


def centered(X: np.ndarray, *, n_threads: int = 1,
             compiled: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """X minus its column means (a new array), its rows' squared norms and its mean
    variance; distances through ``||x||² - 2x·c + ||c||²`` lose less to
    cancellation on centred data. Compiled: two passes on ``n_threads`` threads
    (column sums in float64, then the differences and norms), each going over X
    once where numpy's mean, subtraction and norms would go three times on one
    thread; the result does not depend on ``n_threads``. ``compiled=False`` (small
    data): the same by numpy.

    Returns
    -------
    Xc : ndarray (n, d), X's dtype
    offset : ndarray (d,), X's dtype: the column means, so that X = Xc + offset
    x_norms : ndarray (n,), X's dtype: squared norms of the rows of Xc
    mean_variance : float, the variance of X averaged over the features
    """
    X = np.ascontiguousarray(X)
    n, d = X.shape
    if not compiled:
        offset = (np.sum(X, axis=0, dtype=np.float64) / n).astype(X.dtype)
        Xc = X - offset
        x_norms = squared_norms(Xc)
        return Xc, offset, x_norms, float(np.sum(x_norms, dtype=np.float64)) / max(n * d, 1)
    from .compiled import kmeans_prep  # numba is imported on first use only

    rows = max(1024, -(-(2**18) // max(d, 1)))  # about 2 MiB of float64 per chunk
    sums, Xc, x_norms = np.empty(d), np.empty_like(X), np.empty(n, dtype=X.dtype)
    with threads(n_threads, -(-n // rows)):
        kmeans_prep.column_sums(X, rows, sums)
        offset = (sums / n).astype(X.dtype)
        total = kmeans_prep.center_rows(X, offset, rows, Xc, x_norms)
    return Xc, offset, x_norms, total / max(n * d, 1)
