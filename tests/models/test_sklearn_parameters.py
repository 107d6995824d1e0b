"""The parameters and functions scikit-learn code passes to KMeans and
GaussianMixture: algorithm="elkan", verbose, a callable init, copy_x,
k_means and kmeans_plusplus, and scikit-learn's wording of errors and warnings."""

import contextlib
import inspect
import io
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

import kmix
from kmix import ConvergenceWarning, GaussianMixture, KMeans


def _blobs(n_samples=600, centers=5, n_features=3, seed=0):
    datasets = pytest.importorskip("sklearn.datasets")
    X, _ = datasets.make_blobs(n_samples=n_samples, centers=centers, n_features=n_features,
                               cluster_std=2.0, random_state=seed)
    return X


def _printed(function):
    """What ``function()`` prints to standard output, and what it returns."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        value = function()
    return buffer.getvalue(), value


def _start(X, k, seed):
    return X[np.random.default_rng(seed).choice(len(X), k, replace=False)].copy()


# --- algorithm="elkan" ------------------------------------------------------------------

@pytest.mark.parametrize("k, n_features", [(3, 2), (8, 5), (20, 16)])
@pytest.mark.parametrize("tol", [0.0, 1e-4])
def test_elkan_gives_lloyds_labels_centres_and_iterations(k, n_features, tol):
    X = _blobs(n_samples=1500, centers=k, n_features=n_features, seed=k)
    start = _start(X, k, 1)
    lloyd = KMeans(k, init=start, algorithm="lloyd", tol=tol).fit(X)
    elkan = KMeans(k, init=start, algorithm="elkan", tol=tol).fit(X)
    np.testing.assert_array_equal(elkan.labels_, lloyd.labels_)
    np.testing.assert_array_equal(elkan.cluster_centers_, lloyd.cluster_centers_)
    assert elkan.n_iter_ == lloyd.n_iter_
    assert elkan.inertia_ == pytest.approx(lloyd.inertia_, rel=1e-12)
    # and scikit-learn's Elkan from the same centres
    SKKMeans = pytest.importorskip("sklearn.cluster").KMeans
    theirs = SKKMeans(k, init=start, n_init=1, algorithm="elkan", tol=tol).fit(X)
    np.testing.assert_array_equal(elkan.labels_, theirs.labels_)
    assert elkan.n_iter_ == theirs.n_iter_


@pytest.fixture
def bounds_of_passes(monkeypatch):
    """Whether each Lloyd pass a fit makes keeps Hamerly's bounds, in order."""
    from kmix.models import lloyd

    made = []
    original = lloyd.LloydPasses.__init__

    def recording(self, data, bounds):
        made.append(bounds)
        original(self, data, bounds)

    monkeypatch.setattr(lloyd.LloydPasses, "__init__", recording)
    return made


def test_elkan_runs_the_bounded_pass(bounds_of_passes):
    made = bounds_of_passes
    X = np.random.default_rng(0).normal(size=(200, 2))
    KMeans(3, random_state=0, algorithm="elkan").fit(X)  # k x d = 6: "auto" would not
    assert made == [True]


def test_elkan_with_one_cluster_warns_and_runs_lloyd(bounds_of_passes):
    made = bounds_of_passes
    X = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.warns(RuntimeWarning,
                      match=r"algorithm='elkan' doesn't make sense for a single cluster\. Using 'lloyd' instead\."):
        model = KMeans(1, algorithm="elkan").fit(X)
    assert made == [False]
    np.testing.assert_allclose(model.cluster_centers_[0], X.mean(axis=0))


def test_hamerly_and_auto_are_still_accepted():
    X = np.random.default_rng(0).normal(size=(100, 2))
    for algorithm in ("auto", "lloyd", "hamerly", "elkan"):
        KMeans(3, random_state=0, algorithm=algorithm).fit(X)


# --- verbose ------------------------------------------------------------------------------

_ITERATION = re.compile(r"^Iteration (\d+), inertia (\S+)\.$")


def _kmeans_lines(text):
    """(the iteration lines' numbers and inertias, the other lines)."""
    iterations, other = [], []
    for line in text.splitlines():
        match = _ITERATION.match(line)
        if match:
            iterations.append((int(match.group(1)), float(match.group(2))))
        else:
            other.append(line)
    return iterations, other


