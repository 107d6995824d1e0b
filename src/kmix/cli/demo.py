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
            "curve and density."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="kmix-demo", metavar="DIR", help="folder for the figures (default kmix-demo)")
    parser.set_defaults(func=run)


def kmeans_figures(out: Path) -> list[Path]:
    """k-means on samples_3 with k = 8: the clustering with the centres' paths and the SSD."""
    from ..viz import plot_clusters, plot_ssd

    X = load_data("samples_3")
    model = KMeans(8, init="random", n_init=1, random_state=42).fit(X)
    say(f"k-means on samples_3, k = 8: {model.n_iter_} iterations, SSD {model.inertia_:.6g}")
    ax = plot_clusters(X, model.labels_, model.cluster_centers_, model.history_.centers,
                       title=f"k-means on samples_3, k = 8 ({model.n_iter_} iterations)")
    clusters = save_figure(ax.figure, out / "kmeans_clusters.png")
    ax = plot_ssd(model.history_)
    ssd = save_figure(ax.figure, out / "kmeans_ssd.png")
    return [clusters, ssd]


# Each step writes its figures into the output folder and returns their paths.
STEPS = [kmeans_figures, gmm.demo_figures]


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
