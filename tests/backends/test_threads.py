"""Row blocks on several threads give the same result as one thread, bit for bit."""

import numpy as np
import pytest

import kmix
from kmix.backends.threads import reduce_blocks


def test_reduce_blocks_merges_in_block_order(monkeypatch):
    monkeypatch.setenv("KMIX_NUM_THREADS", "2")
    blocks = [slice(i, i + 1) for i in range(50)]
    assert reduce_blocks(lambda s: [s.start], blocks, lambda a, b: a + b) == list(range(50))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gaussian_mixture_is_identical_on_one_and_two_threads(monkeypatch, covariance_type):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(20000, 3)) + 4 * i for i in range(3)])
    fits = []
    for threads in ("1", "2"):
        monkeypatch.setenv("KMIX_NUM_THREADS", threads)
        model = kmix.GaussianMixture(3, covariance_type=covariance_type, random_state=0, max_iter=5, tol=0)
        with pytest.warns(kmix.ConvergenceWarning):
            fits.append(model.fit(X))
    np.testing.assert_array_equal(fits[0].means_, fits[1].means_)
    np.testing.assert_array_equal(fits[0].covariances_, fits[1].covariances_)
    assert fits[0].lower_bound_ == fits[1].lower_bound_


def test_map_tasks_gives_each_task_its_share_of_the_threads(monkeypatch):
    from kmix.backends import threads

    monkeypatch.setenv("KMIX_NUM_THREADS", "4")
    assert threads.n_threads() == 4
    assert threads.map_tasks(lambda _: threads.n_threads(), range(3), workers=2) == [2, 2, 2]
    assert threads.map_tasks(lambda _: threads.n_threads(), range(5)) == [1] * 5
    assert threads.map_tasks(lambda _: threads.n_threads(), range(3), workers=1) == [4, 4, 4]
    assert threads.n_threads() == 4  # this thread's count is its own again


def test_the_gap_statistic_is_the_same_with_its_reference_sets_side_by_side(monkeypatch):
    rng = np.random.default_rng(5)
    centres = rng.normal(scale=5.0, size=(4, 3))
    X = centres[rng.integers(0, 4, 3000)] + rng.normal(size=(3000, 3))
    results = []
    for count in ("1", "2"):
        monkeypatch.setenv("KMIX_NUM_THREADS", count)
        results.append(kmix.select_k(X, range(1, 7), ("ssd", "gap"), random_state=3, gap_references=6))
    np.testing.assert_array_equal(results[0].values["gap"], results[1].values["gap"])
    np.testing.assert_array_equal(results[0].gap_standard_error, results[1].gap_standard_error)
    assert results[0].choice["gap"] == results[1].choice["gap"] == 4