@pytest.mark.parametrize("tol", [0.0, 1e-2])
def test_kmeans_verbose_prints_scikit_learns_lines(tol):
    X = _blobs(n_samples=2000, centers=6, n_features=4)
    start = _start(X, 6, 0)
    ours_text, ours = _printed(lambda: KMeans(6, init=start, tol=tol, verbose=1).fit(X))
    iterations, other = _kmeans_lines(ours_text)
    assert other[0] == "Initialization complete"
    assert [i for i, _ in iterations] == list(range(ours.n_iter_))
    # Each line's inertia is the SSD after that iteration's assignment step.
    np.testing.assert_allclose([x for _, x in iterations], ours.history_.ssd[:, 0], rtol=1e-12)
    assert len(other) == 2
    if tol == 0:
        assert other[1] == f"Converged at iteration {ours.n_iter_ - 1}: strict convergence."
    else:
        assert re.fullmatch(rf"Converged at iteration {ours.n_iter_ - 1}: center shift \S+ within tolerance \S+\.",
                            other[1])

    # scikit-learn prints the same lines from the same centres.
    SKKMeans = pytest.importorskip("sklearn.cluster").KMeans
    theirs_text, _ = _printed(lambda: SKKMeans(6, init=start, n_init=1, tol=tol, verbose=1).fit(X))
    their_iterations, their_other = _kmeans_lines(theirs_text)
    assert [i for i, _ in iterations] == [i for i, _ in their_iterations]
    np.testing.assert_allclose([x for _, x in iterations], [x for _, x in their_iterations], rtol=1e-9)
    assert [line.split(":")[0] for line in other] == [line.split(":")[0] for line in their_other]
    assert ("strict convergence" in other[1]) == ("strict convergence" in their_other[1])


def test_kmeans_verbose_once_per_run_and_silent_by_default():
    X = np.random.default_rng(1).normal(size=(300, 2))
    text, _ = _printed(lambda: KMeans(4, init="random", n_init=3, random_state=0, verbose=True).fit(X))
    assert text.count("Initialization complete") == 3
    assert text.count("Converged at iteration") == 3
    text, _ = _printed(lambda: KMeans(4, random_state=0).fit(X))
    assert text == ""


def test_kmeans_verbose_keeps_the_users_callback():
    X = np.random.default_rng(1).normal(size=(300, 2))
    seen = []

    def callback(iteration, state):
        seen.append(iteration)
        return iteration == 2

    text, model = _printed(lambda: KMeans(4, random_state=0, tol=0, verbose=1, callback=callback).fit(X))
    assert seen == [1, 2] and model.n_iter_ == 2 and model.history_.stopped_by_callback
    assert [i for i, _ in _kmeans_lines(text)[0]] == [0, 1]


@pytest.mark.parametrize("verbose", [-1, 1.5, "yes"])
def test_bad_verbose_names_the_parameter(verbose):
    X = np.random.default_rng(1).normal(size=(30, 2))
    with pytest.raises(ValueError, match="verbose must be"):
        KMeans(2, verbose=verbose).fit(X)
    with pytest.raises(ValueError, match="verbose must be"):
        GaussianMixture(2, verbose=verbose).fit(X)


def _mixture_data():
    datasets = pytest.importorskip("sklearn.datasets")
    return datasets.make_blobs(n_samples=500, centers=3, n_features=2, random_state=0)[0]


def _mixture_start(X):
    return dict(means_init=X[[0, 100, 200]], weights_init=np.ones(3) / 3,
                precisions_init=np.stack([np.eye(X.shape[1])] * 3))


@pytest.mark.parametrize("interval", [1, 5, 10])
def test_gaussian_mixture_verbose_1_prints_what_scikit_learn_prints(interval):
    SKGaussianMixture = pytest.importorskip("sklearn.mixture").GaussianMixture
    X = _mixture_data()
    params = dict(n_components=3, tol=1e-6, max_iter=300, verbose=1, verbose_interval=interval,
                  **_mixture_start(X))
    ours_text, ours = _printed(lambda: GaussianMixture(**params).fit(X))
    theirs_text, theirs = _printed(lambda: SKGaussianMixture(**params).fit(X))
    assert ours.n_iter_ == theirs.n_iter_ and ours.converged_
    assert ours_text == theirs_text
    lines = ours_text.splitlines()
    assert lines[0] == "Initialization 0" and lines[-1] == "Initialization converged."
    assert lines[1:-1] == [f"  Iteration {t}" for t in range(interval, ours.n_iter_ + 1, interval)]


