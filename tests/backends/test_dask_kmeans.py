"""KMeans on dask arrays, on a LocalCluster of two single-threaded worker processes.

From the same initial centres the chunked fit equals the in-memory one; uneven
chunks, a chunk of zero rows, a killed worker and a memory-mapped file larger
than the workers' memory do not change that.
"""

import os
import resource
import signal
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import kmix  # noqa: E402
from kmix import ConvergenceWarning, DataError, KMeans  # noqa: E402
from kmix.cli.main import main  # noqa: E402

# Each worker's memory limit; the out-of-core test maps a file four times larger.
# A worker holds about 250 MiB once numpy, scipy, numba and kmix are loaded, and
from .conftest import MEMORY_LIMIT, PATIENCE  # noqa: E402


def _blobs(n=3000, d=5, k=7, seed=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6.0, size=(k, d))
    X = centres[rng.integers(k, size=n)] + rng.normal(size=(n, d))
    initial = X[rng.choice(n, k, replace=False)].copy()
    return X, initial


def _assert_same_fit(chunked, in_memory):
    np.testing.assert_array_equal(np.asarray(chunked.labels_), in_memory.labels_)
    assert chunked.inertia_ == pytest.approx(in_memory.inertia_, rel=1e-9)
    np.testing.assert_allclose(chunked.cluster_centers_, in_memory.cluster_centers_, rtol=1e-9, atol=1e-9)
    assert chunked.n_iter_ == in_memory.n_iter_
    np.testing.assert_allclose(chunked.history_.ssd, in_memory.history_.ssd, rtol=1e-9)
    np.testing.assert_array_equal(chunked.history_.n_changed, in_memory.history_.n_changed)


@pytest.mark.parametrize(
    "chunks",
    [
        (400, 5),
        ((1000, 0, 1, 1599, 400), (5,)),  # uneven, with a chunk of zero rows and one of one row
        (750, 2),  # columns split too: rechunked into one
        (150, 5),  # 20 chunks: partial results merged over two levels of the tree
    ],
    ids=["even", "uneven-with-empty", "column-chunks", "two-merge-levels"],
)
def test_same_result_as_in_memory_from_the_same_centres(client, chunks):
    X, initial = _blobs()
    expected = KMeans(7, init=initial).fit(X)
    model = KMeans(7, init=initial, client=client).fit(da.from_array(X, chunks=chunks))
    _assert_same_fit(model, expected)
    assert isinstance(model.labels_, da.Array) and model.labels_.dtype == np.int32


def test_same_result_with_sample_weight_in_memory_or_chunked(client):
    X, initial = _blobs(n=2000, seed=5)
    weight = np.random.default_rng(0).integers(1, 4, size=len(X)).astype(float)
    expected = KMeans(7, init=initial).fit(X, sample_weight=weight)
    Xd = da.from_array(X, chunks=300)
    for w in (weight, da.from_array(weight, chunks=700)):  # other chunks than X: aligned
        model = KMeans(7, init=initial, client=client).fit(Xd, sample_weight=w)
        _assert_same_fit(model, expected)


def test_predict_transform_are_lazy_and_equal_in_memory_results(client):
    X, initial = _blobs(n=1500)
    fitted = KMeans(7, init=initial).fit(X)
    Xd = da.from_array(X, chunks=((500, 0, 1000), (5,)))
    labels = fitted.predict(Xd)
    distances = fitted.transform(Xd)
    assert isinstance(labels, da.Array) and isinstance(distances, da.Array)
    assert distances.chunks == ((500, 0, 1000), (7,))
    np.testing.assert_array_equal(labels.compute(), fitted.predict(X))
    np.testing.assert_allclose(distances.compute(), fitted.transform(X), rtol=1e-12)
    assert fitted.score(Xd) == pytest.approx(fitted.score(X), rel=1e-12)
    w = np.linspace(0.5, 2.0, len(X))
    assert fitted.score(Xd, sample_weight=w) == pytest.approx(fitted.score(X, sample_weight=w), rel=1e-12)


