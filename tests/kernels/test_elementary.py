"""The compiled exponential of the E-step and the compiled copies
(kmix.kernels.compiled.elementary)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from numba import njit  # noqa: E402

from kmix.kernels.compiled.elementary import LOG_TINY, copy_range, copy_values, exp_flushed  # noqa: E402

TINY = np.finfo(np.float64).tiny
LOG_HUGE = np.log(np.finfo(np.float64).max)


@njit(cache=False)
def _exp_all(values, out):  # pragma: no cover - compiled
    for i in range(values.shape[0]):
        out[i] = exp_flushed(values[i])


def _exp(values):
    values = np.ascontiguousarray(values, dtype=np.float64)
    out = np.empty_like(values)
    _exp_all(values, out)
    return out


def _reference(values):
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        expected = np.exp(values)
    return np.where(expected >= TINY, expected, 0.0)  # NaN compares false: 0


def test_within_one_unit_in_the_last_place_of_numpy_over_the_whole_range():
    rng = np.random.default_rng(0)
    values = np.concatenate([
        rng.uniform(LOG_TINY, LOG_HUGE, size=200_000),
        rng.uniform(-1.0, 1.0, size=100_000),
        rng.uniform(-40.0, 0.0, size=100_000),  # the log-sum-exp's usual range
        # around the points where the reduction's integer changes
        np.log(2.0) * (np.arange(-1000, 1000) + 0.5) + rng.uniform(-1e-9, 1e-9, size=2000),
    ])
    got, expected = _exp(values), _reference(values)
    positive = expected > 0
    assert np.all(got[positive] > 0)
    ulps = np.abs(got[positive] - expected[positive]) / np.spacing(expected[positive])
    assert ulps.max() <= 1.0
    # most values are the correctly rounded one
    assert np.mean(got[positive] == expected[positive]) > 0.8


@pytest.mark.parametrize("value, expected", [
    (0.0, 1.0), (-0.0, 1.0), (1.0, np.e), (np.nan, 0.0), (-np.inf, 0.0), (np.inf, np.inf),
    (-745.2, 0.0), (-720.0, 0.0), (LOG_TINY - 1e-9, 0.0), (1000.0, np.inf),
    (LOG_HUGE, float(np.exp(LOG_HUGE))), (709.0, float(np.exp(709.0))),
])
def test_edges_flush_below_the_smallest_normal_and_overflow_to_inf(value, expected):
    got = float(_exp([value])[0])
    if np.isinf(expected) or expected in (0.0, 1.0):
        assert got == expected
    else:
        assert abs(got - expected) <= np.spacing(expected)


def test_values_just_above_the_flush_point_stay_normal():
    values = LOG_TINY + np.array([0.0, 1e-12, 1e-6, 0.5])
    got = _exp(values)
    expected = _reference(values)
    assert np.all((got == 0) == (expected == 0))
    assert np.all(got[got > 0] >= TINY)
    np.testing.assert_allclose(got, expected, rtol=4e-16, atol=0)


def test_copy_range_writes_the_range_alone():
    source = np.arange(10, dtype=np.int32)
    target = np.full(8, -1, dtype=np.int32)
    copy_range(source, 3, 4, target, 2)
    np.testing.assert_array_equal(target, [-1, -1, 3, 4, 5, 6, -1, -1])
    copy_range(source, 0, 0, target, 0)  # nothing to copy
    np.testing.assert_array_equal(target, [-1, -1, 3, 4, 5, 6, -1, -1])


def test_copy_range_into_float32_rounds_as_numpy_does():
    source = np.random.default_rng(1).standard_normal(50)
    target = np.zeros(50, dtype=np.float32)
    copy_range(source, 0, 50, target, 0)
    np.testing.assert_array_equal(target, source.astype(np.float32))


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
def test_copy_values_copies_every_element(shape):
    source = np.random.default_rng(2).standard_normal(shape)
    target = np.zeros(shape)
    copy_values(source, target)
    np.testing.assert_array_equal(target, source)


def test_copy_values_into_a_view_writes_through_it():
    target = np.zeros((3, 2, 2))
    copy_values(np.array([[1.0, 2.0], [3.0, 4.0]]), target[1])
    np.testing.assert_array_equal(target[1], [[1.0, 2.0], [3.0, 4.0]])
    assert not target[0].any() and not target[2].any()
