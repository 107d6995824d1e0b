"""kmix.MiniBatchKMeans against scikit-learn and hand computations, its history,
its stopping rules and its errors."""

import warnings

import numpy as np
import pytest
import scipy.sparse

import kmix
from kmix import MiniBatchKMeans
from kmix.backends.blocks import Block
from kmix.models.minibatch import MiniBatchState, minibatch_step


def _blobs(n=1500, k=4, d=3, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=10.0, size=(k, d))
    labels = rng.integers(k, size=n)
    return means[labels] + rng.normal(size=(n, d)), labels


def _sklearn_minibatch():
    return pytest.importorskip("sklearn.cluster").MiniBatchKMeans


# --- the same batches as scikit-learn ------------------------------------------------------

@pytest.mark.parametrize("params", [
    dict(),
    dict(tol=1e-3),
    dict(max_no_improvement=None, max_iter=3),
    dict(batch_size=40, max_iter=4, max_no_improvement=None),
    # many small clusters and small batches: random reassignments happen
    dict(batch_size=20, max_iter=3, max_no_improvement=None, n_clusters=25),
])
@pytest.mark.parametrize("weighted", [False, True])
def test_same_fit_as_scikit_learn_from_same_centres_and_seed(params, weighted):
    # From the same initial centres and seed the batches are scikit-learn's
    # (the draws are made in its order from a RandomState), so everything matches.
    SKMiniBatchKMeans = _sklearn_minibatch()
    X, _ = _blobs()
    params = dict(params)
    k = params.pop("n_clusters", 4)
    init = X[:k].copy()
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(X)) if weighted else None
    ours = MiniBatchKMeans(k, init=init, random_state=7, **params).fit(X, sample_weight=weights)
    theirs = SKMiniBatchKMeans(k, init=init, random_state=7, **params).fit(X, sample_weight=weights)
    assert ours.n_steps_ == theirs.n_steps_
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-10)
    np.testing.assert_allclose(ours._counts, theirs._counts)


@pytest.mark.parametrize("sparse", [False, True])
def test_partial_fit_sequence_equals_scikit_learn(sparse):
    SKMiniBatchKMeans = _sklearn_minibatch()
    X, _ = _blobs(n=600, k=6, d=4, seed=2)
    weights = np.random.default_rng(3).uniform(0.5, 2.0, len(X))
    data = scipy.sparse.csr_matrix(X) if sparse else X
    ours = MiniBatchKMeans(6, init=X[:6].copy(), random_state=0)
    theirs = SKMiniBatchKMeans(6, init=X[:6].copy(), random_state=0)
    for start in range(0, 600, 50):
        ours.partial_fit(data[start:start + 50], sample_weight=weights[start:start + 50])
        theirs.partial_fit(data[start:start + 50], sample_weight=weights[start:start + 50])
        np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=1e-10, atol=1e-10)
    assert ours.n_steps_ == theirs.n_steps_ == 12
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-10)


def test_sparse_fit_equals_dense_fit():
    X, _ = _blobs(n=800)
    dense = MiniBatchKMeans(4, init=X[:4].copy(), random_state=1, batch_size=64).fit(X)
    sparse = MiniBatchKMeans(4, init=X[:4].copy(), random_state=1, batch_size=64).fit(scipy.sparse.csr_matrix(X))
    assert dense.n_steps_ == sparse.n_steps_
    np.testing.assert_allclose(dense.cluster_centers_, sparse.cluster_centers_, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(dense.labels_, sparse.labels_)


def test_final_inertia_close_to_scikit_learn_on_separated_data():
    # From k-means++ the seeds are kmix's own: compare the quality only.
    SKMiniBatchKMeans = _sklearn_minibatch()
    X, _ = _blobs(n=3000, k=5, d=2, seed=4)
    ours = MiniBatchKMeans(5, random_state=0, n_init=3).fit(X)
    theirs = SKMiniBatchKMeans(5, random_state=0, n_init=3).fit(X)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=0.05)


# --- the update rule by hand -------------------------------------------------------------

def test_step_is_the_running_mean_by_hand():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 10.0], [11.0, 9.0], [0.0, 2.0]])
    weights = np.array([1.0, 3.0, 2.0, 1.0, 0.5])
    centers = np.array([[0.5, 0.5], [10.0, 10.0], [50.0, 50.0]])
    state = MiniBatchState(3)
    state.counts[:] = [4.0, 2.0, 1.0]
    new, ssd = minibatch_step(Block(X, weights), centers, state, np.random.RandomState(0),
                              reassign=False, reassignment_ratio=0.01)
    # Cluster 0 gets rows 0, 1, 4 (weight 4.5), cluster 1 rows 2, 3 (weight 3), cluster 2 nothing.
    expected0 = (centers[0] * 4.0 + X[0] * 1.0 + X[1] * 3.0 + X[4] * 0.5) / 8.5
    expected1 = (centers[1] * 2.0 + X[2] * 2.0 + X[3] * 1.0) / 5.0
    np.testing.assert_allclose(new, [expected0, expected1, centers[2]], rtol=1e-14)
    np.testing.assert_allclose(state.counts, [8.5, 5.0, 1.0])
    labels = [0, 0, 1, 1, 0]
    assert ssd == pytest.approx(float(np.sum(weights * ((X - centers[labels]) ** 2).sum(axis=1))))
    # the learning-rate form: centre + (batch mean - centre) * w / count
    batch_mean = (X[0] * 1.0 + X[1] * 3.0 + X[4] * 0.5) / 4.5
    np.testing.assert_allclose(new[0], centers[0] + (batch_mean - centers[0]) * 4.5 / 8.5, rtol=1e-14)


