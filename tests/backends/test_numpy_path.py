"""Small in-memory data is fitted by the numpy entry points, never by compiled code:
the same fits as the compiled passes give (to rounding), and no numba in the process."""

import contextlib
import io
import subprocess
import sys

import numpy as np
import pytest

import kmix
import kmix.kernels
from kmix import backends
from kmix.kernels import kmeans_passes as passes
from kmix.kernels import moments
from kmix.kernels.seeding import kmeans_plusplus


def _blobs(rng, n=300, d=3, k=4, dtype=np.float64):
    centres = rng.normal(scale=6.0, size=(k, d))
    X = centres[rng.integers(0, k, n)] + rng.normal(size=(n, d))
    return X.astype(dtype)


def _compiled_entry_points():
    from kmix.kernels import gmm_passes
    from kmix.kernels import seeding
    from kmix.models import em

    return [(passes, "lloyd_statistics"), (passes, "bounded_statistics"),
            (gmm_passes, "compiled_statistics"), (em, "_em_compiled"),
            (passes, "threads"), (seeding, "threads"), (gmm_passes, "threads"),
            (seeding, "padded_centers")]


def _both(monkeypatch, numpy_path, fit):
    """``fit()`` by the numpy path (where any call into the compiled passes fails),
    then by the compiled passes (same data)."""
    def refuse(*args, **kwargs):
        raise AssertionError("a compiled pass ran on small data")

    with monkeypatch.context() as patch:
        for module, name in _compiled_entry_points():
            patch.setattr(module, name, refuse)
        small = fit()
    monkeypatch.setattr(kmix.kernels, "NUMPY_MAX_VALUES", 0)
    return small, fit()


