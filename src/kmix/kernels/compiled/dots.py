"""Matrix products of the passes with many features, in fused multiply-adds
from tiles of sums held in vector registers.

:func:`column_products`, ``C = A B`` for the EM pass with many features (full
covariances): the rows' terms (outer products, then the row) against the packed
parameters (the E-step), and the same terms, a column each, against the weighted
responsibilities (the M-step). Both are long and thin: B has few columns (k, the
components) beside A's many. Here a tile of C, a few rows by up to 32 columns,
stays in vector registers while the tile's rows of A go by, one value of A
broadcast against the tile's vectors of B's row at each step: every loaded value
is used several times from a register. Each element of C is one chain of fused
multiply-adds (one rounding each), over A's columns in order; so every compiled
copy gives the same bits, and no element depends on the tile, block or thread
that computed it. The chain is taken STEPS columns of A at a time over all of C's
tiles, so that those columns of A and rows of B are read from the nearest cache
for every tile; a tile's sums wait in C between the steps, which changes no bit.

:func:`transposed_products`, the k-means passes' ``-2 x·c`` for many features:
rows of X against the centres (transposed), stored a centre a row, as the passes'
argmins read them. A tile is 8 rows by 16 centres (float64; 16 by 16 in float32),
each element again one chain of fused multiply-adds over the features in order,
the tile transposed in registers as it is stored. :func:`chunk_products` takes it
where the code may use AVX-512, BLAS elsewhere (see there).

A tile's sums take sixteen 64-byte vectors where the compiled code may use
AVX-512's 32 registers; elsewhere a tile runs as sub-tiles of at most eight
32-byte vectors (16 registers). Only the instructions differ: each element's chain
is the same, so are its bits.
"""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["LANES", "ROWS", "STEPS", "TRANSPOSED_COLUMNS", "WIDE", "block_columns",
           "chunk_products", "column_products", "lanes", "transposed_products",
           "transposed_rows", "transposed_rows_of"]

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
# The unit of B's columns: 64 bytes, 8 float64 or 16 float32 values.
_GROUP_BYTES = 64
# Sums a sub-tile keeps in registers: x86-64 has 32 vector registers with AVX-512,
# 16 without (the rest hold B's vectors and A's broadcast value).
_SUMS = {64: 16, 32: 8}


def lanes(dtype) -> int:
    """Values of 64 bytes of ``dtype`` (8 float64, 16 float32): the unit B's columns
    are padded to."""
    return _GROUP_BYTES // np.dtype(dtype).itemsize


def transposed_rows(dtype) -> int:
    """Rows of A a tile of :func:`transposed_products`: 8 float64, 16 float32 (a
    tile's sums are then transposed in registers, a row of C from a lane of each)."""
    return TRANSPOSED_COLUMNS // (TRANSPOSED_COLUMNS // lanes(dtype))


def _vector_bytes(context) -> int:
    """64 where the compiled code may use AVX-512's registers, else 32 (the width
    changes the instructions only: each element is the same chain either way)."""
    features = getattr(context.codegen(), "_tm_features", "") or ""
    return 64 if "+avx512f" in features.split(",") else 32


def _target_is_wide() -> bool:
    from numba.core.registry import cpu_target

    return _vector_bytes(cpu_target.target_context) == 64


# Whether the compiled code may use AVX-512's registers (numba's target for this
# process: the host, or NUMBA_CPU_NAME and NUMBA_CPU_FEATURES).
WIDE = _target_is_wide()


def _sub_tile(height: int, vectors: int, sums: int) -> tuple[int, int]:
    """Rows and vectors of the largest sub-tile of a tile (dividing it) with at most
    ``sums`` vectors of sums, the fewest loads a step among equals."""
    best = (1, 1)
    for r in range(1, height + 1):
        for v in range(1, vectors + 1):
            if height % r or vectors % v or r * v > sums:
                continue
            if (r * v, -(r + v)) > (best[0] * best[1], -(best[0] + best[1])):
                best = (r, v)
    return best


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


