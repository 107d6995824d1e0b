"""The compiled sums written in lanes (kmix.kernels.compiled.sums): their order is
the one they document, so every compiled copy of them rounds alike, and a pass
gives the same bits whatever the process compiled or loaded before it."""

import subprocess
import sys

import numpy as np
import pytest

from kmix.kernels.compiled import sums


def _lanes(terms, lanes):
    """The documented order: term r into running sum r % lanes (the remainder into
    the first sums, in order), the sums then added pairwise."""
    totals = [0.0] * lanes
    full = len(terms) - len(terms) % lanes
    for r, term in enumerate(terms[:full]):
        totals[r % lanes] += term
    for term in terms[full:]:
        totals[0] += term
    while len(totals) > 1:
        totals = [totals[q] + totals[q + 1] for q in range(0, len(totals), 2)]
    return totals[0]


@pytest.mark.parametrize("m", [0, 1, 7, 8, 13, 16, 1001])
def test_lane_total_and_dot_add_in_their_written_order(m):
    rng = np.random.default_rng(m)
    # Magnitudes over many decades, so that another order would round differently.
    a = rng.normal(size=m + 5) * 10.0 ** rng.integers(-8, 8, size=m + 5)
    b = rng.normal(size=m) * 10.0 ** rng.integers(-8, 8, size=m)
    assert sums.lane_total(a, m) == _lanes([float(x) for x in a[:m]], 8)
    expected = _lanes([float(x) * float(y) for x, y in zip(a[5:5 + m], b)], 8)
    assert sums.lane_dot(a, 5, b, m) == expected
    # float32 values are widened before they are multiplied and added
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    assert sums.lane_total(a32, m) == _lanes([float(x) for x in a32[:m]], 8)
    assert sums.lane_dot(a32, 5, b32, m) == _lanes([float(x) * float(y) for x, y in zip(a32[5:5 + m], b32)], 8)


@pytest.mark.parametrize("m", [0, 1, 7, 8, 13, 112, 1001])
def test_the_vector_sum_adds_as_lane_dot_does(m):
    """lane_dot in vector instructions, called from compiled code as the EM pass
    calls it, gives lane_dot's sum bit for bit."""
    from numba import njit

    @njit
    def vector(a, b, m):
        return sums.lane_dot_vector(a, b, m)

    rng = np.random.default_rng(100 + m)
    a = rng.normal(size=m + 5) * 10.0 ** rng.integers(-8, 8, size=m + 5)
    b = rng.normal(size=m + 3) * 10.0 ** rng.integers(-8, 8, size=m + 3)
    dot = vector(a, b, m)
    assert dot == sums.lane_dot(a, 0, b, m)
    assert dot == _lanes([float(p) * float(q) for p, q in zip(a[:m], b)], 8)
    # rows of a C-contiguous matrix, as the EM pass passes them
    rows = np.ascontiguousarray(np.stack([a[:m], b[:m]]))
    assert vector(rows[0], rows[1], m) == sums.lane_dot(rows[0], 0, rows[1], m)


def test_the_vector_sum_takes_contiguous_float64_rows_only():
    from numba import njit
    from numba.core.errors import TypingError

    @njit
    def dot(a, b, m):
        return sums.lane_dot_vector(a, b, m)

    with pytest.raises(TypingError):
        dot(np.ones(8, dtype=np.float32), np.ones(8, dtype=np.float32), 8)
    with pytest.raises(TypingError):
        dot(np.ones(16)[::2], np.ones(8), 8)


def _scatter(rows, labels, weights, unit, k):
    """Row by row, each row's weight and weighted values added to its cluster's sums."""
    weight_sums = [0.0] * k
    feature_sums = [[0.0] * k for _ in rows]
    for r, label in enumerate(labels):
        weight = 1.0 if unit else float(weights[r])
        weight_sums[label] += weight
        for f, row in enumerate(rows):
            feature_sums[f][label] += float(row[r]) if unit else weight * float(row[r])
    return np.array([weight_sums, *feature_sums])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("unit", [True, False])
def test_label_lanes_add_as_a_scatter_in_row_order(dtype, d, unit):
    """Clusters as lanes of a vector give each cluster the additions a scatter
    makes, in its order, bit for bit; a second call goes on from the first's sums."""
    from numba import njit

    @njit
    def add(rows_t, m, labels, weights, offset, unit, lanes):
        sums.label_lane_sums(rows_t, m, labels, weights, offset, unit, lanes)

    rng = np.random.default_rng(10 * d + unit)
    m, k = 300, sums.LABEL_LANES
    # Magnitudes over many decades, so that another order would round differently.
    rows = (rng.normal(size=(d, m)) * 10.0 ** rng.integers(-6, 6, size=(d, m))).astype(dtype)
    rows[0, ::17] = -0.0
    labels = rng.integers(0, k, size=m).astype(np.int32)
    labels[40:90] = 3  # a run of one cluster
    weights = (rng.uniform(0, 3, size=m + 7) * 10.0 ** rng.integers(-3, 3, size=m + 7)).astype(dtype)
    weights[::11] = 0
    lanes = np.zeros((1 + d, k))
    half = 130
    add(np.ascontiguousarray(rows[:, :half]), half, labels[:half], weights, 7, unit, lanes)
    add(np.ascontiguousarray(rows[:, half:]), m - half, labels[half:], weights, 7 + half, unit, lanes)
    expected = _scatter(rows, labels, weights[7:], unit, k)
    np.testing.assert_array_equal(lanes.view(np.int64), expected.view(np.int64))


_PASS = """
import sys
import numpy as np
if sys.argv[1] == "sums-first":
    # The sums compiled (or loaded) on their own before the pass that calls them.
    from kmix.kernels.compiled import sums
    sums.lane_dot(np.ones(9), 0, np.ones(9), 9)
    sums.lane_total(np.ones(9), 9)
from kmix.kernels import kmeans_passes
rng = np.random.default_rng(3)
X = rng.normal(size=(6000, 8)) * 3.0
w = rng.uniform(0.5, 2.0, size=6000)
labels = (np.arange(6000) % 7).astype(np.int32)
stats = kmeans_passes.lloyd_statistics(X, w, X[:7].copy(), np.einsum("ij,ij->i", X, X),
                                       previous_labels=labels, n_threads=1)[2]
print(repr(stats.ssd), repr(stats.ssd_previous))
"""


def test_a_pass_adds_alike_whatever_the_process_compiled_before():
    def run(mode):
        done = subprocess.run([sys.executable, "-c", _PASS, mode], capture_output=True, text=True,
                              timeout=600, check=True)
        return done.stdout.strip()

    first = run("plain")  # compiles the pass if nothing is cached yet
    assert run("plain") == first
    assert run("sums-first") == first


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 127, 128, 129, 1000, 4099, 100_003])
def test_pairwise_total_is_numpys_sum_bit_for_bit(n):
    # Values of many magnitudes, so that another order of the additions rounds differently.
    values = np.random.default_rng(n).standard_normal(n) * 10.0 ** np.random.default_rng(n + 1).integers(-8, 9, n)
    assert sums.pairwise_total(values) == np.sum(values)