def test_kmeans_parallel_is_the_default_reproducible_and_good(client):
    X, _ = _blobs(n=4000, k=7, seed=11)
    Xd = da.from_array(X, chunks=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = KMeans(7, random_state=0, client=client, max_iter=50).fit(Xd)
        again = KMeans(7, random_state=0, client=client, max_iter=50).fit(Xd)
        in_memory = KMeans(7, init="k-means||", random_state=0, max_iter=50).fit(X)
    np.testing.assert_array_equal(first.history_.centers[0], again.history_.centers[0])
    best = min(KMeans(7, random_state=seed).fit(X).inertia_ for seed in range(3))
    assert first.inertia_ <= 1.01 * best
    assert in_memory.inertia_ <= 1.01 * best
    # "random" on chunks: k distinct rows of X, drawn chunk by chunk.
    random_start = KMeans(7, init="random", n_init=2, random_state=0, client=client).fit(Xd)
    starts = random_start.history_.centers[0]
    rows = [np.flatnonzero((np.abs(X - start) < 1e-9).all(axis=1)) for start in starts]
    assert all(len(r) == 1 for r in rows) and len({int(r[0]) for r in rows}) == 7


def test_callback_sees_lazy_labels_and_can_stop(client):
    X, initial = _blobs(n=1000)
    seen = []

    def callback(iteration, state):
        seen.append(state.labels)
        return iteration == 2

    model = KMeans(7, init=initial, callback=callback, client=client).fit(da.from_array(X, chunks=300))
    assert model.n_iter_ == 2 and model.history_.stopped_by_callback
    assert isinstance(seen[-1], da.Array)
    np.testing.assert_array_equal(seen[-1].compute(scheduler=client), np.asarray(model.labels_))


def test_nan_and_bad_weights_give_the_in_memory_errors(client):
    X, _ = _blobs(n=600)
    X[[5, 400], [1, 3]] = [np.nan, np.inf]
    Xd = da.from_array(X, chunks=100)
    with pytest.raises(DataError) as in_memory:
        KMeans(3).fit(X)
    with pytest.raises(DataError) as chunked:
        KMeans(3, client=client).fit(Xd)
    assert str(chunked.value) == str(in_memory.value)
    assert "X contains 2 NaN or inf values (first in row 5)" in str(chunked.value)
    finite = np.where(np.isfinite(X), X, 0.0)
    clean = da.from_array(finite, chunks=100)
    for weight, message in [
        (-np.ones(600), r"sample_weight must be non-negative; 600 negative value\(s\), first at index 0"),
        (np.zeros(600), r"sample_weight is all zero"),
        (np.ones(5), r"sample_weight has 5 entries but X has 600 samples"),
    ]:
        with pytest.raises(ValueError, match=message):
            KMeans(3).fit(finite, sample_weight=weight)
        with pytest.raises(ValueError, match=message):
            KMeans(3, client=client).fit(clean, sample_weight=da.from_array(weight, chunks=100))
    fitted = KMeans(3, random_state=0).fit(finite)
    with pytest.raises(DataError, match=r"X contains 1 NaN or inf value in rows 100 to 199 \(first in row 100\)"):
        fitted.predict(Xd[300:]).compute()  # row 400 of X is row 100 of the slice


def test_shape_dtype_and_parameter_errors(client):
    with pytest.raises(DataError, match=r"X must be a 2-D array .* got 1-D"):
        KMeans(2).fit(da.ones(10, chunks=5))
    with pytest.raises(DataError, match=r"X has 0 rows"):
        KMeans(2).fit(da.ones((0, 3), chunks=5))
    unknown = da.ones((10, 2), chunks=5)
    unknown = unknown[unknown[:, 0] > 0]
    with pytest.raises(DataError, match=r"unknown chunk sizes .*compute_chunk_sizes"):
        KMeans(2).fit(unknown)
    with pytest.raises(ValueError, match=r"init='k-means\+\+' makes one pass over the data per centre"):
        KMeans(2, init="k-means++").fit(da.ones((10, 2), chunks=5))
    with pytest.raises(ValueError, match=r"client must be None, a dask.distributed Client or a scheduler"):
        KMeans(2, client=42).fit(da.ones((10, 2), chunks=5))
    model = KMeans(2, random_state=0, client=client).fit(da.from_array(np.arange(20.0).reshape(10, 2), chunks=4))
    with pytest.raises(DataError, match="X has 3 features, but KMeans is expecting 2"):
        model.predict(da.ones((4, 3), chunks=2))
    ints = da.from_array(np.arange(20).reshape(10, 2), chunks=4)
    assert model.predict(ints).compute().shape == (10,)
    single = da.from_array(np.arange(20, dtype=np.float32).reshape(10, 2), chunks=4)
    assert KMeans(2, random_state=0, client=client).fit(single).cluster_centers_.dtype == np.float32


def test_active_client_or_scheduler_address(client, cluster):
    X, initial = _blobs(n=800)
    Xd = da.from_array(X, chunks=200)
    expected = KMeans(7, init=initial).fit(X)
    with client.as_current():
        active = KMeans(7, init=initial).fit(Xd)
        # On the default client the labels stay on the cluster.
        assert distributed.futures_of(active.labels_)
        _assert_same_fit(active, expected)
    by_address = KMeans(7, init=initial, client=cluster.scheduler_address).fit(Xd)
    assert not distributed.futures_of(by_address.labels_)  # that client is closed: lazy labels
    _assert_same_fit(by_address, expected)


def test_without_a_client_a_local_cluster_is_started_and_closed(tmp_path):
    X, initial = _blobs(n=600)
    expected = KMeans(7, init=initial).fit(X)
    model = KMeans(7, init=initial).fit(da.from_array(X, chunks=200))
    with pytest.raises(ValueError):
        distributed.default_client()  # nothing left running
    _assert_same_fit(model, expected)


def test_a_worker_killed_mid_fit_does_not_change_the_result(client):
    X, initial = _blobs(n=4000, seed=8)
    expected = KMeans(7, init=initial, tol=0).fit(X)
    assert expected.n_iter_ > 3
    killed = []

    def kill_a_worker(iteration, state):
        if iteration == 2:
            # A worker slow to answer on a loaded machine may be briefly unlisted.
            client.wait_for_workers(1, timeout=PATIENCE)
            address = sorted(client.scheduler_info(n_workers=-1)["workers"])[0]
            pid = client.run(os.getpid, workers=[address])[address]
            os.kill(pid, signal.SIGKILL)  # the labels it holds are lost
            killed.append(address)

    model = KMeans(7, init=initial, tol=0, callback=kill_a_worker, client=client).fit(
        da.from_array(X, chunks=500)
    )
    assert killed
    client.wait_for_workers(2, timeout=PATIENCE)
    assert killed[0] not in client.scheduler_info(n_workers=-1)["workers"]  # a new process replaced it
    _assert_same_fit(model, expected)


def _worker_memory() -> tuple[int, float]:
    """(pid, peak RSS in bytes since the last reset): VmHWM where /proc has it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return os.getpid(), float(line.split()[1]) * 1024.0
    except OSError:
        pass
    return os.getpid(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


def _reset_peak_memory() -> bool:
    """Start the worker's peak RSS afresh (Linux: 5 > /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def test_memory_mapped_file_four_times_worker_memory_fits_out_of_core(client, tmp_path):
    n_features = 256
    n_samples = 4 * MEMORY_LIMIT // (n_features * 8)
    path = tmp_path / "big.npy"
    mapped = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n_samples, n_features))
    # Two clusters at -10 and +10 along the first axis; one block of noise, reused.
    step = 65536
    noise = np.random.default_rng(0).standard_normal((step, n_features))
    noise[:, 0] += np.where(np.arange(step) % 2, 10.0, -10.0)
    for start in range(0, n_samples, step):
        rows = min(step, n_samples - start)
        mapped[start:start + rows] = noise[:rows]
    initial = np.array(mapped[:2])
    del mapped
    assert path.stat().st_size >= 4 * MEMORY_LIMIT
    # Fresh worker processes: what earlier tests compiled in them (numba's compiler
    # keeps memory) is not this fit's. dask pauses a worker at 80 % of its limit;
    # one paused for good would leave the fit waiting forever.
    client.restart(timeout=PATIENCE)
    # The same fit on a few rows first: the workers compile (or load) the kernels
    # now, so the peak measured below is that of the data, not of the compiler.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        KMeans(2, init=initial, max_iter=1, tol=0, client=client).fit(
            da.from_array(noise[:4096], chunks=2048))
    if not all(client.run(_reset_peak_memory).values()):
        pytest.skip("this system cannot reset a process's peak memory")
    before = client.run(_worker_memory)
    X = kmix.load_data(path, chunks=8192)  # 16 MiB chunks, read from the file when needed
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = KMeans(2, init=initial, max_iter=1, tol=0, client=client).fit(X)
    finally:
        path.unlink()  # 2 GiB: not left for pytest's kept temporary folders
    after = client.run(_worker_memory)
    assert {pid for pid, _ in after.values()} == {pid for pid, _ in before.values()}  # none restarted
    assert all(peak < MEMORY_LIMIT for _, peak in after.values()), after
    np.testing.assert_allclose(np.sort(model.cluster_centers_[:, 0]), [-10.0, 10.0], atol=0.05)
    assert model.inertia_ == pytest.approx(n_samples * n_features, rel=0.01)


