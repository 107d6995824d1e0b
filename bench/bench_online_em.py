"""Online EM (GaussianMixture.partial_fit) against the batch fit (section `## Online EM`).

The workload: 1,000,000 x 8 float64 rows from 16 full-covariance components,
written to a .npy file and read memory-mapped. The online fit takes batches of
10,000 rows in file order, 3 passes; after each pass the mean log-likelihood of
all the rows (scored chunk by chunk from the memory map). The batch fit holds the
rows in memory and runs EM to tol. Each fit runs in its own process, so its peak
RSS is its own; the figure is the peak above the process's resident size just
before it reads the data (after its imports and a warm-up fit on a few rows, so
that compiling the kernels is not counted).

    python bench/bench_online_em.py                 # prints, writes RESULTS.md
    python bench/bench_online_em.py --no-write
    python bench/bench_online_em.py --rows 200000   # a smaller run
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

SCRIPT = Path(__file__).resolve()
N_FEATURES, N_COMPONENTS, BATCH, PASSES = 8, 16, 10_000, 3
SCORE_CHUNK = BATCH
# Both fits draw 3 k-means starts (the online one on its first batch, keeping the
# start under which that batch is most likely; the batch one keeps its best EM run).
N_INIT = 3


def _rss_mib(field: str = "VmRSS") -> float:
    """A resident size of this process from /proc/self/status, MiB: VmRSS all of
    it, RssAnon without the pages of mapped files (the memory map's among them)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_data(path: Path, n_rows: int, seed: int = 0) -> None:
    """Rows from 16 full-covariance Gaussians in random order, written chunk by chunk."""
    import numpy as np

    rng = np.random.default_rng(seed)
    means = rng.uniform(-10.0, 10.0, size=(N_COMPONENTS, N_FEATURES))
    factors = rng.normal(size=(N_COMPONENTS, N_FEATURES, N_FEATURES)) / np.sqrt(N_FEATURES)
    weights = rng.dirichlet(np.full(N_COMPONENTS, 5.0))
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n_rows, N_FEATURES))
    for start in range(0, n_rows, SCORE_CHUNK):
        stop = min(start + SCORE_CHUNK, n_rows)
        labels = rng.choice(N_COMPONENTS, size=stop - start, p=weights)
        noise = rng.normal(size=(stop - start, N_FEATURES))
        out[start:stop] = means[labels] + np.einsum("nij,nj->ni", factors[labels], noise) + 0.3 * noise
    out.flush()
    del out


def _warm_up(model_class) -> None:
    import numpy as np

    X = np.random.default_rng(1).normal(size=(500, N_FEATURES))
    model_class(N_COMPONENTS, random_state=0).partial_fit(X)
    model_class(N_COMPONENTS, random_state=0, max_iter=2, tol=0).fit(X)


def _score(model, X) -> float:
    """Mean log-likelihood of X, chunk by chunk (X may be a memory map)."""
    total = 0.0
    for start in range(0, X.shape[0], SCORE_CHUNK):
        chunk = X[start:start + SCORE_CHUNK]
        total += model.score(chunk) * chunk.shape[0]
    return total / X.shape[0]


def child_online(path: str) -> dict:
    import warnings

    import numpy as np

    from kmix.models.gaussian_mixture import GaussianMixtureCore

    warnings.simplefilter("ignore")
    _warm_up(GaussianMixtureCore)
    baseline, baseline_anon = _rss_mib(), _rss_mib("RssAnon")
    X = np.load(path, mmap_mode="r", allow_pickle=False)
    model = GaussianMixtureCore(N_COMPONENTS, n_init=N_INIT, random_state=0)
    scores, seconds = [], []
    peak_anon = baseline_anon
    for index in range(PASSES):
        start = time.perf_counter()
        for row in range(0, X.shape[0], BATCH):
            model.partial_fit(X[row:row + BATCH])
            peak_anon = max(peak_anon, _rss_mib("RssAnon"))
        seconds.append(time.perf_counter() - start)
        if index == 0:  # the fit's own peak, before scoring reads the data in big chunks
            first_pass_peak = _common.peak_rss_mib() - baseline
        scores.append(_score(model, X))
    return {"scores": scores, "seconds_per_pass": seconds, "n_steps": model.n_iter_,
            "baseline_rss_mib": baseline, "first_pass_peak_above_baseline_mib": first_pass_peak,
            "anon_peak_above_baseline_mib": peak_anon - baseline_anon,
            "peak_above_baseline_mib": _common.peak_rss_mib() - baseline}


