"""Lloyd's iterations in one compiled call (kmix.kernels.kmeans_loop), plain and
with Hamerly's bounds, against the same iterations run from Python
(kmix.models.lloyd.run_lloyd's own loop)."""

import numpy as np
import pytest

import kmix
from kmix.kernels import kmeans_loop
from kmix.models import lloyd


def _spy(monkeypatch, name):
    calls = []
    original = getattr(kmeans_loop, name)

    def spy(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append(result)
        return result

    monkeypatch.setattr(kmeans_loop, name, spy)
    return calls


@pytest.fixture
def loop_calls(monkeypatch):
    """The results of every call of the compiled plain loop, in order."""
    return _spy(monkeypatch, "lloyd_loop")


@pytest.fixture
def bounded_calls(monkeypatch):
    """The results of every call of the compiled bounded loop, in order."""
    return _spy(monkeypatch, "bounded_loop")


def _fit(X, monkeypatch, use_loop, sample_weight=None, algorithm="lloyd", **params):
    with monkeypatch.context() as patch:
        if not use_loop:
            patch.setattr(lloyd, "_loop_applies", lambda *args: False)
        return kmix.KMeans(algorithm=algorithm, n_init=1, **params).fit(X, sample_weight=sample_weight)


def _assert_same_fit(a, b):
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.inertia_ == b.inertia_
    assert a.history_.converged == b.history_.converged
    for field in ("ssd", "n_changed", "centers"):
        np.testing.assert_array_equal(getattr(a.history_, field), getattr(b.history_, field))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [2, 7, 16])
def test_compiled_loop_runs_the_same_iterations(rng, monkeypatch, loop_calls, d, dtype):
    X = (rng.normal(size=(3000, d)) + rng.integers(0, 4, size=(3000, 1)) * 2.5).astype(dtype)
    weights = (None, rng.uniform(0.5, 2.0, size=3000))
    for sample_weight in weights:
        fast = _fit(X, monkeypatch, True, sample_weight, n_clusters=6, random_state=2, tol=1e-6)
        assert len(loop_calls) == 1 and loop_calls.pop().finished
        interpreted = _fit(X, monkeypatch, False, sample_weight, n_clusters=6, random_state=2, tol=1e-6)
        assert not loop_calls
        assert fast.n_iter_ > 3
        _assert_same_fit(fast, interpreted)


@pytest.mark.filterwarnings("ignore::kmix.exceptions.ConvergenceWarning")
def test_compiled_loop_stops_at_max_iter(rng, monkeypatch, loop_calls):
    X = rng.normal(size=(2000, 5))
    fast = _fit(X, monkeypatch, True, n_clusters=9, random_state=0, max_iter=3, tol=0.0)
    interpreted = _fit(X, monkeypatch, False, n_clusters=9, random_state=0, max_iter=3, tol=0.0)
    assert fast.n_iter_ == 3 and not fast.history_.converged
    assert loop_calls[0].finished and loop_calls[0].n_iter == 3
    _assert_same_fit(fast, interpreted)


def test_empty_cluster_hands_the_rest_to_python(monkeypatch, loop_calls):
    # Found by search: with these draws a pass after the first update leaves a
    # cluster empty, so the relocation and every later iteration run in Python.
    rng = np.random.default_rng(19)
    X = np.round(rng.normal(size=(40, 2)) * 3) / 3
    fast = _fit(X, monkeypatch, True, n_clusters=12, init="random", random_state=19)
    (handed,) = loop_calls
    assert not handed.finished and handed.n_iter == 1
    assert fast.n_iter_ > handed.n_iter
    interpreted = _fit(X, monkeypatch, False, n_clusters=12, init="random", random_state=19)
    _assert_same_fit(fast, interpreted)


def test_empty_cluster_at_the_start(rng, monkeypatch, loop_calls):
    X = rng.normal(size=(500, 3))
    start = X[:4].copy()
    start[3] = start[2]  # the same centre twice: the second gets no rows
    fast = _fit(X, monkeypatch, True, n_clusters=4, init=start)
    assert not loop_calls[0].finished and loop_calls[0].n_iter == 0
    interpreted = _fit(X, monkeypatch, False, n_clusters=4, init=start)
    _assert_same_fit(fast, interpreted)


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_compiled_loop_does_not_depend_on_the_thread_count(rng, monkeypatch, algorithm):
    calls = _spy(monkeypatch, "lloyd_loop" if algorithm == "lloyd" else "bounded_loop")
    X = rng.normal(size=(9000, 4)) + rng.integers(0, 3, size=(9000, 1)) * 2.0
    fits = []
    for threads in ("1", "2"):
        monkeypatch.setenv("KMIX_NUM_THREADS", threads)
        fits.append(kmix.KMeans(20, algorithm=algorithm, random_state=1).fit(X))
    assert len(calls) == 2
    _assert_same_fit(*fits)


