"""Start-up: a whole first command-line run after a fresh install, and a later one.

Each figure is the wall time of a fresh process (the median of REPEATS, the jobs
taking turns). "Cold" runs see an empty compile cache (NUMBA_CACHE_DIR set to a new
empty folder for each run), as after a fresh install; "warm" runs see a cache that
one earlier run has filled. The peer is scikit-learn fitting the same data in a
fresh process (it compiles nothing at run time). Targets: each small command under
3 s cold, and ``import kmix`` under 0.3 s.

Small data (the bundled samples) is fitted by numpy alone; the rows on 200,000
points show what compiling still costs a first run on data above that threshold.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np

import _common

REPEATS = 5
LARGE_REPEATS = 3
KMIX = str(Path(sys.executable).with_name("kmix"))

_SKLEARN_KMEANS = (
    "import kmix, sklearn.cluster as c; X = kmix.load_data('samples_3'); "
    "m = c.KMeans(8, random_state=0).fit(X); print(m.cluster_centers_)"
)
_SKLEARN_GMM = (
    "import kmix, sklearn.mixture as m; X = kmix.load_data('samples_2'); "
    "g = m.GaussianMixture(5, random_state=0).fit(X); print(g.means_)"
)
_IMPORT = "import time; t = time.perf_counter(); import kmix; print(time.perf_counter() - t)"


def _timed(argv: list[str], cache: str | None) -> float:
    env = dict(os.environ)
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = cache
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=900)
    return time.perf_counter() - start


def _cold_and_warm(jobs: dict[str, list[str]], repeats: int) -> dict[str, tuple[float, float]]:
    cold: dict[str, list[float]] = {name: [] for name in jobs}
    warm: dict[str, list[float]] = {name: [] for name in jobs}
    primed = {name: tempfile.mkdtemp(prefix="kmix-bench-warm-") for name in jobs}
    try:
        for name, argv in jobs.items():
            _timed(argv, primed[name])  # fills the warm runs' cache
        for _ in range(repeats):
            for name, argv in jobs.items():
                empty = tempfile.mkdtemp(prefix="kmix-bench-cold-")
                try:
                    cold[name].append(_timed(argv, empty))
                finally:
                    shutil.rmtree(empty, ignore_errors=True)
                warm[name].append(_timed(argv, primed[name]))
    finally:
        for folder in primed.values():
            shutil.rmtree(folder, ignore_errors=True)
    return {name: (median(cold[name]), median(warm[name])) for name in jobs}


def _import_time() -> float:
    times = []
    for _ in range(REPEATS):
        done = subprocess.run([sys.executable, "-c", _IMPORT], check=True, capture_output=True,
                              text=True, timeout=120)
        times.append(float(done.stdout.strip()))
    return median(times)


def main() -> None:
    description = _common.machine_description(["numba", "scikit-learn"])
    with tempfile.TemporaryDirectory() as folder:
        rng = np.random.default_rng(0)
        centres = rng.normal(scale=8.0, size=(8, 2))
        large = Path(folder) / "points_200k.npy"
        np.save(large, centres[rng.integers(0, 8, 200_000)] + rng.normal(size=(200_000, 2)))
        small = _cold_and_warm({
            "kmix kmeans samples_3 -k 8": [KMIX, "kmeans", "samples_3", "-k", "8", "--seed", "0"],
            "kmix gmm samples_2 -k 5": [KMIX, "gmm", "samples_2", "-k", "5", "--seed", "0"],
            "scikit-learn KMeans, samples_3, k = 8": [sys.executable, "-c", _SKLEARN_KMEANS],
            "scikit-learn GaussianMixture, samples_2, k = 5": [sys.executable, "-c", _SKLEARN_GMM],
        }, REPEATS)
        big = _cold_and_warm({
            "kmix kmeans, 200,000 x 2, k = 8": [KMIX, "kmeans", str(large), "-k", "8", "--seed", "0"],
            "kmix gmm, 200,000 x 2, k = 8": [KMIX, "gmm", str(large), "-k", "8", "--seed", "0"],
        }, LARGE_REPEATS)
    imported = _import_time()
    rows = [(name, f"{cold:.2f}", f"{warm:.2f}") for name, (cold, warm) in {**small, **big}.items()]
    rows.append(("import kmix (in-process, seconds)", f"{imported:.3f}", ""))
    body = "\n\n".join([
        "## Start-up",
        "Wall seconds of a whole process: median of "
        f"{REPEATS} runs ({LARGE_REPEATS} on 200,000 points), jobs taking turns. Cold: an empty "
        "compile cache (as after a fresh install); warm: the cache one earlier run filled. "
        "Targets: the two small kmix commands under 3 s cold, `import kmix` under 0.3 s. "
        "The bundled samples are fitted by numpy alone (no compiling); 200,000 points are "
        "above that threshold, so their first run compiles the passes it uses.",
        _common.markdown_table(["run", "cold s", "warm s"], rows),
        "Machine: " + "; ".join(f"{k} {v}" for k, v in description.items()),
    ])
    _common.write_section("startup", body)
    print(body)


if __name__ == "__main__":
    main()
