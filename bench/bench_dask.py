"""k-means on a dask array: kmix's dask backend against in-memory kmix and dask-ml.

The workload is K2's shape (16 features, k = 64) scaled up to about 2 GB of
float64 on disk, a .npy file opened with ``kmix.load_data(path, chunks=...)``
(memory-mapped, read chunk by chunk). Every library runs the same number of
Lloyd iterations (tol=0) from the same initial centres, on a LocalCluster of 1
and then 2 single-threaded worker processes; in-memory kmix loads the whole file
first and uses both cores. Only the fit is timed (not the cluster's start, nor
the load for in-memory kmix); median of the repetitions after one warm-up fit,
which also compiles the kernels in the workers.

dask-ml's ``inertia_`` is a sum of distances, not of squared distances, so the
SSD of its centres is computed here, the same way for every library.

    python bench/bench_dask.py                      # the full run, writes RESULTS.md
    python bench/bench_dask.py --size-gb 0.1 --repeats 1 --no-write   # a quick look
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path
from statistics import median

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

N_FEATURES, N_CLUSTERS = 16, 64  # K2's shape
SIZE_GB = 2.0
ITERATIONS = 5
REPEATS = 5
CHUNK_ROWS = 500_000  # 61 MiB chunks
WORKERS = (1, 2)


def make_file(path: Path, size_gb: float) -> np.ndarray:
    """Write K2-like data (a mixture of k overlapping Gaussians) of ``size_gb`` GB to
    ``path`` as .npy, block by block; return k distinct rows as initial centres."""
    n = int(size_gb * 1e9) // (N_FEATURES * 8)
    rng = np.random.default_rng(20240601 + N_FEATURES)
    means = rng.normal(scale=3.0, size=(N_CLUSTERS, N_FEATURES))
    mapped = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, N_FEATURES))
    step = 1_000_000
    for start in range(0, n, step):
        rows = min(step, n - start)
        mapped[start:start + rows] = means[rng.integers(0, N_CLUSTERS, size=rows)] + rng.normal(size=(rows, N_FEATURES))
    initial = np.array(mapped[np.sort(rng.choice(n, size=N_CLUSTERS, replace=False))])
    mapped.flush()
    del mapped
    return initial


def ssd(X, centers: np.ndarray) -> float:
    """Sum of squared distances to the nearest centre, with kmix's kernels (dask or not)."""
    import kmix

    model = kmix.KMeans(len(centers))
    model.cluster_centers_ = np.asarray(centers, dtype=np.float64)
    model.n_features_in_ = centers.shape[1]
    return -model.score(X)


def _timed(fit, repeats: int) -> tuple[float, list[float], object]:
    fit()  # warm-up: imports and compiled kernels in the workers
    times, model = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        model = fit()
        times.append(time.perf_counter() - start)
    return median(times), times, model


def time_in_memory(path: Path, initial: np.ndarray, iterations: int, repeats: int,
                   algorithm: str = "lloyd") -> dict:
    """In-memory kmix on the whole array: its Lloyd pass (what the dask fit runs per
    chunk, the baseline of the table) or, with ``algorithm="auto"``, as it comes."""
    import kmix

    X = np.load(path)

    def fit():
        return kmix.KMeans(N_CLUSTERS, init=initial, max_iter=iterations, tol=0,
                           record_history=False, algorithm=algorithm).fit(X)

    seconds, times, model = _timed(fit, repeats)
    return {"seconds": seconds, "times": times, "ssd": model.inertia_}