def test_not_taken_with_a_callback(rng, loop_calls, bounded_calls):
    X = rng.normal(size=(800, 3))
    kmix.KMeans(4, algorithm="lloyd", random_state=0, callback=lambda i, s: None).fit(X)
    kmix.KMeans(4, algorithm="hamerly", random_state=0, callback=lambda i, s: None).fit(X)
    assert not loop_calls and not bounded_calls
    kmix.KMeans(4, algorithm="hamerly", random_state=0).fit(X)
    assert not loop_calls and len(bounded_calls) == 1


def _recorded_passes(monkeypatch):
    """The bounded LloydPasses objects a fit makes (their ``rescanned`` lists)."""
    made = []
    original = lloyd.LloydPasses.__init__

    def recording(self, data, bounds):
        original(self, data, bounds)
        if bounds:
            made.append(self)

    monkeypatch.setattr(lloyd.LloydPasses, "__init__", recording)
    return made


@pytest.mark.filterwarnings("ignore::kmix.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [2, 7, 16])
def test_compiled_bounded_loop_runs_the_same_iterations(rng, monkeypatch, bounded_calls, d, dtype):
    """The same labels, centres, records and stop as the bounded passes run from
    Python, and the same rows scanned in full by every pass (so the same bounds)."""
    made = _recorded_passes(monkeypatch)
    X = (rng.normal(size=(6000, d)) + rng.integers(0, 5, size=(6000, 1)) * 2.0).astype(dtype)
    for sample_weight in (None, rng.uniform(0.5, 2.0, size=6000)):
        fast = _fit(X, monkeypatch, True, sample_weight, algorithm="hamerly", n_clusters=24,
                    random_state=3, tol=1e-7, max_iter=60)
        assert len(bounded_calls) == 1 and bounded_calls.pop().finished
        interpreted = _fit(X, monkeypatch, False, sample_weight, algorithm="hamerly",
                           n_clusters=24, random_state=3, tol=1e-7, max_iter=60)
        assert not bounded_calls
        assert fast.n_iter_ > 5
        _assert_same_fit(fast, interpreted)
        loop_passes, python_passes = made[-2].rescanned, made[-1].rescanned
        # A pass per iteration and the first, less one after labels that stayed.
        assert len(loop_passes) == fast.n_iter_ + (0 if fast.history_.n_changed[-1] == 0 else 1)
        assert loop_passes == python_passes
        assert loop_passes[0] == 6000 and min(loop_passes) < 6000


def test_compiled_bounded_loop_of_float64_rows_too_large_for_float32(rng, monkeypatch,
                                                                     bounded_calls):
    """Centres beyond float32's range turn its scan off in both: the same fit."""
    X = (rng.normal(size=(3000, 5)) + rng.integers(0, 4, size=(3000, 1)) * 3.0) * 1e40
    fast = _fit(X, monkeypatch, True, algorithm="hamerly", n_clusters=8, random_state=0)
    assert len(bounded_calls) == 1
    interpreted = _fit(X, monkeypatch, False, algorithm="hamerly", n_clusters=8, random_state=0)
    _assert_same_fit(fast, interpreted)


def test_compiled_bounded_loop_hands_an_empty_cluster_to_python(rng, monkeypatch, bounded_calls):
    X = rng.normal(size=(500, 3))
    start = X[:20].copy()
    start[19] = start[18]  # the same centre twice: the second gets no rows
    fast = _fit(X, monkeypatch, True, algorithm="hamerly", n_clusters=20, init=start)
    assert not bounded_calls[0].finished and bounded_calls[0].n_iter == 0
    interpreted = _fit(X, monkeypatch, False, algorithm="hamerly", n_clusters=20, init=start)
    _assert_same_fit(fast, interpreted)


def test_loop_applies_by_shape():
    assert kmeans_loop.loop_applies(8, 16, 8, 300, True)
    assert kmeans_loop.loop_applies(64, 16, 8, 300, True, bounds=True)
    assert not kmeans_loop.loop_applies(1000, 16, 8, 300, False, bounds=True)
    assert not kmeans_loop.loop_applies(8, 33, 8, 300, False)
    assert kmeans_loop.loop_applies(5000, 32, 8, 300, False)
    assert not kmeans_loop.loop_applies(5000, 32, 8, 300, True)
