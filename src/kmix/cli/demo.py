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
            "curve and density; animations of both fits (GIF); an interactive report of the "
            "k-means fit (report.html, when kmix[report] is installed)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=_common.output_folder, default="kmix-demo", metavar="DIR",
                        help="folder for the figures, made if missing (default kmix-demo)")
    parser.set_defaults(func=run)


# The EM animation's start: the exercise's kind of start (means at distinct
# random data points, identity covariances, equal weights), drawn by this seed.
# From it EM ends in the best optimum found from many such starts (checked in
# tests/viz/test_demo_figures.py): one component per visible cluster.
EM_SEED = 20
EM_COMPONENTS = 5
# How the demo draws its animations (the tests draw the same scenes).
KMEANS_ANIMATION = {"half_steps": True, "show_objective": True, "size": 4.5}
EM_ANIMATION = {"style": "density", "max_frames": 30, "show_objective": True, "size": 4.5}


def kmeans_demo_model(X):
    """k-means with k = 8 from random centres (seed 42), as the demo fits samples_3."""
    return KMeansCore(8, init="random", n_init=1, random_state=42).fit(X)


def kmeans_figures(out: Path, outputs: OutputFiles | None = None) -> list[Path]:
    """k-means on samples_3 with k = 8: the clustering with the centres' paths, the SSD,
    and an animation with a frame after every half-step.

    Writes kmeans_clusters.png, kmeans_ssd.png and kmeans.gif into ``out`` (when
    ``outputs`` commits, or together before returning without it) and returns
    their paths.
    """
    from ..viz import animate_kmeans, plot_clusters, plot_ssd

    X = load_data("samples_3")
    say("k-means on samples_3, k = 8, from random centres (seed 42): fitting ...")
    model = kmeans_demo_model(X)
    say(f"k-means on samples_3, k = 8: {model.n_iter_} iterations, SSD {model.inertia_:.6g}")
    names = ["kmeans_clusters.png", "kmeans_ssd.png", "kmeans.gif"]
    with joined(outputs) as outputs:
        say(f"  drawing {names[0]} (the clusters and every centre's path)")
        ax = plot_clusters(X, model.labels_, model.cluster_centers_, model.history_.centers,
                           title=f"k-means on samples_3, k = 8 ({model.n_iter_} iterations)")
        save_figure(ax.figure, outputs.add("--out", out / names[0]))
        say(f"  drawing {names[1]} (the SSD after every half-step)")
        ax = plot_ssd(model.history_)
        save_figure(ax.figure, outputs.add("--out", out / names[1]))
        say(f"  drawing {names[2]} ({2 * model.n_iter_ + 1} frames)")
        animate_kmeans(X, model, outputs.add("--out", out / names[2]), fps=3, **KMEANS_ANIMATION)
    return [out / name for name in names]


def exercise_start(X, n_components: int, seed: int) -> dict:
    """The exercise's start for EM: means at ``n_components`` distinct data points
    drawn with ``numpy.random.default_rng(seed)``, identity covariances, equal
    weights; as keyword arguments of GaussianMixtureCore."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n_features = X.shape[1]
    return {
        "weights_init": np.full(n_components, 1.0 / n_components),
        "means_init": X[rng.choice(len(X), n_components, replace=False)],
        "precisions_init": np.tile(np.eye(n_features), (n_components, 1, 1)),
    }


def em_demo_model(X):
    """EM on ``X`` from the demo's start (:data:`EM_SEED`), fitted as the animation shows it."""
    from ..models.gaussian_mixture import GaussianMixtureCore

    return GaussianMixtureCore(EM_COMPONENTS, tol=1e-4, max_iter=100,
                               **exercise_start(X, EM_COMPONENTS, EM_SEED)).fit(X)


def em_animation(out: Path, outputs: OutputFiles | None = None) -> list[Path]:
    """EM on samples_2 with 5 components from the exercise's start (means at random
    data points, identity covariances, equal weights), animated over the density.

    Writes em.gif into ``out`` (as :func:`kmeans_figures`) and returns its path.
    """
    from ..viz import animate_gmm

    X = load_data("samples_2")
    say(f"EM on samples_2, {EM_COMPONENTS} components, from the exercise's start "
        f"(means at random points, seed {EM_SEED}; identity covariances): fitting ...")
    model = em_demo_model(X)
    score = model.score(X)
    say(f"EM on samples_2: {model.n_iter_} iterations, log-likelihood {score:.6g} per sample "
        f"({score * len(X):.6g} in all)")
    frames = min(model.n_iter_ + 1, EM_ANIMATION["max_frames"])
    with joined(outputs) as outputs:
        say(f"  drawing em.gif ({frames} frames over the mixture density)")
        animate_gmm(X, model, outputs.add("--out", out / "em.gif"), fps=4, **EM_ANIMATION)
    return [out / "em.gif"]


def report_page(out: Path, outputs: OutputFiles | None = None) -> list[Path]:
    """The interactive report of the k-means fit of :func:`kmeans_figures`, every
    half-step on the slider: report.html in ``out`` (as :func:`kmeans_figures`),
    or, without Bokeh, nothing but a line that says so.
    """
    import importlib.util

    if importlib.util.find_spec("bokeh") is None:
        say("  skipped report.html: the interactive report needs bokeh (pip install 'kmix[report]')")
        return []
    from ..viz.report import report

    X = load_data("samples_3")
    model = kmeans_demo_model(X)
    with joined(outputs) as outputs:
        say("  writing report.html (the k-means fit, interactive: a slider over every half-step)")
        report(model, X, outputs.add("--out", out / "report.html"))
    return [out / "report.html"]


# Each step writes its figures into the output folder, through the run's
# transaction, and returns their final paths.
STEPS = [kmeans_figures, gmm.demo_figures, em_animation, report_page]

# What run() says before a step that does not say it itself.
ANNOUNCE = {
    gmm.demo_figures: (
        "Gaussian mixture on samples_2, k = 5 (seed 0): fitting, then drawing gmm.png, "
        "gmm_loglik.png and gmm_density.png ..."
    ),
}


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    written: list[Path] = []
    say(f"kmix demo: fitting the bundled samples and drawing the figures into {out}/")
    with OutputFiles() as outputs:
        outputs.make_folder("--out", out)
        for step in STEPS:
            if step in ANNOUNCE:
                say(ANNOUNCE[step])
            written.extend(step(out, outputs))
    say(f"wrote {len(written)} files into {out}/:")
    for path in written:
        say(f"  {path}")
    return 0