def test_gaussian_mixture_verbose_2_adds_times_changes_and_the_lower_bound():
    X = _mixture_data()
    text, model = _printed(lambda: GaussianMixture(3, tol=1e-6, max_iter=300, verbose=2, verbose_interval=3,
                                                   **_mixture_start(X)).fit(X))
    lines = text.splitlines()
    assert lines[0] == "Initialization 0"
    pattern = re.compile(r"^  Iteration (\d+)\t time lapse \d+\.\d{5}s\t ll change (\S+)$")
    changes = np.diff(np.r_[-np.inf, model.history_.log_likelihood])
    for line in lines[1:-1]:
        match = pattern.match(line)
        assert match, line
        t = int(match.group(1))
        assert t % 3 == 0
        assert float(match.group(2)) == pytest.approx(changes[t - 1], abs=1e-5)
    assert re.fullmatch(r"Initialization converged\. time lapse \d+\.\d{5}s\t lower bound (\S+)\.", lines[-1])
    assert float(lines[-1].rsplit(" ", 1)[1].rstrip(".")) == pytest.approx(model.lower_bound_, abs=1e-5)


def test_gaussian_mixture_verbose_per_initialisation_and_not_converged():
    X = _blobs(n_samples=300, centers=3, n_features=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        text, _ = _printed(lambda: GaussianMixture(3, n_init=2, max_iter=2, tol=0, random_state=0,
                                                   verbose=1, verbose_interval=1).fit(X))
    assert text.splitlines() == [
        "Initialization 0", "  Iteration 1", "  Iteration 2", "Initialization did not converge.",
        "Initialization 1", "  Iteration 1", "  Iteration 2", "Initialization did not converge.",
    ]
    text, _ = _printed(lambda: GaussianMixture(3, random_state=0).fit(X))
    assert text == ""


def test_gaussian_mixture_verbose_interval_must_be_positive():
    X = np.random.default_rng(1).normal(size=(30, 2))
    with pytest.raises(ValueError, match="verbose_interval must be >= 1, got 0"):
        GaussianMixture(2, verbose=1, verbose_interval=0).fit(X)


def test_every_scikit_learn_parameter_is_there_with_its_default():
    cluster = pytest.importorskip("sklearn.cluster")
    mixture = pytest.importorskip("sklearn.mixture")
    # kmix's own defaults where they choose by the data: "auto".
    own_defaults = {"init": "auto", "algorithm": "auto"}
    for theirs, ours in ((cluster.KMeans, KMeans), (mixture.GaussianMixture, GaussianMixture)):
        their_defaults = {name: p.default for name, p in inspect.signature(theirs).parameters.items()}
        our_defaults = {name: p.default for name, p in inspect.signature(ours).parameters.items()}
        for name, default in their_defaults.items():
            assert name in our_defaults, name
            expected = own_defaults.get(name, default) if ours is KMeans else default
            assert our_defaults[name] == expected, name


# --- a callable init ------------------------------------------------------------------------

def test_callable_init_is_called_as_scikit_learn_calls_it():
    X = np.random.default_rng(2).integers(0, 20, size=(200, 3))
    calls = []

    def init(data, n_clusters, random_state):
        calls.append((data, n_clusters, random_state))
        return data[random_state.choice(len(data), n_clusters, replace=False)]

    model = KMeans(4, init=init, random_state=7).fit(X)
    assert len(calls) == 10  # n_init="auto" is 10 for a callable, as in scikit-learn
    for data, n_clusters, random_state in calls:
        assert data.dtype == np.float64 and data.shape == X.shape
        np.testing.assert_array_equal(data, X)  # the data as given: not centred
        assert n_clusters == 4
        assert isinstance(random_state, np.random.RandomState)
        assert random_state is calls[0][2]  # one state, drawn from run after run
    assert model.cluster_centers_.shape == (4, 3)

    calls.clear()
    KMeans(4, init=init, n_init=3, random_state=7).fit(X.astype(np.float32))
    assert len(calls) == 3 and calls[0][0].dtype == np.float32

    state = np.random.RandomState(3)
    calls.clear()
    KMeans(4, init=init, n_init=1, random_state=state).fit(X)
    assert calls[0][2] is state


def test_callable_init_gives_scikit_learns_result_from_the_same_draws():
    SKKMeans = pytest.importorskip("sklearn.cluster").KMeans
    X = _blobs(n_samples=800, centers=4, n_features=3)

    def init(data, n_clusters, random_state):
        return data[random_state.choice(len(data), n_clusters, replace=False)]

    ours = KMeans(4, init=init, n_init=1, random_state=11).fit(X)
    theirs = SKKMeans(4, init=init, n_init=1, random_state=11).fit(X)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=1e-10)
    assert ours.n_iter_ == theirs.n_iter_


