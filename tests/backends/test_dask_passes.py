"""How a pass runs on chunks persisted on the workers: one task per worker thread,
and the chunks' partial results merged in chunk order, whatever the grouping."""

import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

from kmix.backends.dask import SPLIT_EVERY, DaskData, _runs_of  # noqa: E402

# The workers cannot import this module: its functions travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _chunk_index(block):
    return block.index


def _pair(a, b):
    return (a, b)


def _labels_and_index(block):
    return np.full(block.X.shape[0], block.index, dtype=np.int32), block.index


def _expected_tree(n):
    """The merge of partials 0 .. n-1 by ``_pair``: SPLIT_EVERY at a time, in
    order, then the same over the results."""
    parts = list(range(n))
    while len(parts) > 1:
        merged = []
        for start in range(0, len(parts), SPLIT_EVERY):
            group = parts[start:start + SPLIT_EVERY]
            value = group[0]
            for other in group[1:]:
                value = (value, other)
            merged.append(value)
        parts = merged
    return parts[0]


def _data(client, n_chunks):
    X = np.random.default_rng(0).normal(size=(40 * n_chunks, 3))
    return DaskData(da.from_array(X, chunks=40), None, client, persist=True)


def _run_tasks(client, call):
    with distributed.get_task_stream(client) as stream:
        result = call()
    return result, [task for task in stream.data if "_run_group_task" in task["key"]]


@pytest.mark.parametrize("n_chunks", [1, 5, 12, 70])
def test_partials_merge_in_chunk_order_in_one_task_per_worker_thread(client, n_chunks):
    data = _data(client, n_chunks)
    threads = sum(client.nthreads().values())
    merged, tasks = _run_tasks(client, lambda: data.reduce(_chunk_index, merge=_pair))
    assert merged == _expected_tree(n_chunks)
    assert len(tasks) == min(threads, n_chunks)
    (state, merged), tasks = _run_tasks(
        client, lambda: data.reduce(_labels_and_index, merge=_pair, keep_state=True))
    assert merged == _expected_tree(n_chunks)
    assert len(tasks) == min(threads, n_chunks)
    # Each chunk's state stays in place, and reads back in chunk order.
    rows = client.compute(data.rows(state)).result()
    np.testing.assert_array_equal(rows, np.repeat(np.arange(n_chunks), 40))


def test_groups_cover_every_chunk_once_on_the_worker_that_holds_it(client):
    data = _data(client, 12)
    indices = sorted(i for _, group in data._groups for i in group)
    assert indices == list(range(12))
    holders = client.who_has(data._part_futures)
    for worker, group in data._groups:
        assert worker in client.nthreads()
        assert all(worker in holders[data._part_futures[i].key] for i in group)


def test_a_group_folds_the_first_chunks_it_holds_of_each_run():
    def nested(indices):
        value = indices[0]
        for index in indices[1:]:
            value = (value, index)
        return value

    S = SPLIT_EVERY
    indices = [*range(S), S + 1, S + 2, 2 * S]
    n_chunks = 2 * S + 1
    expected = ({0: (S, nested(list(range(S)))), 2: (1, 2 * S)}, {S + 1: S + 1, S + 2: S + 2})
    assert _runs_of([("state", index) for index in indices], indices, _pair, n_chunks, True) == expected
    assert _runs_of(indices, indices, _pair, n_chunks, False) == expected
    # The run's first chunk held: its prefix is folded, the chunks after a gap go as they are.
    indices = [S, S + 1, S + 3]
    assert _runs_of(indices, indices, _pair, n_chunks, False) == ({1: (2, (S, S + 1))}, {S + 3: S + 3})


# --- unit weights, one array per worker process ---------------------------------------------

def test_unit_weights_are_one_array_per_length_and_dtype_within_a_bound(monkeypatch):
    from kmix.backends import dask as kdask

    monkeypatch.setattr(kdask, "_UNIT_WEIGHTS", {})
    monkeypatch.setattr(kdask, "_UNIT_WEIGHTS_BYTES", 1000)
    first = kdask._unit_weights(50, np.float64)
    assert first.dtype == np.float64 and first.shape == (50,) and np.all(first == 1)
    assert kdask._unit_weights(50, np.float64) is first
    single = kdask._unit_weights(50, np.float32)
    assert single.dtype == np.float32 and single is not first
    assert kdask._unit_weights(50, np.float32) is single
    # 600 more bytes would pass the bound: the kept arrays make way.
    wide = kdask._unit_weights(75, np.float64)
    assert list(kdask._UNIT_WEIGHTS) == [(75, np.dtype(np.float64).str)]
    assert kdask._unit_weights(75, np.float64) is wide
    # Longer than the bound: a new array every time, none kept.
    long_ = kdask._unit_weights(200, np.float64)
    assert np.all(long_ == 1) and kdask._unit_weights(200, np.float64) is not long_
    assert list(kdask._UNIT_WEIGHTS) == [(75, np.dtype(np.float64).str)]


def _kept_unit_weights():
    from kmix.backends import dask as kdask

    return [(key, bool(np.all(weights == 1))) for key, weights in kdask._UNIT_WEIGHTS.items()]


def test_no_fit_writes_the_shared_unit_weights(client):
    import kmix

    rng = np.random.default_rng(3)
    X = da.from_array(rng.normal(size=(3000, 4)) + np.repeat(rng.normal(scale=5, size=(3, 4)), 1000, axis=0),
                      chunks=500)
    for algorithm in ("lloyd", "hamerly"):
        model = kmix.KMeans(3, random_state=0, algorithm=algorithm, client=client).fit(X)
        model.predict(X).compute()
        model.transform(X).compute()
    mixture = kmix.GaussianMixture(3, random_state=0, client=client).fit(X)
    mixture.predict_proba(X).compute()
    mixture.score_samples(X).compute()
    kept = [entry for entries in client.run(_kept_unit_weights).values() for entry in entries]
    assert kept, "no worker kept unit weights: the check below would prove nothing"
    assert all(ones for _, ones in kept), kept
