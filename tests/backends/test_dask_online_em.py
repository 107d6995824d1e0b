"""GaussianMixture.partial_fit on dask array batches: the same steps as in memory."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
pytest.importorskip("distributed")

from kmix.models.gaussian_mixture import GaussianMixtureCore  # noqa: E402

CENTRES = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])


def test_dask_batches_take_the_in_memory_steps(client):
    rng = np.random.default_rng(0)
    X = CENTRES[rng.integers(3, size=3000)] + rng.normal(size=(3000, 2))
    weights = rng.integers(0, 3, size=3000).astype(float)
    start = dict(weights_init=np.full(3, 1 / 3), means_init=CENTRES + 0.5,
                 precisions_init=np.stack([np.eye(2)] * 3))
    in_memory = GaussianMixtureCore(3, covariance_type="full", **start)
    chunked = GaussianMixtureCore(3, covariance_type="full", client=client, **start)
    for rows in (slice(0, 1000), slice(1000, 2000), slice(2000, 3000)):
        in_memory.partial_fit(X[rows], sample_weight=weights[rows])
        chunked.partial_fit(da.from_array(X[rows], chunks=(300, 2)),
                            sample_weight=da.from_array(weights[rows], chunks=300))
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(chunked, name), getattr(in_memory, name), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(chunked.history_.log_likelihood, in_memory.history_.log_likelihood, rtol=1e-12)
    assert chunked.n_iter_ == 3
