"""The compiled EM loop (kmix.kernels.gmm_loop) against EM's own loop, iteration by
iteration: the same iterations, parameters and stops for every covariance type."""

import numpy as np
import pytest

from kmix.exceptions import NumericalError
from kmix.kernels import gmm_loop as gl
from kmix.kernels.gmm_covariances import COVARIANCE_NAMES
from kmix.models.em import RelativeStop
from kmix.models.gaussian_mixture import GaussianMixtureCore

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(n=240, d=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [4.0, 1.0, -2.0], [-3.0, 5.0, 1.0]])[:, :d]
    labels = rng.integers(3, size=n)
    factors = rng.normal(size=(3, d, d)) * 0.4 + np.eye(d)
    return centres[labels] + np.einsum("nij,nj->ni", factors[labels], rng.normal(size=(n, d)))


@pytest.fixture
def calls(monkeypatch):
    """Counts the compiled loop's calls (em() looks it up at each fit)."""
    count = [0]
    original = gl.run_em_loop

    def spy(*args, **kwargs):
        count[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(gl, "run_em_loop", spy)
    return count


def _fit(X, covariance_type, callback=None, sample_weight=None, **settings):
    params = dict(n_components=3, covariance_type=covariance_type, random_state=0, record_history=False,
                  max_iter=40, tol=1e-9, init_params="k-means++", callback=callback)
    params.update(settings)
    return GaussianMixtureCore(**params).fit(X, sample_weight=sample_weight)


def _interpreted(iteration, state):
    # Any callback but a RelativeStop keeps EM's own loop.
    return None


def _assert_same(compiled, reference, rtol=1e-8):
    assert compiled.n_iter_ == reference.n_iter_
    assert compiled.converged_ == reference.converged_
    np.testing.assert_allclose(compiled.history_.log_likelihood, reference.history_.log_likelihood,
                               rtol=1e-11, atol=0)
    assert compiled.lower_bound_ == pytest.approx(reference.lower_bound_, rel=1e-11)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        a, b = getattr(compiled, name), getattr(reference, name)
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=0, atol=rtol * np.max(np.abs(b)), err_msg=name)


@pytest.mark.parametrize("covariance_type", COVARIANCE_NAMES)
def test_same_fit_as_em_loop(covariance_type, calls):
    X = _data()
    compiled = _fit(X, covariance_type)
    assert calls[0] == 1
    reference = _fit(X, covariance_type, callback=_interpreted)
    assert calls[0] == 1
    _assert_same(compiled, reference)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_read_only_rows_fit_as_writable_ones(covariance_type, calls):
    # A memory-mapped file opened read-only: the loop takes its rows as they are.
    X = _data()
    frozen = X.copy()
    frozen.flags.writeable = False
    compiled = _fit(frozen, covariance_type)
    assert calls[0] == 1
    reference = _fit(X, covariance_type)
    assert calls[0] == 2
    assert compiled.n_iter_ == reference.n_iter_
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_array_equal(getattr(compiled, name), getattr(reference, name))


@pytest.mark.parametrize("covariance_type", ["full", "VEV", "EVE", "VEI", "spherical"])
def test_weighted_and_one_feature_and_relative_stop(covariance_type, calls):
    rng = np.random.default_rng(3)
    X = _data(d=2, seed=1)
    weight = rng.integers(1, 4, size=X.shape[0]).astype(float)
    _assert_same(_fit(X, covariance_type, sample_weight=weight),
                 _fit(X, covariance_type, sample_weight=weight, callback=_interpreted))
    X1 = _data(d=1, seed=2)
    _assert_same(_fit(X1, covariance_type), _fit(X1, covariance_type, callback=_interpreted))
    # mclust's relative stop, inside the loop and as a plain callback.
    stop = RelativeStop(1e-5, float(X.shape[0]))
    compiled = _fit(X, covariance_type, callback=stop, tol=0.0, max_iter=500)
    reference = _fit(X, covariance_type, callback=lambda i, s: stop(i, s), tol=0.0, max_iter=500)
    _assert_same(compiled, reference)
    assert compiled.history_.stopped_by_callback and reference.history_.stopped_by_callback
    assert compiled.n_iter_ < 500
    assert calls[0] == 3


def test_collapse_names_the_component_as_em_loop_does(calls):
    # Component 1 starts at three identical points far from the rest: after the
    # first E-step they are all it has, and its covariance is 0 without reg_covar.
    X = np.vstack([_data(n=60, d=2), np.full((3, 2), 40.0)])
    settings = dict(reg_covar=0.0, covariance_type="VVV", weights_init=np.full(3, 1 / 3),
                    means_init=np.array([[0.0, 0.0], [40.0, 40.0], [3.0, 3.0]]),
                    precisions_init=np.repeat(np.eye(2)[None], 3, axis=0))
    messages = []
    for callback in (None, _interpreted):
        with pytest.raises(NumericalError, match="component 1") as info:
            _fit(X, callback=callback, **settings)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert "EM iteration 1" in messages[0]
    assert calls[0] == 1


