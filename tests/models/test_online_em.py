"""GaussianMixture.partial_fit: online EM (kmix.models.online_em)."""

import warnings

import numpy as np
import pytest

from kmix.exceptions import NumericalError
from kmix.kernels import gmm as gk
from kmix.models.gaussian_mixture import GaussianMixtureCore as GaussianMixture
from kmix.models.online_em import moved, statistics_of_parameters, step_size
from kmix.models.em import MixtureParameters, update_parameters

CENTRES = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])


def _blobs(n, seed=0, centres=CENTRES):
    rng = np.random.default_rng(seed)
    labels = rng.integers(len(centres), size=n)
    return centres[labels] + rng.normal(size=(n, centres.shape[1]))


def _batches(X, size):
    return [X[i:i + size] for i in range(0, len(X), size)]


def test_three_passes_reach_the_batch_fit():
    X = _blobs(20_000)
    batch = GaussianMixture(3, random_state=0).fit(X).score(X)
    model = GaussianMixture(3, random_state=0)
    for _ in range(3):
        for part in _batches(X, 1000):
            model.partial_fit(part)
    assert model.n_iter_ == 60 and model.converged_ is False
    assert model.history_.log_likelihood.shape == (60,)
    assert model.history_.means.shape == (61, 3, 2)
    assert model.lower_bound_ == model.history_.log_likelihood[-1]
    assert abs(model.score(X) - batch) <= 0.005 * abs(batch)


def _start(X, covariance_type, seed=1):
    """Parameters a few EM iterations from a random start: not a fixed point."""
    model = GaussianMixture(3, covariance_type=covariance_type, init_params="random", max_iter=2,
                            random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stopped at max_iter
        model.fit(X)
    return dict(weights_init=model.weights_, means_init=model.means_, precisions_init=model.precisions_)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied", "VEV"])
def test_a_step_of_one_is_one_em_iteration(covariance_type):
    X = _blobs(1000, seed=2)
    start = _start(X, covariance_type)
    fit = GaussianMixture(3, covariance_type=covariance_type, max_iter=1, **start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stopped at max_iter
        fit.fit(X)
    online = GaussianMixture(3, covariance_type=covariance_type, step_offset=1.0, **start).partial_fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(online, name), getattr(fit, name), rtol=1e-9, atol=1e-12)
    assert online.lower_bound_ == pytest.approx(fit.lower_bound_, rel=1e-12)
    assert online.n_iter_ == 1


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_statistics_moved_to_another_shift_are_those_taken_there(covariance_type):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 3))
    resp = rng.dirichlet(np.ones(2), size=200)
    weight = rng.uniform(0.5, 2.0, size=200)
    a, b = rng.normal(size=(2, 2, 3))
    layout = gk.layout_of(covariance_type)
    direct = gk.block_statistics(X, weight, resp, b, layout)
    shifted = moved(gk.block_statistics(X, weight, resp, a, layout), b, layout)
    for ours, theirs in zip(shifted[:3], direct[:3]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical", "EEV"])
def test_the_statistics_of_parameters_give_them_back(covariance_type):
    X = _blobs(600, seed=4)
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    parameters = MixtureParameters(model.weights_, model.means_, model.covariances_, model.precisions_cholesky_)
    again = update_parameters(statistics_of_parameters(parameters, covariance_type, 1e-6), covariance_type,
                              1e-6, np.float64, 1, model.covariances_)
    for ours, theirs in zip(again, parameters):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_an_integer_weight_is_the_row_repeated():
    X = _blobs(3000, seed=5)
    counts = np.random.default_rng(6).integers(0, 4, size=len(X))
    start = _start(X, "full")
    weighted = GaussianMixture(3, **start)
    repeated = GaussianMixture(3, **start)
    for rows in (slice(0, 1000), slice(1000, 2000), slice(2000, 3000)):
        weighted.partial_fit(X[rows], sample_weight=counts[rows])
        repeated.partial_fit(np.repeat(X[rows], counts[rows], axis=0))
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(weighted, name), getattr(repeated, name), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted.history_.log_likelihood, repeated.history_.log_likelihood, rtol=1e-12)


def _distance_to(means, centres):
    return sum(np.min(np.linalg.norm(means - centre, axis=1)) for centre in centres)


def test_half_life_tracks_means_that_move():
    moved_centres = CENTRES + np.array([3.0, -2.0])
    stream = np.concatenate([_blobs(10_000, seed=7), _blobs(10_000, seed=8, centres=moved_centres)])
    distances = {}
    for half_life in (None, 2000):
        model = GaussianMixture(3, random_state=0, half_life=half_life)
        for part in _batches(stream, 500):
            model.partial_fit(part)
        distances[half_life] = _distance_to(model.means_, moved_centres)
    assert distances[2000] < 0.5 * distances[None]
    assert distances[2000] < 0.4


