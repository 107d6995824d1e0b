"""Compiled sums whose order is written in the source (see the package on why
none is compiled with "reassoc"): the same rounding in every compiled copy, yet
eight independent running sums, not one chain of additions each waiting for the
last. numba leaves LLVM's SLP vectorizer off (it miscompiled code), so the eight
sums are scalar instructions, not one SIMD register; the processor still runs
them side by side. :func:`lane_dot_vector` writes them as one 8-wide vector
instead, the same bits, for the loop that calls a sum most (the EM pass's second
moments)."""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["lane_dot", "lane_dot_vector", "lane_total"]


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


_F64 = ir.DoubleType()
_LANES = ir.VectorType(_F64, 8)
_I32 = ir.IntType(32)


@intrinsic
def _vector_lane_dot(typingctx, a, b, m):  # pragma: no cover - compiled
    """lane_dot(a, 0, b, m) of two contiguous float64 arrays, its eight running sums
    held in one 8-wide vector: row r < 8 * (m // 8) into lane r % 8, the rest into
    lane 0 in order, the lanes added pairwise. The same products and additions, in
    the same order, as the scalar function, without fastmath flags: the same bits.
    Written as vector instructions because numba runs no pass that would turn the
    scalar function's eight sums into one (LLVM's SLP vectorizer is off)."""
    if not (isinstance(a, types.Array) and isinstance(b, types.Array)
            and a.dtype == types.float64 and b.dtype == types.float64
            and a.ndim == 1 and b.ndim == 1 and a.layout == "C" and b.layout == "C"
            and isinstance(m, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        a_type, b_type, m_type = signature.args
        first = context.make_array(a_type)(context, builder, args[0]).data
        second = context.make_array(b_type)(context, builder, args[1]).data
        count = context.cast(builder, args[2], m_type, types.int64)
        step = ir.Constant(count.type, 8)
        full = builder.mul(builder.sdiv(count, step), step)
        lanes = cgutils.alloca_once_value(builder, ir.Constant(_LANES, [0.0] * 8))
        with cgutils.for_range_slice(builder, ir.Constant(count.type, 0), full, step) as (r, _):
            x = builder.load(builder.bitcast(builder.gep(first, [r]), _LANES.as_pointer()), align=8)
            y = builder.load(builder.bitcast(builder.gep(second, [r]), _LANES.as_pointer()), align=8)
            builder.store(builder.fadd(builder.load(lanes), builder.fmul(x, y)), lanes)
        total = builder.load(lanes)
        sums = [builder.extract_element(total, ir.Constant(_I32, j)) for j in range(8)]
        head = cgutils.alloca_once_value(builder, sums[0])
        with cgutils.for_range_slice(builder, full, count, ir.Constant(count.type, 1)) as (r, _):
            product = builder.fmul(builder.load(builder.gep(first, [r])),
                                   builder.load(builder.gep(second, [r])))
            builder.store(builder.fadd(builder.load(head), product), head)
        sums[0] = builder.load(head)
        pairs = [builder.fadd(sums[j], sums[j + 1]) for j in range(0, 8, 2)]
        return builder.fadd(builder.fadd(pairs[0], pairs[1]), builder.fadd(pairs[2], pairs[3]))

    return types.float64(a, b, m), codegen


@njit(inline="always")
def lane_dot_vector(a, b, m):  # pragma: no cover - compiled
    """:func:`lane_dot` ``(a, 0, b, m)`` of two contiguous float64 arrays, bit for
    bit, in vector instructions (:func:`_vector_lane_dot`)."""
    return _vector_lane_dot(a, b, m)