def _emit_tile(context, builder, element, a_rows, b_row, begin, end, height, columns, initial, finish):
    """The loops of one tile: sums[i][v] (vector v of row i, i < height, columns
    values a row) start at ``initial(i, v, vector)``, take Σ_j A[i, j] B[j, v...]
    for begin <= j < end by fused multiply-adds, j in order, and go to
    ``finish({(i, v): value})`` a sub-tile at a time; in sub-tiles that fit the
    target's registers.
    ``a_rows[i]`` points at row i of A, ``b_row(j)`` at the tile's first value in
    row j of B."""
    width = _vector_bytes(context)
    vector = ir.VectorType(element, width // (4 if isinstance(element, ir.FloatType) else 8))
    vectors = columns // vector.count
    rows, per_row = _sub_tile(height, vectors, _SUMS[width])
    for r0 in range(0, height, rows):
        for v0 in range(0, vectors, per_row):
            sums = {(i, v): cgutils.alloca_once_value(builder, initial(i, v, vector))
                    for i in range(r0, r0 + rows) for v in range(v0, v0 + per_row)}
            with cgutils.for_range_slice(builder, begin, end, ir.Constant(begin.type, 1)) as (j, _):
                source = b_row(j)
                ys = {v: builder.load(builder.bitcast(
                    builder.gep(source, [ir.Constant(begin.type, v * vector.count)]),
                    vector.as_pointer()), align=4) for v in range(v0, v0 + per_row)}
                for i in range(r0, r0 + rows):
                    x = _broadcast(builder, builder.load(builder.gep(a_rows[i], [j])), vector)
                    for v in range(v0, v0 + per_row):
                        builder.store(_fma(builder, x, ys[v], builder.load(sums[i, v])), sums[i, v])
            finish({key: builder.load(value) for key, value in sums.items()})


def _tile_intrinsic(vectors: int):
    """The intrinsic for a tile of ``ROWS * 4 // vectors`` rows by ``vectors``
    groups of LANES columns."""
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

            def slot(i, v, vector):
                return builder.bitcast(at(out.data, builder.add(row0, constant(i)), length,
                                          builder.add(col0, constant(v * vector.count))),
                                       vector.as_pointer())

            # The sums in registers through the steps, in C between calls.
            def initial(i, v, vector):
                return builder.load(slot(i, v, vector), align=8)

            def finish(values):
                for (i, v), value in values.items():
                    builder.store(value, slot(i, v, value.type), align=8)

            _emit_tile(context, builder, ir.DoubleType(), a_rows,
                       lambda j: at(second.data, j, length, col0), begin, end, height,
                       vectors * LANES, initial, finish)
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
def _tile_transposed(typingctx, a, b, c, row, col, out_col, valid, zeros):  # pragma: no cover - compiled
    """C[col + l, out_col + i] = Σ_j A[row + i, j] B[j, col + l] for l <
    TRANSPOSED_COLUMNS and i < :func:`transposed_rows`: each element one chain of
    fused multiply-adds over j in order, the tile's sums in sixteen vector
    registers (a row of A's values, by one or two vectors of l), stored a value of l
    at a time. A (n, m), B (m, k), C (k, >= out_col + rows), C-contiguous, one
    dtype (float64 or float32); A may be read-only. Rows i >= ``valid`` are read
    from ``zeros`` (m zeros) instead: a last tile with fewer rows of A."""
    if not (all(isinstance(x, types.Array) and x.ndim == 2 and x.layout == "C" for x in (a, b, c))
            and a.dtype in (types.float32, types.float64) and b.dtype == a.dtype and c.dtype == a.dtype
            and isinstance(zeros, types.Array) and zeros.ndim == 1 and zeros.dtype == a.dtype
            and all(isinstance(x, types.Integer) for x in (row, col, out_col, valid))):
        return None
    element = ir.FloatType() if a.dtype == types.float32 else ir.DoubleType()
    height = transposed_rows(str(a.dtype))

    def codegen(context, builder, signature, args):
        first = context.make_array(signature.args[0])(context, builder, args[0])
        second = context.make_array(signature.args[1])(context, builder, args[1])
        out = context.make_array(signature.args[2])(context, builder, args[2])
        row0, col0, target0, count = (context.cast(builder, value, kind, types.int64)
                                       for value, kind in zip(args[3:7], signature.args[3:7]))
        empty = context.make_array(signature.args[7])(context, builder, args[7]).data
        _, width = cgutils.unpack_tuple(builder, first.shape, 2)
        _, centres = cgutils.unpack_tuple(builder, second.shape, 2)
        _, out_width = cgutils.unpack_tuple(builder, out.shape, 2)

        def constant(value):
            return ir.Constant(row0.type, value)

        a_rows = [builder.select(
            builder.icmp_signed("<", constant(i), count),
            builder.gep(first.data, [builder.mul(builder.add(row0, constant(i)), width)]), empty)
            for i in range(height)]

        def initial(i, v, vector):
            return ir.Constant(vector, [0.0] * vector.count)

        def finish(values):
            # Each centre's values of the sub-tile's rows, gathered from one lane of
            # each row's vector, stored together.
            rows = sorted({i for i, _ in values})
            for v in sorted({v for _, v in values}):
                count = values[rows[0], v].type.count
                column = ir.VectorType(element, len(rows))
                for lane in range(count):
                    gathered = ir.Constant(column, ir.Undefined)
                    for q, i in enumerate(rows):
                        gathered = builder.insert_element(
                            gathered, builder.extract_element(values[i, v], ir.Constant(_I32, lane)),
                            ir.Constant(_I32, q))
                    centre = builder.add(col0, constant(v * count + lane))
                    slot = builder.gep(out.data, [builder.add(builder.mul(centre, out_width),
                                                              builder.add(target0, constant(rows[0])))])
                    builder.store(gathered, builder.bitcast(slot, column.as_pointer()), align=4)

        _emit_tile(context, builder, element, a_rows,
                   lambda j: builder.gep(second.data, [builder.add(builder.mul(j, centres), col0)]),
                   constant(0), width, height, TRANSPOSED_COLUMNS, initial, finish)
        return context.get_dummy_value()

    return types.void(a, b, c, row, col, out_col, valid, zeros), codegen


@njit(cache=True, nogil=True)
def transposed_products(A, row0, rows, B, C, out_col):  # pragma: no cover - compiled
    """C[l, out_col + i] = Σ_j A[row0 + i, j] B[j, l] for i < rows and every column
    l of B (a multiple of TRANSPOSED_COLUMNS: pad with zeros), each element one
    chain of fused multiply-adds over j in order, whatever its tile; a last tile
    with fewer rows writes the products of zero rows after them. A (n, m) may be
    read-only; B (m, k); C (k, >= out_col + :func:`block_columns`); C-contiguous,
    one dtype."""
    k = B.shape[1]
    height = transposed_rows_of(B)
    if k % TRANSPOSED_COLUMNS != 0:
        raise ValueError("transposed_products: B's columns must be a multiple of TRANSPOSED_COLUMNS")
    zeros = np.zeros(A.shape[1], dtype=B.dtype)
    for r in range(0, rows, height):
        for col in range(0, k, TRANSPOSED_COLUMNS):
            _tile_transposed(A, B, C, row0 + r, col, out_col + r, min(height, rows - r), zeros)


@njit(cache=True, nogil=True)
def block_columns(B, m):  # pragma: no cover - compiled
    """Columns of C that :func:`transposed_products` of m rows writes: m rounded up
    to a tile's rows."""
    height = transposed_rows_of(B)
    return (m + height - 1) // height * height


@njit(cache=True, nogil=True)
def chunk_products(A, start, m, B):  # pragma: no cover - compiled
    """(A[start:start + m] B)ᵀ, (k', >= m): by :func:`transposed_products` where the
    compiled code may use AVX-512's 32 vector registers; without them, where its
    tiles would not fit in the 16 there are, by BLAS (np.dot; bench/RESULTS.md has
    the comparison). A (n, d) may be read-only; B (d, k') as for
    :func:`transposed_products`."""
    # A constant of the compiled code: numba compiles only the branch it takes.
    if WIDE:
        C = np.empty((B.shape[1], block_columns(B, m)), dtype=B.dtype)
        transposed_products(A, start, m, B, C, 0)
        return C
    return np.dot(B.T, A[start:start + m].T)


@intrinsic
def transposed_rows_of(typingctx, a):  # pragma: no cover - compiled
    """:func:`transposed_rows` of an array's dtype, for compiled code (a constant there)."""
    if not (isinstance(a, types.Array) and a.dtype in (types.float32, types.float64)):
        return None
    count = transposed_rows(str(a.dtype))

    def codegen(context, builder, signature, args):
        return context.get_constant(types.intp, count)

    return types.intp(a), codegen
