"""GaussianMixture: agreement with scikit-learn, weights, history, checks, errors."""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import kmix
from kmix import ConvergenceWarning, GaussianMixture, GaussianMixtureState, NumericalError
from kmix.kernels import gmm as gk

TYPES = ("full", "tied", "diag", "spherical")

# Many fits here run a fixed number of iterations (tol=0) on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::kmix.exceptions.ConvergenceWarning")


# --- data ------------------------------------------------------------------------------


def _blobs():
    make_blobs = pytest.importorskip("sklearn.datasets").make_blobs
    X, _ = make_blobs(n_samples=400, n_features=3, centers=4, cluster_std=[1.0, 2.0, 0.5, 1.5], random_state=0)
    return X, 4


def _iris():
    return pytest.importorskip("sklearn.datasets").load_iris().data, 3


def _digits_pca():
    load_digits = pytest.importorskip("sklearn.datasets").load_digits
    PCA = pytest.importorskip("sklearn.decomposition").PCA
    return PCA(n_components=8, random_state=0).fit_transform(load_digits().data), 5


DATASETS = {"blobs": _blobs, "iris": _iris, "digits-pca": _digits_pca}


@pytest.fixture(scope="module")
def blobs():
    return _blobs()[0]


def start_from(X, k, covariance_type, seed=0):
    """Initial parameters (weights, means, precisions) from a kmeans-initialised kmix fit."""
    init = GaussianMixture(k, covariance_type=covariance_type, max_iter=0, random_state=seed).fit(X)
    return dict(weights_init=init.weights_, means_init=init.means_, precisions_init=init.precisions_)


def relative_error(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# --- scikit-learn agreement -----------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("dataset", list(DATASETS))
def test_every_iteration_matches_scikit_learn_from_the_same_start(dataset, covariance_type):
    """Step scikit-learn one iteration at a time (warm_start, max_iter=1): its
    lower_bound_ after step t is the log-likelihood of the parameters after t - 1
    iterations, as kmix's history_.log_likelihood[t - 1]."""
    SkGaussianMixture = pytest.importorskip("sklearn.mixture").GaussianMixture

    X, k = DATASETS[dataset]()
    n_iter = 12
    start = start_from(X, k, covariance_type)
    ours = GaussianMixture(k, covariance_type=covariance_type, tol=0.0, max_iter=n_iter, **start).fit(X)
    theirs = SkGaussianMixture(k, covariance_type=covariance_type, tol=0.0, max_iter=1, warm_start=True, **start)
    history = ours.history_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # each one-iteration fit "did not converge"
        for t in range(n_iter):
            theirs.fit(X)
            assert relative_error(history.log_likelihood[t], theirs.lower_bound_) < 1e-8
            assert relative_error(history.weights[t + 1], theirs.weights_) < 1e-8
            assert relative_error(history.means[t + 1], theirs.means_) < 1e-8
            full = gk.full_covariances(theirs.covariances_, covariance_type, k, X.shape[1])
            assert relative_error(history.covariances[t + 1], full) < 1e-8
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"):
        assert relative_error(getattr(ours, name), getattr(theirs, name)) < 1e-8, name
    assert relative_error(ours.lower_bound_, theirs.lower_bound_) < 1e-8
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-8)
    np.testing.assert_allclose(ours.bic(X), theirs.bic(X), rtol=1e-8)
    np.testing.assert_allclose(ours.aic(X), theirs.aic(X), rtol=1e-8)


def test_a_full_fit_with_convergence_matches_scikit_learn(blobs):
    SkGaussianMixture = pytest.importorskip("sklearn.mixture").GaussianMixture

    start = start_from(blobs, 4, "full", seed=3)
    ours = GaussianMixture(4, tol=1e-6, max_iter=500, **start).fit(blobs)
    theirs = SkGaussianMixture(4, tol=1e-6, max_iter=500, **start).fit(blobs)
    assert ours.converged_ and theirs.converged_ and ours.n_iter_ == theirs.n_iter_
    assert relative_error(ours.covariances_, theirs.covariances_) < 1e-8
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=1e-10)
    if hasattr(theirs, "lower_bounds_"):
        np.testing.assert_allclose(ours.lower_bounds_, theirs.lower_bounds_, rtol=1e-10)