def test_callable_init_keeps_the_best_run():
    X = _blobs(n_samples=800, centers=6, n_features=2)
    starts = [_start(X, 6, seed) for seed in range(4)]
    given = iter(starts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # two iterations only
        best = KMeans(6, init=lambda data, k, random_state: next(given), n_init=4, max_iter=2).fit(X)
        alone = [KMeans(6, init=start, max_iter=2).fit(X).inertia_ for start in starts]
    assert best.inertia_ == pytest.approx(min(alone), rel=1e-12)


def test_callable_init_centres_are_in_the_frame_of_x():
    # Far from the origin: a start taken in a centred frame would be far off.
    X = _blobs(n_samples=400, centers=3, n_features=2) + 1000.0
    start = _start(X, 3, 0)
    called = KMeans(3, init=lambda data, k, random_state: start.copy(), n_init=1).fit(X)
    given = KMeans(3, init=start, n_init=1).fit(X)
    np.testing.assert_array_equal(called.labels_, given.labels_)
    np.testing.assert_allclose(called.cluster_centers_, given.cluster_centers_)


@pytest.mark.parametrize(
    "returned, message",
    [
        (lambda data: data[:2], r"The shape of the initial centers \(2, 3\) does not match the number of clusters 4"),
        (lambda data: data[:4, :2],
         r"The shape of the initial centers \(4, 2\) does not match the number of features of the data 3"),
    ],
)
def test_callable_init_of_the_wrong_shape(returned, message):
    X = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match=message):
        KMeans(4, init=lambda data, k, random_state: returned(data), n_init=1).fit(X)


def test_an_array_init_with_several_runs_warns_runtime_warning():
    X = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.warns(RuntimeWarning, match=r"Explicit initial center position passed: performing only one "
                                            r"init in KMeans instead of n_init=3"):
        model = KMeans(3, init=X[:3], n_init=3).fit(X)
    assert model.history_ is not None and len(model.history_.centers) == model.n_iter_ + 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KMeans(3, init=X[:3]).fit(X)  # n_init="auto" is 1 for an array


# --- copy_x ------------------------------------------------------------------------------------

@pytest.mark.parametrize("copy_x", [True, False])
def test_copy_x_is_accepted_and_x_is_left_as_it_was(copy_x):
    X = _blobs(n_samples=300, centers=3, n_features=2) + 50.0
    before = X.copy()
    model = KMeans(3, random_state=0, copy_x=copy_x).fit(X)
    np.testing.assert_array_equal(X, before)
    assert model.get_params()["copy_x"] is copy_x
    X32 = X.astype(np.float32)
    before32 = X32.copy()
    KMeans(3, random_state=0, copy_x=copy_x).fit(X32)
    np.testing.assert_array_equal(X32, before32)


def test_bad_copy_x_names_the_parameter():
    with pytest.raises(ValueError, match="copy_x must be True or False, got 'no'"):
        KMeans(2, copy_x="no").fit(np.random.default_rng(0).normal(size=(10, 2)))


# --- k_means and kmeans_plusplus ---------------------------------------------------------------

def test_k_means_from_given_centres_is_scikit_learns():
    cluster = pytest.importorskip("sklearn.cluster")
    X = _blobs(n_samples=1000, centers=5, n_features=3)
    start = _start(X, 5, 3)
    weights = np.random.default_rng(0).uniform(0.5, 2.0, size=len(X))
    ours = kmix.k_means(X, 5, init=start, sample_weight=weights, return_n_iter=True)
    theirs = cluster.k_means(X, 5, init=start, sample_weight=weights, return_n_iter=True)
    assert len(ours) == 4
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10)
    np.testing.assert_array_equal(ours[1], theirs[1])
    assert ours[2] == pytest.approx(theirs[2], rel=1e-9)
    assert ours[3] == theirs[3]


