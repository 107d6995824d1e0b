"""Compiled k-means kernels (numba): the nearest centre (plain pass) and the two
nearest values (bounded pass's full scans) of a tile of rows of 8 or 16 (padded)
features, every feature's product written out.

:func:`kmix.kernels.compiled.kmeans_tiles._nearest_blocked` keeps the partial values
of four centres in memory between groups of four features: the loop over features
sits outside the loop over rows, because a loop inside it keeps the compiler from
running the rows in SIMD lanes. With the number of features fixed and each
centre's value written as one expression, the loop over rows has no inner loop:
the compiler keeps the values of eight centres in registers across all the
features (in SIMD lanes as it sees fit), with no partial value stored and loaded
again.

The expressions are the blocked loop's (and so the bounded pass's, whose values
come from the blocked loop's ``_four_values``), in its order (``||c||² + x_0 c'_0 +
x_1 c'_1 + ...`` from the left, each multiply-add fused or not exactly as there),
and the centres are compared in the same order with the same strict '<': the
results are the blocked loop's bit for bit (tested).

The source for a width is made from the template below when the width is first
asked for, and compiled under this file's name, so numba caches it on disk like
any function of the package (a function made by ``exec`` without a file would be
compiled again in every process). Only the widths a run uses are compiled. The
passes take a width's kernel as a first-class function (:func:`nearest_signature`,
:func:`nearest_two_signature`; see :mod:`.function_argument`): each pass is compiled
once for every width.
"""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from numba import from_dtype, njit, types

from . import CONTRACT
from .function_argument import FunctionArgument

__all__ = ["UNROLLED_WIDTHS", "kernel_argument", "nearest_kernel", "nearest_signature",
           "nearest_two_kernel", "nearest_two_signature"]

# Padded widths with a kernel of their own: the plain pass pads 4 to 8 features to
# 8 and 9 to 16 to 16 (zero features add nothing but multiply-adds, fewer than the
# blocked loop's loads and stores); wider tiles go to the blocked loop. Each width
# is one more pass to compile, in each dtype, on first use.
UNROLLED_WIDTHS = (8, 16)

# Centres per written-out block: eight at a time (each block reads the tile once),
# then a block of four for the last four of a padded count that is not a multiple
# of eight.
_BLOCK_CENTERS = (8, 4)


def _block(d4: int, width: int, merge: list[str]) -> list[str]:
    """Lines for centres j .. j + width - 1 of a tile with ``d4`` (padded) features:
    their norms and coefficients loaded once, then a loop over rows computing each
    centre's value ``v{q}`` and running ``merge`` on them."""
    centres = range(width)
    features = range(d4)
    lines = [", ".join(f"n{q}" for q in centres) + " = "
             + ", ".join(f"center_norms[j + {q}]" for q in centres)]
    for f in features:
        lines.append(", ".join(f"s{f}_{q}" for q in centres) + " = "
                     + ", ".join(f"scaled_t[{f}, j + {q}]" for q in centres))
    body = [", ".join(f"x{f}" for f in features) + " = "
            + ", ".join(f"rows_t[{f}, r]" for f in features)]
    body += [f"v{q} = n{q}" + "".join(f" + x{f} * s{f}_{q}" for f in features) for q in centres]
    return lines + ["for r in range(m):"] + ["    " + line for line in body + merge]


def _nearest_merge(width: int) -> list[str]:
    """Merge into the running minimum (``_nearest_blocked``'s arguments in scope).
    Written: best, best_label, previous_value (the value of each row's previous
    centre, where it is one of these)."""
    lines = ["value = best[r]", "label = best_label[r]", "p = previous_t[r] - j",
             "pv = previous_value[r]"]
    for q in range(width):
        lines += [f"closer = v{q} < value",
                  f"value = v{q} if closer else value",
                  f"label = np.int32(j + {q}) if closer else label",
                  f"pv = v{q} if p == {q} else pv"]
    return lines + ["best[r] = value", "best_label[r] = label", "previous_value[r] = pv"]


def _two_merge(width: int) -> list[str]:
    """Merge into each row's smallest and second smallest value (``_nearest_two``'s
    arguments in scope). Written: best, best_label, second."""
    lines = ["value = best[r]", "label = best_label[r]", "runner = second[r]"]
    for q in range(width):
        # The runner-up is the smaller of itself and the larger of the value and the
        # minimum so far (equal values: the second equals the best).
        lines += [f"larger = v{q} if v{q} > value else value",
                  "runner = larger if larger < runner else runner",
                  f"closer = v{q} < value",
                  f"value = v{q} if closer else value",
                  f"label = np.int32(j + {q}) if closer else label"]
    return lines + ["best[r] = value", "best_label[r] = label", "second[r] = runner"]