def test_partial_fit_sequence_by_hand():
    rng = np.random.default_rng(5)
    X = np.concatenate([rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 20.0])
    rng.shuffle(X)
    init = np.array([[0.0, 0.0], [20.0, 20.0]])
    model = MiniBatchKMeans(2, init=init, reassignment_ratio=0.0, random_state=0)
    centers, counts = init.copy(), np.zeros(2)
    for start in range(0, 60, 15):
        batch = X[start:start + 15]
        model.partial_fit(batch)
        labels = np.argmin(((batch[:, None, :] - centers[None]) ** 2).sum(axis=2), axis=1)
        for j in range(2):
            members = batch[labels == j]
            if len(members):
                total = counts[j] + len(members)
                centers[j] = (centers[j] * counts[j] + members.sum(axis=0)) / total
                counts[j] = total
        np.testing.assert_allclose(model.cluster_centers_, centers, rtol=1e-12)
    assert model.n_steps_ == 4
    assert len(model.history_.ssd) == 4
    assert model.history_.centers.shape == (5, 2, 2)
    np.testing.assert_allclose(model.history_.centers[-1], centers, rtol=1e-12)


def test_reassignment_moves_starved_centres_to_batch_rows():
    X, _ = _blobs(n=200, k=2, d=2, seed=6)
    centers = np.vstack([X[:2], [[1e3, 1e3]]])  # the third centre never gets a point
    state = MiniBatchState(3)
    new, _ = minibatch_step(Block(X, np.ones(len(X))), centers, state, np.random.RandomState(0),
                            reassign=True, reassignment_ratio=0.01)
    assert any(np.array_equal(new[2], row) for row in X)
    assert state.counts[2] == state.counts[:2].min()


# --- history and stopping ------------------------------------------------------------------

def test_history_records_every_step():
    X, _ = _blobs(n=1000)
    model = MiniBatchKMeans(4, random_state=0, batch_size=100, max_no_improvement=None, max_iter=2).fit(X)
    n = model.n_steps_
    assert n == 2 * 1000 // 100
    history = model.history_
    assert history.n_iter == n
    assert history.centers.shape == (n + 1, 4, 3)
    np.testing.assert_allclose(history.centers[-1], model.cluster_centers_)
    assert history.ssd.shape == history.smoothed_ssd.shape == (n,)
    # the smoothed SSD per row, by hand: the first step left out, alpha = 2 b / (n + 1)
    alpha = 2 * 100 / 1001
    ewa = history.ssd[1] / 100
    expected = [np.nan, ewa]
    for ssd in history.ssd[2:]:
        ewa = ewa * (1 - alpha) + ssd / 100 * alpha
        expected.append(ewa)
    np.testing.assert_allclose(history.smoothed_ssd, expected, rtol=1e-12)

    assert MiniBatchKMeans(4, record_history=False, random_state=0).fit(X).history_ is None
    wide = np.random.default_rng(0).normal(size=(300, 1300))
    big = MiniBatchKMeans(8, random_state=0, max_iter=1, batch_size=100).fit(wide)
    assert "centers" not in big.history_ and len(big.history_.ssd) == big.n_steps_


def test_early_stopping_rules():
    X, _ = _blobs(n=2000)
    full = MiniBatchKMeans(4, random_state=0, batch_size=50, max_no_improvement=None, max_iter=3).fit(X)
    assert full.n_steps_ == 3 * 2000 // 50 and full.n_iter_ == 3
    assert not full.history_.converged
    stalled = MiniBatchKMeans(4, random_state=0, batch_size=50, max_no_improvement=3, max_iter=3).fit(X)
    assert stalled.n_steps_ < full.n_steps_ and stalled.history_.converged
    # no improvement of the smoothed SSD over the last three steps
    smoothed = stalled.history_.smoothed_ssd
    assert np.nanmin(smoothed[:-3]) <= smoothed[-3:].min()
    still = MiniBatchKMeans(4, random_state=0, batch_size=50, max_no_improvement=None, tol=1e-2, max_iter=3).fit(X)
    assert still.n_steps_ < full.n_steps_ and still.history_.converged
    assert still.n_iter_ == int(np.ceil(still.n_steps_ * 50 / 2000))