def time_on_cluster(path: Path, initial: np.ndarray, iterations: int, repeats: int,
                    n_workers: int, chunk_rows: int, with_dask_ml: bool) -> dict:
    import distributed

    import kmix

    results = {}
    with distributed.LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0",
        env={"NUMBA_NUM_THREADS": "1"},
    ) as cluster, distributed.Client(cluster) as client:
        X = kmix.load_data(path, chunks=chunk_rows)

        def fit_from_file():
            return kmix.KMeans(N_CLUSTERS, init=initial, max_iter=iterations, tol=0,
                               record_history=False, client=client).fit(X)

        seconds, times, model = _timed(fit_from_file, repeats)
        results["kmix-file"] = {"seconds": seconds, "times": times, "ssd": model.inertia_}
        print(f"  kmix from the file, {n_workers} worker(s): {seconds:.2f} s", flush=True)
        # The rest with the data in the workers' memory, as in-memory kmix has it in its own.
        X = X.persist()
        distributed.wait(X)

        for key, algorithm in (("kmix", "auto"), ("kmix-hamerly", "hamerly")):
            def fit_kmix(algorithm=algorithm):
                return kmix.KMeans(N_CLUSTERS, init=initial, max_iter=iterations, tol=0,
                                   record_history=False, client=client, algorithm=algorithm).fit(X)

            seconds, times, model = _timed(fit_kmix, repeats)
            results[key] = {"seconds": seconds, "times": times, "ssd": model.inertia_}
            print(f"  {key}, {n_workers} worker(s): {seconds:.2f} s", flush=True)
        if with_dask_ml:
            from dask_ml.cluster import KMeans as DaskMLKMeans

            def fit_dask_ml():
                return DaskMLKMeans(N_CLUSTERS, init=initial, max_iter=iterations, tol=0).fit(X)

            seconds, times, model = _timed(fit_dask_ml, repeats)
            results["dask-ml"] = {"seconds": seconds, "times": times,
                                  "ssd": ssd(X, model.cluster_centers_), "n_iter": int(model.n_iter_)}
            print(f"  dask-ml, {n_workers} worker(s): {seconds:.2f} s", flush=True)
    return results


