"""k-means on a sparse matrix side by side: kmix against scikit-learn (section `## Sparse k-means`).

The workload is TF-IDF-like: 200,000 rows x 50,000 columns, about 50 stored values
a row, column frequencies following a power law (a few columns in most rows, most
columns in few), rows L2-normalised; k = 64. It is made once with a fixed seed and
saved with ``scipy.sparse.save_npz``; every measurement runs in its own process
that loads it (so each library's peak RSS is its own and holds the same data), and
every library starts from the same k rows, runs a fixed number of Lloyd iterations
(tol = 0) on all cores and is timed per iteration (fit time / iterations). The
libraries take turns over the rounds (see ``_common.run_interleaved``).

kmix is timed through ``kmix.KMeans`` (``record_history=False``: like
scikit-learn's, the fit keeps no centres per iteration), with Lloyd's pass and
with Hamerly's bounds.

    python bench/bench_sparse.py                        # the full run, writes RESULTS.md
    python bench/bench_sparse.py --rows 20000 --repeats 1 --no-write   # a quick look
    python bench/bench_sparse.py --child kmix FILE float64 --repeats 3   # one measurement, JSON
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

SCRIPT = Path(__file__).resolve()

N_ROWS, N_COLUMNS, PER_ROW, N_CLUSTERS = 200_000, 50_000, 50, 64
ITERATIONS = 5
DTYPES = ("float64", "float32")
# The targets: kmix's Lloyd pass at most this fraction of scikit-learn's
# time per iteration, and a peak RSS no larger than scikit-learn's.
TARGET_RATIO = 0.6
ROUNDS = 2
SEED = 20240611


# --- the data --------------------------------------------------------------------------


def make_matrix(n_rows: int, n_columns: int = N_COLUMNS, per_row: int = PER_ROW, seed: int = SEED):
    """A TF-IDF-like CSR matrix (float64): per row a Poisson number of terms drawn
    from a power law over the columns (a term drawn twice counts twice), times the
    column's inverse document frequency, the row scaled to unit norm."""
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    lengths = np.maximum(1, rng.poisson(per_row, size=n_rows))
    frequency = 1.0 / (np.arange(n_columns) + 10.0) ** 1.1
    frequency /= frequency.sum()
    cumulative = np.cumsum(frequency)
    columns = np.searchsorted(cumulative, rng.random(int(lengths.sum())) * cumulative[-1])
    columns = np.minimum(columns, n_columns - 1).astype(np.int32)
    rows = np.repeat(np.arange(n_rows, dtype=np.int32), lengths)
    counts = sp.csr_matrix((np.ones(columns.shape[0]), (rows, columns)), shape=(n_rows, n_columns))
    counts.sum_duplicates()
    idf = np.log(1.0 / (frequency * n_columns) + 1.0) + 1.0
    counts.data *= idf[counts.indices]
    norms = np.sqrt(np.add.reduceat(counts.data**2, counts.indptr[:-1])) if counts.nnz else np.ones(n_rows)
    counts.data /= np.repeat(norms, np.diff(counts.indptr))
    counts.sort_indices()
    return counts


def initial_rows(n_rows: int, seed: int = SEED) -> "list[int]":
    """The rows every library starts from (k distinct rows)."""
    import numpy as np

    return sorted(np.random.default_rng(seed + 1).choice(n_rows, size=N_CLUSTERS, replace=False).tolist())


# --- one measurement (in a child process) ----------------------------------------------


def _fit_kmix(X, initial, iterations, bounds):
    import kmix

    model = kmix.KMeans(initial.shape[0], init=initial, n_init=1, max_iter=iterations, tol=0,
                        algorithm="hamerly" if bounds else "lloyd", record_history=False)
    model.fit(X)
    return model.n_iter_, model.inertia_


