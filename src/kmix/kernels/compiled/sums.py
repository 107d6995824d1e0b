"""Compiled sums whose order is written in the source (see the package on why
none is compiled with "reassoc"): the same rounding in every compiled copy, yet
eight independent running sums, not one chain of additions each waiting for the
last. numba leaves LLVM's SLP vectorizer off (it miscompiled code), so the eight
sums are scalar instructions, not one SIMD register; the processor still runs
them side by side. :func:`lane_dot_vector` writes them as one 8-wide vector
instead, the same bits, for the loop that calls a sum most (the EM pass's second
moments). :func:`label_lane_sums` adds rows into the sums of their clusters, one
cluster to a lane, in row order as a scatter would. :func:`pairwise_total` adds
a whole array in ``np.sum``'s order, for compiled code that must give numpy's
numbers bit for bit."""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["LABEL_LANES", "label_lane_sums", "lane_dot", "lane_dot_vector", "lane_total",
           "pairwise_total"]


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


# Clusters whose sums label_lane_sums keeps in the lanes of one vector.
LABEL_LANES = 8
_LABELS = ir.VectorType(_I32, LABEL_LANES)


def _broadcast(builder, value, vector_type):
    lane = builder.insert_element(ir.Constant(vector_type, ir.Undefined), value, ir.Constant(_I32, 0))
    return builder.shuffle_vector(lane, ir.Constant(vector_type, ir.Undefined),
                                  ir.Constant(_LABELS, [0] * LABEL_LANES))


def _emit_label_rows(context, builder, count, n_features, unit, feature_rows, labels, weights,
                     weight_offset, lanes_out):
    """The loop of :func:`_label_lane_sums` for one number of features, unit
    weights or not: row r's (weighted) values added into lane labels[r] of running
    vectors, zeros into the other lanes."""
    zero = ir.Constant(_LANES, [0.0] * LABEL_LANES)
    one = ir.Constant(_F64, 1.0)
    iota = ir.Constant(_LABELS, list(range(LABEL_LANES)))
    slots = [builder.gep(lanes_out, [ir.Constant(ir.IntType(64), f)]) for f in range(n_features + 1)]
    running = [cgutils.alloca_once_value(builder, builder.load(slot, align=8)) for slot in slots]
    with cgutils.for_range_slice(builder, ir.Constant(count.type, 0), count,
                                 ir.Constant(count.type, 1)) as (r, _):
        mask = builder.icmp_signed("==", _broadcast(builder, builder.load(builder.gep(labels, [r])),
                                                    _LABELS), iota)
        if unit:
            weight = one
        else:
            weight = builder.load(builder.gep(weights, [builder.add(weight_offset, r)]))
            if weight.type != _F64:
                weight = builder.fpext(weight, _F64)
        values = [weight]
        for f in range(n_features):
            x = builder.load(builder.gep(feature_rows[f], [r]))
            if x.type != _F64:
                x = builder.fpext(x, _F64)
            values.append(x if unit else builder.fmul(weight, x))
        for value, slot in zip(values, running):
            added = builder.select(mask, _broadcast(builder, value, _LANES), zero)
            builder.store(builder.fadd(builder.load(slot), added), slot)
    for slot, value in zip(slots, running):
        builder.store(builder.load(value), slot, align=8)