def test_kmeans_initialisation_is_the_m_step_of_the_kmeans_labels(blobs):
    model = GaussianMixture(4, max_iter=0, random_state=7).fit(blobs)
    labels = kmix.KMeans(4, n_init=1, random_state=np.random.default_rng(7), record_history=False).fit(blobs).labels_
    for j in range(4):
        members = blobs[labels == j]
        assert model.weights_[j] == pytest.approx(len(members) / len(blobs), rel=1e-12)
        np.testing.assert_allclose(model.means_[j], members.mean(axis=0), rtol=1e-12)
        expected = np.cov(members.T, bias=True) + 1e-6 * np.eye(3)
        np.testing.assert_allclose(model.covariances_[j], expected, rtol=1e-10)
    assert model.n_iter_ == 0 and not model.converged_ and model.history_.weights.shape == (1, 4)


@pytest.mark.parametrize("init_params", ["k-means++", "random", "random_from_data"])
def test_other_initialisations_fit_the_blobs(blobs, init_params):
    model = GaussianMixture(4, init_params=init_params, random_state=0, max_iter=300, n_init=2).fit(blobs)
    assert model.converged_
    assert model.score(blobs) > -6.0


# --- sample weights --------------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", TYPES)
def test_integer_weights_equal_repeated_points_and_zero_weights_change_nothing(rng, covariance_type):
    X = np.concatenate([rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) * 0.5 + 4.0])
    weight = rng.integers(0, 4, size=60)
    weight[:3] = [0, 0, 2]
    start = start_from(X, 3, covariance_type)
    params = dict(covariance_type=covariance_type, tol=0.0, max_iter=15, **start)
    weighted = GaussianMixture(3, **params).fit(X, sample_weight=weight)
    repeated = GaussianMixture(3, **params).fit(np.repeat(X, weight, axis=0))
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(weighted, name), getattr(repeated, name), rtol=1e-10, err_msg=name)
    np.testing.assert_allclose(weighted.history_.log_likelihood, repeated.history_.log_likelihood, rtol=1e-11)
    # Zero-weight points: the same as leaving them out, wherever they are.
    extra = rng.normal(size=(10, 2)) * 20.0
    padded = GaussianMixture(3, **params).fit(
        np.concatenate([extra[:5], X, extra[5:]]),
        sample_weight=np.concatenate([np.zeros(5), np.ones(60), np.zeros(5)]),
    )
    alone = GaussianMixture(3, **params).fit(X)
    np.testing.assert_allclose(padded.means_, alone.means_, rtol=1e-11)
    np.testing.assert_allclose(padded.covariances_, alone.covariances_, rtol=1e-11)
    np.testing.assert_allclose(padded.lower_bounds_, alone.lower_bounds_, rtol=1e-12)


def test_sample_weight_is_not_modified_and_score_is_weighted(blobs):
    weight = np.linspace(0.0, 2.0, len(blobs))
    copy = weight.copy()
    model = GaussianMixture(2, random_state=0).fit(blobs, sample_weight=weight)
    np.testing.assert_array_equal(weight, copy)
    expected = np.average(model.score_samples(blobs), weights=weight)
    assert model.score(blobs, sample_weight=weight) == pytest.approx(expected, rel=1e-12)


# --- the log-likelihood never decreases -------------------------------------------------------


def reg_covar_cost(weights, covariances, reg_covar):
    """How much adding reg_covar to the exact M-step covariance S can lower the
    expected log-likelihood, per unit weight: Σ_k π_k/2 Σ_j f(s_kj), over the
    eigenvalues s of S, with f(s) = log(1 + ε/s) - ε/(s + ε) (zero when ε = 0)."""
    if reg_covar == 0.0:
        return 0.0
    eigenvalues = np.linalg.eigvalsh(covariances) - reg_covar
    if np.any(eigenvalues <= 0):
        return np.inf
    cost = np.log1p(reg_covar / eigenvalues) - reg_covar / (eigenvalues + reg_covar)
    return float(0.5 * np.sum(weights * cost.sum(axis=1)))


