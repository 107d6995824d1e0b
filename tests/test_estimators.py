"""kmix.KMeans and kmix.GaussianMixture as scikit-learn estimators: feature names,
set_output, metadata routing, exceptions, clone, pipelines, lazy loading."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

import kmix

pd = pytest.importorskip("pandas")
sklearn = pytest.importorskip("sklearn")


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    X = np.concatenate([c + rng.normal(size=(40, 2)) for c in ([0, 0], [6, 0], [0, 6])])
    return pd.DataFrame(X, columns=["height", "width"])


@pytest.mark.parametrize("make", [lambda: kmix.KMeans(3, random_state=0),
                                  lambda: kmix.GaussianMixture(3, random_state=0)])
def test_feature_names_are_kept_and_checked(frame, make):
    model = make().fit(frame)
    np.testing.assert_array_equal(model.feature_names_in_, ["height", "width"])
    assert model.n_features_in_ == 2
    model.predict(frame)  # the same names: fine
    with pytest.raises(ValueError, match="feature names should match"):
        model.predict(frame.rename(columns={"width": "depth"}))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        model.predict(frame.to_numpy())
    # Refitted on an array: the names are gone.
    model.fit(frame.to_numpy())
    assert not hasattr(model, "feature_names_in_")


def test_kmeans_transform_as_pandas_and_in_a_column_transformer(frame):
    from sklearn.compose import ColumnTransformer

    model = kmix.KMeans(3, random_state=0).fit(frame)
    np.testing.assert_array_equal(model.get_feature_names_out(), ["kmeans0", "kmeans1", "kmeans2"])
    distances = model.set_output(transform="pandas").transform(frame)
    assert isinstance(distances, pd.DataFrame) and list(distances.columns) == ["kmeans0", "kmeans1", "kmeans2"]
    np.testing.assert_allclose(distances.to_numpy(), kmix.KMeans(3, random_state=0).fit(frame).transform(frame))
    table = ColumnTransformer([("clusters", kmix.KMeans(3, random_state=0), ["height", "width"])])
    out = table.set_output(transform="pandas").fit_transform(frame)
    assert list(out.columns) == ["clusters__kmeans0", "clusters__kmeans1", "clusters__kmeans2"]


def test_sample_weight_is_routed_through_a_pipeline(frame):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    weight = np.r_[np.full(40, 5.0), np.ones(80)]
    with sklearn.config_context(enable_metadata_routing=True):
        model = kmix.KMeans(3, random_state=0).set_fit_request(sample_weight=True)
        pipe = Pipeline([("scale", StandardScaler().set_fit_request(sample_weight=False)), ("kmeans", model)])
        pipe.fit(frame, sample_weight=weight)
    scaled = StandardScaler().fit_transform(frame)
    direct = kmix.KMeans(3, random_state=0).fit(scaled, sample_weight=weight)
    np.testing.assert_allclose(pipe[-1].cluster_centers_, direct.cluster_centers_)


def test_kmix_errors_are_scikit_learns():
    from sklearn.exceptions import ConvergenceWarning, NotFittedError

    with pytest.raises(NotFittedError):
        kmix.KMeans(2).predict(np.zeros((3, 2)))
    with pytest.raises(NotFittedError):
        kmix.GaussianMixture(2).score(np.zeros((3, 2)))
    assert issubclass(kmix.NotFittedError, kmix.KmixError)
    X = np.random.default_rng(1).normal(size=(200, 2))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="did not converge"):
            kmix.KMeans(5, init="random", n_init=1, max_iter=1, random_state=0).fit(X)
    # An ill-conditioned fit is a ValueError, and still kmix's NumericalError.
    X = np.vstack([np.ones((5, 5)), np.zeros((5, 5))])
    with pytest.raises(ValueError) as caught:
        kmix.GaussianMixture(10, reg_covar=0, random_state=0).fit(X)
    assert isinstance(caught.value, kmix.NumericalError)


def test_clone_grid_search_and_html_repr(frame):
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, KFold

    model = kmix.GaussianMixture(2, covariance_type="diag", random_state=0)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy is not model
    search = GridSearchCV(kmix.GaussianMixture(random_state=0), {"n_components": [1, 3]},
                          cv=KFold(3, shuffle=True, random_state=0)).fit(frame)
    assert search.best_params_ == {"n_components": 3}
    assert "GaussianMixture" in model._repr_html_()


def test_saved_models_keep_their_feature_names(frame, tmp_path):
    model = kmix.KMeans(3, random_state=0).fit(frame)
    kmix.save_model(model, tmp_path / "model.npz")
    loaded = kmix.load_model(tmp_path / "model.npz")
    assert isinstance(loaded, kmix.KMeans) and loaded.feature_names_in_.dtype == object
    np.testing.assert_array_equal(loaded.feature_names_in_, model.feature_names_in_)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))


def test_import_kmix_loads_numpy_and_scikit_learn_only_when_used():
    code = (
        "import sys, kmix\n"
        "assert not {'numpy', 'scipy', 'sklearn'} & set(sys.modules), 'import kmix loaded more than kmix'\n"
        "assert kmix.io.load_data is kmix.load_data and kmix.datasets.names()\n"
        "kmix.load_data('samples_1'); kmix.solve_qp([[2.0, 0], [0, 3]], [1, 1], [1, 1], 1.5)\n"
        "assert 'sklearn' not in sys.modules\n"
        "kmix.KMeans\n"
        "assert 'sklearn' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=600)


# --- scikit-learn's private hooks that its own tests call --------------------------------


def test_init_centroids_gives_the_starts_of_a_fit():
    rng = np.random.default_rng(3)
    X = np.concatenate([c + rng.normal(size=(40, 2)) for c in ([0, 0], [20, 0], [0, 20])])
    weight = np.where(np.arange(len(X)) % 2 == 0, 0.0, 1.0)
    model = kmix.KMeans(3)
    for init in ("k-means++", "random"):
        centers = model._init_centroids(X, None, init, np.random.RandomState(0), weight, n_centroids=5)
        assert centers.shape == (5, 2) and centers.dtype == X.dtype
        # Every centre is a row of X of positive weight (to the rounding of the
        # centred frame the seeds are drawn in).
        matches = np.all(np.isclose(centers[:, None, :], X[None, :, :], rtol=0, atol=1e-12), axis=2)
        assert matches.any(axis=1).all() and (weight[matches.argmax(axis=1)] > 0).all()
    # The greedy k-means++ of a fit: the same seeds from the same generator.
    seeds = model._init_centroids(X, None, "k-means++", 7, None)
    expected = X[kmix.kmeans_plusplus(X, 3, random_state=7)[1]]
    np.testing.assert_allclose(seeds, expected, rtol=0, atol=1e-12)
    given = X[:3] + 0.5
    np.testing.assert_array_equal(model._init_centroids(X, None, given, 0, None), given)
    np.testing.assert_array_equal(
        model._init_centroids(X, None, lambda data, k, random_state: data[-k:], 0, None), X[-3:])
    with pytest.raises(ValueError, match="does not match the number of clusters"):
        model._init_centroids(X, None, X[:2], 0, None)


def test_initialize_takes_the_parameters_of_the_responsibilities():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 3))
    resp = rng.uniform(size=(60, 2))
    resp /= resp.sum(axis=1, keepdims=True)
    model = kmix.GaussianMixture(covariance_type="diag", reg_covar=0.0)
    model._initialize(X, resp)  # two components, from resp, whatever n_components says
    totals = resp.sum(axis=0)
    np.testing.assert_allclose(model.weights_, totals / 60, rtol=1e-12)
    means = resp.T @ X / totals[:, None]
    np.testing.assert_allclose(model.means_, means, rtol=1e-12)
    variances = np.stack([resp[:, j] @ (X - means[j]) ** 2 / totals[j] for j in range(2)])
    np.testing.assert_allclose(model.covariances_, variances, rtol=1e-10)
    np.testing.assert_allclose(model.precisions_, 1 / variances, rtol=1e-10)
    # Given precisions take precedence over those of resp.
    precisions = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    model = kmix.GaussianMixture(covariance_type="diag", precisions_init=precisions)
    model._initialize(X, resp)
    np.testing.assert_allclose(model.precisions_cholesky_, np.sqrt(precisions), rtol=1e-15)
    with pytest.raises(ValueError, match="one row per sample"):
        model._initialize(X, resp[:10])
