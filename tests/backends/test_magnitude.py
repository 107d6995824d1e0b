"""Data whose squares would overflow or underflow: fitted correctly in a wider
dtype, or refused with a message that says how to rescale; never inf or NaN."""

import warnings

import numpy as np
import pytest

from kmix import GaussianMixture, KMeans
from kmix._validation import magnitude_dtype
from kmix.exceptions import DataError


@pytest.fixture
def blobs(rng):
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    return np.concatenate([c + rng.normal(size=(60, 2)) for c in centres])


def _estimators():
    return [KMeans(3, n_init=1, random_state=0), GaussianMixture(3, random_state=0)]


def _finite_results(model):
    if isinstance(model, KMeans):
        values = [model.cluster_centers_, np.array(model.inertia_)]
    else:
        values = [model.weights_, model.means_, model.covariances_, model.precisions_cholesky_,
                  np.array(model.lower_bound_)]
    return all(np.isfinite(v).all() for v in values)


# --- the rule itself ---------------------------------------------------------------------

def test_magnitude_dtype_keeps_ordinary_data_in_its_dtype():
    low, high = np.array([-3.0, -1e6]), np.array([5.0, 2e6])
    assert magnitude_dtype(low, high, np.zeros(2), 1e6, np.float32) == np.float32
    assert magnitude_dtype(low, high, np.zeros(2), 1e6, np.float64) == np.float64
    # Identical rows: nothing to resolve, nothing to overflow.
    assert magnitude_dtype(np.ones(3), np.ones(3), np.ones(3), 10, np.float32) == np.float32


def test_magnitude_dtype_widens_float32_then_refuses_float64():
    assert magnitude_dtype(np.array([-1e20]), np.array([1e20]), np.zeros(1), 100, np.float32) == np.float64
    assert magnitude_dtype(np.array([0.0]), np.array([1e-20]), np.zeros(1), 100, np.float32) == np.float64
    with pytest.raises(DataError, match=r"as large as 1e\+160.*Divide the data by a constant \(for example 1e160\)"):
        magnitude_dtype(np.array([-1e160]), np.array([1e160]), np.zeros(1), 100, np.float64)
    with pytest.raises(DataError, match=r"differ by at most 1e-160.*Multiply the data by a constant \(for example 1e160\)"):
        magnitude_dtype(np.array([0.0]), np.array([1e-160]), np.zeros(1), 100, np.float64)


def test_magnitude_dtype_counts_the_weights_and_the_offset():
    low, high = np.array([-1e100]), np.array([1e100])
    with pytest.raises(DataError, match="sample weights add up to 1e\\+250.*Divide the weights"):
        magnitude_dtype(low, high, np.zeros(1), 1e250, np.float64)
    # Far from the offset the kernels subtract: as large as the distance to it.
    with pytest.raises(DataError, match="Divide the data"):
        magnitude_dtype(np.array([1e300]), np.array([1e300]), np.array([-1e300]), 1, np.float64)
    with pytest.raises(DataError, match="Divide the data"):
        magnitude_dtype(np.array([1e300]), np.array([1e300]), np.array([np.inf]), 1, np.float64)


# --- the estimators, in memory ------------------------------------------------------------

@pytest.mark.parametrize("factor", [1e154, 1e200, 1e307])
@pytest.mark.parametrize("estimator", range(2))
def test_float64_data_whose_squares_overflow_is_refused(blobs, factor, estimator):
    model = _estimators()[estimator]
    with pytest.raises(DataError, match=r"X has values as large as .*Divide the data by a constant"):
        model.fit(blobs * factor)


@pytest.mark.parametrize("estimator", range(2))
def test_a_huge_offset_is_refused_not_nan(blobs, estimator):
    with pytest.raises(DataError, match=r"as large as 1e\+300.*Divide the data"):
        _estimators()[estimator].fit(blobs + 1e300)


@pytest.mark.parametrize("estimator", range(2))
def test_tiny_data_is_refused_rather_than_collapsed(blobs, estimator):
    with pytest.raises(DataError, match=r"differ by at most .*Multiply the data by a constant"):
        _estimators()[estimator].fit(blobs * 1e-300)


