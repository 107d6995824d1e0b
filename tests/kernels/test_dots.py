"""The row products of the EM pass with many features (kmix.kernels.compiled.dots):
each element is the dot product in the order the module documents (fused
multiply-adds into eight lanes, the lanes added pairwise), so no element depends
on where in the matrices, or in which tile, it was computed."""

from fractions import Fraction

import numpy as np
import pytest

from kmix.kernels.compiled import dots, gmm_em


def _fma(x: float, y: float, z: float) -> float:
    """x * y + z rounded once (the exact value, then the nearest float)."""
    return float(Fraction(x) * Fraction(y) + Fraction(z))


def _documented_dot(a, b) -> float:
    lanes = [0.0] * dots.LANES
    for j, (x, y) in enumerate(zip(a, b)):
        lanes[j % dots.LANES] = _fma(float(x), float(y), lanes[j % dots.LANES])
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))


def _spread(rng, shape):
    # Magnitudes over many decades, so that another order or rounding would show.
    return rng.normal(size=shape) * 10.0 ** rng.integers(-6, 6, size=shape)


def test_row_products_add_in_the_documented_order(rng):
    A = _spread(rng, (8, 40))
    B = _spread(rng, (4, 40))
    C = np.empty((8, 4))
    dots.row_products(A, B, C)
    expected = np.array([[_documented_dot(a, b) for b in B] for a in A])
    np.testing.assert_array_equal(C, expected)
    # The same products rounded apart (no fused multiply-add) differ somewhere:
    # the check above can tell them apart.
    unfused = [[sum(float(x) * float(y) for x, y in zip(a, b)) for b in B] for a in A]
    assert not np.array_equal(C, np.array(unfused))


def test_an_element_does_not_depend_on_its_tile(rng):
    A = _spread(rng, (24, 96))
    B = _spread(rng, (12, 96))
    C = np.empty((24, 12))
    dots.row_products(A, B, C)
    rows, cols = rng.permutation(24), rng.permutation(12)
    moved = np.empty((24, 12))
    dots.row_products(np.ascontiguousarray(A[rows]), np.ascontiguousarray(B[cols]), moved)
    np.testing.assert_array_equal(moved, C[rows][:, cols])
    np.testing.assert_allclose(C, A @ B.T, rtol=1e-12, atol=1e-12 * np.abs(A).max() * np.abs(B).max())


def test_row_products_take_contiguous_float64_matrices_only():
    from numba.core.errors import TypingError

    with pytest.raises(TypingError):
        dots.row_products(np.ones((4, 8), dtype=np.float32), np.ones((4, 8), dtype=np.float32),
                          np.empty((4, 4), dtype=np.float32))
    with pytest.raises(TypingError):
        dots.row_products(np.ones((4, 16))[:, ::2], np.ones((4, 8)), np.empty((4, 4)))


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