def test_verbose_lines(capsys):
    X, _ = _blobs(n=300)
    MiniBatchKMeans(4, init=X[:4].copy(), random_state=0, batch_size=20, tol=1e-4, max_no_improvement=None,
                    verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "Minibatch step 1/" in out and "ewa inertia" in out
    assert "Converged (small centers change)" in out


# --- the estimator -----------------------------------------------------------------------

def test_attributes_dtypes_and_methods():
    X, _ = _blobs(n=500)
    X32 = X.astype(np.float32)
    model = MiniBatchKMeans(4, random_state=0, batch_size=64).fit(X32)
    assert model.cluster_centers_.dtype == np.float32
    assert model.transform(X32).dtype == np.float32
    assert model.n_features_in_ == 3
    np.testing.assert_array_equal(model.predict(X32), model.labels_)
    d = ((X32 - model.cluster_centers_[model.labels_]) ** 2).sum(dtype=np.float64)
    assert model.inertia_ == pytest.approx(d, rel=1e-5)
    assert model.score(X32) == pytest.approx(-model.inertia_, rel=1e-5)
    assert list(model.get_feature_names_out()) == [f"minibatchkmeans{i}" for i in range(4)]
    assert model.fit_predict(X32).shape == (500,)
    assert model.fit_transform(X32).shape == (500, 4)
    assert kmix.MiniBatchKMeans is MiniBatchKMeans and "MiniBatchKMeans" in kmix.__all__


def test_compute_labels_false_gives_smoothed_inertia():
    X, _ = _blobs(n=500)
    weights = np.full(len(X), 2.0)
    model = MiniBatchKMeans(4, random_state=0, batch_size=50, compute_labels=False).fit(X, sample_weight=weights)
    assert not hasattr(model, "labels_")
    assert model.inertia_ == pytest.approx(model.history_.smoothed_ssd[-1] * 1000.0)


def test_partial_fit_after_fit_carries_on():
    X, _ = _blobs(n=400)
    model = MiniBatchKMeans(4, random_state=0, batch_size=50).fit(X)
    steps = model.n_steps_
    model.partial_fit(X[:50])
    assert model.n_steps_ == steps + 1
    assert len(model.history_.ssd) == steps + 1
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[:50, :2])


def test_init_size_and_n_init_rules():
    X, _ = _blobs(n=200)
    assert MiniBatchKMeans(10, batch_size=5, n_init=1).fit(X)._init_size == 15
    assert MiniBatchKMeans(10, batch_size=1, n_init=1, max_iter=1).fit(X)._init_size == 30
    assert MiniBatchKMeans(10, batch_size=5, n_init=1, init_size=500).fit(X)._init_size == 200
    with pytest.warns(RuntimeWarning, match="init_size=5 should be larger than n_clusters=10"):
        MiniBatchKMeans(10, init_size=5).fit(X)
    assert MiniBatchKMeans(4, init="random").fit(X)._n_init == 3
    assert MiniBatchKMeans(4).fit(X)._n_init == 1
    with pytest.warns(RuntimeWarning, match="Explicit initial center position passed"):
        assert MiniBatchKMeans(4, init=X[:4], n_init=3).fit(X)._n_init == 1


@pytest.mark.parametrize("params, match", [
    (dict(batch_size=0), "batch_size"),
    (dict(max_iter=0), "max_iter"),
    (dict(tol=-1.0), "tol"),
    (dict(reassignment_ratio=-0.5), "reassignment_ratio"),
    (dict(max_no_improvement=-1), "max_no_improvement"),
    (dict(init="kmeans"), "init"),
    (dict(n_init=0), "n_init"),
    (dict(n_init="many"), "n_init"),
    (dict(init_size=0), "init_size"),
    (dict(compute_labels="yes"), "compute_labels"),
    (dict(n_clusters=0), "n_clusters"),
    (dict(n_clusters=300), "n_clusters"),
    (dict(record_history="sometimes"), "record_history"),
    (dict(init=np.zeros((3, 3))), "init"),
])
def test_bad_parameters_name_themselves(params, match):
    X, _ = _blobs(n=200)
    with pytest.raises(ValueError, match=match):
        MiniBatchKMeans(**{"n_clusters": 4, **params}).fit(X)
    with pytest.raises(ValueError, match=match):
        MiniBatchKMeans(**{"n_clusters": 4, **params}).partial_fit(X)


def test_passes_scikit_learn_check_estimator():
    check_estimator = pytest.importorskip("sklearn.utils.estimator_checks").check_estimator
    # Weighted batch draws are not repeated rows: scikit-learn declares these two
    # checks as expected failures for its own MiniBatchKMeans too.
    expected = {
        name: "sample_weight is not equivalent to removing/repeating samples."
        for name in ("check_sample_weight_equivalence_on_dense_data",
                     "check_sample_weight_equivalence_on_sparse_data")
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(MiniBatchKMeans(), on_fail=None, expected_failed_checks=expected)
    failed = [r for r in results if r["status"] not in ("passed", "skipped", "xfail")]
    assert not failed, [(r["check_name"], str(r["exception"])[:200]) for r in failed]
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= {"check_array_api_input"}, skipped
