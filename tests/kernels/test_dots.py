"""The products of the EM pass with many features (kmix.kernels.compiled.dots):
each element is one chain of fused multiply-adds in the order of the sum, as the
module documents, so no element depends on where in the matrices, or in which
tile, it was computed."""

from fractions import Fraction

import numpy as np
import pytest

from kmix.kernels.compiled import dots, gmm_em


def _fma(x: float, y: float, z: float) -> float:
    """x * y + z rounded once (the exact value, then the nearest float)."""
    return float(Fraction(x) * Fraction(y) + Fraction(z))


def _spread(rng, shape):
    # Magnitudes over many decades, so that another order or rounding would show.
    return rng.normal(size=shape) * 10.0 ** rng.integers(-6, 6, size=shape)


def test_column_products_add_in_the_documented_order(rng):
    # 56 columns: a tile of 32, one of 16 and one of 8; 300 terms: three steps.
    A = _spread(rng, (16, 300))
    B = _spread(rng, (300, 56))
    C = np.full((16, 56), np.nan)
    dots.column_products(A, B, C)
    expected = np.empty_like(C)
    for i in range(16):
        for j in range(56):
            total = 0.0
            for a, b in zip(A[i].tolist(), B[:, j].tolist()):
                total = _fma(a, b, total)
            expected[i, j] = total
    np.testing.assert_array_equal(C, expected)
    # The same products rounded apart (no fused multiply-add) differ somewhere:
    # the check above can tell them apart.
    unfused = np.array([[float(sum(a * b for a, b in zip(A[i].tolist(), B[:, j].tolist())))
                         for j in range(56)] for i in range(16)])
    assert not np.array_equal(C, unfused)


def test_an_element_does_not_depend_on_its_tile(rng):
    A = _spread(rng, (32, 200))
    B = _spread(rng, (200, 88))
    C = np.empty((32, 88))
    dots.column_products(A, B, C)
    rows, cols = rng.permutation(32), rng.permutation(88)
    moved = np.empty((32, 88))
    dots.column_products(np.ascontiguousarray(A[rows]), np.ascontiguousarray(B[:, cols]), moved)
    np.testing.assert_array_equal(moved, C[rows][:, cols])
    np.testing.assert_allclose(C, A @ B, rtol=1e-12, atol=1e-12 * np.abs(A).max() * np.abs(B).max())


def test_column_products_refuse_shapes_they_cannot_tile():
    from numba.core.errors import TypingError

    with pytest.raises(ValueError, match="multiple"):
        dots.column_products(np.ones((12, 8)), np.ones((8, 8)), np.empty((12, 8)))
    with pytest.raises(ValueError, match="multiple"):
        dots.column_products(np.ones((16, 8)), np.ones((8, 12)), np.empty((16, 12)))
    with pytest.raises(ValueError, match="shapes"):
        dots.column_products(np.ones((16, 8)), np.ones((9, 8)), np.empty((16, 8)))
    with pytest.raises(TypingError):
        dots.column_products(np.ones((16, 8), dtype=np.float32), np.ones((8, 8), dtype=np.float32),
                             np.empty((16, 8), dtype=np.float32))
    with pytest.raises(TypingError):
        dots.column_products(np.ones((16, 16))[:, ::2], np.ones((8, 8)), np.empty((16, 8)))