@pytest.mark.parametrize("covariance_type", TYPES)
@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_components=st.integers(1, 3),
    n_features=st.integers(1, 3),
    init_params=st.sampled_from(["kmeans", "random", "random_from_data", "k-means++"]),
    reg_covar=st.sampled_from([0.0, 1e-6, 1e-3]),
)
def test_log_likelihood_never_decreases(covariance_type, seed, n_components, n_features, init_params, reg_covar):
    """EM's guarantee. With reg_covar > 0 the M-step is perturbed, so a step may
    lose at most the (computable) cost of that perturbation, as in scikit-learn."""
    if reg_covar == 0.0 and init_params in ("random_from_data", "k-means++"):
        init_params = "kmeans"  # one-point starting components need reg_covar > 0
    data_rng = np.random.default_rng(seed)
    n_samples = int(data_rng.integers(10 * n_components, 60 * n_components))
    X = data_rng.normal(size=(n_samples, n_features)) * data_rng.uniform(0.2, 5.0, size=n_features)
    X[: n_samples // 2] += data_rng.normal(scale=4.0, size=n_features)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GaussianMixture(
            n_components, covariance_type=covariance_type, init_params=init_params, reg_covar=reg_covar,
            tol=0.0, max_iter=25, random_state=seed, record_history=True,
        )
        try:
            model.fit(X)
        except NumericalError:
            # Without reg_covar the likelihood is unbounded: EM may shrink a
            # component onto a few points until its covariance is singular, and
            # kmix then stops with a NumericalError (tested on its own below).
            # Such an example says nothing about monotonicity.
            assume(reg_covar > 0.0)
            raise
    history = model.history_
    log_likelihood = history.log_likelihood
    for t in range(len(log_likelihood) - 1):
        allowed = reg_covar_cost(history.weights[t + 1], history.covariances[t + 1], reg_covar)
        allowed += 1e-12 * max(1.0, abs(log_likelihood[t]))
        assert log_likelihood[t + 1] - log_likelihood[t] >= -allowed, (t, log_likelihood[t: t + 2])


# --- collapsing components and numerical failure --------------------------------------------------


def test_collapsing_components_do_not_crash(rng):
    # Fewer points than dimensions in a component, and duplicate points.
    few = np.concatenate([rng.normal(size=(3, 6)), rng.normal(size=(30, 6)) + 8.0])
    model = GaussianMixture(2, random_state=0).fit(few)
    assert np.all(np.isfinite(model.covariances_)) and np.all(np.isfinite(model.score_samples(few)))
    duplicates = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 2.0]]), 10, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GaussianMixture(3, random_state=0).fit(duplicates)
    np.testing.assert_allclose(np.sort(model.weights_), [1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(model.covariances_, np.broadcast_to(1e-6 * np.eye(2), (3, 2, 2)), rtol=1e-6)


def test_failed_cholesky_names_the_component_and_what_to_do():
    duplicates = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 2.0]]), 10, axis=0)
    with pytest.raises(NumericalError, match=r"component \d.*increase reg_covar, reduce n_components or scale"):
        GaussianMixture(3, reg_covar=0.0, random_state=0).fit(duplicates)


# --- float32 ---------------------------------------------------------------------------------------


def test_float32_input_stays_float32_and_agrees_with_float64(blobs):
    X32 = blobs.astype(np.float32)
    start = start_from(blobs, 4, "full")
    fit32 = GaussianMixture(4, max_iter=20, tol=0.0, **start).fit(X32)
    fit64 = GaussianMixture(4, max_iter=20, tol=0.0, **start).fit(blobs)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert getattr(fit32, name).dtype == np.float32, name
    np.testing.assert_allclose(fit32.means_, fit64.means_, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fit32.lower_bounds_, fit64.lower_bounds_, rtol=1e-5)
    assert fit32.predict_proba(X32).dtype == np.float32
    np.testing.assert_array_equal(fit32.predict(X32), fit64.predict(blobs))