def test_not_taken_for_float32_recorded_or_wide_data(calls):
    X = _data()
    _fit(X.astype(np.float32), "full")
    _fit(X, "full", record_history=True)
    wide = np.random.default_rng(0).normal(size=(100, 17))
    _fit(wide, "diag")
    assert calls[0] == 0


def test_a_fresh_process_that_imports_the_loop_first_still_fits():
    # The loop's machine code calls the parallel pass, and is compiled or loaded
    # only once the thread pool runs (see em_loop()); a fresh process that imports
    # the compiled module before anything else, then fits through the loop.
    import subprocess
    import sys

    script = (
        "import kmix.kernels.compiled.gmm_em_loop\n"
        "import numpy as np\n"
        "from kmix.models.gaussian_mixture import GaussianMixtureCore\n"
        "X = np.random.default_rng(0).normal(size=(200, 2))\n"
        "m = GaussianMixtureCore(n_components=2, record_history=False, random_state=0).fit(X)\n"
        "print(m.n_iter_ > 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "True"


@pytest.mark.parametrize("covariance_type", COVARIANCE_NAMES)
def test_a_start_from_statistics_is_the_interpreted_m_step(covariance_type):
    # One M-step from a partition's one-hot statistics, compiled (per-component
    # moments, full or diagonal) and interpreted (the model's own layout).
    from kmix.kernels import gmm as gk
    from kmix.models.em import statistics_of_rows, update_parameters

    X = _data(n=90)
    labels = np.arange(X.shape[0]) % 3
    resp, ones = np.eye(3)[labels], np.ones(X.shape[0])
    layout = gk.layout_of(covariance_type)
    kind = "diag" if layout in ("diag", "spherical") else "full"
    compiled = update_parameters(statistics_of_rows(X, ones, resp, kind), covariance_type, 0.0, np.float64, None,
                                 compiled=True)
    reference = update_parameters(statistics_of_rows(X, ones, resp, covariance_type), covariance_type, 0.0,
                                  np.float64, None)
    for a, b, name in zip(compiled, reference, ("weights", "means", "covariances", "factors")):
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.max(np.abs(b)), err_msg=name)


def test_a_start_that_cannot_be_factorised_names_the_component():
    from kmix.models.em import statistics_of_rows, update_parameters

    # Component 1 is one point: its scatter is 0 exactly.
    X = np.vstack([_data(n=30, d=2) + 5.0, np.zeros((1, 2))])
    labels = np.r_[np.zeros(30, dtype=int), np.ones(1, dtype=int)]
    messages = []
    for kind, compiled in (("full", True), ("VVV", False)):
        stats = statistics_of_rows(X, np.ones(X.shape[0]), np.eye(2)[labels], kind)
        with pytest.raises(NumericalError, match=r"initialisation: .*component 1.*reg_covar=0") as info:
            update_parameters(stats, "VVV", 0.0, np.float64, None, compiled=compiled)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    with pytest.raises(ValueError, match="per-component full second moments"):
        update_parameters(statistics_of_rows(X, np.ones(X.shape[0]), np.eye(2)[labels], "tied"), "EEE", 0.0,
                          np.float64, None, compiled=True)


@pytest.mark.parametrize("covariance_type", ["VVV", "diag", "EVE", "spherical"])
def test_the_scores_of_a_fit_are_those_of_a_pass_over_the_data(covariance_type):
    # Σ w log p(x) and Σ w log max_k z_k, taken by the loop at its returned
    # parameters, against the criteria's own pass with the fitted model.
    from kmix import backends
    from kmix.models.selection import criteria

    X = _data(n=300)
    weight = np.random.default_rng(5).integers(0, 3, size=X.shape[0]).astype(float)
    for sample_weight in (None, weight):
        model = GaussianMixtureCore(n_components=3, covariance_type=covariance_type, random_state=0,
                                    record_history=False, max_iter=30)
        start = GaussianMixtureCore(n_components=3, covariance_type=covariance_type, random_state=0,
                                    max_iter=0).fit(X)
        from kmix.models.em import MixtureParameters
        parameters = MixtureParameters(start.weights_, start.means_, start.covariances_,
                                       start.precisions_cholesky_)
        with backends.wrap(X, sample_weight) as data:
            scores = model._fit_from(data, parameters)
        assert scores is not None
        by_pass = criteria(model, X, sample_weight)
        from_fit = criteria(model, X, sample_weight, scores)
        np.testing.assert_allclose(from_fit, by_pass, rtol=1e-11)
        # The least ratio of a covariance's smallest eigenvalue to its largest.
        from kmix.kernels import gmm as gk

        full = gk.full_covariances(model.covariances_, gk.layout_of(covariance_type), 3, X.shape[1])
        values = np.linalg.eigvalsh(full)
        assert scores[2] == pytest.approx(np.min(values[:, 0] / values[:, -1]), rel=1e-12)