@pytest.mark.parametrize("n, d", [(1, 17), (5, 20), (13, 3)])
def test_column_terms_are_the_row_terms_transposed_with_zero_padding(rng, n, d):
    Z = rng.normal(size=(n, d))
    terms = d * (d + 1) // 2 + d
    rows, width = -(-n // 8) * 8 + 8, -(-terms // 8) * 8 + 8
    by_row = np.full((rows, width), np.nan)
    gmm_em.row_terms(Z, by_row)
    by_column = np.full((width, rows), np.nan)
    gmm_em.column_terms(np.ascontiguousarray(Z.T), by_column)
    np.testing.assert_array_equal(by_column, by_row.T)
    upper = np.triu_indices(d)
    np.testing.assert_array_equal(by_row[:n, :upper[0].size], (Z[:, :, None] * Z[:, None, :])[:, upper[0], upper[1]])
    np.testing.assert_array_equal(by_row[:n, upper[0].size:terms], Z)
    assert not by_row[n:].any() and not by_row[:, terms:].any()


def _chain(a_row, b_column, round_to):
    total = round_to(0.0)
    for a, b in zip(a_row.tolist(), b_column.tolist()):
        total = round_to(float(Fraction(a) * Fraction(b) + Fraction(float(total))))
    return total


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_transposed_products_add_in_the_documented_order(rng, dtype):
    height = dots.transposed_rows(dtype)
    assert height == {np.float64: 8, np.float32: 16}[dtype]
    A = _spread(rng, (3 * height + 5, 40)).astype(dtype)
    B = _spread(rng, (40, 2 * dots.TRANSPOSED_COLUMNS)).astype(dtype)
    C = np.full((B.shape[1], 2 * height + 3), np.nan, dtype=dtype)
    # rows 5 .. 5 + 2 * height of A into columns 3 .. of C
    dots.transposed_products(A, 5, 2 * height, B, C, 3)
    round_to = np.float32 if dtype == np.float32 else float
    expected = np.array([[_chain(A[5 + i], B[:, l], round_to) for i in range(2 * height)]
                         for l in range(B.shape[1])])
    np.testing.assert_array_equal(C[:, 3:], expected)
    assert np.isnan(C[:, :3]).all()


def test_transposed_products_do_not_depend_on_the_tile(rng):
    A = _spread(rng, (48, 130))
    A.flags.writeable = False  # the rows may be read-only (a memory-mapped file)
    B = _spread(rng, (130, 64))
    C = np.empty((64, 48))
    dots.transposed_products(A, 0, 48, B, C, 0)
    rows, cols = rng.permutation(48), rng.permutation(64)
    moved = np.empty((64, 48))
    dots.transposed_products(np.ascontiguousarray(A[rows]), 0, 48, np.ascontiguousarray(B[:, cols]), moved, 0)
    np.testing.assert_array_equal(moved, C[cols][:, rows])
    np.testing.assert_allclose(C, (A @ B).T, rtol=1e-12, atol=1e-12 * np.abs(A).max() * np.abs(B).max())
    with pytest.raises(ValueError, match="multiple"):
        dots.transposed_products(A, 0, 8, np.ones((130, 24)), np.empty((24, 8)), 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_last_tile_with_fewer_rows_reads_zero_rows_after_them(rng, dtype):
    height = dots.transposed_rows(dtype)
    A = _spread(rng, (height + 3, 20)).astype(dtype)
    A.flags.writeable = False
    B = _spread(rng, (20, dots.TRANSPOSED_COLUMNS)).astype(dtype)
    assert dots.block_columns(B, height + 3) == 2 * height
    C = np.full((dots.TRANSPOSED_COLUMNS, 2 * height), np.nan, dtype=dtype)
    dots.transposed_products(A, 0, height + 3, B, C, 0)
    whole = np.empty((dots.TRANSPOSED_COLUMNS, 2 * height), dtype=dtype)
    padded = np.zeros((2 * height, 20), dtype=dtype)
    padded[:height + 3] = A
    dots.transposed_products(padded, 0, 2 * height, B, whole, 0)
    np.testing.assert_array_equal(C, whole)
    assert not C[:, height + 3:].any()
    # the rows after them in A itself (not zero) are not read: the tile's other
    # columns hold the products of zero rows
    assert A[3:height].any()
    C[:] = np.nan
    dots.transposed_products(A, 0, 3, B, C, 0)
    np.testing.assert_array_equal(C[:, :3], whole[:, :3])
    assert not C[:, 3:height].any()
    assert np.isnan(C[:, height:]).all()