@pytest.mark.parametrize("estimator", range(2))
def test_large_float64_data_within_range_fits_as_scaled_data(blobs, estimator):
    scale = 2.0**490  # a power of two: the scaled fit is the same fit, exactly scaled
    small, large = _estimators()[estimator].fit(blobs), _estimators()[estimator].fit(blobs * scale)
    assert _finite_results(large)
    if isinstance(small, KMeans):
        np.testing.assert_array_equal(small.labels_, large.labels_)
        np.testing.assert_allclose(large.cluster_centers_ / scale, small.cluster_centers_, rtol=1e-12)
        assert large.inertia_ / scale**2 == pytest.approx(small.inertia_, rel=1e-12)
    else:
        # Only reg_covar, added unscaled, tells the two apart.
        np.testing.assert_allclose(large.means_ / scale, small.means_, rtol=0, atol=1e-4)


@pytest.mark.parametrize("estimator", range(2))
def test_float32_data_whose_squares_overflow_float32_is_fitted_in_float64(blobs, estimator):
    scale = 2.0**70  # about 1.2e21: squared distances far beyond float32's 3.4e38
    X32 = (blobs * scale).astype(np.float32)
    model = _estimators()[estimator].fit(X32)
    assert _finite_results(model)
    reference = _estimators()[estimator].fit(X32.astype(np.float64))
    if isinstance(model, KMeans):
        np.testing.assert_array_equal(model.labels_, reference.labels_)
        assert model.inertia_ == pytest.approx(reference.inertia_, rel=1e-12)
        assert np.isfinite(model.score(X32)) and np.isfinite(model.transform(X32)).all()
        np.testing.assert_array_equal(model.predict(X32), reference.labels_)
    else:
        np.testing.assert_allclose(model.means_, reference.means_, rtol=1e-10)
        assert model.covariances_.dtype == np.float64  # beyond float32's range
        assert np.isfinite(model.score(X32))
        np.testing.assert_array_equal(model.predict(X32), reference.predict(X32))


def test_float32_data_at_a_huge_offset_is_centred_in_float64(blobs):
    X32 = (blobs + 1e30).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer distinct points than clusters
        model = KMeans(3, n_init=1, random_state=0).fit(X32)
    assert _finite_results(model) and model.inertia_ == 0.0


def test_huge_sample_weights_are_refused(blobs):
    weight = np.full(len(blobs), 1e300)
    for model in _estimators():
        with pytest.raises(DataError, match="sample weights add up to .*Divide the weights"):
            model.fit(blobs * 1e10, sample_weight=weight)


@pytest.mark.parametrize("estimator", range(2))
def test_predicting_rows_far_beyond_the_model_is_refused(blobs, estimator):
    model = _estimators()[estimator].fit(blobs)
    far = blobs * 1e200
    for method in ("predict", "score"):
        with pytest.raises(DataError, match="Divide the data"):
            getattr(model, method)(far)


# --- the same rule on dask ----------------------------------------------------------------

def test_dask_refuses_overflowing_data_and_widens_float32(blobs, client):
    da = pytest.importorskip("dask.array")
    with pytest.raises(DataError, match="Divide the data by a constant"):
        KMeans(3, random_state=0, client=client).fit(da.from_array(blobs * 1e200, chunks=50))
    X32 = (blobs * 2.0**70).astype(np.float32)
    init = X32[[0, 60, 120]]
    in_memory = KMeans(3, init=init, n_init=1).fit(X32)
    chunked = KMeans(3, init=init, n_init=1, client=client).fit(da.from_array(X32, chunks=50))
    np.testing.assert_array_equal(np.asarray(chunked.labels_), in_memory.labels_)
    assert np.isfinite(chunked.inertia_)
    assert chunked.inertia_ == pytest.approx(in_memory.inertia_, rel=1e-9)
    mixture = GaussianMixture(3, random_state=0, client=client).fit(da.from_array(X32, chunks=50))
    assert _finite_results(mixture)