def child_batch(path: str) -> dict:
    import warnings

    import numpy as np

    from kmix.models.gaussian_mixture import GaussianMixtureCore

    warnings.simplefilter("ignore")
    _warm_up(GaussianMixtureCore)
    baseline = _rss_mib()
    X = np.load(path, allow_pickle=False)
    start = time.perf_counter()
    model = GaussianMixtureCore(N_COMPONENTS, n_init=N_INIT, random_state=0).fit(X)
    seconds = time.perf_counter() - start
    return {"score": _score(model, X), "seconds": seconds, "n_iter": model.n_iter_,
            "converged": bool(model.converged_), "baseline_rss_mib": baseline,
            "peak_above_baseline_mib": _common.peak_rss_mib() - baseline}


def run(n_rows: int, write: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "X.npy"
        make_data(path, n_rows)
        online = _common.run_child(SCRIPT, ["--child", "online", str(path)], timeout=3600)
        batch = _common.run_child(SCRIPT, ["--child", "batch", str(path)], timeout=3600)
    rows = []
    for index, (score, seconds) in enumerate(zip(online["scores"], online["seconds_per_pass"]), start=1):
        gap = (batch["score"] - score) / abs(batch["score"])
        rows.append([f"online, pass {index}", f"{score:.5f}", f"{100 * gap:.3f} %", f"{seconds:.1f}",
                     f"{online['peak_above_baseline_mib']:.0f}"])
    rows.append([f"batch EM ({batch['n_iter']} iterations, converged={batch['converged']})",
                 f"{batch['score']:.5f}", "0", f"{batch['seconds']:.1f}",
                 f"{batch['peak_above_baseline_mib']:.0f}"])
    table = _common.markdown_table(
        ["fit", "mean log-likelihood", "below batch", "seconds (pass / fit)", "peak RSS above baseline, MiB"],
        rows)
    memory = (
        f"Online fit's memory above its baseline ({online['baseline_rss_mib']:.0f} MiB): peak RSS "
        f"{online['first_pass_peak_above_baseline_mib']:.0f} MiB over the first pass (the pages of "
        f"the memory map it read count in RSS), anonymous memory after each step at most "
        f"{online['anon_peak_above_baseline_mib']:.0f} MiB; with the scoring passes (chunks of "
        f"{SCORE_CHUNK:,} rows) {online['peak_above_baseline_mib']:.0f} MiB. The last column is the "
        f"peak with scoring.\n"
    )
    machine = "; ".join(f"{key} {value}" for key, value in _common.machine_description(["numpy"]).items())
    body = (
        "## Online EM\n\n"
        f"{n_rows:,} x {N_FEATURES} float64, {N_COMPONENTS} full-covariance components; online: batches "
        f"of {BATCH:,} read from a memory-mapped .npy, {PASSES} passes, default steps "
        f"((t + 2)^-0.6); batch: the rows in memory, EM to tol=1e-3. n_init={N_INIT} for both. One run.\n\n"
        f"{table}\n\n{memory}\nMachine: {machine}; load average (1, 5, 15 min) at the end "
        f"{_common.load_average()}\n"
    )
    print(body)
    if write:
        _common.write_section("Online EM", body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("FIT", "PATH"))
    args = parser.parse_args([] if argv is None else argv)
    if args.child:
        kind, path = args.child
        print(json.dumps(child_online(path) if kind == "online" else child_batch(path)))
    else:
        run(args.rows, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
