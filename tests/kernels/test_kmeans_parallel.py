"""k-means|| steps per chunk: distances to the candidates, weights, samples that merge."""

from types import SimpleNamespace

import numpy as np
import pytest

from kmix.kernels import kmeans as kk
from kmix.kernels import kmeans_parallel as kp


def _block(X, w, state=None, index=0):
    return SimpleNamespace(X=X, sample_weight=w, x_norms=kk.squared_norms(X), state=state, index=index)


def _brute(X, C):
    return ((X[:, None, :].astype(np.float64) - C[None, :, :]) ** 2).sum(-1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_update_closest_is_the_distance_to_the_nearest_candidate_so_far(rng, dtype):
    X = rng.normal(size=(600, 4)).astype(dtype)
    first, second = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    norms = kk.squared_norms(X)
    closest = kp.update_closest(X, norms, first)
    assert closest.dtype == np.float64
    np.testing.assert_allclose(closest, _brute(X, first).min(axis=1), rtol=1e-5, atol=1e-5)
    again = kp.update_closest(X, norms, second, closest)
    expected = np.minimum(_brute(X, first).min(axis=1), _brute(X, second).min(axis=1))
    np.testing.assert_allclose(again, expected, rtol=1e-5, atol=1e-5)
    # The distance at the nearest centre, exactly as nearest_centers gives it.
    _, nearest = kk.nearest_centers(X, second.astype(dtype), norms)
    np.testing.assert_array_equal(again, np.minimum(closest, nearest))
    np.testing.assert_array_equal(kp.update_closest(X, norms, second[:0], closest), closest)


def test_candidate_weights_are_the_weights_of_the_nearest_rows(rng, monkeypatch):
    X = rng.normal(size=(900, 3))
    w = rng.uniform(0.0, 2.0, size=900)
    candidates = rng.normal(size=(6, 3))
    monkeypatch.setattr(kk, "DEFAULT_BLOCK_BYTES", 1)  # several blocks
    got = kp.nearest_candidate_weights(X, w, kk.squared_norms(X), candidates)
    expected = np.bincount(np.argmin(_brute(X, candidates), axis=1), weights=w, minlength=6)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert kp.nearest_candidate_weights(X[:0], w[:0], np.empty(0), candidates).tolist() == [0.0] * 6


def test_chunk_functions_read_the_block_and_merge_over_chunks(rng):
    X = rng.normal(size=(1000, 3))
    w = rng.uniform(0.5, 2.0, size=1000)
    candidates = rng.normal(size=(4, 3))
    cuts = [slice(0, 400), slice(400, 1000)]
    blocks = [_block(X[c], w[c], index=i) for i, c in enumerate(cuts)]

    results = [kp.chunk_update_closest(b, candidates) for b in blocks]
    closest = np.concatenate([state for state, _ in results])
    np.testing.assert_allclose(closest, kp.update_closest(X, kk.squared_norms(X), candidates), rtol=1e-12)
    cost = kp.add(results[0][1], results[1][1])
    assert cost == pytest.approx(float(w @ closest), rel=1e-12)

    weights = kp.add(*(kp.chunk_candidate_weights(b, candidates) for b in blocks))
    np.testing.assert_allclose(weights, kp.nearest_candidate_weights(X, w, kk.squared_norms(X), candidates),
                               rtol=1e-12)

    for b, (state, _) in zip(blocks, results):
        b.state = state
    kept = [kp.chunk_oversample(b, 5.0, cost, seed=3) for b in blocks]
    again = kp.chunk_oversample(blocks[1], 5.0, cost, seed=3)
    np.testing.assert_array_equal(again, kept[1])  # a function of the seed and the chunk index
    points = kp.concatenate_points(kept[0], kept[1])
    assert points.shape[1] == 3 and points.dtype == np.float64


def test_keyed_samples_of_chunks_merge_into_the_largest_keys(rng):
    X = rng.normal(size=(500, 2))
    w = rng.uniform(0.0, 1.0, size=500)
    w[:50] = 0.0
    blocks = [_block(X[:200], w[:200], index=0), _block(X[200:], w[200:], index=1)]
    parts = [kp.chunk_keyed_sample(b, 9, 20) for b in blocks]
    merged = kp.merge_keyed(parts[0], parts[1], 20)
    assert merged.keys.shape == (20,) and np.all(np.diff(merged.keys) <= 0)
    everything = kp.merge_keyed(kp.chunk_keyed_sample(blocks[0], 9, 500),
                                kp.chunk_keyed_sample(blocks[1], 9, 500), 20)
    np.testing.assert_array_equal(merged.keys, everything.keys)
    np.testing.assert_array_equal(merged.points, everything.points)
    zero_weight = {tuple(row) for row in X[:50]}
    assert not any(tuple(row) in zero_weight for row in merged.points)
