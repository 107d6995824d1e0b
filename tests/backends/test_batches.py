"""Fits over kmix.Batches: one batch in memory at a time, the in-memory fit's result."""

import weakref
import warnings

import numpy as np
import pytest

from kmix.backends.batches import BatchData, Batches
from kmix.estimators import GaussianMixture, KMeans
from kmix.exceptions import ConvergenceWarning, DataError
from kmix.kernels.moments import column_moments, merge_column_moments

# Uneven batches, one of them empty.
CUTS = [0, 130, 130, 131, 420, 600]


def _relative(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(a)))


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(7)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 3.0]])
    X = np.concatenate([rng.normal(c, [1.0, 0.7, 1.3], size=(200, 3)) for c in centres]) + 100.0
    return X[rng.permutation(X.shape[0])]


@pytest.fixture(scope="module")
def weights():
    return np.random.default_rng(3).uniform(0.0, 3.0, size=600)


def _parts(array):
    return [array[a:b] for a, b in zip(CUTS[:-1], CUTS[1:])]


def _sources(kind, X, tmp_path):
    """The same uneven batches as arrays, .npy files or a callable."""
    if kind == "arrays":
        return _parts(X)
    if kind == "files":
        paths = []
        for index, part in enumerate(_parts(X)):
            path = tmp_path / f"batch{index}.npy"
            np.save(path, part)
            paths.append(path if index % 2 else str(path))
        return paths
    return lambda: (part.copy() for part in _parts(X))


class _LiveCounter:
    """A callable source whose batches are fresh arrays; records the most alive at once."""

    def __init__(self, X):
        self.X, self.live, self.most, self.calls = X, 0, 0, 0

    def _dead(self):
        self.live -= 1

    def _make(self, part):
        array = part.copy()
        self.live += 1
        self.most = max(self.most, self.live)
        weakref.finalize(array, self._dead)
        return array

    def __call__(self):
        self.calls += 1
        return (self._make(part) for part in _parts(self.X))


# --- k-means ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["arrays", "files", "callable"])
def test_kmeans_over_batches_is_the_in_memory_fit(X, tmp_path, kind):
    init = X[[0, 1, 2]] + 0.5
    whole = KMeans(3, init=init).fit(X)
    batched = KMeans(3, init=init).fit(Batches(_sources(kind, X, tmp_path)))
    assert _relative(whole.cluster_centers_, batched.cluster_centers_) < 1e-12
    assert isinstance(batched.labels_, np.ndarray) and batched.labels_.dtype == np.int32
    np.testing.assert_array_equal(whole.labels_, batched.labels_)
    assert batched.n_iter_ == whole.n_iter_
    assert batched.inertia_ == pytest.approx(whole.inertia_, rel=1e-12)


@pytest.mark.parametrize("algorithm", ["auto", "hamerly"])
def test_kmeans_over_batches_with_sample_weight(X, weights, algorithm):
    init = X[[3, 4, 5]]
    whole = KMeans(3, init=init, algorithm=algorithm).fit(X, sample_weight=weights)
    batched = KMeans(3, init=init, algorithm=algorithm).fit(
        Batches(_parts(X), sample_weight=[None if i == 1 else w for i, w in enumerate(_parts(weights))]))
    assert _relative(whole.cluster_centers_, batched.cluster_centers_) < 1e-12
    np.testing.assert_array_equal(whole.labels_, batched.labels_)
    assert batched.n_iter_ == whole.n_iter_


def test_kmeans_float32_batches_stay_float32(X):
    X32 = X.astype(np.float32)
    init = X32[[0, 1, 2]]
    whole = KMeans(3, init=init).fit(X32)
    batched = KMeans(3, init=init).fit(Batches(_parts(X32)))
    assert batched.cluster_centers_.dtype == np.float32
    np.testing.assert_allclose(batched.cluster_centers_, whole.cluster_centers_, rtol=1e-5)
    np.testing.assert_array_equal(whole.labels_, batched.labels_)


def test_kmeans_named_inits_over_batches(X):
    """k-means|| (the default over batches) and "random" draw per batch: the same seed
    and batches give the same fit, near the in-memory optimum."""
    whole = KMeans(3, random_state=0, n_init=3).fit(X)
    for init in ["auto", "k-means||", "random"]:
        first = KMeans(3, init=init, random_state=0, n_init=3).fit(Batches(_parts(X)))
        again = KMeans(3, init=init, random_state=0, n_init=3).fit(Batches(_parts(X)))
        np.testing.assert_array_equal(first.cluster_centers_, again.cluster_centers_)
        assert first.inertia_ == pytest.approx(whole.inertia_, rel=1e-6)


def test_kmeans_callback_sees_every_label(X):
    seen = []
    KMeans(3, init=X[:3], callback=lambda it, state: seen.append(state.labels.shape)).fit(Batches(_parts(X)))
    assert seen and all(shape == (600,) for shape in seen)


