"""Choosing k side by side: kmix.select_k against the same sweep written with
scikit-learn (section `## Choosing k`).

k = 2..12 on 100,000 x 16 drawn from 8 clusters, float64, one k-means run per k
(k-means++ starts) in both: kmix's `select_k` with the SSD, Calinski–Harabasz,
Davies–Bouldin and the silhouette on a sample of 10,000 rows, with and without
the gap statistic (10 reference sets); scikit-learn's `KMeans` followed by
`calinski_harabasz_score`, `davies_bouldin_score` and `silhouette_score` on the
same sample size, and, for the sweep with the gap statistic, the same reference
sets clustered by its `KMeans`. Each library in its own process, after a small sweep that
warms it up (imports, compiled passes), the libraries taking turns; the median of
the rounds. Peak RSS is the whole process's. Then the memory bound: the
kmix sweep with every criterion on 1,000,000 x 16, its peak RSS (one process, one run).

    python bench/bench_select_k.py                 # writes RESULTS.md
    python bench/bench_select_k.py --rounds 1 --no-write
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

SCRIPT = Path(__file__).resolve()
N_SAMPLES, N_FEATURES, N_CLUSTERS = 100_000, 16, 8
KS = range(2, 13)
SAMPLE = 10_000
TARGET = 0.3
# The memory bound: the sweep with every criterion on this many rows stays under 1 GiB.
MEMORY_ROWS, MEMORY_TARGET_MIB = 1_000_000, 1024
# The gap statistic's reference sets, as kmix.select_k draws them by default.
GAP_REFERENCES, GAP_ROWS = 10, 20_000


def make_data(n_samples: int = N_SAMPLES):
    import numpy as np

    rng = np.random.default_rng(20261206)
    centres = rng.normal(scale=5.0, size=(N_CLUSTERS, N_FEATURES))
    labels = rng.integers(N_CLUSTERS, size=n_samples)
    return centres[labels] + rng.normal(size=(n_samples, N_FEATURES))


def _kmix(X, with_gap: bool):
    from kmix.models.kmeans import KMeansCore
    from kmix.models.select_k import select_k

    criteria = ("ssd", "calinski_harabasz", "davies_bouldin", "silhouette") + (("gap",) if with_gap else ())
    result = select_k(X, KS, criteria, n_init=1, random_state=0, silhouette_sample=SAMPLE,
                      model_class=KMeansCore)
    return {name: int(result.choice[name]) for name in result.choice}


def _sklearn(X, with_gap: bool = False):
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    values = {"calinski_harabasz": [], "davies_bouldin": [], "silhouette": []}
    log_w = []
    for k in KS:
        model = KMeans(k, n_init=1, random_state=0).fit(X)
        labels = model.labels_
        log_w.append(np.log(model.inertia_))
        values["calinski_harabasz"].append(calinski_harabasz_score(X, labels))
        values["davies_bouldin"].append(davies_bouldin_score(X, labels))
        values["silhouette"].append(silhouette_score(X, labels, sample_size=SAMPLE, random_state=0))
    ks = list(KS)
    choice = {"calinski_harabasz": ks[int(np.argmax(values["calinski_harabasz"]))],
              "davies_bouldin": ks[int(np.argmin(values["davies_bouldin"]))],
              "silhouette": ks[int(np.argmax(values["silhouette"]))]}
    if with_gap:
        choice["gap"] = _sklearn_gap(X, np.array(log_w))
    return choice


def _sklearn_gap(X, log_w):
    """The gap statistic as a scikit-learn user writes it, on the reference sets kmix
    draws: GAP_REFERENCES uniform sets in the data's bounding box, as many rows as
    the data up to GAP_ROWS (log W* moved by log(n / rows)), one KMeans per k; the
    one-standard-error rule."""
    import numpy as np
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(0)
    rows = min(X.shape[0], GAP_ROWS)
    low, high = X.min(axis=0), X.max(axis=0)
    references = np.empty((GAP_REFERENCES, len(KS)))
    for b in range(GAP_REFERENCES):
        reference = rng.uniform(low, high, size=(rows, X.shape[1]))
        for i, k in enumerate(KS):
            inertia = KMeans(k, n_init=1, random_state=b).fit(reference).inertia_
            references[b, i] = np.log(inertia) + np.log(X.shape[0] / rows)
    gap = references.mean(axis=0) - log_w
    s = references.std(axis=0) * np.sqrt(1.0 + 1.0 / GAP_REFERENCES)
    ks = list(KS)
    for i in range(len(ks) - 1):
        if gap[i] >= gap[i + 1] - s[i + 1]:
            return ks[i]
    return ks[-1]


def child(library: str) -> dict:
    import warnings

    if library == "kmix-memory":
        X = make_data(MEMORY_ROWS)
        start = time.perf_counter()
        choice = _kmix(X, with_gap=True)
        return {"seconds": time.perf_counter() - start, "choice": choice,
                "peak_rss_mib": _common.peak_rss_mib(), "data_mib": X.nbytes / 2**20}
    X = make_data()
    warnings.simplefilter("ignore")
    # A small sweep first, as the other benchmarks warm up: the imports, kmix's
    # compiled passes loaded from their cache, scikit-learn's modules.
    if library.startswith("sklearn"):
        _sklearn(X[:3000])
    else:
        _kmix(X[:3000], with_gap=library == "kmix-gap")
    start = time.perf_counter()
    if library.startswith("sklearn"):
        choice = _sklearn(X, with_gap=library == "sklearn-gap")
    else:
        choice = _kmix(X, with_gap=library == "kmix-gap")
    return {"all": [time.perf_counter() - start], "choice": choice, "peak_rss_mib": _common.peak_rss_mib()}


def run(rounds: int, write: bool) -> str:
    description = _common.machine_description(("scikit-learn", "numba"))
    jobs = {library: ["--child", library] for library in ("kmix", "kmix-gap", "sklearn", "sklearn-gap")}
    results = _common.run_interleaved(SCRIPT, jobs, rounds)
    # here: seconds per sweep; each kmix sweep against the scikit-learn loop that
    # computes the same criteria (the gap statistic with the same reference sets)
    peer = {"kmix": "sklearn", "kmix-gap": "sklearn-gap", "sklearn": "sklearn", "sklearn-gap": "sklearn-gap"}
    rows = []
    for library, label in (("kmix", "kmix, four criteria"), ("sklearn", "scikit-learn loop, three indices"),
                           ("kmix-gap", "kmix, with the gap statistic"),
                           ("sklearn-gap", "scikit-learn loop, three indices and the gap statistic")):
        result = results[library]
        seconds = result["seconds_per_iteration"]
        ratio = seconds / results[peer[library]]["seconds_per_iteration"]
        rows.append([label, f"{seconds:.1f}", f"{ratio:.2f}",
                     "-" if library.startswith("sklearn") else
                     f"<= {TARGET}: {'met' if ratio <= TARGET else 'not met'}",
                     f"{result['peak_rss_mib']:.0f}", json.dumps(result["choice"]).replace('"', "")])
        print(f"{library}: {seconds:.1f} s, ratio {ratio:.2f}, choice {result['choice']}", flush=True)
    table = _common.markdown_table(["sweep", "seconds", "/ the scikit-learn loop of the same criteria", "target",
                                    "peak RSS MiB", "choices"], rows)
    memory = _common.run_child(SCRIPT, ["--child", "kmix-memory"])
    met = "met" if memory["peak_rss_mib"] < MEMORY_TARGET_MIB else "not met"
    print(f"memory: {memory['peak_rss_mib']:.0f} MiB on {MEMORY_ROWS:,} rows", flush=True)
    machine = "; ".join(f"{key} {value}" for key, value in description.items())
    body = "\n".join([
        "## Choosing k",
        "",
        f"k = 2..12 on {N_SAMPLES:,} x {N_FEATURES} from {N_CLUSTERS} clusters, one k-means run per k, "
        f"silhouette on {SAMPLE:,} rows; median of {rounds} rounds, each library in its own process after "
        "a small warm-up sweep (imports, compiled passes). The gap statistic: "
        f"{GAP_REFERENCES} uniform reference sets of {GAP_ROWS:,} rows in the data's bounding box, one "
        "k-means run per k on each; written with scikit-learn's KMeans for the last row.",
        "",
        table,
        "",
        f"Memory: the kmix sweep with every criterion (the gap statistic included) on "
        f"{MEMORY_ROWS:,} x {N_FEATURES} from the same clusters, in a process of its own: peak RSS "
        f"{memory['peak_rss_mib']:.0f} MiB for the whole process, the data itself "
        f"{memory['data_mib']:.0f} MiB ({memory['seconds']:.1f} s; choices "
        f"{json.dumps(memory['choice']).replace(chr(34), '')}); target < 1 GiB: {met}.",
        "",
        f"Machine: {machine}; load average (1, 5, 15 min) at the end {_common.load_average()}",
    ])
    if write:
        _common.write_section("select_k", body)
        print(f"wrote the choosing-k section of {_common.RESULTS}")
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", metavar="LIBRARY")
    args = parser.parse_args([] if argv is None else argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    print(run(args.rounds, write=not args.no_write))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