def test_the_threshold_decides_by_the_number_of_values(numpy_path, rng):
    assert kmix.kernels.compiled_pays(numpy_path, 1) is False
    assert kmix.kernels.compiled_pays(numpy_path // 2 + 1, 2) is True
    X = rng.normal(size=(100, 2))
    weight = np.ones(100)
    assert backends.wrap(X, weight).compiled is False
    assert backends.wrap(X, weight, compiled=True).compiled is True
    assert backends.wrap(np.zeros((numpy_path, 2)), None).compiled is True


def test_centring_by_numpy_equals_the_compiled_passes(rng):
    for dtype in (np.float64, np.float32):
        X = (rng.normal(size=(777, 5)) * 10 + 3).astype(dtype)
        small = moments.centered(X, compiled=False)
        fast = moments.centered(X, compiled=True)
        for a, b in zip(small[:3], fast[:3]):
            assert a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
        assert small[3] == pytest.approx(fast[3], rel=1e-6)
        # the column ranges the magnitude check reads: exact either way
        np.testing.assert_array_equal(fast.low, X.min(axis=0).astype(np.float64))
        np.testing.assert_array_equal(fast.high, X.max(axis=0).astype(np.float64))
        np.testing.assert_array_equal(small.low, fast.low)
        np.testing.assert_array_equal(small.high, fast.high)
        for compiled in (False, True):
            sums, low, high = moments.column_ranges(X, n_threads=2, compiled=compiled)
            np.testing.assert_array_equal(low, fast.low)
            np.testing.assert_array_equal(high, fast.high)
            np.testing.assert_allclose(sums, X.astype(np.float64).sum(axis=0), rtol=1e-13)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kmeans_plusplus_by_numpy_draws_the_same_seeds(rng, weighted, dtype):
    X = _blobs(rng, n=500, d=4, k=6, dtype=dtype)
    weight = rng.uniform(0.5, 2.0, len(X)) if weighted else np.ones(len(X))
    norms = np.einsum("ij,ij->i", X, X)
    for seed in range(5):
        small = kmeans_plusplus(X, 6, np.random.default_rng(seed), weight, norms, compiled=False)
        fast = kmeans_plusplus(X, 6, np.random.default_rng(seed), weight, norms, compiled=True)
        np.testing.assert_array_equal(small, fast)


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kmeans_on_small_data_fits_as_the_compiled_passes(monkeypatch, numpy_path, rng, algorithm,
                                                          weighted, dtype):
    X = _blobs(rng, n=400, d=3, k=5, dtype=dtype)
    weight = rng.uniform(0.5, 2.0, len(X)) if weighted else None

    def fit():
        model = kmix.KMeans(5, algorithm=algorithm, n_init=3, random_state=7).fit(X, sample_weight=weight)
        return model, model.predict(X), model.transform(X), model.score(X)

    (small, small_predict, small_transform, small_score), (fast, fast_predict, fast_transform, fast_score) = (
        _both(monkeypatch, numpy_path, fit))
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_array_equal(small.labels_, fast.labels_)
    np.testing.assert_array_equal(small_predict, fast_predict)
    np.testing.assert_allclose(small.cluster_centers_, fast.cluster_centers_, rtol=rtol, atol=rtol)
    assert small.n_iter_ == fast.n_iter_
    assert small.inertia_ == pytest.approx(fast.inertia_, rel=rtol)
    np.testing.assert_allclose(small.history_.ssd, fast.history_.ssd, rtol=rtol)
    np.testing.assert_allclose(small_transform, fast_transform, rtol=rtol, atol=rtol)
    assert small_score == pytest.approx(fast_score, rel=rtol)


def test_kmeans_with_an_empty_cluster_relocates_as_the_compiled_passes(monkeypatch, numpy_path, rng):
    # Two far groups and a start with a centre nowhere near: that cluster empties.
    X = np.vstack([rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + 20.0])
    start = np.array([[0.0, 0.0], [20.0, 20.0], [1000.0, 1000.0]])

    def fit():
        return kmix.KMeans(3, init=start, n_init=1).fit(X)

    small, fast = _both(monkeypatch, numpy_path, fit)
    np.testing.assert_array_equal(small.labels_, fast.labels_)
    np.testing.assert_allclose(small.cluster_centers_, fast.cluster_centers_, rtol=1e-12)
    assert len(np.unique(small.labels_)) == 3


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gaussian_mixture_on_small_data_fits_as_the_compiled_passes(monkeypatch, numpy_path, rng,
                                                                    covariance_type):
    X = _blobs(rng, n=400, d=3, k=3)

    def fit():
        model = kmix.GaussianMixture(3, covariance_type=covariance_type, random_state=3, tol=1e-8,
                                     max_iter=200).fit(X)
        return model, model.predict_proba(X), model.score_samples(X)

    (small, small_proba, small_scores), (fast, fast_proba, fast_scores) = _both(monkeypatch, numpy_path, fit)
    assert small.n_iter_ == fast.n_iter_
    np.testing.assert_allclose(small.means_, fast.means_, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(small.covariances_, fast.covariances_, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(small.weights_, fast.weights_, rtol=1e-8)
    assert small.lower_bound_ == pytest.approx(fast.lower_bound_, rel=1e-10)
    np.testing.assert_allclose(small_proba, fast_proba, atol=1e-8)
    np.testing.assert_allclose(small_scores, fast_scores, rtol=1e-10)


def test_a_fit_without_recorded_parameters_runs_numpy_too(monkeypatch, numpy_path, rng):
    X = _blobs(rng, n=300, d=2, k=3)

    def fit():
        return kmix.GaussianMixture(3, random_state=1, record_history=False).fit(X)

    small, fast = _both(monkeypatch, numpy_path, fit)
    assert small.n_iter_ == fast.n_iter_
    np.testing.assert_allclose(small.means_, fast.means_, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("argv", [["kmeans", "samples_3", "-k", "8"], ["gmm", "samples_2", "-k", "5"]])
def test_a_command_line_run_on_small_data_never_imports_numba(argv):
    # What a first run on a fresh install costs: nothing is compiled.
    code = (
        "import contextlib, io, sys\n"
        "from kmix.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main({argv!r}) == 0\n"
        "assert 'numba' not in sys.modules, 'numba was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=600)


def test_the_command_line_prints_the_same_fit_either_way(monkeypatch, numpy_path):
    from kmix.cli.main import main

    def run():
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["kmeans", "samples_3", "-k", "8", "--seed", "42"]) == 0
            assert main(["gmm", "samples_2", "-k", "5", "--seed", "42"]) == 0
        return out.getvalue()

    small, fast = _both(monkeypatch, numpy_path, run)
    assert small == fast
