"""Mini-batch k-means side by side: kmix.MiniBatchKMeans against scikit-learn's
(section `## Mini-batch k-means`).

The workload: 200,000 x 16 float64 rows from a fixed-seed mixture of 64
overlapping Gaussians, k = 64, batch_size = 1024. Both libraries start from the
same initial centres (k-means++ on X, computed once in the parent process and
handed to every child as a .npy file) with the same random_state, so that they
draw the same batches; tol = 0 and max_no_improvement = None, so that both make
all max_iter x n_samples // batch_size steps (n_steps_ of both is reported).

The figure is the time per batch step: fit time / n_steps_, with compute_labels =
False (the labelling pass over all rows after the steps is not a batch step). The
final SSD of each library's centres over all rows is then computed by the same
numpy code for both, outside the timing. Each library runs in its own process,
one warm-up fit (imports, compiled passes, page faults) and then the timed fits;
the libraries take turns over the rounds (see _common.run_interleaved). Each is
timed as it comes (its default threads: both cores) and on one thread (every
thread pool limited to 1 through the environment before the imports), because
on a loaded two-core machine a parallel region that waits for a descheduled
thread slows each library by its own amount.

    python bench/bench_minibatch.py                  # writes RESULTS.md
    python bench/bench_minibatch.py --no-write --rounds 1
    python bench/bench_minibatch.py --child kmix INIT.npy   # one measurement, JSON
    python bench/bench_minibatch.py --child kmix INIT.npy --profile   # cProfile one fit
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

SCRIPT = Path(__file__).resolve()
N_SAMPLES, N_FEATURES, N_CLUSTERS = 200_000, 16, 64
BATCH_SIZE = 1024
# max_iter passes over the data: max_iter x n_samples // batch_size steps in both.
MAX_ITER = 2
RANDOM_STATE = 0
# The targets: kmix's time per step at most this fraction of
# scikit-learn's, and its final SSD within this relative distance of theirs.
TARGET_RATIO = 0.5
TARGET_SSD = 0.01
ROUNDS = 3
FITS_PER_ROUND = 2
# Environment of the one-thread children, set before numpy, numba or scikit-learn load.
ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
              "KMIX_NUM_THREADS")
LABELS = {"kmix": "kmix", "sklearn": "scikit-learn", "kmix-1": "kmix, one thread",
          "sklearn-1": "scikit-learn, one thread"}


def make_data():
    """The rows, the same in every process: 64 overlapping Gaussians in 16 dimensions."""
    import numpy as np

    rng = np.random.default_rng(20261206 + N_FEATURES)
    means = rng.normal(scale=3.0, size=(N_CLUSTERS, N_FEATURES))
    X = means[rng.integers(0, N_CLUSTERS, size=N_SAMPLES)] + rng.normal(size=(N_SAMPLES, N_FEATURES))
    return np.ascontiguousarray(X)


def make_initial(X):
    """k-means++ centres on X (scikit-learn's seeding, seeded): the one start of both libraries."""
    from sklearn.cluster import kmeans_plusplus

    centers, _ = kmeans_plusplus(X, N_CLUSTERS, random_state=RANDOM_STATE)
    return centers


def ssd(X, centers) -> float:
    """Sum of squared distances of every row to its nearest centre, by the same
    numpy code for both libraries (in chunks: never n x k x d at once)."""
    import numpy as np

    total = 0.0
    center_norms = np.einsum("ij,ij->i", centers, centers)
    for start in range(0, X.shape[0], 16_384):
        rows = X[start:start + 16_384]
        distances = np.einsum("ij,ij->i", rows, rows)[:, None] - 2.0 * rows @ centers.T + center_norms
        total += float(np.maximum(distances.min(axis=1), 0.0).sum())
    return total


def _estimator(library: str, initial):
    if library == "kmix":
        from kmix import MiniBatchKMeans
    else:
        from sklearn.cluster import MiniBatchKMeans
    return MiniBatchKMeans(N_CLUSTERS, init=initial, n_init=1, max_iter=MAX_ITER, batch_size=BATCH_SIZE,
                           tol=0.0, max_no_improvement=None, compute_labels=False,
                           random_state=RANDOM_STATE)


def child(library: str, init_path: str, fits: int, profile: bool = False) -> dict:
    """Time one library's fits: seconds per batch step of each."""
    import warnings

    import numpy as np

    warnings.simplefilter("ignore")
    X = make_data()
    initial = np.load(init_path, allow_pickle=False)
    _estimator(library, initial).fit(X)  # warm-up
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        _estimator(library, initial).fit(X)
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
    per_step = []
    model = None
    for _ in range(fits):
        model = _estimator(library, initial)
        start = time.perf_counter()
        model.fit(X)
        per_step.append((time.perf_counter() - start) / model.n_steps_)
    centers = np.asarray(model.cluster_centers_, dtype=np.float64)
    return {
        "seconds_per_iteration": median(per_step),
        "all": per_step,
        "n_steps": int(model.n_steps_),
        "ssd": ssd(X, centers),
        "centers_sum": float(np.abs(centers).sum()),
        "peak_rss_mib": _common.peak_rss_mib(),
    }


def run(rounds: int, write: bool) -> str:
    import numpy as np

    description = _common.machine_description(("scikit-learn", "numba", "threadpoolctl"))
    print("machine:", json.dumps(description), flush=True)
    with tempfile.TemporaryDirectory(prefix="kmix-bench-minibatch-") as folder:
        init_path = str(Path(folder) / "initial.npy")
        np.save(init_path, make_initial(make_data()), allow_pickle=False)
        jobs = {name: ["--child", name.removesuffix("-1"), init_path, "--fits", str(FITS_PER_ROUND)]
                + (["--one-thread"] if name.endswith("-1") else []) for name in LABELS}
        results = _common.run_interleaved(SCRIPT, jobs, rounds)
    for name, result in results.items():
        print(f"{name}: {result['seconds_per_iteration'] * 1e3:.3f} ms/step, {result['n_steps']} steps, "
              f"final SSD {result['ssd']:.6e}, peak RSS {result['peak_rss_mib']:.0f} MiB", flush=True)
    rows = [[LABELS[name], f"{result['seconds_per_iteration'] * 1e3:.3f}", result["n_steps"],
             f"{result['ssd']:.6e}", f"{result['peak_rss_mib']:.0f}"] for name, result in results.items()]
    table = _common.markdown_table(["library", "ms per step", "n_steps_", "final SSD (all rows)",
                                    "peak RSS MiB"], rows)
    verdicts = []
    for suffix, threads in (("", "default threads"), ("-1", "one thread")):
        ours, theirs = results["kmix" + suffix], results["sklearn" + suffix]
        ratio = ours["seconds_per_iteration"] / theirs["seconds_per_iteration"]
        ssd_ratio = ours["ssd"] / theirs["ssd"]
        time_met = ratio <= TARGET_RATIO
        ssd_met = abs(ssd_ratio - 1.0) <= TARGET_SSD
        verdicts.append(f"- {threads}: kmix / scikit-learn time per step {ratio:.3f} (target <= "
                        f"{TARGET_RATIO}: {'met' if time_met else 'not met'}); final SSD {ssd_ratio:.6f} "
                        f"(target within {TARGET_SSD:.0%}: {'met' if ssd_met else 'not met'}).")
        print(verdicts[-1], flush=True)
    machine = "; ".join(f"{key} {value}" for key, value in description.items())
    n_fits = rounds * FITS_PER_ROUND
    body = "\n".join([
        "## Mini-batch k-means",
        "",
        f"`MiniBatchKMeans({N_CLUSTERS}, init=C0, n_init=1, max_iter={MAX_ITER}, batch_size={BATCH_SIZE}, "
        f"tol=0, max_no_improvement=None, compute_labels=False, random_state={RANDOM_STATE})` on "
        f"{N_SAMPLES:,} x {N_FEATURES} float64 rows from a mixture of {N_CLUSTERS} overlapping Gaussians; "
        "C0: k-means++ centres (scikit-learn's `kmeans_plusplus`, seeded) computed once and given to both. "
        "Time per batch step = fit time / n_steps_, median of "
        f"{n_fits} fits: {rounds} rounds in which the libraries take turns, each a new process per library "
        f"with {FITS_PER_ROUND} fits after one warm-up fit. The final SSD is that of each library's centres "
        "over all rows, by the same numpy code for both, outside the timing. \"one thread\": "
        f"{', '.join(ONE_THREAD)} = 1 in the child's environment before its imports.",
        "",
        table,
        "",
        *verdicts,
        "",
        f"Machine: {machine}; load average (1, 5, 15 min) at the end {_common.load_average()}",
    ])
    if write:
        _common.write_section("minibatch", body)
        print(f"wrote the mini-batch k-means section of {_common.RESULTS}")
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("LIBRARY", "INIT"))
    parser.add_argument("--fits", type=int, default=FITS_PER_ROUND)
    parser.add_argument("--profile", action="store_true", help="with --child: cProfile one fit, to stderr")
    parser.add_argument("--one-thread", action="store_true", help="with --child: every thread pool on 1 thread")
    args = parser.parse_args([] if argv is None else argv)
    if args.one_thread:
        import os

        os.environ.update({name: "1" for name in ONE_THREAD})
    if args.child:
        print(json.dumps(child(*args.child, fits=args.fits, profile=args.profile)))
        return 0
    print(run(args.rounds, write=not args.no_write))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
