"""Matrix products of the passes with many features, in fused multiply-adds
from tiles of sums held in vector registers.

:func:`column_products`, ``C = A B`` for the EM pass with many features (full
covariances): the rows' terms (outer products, then the row) against the packed
parameters (the E-step), and the same terms, a column each, against the weighted
responsibilities (the M-step). Both are long and thin: B has few columns (k, the components) beside A's many.
Here a tile of C, a few rows by up to 32 columns, stays in sixteen vector
registers while the tile's rows of A go by, one value of A broadcast against the
tile's vectors of B's row at each step: every loaded value is used several
times from a register. Each element of C is one chain of fused multiply-adds
(one rounding each), over A's columns in order; so every compiled copy gives
the same bits, and no element depends on the tile, block or thread that
computed it. The chain is taken STEPS columns of A at a time over all of C's
tiles, so that those columns of A and rows of B are read from the nearest cache
for every tile; a tile's sums wait in C between the steps, which changes no bit.

:func:`transposed_products`, the plain k-means pass's ``-2 x·c`` for many
features: rows of X against the centres (transposed), stored a centre a row, as
the pass's argmin reads them. A tile is 8 rows by 16 centres (float64; 16 by 16
in float32) in sixteen vectors, each element again one chain of fused
multiply-adds over the features in order, the tile transposed in registers as it
is stored.
"""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["LANES", "ROWS", "STEPS", "TRANSPOSED_COLUMNS", "block_columns", "block_products",
           "column_products", "lanes", "lanes_of", "transposed_products", "transposed_rows"]

# Values of C a vector in column_products (float64): B's columns (and C's) are
# padded to a multiple of it.
LANES = 8
# A tile of column_products is this many rows of C by 32 columns, or twice the
# rows by 16 or four times by 8 (sixteen vectors of sums each): A's rows (and C's)
# are padded to a multiple of 4 * ROWS.
ROWS = 4
# Columns of A (rows of B) a step of column_products.
STEPS = 128
# Columns of B (rows of C) a tile of transposed_products.
TRANSPOSED_COLUMNS = 16

_I32 = ir.IntType(32)
# A vector is 64 bytes: 8 float64 or 16 float32 values.
_VECTOR_BYTES = 64


def lanes(dtype) -> int:
    """Values of a vector of ``dtype``: 8 float64, 16 float32."""
    return _VECTOR_BYTES // np.dtype(dtype).itemsize


def transposed_rows(dtype) -> int:
    """Rows of A a tile of :func:`transposed_products`: 8 float64, 16 float32 (a
    tile's sixteen vectors of sums are then transposed in registers, a row of C
    from a lane of each)."""
    return TRANSPOSED_COLUMNS // (TRANSPOSED_COLUMNS // lanes(dtype))