def test_the_step_with_half_life():
    assert step_size(0, 1.0, 0.6, None, 10.0) == 1.0
    assert step_size(8, 2.0, 1.0, None, 10.0) == pytest.approx(0.1)
    # A floor of 1 - 2^(-W/h): h/W steps of it halve the old statistics.
    floor = step_size(10**6, 2.0, 0.6, 400.0, 100.0)
    assert (1 - floor) ** 4 == pytest.approx(0.5)


def test_predictions_after_one_call_and_fit_starts_again():
    X = _blobs(2000, seed=9)
    model = GaussianMixture(3, random_state=0).partial_fit(X[:500])
    assert model.predict(X).shape == (2000,) and np.isfinite(model.score_samples(X)).all()
    np.testing.assert_allclose(model.precisions_, np.linalg.inv(model.covariances_), rtol=1e-8)
    model.partial_fit(X[500:503])  # fewer rows than components is fine after the start
    assert model.n_iter_ == 2
    model.fit(X)
    model.partial_fit(X[:500])  # continues from fit's parameters, a new history
    assert model.n_iter_ == 1 and model.history_.log_likelihood.shape == (1,)


def test_n_init_keeps_the_start_under_which_the_first_batch_is_most_likely():
    X = _blobs(1000, seed=10)
    one = GaussianMixture(3, init_params="random_from_data", random_state=3).partial_fit(X)
    three = GaussianMixture(3, init_params="random_from_data", n_init=3, random_state=3).partial_fit(X)
    # The first of the three draws is the one start of n_init=1.
    assert three.history_.log_likelihood[0] >= one.history_.log_likelihood[0]


def test_changing_n_features_raises():
    X = _blobs(500)
    model = GaussianMixture(3, random_state=0).partial_fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 2 features"):
        model.partial_fit(np.ones((100, 3)))


@pytest.mark.parametrize("name, value, message", [
    ("step_exponent", 0.5, "step_exponent must be > 0.5"),
    ("step_exponent", 1.5, "step_exponent must be <= 1.0"),
    ("step_offset", 0.5, "step_offset must be >= 1.0"),
    ("step_offset", "2", "step_offset must be a real number"),
    ("half_life", 0.0, "half_life must be > 0.0"),
    ("half_life", -5, "half_life must be > 0.0"),
    ("half_life", float("inf"), "half_life must be finite"),
])
def test_bad_parameters_are_named(name, value, message):
    X = _blobs(300)
    with pytest.raises(ValueError, match=message):
        GaussianMixture(3, **{name: value}).partial_fit(X)
    with pytest.raises(ValueError, match=message):
        GaussianMixture(3, **{name: value}).fit(X)


def test_changing_n_components_raises():
    X = _blobs(500)
    model = GaussianMixture(3, random_state=0).partial_fit(X)
    model.n_components = 2
    with pytest.raises(ValueError, match="n_components and covariance_type must stay 3 and 'full'"):
        model.partial_fit(X)


def test_a_collapsed_component_raises_as_fit_does():
    X = np.zeros((20, 1))
    X[10:] = 1.0
    start = dict(weights_init=[0.5, 0.5], means_init=[[0.0], [1.0]], precisions_init=[1e4, 1e4])
    # With step_offset 1 the first step keeps nothing of the start: the batch's
    # variances, zero, as fit's first iteration.
    model = GaussianMixture(2, covariance_type="spherical", reg_covar=0.0, step_offset=1.0, **start)
    with pytest.raises(NumericalError, match="ill-defined empirical covariance") as online:
        model.partial_fit(X)
    with pytest.raises(NumericalError, match="ill-defined empirical covariance") as batch:
        model.fit(X)
    assert str(online.value) == str(batch.value)


def test_partial_fit_records_the_first_batch_column_names():
    pd = pytest.importorskip("pandas")
    import kmix

    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(200, 2)), columns=["a", "b"])
    model = kmix.GaussianMixture(2, random_state=0).partial_fit(frame)
    assert list(model.feature_names_in_) == ["a", "b"]
    model.partial_fit(frame)
    means = model.means_.copy()
    with pytest.raises(ValueError, match="feature names"):
        model.partial_fit(frame.rename(columns={"a": "c"}))
    np.testing.assert_array_equal(model.means_, means)  # refused before the step
    assert model.n_iter_ == 2