# --- history, callback, warm start, n_init -----------------------------------------------------------


@pytest.mark.parametrize("covariance_type", TYPES)
def test_history_records_every_iteration_as_full_matrices(blobs, covariance_type):
    model = GaussianMixture(4, covariance_type=covariance_type, random_state=0, tol=1e-8, max_iter=300).fit(blobs)
    history = model.history_
    n, k, d = model.n_iter_, 4, 3
    assert history.log_likelihood.shape == (n,)
    assert history.weights.shape == (n + 1, k)
    assert history.means.shape == (n + 1, k, d)
    assert history.covariances.shape == (n + 1, k, d, d)
    np.testing.assert_array_equal(history.means[-1], model.means_)
    np.testing.assert_allclose(history.covariances[-1], gk.full_covariances(model.covariances_, covariance_type, k, d))
    initial = GaussianMixture(4, covariance_type=covariance_type, random_state=0, max_iter=0).fit(blobs)
    np.testing.assert_array_equal(history.means[0], initial.means_)
    assert model.lower_bound_ == history.log_likelihood[-1]
    np.testing.assert_array_equal(model.lower_bounds_, history.log_likelihood)
    # "log-likelihood after t iterations": the mean log-likelihood of the recorded parameters
    for t in (0, n // 2, n - 1):
        params = (history.weights[t], history.means[t], history.covariances[t])
        mixture = GaussianMixture(k, max_iter=0, weights_init=params[0], means_init=params[1],
                                  precisions_init=np.linalg.inv(params[2])).fit(blobs)
        assert mixture.score(blobs) == pytest.approx(history.log_likelihood[t], rel=1e-10)
    assert model.converged_ and abs(np.diff(history.log_likelihood)[-1]) < 1e-8


def test_record_history_auto_and_off(rng):
    wide = rng.normal(size=(60, 11))
    model = GaussianMixture(2, random_state=0).fit(wide)
    assert model.history_.fields() == ["log_likelihood"]
    model = GaussianMixture(2, random_state=0, record_history=True).fit(wide)
    assert model.history_.covariances.shape[1:] == (2, 11, 11)
    model = GaussianMixture(2, random_state=0, record_history=False).fit(wide[:, :3])
    assert model.history_.fields() == ["log_likelihood"]


def test_callback_sees_the_state_and_can_stop(blobs):
    states = []

    def callback(iteration, state):
        states.append(state)
        return iteration == 3

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopping by callback is not a failure
        model = GaussianMixture(4, random_state=0, tol=0.0, callback=callback).fit(blobs)
    assert model.n_iter_ == 3 and model.history_.stopped_by_callback and not model.converged_
    assert [s.iteration for s in states] == [1, 2, 3]
    assert isinstance(states[0], GaussianMixtureState)
    np.testing.assert_array_equal(states[-1].means, model.means_)
    assert states[0].change == np.inf
    assert states[2].log_likelihood == model.history_.log_likelihood[2]
    assert states[2].change == pytest.approx(np.diff(model.history_.log_likelihood)[-1])


def test_warm_start_continues_where_the_fit_stopped(blobs):
    start = start_from(blobs, 4, "diag")
    once = GaussianMixture(4, covariance_type="diag", tol=0.0, max_iter=10, **start).fit(blobs)
    twice = GaussianMixture(4, covariance_type="diag", tol=0.0, max_iter=5, warm_start=True, **start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        twice.fit(blobs).fit(blobs)
    np.testing.assert_allclose(twice.means_, once.means_, rtol=1e-12)
    np.testing.assert_allclose(twice.history_.log_likelihood, once.history_.log_likelihood[5:], rtol=1e-12)


def test_n_init_keeps_the_best_run(blobs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        single = GaussianMixture(4, init_params="random", random_state=5, max_iter=10).fit(blobs)
        several = GaussianMixture(4, init_params="random", random_state=5, max_iter=10, n_init=4).fit(blobs)
    assert several.lower_bound_ >= single.lower_bound_


def test_not_converging_warns(blobs):
    with pytest.warns(ConvergenceWarning, match="did not converge.* stopped at max_iter=2 iterations"):
        GaussianMixture(4, random_state=0, max_iter=2, tol=0.0).fit(blobs)


# --- predictions, sampling, criteria, storage ------------------------------------------------------


def test_predictions_and_criteria(blobs):
    model = GaussianMixture(4, covariance_type="tied", random_state=0).fit(blobs)
    proba = model.predict_proba(blobs)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(blobs), np.argmax(proba, axis=1))
    np.testing.assert_array_equal(model.fit_predict(blobs), model.predict(blobs))
    assert model.score(blobs) == pytest.approx(model.score_samples(blobs).mean())
    n_parameters = 3 + 4 * 3 + 6
    assert model.bic(blobs) == pytest.approx(-2 * model.score(blobs) * 400 + n_parameters * np.log(400))
    assert model.aic(blobs) == pytest.approx(-2 * model.score(blobs) * 400 + 2 * n_parameters)


def test_information_criteria_from_one_pass(blobs, monkeypatch):
    model = GaussianMixture(3, covariance_type="full", random_state=0).fit(blobs)
    expected = (model.score(blobs), model.bic(blobs), model.aic(blobs))
    passes = []
    original = GaussianMixture.score_samples

    def counting(self, X):
        passes.append(1)
        return original(self, X)

    monkeypatch.setattr(GaussianMixture, "score_samples", counting)
    assert model.information_criteria(blobs) == expected
    assert len(passes) == 1


@pytest.mark.parametrize("covariance_type", TYPES)
def test_sample_draws_from_the_fitted_mixture(blobs, covariance_type):
    model = GaussianMixture(4, covariance_type=covariance_type, random_state=0).fit(blobs)
    X, labels = model.sample(20000)
    assert X.shape == (20000, 3) and labels.shape == (20000,)
    counts = np.bincount(labels, minlength=4) / 20000
    np.testing.assert_allclose(counts, model.weights_, atol=0.02)
    full = gk.full_covariances(model.covariances_, covariance_type, 4, 3)
    for j in range(4):
        np.testing.assert_allclose(X[labels == j].mean(axis=0), model.means_[j], atol=0.15)
        np.testing.assert_allclose(np.cov(X[labels == j].T), full[j], atol=0.3)
    again, _ = model.sample(20000)
    np.testing.assert_array_equal(X, again)  # random_state fixes the draws
    with pytest.raises(ValueError, match="n_samples"):
        model.sample(0)


def test_save_and_load_round_trip(tmp_path, blobs):
    model = GaussianMixture(4, covariance_type="diag", random_state=0).fit(blobs)
    path = tmp_path / "gmm.npz"
    kmix.save_model(model, path)
    loaded = kmix.load_model(path)
    assert isinstance(loaded, GaussianMixture) and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(blobs), model.predict_proba(blobs))
    np.testing.assert_array_equal(loaded.predict(blobs), model.predict(blobs))
    np.testing.assert_array_equal(loaded.history_.covariances, model.history_.covariances)
    np.testing.assert_array_equal(loaded.history_.log_likelihood, model.history_.log_likelihood)
    assert loaded.n_iter_ == model.n_iter_ and loaded.converged_ == model.converged_
    assert loaded.lower_bound_ == model.lower_bound_


def test_passes_scikit_learn_check_estimator():
    check_estimator = pytest.importorskip("sklearn.utils.estimator_checks").check_estimator

    # Every check, none declared as an expected failure.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(GaussianMixture(), on_fail=None)
    failed = [r for r in results if r["status"] not in ("passed", "skipped")]
    assert not failed, [(r["check_name"], str(r["exception"])[:200]) for r in failed]
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= {"check_array_api_input"}, skipped  # needs SCIPY_ARRAY_API set


# --- bad inputs -------------------------------------------------------------------------------------


X_SMALL = np.random.default_rng(0).normal(size=(20, 2))


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(n_components=0), "n_components must be >= 1"),
        (dict(n_components=21), r"n_components=21 must be <= n_samples=20"),
        (dict(n_components=1.5), "n_components must be an integer"),
        (dict(reg_covar=-1e-3), "reg_covar must be >= 0"),
        (dict(tol=-1.0), "tol must be >= 0"),
        (dict(max_iter=-1), "max_iter must be >= 0"),
        (dict(n_init=0), "n_init must be >= 1"),
        (dict(covariance_type="round"), "covariance_type must be one of 'full', 'tied', 'diag', 'spherical'"),
        (dict(init_params="kmeans++"), "init_params must be one of 'kmeans', 'k-means\\+\\+'"),
        (dict(record_history="yes"), "record_history must be 'auto', True or False"),
        (dict(callback=3), "callback must be callable"),
        (dict(n_components=2, means_init=np.zeros((3, 2))),
         r"The parameter 'means' should have the shape of \(2, 2\), but got \(3, 2\): "
         r"means_init must be \(n_components, n_features\)"),
        (dict(n_components=2, means_init=np.zeros(2)),
         r"should have the shape of \(2, 2\), but got \(2,\): means_init"),
        (dict(n_components=2, weights_init=[1.5, -0.5]), "weights_init must be non-negative"),
        (dict(n_components=2, weights_init=[0.5, 0.6]),
         r"'weights' should be normalized, but got sum\(weights\) = 1.10000: weights_init must sum to 1"),
        (dict(n_components=2, weights_init=[1.0]),
         r"should have the shape of \(2,\), but got \(1,\): weights_init"),
        (dict(n_components=2, precisions_init=np.stack([np.eye(2)] * 3)),
         r"'full precision' should have the shape of \(2, 2, 2\), but got \(3, 2, 2\): precisions_init must be "
         r"\(n_components, n_features, n_features\) for covariance_type='full'"),
        (dict(n_components=2, precisions_init=np.stack([np.eye(2), -np.eye(2)])),
         r"'full precision' should be symmetric, positive-definite: precisions_init\[1\] is not positive definite"),
        (dict(n_components=2, precisions_init=np.stack([np.eye(2), [[1.0, 0.5], [0.0, 1.0]]])),
         r"'full precision' should be symmetric, positive-definite: precisions_init\[1\] is not symmetric"),
        (dict(n_components=2, covariance_type="tied", precisions_init=np.eye(3)),
         r"'tied precision' should have the shape of \(2, 2\), but got \(3, 3\): precisions_init must be "
         r"\(n_features, n_features\) for covariance_type='tied'"),
        (dict(n_components=2, covariance_type="tied", precisions_init=[[1.0, 2.0], [2.0, 1.0]]),
         "'tied precision' should be symmetric, positive-definite: precisions_init is not positive definite"),
        (dict(n_components=2, covariance_type="diag", precisions_init=[[1.0, 1.0], [1.0, 0.0]]),
         "precisions_init must be positive"),
        (dict(n_components=2, covariance_type="spherical", precisions_init=[1.0, 1.0, 1.0]),
         r"'spherical precision' should have the shape of \(2,\), but got \(3,\)"),
    ],
)
def test_bad_parameters_raise_value_errors_naming_them(params, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture(**params).fit(X_SMALL)


def test_bad_data_and_unfitted_use(rng):
    with pytest.raises(ValueError, match="NaN or inf"):
        GaussianMixture().fit([[0.0, np.nan], [1.0, 2.0]])
    with pytest.raises(ValueError, match="positive sample_weight"):
        GaussianMixture(3).fit(X_SMALL, sample_weight=np.r_[np.ones(2), np.zeros(18)])
    with pytest.raises(kmix.NotFittedError, match="not fitted"):
        GaussianMixture().predict(X_SMALL)
    model = GaussianMixture(2, random_state=0).fit(X_SMALL)
    with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture is expecting 2"):
        model.predict(rng.normal(size=(4, 3)))


def test_an_ill_defined_covariance_is_a_value_error():
    # Ten components on two distinct points, without regularisation.
    X = np.vstack([np.ones((5, 5)), np.zeros((5, 5))])
    for covariance_type in ("full", "tied", "diag", "spherical"):
        with pytest.raises(ValueError, match="increase reg_covar") as caught:
            GaussianMixture(10, covariance_type=covariance_type, reg_covar=0, random_state=0).fit(X)
        assert isinstance(caught.value, kmix.NumericalError)


def test_predict_proba_before_fit_is_not_fitted_error():
    with pytest.raises(kmix.NotFittedError):
        GaussianMixture(2).predict_proba(np.zeros((3, 2)))


def test_sparse_input_is_a_value_error_saying_to_densify():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X = scipy_sparse.random(50, 4, density=0.5, format="csr", random_state=0)
    with pytest.raises(ValueError, match=r"sparse matrix, but dense data is required.*X.toarray\(\)"):
        GaussianMixture(2).fit(X)
    model = GaussianMixture(2, random_state=0).fit(X.toarray())
    with pytest.raises(ValueError, match="sparse"):
        model.predict(X)


# --- fewer distinct points than components ---------------------------------------------------


DISTINCT = r"Number of distinct points \({n}\) found smaller than n_components \({k}\)\. Possibly due to duplicate"


@pytest.mark.parametrize("covariance_type", ["full", "diag", "VVV"])
def test_fewer_distinct_points_than_components_warns(covariance_type):
    X = np.ones((20, 2))
    with pytest.warns(ConvergenceWarning, match=DISTINCT.format(n=1, k=3) + r".*decrease n_components"):
        GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    two = np.repeat([[0.0, 0.0], [5.0, 5.0]], 10, axis=0)
    with pytest.warns(ConvergenceWarning, match=DISTINCT.format(n=2, k=3)):
        GaussianMixture(3, covariance_type=covariance_type, init_params="random", random_state=0).fit(two)


def test_distinct_points_are_counted_with_positive_weight_only():
    X = np.array([[0.0, 0.0]] * 10 + [[-0.0, 0.0]] * 10 + [[1.0, 1.0], [2.0, 2.0]])
    weights = np.r_[np.ones(20), 1.0, 0.0]  # -0.0 is 0.0; the last point does not count
    with pytest.warns(ConvergenceWarning, match=DISTINCT.format(n=2, k=3)):
        GaussianMixture(3, random_state=0).fit(X, sample_weight=weights)


def _distinct_warnings(X, n_components, **fit):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        GaussianMixture(n_components, random_state=0).fit(X, **fit)
    return [w for w in caught if "distinct points" in str(w.message)]


def test_enough_distinct_points_do_not_warn(blobs):
    assert _distinct_warnings(blobs, 4) == []
    # Long runs of one point first, the other points only at the end: still counted.
    X = np.r_[np.zeros((5000, 2)), np.eye(2), [[3.0, 3.0]]]
    assert _distinct_warnings(X, 4) == []
    assert len(_distinct_warnings(X, 5)) == 1


def test_distinct_rows_stop_at_the_limit():
    from kmix._validation import distinct_rows_below

    class Counted(np.ndarray):
        """Records the largest row index read."""
        read = 0

        def __getitem__(self, key):
            if isinstance(key, slice):
                Counted.read = max(Counted.read, min(len(self) if key.stop is None else key.stop, len(self)))
            return np.asarray(self).__getitem__(key)

    X = np.random.default_rng(0).normal(size=(100_000, 3)).view(Counted)
    assert distinct_rows_below(X, np.ones(len(X)), 5) is None
    assert Counted.read <= 64  # one small block read, not the whole array
    assert distinct_rows_below(np.ones((1000, 3)), np.ones(1000), 5) == 1
