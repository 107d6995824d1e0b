"""Elementary compiled operations (numba): the exponential of the E-step's
log-sum-exp, written so that a loop over rows compiles to SIMD instructions, and
copies from one array into another written as loops.

A loop that calls ``np.exp`` runs the C library's scalar routine once per value;
:func:`exp_flushed` is plain arithmetic instead, so a loop of it is vectorised
like any other. It is the textbook method: ``x = n ln 2 + r`` with ``n`` the
nearest integer to ``x / ln 2`` and ``|r| <= ln 2 / 2``, ``ln 2`` split in two
parts (the first with trailing zero bits, so ``n`` times it is exact); ``e^r``
by its Taylor polynomial of degree 13 (the first term left out is below
``2^-57`` relative); ``2^n`` built from its bits. The result is within one unit
in the last place of the correctly rounded value (tested against ``np.exp``).

Assigning one array (or a slice of one) to a slice of another brings numba's
broadcasting check, with its error message built from strings, into the compiled
caller: code that a first run compiles for nothing where the shapes always agree.
:func:`copy_range` and :func:`copy_values` copy without it.
"""

from __future__ import annotations

import math

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from . import CONTRACT

__all__ = ["exp_flushed", "LOG_TINY", "copy_range", "copy_values"]

# log of the smallest normal float64: below it the exponential is subnormal or
# zero, and flushed to zero (a subnormal weight changes no sum, but slows every
# product it enters).
_TINY = float(np.finfo(np.float64).tiny)
LOG_TINY = math.log(_TINY)
# above it the exponential overflows
_LOG_HUGE = math.log(np.finfo(np.float64).max)
_LOG2_E = 1.0 / math.log(2.0)
_LN2_HIGH = 6.93147180369123816490e-01  # 32 significant bits
_LN2_LOW = 1.90821492927058770002e-10  # ln 2 - _LN2_HIGH
# Adding 1.5 * 2^52 rounds a value below 2^51 in magnitude to an integer, held in
# the low bits of the sum's significand.
_ROUNDER = 6755399441055744.0
# 1/i! for i = 13, then 12 down to 0
_HIGHEST = 1.0 / math.factorial(13)
_LOWER = tuple(1.0 / math.factorial(i) for i in range(12, -1, -1))


@intrinsic
def _bits_of(typingctx, value):  # pragma: no cover - compiled
    """The 64 bits of a float64, as an int64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _float_of(typingctx, bits):  # pragma: no cover - compiled
    """The float64 whose 64 bits are ``bits`` (an int64)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@njit(cache=True, fastmath=CONTRACT)
def exp_flushed(x):  # pragma: no cover - compiled
    """``e^x`` for a float64 ``x``, 0.0 where it is below the smallest normal number
    (``x < LOG_TINY``) and where ``x`` is NaN; ``inf`` above the largest float."""
    clamped = min(max(x, LOG_TINY), _LOG_HUGE)
    shifted = clamped * _LOG2_E + _ROUNDER
    n = shifted - _ROUNDER  # the nearest integer to x / ln 2, in [-1022, 1024]
    r = (clamped - n * _LN2_HIGH) - n * _LN2_LOW
    p = _HIGHEST
    for coefficient in _LOWER:  # Horner's rule
        p = p * r + coefficient
    exponent = _bits_of(shifted) - _bits_of(_ROUNDER)  # n as an integer
    # 2^1024 has no float64: 2^1023 and a doubling (exact) instead.
    top = exponent > 1023
    exponent = exponent - 1 if top else exponent
    value = p * _float_of((exponent + 1023) << 52)
    value = value * 2.0 if top else value
    value = value if x <= _LOG_HUGE else np.inf
    # x >= LOG_TINY is false for NaN too
    return value if x >= LOG_TINY and value >= _TINY else 0.0


@njit(cache=True)
def copy_range(source, start, m, target, target_start):  # pragma: no cover - compiled
    """target[target_start:target_start + m] = source[start:start + m] (1-D arrays;
    a narrower dtype in ``target`` takes each value rounded to it)."""
    # Slices indexed by the loop's own counter (see kmeans_lloyd._transpose_rows).
    source = source[start:start + m]
    target = target[target_start:target_start + m]
    for r in range(m):
        target[r] = source[r]


@njit(cache=True)
def copy_values(source, target):  # pragma: no cover - compiled
    """target[...] = source, for two arrays of the same shape."""
    for index in np.ndindex(target.shape):
        target[index] = source[index]
