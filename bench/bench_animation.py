"""How long an animation takes to render: 30 frames of 500 points, GIF.

No peer can animate a fit, so this is kmix against itself: seconds per
animation and per frame, for each style, with and without the objective panel.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np

import _common
import kmix
from kmix.viz import animate_gmm, animate_kmeans

REPEATS = 3


def _kmeans_model(X: np.ndarray) -> kmix.KMeans:
    # Uniform data converges slowly, so a fixed 29 iterations give 30 frames.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kmix.ConvergenceWarning)
        return kmix.KMeans(8, init="random", n_init=1, random_state=0, max_iter=29, tol=0).fit(X)


def _gmm_model(X: np.ndarray) -> kmix.GaussianMixture:
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kmix.ConvergenceWarning)
        return kmix.GaussianMixture(
            5, weights_init=np.full(5, 0.2), means_init=X[rng.choice(len(X), 5, replace=False)],
            precisions_init=np.tile(np.eye(2), (5, 1, 1)), tol=0, max_iter=29,
        ).fit(X)


def main() -> None:
    uniform = kmix.load_data("samples_u")
    mixture = kmix.load_data("samples_2")
    kmeans = _kmeans_model(uniform)
    gmm = _gmm_model(mixture)
    cases = [
        ("k-means, half-steps", False, lambda path, objective: animate_kmeans(uniform, kmeans, path, half_steps=True, show_objective=objective)),
        ("EM, ellipses", False, lambda path, objective: animate_gmm(mixture, gmm, path, show_objective=objective)),
        ("EM, density", False, lambda path, objective: animate_gmm(mixture, gmm, path, style="density", show_objective=objective)),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.gif"
        for name, _, make in cases:
            for objective in (False, True):
                frames = make(path, objective).n_frames
                seconds, _ = _common.median_time(lambda: make(path, objective), repeats=REPEATS, warmup=0)
                size = path.stat().st_size / 1024
                rows.append([name, "yes" if objective else "no", frames, f"{seconds:.2f}",
                             f"{1000 * seconds / frames:.0f}", f"{size:.0f}"])
                print(f"{name:14s} objective={objective!s:5s} {frames} frames {seconds:.2f} s", flush=True)
    machine = _common.machine_description(["matplotlib", "pillow"])
    body = "\n".join([
        "## Animation",
        "",
        f"Rendering a GIF of 500 points, median of {REPEATS} runs, one process. "
        "Frames are drawn by blitting: the axes and ticks once, then only the changing artists.",
        "",
        _common.markdown_table(["animation", "objective panel", "frames", "seconds", "ms per frame", "GIF KiB"], rows),
        "",
        "Machine: " + "; ".join(f"{key} {value}" for key, value in machine.items()),
    ])
    _common.write_section("animation", body)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
