"""Compiled k-means kernels (numba): the ``x·c`` products of a tile of rows against
the centres, for few features, and the nearest centre from them.

A tile of rows is transposed (features x rows,
:func:`kmix.kernels.compiled.kmeans_lloyd._transpose_rows`) so that every loop runs
along rows, in SIMD lanes. For 1 to 3 features each centre's value is one
expression (``_nearest_narrow_1`` to ``_3``); for more, four centres by four features at a
time (:func:`_four_values`), the features padded to multiples of four with zeros.
Used by the plain pass (``kmeans_lloyd.fused_pass``), the bounded pass and the
k-means++ potentials.
"""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from numba import njit

from . import CONTRACT

# Nothing public: the passes in kmeans_lloyd, kmeans_bounded and kmeans_prep
# import these loops.
__all__: list[str] = []

# The products of the blocked loop are plain multiply-adds; with CONTRACT LLVM may
# fuse each into one instruction (one rounding instead of two). The order of the
# additions is the one written, so the result is fixed by the compiled code.


@njit(cache=True, fastmath=CONTRACT)
def _narrow_four_1(rows_t, m, scaled_t, center_norms, j, previous_t, best, best_label,
                   previous_value):  # pragma: no cover - compiled
    """Centres j .. j + 3 for :func:`_nearest_narrow_1`, 1 feature: the same
    expressions and comparisons, in centre order. Written: best, best_label,
    previous_value."""
    n0 = center_norms[j + 0]
    s00 = scaled_t[0, j + 0]
    n1 = center_norms[j + 1]
    s10 = scaled_t[0, j + 1]
    n2 = center_norms[j + 2]
    s20 = scaled_t[0, j + 2]
    n3 = center_norms[j + 3]
    s30 = scaled_t[0, j + 3]
    for r in range(m):
        x0 = rows_t[0, r]
        p = previous_t[r] - j
        value = best[r]
        label = best_label[r]
        pv = previous_value[r]
        v = n0 + x0 * s00
        closer = v < value
        value = v if closer else value
        label = j if closer else label
        pv = v if p == 0 else pv
        v = n1 + x0 * s10
        closer = v < value
        value = v if closer else value
        label = j + 1 if closer else label
        pv = v if p == 1 else pv
        v = n2 + x0 * s20
        closer = v < value
        value = v if closer else value
        label = j + 2 if closer else label
        pv = v if p == 2 else pv
        v = n3 + x0 * s30
        closer = v < value
        value = v if closer else value
        label = j + 3 if closer else label
        pv = v if p == 3 else pv
        best[r] = value
        best_label[r] = label
        previous_value[r] = pv


@njit(cache=True, fastmath=CONTRACT)
def _narrow_four_2(rows_t, m, scaled_t, center_norms, j, previous_t, best, best_label,
                   previous_value):  # pragma: no cover - compiled
    """Centres j .. j + 3 for :func:`_nearest_narrow_2`, 2 features: the same
    expressions and comparisons, in centre order. Written: best, best_label,
    previous_value."""
    n0 = center_norms[j + 0]
    s00 = scaled_t[0, j + 0]
    s01 = scaled_t[1, j + 0]
    n1 = center_norms[j + 1]
    s10 = scaled_t[0, j + 1]
    s11 = scaled_t[1, j + 1]
    n2 = center_norms[j + 2]
    s20 = scaled_t[0, j + 2]
    s21 = scaled_t[1, j + 2]
    n3 = center_norms[j + 3]
    s30 = scaled_t[0, j + 3]
    s31 = scaled_t[1, j + 3]
    for r in range(m):
        x0 = rows_t[0, r]
        x1 = rows_t[1, r]
        p = previous_t[r] - j
        value = best[r]
        label = best_label[r]
        pv = previous_value[r]
        v = n0 + x0 * s00 + x1 * s01
        closer = v < value
        value = v if closer else value
        label = j if closer else label
        pv = v if p == 0 else pv
        v = n1 + x0 * s10 + x1 * s11
        closer = v < value
        value = v if closer else value
        label = j + 1 if closer else label
        pv = v if p == 1 else pv
        v = n2 + x0 * s20 + x1 * s21
        closer = v < value
        value = v if closer else value
        label = j + 2 if closer else label
        pv = v if p == 2 else pv
        v = n3 + x0 * s30 + x1 * s31
        closer = v < value
        value = v if closer else value
        label = j + 3 if closer else label
        pv = v if p == 3 else pv
        best[r] = value
        best_label[r] = label
        previous_value[r] = pv


