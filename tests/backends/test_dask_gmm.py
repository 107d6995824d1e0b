"""GaussianMixture on dask arrays, on a LocalCluster of two single-threaded worker processes.

From the same initial parameters the chunked fit equals the in-memory one, to
rounding: the same kernels run on every chunk and only the order of the sums
differs. Uneven chunks, a chunk of zero rows, sample weights and a killed
worker do not change that.
"""

import os
import signal

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from kmix import DataError, GaussianMixture  # noqa: E402

from .conftest import PATIENCE  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::kmix.exceptions.ConvergenceWarning")

TYPES = ["full", "tied", "diag", "spherical"]
# mclust's models other than scikit-learn's four (VII, VVI, EEE and VVV are TYPES).
MCLUST_ONLY = ["EII", "EEI", "VEI", "EVI", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV"]
# Uneven row chunks with a chunk of zero rows, for the 1500 rows of _mixture().
UNEVEN = ((400, 0, 650, 1, 449), (3,))


def _mixture(n=1500, seed=4):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [6.0, 1.0, -2.0], [-3.0, 7.0, 2.0]])
    labels = rng.integers(3, size=n)
    X = centres[labels] + rng.normal(size=(n, 3)) * rng.uniform(0.5, 2.0, size=(3, 3))[labels]
    return X, centres


def _start(X, covariance_type):
    """Initial weights, means and precisions away from the optimum, so EM has work to do."""
    rng = np.random.default_rng(0)
    means = X[rng.choice(X.shape[0], 3, replace=False)]
    precisions = {
        "full": np.stack([np.eye(3) * s for s in (0.5, 1.0, 2.0)]),
        "tied": np.eye(3) * 0.7,
        "diag": np.array([[0.5, 1.0, 2.0], [1.0, 1.0, 1.0], [2.0, 0.5, 1.0]]),
        "spherical": np.array([0.5, 1.0, 2.0]),
    }[covariance_type]
    return dict(weights_init=np.array([0.2, 0.3, 0.5]), means_init=means, precisions_init=precisions)


