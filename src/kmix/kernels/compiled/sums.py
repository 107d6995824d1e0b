"""Compiled sums whose order is written in the source (see the package on why
none is compiled with "reassoc"): the same rounding in every compiled copy, yet
eight independent running sums, not one chain of additions each waiting for the
last. numba leaves LLVM's SLP vectorizer off (it miscompiled code), so the eight
sums are scalar instructions, not one SIMD register; the processor still runs
them side by side."""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from numba import njit

__all__ = ["lane_dot", "lane_dot_inlined", "lane_total", "lane_total_inlined"]


@njit(cache=True)
def lane_total(a, m):  # pragma: no cover - compiled
    """sum_r a[r] over r < m, in float64: a[r] added to running sum r % 8 (the last
    m % 8 to the first sums, in order), the eight sums added pairwise."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    r = 0
    while r + 8 <= m:
        s0 += np.float64(a[r])
        s1 += np.float64(a[r + 1])
        s2 += np.float64(a[r + 2])
        s3 += np.float64(a[r + 3])
        s4 += np.float64(a[r + 4])
        s5 += np.float64(a[r + 5])
        s6 += np.float64(a[r + 6])
        s7 += np.float64(a[r + 7])
        r += 8
    while r < m:
        s0 += np.float64(a[r])
        r += 1
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@njit(cache=True)
def lane_dot(a, offset, b, m):  # pragma: no cover - compiled
    """sum_r a[offset + r] * b[r] over r < m, in float64 (each product of the two
    values widened to float64, rounded once), in the lanes of :func:`lane_total`."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    r = 0
    while r + 8 <= m:
        s0 += np.float64(a[offset + r]) * np.float64(b[r])
        s1 += np.float64(a[offset + r + 1]) * np.float64(b[r + 1])
        s2 += np.float64(a[offset + r + 2]) * np.float64(b[r + 2])
        s3 += np.float64(a[offset + r + 3]) * np.float64(b[r + 3])
        s4 += np.float64(a[offset + r + 4]) * np.float64(b[r + 4])
        s5 += np.float64(a[offset + r + 5]) * np.float64(b[r + 5])
        s6 += np.float64(a[offset + r + 6]) * np.float64(b[r + 6])
        s7 += np.float64(a[offset + r + 7]) * np.float64(b[r + 7])
        r += 8
    while r < m:
        s0 += np.float64(a[offset + r]) * np.float64(b[r])
        r += 1
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


# The same two sums, inlined into their caller's numba IR: in a loop that calls them
# many times over short rows (the EM pass's second moments, a pair of features at
# a time), the call is a large share of the work. Inlined code takes its
# caller's fastmath flags, so a caller must be compiled without any ("contract"
# would fuse the products into the additions, a rounding the separate functions do
# not make); tests/kernels check both against the functions above, bit for bit.
# Never compiled on their own, so nothing of theirs is cached (the callers are).
lane_total_inlined = njit(inline="always")(lane_total.py_func)
lane_dot_inlined = njit(inline="always")(lane_dot.py_func)
