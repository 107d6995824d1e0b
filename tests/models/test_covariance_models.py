"""GaussianMixture with each of mclust's fourteen covariance models: EM's
properties, regularisation, weights, history, pictures, saving and the CLI."""

import numpy as np
import pytest

import kmix
from kmix.cli.main import main
from kmix.kernels import gmm as gk
from kmix.kernels.gmm_models import MODELS

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SHAPES = {"spherical": lambda k, d: (k,), "diag": lambda k, d: (k, d), "tied": lambda k, d: (d, d),
          "full": lambda k, d: (k, d, d)}


def _three_clusters(n=450, d=3, seed=0):
    """Three clusters of different volume, shape and orientation."""
    rng = np.random.default_rng(seed)
    parts = []
    for j, (scale, centre) in enumerate(((0.5, 0.0), (2.0, 8.0), (1.0, -7.0))):
        rotation = np.linalg.qr(rng.normal(size=(d, d)))[0]
        stretch = np.diag(scale * np.linspace(1.0, 3.0 - j, d))
        parts.append(centre + rng.normal(size=(n // 3, d)) @ stretch @ rotation.T)
    return np.concatenate(parts)


@pytest.mark.parametrize("model", MODELS)
def test_the_log_likelihood_never_decreases(model):
    X = _three_clusters()
    fitted = kmix.GaussianMixture(3, covariance_type=model, reg_covar=0.0, tol=0.0, max_iter=40,
                                  init_params="random", random_state=2).fit(X)
    values = fitted.history_.log_likelihood
    assert values.shape == (40,)
    assert np.all(np.diff(values) >= -1e-12 * np.abs(values[1:]))
    k, d = 3, X.shape[1]
    assert fitted.covariances_.shape == SHAPES[gk.layout_of(model)](k, d)
    # The fitted covariances keep the model's structure.
    parts = fitted.covariance_decomposition()
    sigma = gk.full_covariances(fitted.covariances_, gk.layout_of(model), k, d)
    rebuilt = np.einsum("k,kij,kj,klj->kil", parts.volume, parts.orientation, parts.shape, parts.orientation)
    np.testing.assert_allclose(rebuilt, sigma, rtol=1e-9, atol=1e-12)
    if model[0] == "E":
        np.testing.assert_allclose(parts.volume, np.full(k, parts.volume[0]), rtol=1e-9)
    if model[1] == "E":
        np.testing.assert_allclose(parts.shape, np.broadcast_to(parts.shape[0], (k, d)), rtol=1e-8)
    if model[2] == "I":
        np.testing.assert_array_equal(parts.orientation, np.broadcast_to(np.eye(d), (k, d, d)))
    if model[2] == "E" and model != "EEE" and model[1] != "I":
        same = np.abs(np.einsum("kij,ij->kj", parts.orientation, parts.orientation[0]))
        np.testing.assert_allclose(same, np.ones((k, d)), atol=1e-8)  # the same axes, up to sign
    assert gk.n_parameters(k, d, model) == fitted._n_parameters()


@pytest.mark.parametrize("model", MODELS)
def test_a_collapsed_component_is_a_clear_error_and_reg_covar_fixes_it(model):
    X = np.vstack([np.ones((5, 3)), np.zeros((5, 3))])
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        kmix.GaussianMixture(2, covariance_type=model, reg_covar=0.0, random_state=0).fit(X)
    fitted = kmix.GaussianMixture(2, covariance_type=model, random_state=0).fit(X)
    assert np.all(np.isfinite(fitted.covariances_)) and fitted.score(X) > 0


@pytest.mark.parametrize("model", MODELS)
def test_a_weight_counts_a_point_that_many_times(model):
    X = _three_clusters(n=150, d=2, seed=1)
    weight = np.random.default_rng(3).integers(0, 3, size=X.shape[0]).astype(float)
    layout = gk.layout_of(model)
    precisions = {"spherical": np.ones(3), "diag": np.ones((3, 2)), "tied": np.eye(2),
                  "full": np.stack([np.eye(2)] * 3)}[layout]
    start = dict(covariance_type=model, tol=0.0, max_iter=15, reg_covar=1e-6,
                 means_init=X[[0, 60, 120]], weights_init=np.full(3, 1 / 3), precisions_init=precisions)
    weighted = kmix.GaussianMixture(3, **start).fit(X, sample_weight=weight)
    repeated = kmix.GaussianMixture(3, **start).fit(np.repeat(X, weight.astype(int), axis=0))
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("model", MODELS)
def test_history_pictures_and_saved_models(model, tmp_path):
    from kmix.viz import plot_gmm

    X = _three_clusters(n=300, d=2, seed=2)
    fitted = kmix.GaussianMixture(3, covariance_type=model, random_state=0, max_iter=20).fit(X)
    assert fitted.history_.covariances.shape == (fitted.n_iter_ + 1, 3, 2, 2)
    ax = plot_gmm(X, fitted)
    assert len(ax.patches) >= 3  # an ellipse per component at least
    path = tmp_path / "model.npz"
    kmix.save_model(fitted, path)
    loaded = kmix.load_model(path)
    assert loaded.covariance_type == model
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    assert loaded.bic(X) == fitted.bic(X)
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize("model", ["VEI", "EVE", "EEV"])
def test_the_command_line_takes_every_model(model, tmp_path, capsys):
    data = tmp_path / "points.csv"
    np.savetxt(data, _three_clusters(n=150, d=2, seed=3), delimiter=",")
    out = tmp_path / "model.npz"
    assert main(["gmm", str(data), "-k", "3", "--covariance-type", model, "--out", str(out)]) == 0
    assert f"{model} covariances" in capsys.readouterr().out
    assert kmix.load_model(out).covariance_type == model


def test_scikit_learns_names_are_their_mclust_models():
    X = _three_clusters(n=300, d=3, seed=4)
    for name, model in (("full", "VVV"), ("tied", "EEE"), ("diag", "VVI"), ("spherical", "VII")):
        ours = kmix.GaussianMixture(3, covariance_type=name, random_state=0).fit(X)
        theirs = kmix.GaussianMixture(3, covariance_type=model, random_state=0).fit(X)
        np.testing.assert_array_equal(ours.covariances_, theirs.covariances_)
        assert ours.n_iter_ == theirs.n_iter_ and ours.bic(X) == theirs.bic(X)
