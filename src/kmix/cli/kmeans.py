"""``kmix kmeans``: fit k-means and print, draw and save the result."""

from __future__ import annotations

import argparse

import numpy as np

from ..io import load_data
from ..models import KMeans
from . import _common
from ._common import format_table, say
from ._files import save_figure, save_result

EPILOG = """examples:
  kmix kmeans samples_3 -k 8 --seed 42
  kmix kmeans points.csv -k 4 --init random --n-init 10 --plot clusters.png --ssd-plot ssd.png
  kmix kmeans data.npz:X -k 16 --out result.npz
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "kmeans",
        help="k-means clustering with every iteration recorded",
        description="Cluster DATA into k groups by k-means (Lloyd's algorithm).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("data", metavar="DATA", help="a .npy/.npz/.csv/.tsv/.txt file or a bundled dataset name")
    parser.add_argument("-k", "--n-clusters", type=_common.positive_int, default=8, help="number of clusters (default 8)")
    parser.add_argument("--seed", type=_common.seed, default=None, help="random seed for the initialisation")
    parser.add_argument("--init", choices=["k-means++", "random"], default="k-means++", help="initialisation (default k-means++)")
    parser.add_argument("--n-init", type=_common.positive_int, default=None, help="runs from different starts; the best is kept (default 1 for k-means++, 10 for random)")
    parser.add_argument("--max-iter", type=_common.positive_int, default=300, help="most iterations per run (default 300)")
    parser.add_argument("--tol", type=_common.non_negative_float, default=1e-4, help="relative centre-shift tolerance (default 1e-4)")
    parser.add_argument("--float32", action="store_true", help="compute in single precision")
    parser.add_argument("--plot", type=_common.image_path, metavar="PNG", help="write the clustering with the centres' paths")
    parser.add_argument("--ssd-plot", type=_common.image_path, metavar="PNG", help="write the SSD after every half-step")
    parser.add_argument("--out", type=_common.output_path, metavar="NPZ", help="save the fitted model (labels, centres, history) as .npz")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    X = load_data(args.data, dtype=np.float32 if args.float32 else np.float64)
    model = KMeans(
        n_clusters=args.n_clusters,
        init=args.init,
        n_init="auto" if args.n_init is None else args.n_init,
        max_iter=args.max_iter,
        tol=args.tol,
        random_state=args.seed,
    ).fit(X)
    say(f"k-means on {args.data}: {X.shape[0]} samples x {X.shape[1]} features, k = {args.n_clusters}")
    status = "converged" if model.history_.converged else "stopped at max-iter"
    say(f"iterations: {model.n_iter_} ({status})")
    say(f"final SSD (inertia): {model.inertia_:.6g}")
    sizes = np.bincount(model.labels_, minlength=args.n_clusters)
    rows = [[f"{j:02d}", int(sizes[j])] + [float(v) for v in model.cluster_centers_[j, :4]]
            for j in range(args.n_clusters)]
    headers = ["cluster", "size"] + [f"centre[{i}]" for i in range(min(4, X.shape[1]))]
    say(format_table(headers, rows))
    written = write_outputs(args, X, model)
    for path in written:
        say(f"wrote {path}")
    return 0


def write_outputs(args: argparse.Namespace, X: np.ndarray, model: KMeans) -> list:
    written = []
    if args.plot or args.ssd_plot:
        from ..viz import plot_clusters, plot_ssd

        if args.plot:
            ax = plot_clusters(X, model.labels_, model.cluster_centers_, model.history_.centers,
                               title=f"k-means, k = {model.n_clusters}, {model.n_iter_} iterations")
            written.append(save_figure(ax.figure, args.plot))
        if args.ssd_plot:
            ax = plot_ssd(model.history_)
            written.append(save_figure(ax.figure, args.ssd_plot))
    if args.out:
        written.append(save_result(model, args.out))
    return written
