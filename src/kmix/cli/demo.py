"""``kmix demo``: the main job on the bundled data, figures written to a folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io import load_data
from ..models import KMeans
from . import gmm
from ._common import say
from ._files import save_figure

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
    parser.add_argument("--out", default="kmix-demo", metavar="DIR", help="folder for the figures (default kmix-demo)")
    parser.set_defaults(func=run)


def kmeans_figures(out: Path) -> list[Path]:
    """k-means on samples_3 with k = 8: the clustering with the centres' paths, the SSD,
    and an animation with a frame after every half-step."""
    from ..viz import animate_kmeans, plot_clusters, plot_ssd

    X = load_data("samples_3")
    model = KMeans(8, init="random", n_init=1, random_state=42).fit(X)
    say(f"k-means on samples_3, k = 8: {model.n_iter_} iterations, SSD {model.inertia_:.6g}")
    ax = plot_clusters(X, model.labels_, model.cluster_centers_, model.history_.centers,
                       title=f"k-means on samples_3, k = 8 ({model.n_iter_} iterations)")
    clusters = save_figure(ax.figure, out / "kmeans_clusters.png")
    ax = plot_ssd(model.history_)
    ssd = save_figure(ax.figure, out / "kmeans_ssd.png")
    animation = animate_kmeans(X, model, out / "kmeans.gif", fps=3, half_steps=True, show_objective=True, size=4.5)
    return [clusters, ssd, animation.path]


def em_animation(out: Path) -> list[Path]:
    """EM on samples_2 with 5 components from the exercise's start (means at random
    data points, identity covariances, equal weights), animated over the density."""
    import numpy as np

    from ..models import GaussianMixture
    from ..viz import animate_gmm

    X = load_data("samples_2")
    rng = np.random.default_rng(0)
    model = GaussianMixture(
        5,
        weights_init=np.full(5, 0.2),
        means_init=X[rng.choice(len(X), 5, replace=False)],
        precisions_init=np.tile(np.eye(2), (5, 1, 1)),
        tol=1e-4,
        max_iter=100,
    ).fit(X)
    say(f"EM animation on samples_2, 5 components from the exercise's start: {model.n_iter_} iterations")
    animation = animate_gmm(X, model, out / "em.gif", style="density", fps=4, max_frames=30,
                            show_objective=True, size=4.5)
    return [animation.path]


# Each step writes its figures into the output folder and returns their paths.
STEPS = [kmeans_figures, gmm.demo_figures, em_animation]


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for step in STEPS:
        written.extend(step(out))
    say(f"wrote {len(written)} files into {out}/:")
    for path in written:
        say(f"  {path}")
    return 0
