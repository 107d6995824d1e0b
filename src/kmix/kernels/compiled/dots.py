"""Matrix products ``C = A B`` for the EM pass with many features (full
covariances): the rows' terms (outer products, then the row) against the packed
parameters (the E-step), and the same terms, a column each, against the weighted
responsibilities (the M-step).

Both are long and thin: B has few columns (k, the components) beside A's many.
Here a tile of C, a few rows by up to 32 columns, stays in sixteen vector
registers while the tile's rows of A go by, one value of A broadcast against the
tile's vectors of B's row at each step: every loaded value is used several
times from a register. Each element of C is one chain of fused multiply-adds
(one rounding each), over A's columns in order; so every compiled copy gives
the same bits, and no element depends on the tile, block or thread that
computed it. The chain is taken STEPS columns of A at a time over all of C's
tiles, so that those columns of A and rows of B are read from the nearest cache
for every tile; a tile's sums wait in C between the steps, which changes no bit.
"""

from __future__ import annotations

from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["LANES", "ROWS", "STEPS", "column_products"]

# Values of C a vector: B's columns (and C's) are padded to a multiple of it.
LANES = 8
# A tile is this many rows of C by 32 columns, or twice the rows by 16 or four
# times by 8 (sixteen vectors of sums each): A's rows (and C's) are padded to a
# multiple of 4 * ROWS.
ROWS = 4
# Columns of A (rows of B) a step.
STEPS = 128

_F64 = ir.DoubleType()
_VECTOR = ir.VectorType(_F64, LANES)
_I32 = ir.IntType(32)


def _fma(builder, x, y, z):
    kind = ir.FunctionType(_VECTOR, [_VECTOR, _VECTOR, _VECTOR])
    return builder.call(cgutils.get_or_insert_function(builder.module, kind, "llvm.fma.v8f64"),
                        [x, y, z])


def _broadcast(builder, value):
    lane = builder.insert_element(ir.Constant(_VECTOR, ir.Undefined), value, ir.Constant(_I32, 0))
    return builder.shuffle_vector(lane, ir.Constant(_VECTOR, ir.Undefined),
                                  ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES))


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
                    x = _broadcast(builder, builder.load(builder.gep(a_rows[i], [j])))
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
