"""kmix.KMeans against scikit-learn, its properties, and its errors."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kmix
from kmix import ConvergenceWarning, KMeans
from kmix import textbook


def _initial(X, k, seed):
    return X[np.random.default_rng(seed).choice(len(X), k, replace=False)].copy()


def _datasets():
    """scikit-learn's blobs, iris and digits: a test that calls this first skips
    where scikit-learn is not installed."""
    datasets = pytest.importorskip("sklearn.datasets")
    blobs, _ = datasets.make_blobs(n_samples=2000, centers=7, n_features=5, cluster_std=2.5, random_state=3)
    return {
        "blobs": (blobs, 7),
        "iris": (datasets.load_iris().data, 3),
        "digits": (datasets.load_digits().data, 10),
    }


@pytest.mark.parametrize("name", ["blobs", "iris", "digits"])
@pytest.mark.parametrize("seed", [0, 1])
def test_same_labels_and_inertia_as_scikit_learn_from_same_centres(name, seed):
    SKKMeans = pytest.importorskip("sklearn.cluster").KMeans
    X, k = _datasets()[name]
    C0 = _initial(X, k, seed)
    ours = KMeans(k, init=C0, n_init=1).fit(X)
    theirs = SKKMeans(k, init=C0, n_init=1, algorithm="lloyd").fit(X)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-9)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=1e-9, atol=1e-9)
    if name != "digits":
        # digits are small integers and the first centres are data points, so the
        # first assignment has exact distance ties that each library's rounding
        # breaks its own way; the paths can differ by an iteration before both
        # reach the same fixed point (checked above).
        assert ours.n_iter_ == theirs.n_iter_


def test_passes_scikit_learn_check_estimator():
    check_estimator = pytest.importorskip("sklearn.utils.estimator_checks").check_estimator

    # Every check, none declared as an expected failure.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(KMeans(n_clusters=3), on_fail=None)
    failed = [r for r in results if r["status"] not in ("passed", "skipped")]
    assert not failed, [(r["check_name"], str(r["exception"])[:200]) for r in failed]
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= {"check_array_api_input"}, skipped  # needs SCIPY_ARRAY_API set


def test_inertia_belongs_to_returned_labels_and_centres(rng):
    X = rng.normal(size=(400, 3))
    for max_iter in (1, 2, 50):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = KMeans(6, max_iter=max_iter, random_state=0).fit(X)
        d = ((X - model.cluster_centers_[model.labels_]) ** 2).sum()
        assert model.inertia_ == pytest.approx(d, rel=1e-10)
        np.testing.assert_array_equal(model.labels_, model.predict(X))


def test_sample_weight_integer_equals_repetition(rng):
    X = rng.normal(size=(120, 2))
    w = rng.integers(0, 4, size=120)
    C0 = X[w > 0][:5]
    weighted = KMeans(5, init=C0).fit(X, sample_weight=w)
    repeated = KMeans(5, init=C0).fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(weighted.cluster_centers_, repeated.cluster_centers_, rtol=1e-10)
    assert weighted.inertia_ == pytest.approx(repeated.inertia_, rel=1e-10)


def test_float32_stays_float32(rng):
    X = rng.normal(size=(300, 4)).astype(np.float32)
    model = KMeans(4, random_state=0).fit(X)
    assert model.cluster_centers_.dtype == np.float32
    assert model.transform(X).dtype == np.float32
    assert model.history_.centers.dtype == np.float32
    model64 = KMeans(4, init=model.history_.centers[0].astype(np.float64)).fit(X.astype(np.float64))
    np.testing.assert_array_equal(model.labels_, model64.labels_)


def test_textbook_and_estimator_reach_the_same_centres():
    X = kmix.datasets.load("samples_3")
    _, centers, ssd, centers_history = textbook.k_means(X, 8, random_state=42)
    model = KMeans(8, init="random", n_init=1, random_state=42).fit(X)
    np.testing.assert_allclose(centers, model.cluster_centers_, rtol=1e-12)
    np.testing.assert_allclose(centers_history, model.history_.centers, rtol=1e-12)
    np.testing.assert_allclose(ssd, model.history_.ssd.reshape(-1), rtol=1e-12)


def test_history_shapes_and_memory_do_not_grow_with_samples(rng):
    X = rng.normal(size=(5000, 3))
    model = KMeans(4, random_state=1, tol=0).fit(X)
    h = model.history_
    n = model.n_iter_
    assert h.centers.shape == (n + 1, 4, 3)
    assert h.ssd.shape == (n, 2)
    assert h.n_changed.shape == (n,)
    assert h.n_changed[0] == 5000
    assert h.converged and h.n_changed[-1] == 0
    stored = sum(getattr(h, f).size for f in h.fields())
    assert stored < 20 * (n + 1) * 4  # O(iterations x k x d), not O(n_samples)
    assert KMeans(4, random_state=1, record_history=False).fit(X).history_ is None


def test_auto_history_keeps_the_centres_only_when_they_are_small(rng):
    X = rng.normal(size=(300, 2000))
    # 8 x 2000 > 10,000 numbers a set: the SSDs and changed labels, not the centres.
    auto = KMeans(8, random_state=0).fit(X)
    assert "centers" not in auto.history_ and "ssd" in auto.history_
    assert auto.history_.ssd.shape == (auto.n_iter_, 2)
    full = KMeans(8, random_state=0, record_history=True).fit(X)
    np.testing.assert_array_equal(full.history_.ssd, auto.history_.ssd)
    assert full.history_.centers.shape == (full.n_iter_ + 1, 8, 2000)
    np.testing.assert_array_equal(full.cluster_centers_, auto.cluster_centers_)
    assert "centers" in KMeans(8, random_state=0).fit(X[:, :5]).history_
    with pytest.raises(ValueError, match="record_history must be 'auto', True or False"):
        KMeans(8, record_history="yes").fit(X)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(10, 200),
    d=st.integers(1, 6),
    k=st.integers(1, 9),
    weighted=st.booleans(),
)
def test_ssd_never_increases_at_any_half_step(seed, n, d, k, weighted):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, size=d)
    w = rng.uniform(0, 3, size=n) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = KMeans(min(k, n), init="random", n_init=1, random_state=seed, tol=0).fit(X, sample_weight=w)
    ssd = model.history_.ssd.reshape(-1)
    scale = max(ssd[0], 1e-300)
    assert np.all(np.diff(ssd) <= 1e-10 * scale)


def test_empty_cluster_never_gives_nan():
    # Centre 2 starts far from everything: it is empty after the first assignment.
    X = np.array([[0.0, 0.0], [0.2, 0.1], [5.0, 5.0], [5.2, 5.1], [30.0, 0.0], [30.5, 0.2]])
    init = np.array([[0.0, 0.0], [5.0, 5.0], [-1000.0, -1000.0]])
    model = KMeans(3, init=init).fit(X)
    assert np.isfinite(model.cluster_centers_).all()
    # it took the farthest point and then its neighbour: three real clusters
    assert sorted(np.bincount(model.labels_).tolist()) == [2, 2, 2]
    np.testing.assert_allclose(model.history_.centers[1][2], [30.5, 0.2])


def test_fewer_distinct_points_than_clusters_warns():
    X = np.array([[0.0, 0.0]] * 5 + [[1.0, 1.0]] * 5)
    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        model = KMeans(3, random_state=0).fit(X)
    assert np.isfinite(model.cluster_centers_).all()


def test_callback_can_stop_early(rng):
    X = rng.normal(size=(500, 2))
    seen = []

    def callback(iteration, state):
        seen.append((iteration, state.ssd_assignment, state.centers.shape))
        return iteration == 2

    model = KMeans(5, init="random", random_state=0, callback=callback, tol=0, n_init=1).fit(X)
    assert model.n_iter_ == 2 and model.history_.stopped_by_callback
    assert [s[0] for s in seen] == [1, 2]
    assert len(model.history_.ssd) == 2
    d = ((X - model.cluster_centers_[model.labels_]) ** 2).sum()
    assert model.inertia_ == pytest.approx(d, rel=1e-10)


def test_max_iter_reached_warns(rng):
    X = rng.normal(size=(500, 2))
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model = KMeans(10, max_iter=1, tol=0, random_state=0).fit(X)
    assert model.n_iter_ == 1


def test_transform_predict_score(rng):
    X = rng.normal(size=(200, 3))
    model = KMeans(4, random_state=0).fit(X)
    D = model.transform(X)
    assert D.shape == (200, 4)
    brute = np.sqrt(((X[:, None] - model.cluster_centers_[None]) ** 2).sum(-1))
    np.testing.assert_allclose(D, brute, atol=1e-10)
    np.testing.assert_array_equal(model.predict(X), D.argmin(axis=1))
    assert model.score(X) == pytest.approx(-model.inertia_, rel=1e-10)
    np.testing.assert_array_equal(KMeans(4, random_state=0).fit_predict(X), model.labels_)


def test_n_init_keeps_the_best_run(rng):
    X = rng.normal(size=(300, 2))
    single = [KMeans(6, init="random", n_init=1, random_state=s).fit(X).inertia_ for s in range(5)]
    best = KMeans(6, init="random", n_init=10, random_state=0).fit(X)
    assert best.inertia_ <= max(single)


def test_translation_equivariance(rng):
    X = rng.normal(size=(300, 3))
    C0 = X[:5].copy()
    shift = np.array([1e3, -2e3, 5e2])
    a = KMeans(5, init=C0).fit(X)
    b = KMeans(5, init=C0 + shift).fit(X + shift)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.cluster_centers_ + shift, b.cluster_centers_, rtol=1e-10)


def test_permutation_invariance(rng):
    X = rng.normal(size=(300, 2))
    C0 = X[:4].copy()
    perm = rng.permutation(300)
    a = KMeans(4, init=C0).fit(X)
    b = KMeans(4, init=C0).fit(X[perm])
    np.testing.assert_array_equal(a.labels_[perm], b.labels_)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-10)


X10 = np.random.default_rng(0).normal(size=(10, 2))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_clusters": 0}, r"n_clusters must be >= 1, got 0"),
        ({"n_clusters": 11}, r"n_samples=10 should be >= n_clusters=11"),
        ({"n_clusters": 2.5}, r"n_clusters must be an integer"),
        ({"max_iter": 0}, r"max_iter must be >= 1, got 0"),
        ({"tol": -1e-3}, r"tol must be >= 0.0"),
        ({"init": "kmeans||"}, r"init must be 'k-means\+\+', 'random', a callable or an array"),
        ({"init": np.zeros((3, 2))},
         r"The shape of the initial centers \(3, 2\) does not match the number of clusters 2: "
         r"init must have shape \(n_clusters, n_features\) = \(2, 2\)"),
        ({"init": np.zeros((2, 5))},
         r"The shape of the initial centers \(2, 5\) does not match the number of features of the data 2"),
        ({"n_init": 0}, r"n_init must be >= 1"),
        ({"n_init": "many"}, r"n_init must be 'auto'"),
    ],
)
def test_bad_parameters_name_the_parameter(params, message):
    params = {"n_clusters": 2, **params}
    with pytest.raises(ValueError, match=message):
        KMeans(**params).fit(X10)


@pytest.mark.parametrize(
    "weight, message",
    [
        (-np.ones(10), r"sample_weight must be non-negative"),
        (np.zeros(10), r"sample_weight is all zero"),
        (np.ones(9), r"sample_weight has 9 entries but X has 10 samples"),
    ],
)
def test_bad_sample_weight(weight, message):
    with pytest.raises(ValueError, match=message):
        KMeans(2).fit(X10, sample_weight=weight)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_and_inf_in_x_are_named(dtype):
    X = np.random.default_rng(0).normal(size=(200, 3)).astype(dtype)
    X[7, 1] = np.nan
    X[50, 2] = np.inf
    with pytest.raises(kmix.DataError, match=r"X contains 2 NaN or inf values \(first in row 7\)"):
        KMeans(2).fit(X)
    X[7, 1] = 1.0
    X[9, 2] = -np.inf  # +inf and -inf in one column: its sum is NaN
    with pytest.raises(kmix.DataError, match=r"contains 2 NaN or inf values \(first in row 9\)"):
        KMeans(2, init="random").fit(X)
    with pytest.raises(kmix.DataError, match=r"first in row 9"):
        KMeans(2, random_state=0).fit(X[:5]).predict(X)
    with pytest.raises(kmix.DataError, match="NaN or inf"):  # before any parameter error
        KMeans(500).fit(X)


def test_predict_before_fit_and_wrong_width():
    with pytest.raises(kmix.NotFittedError, match="not fitted yet"):
        KMeans(2).predict(X10)
    model = KMeans(2, random_state=0).fit(X10)
    with pytest.raises(ValueError, match="X has 3 features, but KMeans is expecting 2"):
        model.predict(np.zeros((4, 3)))


def test_get_set_params_and_repr():
    model = KMeans(3, tol=0.5)
    assert model.get_params()["tol"] == 0.5
    model.set_params(n_clusters=4)
    assert model.n_clusters == 4
    assert "n_clusters=4" in repr(model) and "tol=0.5" in repr(model)
    with pytest.raises(ValueError, match="Invalid parameter 'bogus'"):
        model.set_params(bogus=1)


@pytest.mark.parametrize("name", ["blobs", "iris", "digits"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_hamerly_and_lloyd_give_the_same_fit(name, dtype):
    # The bounds only skip work: every iteration's labels and centres are the same.
    X, k = _datasets()[name]
    X = X.astype(dtype)
    fits = {
        algorithm: KMeans(k, init="k-means++", random_state=4, algorithm=algorithm, tol=0).fit(X)
        for algorithm in ("lloyd", "hamerly")
    }
    lloyd, hamerly = fits["lloyd"], fits["hamerly"]
    np.testing.assert_array_equal(hamerly.labels_, lloyd.labels_)
    np.testing.assert_array_equal(hamerly.cluster_centers_, lloyd.cluster_centers_)
    assert hamerly.n_iter_ == lloyd.n_iter_
    np.testing.assert_array_equal(hamerly.history_["centers"], lloyd.history_["centers"])
    np.testing.assert_array_equal(hamerly.history_["n_changed"], lloyd.history_["n_changed"])
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(hamerly.history_["ssd"], lloyd.history_["ssd"], rtol=rtol)
    assert hamerly.inertia_ == pytest.approx(lloyd.inertia_, rel=rtol)


def test_auto_algorithm_uses_bounds_where_a_full_scan_is_long(monkeypatch):
    from kmix.models import lloyd

    made = []
    original = lloyd.LloydPasses.__init__

    def recording(self, data, bounds):
        if bounds:
            made.append(self)
        original(self, data, bounds)

    monkeypatch.setattr(lloyd.LloydPasses, "__init__", recording)
    rng = np.random.default_rng(2)
    KMeans(3, random_state=0).fit(rng.normal(size=(300, 4)))  # k x d = 12: Lloyd
    KMeans(15, random_state=0).fit(rng.normal(size=(300, 16)))  # 240: Lloyd
    assert made == []
    KMeans(16, random_state=0).fit(rng.normal(size=(300, 16)))  # 256: bounds
    KMeans(2, random_state=0).fit(rng.normal(size=(300, 40)))  # more than 32 features
    KMeans(3, random_state=0, algorithm="hamerly").fit(rng.normal(size=(300, 2)))
    assert len(made) == 3
    KMeans(16, random_state=0, algorithm="lloyd").fit(rng.normal(size=(300, 16)))
    assert len(made) == 3
    # The bounds did their work: after the first pass, passes scan fewer than all rows.
    assert made[0].rescanned[0] == 300 and min(made[0].rescanned) < 300


def test_bad_algorithm_names_the_parameter():
    with pytest.raises(ValueError, match=r"algorithm must be 'auto', 'lloyd', 'elkan' or 'hamerly'; got 'full'"):
        KMeans(2, algorithm="full").fit(X10)


def test_bounded_data_falls_back_to_a_plain_pass_for_other_labels(rng):
    from kmix.backends.numpy import InMemoryData
    from kmix.models.lloyd import LloydPasses

    X = rng.normal(size=(400, 6))
    w = np.ones(400)
    centers = X[:5].copy()
    data = InMemoryData(X, w)
    bounded, plain = LloydPasses(data, bounds=True), LloydPasses(data, bounds=False)
    labels, _ = bounded(centers)
    other = (rng.integers(0, 5, size=400).astype(np.int32),)  # not the labels the bounds belong to
    got_labels, got = bounded(centers * 0.9, other)
    want_labels, want = plain(centers * 0.9, other)
    np.testing.assert_array_equal(data.rows(got_labels), data.rows(want_labels))
    assert got.n_changed == want.n_changed and got.ssd_previous == pytest.approx(want.ssd_previous)
    assert bounded.rescanned == [400]  # the second pass was the plain one


def test_sample_weight_of_strings_is_refused():
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="sample_weight must hold numbers"):
        KMeans(2, random_state=0).fit(X, sample_weight=np.array(["1"] * 20))
    with pytest.raises(ValueError, match="sample_weight must be a number"):
        KMeans(2, random_state=0).fit(X, sample_weight="2")


def test_transform_before_fit_is_not_fitted_error():
    with pytest.raises(kmix.NotFittedError):
        KMeans(2).transform(np.zeros((3, 2)))


def test_labels_are_int32_as_scikit_learn_gives_them():
    X = np.random.default_rng(0).normal(size=(50, 2))
    model = KMeans(3, random_state=0).fit(X)
    assert model.labels_.dtype == np.int32 and model.predict(X).dtype == np.int32
    assert model.fit_predict(X).dtype == np.int32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
def test_sparse_input_gives_scikit_learns_fit_from_the_same_start(dtype, algorithm):
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X = scipy_sparse.random(600, 80, density=0.08, format="csr", random_state=3, dtype=dtype)
    weight = np.random.default_rng(2).integers(1, 4, size=600).astype(dtype)
    init = X[:6].toarray()
    given = init.copy()
    ours = KMeans(6, init=init, n_init=1, algorithm=algorithm).fit(X, sample_weight=weight)
    np.testing.assert_array_equal(init, given)  # the initial centres given are left alone
    theirs = sklearn_cluster.KMeans(6, init=init, n_init=1, algorithm="lloyd").fit(X, sample_weight=weight)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_,
                               rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-6)
    assert ours.cluster_centers_.dtype == dtype
    Xc = X.tocsc()  # any sparse layout; the same answers as the dense rows
    np.testing.assert_array_equal(ours.predict(Xc), ours.predict(X.toarray()))
    np.testing.assert_allclose(ours.transform(X), ours.transform(X.toarray()), rtol=1e-4)
    assert ours.score(X) == pytest.approx(ours.score(X.toarray()), rel=1e-5)


def test_sparse_fit_defaults_to_lloyd_passes():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X = scipy_sparse.random(300, 500, density=0.02, format="csr", random_state=0)
    # On TF-IDF-like data the bounds rule out few rows: "auto" takes plain passes,
    # where the same shape of dense data takes the bounds.
    assert KMeans(4)._check_params(X)[4] is False
    assert KMeans(4)._check_params(X.toarray())[4] is True
    assert KMeans(4, algorithm="hamerly")._check_params(X)[4] is True


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_transform_of_the_centres_is_exact_on_the_diagonal(dtype):
    # Far from the origin, ||x||² - 2x·c + ||c||² leaves rounding where x = c; a row
    # equal to a centre is at distance 0 exactly, and the other distances are unchanged.
    rng = np.random.default_rng(3)
    X = (rng.normal(size=(400, 3)) * 100 + 1000).astype(dtype)
    model = KMeans(n_clusters=8, random_state=0).fit(X)
    distances = model.transform(model.cluster_centers_)
    assert distances.dtype == dtype
    np.testing.assert_array_equal(np.diagonal(distances), np.zeros(8, dtype=dtype))
    direct = np.sqrt(((model.cluster_centers_[:, None, :].astype(np.float64)
                       - model.cluster_centers_[None, :, :]) ** 2).sum(-1))
    np.testing.assert_allclose(distances, direct, rtol=1e-5 if dtype == np.float32 else 1e-10)
