"""``kmix demo``: the main job on the bundled data, figures written to a folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io import load_data
from ..models.kmeans import KMeansCore
from . import _common, gmm
from ._common import say
from ._files import save_figure
from ._outputs import OutputFiles, joined

EPILOG = """example:
  kmix demo --out kmix-demo
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="fit the bundled samples and write the figures",
        description=(
            "k-means on samples_3 (k = 8) with the path of every centre and the SSD curve; "
            "a 5-component Gaussian mixture on samples_2 with its ellipses, log-likelihood "
            "curve and density; animations of both fits (GIF)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=_common.output_folder, default="kmix-demo", metavar="DIR",
                        help="folder for the figures, made if missing (default kmix-demo)")
    parser.set_defaults(func=run)


def kmeans_figures(out: Path, outputs: OutputFiles | None = None) -> list[Path]:
    """k-means on samples_3 with k = 8: the clustering with the centres' paths, the SSD,
    and an animation with a frame after every half-step.

    Writes kmeans_clusters.png, kmeans_ssd.png and kmeans.gif into ``out`` (when
    ``outputs`` commits, or together before returning without it) and returns
    their paths.
    """
    from ..viz import animate_kmeans, plot_clusters, plot_ssd

    X = load_data("samples_3")
    model = KMeansCore(8, init="random", n_init=1, random_state=42).fit(X)
    say(f"k-means on samples_3, k = 8: {model.n_iter_} iterations, SSD {model.inertia_:.6g}")
    names = ["kmeans_clusters.png", "kmeans_ssd.png", "kmeans.gif"]
    with joined(outputs) as outputs:
        ax = plot_clusters(X, model.labels_, model.cluster_centers_, model.history_.centers,
                           title=f"k-means on samples_3, k = 8 ({model.n_iter_} iterations)")
        save_figure(ax.figure, outputs.add("--out", out / names[0]))
        ax = plot_ssd(model.history_)
        save_figure(ax.figure, outputs.add("--out", out / names[1]))
        animate_kmeans(X, model, outputs.add("--out", out / names[2]), fps=3, half_steps=True,
                       show_objective=True, size=4.5)
    return [out / name for name in names]


def em_animation(out: Path, outputs: OutputFiles | None = None) -> list[Path]:
    """EM on samples_2 with 5 components from the exercise's start (means at random
    data points, identity covariances, equal weights), animated over the density.

    Writes em.gif into ``out`` (as :func:`kmeans_figures`) and returns its path.
    """
    import numpy as np

    from ..models.gaussian_mixture import GaussianMixtureCore
    from ..viz import animate_gmm

    X = load_data("samples_2")
    rng = np.random.default_rng(0)
    model = GaussianMixtureCore(
        5,
        weights_init=np.full(5, 0.2),
        means_init=X[rng.choice(len(X), 5, replace=False)],
        precisions_init=np.tile(np.eye(2), (5, 1, 1)),
        tol=1e-4,
        max_iter=100,
    ).fit(X)
    say(f"EM animation on samples_2, 5 components from the exercise's start: {model.n_iter_} iterations")
    with joined(outputs) as outputs:
        animate_gmm(X, model, outputs.add("--out", out / "em.gif"), style="density", fps=4, max_frames=30,
                    show_objective=True, size=4.5)
    return [out / "em.gif"]


# Each step writes its figures into the output folder, through the run's
# transaction, and returns their final paths.
STEPS = [kmeans_figures, gmm.demo_figures, em_animation]


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    written: list[Path] = []
    with OutputFiles() as outputs:
        outputs.make_folder("--out", out)
        for step in STEPS:
            written.extend(step(out, outputs))
    say(f"wrote {len(written)} files into {out}/:")
    for path in written:
        say(f"  {path}")
    return 0
