"""k-means side by side: kmix against scikit-learn and faiss (section `## k-means`).

For each workload every library gets the same data, the same initial centres and
the same dtype, runs a fixed number of Lloyd iterations (tol = 0) and is timed
over several repetitions; the figure is the median time per iteration. Each
(library, workload, dtype) runs in its own process, so its peak RSS is its own.

    python bench/bench_kmeans.py                   # everything, writes RESULTS.md
    python bench/bench_kmeans.py --only K1 --no-write
    python bench/bench_kmeans.py --child kmix K2 float32   # one measurement, JSON
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

SCRIPT = Path(__file__).resolve()

# name: (n_samples, n_features, n_clusters, iterations timed per fit)
WORKLOADS = {
    "K1": (1_000_000, 2, 8, 20),
    "K2": (200_000, 16, 64, 20),
    "K3": (100_000, 128, 256, 10),
}
DTYPES = ("float64", "float32")
# Where the distance products are the bulk of the work: report the GEMM fraction.
COMPUTE_BOUND = {"K3"}
# The targets: kmix as it comes / fastest peer at most this, and its Lloyd pass
# (compute-bound workloads) at least this fraction of the GEMM rate of the same run.
TARGET_RATIO = {"K1": 0.30, "K2": 0.35, "K3": 0.50}
TARGET_GEMM_FRACTION = 0.7
E2E_ITERATIONS = 20
# The libraries take turns, this many rounds per workload (see _common.run_interleaved).
ROUNDS = 3


# --- the data -------------------------------------------------------------------


def make_data(name: str, dtype: str):
    """The workload's data and initial centres, the same in every process: a
    mixture of n_clusters overlapping Gaussians (so that Lloyd's algorithm keeps
    moving for the iterations timed) and n_clusters distinct rows as the start."""
    import numpy as np

    n, d, k, _ = WORKLOADS[name]
    rng = np.random.default_rng(20240601 + d)
    means = rng.normal(scale=3.0, size=(k, d))
    X = means[rng.integers(0, k, size=n)] + rng.normal(size=(n, d))
    initial = X[rng.choice(n, size=k, replace=False)]
    return np.ascontiguousarray(X, dtype=dtype), np.ascontiguousarray(initial, dtype=dtype)


# --- one measurement (in a child process) ---------------------------------------------


def _fit_kmix(X, initial, iterations, algorithm="auto"):
    from kmix import KMeans

    model = KMeans(len(initial), init=initial, n_init=1, max_iter=iterations, tol=0,
                   record_history=False, algorithm=algorithm)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    return model.n_iter_, model.inertia_


def _fit_kmix_lloyd(X, initial, iterations):
    return _fit_kmix(X, initial, iterations, algorithm="lloyd")


def _fit_sklearn(X, initial, iterations, algorithm="lloyd"):
    from sklearn.cluster import KMeans

    model = KMeans(len(initial), init=initial, n_init=1, max_iter=iterations, tol=0,
                   algorithm=algorithm)
    model.fit(X)
    return model.n_iter_, model.inertia_


def _fit_sklearn_elkan(X, initial, iterations):
    return _fit_sklearn(X, initial, iterations, algorithm="elkan")


def _fit_faiss(X, initial, iterations):
    import faiss
    import numpy as np

    n, d = X.shape
    k = len(initial)
    # max_points_per_centroid = n: train on all of X (the default samples 256 k rows,
    # which is a different algorithm); init_centroids: the same start as the others.
    model = faiss.Kmeans(d, k, niter=iterations, max_points_per_centroid=n, verbose=False,
                         nredo=1, seed=1)
    model.train(np.ascontiguousarray(X, dtype=np.float32),
                init_centroids=np.ascontiguousarray(initial, dtype=np.float32))
    return iterations, float(model.obj[-1])


FITS = {"kmix": _fit_kmix, "kmix-lloyd": _fit_kmix_lloyd, "sklearn": _fit_sklearn,
        "sklearn-elkan": _fit_sklearn_elkan, "faiss": _fit_faiss}
# Where kmix's default ("auto") runs Hamerly's bounds (K2, K3), the plain Lloyd
# pass is timed too (kmix-lloyd), and scikit-learn's bounded algorithm (Elkan's)
# stands beside its Lloyd.


def child(library: str, workload: str, dtype: str, repeats: int) -> dict:
    """Time one library on one workload: median seconds per iteration."""
    X, initial = make_data(workload, dtype)
    iterations = WORKLOADS[workload][3]
    fit = FITS[library]
    fit(X, initial, iterations)  # warm-up: imports, compiled-kernel cache, page faults
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
        "data_mib": X.nbytes / 2**20,
    }


def child_end_to_end(library: str, repeats: int) -> dict:
    """KMeans on K2 (float64) with k-means++ seeding: the whole fit, seeding included."""
    X, _ = make_data("K2", "float64")
    k = WORKLOADS["K2"][2]
    if library == "kmix":
        from kmix import KMeans
    else:
        from sklearn.cluster import KMeans

    def fit():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return KMeans(k, init="k-means++", n_init=1, max_iter=E2E_ITERATIONS, tol=0,
                          random_state=0).fit(X)

    fit()
    seconds, _ = _common.median_time(fit, repeats=repeats, warmup=0)
    model = fit()
    return {"seconds": seconds, "n_iter": int(model.n_iter_), "inertia": float(model.inertia_),
            "peak_rss_mib": _common.peak_rss_mib()}


# --- the driver ------------------------------------------------------------------


def _available(library: str) -> bool:
    module = {"kmix": "kmix", "kmix-lloyd": "kmix", "sklearn": "sklearn", "sklearn-elkan": "sklearn",
              "faiss": "faiss"}[library]
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _kmix_command() -> list[str]:
    script = Path(sys.executable).with_name("kmix")
    return [str(script)] if script.exists() else [sys.executable, "-m", "kmix"]


def _time_process(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def cli_timings(repeats: int = 5) -> dict[str, float]:
    """`kmix kmeans samples_3 -k 8` as a whole process. Cold: numba's cache in an
    empty folder (NUMBA_CACHE_DIR), so every kernel it uses is compiled; warm: the
    same folder again, the machine code loaded from it."""
    command = [*_kmix_command(), "kmeans", "samples_3", "-k", "8"]
    cold, warm = [], []
    for _ in range(3):
        folder = tempfile.mkdtemp(prefix="kmix-numba-cache-")
        try:
            env = {**os.environ, "NUMBA_CACHE_DIR": folder}
            cold.append(_time_process(command, env))
            if not warm:
                warm = [_time_process(command, env) for _ in range(repeats)]
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return {"cold": median(cold), "warm": median(warm), "cold_all": cold, "warm_all": warm}


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def run(workloads: list[str], repeats: int, write: bool) -> str:
    libraries = [lib for lib in FITS if _available(lib)]
    description = _common.machine_description(("scikit-learn", "faiss-cpu", "numba", "threadpoolctl"))
    print("machine:", json.dumps(description), flush=True)
    rates = {dtype: _common.gemm_rate(dtype) for dtype in DTYPES}
    print("GEMM GFLOP/s:", {k: round(v, 1) for k, v in rates.items()}, flush=True)
    results: dict[tuple[str, str, str], dict] = {}
    per_round = -(-repeats // ROUNDS)
    for workload in workloads:
        for dtype in DTYPES:
            # faiss computes in float32 only: one figure, compared in both rows.
            from kmix.models.lloyd import uses_bounds

            _, d, k, _ = WORKLOADS[workload]
            bounded = uses_bounds("auto", k, d)
            jobs = {library: ["--child", library, workload, dtype, "--repeats", str(per_round)]
                    for library in libraries if not (library == "faiss" and dtype == "float64")
                    and (bounded or library not in ("kmix-lloyd", "sklearn-elkan"))}
            for library, result in _common.run_interleaved(SCRIPT, jobs, ROUNDS).items():
                results[(workload, dtype, library)] = result
                print(f"{workload} {dtype} {library}: {_ms(result['seconds_per_iteration'])} ms/iter, "
                      f"{result['n_iter']} iterations, peak RSS {result['peak_rss_mib']:.0f} MiB", flush=True)
    rates_after = {dtype: _common.gemm_rate(dtype) for dtype in DTYPES}
    print("GEMM GFLOP/s after:", {k: round(v, 1) for k, v in rates_after.items()}, flush=True)
    end_to_end = {}
    for library in ("kmix", "sklearn"):
        if library in libraries:
            end_to_end[library] = _common.run_child(
                SCRIPT, ["--child-e2e", library, "--repeats", str(repeats)])
            print(f"end to end {library}: {end_to_end[library]['seconds']:.3f} s", flush=True)
    cli = cli_timings(repeats)
    print(f"CLI: cold {cli['cold']:.2f} s, warm {cli['warm']:.2f} s", flush=True)
    body = report(workloads, results, rates, rates_after, end_to_end, cli, description, repeats)
    if write:
        _common.write_section("k-means", body)
        print(f"wrote the k-means section of {_common.RESULTS}")
    return body


def _verdict(ratio: float, workload: str) -> str:
    met = ratio <= TARGET_RATIO[workload]
    return f"<= {TARGET_RATIO[workload]:.2f}: {'met' if met else 'not met'}"


def _gemm_verdict(gemm_fraction: float | None) -> str:
    """The Lloyd pass's target where the products are the bulk of the work; its
    ratio to the peers is shown beside it, without a target (faiss's float32 figure
    stands in the float64 row too)."""
    if gemm_fraction is None:
        return "-"
    met = gemm_fraction >= TARGET_GEMM_FRACTION
    return f">= {TARGET_GEMM_FRACTION:.0%} GEMM: {'met' if met else 'not met'}"


def report(workloads, results, rates, rates_after, end_to_end, cli, description, repeats) -> str:
    rows = []
    for workload in workloads:
        n, d, k, iterations = WORKLOADS[workload]
        for dtype in DTYPES:
            ours = results.get((workload, dtype, "kmix"))
            if ours is None:
                continue

            def time_of(library, dt=dtype):
                result = results.get((workload, dt, library))
                return result["seconds_per_iteration"] if result else None

            t = time_of("kmix")
            plain = time_of("kmix-lloyd") or t  # where the default is Lloyd's pass
            lloyd_peers = {"scikit-learn": time_of("sklearn"), "faiss": time_of("faiss", "float32")}
            lloyd_peers = {name: value for name, value in lloyd_peers.items() if value}
            all_peers = {**lloyd_peers, "scikit-learn elkan": time_of("sklearn-elkan")}
            all_peers = {name: value for name, value in all_peers.items() if value}
            best_name = min(all_peers, key=all_peers.get) if all_peers else None
            best_lloyd = min(lloyd_peers, key=lloyd_peers.get) if lloyd_peers else None
            fraction = None
            gemm = "-"
            if workload in COMPUTE_BOUND:
                # A fit of m iterations runs m + 1 distance passes: the last labels
                # the rows with the final centres (as scikit-learn's fit does).
                ran = (results.get((workload, dtype, "kmix-lloyd")) or ours)["n_iter"]
                passes = (ran + 1) / ran
                rate = 2.0 * n * k * d * passes / plain / 1e9
                fraction = rate / rates[dtype]
                gemm = f"{rate:.0f} GFLOP/s = {fraction:.0%}"
            bounded = t is not plain

            def ms(value):
                return _ms(value) if value else "-"

            sk = results.get((workload, dtype, "sklearn"))
            fa = results.get((workload, "float32", "faiss"))
            rows.append([
                workload, f"{n:,} x {d}, k = {k}", dtype, iterations,
                ms(t), ms(plain) if bounded else "(same)",
                ms(time_of("sklearn")), ms(time_of("sklearn-elkan")), ms(time_of("faiss", "float32")),
                f"{t / all_peers[best_name]:.2f} ({best_name})" if best_name else "-",
                _verdict(t / all_peers[best_name], workload) if best_name else "-",
                f"{plain / lloyd_peers[best_lloyd]:.2f} ({best_lloyd})" if best_lloyd else "-",
                gemm,
                _gemm_verdict(fraction),
                f"{ours['peak_rss_mib']:.0f}",
                f"{sk['peak_rss_mib']:.0f}" if sk else "-",
                f"{fa['peak_rss_mib']:.0f}" if fa else "-",
                f"{ours['data_mib']:.0f}",
            ])
    table = _common.markdown_table(
        ["workload", "shape", "dtype", "iterations", "kmix ms/iter", "kmix Lloyd pass ms/iter",
         "scikit-learn ms/iter", "scikit-learn elkan ms/iter", "faiss ms/iter",
         "kmix / fastest peer", "target (kmix)", "kmix Lloyd pass / faster Lloyd peer",
         "Lloyd pass GEMM fraction", "target (Lloyd pass)",
         "kmix peak RSS MiB", "scikit-learn peak RSS MiB", "faiss peak RSS MiB", "X MiB"],
        rows,
    )
    machine = "\n".join(f"- {key}: {value}" for key, value in description.items())
    lines = [
        "## k-means",
        "",
        "Time per Lloyd iteration (fit time / iterations), median of "
        f"{ROUNDS * -(-repeats // ROUNDS)} fits: {ROUNDS} rounds in which the libraries take "
        f"turns, each round a new process per library with {-(-repeats // ROUNDS)} fits after "
        "one warm-up fit (so load that drifts over minutes falls on every library alike); the same "
        "data (a mixture of k overlapping Gaussians), the same initial centres (k rows of X), "
        "tol = 0 and a fixed number of iterations. scikit-learn: `KMeans(algorithm=\"lloyd\", "
        "init=C0, n_init=1)`, and on K2 and K3 also `algorithm=\"elkan\"` (its bounded "
        "variant). faiss: `faiss.Kmeans(max_points_per_centroid=n)` trained on all "
        "of X from `init_centroids=C0`; it computes in float32 only, so its one figure stands in "
        "both rows. Ratios below 1 mean kmix is faster. Peak RSS is the whole process (Python, "
        "the library, the data), the smallest of the rounds (a round that compiled kmix's code "
        "counts the compiler). kmix: one compiled pass (numba) per iteration on both cores; "
        "the x·c products by its own loop (four centres by four features at a time) up to 32 "
        "features (K1, K2), above (K3) by a compiled product of a chunk's rows with every centre "
        "(a tile of 8 rows by 16 centres, 16 by 16 in float32, in vector registers) in the plain "
        "pass and in the bounded pass's full scans (BLAS in both on processors without "
        "AVX-512); the fit's centring is compiled too. "
        "\"kmix\" is `KMeans()` as it comes (`algorithm=\"auto\"`): on K2 and K3 "
        "that is Hamerly's bounds, which skip the points whose nearest centre cannot have "
        "changed and give the same labels and centres every iteration; \"kmix Lloyd pass\" is "
        "`algorithm=\"lloyd\"`, every distance every iteration, compared with the peers' Lloyd "
        "(the one the GEMM fraction is about; the targets on the peers are those of \"kmix\"). "
        "Time per iteration "
        "of a bounded run falls as the run settles: these are averages over the first "
        "iterations only, where the most points move.",
        "",
        table,
        "",
        f"GEMM rate of this machine in the same run (numpy's BLAS, square 2048 products): "
        f"float64 {rates['float64']:.0f} GFLOP/s, float32 {rates['float32']:.0f} GFLOP/s before the "
        f"workloads; {rates_after['float64']:.0f} and {rates_after['float32']:.0f} after (numpy's "
        "BLAS runs the kernels named under Machine below: where those use narrower vectors than the "
        "processor has, kmix's own products can exceed the rate). The GEMM "
        "fraction counts 2·n·k·d flops (the distance products) for each distance pass of the "
        "Lloyd fit, m + 1 passes for m iterations (the last labels the rows with the final "
        "centres, as scikit-learn's fit does), over the whole fit's time, set-up included, "
        "against the rate measured before.",
        "",
    ]
    if end_to_end:
        lines += ["End to end: `KMeans(64, init=\"k-means++\", n_init=1, max_iter="
                  f"{E2E_ITERATIONS}, tol=0, random_state=0).fit(X)` on K2 (float64), seeding "
                  f"included, median of {repeats}:", ""]
        e2e_rows = [[lib, f"{r['seconds']:.3f}", r["n_iter"], f"{r['peak_rss_mib']:.0f}"]
                    for lib, r in end_to_end.items()]
        lines += [_common.markdown_table(["library", "seconds", "iterations", "peak RSS MiB"], e2e_rows)]
        if "sklearn" in end_to_end and "kmix" in end_to_end:
            ratio = end_to_end["kmix"]["seconds"] / end_to_end["sklearn"]["seconds"]
            lines += ["", f"kmix / scikit-learn: {ratio:.2f} (the random seeds differ, so the "
                      "starts differ; both run the same number of iterations)."]
        lines.append("")
    lines += [
        f"`kmix kmeans samples_3 -k 8` as a whole process: cold {cli['cold']:.2f} s (median of 3, "
        f"each with an empty numba cache: every kernel it needs is compiled), warm "
        f"{cli['warm']:.2f} s (median of {len(cli['warm_all'])}, kernels loaded from the cache).",
        "",
        "Machine:",
        "",
        machine,
        f"- load average (1, 5, 15 min) at the end: {_common.load_average()}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("LIBRARY", "WORKLOAD", "DTYPE"))
    parser.add_argument("--child-e2e", metavar="LIBRARY")
    args = parser.parse_args([] if argv is None else argv)
    if args.child:
        print(json.dumps(child(*args.child, repeats=args.repeats)))
        return 0
    if args.child_e2e:
        print(json.dumps(child_end_to_end(args.child_e2e, repeats=args.repeats)))
        return 0
    body = run(args.only.split(","), args.repeats, write=not args.no_write)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