@intrinsic
def _label_lane_sums(typingctx, rows_t, m, labels, weights, offset, unit, lanes):  # pragma: no cover
    """See :func:`label_lane_sums`. A value added into a lane that is not its row's
    cluster is +0.0, which leaves every sum as it is (a sum that starts at +0.0 is
    never -0.0), so each lane holds the additions a scatter makes, in its order,
    without the scatter's chain through memory."""
    if not (isinstance(rows_t, types.Array) and rows_t.ndim == 2 and rows_t.layout == "C"
            and rows_t.dtype in (types.float32, types.float64)
            and isinstance(labels, types.Array) and labels.ndim == 1 and labels.layout == "C"
            and labels.dtype == types.int32
            and isinstance(weights, types.Array) and weights.ndim == 1 and weights.layout == "C"
            and weights.dtype in (types.float32, types.float64)
            and isinstance(lanes, types.Array) and lanes.ndim == 2 and lanes.layout == "C"
            and lanes.dtype == types.float64
            and isinstance(m, types.Integer) and isinstance(offset, types.Integer)
            and isinstance(unit, types.Boolean)):
        return None

    def codegen(context, builder, signature, args):
        rows_type, m_type, labels_type, weights_type, offset_type, _, lanes_type = signature.args
        rows = context.make_array(rows_type)(context, builder, args[0])
        count = context.cast(builder, args[1], m_type, types.int64)
        label_data = context.make_array(labels_type)(context, builder, args[2]).data
        weight_data = context.make_array(weights_type)(context, builder, args[3]).data
        weight_offset = context.cast(builder, args[4], offset_type, types.int64)
        lanes_out = builder.bitcast(context.make_array(lanes_type)(context, builder, args[6]).data,
                                    _LANES.as_pointer())
        n_features, row_length = cgutils.unpack_tuple(builder, rows.shape, 2)
        for features in (1, 2, 3):
            feature_rows = [builder.gep(rows.data,
                                        [builder.mul(row_length, ir.Constant(row_length.type, f))])
                            for f in range(features)]
            for unit in (True, False):
                wanted = builder.and_(builder.icmp_signed("==", n_features,
                                                          ir.Constant(n_features.type, features)),
                                      builder.icmp_unsigned("==", args[5],
                                                            ir.Constant(args[5].type, int(unit))))
                with builder.if_then(wanted):
                    _emit_label_rows(context, builder, count, features, unit, feature_rows,
                                     label_data, weight_data, weight_offset, lanes_out)
        return context.get_dummy_value()

    return types.void(rows_t, m, labels, weights, offset, unit, lanes), codegen


@njit(inline="always")
def label_lane_sums(rows_t, m, labels, weights, offset, unit, lanes):  # pragma: no cover - compiled
    """Add rows into the sums of their clusters, for at most LABEL_LANES clusters.

    ``rows_t`` (d, >= m), d from 1 to 3, is a tile of rows transposed; row r < m
    belongs to cluster ``labels[r]`` (0 <= labels[r] < LABEL_LANES) and weighs
    ``weights[offset + r]``, or 1 if ``unit``. Written: ``lanes`` (1 + d, LABEL_LANES)
    float64, added to: row 0 the clusters' weights, row 1 + f their weighted sums
    of feature f. Every sum gets its rows' (weighted) values in row order, each
    product rounded once, as ``sums[labels[r], f] += weights[offset + r] * x``
    row by row would give, the same bits, in vector instructions.
    """
    _label_lane_sums(rows_t, m, labels, weights, offset, unit, lanes)


@njit(cache=True, error_model="numpy")
def _block_sum(a, start, n):  # pragma: no cover - compiled
    # numpy's pairwise sum below its block size (128): plain under 8 terms,
    # else 8 running sums added as a tree, then the remainder.
    if n < 8:
        total = 0.0
        for i in range(start, start + n):
            total += a[i]
        return total
    r = np.empty(8)
    for j in range(8):
        r[j] = a[start + j]
    i = 8
    while i < n - n % 8:
        for j in range(8):
            r[j] += a[start + i + j]
        i += 8
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        total += a[start + i]
        i += 1
    return total


@njit(cache=True, error_model="numpy")
def pairwise_total(a):  # pragma: no cover - compiled
    """Σ a for a 1-D float64 array, as ``np.sum`` adds it: blocks of at most 128 terms,
    halves (rounded down to a multiple of 8) added as a tree, walked here with an
    explicit stack (numba's cache cannot hold a recursive function)."""
    starts = np.empty(64, dtype=np.int64)  # halving from n < 2^63
    sizes = np.empty(64, dtype=np.int64)
    partial = np.empty(64)
    left_done = np.zeros(64, dtype=np.bool_)
    top = 0
    starts[0], sizes[0] = 0, a.shape[0]
    while True:
        while sizes[top] > 128:  # down to the leftmost block
            half = sizes[top] // 2 - (sizes[top] // 2) % 8
            top += 1
            starts[top], sizes[top], left_done[top] = starts[top - 1], half, False
        result = _block_sum(a, starts[top], sizes[top])
        top -= 1
        while top >= 0 and left_done[top]:  # both halves done
            result = partial[top] + result
            top -= 1
        if top < 0:
            return result
        partial[top], left_done[top] = result, True  # the left half done: the right one next
        half = sizes[top] // 2 - (sizes[top] // 2) % 8
        top += 1
        starts[top], sizes[top], left_done[top] = starts[top - 1] + half, sizes[top - 1] - half, False