def report(size_gb: float, n_samples: int, iterations: int, repeats: int, chunk_rows: int,
           memory: dict, clusters: dict, description: dict) -> str:
    base = memory["seconds"]
    rows = [["kmix, in memory, Lloyd pass (2 threads)", "-", f"{base:.2f}", f"{base / iterations:.2f}",
             "1.00", "-", f"{memory['ssd']:.6e}"]]
    if "bounded" in memory:
        bounded = memory["bounded"]
        rows.append(["kmix, in memory, as it comes (bounds; 2 threads)", "-", f"{bounded['seconds']:.2f}",
                     f"{bounded['seconds'] / iterations:.2f}", f"{bounded['seconds'] / base:.2f}", "-",
                     f"{bounded['ssd']:.6e}"])
    for n_workers, results in clusters.items():
        ours = results["kmix"]["seconds"]
        rows.append(["kmix, dask", n_workers, f"{ours:.2f}", f"{ours / iterations:.2f}",
                     f"{ours / base:.2f}", "1.00", f"{results['kmix']['ssd']:.6e}"])
        if "kmix-file" in results:
            from_file = results["kmix-file"]["seconds"]
            rows.append(["kmix, dask, reading the file (not persisted first)", n_workers, f"{from_file:.2f}",
                         f"{from_file / iterations:.2f}", f"{from_file / base:.2f}", f"{from_file / ours:.2f}",
                         f"{results['kmix-file']['ssd']:.6e}"])
        if "kmix-hamerly" in results:
            bounded = results["kmix-hamerly"]["seconds"]
            rows.append(["kmix, dask, `algorithm=\"hamerly\"` (bounds)", n_workers, f"{bounded:.2f}",
                         f"{bounded / iterations:.2f}", f"{bounded / base:.2f}", f"{bounded / ours:.2f}",
                         f"{results['kmix-hamerly']['ssd']:.6e}"])
        if "dask-ml" in results:
            theirs = results["dask-ml"]["seconds"]
            rows.append(["dask-ml", n_workers, f"{theirs:.2f}", f"{theirs / iterations:.2f}",
                         f"{theirs / base:.2f}", f"{theirs / ours:.2f}", f"{results['dask-ml']['ssd']:.6e}"])
    targets = []
    if 2 in clusters:
        two = clusters[2]["kmix"]["seconds"]
        ratio = two / base
        targets.append(f"2 workers / in memory: {ratio:.2f} (target <= 1.3: {'met' if ratio <= 1.3 else 'not met'})")
        if 1 in clusters:
            speedup = clusters[1]["kmix"]["seconds"] / two
            targets.append(f"1 worker / 2 workers: {speedup:.2f}x (target >= 1.7x: "
                           f"{'met' if speedup >= 1.7 else 'not met'})")
        if "dask-ml" in clusters[2]:
            versus = two / clusters[2]["dask-ml"]["seconds"]
            targets.append(f"kmix / dask-ml on 2 workers: {versus:.2f} (target <= 0.3: "
                           f"{'met' if versus <= 0.3 else 'not met'})")
    machine = "; ".join(f"{key} {value}" for key, value in description.items())
    loads = [float(x) for key, value in description.items() if key.startswith("load average")
             for x in value.split(", ")[:1]]
    busy = ""
    if loads and max(loads) > float(description.get("logical CPUs", "0") or 0):
        busy = (f" The 1-minute load average reached {max(loads):.1f} on "
                f"{description['logical CPUs']} CPUs during this run (it counts this run's own "
                "worker processes, and any other work on a shared machine): read the 2-worker "
                "rows with that in mind.")
    return "\n".join([
        "## Dask",
        "",
        f"k-means on a {size_gb:g} GB .npy file: {n_samples:,} x {N_FEATURES} float64 (K2's shape), "
        f"k = {N_CLUSTERS}, {iterations} Lloyd iterations (tol=0) from the same initial centres, "
        f"chunks of {chunk_rows:,} rows opened memory-mapped by `kmix.load_data(path, chunks=...)` "
        "and persisted on the workers (`X.persist()`) before the fits, as in-memory kmix has the "
        "whole array loaded; one row per worker count reads the file instead. "
        "LocalCluster of single-threaded worker processes; in-memory kmix uses both cores. "
        f"Median of {repeats} fits after a warm-up fit; only the fit is timed. "
        "On a dask array kmix runs Lloyd's pass on every chunk unless given "
        "`algorithm=\"hamerly\"` (its row per worker count: the bounds kept on the workers "
        "beside the labels); in memory its default "
        "(`algorithm=\"auto\"`, here k x features = 1024) skips the points whose nearest centre cannot "
        "have changed, so its Lloyd pass (`algorithm=\"lloyd\"`) is the baseline here and the "
        "default is the second row. Over only 5 iterations the bounds save less than over a whole "
        "run: the first passes move the most points.",
        "",
        _common.markdown_table(
            ["library", "workers", "seconds per fit", "seconds per iteration",
             "/ kmix in memory", "/ kmix dask (same workers)", "SSD of its centres"],
            rows,
        ),
        "",
        "Targets: " + "; ".join(targets) + "." if targets else "",
        "",
        "The data fit in the workers' memory, so kmix keeps the centred chunks (with their rows' "
        "squared norms) there after its first pass (over 40% of the workers' memory limit it "
        "reads them from the source on every pass instead). dask-ml's `inertia_` is a sum of "
        "distances, so the SSD column is "
        "computed for every library the same way. Equal SSDs (up to rounding) say the libraries "
        f"did the same iterations.{busy}",
        "",
        f"Machine: {machine}",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gb", type=float, default=SIZE_GB)
    parser.add_argument("--iterations", type=int, default=ITERATIONS)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS)
    parser.add_argument("--no-write", action="store_true", help="print the section, leave RESULTS.md alone")
    args = parser.parse_args([] if argv is None else argv)
    try:
        import dask_ml  # noqa: F401

        with_dask_ml = True
    except ImportError:
        with_dask_ml = False
        print("dask-ml is not installed (pip install 'kmix[bench]'): kmix only", flush=True)
    description = _common.machine_description(["dask", "distributed", "dask-ml", "numba"])
    warnings.simplefilter("ignore")  # ConvergenceWarning by design (tol=0), dask's size notes
    with tempfile.TemporaryDirectory(prefix="kmix-bench-dask-") as folder:
        path = Path(folder) / "k2.npy"
        start = time.perf_counter()
        initial = make_file(path, args.size_gb)
        n_samples = int(np.load(path, mmap_mode="r").shape[0])
        print(f"wrote {path.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - start:.0f} s", flush=True)
        memory = time_in_memory(path, initial, args.iterations, args.repeats)
        memory["bounded"] = time_in_memory(path, initial, args.iterations, args.repeats, algorithm="auto")
        print(f"  kmix in memory: Lloyd pass {memory['seconds']:.2f} s, as it comes "
              f"{memory['bounded']['seconds']:.2f} s", flush=True)
        clusters = {
            n_workers: time_on_cluster(path, initial, args.iterations, args.repeats, n_workers,
                                       args.chunk_rows, with_dask_ml)
            for n_workers in WORKERS
        }
    description["load average (1, 5, 15 min) at end"] = _common.load_average()
    body = report(args.size_gb, n_samples, args.iterations, args.repeats, args.chunk_rows,
                  memory, clusters, description)
    print(body)
    if not args.no_write:
        _common.write_section("dask", body)
        print(f"wrote the dask section of {_common.RESULTS}")


if __name__ == "__main__":
    main(sys.argv[1:])