@njit(cache=True, fastmath=CONTRACT)
def _narrow_four_3(rows_t, m, scaled_t, center_norms, j, previous_t, best, best_label,
                   previous_value):  # pragma: no cover - compiled
    """Centres j .. j + 3 for :func:`_nearest_narrow_3`, 3 features: the same
    expressions and comparisons, in centre order. Written: best, best_label,
    previous_value."""
    n0 = center_norms[j + 0]
    s00 = scaled_t[0, j + 0]
    s01 = scaled_t[1, j + 0]
    s02 = scaled_t[2, j + 0]
    n1 = center_norms[j + 1]
    s10 = scaled_t[0, j + 1]
    s11 = scaled_t[1, j + 1]
    s12 = scaled_t[2, j + 1]
    n2 = center_norms[j + 2]
    s20 = scaled_t[0, j + 2]
    s21 = scaled_t[1, j + 2]
    s22 = scaled_t[2, j + 2]
    n3 = center_norms[j + 3]
    s30 = scaled_t[0, j + 3]
    s31 = scaled_t[1, j + 3]
    s32 = scaled_t[2, j + 3]
    for r in range(m):
        x0 = rows_t[0, r]
        x1 = rows_t[1, r]
        x2 = rows_t[2, r]
        p = previous_t[r] - j
        value = best[r]
        label = best_label[r]
        pv = previous_value[r]
        v = n0 + x0 * s00 + x1 * s01 + x2 * s02
        closer = v < value
        value = v if closer else value
        label = j if closer else label
        pv = v if p == 0 else pv
        v = n1 + x0 * s10 + x1 * s11 + x2 * s12
        closer = v < value
        value = v if closer else value
        label = j + 1 if closer else label
        pv = v if p == 1 else pv
        v = n2 + x0 * s20 + x1 * s21 + x2 * s22
        closer = v < value
        value = v if closer else value
        label = j + 2 if closer else label
        pv = v if p == 2 else pv
        v = n3 + x0 * s30 + x1 * s31 + x2 * s32
        closer = v < value
        value = v if closer else value
        label = j + 3 if closer else label
        pv = v if p == 3 else pv
        best[r] = value
        best_label[r] = label
        previous_value[r] = pv


# The nearest centre of each row of a tile with 1 to 3 features, one kernel per
# feature count, so that a run compiles only its own (the plain pass takes it as an
# argument). Each writes best (the smallest ``||c||² - 2 x·c``), best_label, and
# previous_value (the same quantity for the centre ``previous_t[r]``; untouched
# where that is -1). Vectorised over rows, four centres at a time
# (_narrow_four_1 to _3): each centre's value is one expression, compared in
# registers in centre order, so a row's running minimum, label and previous value
# are read and written once per four centres (one centre at a time, those loads
# and stores would cost more than the arithmetic); the last one to three centres
# one at a time (_narrow_rest). The strict '<' keeps the lowest index on ties.

@njit(cache=True)
def _reset_best(m, best, best_label):  # pragma: no cover - compiled
    """best[:m] = inf, best_label[:m] = 0."""
    for r in range(m):
        best[r] = np.inf
        best_label[r] = 0


@njit(cache=True)
def _nearest_narrow_1(rows_t, m, scaled_t, center_norms, previous_t, best, best_label,
                      previous_value, acc):  # pragma: no cover - compiled
    """The nearest centre of each row of a tile of 1 feature (see above; acc unused)."""
    _reset_best(m, best, best_label)
    for j in range(0, scaled_t.shape[1] - 3, 4):
        _narrow_four_1(rows_t, m, scaled_t, center_norms, j, previous_t, best, best_label,
                       previous_value)
    _narrow_rest(rows_t, m, scaled_t, center_norms, previous_t, best, best_label, previous_value)


@njit(cache=True)
def _nearest_narrow_2(rows_t, m, scaled_t, center_norms, previous_t, best, best_label,
                      previous_value, acc):  # pragma: no cover - compiled
    """The nearest centre of each row of a tile of 2 features (see above; acc unused)."""
    _reset_best(m, best, best_label)
    for j in range(0, scaled_t.shape[1] - 3, 4):
        _narrow_four_2(rows_t, m, scaled_t, center_norms, j, previous_t, best, best_label,
                       previous_value)
    _narrow_rest(rows_t, m, scaled_t, center_norms, previous_t, best, best_label, previous_value)


@njit(cache=True)
def _nearest_narrow_3(rows_t, m, scaled_t, center_norms, previous_t, best, best_label,
                      previous_value, acc):  # pragma: no cover - compiled
    """The nearest centre of each row of a tile of 3 features (see above; acc unused)."""
    _reset_best(m, best, best_label)
    for j in range(0, scaled_t.shape[1] - 3, 4):
        _narrow_four_3(rows_t, m, scaled_t, center_norms, j, previous_t, best, best_label,
                       previous_value)
    _narrow_rest(rows_t, m, scaled_t, center_norms, previous_t, best, best_label, previous_value)


# The narrow kernels by feature count.
NARROW_KERNELS = {1: _nearest_narrow_1, 2: _nearest_narrow_2, 3: _nearest_narrow_3}