def test_k_means_returns_what_kmeans_finds():
    X = _blobs(n_samples=500, centers=4, n_features=2)
    centers, labels, inertia = kmix.k_means(X, 4, random_state=0)
    model = KMeans(4, init="k-means++", random_state=0, algorithm="lloyd").fit(X)
    np.testing.assert_array_equal(centers, model.cluster_centers_)
    np.testing.assert_array_equal(labels, model.labels_)
    assert inertia == model.inertia_ and isinstance(inertia, float)
    assert centers.shape == (4, 2) and labels.shape == (500,)
    with pytest.raises(ValueError, match="return_n_iter must be True or False"):
        kmix.k_means(X, 4, return_n_iter="yes")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kmeans_plusplus_returns_rows_of_x_and_their_indices(dtype):
    X = _blobs(n_samples=700, centers=6, n_features=3).astype(dtype)
    centers, indices = kmix.kmeans_plusplus(X, 6, random_state=0)
    assert centers.shape == (6, 3) and centers.dtype == dtype
    assert indices.shape == (6,) and indices.dtype == np.int64
    assert len(set(indices.tolist())) == 6 and indices.min() >= 0 and indices.max() < len(X)
    np.testing.assert_array_equal(centers, X[indices])
    # scikit-learn's function gives the same kind of answer (its own draws)
    cluster = pytest.importorskip("sklearn.cluster")
    their_centers, their_indices = cluster.kmeans_plusplus(X, 6, random_state=0)
    assert their_centers.shape == centers.shape and their_centers.dtype == centers.dtype
    assert their_indices.shape == indices.shape


def test_kmeans_plusplus_draws_the_seeds_kmeans_starts_from():
    X = _blobs(n_samples=500, centers=5, n_features=2)
    centers, _ = kmix.kmeans_plusplus(X, 5, random_state=4)
    model = KMeans(5, init="k-means++", random_state=4).fit(X)
    np.testing.assert_allclose(model.history_.centers[0], centers, atol=1e-12)


def test_kmeans_plusplus_seeds_are_spread_like_scikit_learns():
    cluster = pytest.importorskip("sklearn.cluster")
    X = _blobs(n_samples=2000, centers=8, n_features=2)

    def potential(centers):
        return float(((X[:, None, :] - centers[None]) ** 2).sum(axis=2).min(axis=1).sum())

    ours = np.median([potential(kmix.kmeans_plusplus(X, 8, random_state=s)[0]) for s in range(15)])
    theirs = np.median([potential(cluster.kmeans_plusplus(X, 8, random_state=s)[0]) for s in range(15)])
    assert 0.5 < ours / theirs < 2.0


def test_kmeans_plusplus_weights_and_trials():
    X = np.random.default_rng(0).normal(size=(100, 2))
    weights = np.zeros(100)
    weights[::10] = 1.0
    _, indices = kmix.kmeans_plusplus(X, 5, sample_weight=weights, random_state=0)
    assert np.all(indices % 10 == 0)  # a point of weight 0 is never drawn
    _, again = kmix.kmeans_plusplus(X, 5, sample_weight=weights, random_state=0)
    np.testing.assert_array_equal(indices, again)
    centers, _ = kmix.kmeans_plusplus(X, 5, n_local_trials=1, random_state=0,
                                      x_squared_norms=(X**2).sum(axis=1))
    assert centers.shape == (5, 2)


@pytest.mark.parametrize(
    "args, message",
    [
        (dict(n_clusters=101), r"n_samples=100 should be >= n_clusters=101"),
        (dict(n_clusters=0), r"n_clusters must be >= 1, got 0"),
        (dict(n_clusters=3, x_squared_norms=np.ones(5)),
         r"The length of x_squared_norms 5 should be equal to the length of n_samples 100"),
        (dict(n_clusters=3, sample_weight=np.ones(5)), r"sample_weight has 5 entries but X has 100 samples"),
        (dict(n_clusters=3, sample_weight=-np.ones(100)), r"sample_weight must be non-negative"),
        (dict(n_clusters=3, n_local_trials=0), r"n_local_trials must be >= 1, got 0"),
    ],
)
def test_kmeans_plusplus_bad_input(args, message):
    X = np.random.default_rng(0).normal(size=(100, 2))
    with pytest.raises(ValueError, match=message):
        kmix.kmeans_plusplus(X, **args)