def test_cli_dask_on_a_scheduler(capsys, tmp_path, cluster):
    X, _ = _blobs(n=900, d=3, k=4)
    path = tmp_path / "points.npy"
    np.save(path, X)
    code = main(["kmeans", str(path), "-k", "4", "--seed", "0", "--dask", "--chunks", "200",
                 "--scheduler", cluster.scheduler_address, "--out", str(tmp_path / "r.npz")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "dask: 5 chunks on 2 worker(s)" in out
    expected = KMeans(4, random_state=0, client=cluster.scheduler_address).fit(kmix.load_data(path, chunks=200))
    assert f"{expected.inertia_:.6g}" in out
    saved = kmix.load_model(tmp_path / "r.npz")
    np.testing.assert_array_equal(saved.labels_, np.asarray(expected.labels_))
    code = main(["kmeans", str(path), "--scheduler", cluster.scheduler_address])
    _, err = capsys.readouterr()
    assert code == 2 and "--scheduler and --chunks apply only with --dask" in err
    code = main(["kmeans", str(path), "--dask", "--plot", str(tmp_path / "c.png")])
    _, err = capsys.readouterr()
    assert code == 2 and "--plot draws every point" in err


def test_progress_bar_draws_only_on_a_terminal_after_a_delay():
    from kmix.cli._dask import Progress

    class Terminal:
        def __init__(self):
            self.text = ""

        def isatty(self):
            return True

        def write(self, text):
            self.text += text

        def flush(self):
            pass

    terminal = Terminal()
    progress = Progress(10, stream=terminal, delay=0.0, width=10)
    progress(5, None)
    progress.close()
    assert "[#####-----] iteration 5/10" in terminal.text and terminal.text.endswith("\n")
    quiet = Terminal()
    slow = Progress(10, stream=quiet, delay=60.0)
    slow(1, None)
    slow.close()
    assert quiet.text == ""


def test_the_cluster_indices_on_dask_equal_the_in_memory_ones(client):
    # Calinski-Harabasz and Davies-Bouldin of select_k from the same centres: the
    # per-cluster moments merged over the chunks, two passes.
    from kmix import backends
    from kmix.models.select_k import _indices

    rng = np.random.default_rng(6)
    X = rng.normal(size=(900, 3)) * 2.5 + np.repeat(np.array([[0.0, 0, 0], [9, 0, 0], [0, 9, 0]]), 300, axis=0)
    centers = X[[0, 300, 600]]
    with backends.wrap(X, None) as data:
        expected = _indices(data, centers)
    with backends.wrap(da.from_array(X, chunks=((400, 0, 499, 1), (3,))), None, client=client) as data:
        chunked = _indices(data, centers)
    np.testing.assert_allclose(chunked, expected, rtol=1e-9)
