"""Model selection side by side: kmix.select_mixture against R's mclustBIC
(section `## Model selection`), when Rscript with mclust is installed.

The whole grid, G = 1..9 x mclust's fourteen models, on mclust's own faithful,
iris and diabetes (read from tests/reference/mclust, the numbers R wrote) and on
20,000 x 4 drawn from a six-component mixture (written here, with a fixed seed,
to a CSV file that R reads too). Both start every cell from mclust's
hierarchical partition (one start a cell), and both stop a run at a relative
change of the total log-likelihood of 1e-5 (mclust's rule).
mclust runs in an Rscript process, kmix in this one after a warm-up fit (its
compiled passes loaded); the median of the repetitions (one for the 20,000 rows);
the ratio is kmix / mclust (below 1: kmix is faster). The cells where kmix's BIC is worse
than mclust's by more than 1e-5 relative are counted too.

    python bench/bench_selection.py                 # writes RESULTS.md
    python bench/bench_selection.py --only iris --repeats 1 --no-write
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "reference" / "mclust"
DATASETS = ("faithful", "iris", "diabetes", "mixture20k")
SEED = 20261206
R_TIMING = """
suppressMessages(library(mclust))
args <- commandArgs(trailingOnly = TRUE)
X <- as.matrix(read.csv(args[1], header = FALSE))
repeats <- as.integer(args[2])
times <- replicate(repeats, system.time(mclustBIC(X, G = 1:9, verbose = FALSE))[["elapsed"]])
bic <- unclass(mclustBIC(X, G = 1:9, verbose = FALSE))
cat(median(times), "\\n")
cat(paste(ifelse(is.na(bic), "NA", format(bic, digits = 17)), collapse = " "), "\\n")
"""


def mixture20k():
    """20,000 x 4 from six Gaussian components (fixed seed)."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    means = rng.normal(scale=6.0, size=(6, 4))
    labels = rng.choice(6, size=20_000, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.1])
    factors = rng.normal(size=(6, 4, 4)) * 0.6 + np.eye(4)
    return means[labels] + np.einsum("nij,nj->ni", factors[labels], rng.normal(size=(20_000, 4)))


def load(name: str):
    import numpy as np

    if name == "mixture20k":
        return mixture20k()
    return np.asarray(json.loads((REFERENCE / f"{name}.json").read_text())["data"], dtype=np.float64)


def time_kmix(X, repeats: int):
    from kmix.models.gaussian_mixture import GaussianMixtureCore
    from kmix.models.selection import select_mixture

    times, selection = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        selection = select_mixture(X, range(1, 10), random_state=0, model_class=GaussianMixtureCore)
        times.append(time.perf_counter() - start)
    return median(times), selection


def time_mclust(path: Path, repeats: int):
    import numpy as np

    result = subprocess.run(["Rscript", "-e", R_TIMING, str(path), str(repeats)], capture_output=True,
                            text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip()[-500:])
    lines = result.stdout.strip().splitlines()
    values = [np.nan if v == "NA" else float(v) for v in lines[1].split()]
    # R's BIC matrix is G x models, written column by column.
    return float(lines[0]), -np.asarray(values).reshape(14, 9).T


def run(names: list[str], repeats: int, write: bool) -> str:
    import numpy as np

    description = _common.machine_description(("numba",))
    has_r = shutil.which("Rscript") is not None
    folder = Path(tempfile.mkdtemp(prefix="kmix-bench-selection-"))
    rows = []
    time_kmix(load("iris")[:60], 1)  # warm-up: the compiled passes loaded from their cache
    try:
        for name in names:
            X = load(name)
            path = folder / f"{name}.csv"
            np.savetxt(path, X, delimiter=",", fmt="%.17g")
            times = 1 if X.shape[0] > 5000 else repeats
            ours, selection = time_kmix(X, times)
            theirs, bic = time_mclust(path, times) if has_r else (None, None)
            if bic is not None:
                both = np.isfinite(bic) & np.isfinite(selection.bic)
                worse = int(np.count_nonzero(both & (selection.bic > bic + 1e-5 * np.abs(bic))))
                their_best = np.unravel_index(np.nanargmin(bic), bic.shape)
                their_choice = (f"{selection.covariance_types[their_best[1]]},{their_best[0] + 1} "
                                f"({bic[their_best]:.2f})")
            else:
                worse, their_choice = None, "-"
            k, model = selection.best_params_
            ratio = ours / theirs if theirs else None
            print(f"{name}: kmix {ours:.2f} s, mclust {theirs if theirs is None else f'{theirs:.2f}'} s, "
                  f"ratio {ratio if ratio is None else f'{ratio:.2f}'}; best {model},{k} vs {their_choice}; "
                  f"cells worse {worse}", flush=True)
            rows.append([name, f"{X.shape[0]:,} x {X.shape[1]}", f"{ours:.2f}",
                         "-" if theirs is None else f"{theirs:.2f}", "-" if ratio is None else f"{ratio:.1f}",
                         "<= 0.5: " + ("-" if ratio is None else "met" if ratio <= 0.5 else "not met"),
                         f"{model},{k} ({selection.ranking()[0][2]:.2f})", their_choice, "-" if worse is None else f"{worse} of 126"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    table = _common.markdown_table(
        ["data", "n x d", "kmix s", "mclust s", "kmix / mclust", "target", "kmix's best (BIC)",
         "mclust's best (BIC)",
         "cells where kmix's BIC is worse"], rows)
    machine = "; ".join(f"{key} {value}" for key, value in description.items())
    body = "\n".join([
        "## Model selection",
        "",
        "The whole grid, G = 1..9 x the fourteen covariance models, by BIC: `kmix.select_mixture` "
        "(one start a cell, mclust's hierarchical partition) against R's `mclustBIC` on the same data, "
        f"median of {repeats} (one on the 20,000 rows), mclust in Rscript, kmix after a warm-up fit. mclust's time is Rscript's `system.time` of "
        "`mclustBIC` alone; kmix's is the call alone. BIC in kmix's sign (lower is better; mclust's is "
        "the negative).",
        "",
        table,
        "",
        f"Machine: {machine}; load average (1, 5, 15 min) at the end {_common.load_average()}",
    ])
    if write:
        _common.write_section("selection", body)
        print(f"wrote the model-selection section of {_common.RESULTS}")
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(DATASETS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args([] if argv is None else argv)
    print(run([name for name in args.only.split(",") if name], args.repeats, write=not args.no_write))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
