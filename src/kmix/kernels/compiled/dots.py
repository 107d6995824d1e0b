"""Products of two matrices by rows, ``C = A Bᵀ``, for the EM pass with many
features (full covariances): the rows' outer products against the packed
precisions (the E-step) and the responsibilities against the outer products (the
M-step).

Those products are long and thin: k (the components) is small beside the
d(d+1)/2 columns of the outer products, a shape BLAS runs well below its rate on
square matrices. Here each element of C is a dot product of a row of A and a row
of B, sixteen at a time (four rows of A against four of B), every one of the
eight loaded values of A and B used four times from a register. The order of the
additions is written out (:func:`_tile_dots`): column j of a dot product goes to
lane j % 8 of its running vector, by fused multiply-adds (one rounding each), the
lanes added pairwise at the end; so every compiled copy gives the same bits, and
no element depends on which tile, block or thread computed it.
"""

from __future__ import annotations

from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["LANES", "TILE", "row_products"]

# The columns of a dot product go to this many lanes; A's and B's rows are padded
# to a multiple of it.
LANES = 8
# Rows of A, and rows of B, a tile: A's and B's rows are padded to a multiple of it.
TILE = 4

_F64 = ir.DoubleType()
_VECTOR = ir.VectorType(_F64, LANES)
_I32 = ir.IntType(32)


def _fma(builder, x, y, z):
    kind = ir.FunctionType(_VECTOR, [_VECTOR, _VECTOR, _VECTOR])
    return builder.call(cgutils.get_or_insert_function(builder.module, kind, "llvm.fma.v8f64"),
                        [x, y, z])


def _lane_total(builder, vector):
    """The eight lanes of ``vector`` added pairwise: ((0+1)+(2+3))+((4+5)+(6+7))."""
    lanes = [builder.extract_element(vector, ir.Constant(_I32, j)) for j in range(LANES)]
    pairs = [builder.fadd(lanes[j], lanes[j + 1]) for j in range(0, LANES, 2)]
    return builder.fadd(builder.fadd(pairs[0], pairs[1]), builder.fadd(pairs[2], pairs[3]))


@intrinsic
def _tile_dots(typingctx, a, b, c, row, col):  # pragma: no cover - compiled
    """C[row + i, col + l] = A[row + i] · B[col + l] for i, l < TILE.

    A (n, m) and B (k, m) C-contiguous float64, m a multiple of LANES. Column j of
    each product goes into lane j % LANES of its running vector by a fused
    multiply-add, columns in order; the lanes are then added pairwise."""
    if not (all(isinstance(x, types.Array) and x.ndim == 2 and x.layout == "C"
                and x.dtype == types.float64 for x in (a, b, c))
            and isinstance(row, types.Integer) and isinstance(col, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        a_type, b_type, c_type, row_type, col_type = signature.args
        first = context.make_array(a_type)(context, builder, args[0])
        second = context.make_array(b_type)(context, builder, args[1])
        out = context.make_array(c_type)(context, builder, args[2])
        row0 = context.cast(builder, args[3], row_type, types.int64)
        col0 = context.cast(builder, args[4], col_type, types.int64)
        _, width = cgutils.unpack_tuple(builder, first.shape, 2)
        _, out_width = cgutils.unpack_tuple(builder, out.shape, 2)

        def row_start(data, length, index, offset):
            return builder.gep(data, [builder.mul(builder.add(index, ir.Constant(index.type, offset)),
                                                  length)])

        a_rows = [row_start(first.data, width, row0, i) for i in range(TILE)]
        b_rows = [row_start(second.data, width, col0, i) for i in range(TILE)]
        zero = ir.Constant(_VECTOR, [0.0] * LANES)
        sums = [[cgutils.alloca_once_value(builder, zero) for _ in range(TILE)] for _ in range(TILE)]
        with cgutils.for_range_slice(builder, ir.Constant(width.type, 0), width,
                                     ir.Constant(width.type, LANES)) as (j, _):
            xs = [builder.load(builder.bitcast(builder.gep(p, [j]), _VECTOR.as_pointer()), align=8)
                  for p in a_rows]
            ys = [builder.load(builder.bitcast(builder.gep(p, [j]), _VECTOR.as_pointer()), align=8)
                  for p in b_rows]
            for i in range(TILE):
                for l in range(TILE):
                    builder.store(_fma(builder, xs[i], ys[l], builder.load(sums[i][l])), sums[i][l])
        for i in range(TILE):
            target = row_start(out.data, out_width, row0, i)
            for l in range(TILE):
                slot = builder.gep(target, [builder.add(col0, ir.Constant(col0.type, l))])
                builder.store(_lane_total(builder, builder.load(sums[i][l])), slot)
        return context.get_dummy_value()

    return types.void(a, b, c, row, col), codegen


@njit(cache=True, nogil=True)
def row_products(A, B, C):  # pragma: no cover - compiled
    """C = A Bᵀ: C[i, l] = A[i] · B[l] (see the module). A (n, m), B (k, m), C (n, k),
    C-contiguous float64; n and k multiples of TILE, m of LANES (pad with zeros).
    A's rows outside, B's inside: a tile's four rows of A are read from memory
    once, for all of B. Releases the GIL: blocks on threads run theirs at the same
    time."""
    n = A.shape[0]
    k = B.shape[0]
    for row in range(0, n, TILE):
        for col in range(0, k, TILE):
            _tile_dots(A, B, C, row, col)