@njit(cache=True, fastmath=CONTRACT)
def _narrow_rest(rows_t, m, scaled_t, center_norms, previous_t, best, best_label,
                 previous_value):  # pragma: no cover - compiled
    """The narrow kernels' last one to three centres (those after the last
    multiple of four), one at a time, their values the same expressions as in
    _narrow_four_1 to _3. Written: best, best_label, previous_value."""
    d = rows_t.shape[0]
    k = scaled_t.shape[1]
    for j in range(k - k % 4, k):
        norm = center_norms[j]
        s0 = scaled_t[0, j]
        s1 = scaled_t[1, j] if d > 1 else s0 - s0
        s2 = scaled_t[2, j] if d > 2 else s0 - s0
        if d == 1:
            for r in range(m):
                value = norm + rows_t[0, r] * s0
                current = best[r]
                closer = value < current
                best[r] = value if closer else current
                best_label[r] = j if closer else best_label[r]
                previous_value[r] = value if previous_t[r] == j else previous_value[r]
        elif d == 2:
            for r in range(m):
                value = norm + rows_t[0, r] * s0 + rows_t[1, r] * s1
                current = best[r]
                closer = value < current
                best[r] = value if closer else current
                best_label[r] = j if closer else best_label[r]
                previous_value[r] = value if previous_t[r] == j else previous_value[r]
        else:
            for r in range(m):
                value = norm + rows_t[0, r] * s0 + rows_t[1, r] * s1 + rows_t[2, r] * s2
                current = best[r]
                closer = value < current
                best[r] = value if closer else current
                best_label[r] = j if closer else best_label[r]
                previous_value[r] = value if previous_t[r] == j else previous_value[r]


@njit(cache=True, fastmath=CONTRACT)
def _four_values(rows_t, m, scaled_t, center_norms, j, acc):  # pragma: no cover - compiled
    """acc[q, r] = ``||c||² - 2 x·c`` of centre j + q, q < 4, for the rows of a tile.
    Written: acc (4, m).

    ``rows_t`` (d4, tile) and ``scaled_t`` (d4, k4) are zero-padded to multiples of
    four. Each row is loaded once per four centres and each partial value once per
    four features, so the loop is bound by the multiply-adds, not by loads and
    stores (as a loop over one centre or one feature at a time would be).
    """
    d4 = rows_t.shape[0]
    n0 = center_norms[j]
    n1 = center_norms[j + 1]
    n2 = center_norms[j + 2]
    n3 = center_norms[j + 3]
    for r in range(m):
        acc[0, r] = n0
        acc[1, r] = n1
        acc[2, r] = n2
        acc[3, r] = n3
    for f in range(0, d4, 4):
        a0 = scaled_t[f, j]
        a1 = scaled_t[f + 1, j]
        a2 = scaled_t[f + 2, j]
        a3 = scaled_t[f + 3, j]
        b0 = scaled_t[f, j + 1]
        b1 = scaled_t[f + 1, j + 1]
        b2 = scaled_t[f + 2, j + 1]
        b3 = scaled_t[f + 3, j + 1]
        c0 = scaled_t[f, j + 2]
        c1 = scaled_t[f + 1, j + 2]
        c2 = scaled_t[f + 2, j + 2]
        c3 = scaled_t[f + 3, j + 2]
        e0 = scaled_t[f, j + 3]
        e1 = scaled_t[f + 1, j + 3]
        e2 = scaled_t[f + 2, j + 3]
        e3 = scaled_t[f + 3, j + 3]
        for r in range(m):
            x0 = rows_t[f, r]
            x1 = rows_t[f + 1, r]
            x2 = rows_t[f + 2, r]
            x3 = rows_t[f + 3, r]
            acc[0, r] = acc[0, r] + x0 * a0 + x1 * a1 + x2 * a2 + x3 * a3
            acc[1, r] = acc[1, r] + x0 * b0 + x1 * b1 + x2 * b2 + x3 * b3
            acc[2, r] = acc[2, r] + x0 * c0 + x1 * c1 + x2 * c2 + x3 * c3
            acc[3, r] = acc[3, r] + x0 * e0 + x1 * e1 + x2 * e2 + x3 * e3


@njit(cache=True, fastmath=CONTRACT)
def _nearest_blocked(rows_t, m, scaled_t, center_norms, previous_t, best, best_label,
                     previous_value, acc):  # pragma: no cover - compiled
    """Nearest centre of each row of a tile, four centres by four features at a time
    (:func:`_four_values`). Written: best, best_label, previous_value (as the
    narrow kernels write them), acc (4, m) scratch.

    Padded centres have an infinite norm and are never nearest.
    """
    k4 = scaled_t.shape[1]
    for r in range(m):
        best[r] = np.inf
        best_label[r] = 0
    for j in range(0, k4, 4):
        _four_values(rows_t, m, scaled_t, center_norms, j, acc)
        for r in range(m):
            value = best[r]
            label = best_label[r]
            p = previous_t[r] - j
            pv = previous_value[r]
            pv = acc[0, r] if p == 0 else pv
            pv = acc[1, r] if p == 1 else pv
            pv = acc[2, r] if p == 2 else pv
            pv = acc[3, r] if p == 3 else pv
            previous_value[r] = pv
            v = acc[0, r]
            closer = v < value
            value = v if closer else value
            label = j if closer else label
            v = acc[1, r]
            closer = v < value
            value = v if closer else value
            label = j + 1 if closer else label
            v = acc[2, r]
            closer = v < value
            value = v if closer else value
            label = j + 2 if closer else label
            v = acc[3, r]
            closer = v < value
            value = v if closer else value
            label = j + 3 if closer else label
            best[r] = value
            best_label[r] = label
