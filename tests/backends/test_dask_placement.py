"""Where a dask fit keeps its centred chunks: spread over the workers by their
threads, moving only what lies beyond a worker's share."""

import numpy as np
import pytest

from kmix.backends.dask_placement import chunk_placement

A, B, C = "tcp://a:1", "tcp://b:1", "tcp://c:1"


def _counts(targets):
    return {worker: targets.count(worker) for worker in dict.fromkeys(targets)}


def test_an_uneven_holding_moves_only_the_excess_from_the_end_of_the_fuller_worker():
    holders = [A] * 18 + [B] * 14
    targets = chunk_placement(holders, [500] * 32, {A: 1, B: 1})
    assert _counts(targets) == {A: 16, B: 16}
    moved = [index for index, (held, target) in enumerate(zip(holders, targets)) if held != target]
    assert moved == [16, 17]


def test_chunks_held_nowhere_go_out_in_consecutive_runs():
    targets = chunk_placement([None] * 12, [100] * 12, {A: 1, B: 1, C: 1})
    assert targets == [A] * 4 + [B] * 4 + [C] * 4


def test_shares_follow_the_threads():
    targets = chunk_placement([A] * 12, [100] * 12, {A: 1, B: 2})
    assert _counts(targets) == {A: 4, B: 8}
    assert targets[:4] == [A] * 4  # the first ones stay where they are


def test_rows_not_chunks_are_spread():
    # A's one big chunk is its whole share: the small ones all go to B.
    rows = [600, 100, 100, 100, 100, 100, 100]
    targets = chunk_placement([A] * 7, rows, {A: 1, B: 1})
    assert targets == [A] + [B] * 6


def test_a_holder_that_is_not_a_worker_counts_as_none():
    targets = chunk_placement(["tcp://gone:1"] * 4 + [B] * 4, [10] * 8, {A: 1, B: 1})
    assert targets == [A] * 4 + [B] * 4


def test_an_already_even_holding_moves_nothing():
    holders = [A, B, A, B, B, A, None, None]
    targets = chunk_placement(holders, [7] * 8, {A: 1, B: 1})
    assert targets[:6] == holders[:6]
    assert _counts(targets) == {A: 4, B: 4}


def test_every_chunk_gets_a_worker_even_past_the_shares():
    # Three chunks for two workers: one worker takes two.
    targets = chunk_placement([None] * 3, [5, 5, 5], {A: 1, B: 1})
    assert sorted(_counts(targets).values()) == [1, 2]
    assert chunk_placement([], [], {A: 1}) == []
    assert chunk_placement([None, None], [0, 0], {A: 1}) == [A, A]


def test_no_worker_with_threads_is_an_error():
    with pytest.raises(ValueError, match="no worker"):
        chunk_placement([None], [10], {A: 0})


# --- on a cluster ----------------------------------------------------------------------------

def test_a_fit_spreads_chunks_held_by_one_worker_with_their_weights(client):
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    import kmix
    from kmix.backends.dask import DaskData
    from kmix.backends.dask_placement import holders

    workers = sorted(client.nthreads())
    assert len(workers) == 2
    rng = np.random.default_rng(5)
    values = rng.normal(size=(1200, 3)) + np.repeat(rng.normal(scale=6, size=(3, 3)), 400, axis=0)
    weights = rng.uniform(0.5, 2.0, size=1200)
    # The source and its weights on the first worker alone.
    X = client.persist(da.from_array(values, chunks=100), workers=[workers[0]])
    w = client.persist(da.from_array(weights, chunks=100), workers=[workers[0]])
    with client.as_current():
        distributed.wait([X, w])
    with DaskData(X, w, client, persist=True) as data:
        sizes = {worker: sum(len(group) for held, group in data._groups if held == worker) for worker in workers}
        assert sizes == {workers[0]: 6, workers[1]: 6}
        # Each chunk's weights live with it.
        assert holders(client, data._weight_futures) == holders(client, data._part_futures)
    # The fit gives what the same fit gives in memory.
    start = values[[0, 400, 800]]
    on_dask = kmix.KMeans(3, init=start, n_init=1, client=client).fit(X, sample_weight=w)
    in_memory = kmix.KMeans(3, init=start, n_init=1).fit(values, sample_weight=weights)
    np.testing.assert_allclose(on_dask.cluster_centers_, in_memory.cluster_centers_, rtol=1e-12, atol=1e-12)
    assert on_dask.n_iter_ == in_memory.n_iter_