def test_kmeans_plusplus_over_batches_says_what_to_use(X):
    with pytest.raises(ValueError, match=r"init='k-means\+\+'.*kmix.Batches use init='k-means\|\|'"):
        KMeans(3, init="k-means++").fit(Batches(_parts(X)))


# --- Gaussian mixtures --------------------------------------------------------------------

@pytest.mark.parametrize("covariance_type", ["full", "diag", "VEV"])
@pytest.mark.parametrize("kind", ["arrays", "files", "callable"])
def test_gmm_over_batches_is_the_in_memory_fit(X, tmp_path, covariance_type, kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = GaussianMixture(3, covariance_type=covariance_type, random_state=1, max_iter=1).fit(X)
    params = dict(n_components=3, covariance_type=covariance_type, means_init=start.means_,
                  weights_init=start.weights_, precisions_init=start.precisions_, tol=1e-9, max_iter=300)
    whole = GaussianMixture(**params).fit(X)
    batched = GaussianMixture(**params).fit(Batches(_sources(kind, X, tmp_path)))
    assert batched.n_iter_ == whole.n_iter_ > 1
    for name in ["weights_", "means_", "covariances_", "precisions_cholesky_"]:
        assert _relative(getattr(whole, name), getattr(batched, name)) < 1e-12, name
    assert batched.lower_bound_ == pytest.approx(whole.lower_bound_, rel=1e-12)


def test_gmm_over_batches_with_sample_weight(X, weights):
    start = dict(means_init=X[[0, 1, 2]], weights_init=np.full(3, 1 / 3),
                 precisions_init=np.stack([np.eye(3)] * 3))
    whole = GaussianMixture(3, tol=1e-9, **start).fit(X, sample_weight=weights)
    batched = GaussianMixture(3, tol=1e-9, **start).fit(Batches(_parts(X), sample_weight=_parts(weights)))
    assert batched.n_iter_ == whole.n_iter_
    for name in ["weights_", "means_", "covariances_"]:
        assert _relative(getattr(whole, name), getattr(batched, name)) < 1e-12, name


@pytest.mark.parametrize("init_params", ["kmeans", "random", "random_from_data"])
def test_gmm_inits_over_batches(X, init_params):
    """k-means (k-means|| seeding, then Lloyd over the batches), random and
    random_from_data draw per batch: reproducible, and they find the in-memory optimum."""
    # (Random responsibilities start near the middle: EM takes long to leave it.)
    params = dict(n_components=3, random_state=0, n_init=2, tol=1e-6, max_iter=1000)
    whole = GaussianMixture(**params).fit(X)
    first = GaussianMixture(init_params=init_params, **params).fit(Batches(_parts(X)))
    again = GaussianMixture(init_params=init_params, **params).fit(Batches(_parts(X)))
    np.testing.assert_array_equal(first.means_, again.means_)
    assert first.lower_bound_ == pytest.approx(whole.lower_bound_, rel=1e-6)


def test_gmm_kmeans_plusplus_over_batches_says_what_to_use(X):
    with pytest.raises(ValueError, match=r"init_params='k-means\+\+'.*kmix.Batches use init_params='kmeans'"):
        GaussianMixture(3, init_params="k-means++").fit(Batches(_parts(X)))


# --- one batch at a time --------------------------------------------------------------------

def test_fits_never_hold_two_batches(X):
    source = _LiveCounter(X)
    KMeans(3, init=X[:3]).fit(Batches(source))
    KMeans(3, random_state=0).fit(Batches(source))  # k-means||: per-row state kept per batch
    GaussianMixture(3, covariance_type="full", random_state=0, tol=1e-6).fit(Batches(source))
    assert source.calls > 10
    assert source.most == 1 and source.live == 0


@pytest.mark.parametrize("centre", [False, True])
def test_passes_drop_each_batch_before_the_next(X, centre):
    """The rows a kernel gets (a batch centred or cast as read) are freed before the
    next batch is read."""
    live, most = [0], [0]

    def dead():
        live[0] -= 1

    def kernel(block):
        live[0] += 1
        most[0] = max(most[0], live[0])
        weakref.finalize(block.X, dead)
        return (np.zeros(block.X.shape[0]),), block.X.shape[0]

    data = BatchData(Batches(lambda: (part.copy() for part in _parts(X))).checked(), centre=centre)
    state, total = data.reduce(kernel, merge=lambda a, b: a + b, keep_state=True)
    assert total == 600 and len(state) == len(CUTS) - 1 and state[1] is None
    assert most[0] == 1 and live[0] == 0


def test_batch_data_reduce_merges_in_batch_order(X):
    data = BatchData(Batches(_parts(X)).checked())
    merged = data.reduce(lambda block: column_moments(block.X), merge=merge_column_moments)
    whole = column_moments(X)
    assert merged.n == 600
    np.testing.assert_allclose(merged.sums, whole.sums, rtol=1e-13)
    np.testing.assert_allclose(merged.m2, whole.m2, rtol=1e-12)
    centred = data.centred()
    assert centred.centred() is centred and data.centred() is centred
    np.testing.assert_allclose(centred.offset, X.mean(axis=0), rtol=1e-13)
    assert not data.dense_block and data.n_positive_weights() == 600


# --- bad input ----------------------------------------------------------------------------

def _fit(source, sample_weight=None):
    KMeans(2, init=np.zeros((2, 3))).fit(Batches(source, sample_weight=sample_weight))


def test_bad_batches_name_the_batch_and_the_problem(X, tmp_path):
    good = X[:10]
    with pytest.raises(DataError, match=r"batch 1: has 2 columns but the batches before it have 3"):
        _fit([good, X[:5, :2]])
    with pytest.raises(DataError, match=r"batch 2: must be a 2-D array .* got 1-D"):
        _fit([good, good, X[:5, 0]])
    bad = good.copy()
    bad[4, 1] = np.nan
    bad[6, 0] = np.inf
    with pytest.raises(DataError, match=r"batch 1: contains 2 NaN or inf values \(first in row 4\)"):
        _fit([good, bad])
    path = tmp_path / "bad.npy"
    np.save(path, bad)
    with pytest.raises(DataError, match=r"batch 0 \(.*bad\.npy\): contains 2 NaN or inf"):
        _fit([path])
    with pytest.raises(DataError, match=r"batch 0: has dtype <U1, which is not numeric"):
        _fit([np.array([["a", "b", "c"]])])
    with pytest.raises(DataError, match=r"batch 0 \(.*missing\.npy\): cannot be read as a \.npy file"):
        _fit([tmp_path / "missing.npy"])
    with pytest.raises(DataError, match=r"the batches hold no rows: all 2 batch\(es\) are empty"):
        _fit([np.empty((0, 3)), np.empty((0, 3))])
    with pytest.raises(DataError, match=r"there are no batches"):
        _fit([])
    with pytest.raises(ValueError, match=r"sources must be a sequence of 2-D arrays or \.npy paths"):
        Batches(X)


def test_bad_sample_weights_name_the_batch(X):
    parts = [X[:10], X[10:30]]
    with pytest.raises(ValueError, match=r"sample_weight of batch 1: has shape \(19,\) but the batch has 20 rows"):
        _fit(parts, [np.ones(10), np.ones(19)])
    with pytest.raises(ValueError, match=r"sample_weight of batch 0: must be non-negative; 1 negative value\(s\), "
                                         r"first at index 3"):
        _fit(parts, [np.array([1.0, 1, 1, -1, 1, 1, 1, 1, 1, 1]), None])
    with pytest.raises(ValueError, match=r"sample_weight of batch 1: contains NaN or inf"):
        _fit(parts, [None, np.full(20, np.nan)])
    with pytest.raises(ValueError, match=r"sample_weight is all zero"):
        _fit(parts, [np.zeros(10), np.zeros(20)])
    with pytest.raises(ValueError, match=r"sample_weight has 1 entries but there are 2 batches"):
        _fit(parts, [None])
    with pytest.raises(ValueError, match=r"sample_weight has 3 entries but there are 2 batches"):
        _fit(lambda: iter(parts), [None, None, None])
    with pytest.raises(ValueError, match=r"the weights of a kmix.Batches are given per batch"):
        KMeans(2, init=np.zeros((2, 3))).fit(Batches(parts), sample_weight=np.ones(30))


def test_a_callable_that_changes_its_batches_is_an_error(X):
    calls = []

    def shrinking():
        calls.append(1)
        return iter([X[:100], X[100:200 - len(calls)]])

    with pytest.raises(DataError, match=r"batch 1: has shape \(98, 3\) on this pass but shape \(99, 3\) on "
                                        r"the first: the source must give the same batches"):
        _fit(shrinking)

    def fewer():
        calls.append(1)
        return iter([X[:100], X[100:200]][: 3 - min(len(calls), 2)])

    calls.clear()
    with pytest.raises(DataError, match=r"the source gave 1 batches on this pass but 2 on the first"):
        _fit(fewer)


def test_predict_on_batches_is_a_clear_error(X):
    model = KMeans(3, init=X[:3]).fit(Batches(_parts(X)))
    with pytest.raises(DataError, match=r"X is a kmix.Batches, which only KMeans.fit and GaussianMixture.fit take"):
        model.predict(Batches(_parts(X)))
    mixture = GaussianMixture(3, random_state=0).fit(Batches(_parts(X)))
    with pytest.raises(DataError, match=r"X is a kmix.Batches"):
        mixture.score_samples(Batches(_parts(X)))