def test_kmeans_plusplus_refuses_nan():
    X = np.random.default_rng(0).normal(size=(20, 2))
    X[3, 1] = np.nan
    with pytest.raises(kmix.DataError, match="NaN or inf"):
        kmix.kmeans_plusplus(X, 2)


def test_new_names_are_public_and_loaded_on_first_use():
    assert {"k_means", "kmeans_plusplus"} <= set(kmix.__all__)
    assert {"k_means", "kmeans_plusplus"} <= set(dir(kmix))
    assert callable(kmix.k_means) and callable(kmix.kmeans_plusplus)


def test_the_command_line_does_not_import_scikit_learn(tmp_path):
    code = (
        "import sys; from kmix.cli.main import main; "
        "assert main(['kmeans', 'samples_3', '-k', '8']) == 0; "
        "assert main(['gmm', 'samples_2', '-k', '5']) == 0; "
        "assert main(['select', 'samples_2', '-k', '2..3', '--models', 'VVV,EEE', '--n-init', '1']) == 0; "
        "assert 'sklearn' not in sys.modules, 'sklearn was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr


# --- scikit-learn's wording -------------------------------------------------------------------

def test_fewer_distinct_clusters_in_scikit_learns_words():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 0]], dtype=float)
    with pytest.warns(ConvergenceWarning, match=r"Number of distinct clusters \(3\) found smaller than "
                                                r"n_clusters \(4\)\. Possibly due to duplicate points in X\."):
        KMeans(4, random_state=0).fit(X)


def test_gaussian_mixture_not_converging_in_scikit_learns_words():
    X = _blobs(n_samples=300, centers=3, n_features=2)
    with pytest.warns(ConvergenceWarning, match=r"Best performing initialization did not converge\. Try different "
                                                r"init parameters, or increase max_iter, tol, or check for "
                                                r"degenerate data\. It stopped at max_iter=1 iterations"):
        GaussianMixture(3, max_iter=1, random_state=0).fit(X)


def test_ill_defined_covariance_in_scikit_learns_words_then_where():
    X = np.vstack([np.ones((5, 5)), np.zeros((5, 5))])
    with pytest.raises(kmix.NumericalError) as caught:
        GaussianMixture(10, reg_covar=0, random_state=0).fit(X)
    message = str(caught.value)
    assert message.startswith(
        "Fitting the mixture model failed because some components have ill-defined empirical covariance "
        "(for instance caused by singleton or collapsed samples). Try to decrease the number of components, "
        "increase reg_covar, or scale the input data. At ")
    assert re.search(r"At (initialisation|EM iteration \d+): the covariance of component \d+", message)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(weights_init=[1.5, -0.5]),
         r"The parameter 'weights' should be in the range \[0, 1\], but got min value -0\.50000, max value 1\.50000"),
        (dict(weights_init=[0.2, 0.3]),
         r"The parameter 'weights' should be normalized, but got sum\(weights\) = 0\.50000"),
        (dict(weights_init=np.ones((2, 1)) / 2),
         r"The parameter 'weights' should have the shape of \(2,\), but got \(2, 1\)"),
        (dict(means_init=np.zeros((3, 2))),
         r"The parameter 'means' should have the shape of \(2, 2\), but got \(3, 2\)"),
        (dict(covariance_type="diag", precisions_init=-np.ones((2, 2))), r"'diag precision' should be positive"),
        (dict(covariance_type="spherical", precisions_init=np.ones(3)),
         r"The parameter 'spherical precision' should have the shape of \(2,\), but got \(3,\)"),
        (dict(covariance_type="tied", precisions_init=-np.eye(2)),
         r"'tied precision' should be symmetric, positive-definite"),
    ],
)
def test_gaussian_mixture_initial_parameters_in_scikit_learns_words(params, message):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match=message):
        GaussianMixture(2, **params).fit(X)


def test_not_fitted_and_sampling_nothing_in_scikit_learns_words():
    X = np.random.default_rng(0).normal(size=(20, 2))
    for model in (KMeans(2), GaussianMixture(2)):
        name = type(model).__name__
        with pytest.raises(kmix.NotFittedError, match=rf"This {name} instance is not fitted yet\. Call 'fit' with "
                                                      r"appropriate arguments before using this estimator\."):
            model.predict(X)
    model = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"Invalid value for 'n_samples': 0\. The sampling requires at least one"):
        model.sample(0)
