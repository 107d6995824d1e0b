"""mclust's fourteen covariance models against kmix's own VVV (section `## Covariance models`).

Time per EM iteration of each model on 100,000 x 8, k = 16, float64, relative to
VVV ("full") on the same data in the same process: a constrained model runs the
same data pass as the layout it is stored in, and its M-step (closed form, or
iterated from the previous covariances) must not dominate the pass. Each model
starts from its own parameters after two EM iterations from one shared start, so
every timed iteration is a warm one; a fixed number of iterations (tol = 0), the
best of the repetitions. The models take turns over the repetitions.

    python bench/bench_models.py               # writes RESULTS.md
    python bench/bench_models.py --repeats 2 --no-write
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

N_SAMPLES, N_FEATURES, N_COMPONENTS = 100_000, 8, 16
ITERATIONS = 10
# The target: at most twice VVV's time per iteration.
TARGET = 2.0


def make_data():
    """Overlapping clusters with their own scales per feature (so that every model
    has something to fit), and a start: means at random rows."""
    import numpy as np

    rng = np.random.default_rng(20261206)
    centres = rng.normal(scale=4.0, size=(N_COMPONENTS, N_FEATURES))
    labels = rng.integers(0, N_COMPONENTS, size=N_SAMPLES)
    scales = rng.uniform(0.5, 2.0, size=(N_COMPONENTS, N_FEATURES))
    X = centres[labels] + rng.normal(size=(N_SAMPLES, N_FEATURES)) * scales[labels]
    return np.ascontiguousarray(X), X[rng.choice(N_SAMPLES, size=N_COMPONENTS, replace=False)]


def run(repeats: int, write: bool) -> str:
    import numpy as np

    import kmix
    from kmix.kernels.gmm import layout_of
    from kmix.kernels.gmm_models import MODELS

    description = _common.machine_description(("numba",))
    X, means = make_data()
    warnings.simplefilter("ignore")
    models = {}
    for model in MODELS:
        # Two iterations from the shared start give each model its own warm start.
        start = kmix.GaussianMixture(N_COMPONENTS, covariance_type=model, means_init=means,
                                     weights_init=np.full(N_COMPONENTS, 1 / N_COMPONENTS),
                                     max_iter=2, tol=0.0).fit(X)
        models[model] = kmix.GaussianMixture(
            N_COMPONENTS, covariance_type=model, max_iter=ITERATIONS, tol=0.0, record_history=False,
            weights_init=start.weights_, means_init=start.means_, precisions_init=start.precisions_)
        models[model].fit(X)  # compiled passes loaded, pages touched
    times = {model: [] for model in MODELS}
    for _ in range(repeats):
        for model in MODELS:
            begin = time.perf_counter()
            models[model].fit(X)
            times[model].append((time.perf_counter() - begin) / ITERATIONS)
    best = {model: min(values) for model, values in times.items()}
    rows = []
    for model in MODELS:
        ratio = best[model] / best["VVV"]
        rows.append([model, layout_of(model), f"{best[model] * 1e3:.1f}", f"{ratio:.2f}",
                     f"<= {TARGET:.0f}: {'met' if ratio <= TARGET else 'not met'}"])
        print(f"{model}: {best[model] * 1e3:.1f} ms/iter, {ratio:.2f} x VVV", flush=True)
    table = _common.markdown_table(
        ["model", "stored as", "ms per EM iteration", "/ VVV", "target"], rows)
    machine = "; ".join(f"{key} {value}" for key, value in description.items())
    body = "\n".join([
        "## Covariance models",
        "",
        f"EM on {N_SAMPLES:,} x {N_FEATURES}, k = {N_COMPONENTS}, float64, for each of mclust's "
        f"fourteen models: time per iteration (fit time / {ITERATIONS} iterations, tol = 0), best of "
        f"{repeats} fits, the models taking turns, each from its own parameters after two iterations "
        "from one shared start. Ratios are to kmix's VVV (scikit-learn's \"full\") in the same run.",
        "",
        table,
        "",
        f"Machine: {machine}; load average (1, 5, 15 min) at the end {_common.load_average()}",
    ])
    if write:
        _common.write_section("models", body)
        print(f"wrote the covariance-models section of {_common.RESULTS}")
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args([] if argv is None else argv)
    print(run(args.repeats, write=not args.no_write))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