def _vector_of(dtype):
    """The vector type (64 bytes) of a numba float dtype."""
    if dtype == types.float32:
        return ir.VectorType(ir.FloatType(), _VECTOR_BYTES // 4)
    return ir.VectorType(ir.DoubleType(), _VECTOR_BYTES // 8)


def _fma(builder, x, y, z):
    """x * y + z, one rounding, lane by lane."""
    vector = x.type
    name = f"llvm.fma.v{vector.count}{'f32' if isinstance(vector.element, ir.FloatType) else 'f64'}"
    kind = ir.FunctionType(vector, [vector, vector, vector])
    return builder.call(cgutils.get_or_insert_function(builder.module, kind, name), [x, y, z])


def _broadcast(builder, value, vector):
    lane = builder.insert_element(ir.Constant(vector, ir.Undefined), value, ir.Constant(_I32, 0))
    return builder.shuffle_vector(lane, ir.Constant(vector, ir.Undefined),
                                  ir.Constant(ir.VectorType(_I32, vector.count), [0] * vector.count))


_VECTOR = _vector_of(types.float64)


def _tile_intrinsic(vectors: int):
    """The intrinsic for a tile of ``ROWS * 4 // vectors`` rows by ``vectors`` vectors."""
    height = ROWS * 4 // vectors

    @intrinsic
    def tile(typingctx, a, b, c, row, col, start, stop):  # pragma: no cover - compiled
        """C[row + i, col:col + vectors * LANES] += Σ_j A[row + i, j] B[j, col:...],
        i < height, start <= j < stop: each element one chain of fused
        multiply-adds, j in order. A (k, m), B (m, n), C (k, n) C-contiguous float64."""
        if not (all(isinstance(x, types.Array) and x.ndim == 2 and x.layout == "C"
                    and x.dtype == types.float64 for x in (a, b, c))
                and all(isinstance(x, types.Integer) for x in (row, col, start, stop))):
            return None

        def codegen(context, builder, signature, args):
            a_type, b_type, c_type = signature.args[:3]
            first = context.make_array(a_type)(context, builder, args[0])
            second = context.make_array(b_type)(context, builder, args[1])
            out = context.make_array(c_type)(context, builder, args[2])
            row0, col0, begin, end = (context.cast(builder, value, kind, types.int64)
                                      for value, kind in zip(args[3:], signature.args[3:]))
            _, width = cgutils.unpack_tuple(builder, first.shape, 2)
            _, length = cgutils.unpack_tuple(builder, second.shape, 2)

            def at(data, line, stride, column):
                return builder.gep(data, [builder.add(builder.mul(line, stride), column)])

            def constant(value):
                return ir.Constant(row0.type, value)

            a_rows = [at(first.data, builder.add(row0, constant(i)), width, constant(0))
                      for i in range(height)]
            slots = [[builder.bitcast(at(out.data, builder.add(row0, constant(i)), length,
                                         builder.add(col0, constant(v * LANES))), _VECTOR.as_pointer())
                      for v in range(vectors)] for i in range(height)]
            # The sums in registers through the steps, in C between calls.
            sums = [[cgutils.alloca_once_value(builder, builder.load(slot, align=8)) for slot in line]
                    for line in slots]
            with cgutils.for_range_slice(builder, begin, end, constant(1)) as (j, _):
                source = at(second.data, j, length, col0)
                ys = [builder.load(builder.bitcast(builder.gep(source, [constant(v * LANES)]),
                                                   _VECTOR.as_pointer()), align=8)
                      for v in range(vectors)]
                for i in range(height):
                    x = _broadcast(builder, builder.load(builder.gep(a_rows[i], [j])), _VECTOR)
                    for v, y in enumerate(ys):
                        builder.store(_fma(builder, x, y, builder.load(sums[i][v])), sums[i][v])
            for line, running in zip(slots, sums):
                for slot, value in zip(line, running):
                    builder.store(builder.load(value), slot, align=8)
            return context.get_dummy_value()

        return types.void(a, b, c, row, col, start, stop), codegen

    return tile


_tile_32 = _tile_intrinsic(4)
_tile_16 = _tile_intrinsic(2)
_tile_8 = _tile_intrinsic(1)


@njit(cache=True, nogil=True)
def column_products(A, B, C):  # pragma: no cover - compiled
    """C = A B: C[i, l] = Σ_j A[i, j] B[j, l], each element one chain of fused
    multiply-adds over j in order (see the module). A (k, m), B (m, n), C (k, n),
    C-contiguous float64; k a multiple of 4 * ROWS and n of LANES (pad with zeros).
    B's columns in tiles of 32, then at most one of 16 and one of 8. Releases the
    GIL: blocks on threads run theirs at the same time."""
    k, m = A.shape
    n = B.shape[1]
    if k % (4 * ROWS) != 0 or n % LANES != 0:
        raise ValueError("column_products: A's rows must be a multiple of 4 * ROWS, B's columns of LANES")
    if B.shape[0] != m or C.shape[0] != k or C.shape[1] != n:
        raise ValueError("column_products: the shapes of A, B and C do not match")
    wide = n - n % 32
    middle = wide + (n - wide) // 16 * 16
    C[:] = 0.0
    for start in range(0, m, STEPS):
        stop = min(m, start + STEPS)
        for col in range(0, wide, 32):
            for row in range(0, k, ROWS):
                _tile_32(A, B, C, row, col, start, stop)
        if middle > wide:
            for row in range(0, k, 2 * ROWS):
                _tile_16(A, B, C, row, wide, start, stop)
        if n > middle:
            for row in range(0, k, 4 * ROWS):
                _tile_8(A, B, C, row, middle, start, stop)


# --- k-means: rows against centres, stored a centre a row ----------------------------

@intrinsic
def _tile_transposed(typingctx, a, b, c, row, col, out_col):  # pragma: no cover - compiled
    """C[col + l, out_col + i] = Σ_j A[row + i, j] B[j, col + l] for l <
    TRANSPOSED_COLUMNS and i < :func:`transposed_rows`: each element one chain of
    fused multiply-adds over j in order, the tile's sums in sixteen vector
    registers (a row of A's values, by one or two vectors of l), stored a value of l
    at a time. A (n, m), B (m, k), C (k, >= out_col + rows), C-contiguous, one
    dtype (float64 or float32); A may be read-only."""
    if not (all(isinstance(x, types.Array) and x.ndim == 2 and x.layout == "C" for x in (a, b, c))
            and a.dtype in (types.float32, types.float64) and b.dtype == a.dtype and c.dtype == a.dtype
            and all(isinstance(x, types.Integer) for x in (row, col, out_col))):
        return None
    vector = _vector_of(a.dtype)
    count = vector.count
    per_row = TRANSPOSED_COLUMNS // count
    height = 16 // per_row
    column = ir.VectorType(vector.element, height)

    def codegen(context, builder, signature, args):
        first = context.make_array(signature.args[0])(context, builder, args[0])
        second = context.make_array(signature.args[1])(context, builder, args[1])
        out = context.make_array(signature.args[2])(context, builder, args[2])
        row0, col0, target0 = (context.cast(builder, value, kind, types.int64)
                               for value, kind in zip(args[3:], signature.args[3:]))
        _, width = cgutils.unpack_tuple(builder, first.shape, 2)
        _, centres = cgutils.unpack_tuple(builder, second.shape, 2)
        _, out_width = cgutils.unpack_tuple(builder, out.shape, 2)

        def constant(value):
            return ir.Constant(row0.type, value)

        a_rows = [builder.gep(first.data, [builder.mul(builder.add(row0, constant(i)), width)])
                  for i in range(height)]
        zero = ir.Constant(vector, [0.0] * count)
        sums = [[cgutils.alloca_once_value(builder, zero) for _ in range(per_row)] for _ in range(height)]
        with cgutils.for_range(builder, width) as loop:
            j = loop.index
            source = builder.gep(second.data, [builder.add(builder.mul(j, centres), col0)])
            ys = [builder.load(builder.bitcast(builder.gep(source, [constant(v * count)]),
                                               vector.as_pointer()), align=4) for v in range(per_row)]
            for i in range(height):
                x = _broadcast(builder, builder.load(builder.gep(a_rows[i], [j])), vector)
                for v in range(per_row):
                    builder.store(_fma(builder, x, ys[v], builder.load(sums[i][v])), sums[i][v])
        totals = [[builder.load(sums[i][v]) for v in range(per_row)] for i in range(height)]
        for v in range(per_row):
            for lane in range(count):
                gathered = ir.Constant(column, ir.Undefined)
                for i in range(height):
                    gathered = builder.insert_element(
                        gathered, builder.extract_element(totals[i][v], ir.Constant(_I32, lane)),
                        ir.Constant(_I32, i))
                centre = builder.add(col0, constant(v * count + lane))
                slot = builder.gep(out.data, [builder.add(builder.mul(centre, out_width), target0)])
                builder.store(gathered, builder.bitcast(slot, column.as_pointer()), align=4)
        return context.get_dummy_value()

    return types.void(a, b, c, row, col, out_col), codegen


@njit(cache=True, nogil=True)
def transposed_products(A, row0, rows, B, C, out_col):  # pragma: no cover - compiled
    """C[l, out_col + i] = Σ_j A[row0 + i, j] B[j, l] for i < rows (a multiple of
    :func:`transposed_rows`) and every column l of B (a multiple of TRANSPOSED_COLUMNS:
    pad with zeros), each element one chain of fused multiply-adds over j in
    order, whatever its tile. A (n, m) may be read-only; B (m, k); C (k, >= out_col
    + rows); C-contiguous, one dtype."""
    k = B.shape[1]
    span = TRANSPOSED_COLUMNS
    height = TRANSPOSED_COLUMNS // (TRANSPOSED_COLUMNS // lanes_of(B))
    if rows % height != 0 or k % span != 0:
        raise ValueError("transposed_products: rows must be a multiple of transposed_rows(), "
                         "B's columns of TRANSPOSED_COLUMNS")
    for r in range(0, rows, height):
        for col in range(0, k, span):
            _tile_transposed(A, B, C, row0 + r, col, out_col + r)


@njit(cache=True, nogil=True)
def block_columns(B, m):  # pragma: no cover - compiled
    """Columns of C that :func:`block_products` of m rows writes: m rounded up to
    a tile's rows."""
    height = TRANSPOSED_COLUMNS // (TRANSPOSED_COLUMNS // lanes_of(B))
    return (m + height - 1) // height * height


@njit(cache=True, nogil=True)
def block_products(A, start, m, B, C):  # pragma: no cover - compiled
    """C[:, :m] = (A[start:start + m] B)ᵀ by :func:`transposed_products`, the last
    rows (fewer than a tile's) through a tile with zero rows; C (k, >=
    :func:`block_columns`), its columns from m on written with zero rows'
    products."""
    height = TRANSPOSED_COLUMNS // (TRANSPOSED_COLUMNS // lanes_of(B))
    whole = m // height * height
    transposed_products(A, start, whole, B, C, 0)
    if whole < m:
        tail = np.zeros((height, A.shape[1]), dtype=B.dtype)
        tail[:m - whole] = A[start + whole:start + m]
        transposed_products(tail, 0, height, B, C, whole)


@intrinsic
def lanes_of(typingctx, a):  # pragma: no cover - compiled
    """:func:`lanes` of an array's dtype, for compiled code (a constant there)."""
    if not (isinstance(a, types.Array) and a.dtype in (types.float32, types.float64)):
        return None
    count = _vector_of(a.dtype).count

    def codegen(context, builder, signature, args):
        return context.get_constant(types.intp, count)

    return types.intp(a), codegen
