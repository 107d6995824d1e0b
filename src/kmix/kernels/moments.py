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

__all__ = ["ColumnMoments", "column_moments", "merge_column_moments", "Centred", "column_ranges", "centered"]


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
        from .compiled import as_read_only, kmeans_prep  # numba is imported on first use only

        X = as_read_only(np.ascontiguousarray(np.asarray(X)))
        d = X.shape[1]
        sums, low, high, m2 = np.empty(d), np.empty(d), np.empty(d), np.empty(d)
        with threads(1, 1):  # one chunk: the rows in order, as numpy adds them
            kmeans_prep.column_sums(X, n, sums, low, high)
        with np.errstate(over="ignore", invalid="ignore"):
            kmeans_prep.column_deviations(X, sums / n, m2)
        return ColumnMoments(n, sums, m2, low, high)
    sums, low, high = column_ranges(X, compiled=False)
    with np.errstate(over="ignore", invalid="ignore"):
        m2 = ((X.astype(np.float64, copy=False) - sums / n) ** 2).sum(axis=0) if n else np.zeros(X.shape[1])
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


class Centred(NamedTuple):
    """What :func:`centered` returns."""

    X: np.ndarray  # (n, d), X's dtype: the rows less their column means
    offset: np.ndarray  # (d,), X's dtype: the column means, so that X = Xc + offset
    x_norms: np.ndarray  # (n,), X's dtype: squared norms of the rows of Xc
    mean_variance: float  # the variance of X averaged over the features
    low: np.ndarray  # (d,) float64: X's column minima
    high: np.ndarray  # (d,) float64: X's column maxima


def _chunk_rows(d: int) -> int:
    """Rows per chunk of the compiled passes here: about 2 MiB of float64."""
    return max(1024, -(-(2**18) // max(d, 1)))


def column_ranges(X: np.ndarray, *, n_threads: int = 1,
                  compiled: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X's column sums, minima and maxima, (d,) float64 each; compiled: one pass on
    ``n_threads`` threads (numpy's reductions along the first axis of a narrow array
    go over it one short row at a time). A NaN makes its column's sum NaN; the
    compiled minima and maxima skip it."""
    X = np.ascontiguousarray(X)
    n, d = X.shape
    if not compiled or n == 0:
        data = X.astype(np.float64, copy=False)
        with np.errstate(over="ignore", invalid="ignore"):
            sums = data.sum(axis=0)
        if n == 0:
            return sums, np.full(d, np.inf), np.full(d, -np.inf)
        return sums, data.min(axis=0), data.max(axis=0)
    from .compiled import as_read_only, kmeans_prep  # numba is imported on first use only

    rows = _chunk_rows(d)
    sums, low, high = np.empty(d), np.empty(d), np.empty(d)
    with threads(n_threads, -(-n // rows)):
        kmeans_prep.column_sums(as_read_only(X), rows, sums, low, high)
    return sums, low, high


def centered(X: np.ndarray, *, n_threads: int = 1, compiled: bool = True) -> Centred:
    """X minus its column means (a new array), its rows' squared norms, its mean
    variance and its column ranges; distances through ``||x||² - 2x·c + ||c||²``
    lose less to cancellation on centred data. Compiled: two passes on
    ``n_threads`` threads (column sums and ranges in float64, then the differences
    and norms), each going over X once where numpy's reductions, subtraction and
    norms would go five times on one thread; the result does not depend on
    ``n_threads``. ``compiled=False`` (small data): the same by numpy.
    """
    X = np.ascontiguousarray(X)
    n, d = X.shape
    sums, low, high = column_ranges(X, n_threads=n_threads, compiled=compiled)
    offset = (sums / n).astype(X.dtype)
    if not compiled:
        Xc = X - offset
        x_norms = squared_norms(Xc)
        return Centred(Xc, offset, x_norms, float(np.sum(x_norms, dtype=np.float64)) / max(n * d, 1),
                       low, high)
    from .compiled import as_read_only, kmeans_prep  # numba is imported on first use only

    rows = _chunk_rows(d)
    Xc, x_norms = np.empty_like(X), np.empty(n, dtype=X.dtype)
    with threads(n_threads, -(-n // rows)):
        total = kmeans_prep.center_rows(as_read_only(X), offset, rows, Xc, x_norms)
    return Centred(Xc, offset, x_norms, total / max(n * d, 1), low, high)