def _source(header: list[str], resets: list[str], d4: int, merge) -> str:
    """A kernel's source: ``header`` (its def and docstring), ``resets`` for each row
    of the tile, then every centre in blocks of eight, then four, merged by the
    lines ``merge(width)`` writes."""
    eight, four = _BLOCK_CENTERS
    lines = header + ["    k4 = scaled_t.shape[1]", "    for r in range(m):"]
    lines += ["        " + line for line in resets]
    lines += ["    j = 0", f"    while j + {eight} <= k4:"]
    lines += ["        " + line for line in _block(d4, eight, merge(eight))]
    lines += [f"        j += {eight}", "    if j < k4:"]
    lines += ["        " + line for line in _block(d4, four, merge(four))]
    return "\n".join(lines) + "\n"


def _nearest_source(d4: int) -> str:
    """Source of ``_nearest_{d4}``."""
    header = [f"def _nearest_{d4}(rows_t, m, scaled_t, center_norms, previous_t, best, best_label,",
              "               previous_value, acc):",
              f'    """``_nearest_blocked`` for {d4} padded features, written out (acc unused)."""']
    return _source(header, ["best[r] = np.inf", "best_label[r] = 0"], d4, _nearest_merge)


def _nearest_two_source(d4: int) -> str:
    """Source of ``_nearest_two_{d4}``."""
    header = [f"def _nearest_two_{d4}(rows_t, m, scaled_t, center_norms, best, best_label, second,",
              "                   acc):",
              f'    """``kmeans_bounded._nearest_two`` for {d4} padded features, written out',
              '    (acc unused)."""']
    return _source(header, ["best[r] = np.inf", "second[r] = np.inf", "best_label[r] = 0"], d4,
                   _two_merge)


_kernels: dict[str, object] = {}


def _kernel(name: str, source, d4: int):
    """The dispatcher of the function ``name`` that ``source(d4)`` writes, made on
    first request and compiled on first call."""
    if name not in _kernels:
        # Defined in this module's namespace, with this file as its source: numba's
        # disk cache keys functions by file and name.
        namespace = globals()
        exec(compile(source(d4), __file__, "exec"), namespace)
        _kernels[name] = njit(cache=True, fastmath=CONTRACT)(namespace[name])
    return _kernels[name]


def nearest_kernel(d4: int):
    """The written-out nearest-centre kernel for tiles of ``d4`` padded features
    (a numba dispatcher, arguments as ``_nearest_blocked``), or None for widths
    without one. Made on first request, compiled on first call."""
    if d4 not in UNROLLED_WIDTHS:
        return None
    return _kernel(f"_nearest_{d4}", _nearest_source, d4)


def nearest_two_kernel(d4: int):
    """The written-out kernel of the bounded pass's full scans (each row's smallest
    and second smallest value, arguments as ``kmeans_bounded._nearest_two``) for
    ``d4`` padded features, or None for widths without one. The values are the
    plain kernel's, so the same labels; made on first request, compiled on first
    call."""
    if d4 not in UNROLLED_WIDTHS:
        return None
    return _kernel(f"_nearest_two_{d4}", _nearest_two_source, d4)


def nearest_signature(dtype):
    """The one signature of every nearest-centre kernel (``_nearest_blocked``'s
    arguments) for rows of ``dtype``: the plain pass takes its width's kernel as a
    first-class function of it."""
    real = from_dtype(np.dtype(dtype))
    vector, matrix = types.Array(real, 1, "C"), types.Array(real, 2, "C")
    labels = types.Array(types.int32, 1, "C")
    return types.void(matrix, types.int64, matrix, vector, labels, vector, labels, vector, matrix)


def nearest_two_signature(dtype):
    """The same for the kernels of the bounded pass's full scans
    (``kmeans_bounded._nearest_two``'s arguments)."""
    real = from_dtype(np.dtype(dtype))
    vector, matrix = types.Array(real, 1, "C"), types.Array(real, 2, "C")
    labels = types.Array(types.int32, 1, "C")
    return types.void(matrix, types.int64, matrix, vector, vector, labels, vector, matrix)


_ARGUMENTS: dict = {}


def kernel_argument(two: bool, d4: int, dtype, generic) -> FunctionArgument:
    """The kernel a pass takes for tiles of ``d4`` padded features of ``dtype``, as
    a first-class function: the nearest-two kernel (``two``, the bounded pass's full
    scans) or the nearest-centre one (the plain pass), written out for that width,
    or ``generic`` (the blocked loop, the same values bit for bit) for widths
    without one. Made once per kind, width and dtype; compiled on first use."""
    key = (two, d4, np.dtype(dtype).name)
    if key not in _ARGUMENTS:
        kernel = nearest_two_kernel(d4) if two else nearest_kernel(d4)
        signature = nearest_two_signature(dtype) if two else nearest_signature(dtype)
        _ARGUMENTS[key] = FunctionArgument(generic if kernel is None else kernel, signature)
    return _ARGUMENTS[key]