def _fit_sklearn(X, initial, iterations):
    from sklearn.cluster import KMeans

    model = KMeans(initial.shape[0], init=initial, n_init=1, max_iter=iterations, tol=0,
                   algorithm="lloyd")
    model.fit(X)
    return model.n_iter_, model.inertia_


FITS = {
    "kmix": lambda X, C, it: _fit_kmix(X, C, it, bounds=False),
    "kmix-hamerly": lambda X, C, it: _fit_kmix(X, C, it, bounds=True),
    "sklearn": _fit_sklearn,
}


def child(library: str, path: str, dtype: str, repeats: int, iterations: int) -> dict:
    """Time one library: seconds per iteration of each of ``repeats`` fits after a
    warm-up fit (imports, compiled kernels, page faults)."""
    import numpy as np
    import scipy.sparse as sp

    X = sp.load_npz(path).astype(dtype)
    initial = np.ascontiguousarray(X[initial_rows(X.shape[0])].toarray())
    fit = FITS[library]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(X, initial, iterations)
        per_iteration = []
        n_iter = inertia = None
        for _ in range(repeats):
            start = time.perf_counter()
            n_iter, inertia = fit(X, initial, iterations)
            per_iteration.append((time.perf_counter() - start) / n_iter)
    return {
        "seconds_per_iteration": median(per_iteration),
        "all": per_iteration,
        "n_iter": int(n_iter),
        "inertia": float(inertia),
        "peak_rss_mib": _common.peak_rss_mib(),
        "data_mib": (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20,
    }


# --- the driver ----------------------------------------------------------------------------


def _available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def run(n_rows: int, repeats: int, iterations: int, write: bool) -> str:
    import scipy.sparse as sp

    libraries = [lib for lib in FITS if _available("sklearn" if lib == "sklearn" else "kmix")]
    description = _common.machine_description(("scikit-learn", "numba", "threadpoolctl"))
    print("machine:", json.dumps(description), flush=True)
    folder = Path(tempfile.mkdtemp(prefix="kmix-bench-sparse-"))
    results: dict[tuple[str, str], dict] = {}
    try:
        start = time.perf_counter()
        X = make_matrix(n_rows)
        path = folder / "tfidf.npz"
        sp.save_npz(path, X, compressed=False)
        shape, stored = X.shape, X.nnz
        del X
        print(f"data: {shape[0]:,} x {shape[1]:,}, {stored / shape[0]:.1f} stored values a row, "
              f"made in {time.perf_counter() - start:.1f} s", flush=True)
        per_round = -(-repeats // ROUNDS)
        for dtype in DTYPES:
            jobs = {lib: ["--child", lib, str(path), dtype, "--repeats", str(per_round),
                          "--iterations", str(iterations)] for lib in libraries}
            for library, result in _common.run_interleaved(SCRIPT, jobs, ROUNDS).items():
                results[(dtype, library)] = result
                print(f"{dtype} {library}: {result['seconds_per_iteration'] * 1e3:.0f} ms/iter, "
                      f"{result['n_iter']} iterations, inertia {result['inertia']:.6e}, "
                      f"peak RSS {result['peak_rss_mib']:.0f} MiB", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    body = report(shape, stored, iterations, repeats, results, description)
    if write:
        _common.write_section("sparse", body)
        print(f"wrote the sparse section of {_common.RESULTS}")
    return body


def report(shape, stored, iterations, repeats, results, description) -> str:
    rows = []
    for dtype in DTYPES:
        ours, bounded, theirs = (results.get((dtype, lib)) for lib in ("kmix", "kmix-hamerly", "sklearn"))
        if ours is None:
            continue

        def ms(result):
            return f"{result['seconds_per_iteration'] * 1e3:.0f}" if result else "-"

        ratio = ours["seconds_per_iteration"] / theirs["seconds_per_iteration"] if theirs else None
        memory_met = theirs is not None and ours["peak_rss_mib"] <= theirs["peak_rss_mib"]
        rows.append([
            dtype, ms(ours), ms(bounded), ms(theirs),
            f"{ratio:.2f}" if ratio is not None else "-",
            f"{bounded['seconds_per_iteration'] / theirs['seconds_per_iteration']:.2f}"
            if bounded and theirs else "-",
            f"<= {TARGET_RATIO:.2f}: {'met' if ratio is not None and ratio <= TARGET_RATIO else 'not met'}",
            f"{ours['peak_rss_mib']:.0f}", f"{bounded['peak_rss_mib']:.0f}" if bounded else "-",
            f"{theirs['peak_rss_mib']:.0f}" if theirs else "-",
            f"<= scikit-learn: {'met' if memory_met else 'not met'}",
            f"{ours['data_mib']:.0f}",
        ])
    agreement = {}
    for dtype in DTYPES:
        ours, theirs = results.get((dtype, "kmix")), results.get((dtype, "sklearn"))
        if ours and theirs:
            agreement[dtype] = f"{ours['inertia'] / theirs['inertia'] - 1:+.1e}"
    table = _common.markdown_table(
        ["dtype", "kmix Lloyd ms/iter", "kmix Hamerly ms/iter", "scikit-learn ms/iter",
         "kmix Lloyd / scikit-learn", "kmix Hamerly / scikit-learn", "target (time)",
         "kmix Lloyd peak RSS MiB", "kmix Hamerly peak RSS MiB", "scikit-learn peak RSS MiB",
         "target (memory)", "X MiB"],
        rows,
    )
    machine = "; ".join(f"{key} {value}" for key, value in description.items())
    fits = ROUNDS * -(-repeats // ROUNDS)
    lines = [
        "## Sparse k-means",
        "",
        f"A TF-IDF-like CSR matrix: {shape[0]:,} x {shape[1]:,}, {stored / shape[0]:.1f} stored values a "
        f"row on average ({stored:,} in all), column frequencies by a power law (exponent 1.1), "
        f"rows L2-normalised; k = {N_CLUSTERS}, the same {N_CLUSTERS} rows as initial centres, "
        f"{iterations} Lloyd iterations (tol = 0). Time per iteration = fit time / iterations, median "
        f"of {fits} fits: {ROUNDS} rounds in which the libraries take turns, each a new process that "
        "loads the matrix (saved by scipy.sparse.save_npz) and fits once to warm up. Both libraries "
        "on both cores. scikit-learn: `KMeans(algorithm=\"lloyd\", init=C0, n_init=1)` on the CSR "
        "matrix. kmix: `kmix.KMeans(algorithm=\"lloyd\" or \"hamerly\", init=C0, n_init=1, "
        "record_history=False)` on the same matrix: the "
        "rows stay sparse and uncentred, each stored value adds itself times a row of the "
        "transposed centres into the row's k products (contiguous memory, SIMD), then each "
        "cluster's rows are summed by one thread; \"Hamerly\" keeps a bound per row and gives the "
        "same labels. The fit time includes kmix's checks of X (one pass for NaN/inf, the column "
        "ranges and moments, the row norms) and scikit-learn's. Peak RSS is the whole process "
        "(Python, the library, the matrix). Ratios below 1 mean kmix is faster.",
        "",
        table,
        "",
        "Inertia after the last iteration, kmix / scikit-learn - 1 (the same iterations from the "
        "same start agree to rounding): "
        + ", ".join(f"{dtype} {agreement[dtype]}" for dtype in DTYPES if dtype in agreement) + ".",
        "",
        f"Machine: {machine}; load average (1, 5, 15 min) at the end {_common.load_average()}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=N_ROWS)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--iterations", type=int, default=ITERATIONS)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("LIBRARY", "FILE", "DTYPE"))
    args = parser.parse_args([] if argv is None else argv)
    if args.child:
        library, path, dtype = args.child
        print(json.dumps(child(library, path, dtype, args.repeats, args.iterations)))
        return 0
    body = run(args.rows, args.repeats, args.iterations, write=not args.no_write)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