def _assert_same_fit(chunked, in_memory, X):
    assert chunked.n_iter_ == in_memory.n_iter_
    np.testing.assert_allclose(chunked.lower_bounds_, in_memory.lower_bounds_, rtol=1e-9)
    assert chunked.lower_bound_ == pytest.approx(in_memory.lower_bound_, rel=1e-9)
    np.testing.assert_allclose(chunked.weights_, in_memory.weights_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(chunked.means_, in_memory.means_, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(chunked.covariances_, in_memory.covariances_, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(chunked.predict(X), in_memory.predict(X))


@pytest.mark.parametrize("covariance_type", TYPES)
def test_same_start_same_fit_on_uneven_chunks(client, covariance_type):
    X, _ = _mixture()
    params = dict(covariance_type=covariance_type, tol=0.0, max_iter=12, **_start(X, covariance_type))
    expected = GaussianMixture(3, **params).fit(X)
    model = GaussianMixture(3, client=client, **params).fit(da.from_array(X, chunks=UNEVEN))
    _assert_same_fit(model, expected, X)
    labels = model.predict(da.from_array(X, chunks=UNEVEN))
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(labels.compute(scheduler="sync"), expected.predict(X))


@pytest.mark.parametrize("covariance_type", MCLUST_ONLY)
def test_every_mclust_model_gives_the_in_memory_fit(client, covariance_type):
    # The statistics of the model's layout, merged over the chunks; the model's
    # M-step on the client: the in-memory fit to rounding.
    X, _ = _mixture()
    layout = {"EII": "spherical", "EEI": "diag", "VEI": "diag", "EVI": "diag"}.get(covariance_type, "full")
    params = dict(covariance_type=covariance_type, tol=0.0, max_iter=10, reg_covar=0.0, **_start(X, layout))
    expected = GaussianMixture(3, **params).fit(X)
    model = GaussianMixture(3, client=client, **params).fit(da.from_array(X, chunks=UNEVEN))
    _assert_same_fit(model, expected, X)


@pytest.mark.parametrize("weight_as_dask", [False, True])
def test_sample_weight(client, weight_as_dask):
    X, _ = _mixture()
    weight = np.random.default_rng(1).integers(0, 4, size=X.shape[0]).astype(float)
    params = dict(tol=0.0, max_iter=8, **_start(X, "full"))
    expected = GaussianMixture(3, **params).fit(X, sample_weight=weight)
    given = da.from_array(weight, chunks=300) if weight_as_dask else weight
    model = GaussianMixture(3, client=client, **params).fit(da.from_array(X, chunks=UNEVEN), sample_weight=given)
    _assert_same_fit(model, expected, X)
    assert model.score(da.from_array(X, chunks=500), sample_weight=weight) == pytest.approx(
        expected.score(X, sample_weight=weight), rel=1e-12
    )


def test_predict_proba_and_score_samples_are_lazy_and_equal(client):
    X, _ = _mixture()
    model = GaussianMixture(3, tol=0.0, max_iter=5, **_start(X, "diag"), covariance_type="diag").fit(X)
    chunked = da.from_array(X, chunks=UNEVEN)
    proba = model.predict_proba(chunked)
    log_density = model.score_samples(chunked)
    assert isinstance(proba, da.Array) and isinstance(log_density, da.Array)
    assert proba.shape == (X.shape[0], 3) and log_density.shape == (X.shape[0],)
    np.testing.assert_allclose(proba.compute(scheduler="sync"), model.predict_proba(X), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(log_density.compute(scheduler="sync"), model.score_samples(X), rtol=1e-12)
    score = model.score(chunked)
    assert isinstance(score, float) and score == pytest.approx(model.score(X), rel=1e-12)


def test_a_worker_killed_mid_fit_does_not_change_the_result(client):
    X, _ = _mixture()
    params = dict(tol=0.0, max_iter=6, **_start(X, "full"))
    expected = GaussianMixture(3, **params).fit(X)
    killed = []

    def kill_a_worker(iteration, state):
        if iteration == 2:
            # A worker slow to answer on a loaded machine may be briefly unlisted.
            client.wait_for_workers(1, timeout=PATIENCE)
            address = sorted(client.scheduler_info(n_workers=-1)["workers"])[0]
            pid = client.run(os.getpid, workers=[address])[address]
            os.kill(pid, signal.SIGKILL)  # the chunks it holds are lost
            killed.append(address)

    model = GaussianMixture(3, callback=kill_a_worker, client=client, **params).fit(
        da.from_array(X, chunks=250)
    )
    assert killed
    client.wait_for_workers(2, timeout=PATIENCE)
    _assert_same_fit(model, expected, X)


def test_kmeans_initialisation_on_dask_gives_a_sensible_fit(client):
    X, centres = _mixture()
    model = GaussianMixture(3, random_state=0, client=client).fit(da.from_array(X, chunks=400))
    assert model.converged_
    # Each true centre has a fitted mean near it.
    nearest = np.linalg.norm(model.means_[:, None, :] - centres[None], axis=2).min(axis=0)
    assert np.all(nearest < 0.3)
    reference = GaussianMixture(3, random_state=0).fit(X)
    assert model.lower_bound_ == pytest.approx(reference.lower_bound_, abs=1e-3)


@pytest.mark.parametrize("init_params", ["random", "random_from_data"])
def test_random_initialisations_run_on_dask(client, init_params):
    X, _ = _mixture()
    chunked = da.from_array(X, chunks=400)
    first = GaussianMixture(3, init_params=init_params, random_state=5, max_iter=20, client=client).fit(chunked)
    again = GaussianMixture(3, init_params=init_params, random_state=5, max_iter=20, client=client).fit(chunked)
    assert np.isfinite(first.lower_bound_)
    np.testing.assert_array_equal(first.means_, again.means_)  # seeded per chunk: reproducible


def test_kmeans_plusplus_on_dask_is_refused(client):
    X, _ = _mixture(n=300)
    with pytest.raises(ValueError, match="init_params='k-means\\+\\+'.*dask array"):
        GaussianMixture(3, init_params="k-means++", client=client).fit(da.from_array(X, chunks=100))


def test_nan_in_a_chunk_is_reported(client):
    X, _ = _mixture(n=300)
    X[123, 1] = np.nan
    with pytest.raises(DataError, match=r"X contains 1 NaN or inf value \(first in row 123\)"):
        GaussianMixture(2, client=client).fit(da.from_array(X, chunks=100))


def test_cli_gmm_dask_on_a_scheduler(capsys, tmp_path, cluster):
    from kmix.cli.main import main
    from kmix.io import load_data, load_model

    X, _ = _mixture(n=900)
    path = tmp_path / "points.npy"
    np.save(path, X)
    out_file = tmp_path / "r.npz"
    code = main(["gmm", str(path), "-k", "3", "--seed", "0", "--dask", "--chunks", "200",
                 "--scheduler", cluster.scheduler_address, "--ll-plot", str(tmp_path / "ll.png"),
                 "--out", str(out_file)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "dask: 5 chunks on 2 worker(s)" in out
    expected = GaussianMixture(3, random_state=0, client=cluster.scheduler_address).fit(
        load_data(path, chunks=200)
    )
    assert f"iterations: {expected.n_iter_} (converged)" in out
    assert f"{expected.score(X):.6f} per sample" in out
    saved = load_model(out_file)
    np.testing.assert_allclose(saved.means_, expected.means_, rtol=1e-9, atol=1e-9)
    assert (tmp_path / "ll.png").stat().st_size > 0


def test_model_selection_fits_every_cell_over_the_cluster(client):
    from kmix.models.selection import select_mixture

    X, _ = _mixture()
    chunked = da.from_array(X, chunks=UNEVEN)
    selection = select_mixture(chunked, [2, 3], ["VVV", "EEE"], init_params="kmeans", n_init=1,
                               random_state=0, client=client)
    assert np.all(np.isfinite(selection.bic)) and not selection.failures
    assert selection.best_params_[0] == 3  # the three clusters of _mixture()
    in_memory = select_mixture(X, [3], ["VVV"], n_init=2, random_state=0)
    assert selection.bic[1, 0] == pytest.approx(in_memory.bic[0, 0], rel=1e-6)
    with pytest.raises(ValueError, match="init_params='hc' needs X in memory"):
        select_mixture(chunked, [2], ["VVV"], client=client)
