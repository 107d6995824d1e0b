"""``kmix kmeans``: fit k-means and print, draw and save the result."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import DataError
from ..models.kmeans import KMeansCore
from . import _common, _online
from ._common import format_table, say
from ._dask import Progress, add_dask_arguments, run_fit
from ._files import save_figure, save_result

EPILOG = """examples:
  kmix kmeans samples_3 -k 8 --seed 42
  kmix kmeans points.csv -k 4 --init random --n-init 10 --plot clusters.png --ssd-plot ssd.png
  kmix kmeans data.npz:X -k 16 --out result.npz
  kmix kmeans samples_3 -k 8 --animate kmeans.gif --half-steps --fps 3
  kmix kmeans samples_3 -k 8 --report kmeans.html
  kmix kmeans big.npy -k 64 --dask --chunks 100000
  kmix kmeans parts/ -k 64 --dask --scheduler tcp://10.0.0.5:8786
  kmix kmeans samples_3 --select 2..12 --plot select.png
  kmix kmeans big.npy -k 64 --minibatch --batch-size 2048 --ssd-plot batches.png
"""

def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "kmeans",
        help="k-means clustering with every iteration recorded",
        description="Cluster DATA into k groups by k-means (Lloyd's algorithm).",
        epilog=EPILOG,
        formatter_class=_common.HelpFormatter,
    )
    _common.add_data_argument(parser)
    parser.add_argument("-k", "--n-clusters", type=_common.positive_int, default=8, help="number of clusters (default 8)")
    parser.add_argument("--seed", type=_common.seed, default=None, help=_common.SEED_HELP)
    parser.add_argument("--init", choices=["auto", "k-means++", "k-means||", "random"], default="auto",
                        help="initialisation (default auto: k-means++ in memory, k-means|| with --dask)")
    parser.add_argument("--n-init", type=_common.positive_int, default=None, help="runs from different starts; the best is kept (default 1 for k-means++, 10 for random)")
    # None when not given: the defaults differ with --minibatch (see run).
    parser.add_argument("--max-iter", type=_common.positive_int, default=None,
                        help="most iterations per run (default 300); with --minibatch, most passes over the "
                             "data (default 100)")
    parser.add_argument("--tol", type=_common.non_negative_float, default=None,
                        help="relative centre-shift tolerance (default 1e-4; with --minibatch 0, no test)")
    parser.add_argument("--algorithm", choices=["auto", "lloyd", "hamerly"], default="auto",
                        help="lloyd: every distance each iteration; hamerly: the same iterations, "
                             "skipping points whose nearest centre cannot have changed (default auto: "
                             "hamerly in memory where k x features >= 256 or features > 32)")
    parser.add_argument("--float32", action="store_true",
                        help="store the data and the centres as float32 (half the memory): the distances are "
                             "computed in float32, the sums of each cluster in float64 (data whose squared "
                             "distances would overflow float32 is fitted in float64)")
    parser.add_argument("--select", type=_components, metavar="K",
                        help="choose k instead: fit every k of a range like 2..12 and print each criterion's "
                             "choice (SSD knee, Calinski-Harabasz, Davies-Bouldin, silhouette, gap); --plot "
                             "then draws the criteria, --report shows them with the fit of any k clicked, "
                             "--out saves the model of the gap statistic's k")
    parser.add_argument("--plot", type=_common.image_path, metavar="PNG", help="write the clustering with the centres' paths")
    parser.add_argument("--ssd-plot", type=_common.image_path, metavar="PNG", help="write the SSD after every half-step")
    parser.add_argument("--out", type=_common.model_path, metavar="NPZ",
                        help="save the fitted model (labels, centres, history) as .npz (added to the name if missing)")
    _common.add_report_argument(parser)
    minibatch = parser.add_argument_group("mini-batch")
    minibatch.add_argument("--minibatch", action="store_true",
                           help="fit by mini-batch k-means (scikit-learn's MiniBatchKMeans): each step assigns "
                                "a random batch of rows and moves the centres toward it; --ssd-plot then draws "
                                "the SSD of each batch, --animate one frame per step")
    minibatch.add_argument("--batch-size", type=_common.positive_int, default=None, metavar="N",
                           help=f"rows per batch with --minibatch (default {_online.DEFAULT_BATCH_SIZE})")
    animation = _common.add_animation_arguments(parser)
    animation.add_argument("--half-steps", action="store_true",
                           help="animate two frames per iteration: after the assignment and after the update")
    add_dask_arguments(parser)
    parser.set_defaults(func=run)


# The options that name files; all of them are written, or none.
OUTPUT_OPTIONS = ("plot", "ssd_plot", "animate", "report", "out")


def _components(text: str) -> list[int]:
    from .select import components

    return components(text)


def run(args: argparse.Namespace) -> int:
    # Every argument is checked here, before the data is loaded.
    _common.check_animation_arguments(args, {"half_steps": False})
    if args.batch_size is not None and not args.minibatch:
        raise _common.UsageError("--batch-size applies only with --minibatch")
    if args.minibatch:
        return _online.run_minibatch(args, OUTPUT_OPTIONS)
    args.max_iter = 300 if args.max_iter is None else args.max_iter
    args.tol = 1e-4 if args.tol is None else args.tol
    if args.dask and args.init == "k-means++" and args.select is None:
        raise _common.UsageError("--init k-means++ makes one pass over the data per centre; with --dask use "
                                 "--init auto (k-means||) or random")
    if args.select is not None:
        if args.animate or args.ssd_plot:
            raise _common.UsageError("--select draws the criteria with --plot; --animate and --ssd-plot "
                                     "need one k (-k)")
        # select_k starts every k from k-means++ and picks its own pass: options that
        # would be ignored are refused instead.
        ignored = [f"--{name}" for name in ("init", "algorithm") if getattr(args, name) != "auto"]
        if ignored:
            raise _common.UsageError(f"--select starts every k from k-means++ with kmix's own passes: "
                                     f"{' and '.join(ignored)} apply to one k (-k)")
        return run_fit(args, in_memory=("report",), output_options=("plot", "report", "out"),
                       fit_and_report=_select_and_report, write_outputs=_write_selection)
    return run_fit(args, in_memory=("plot", "animate", "report"), output_options=OUTPUT_OPTIONS,
                   fit_and_report=_fit_and_report, write_outputs=write_outputs)


def _select_and_report(args: argparse.Namespace, X: Any, client: Any) -> Any:
    from ..models.select_k import select_k

    criteria = ("ssd", "gap") if min(args.select) == 1 else None
    try:
        result = select_k(X, args.select, **({} if criteria is None else {"criteria": criteria}),
                          n_init=args.n_init or 3, random_state=args.seed, max_iter=args.max_iter,
                          tol=args.tol, client=client, model_class=KMeansCore)
    except DataError as exc:
        raise _common.naming_data(exc, args.data) from exc
    say(f"choosing k on {args.data}: {X.shape[0]} samples x {X.shape[1]} features, k = "
        f"{', '.join(str(k) for k in result.k)}")
    say(result.summary())
    if result.silhouette_sample < X.shape[0] and "silhouette" in result.criteria:
        say(f"silhouette on a sample of {result.silhouette_sample} rows")
    return result


def _write_selection(args: argparse.Namespace, X: Any, result: Any, temporary: dict[str, Path]) -> None:
    if "plot" in temporary:
        from ..viz import plot_select_k

        save_figure(plot_select_k(result)[0].figure, temporary["plot"])
    if "report" in temporary:
        _common.write_report(result, X, temporary["report"])
    if "out" in temporary:
        chosen = result.choice.get("gap", next(iter(result.choice.values())))
        save_result(result.models[int(np.flatnonzero(result.k == chosen)[0])], temporary["out"])


def _fit_and_report(args: argparse.Namespace, X: Any, client: Any) -> KMeansCore:
    progress = Progress(args.max_iter)
    try:
        model = KMeansCore(
            n_clusters=args.n_clusters,
            init=args.init,
            n_init="auto" if args.n_init is None else args.n_init,
            max_iter=args.max_iter,
            tol=args.tol,
            random_state=args.seed,
            callback=progress if progress.enabled else None,
            algorithm=args.algorithm,
            client=client,
            # The paths of the centres are drawn from the history.
            record_history=True if args.plot or args.animate or args.report else "auto",
        ).fit(X)
    except DataError as exc:
        raise _common.naming_data(exc, args.data) from exc
    finally:
        progress.close()
    say(f"k-means on {args.data}: {X.shape[0]} samples x {X.shape[1]} features, k = {args.n_clusters}")
    if client is not None:
        n_workers = len(client.scheduler_info(n_workers=-1).get("workers", {}))
        say(f"dask: {X.numblocks[0]} chunks on {n_workers} worker(s)")
    status = "converged" if model.history_.converged else "stopped at max-iter"
    say(f"iterations: {model.n_iter_} ({status})")
    say(f"final SSD (inertia): {model.inertia_:.6g}")
    # With --dask the labels are computed on the cluster, then counted here.
    sizes = np.bincount(np.asarray(model.labels_), minlength=args.n_clusters)
    rows = [[f"{j:02d}", int(sizes[j])] + [float(v) for v in model.cluster_centers_[j, :4]]
            for j in range(args.n_clusters)]
    headers = ["cluster", "size"] + [f"centre[{i}]" for i in range(min(4, X.shape[1]))]
    say(format_table(headers, rows))
    return model


def write_outputs(args: argparse.Namespace, X: Any, model: KMeansCore, temporary: dict[str, Path]) -> None:
    """Write each requested output to its temporary path (``temporary``, by option
    name, from :meth:`OutputFiles.add_options`)."""
    if "plot" in temporary or "ssd_plot" in temporary:
        from ..viz import plot_clusters, plot_ssd

        if "plot" in temporary:
            ax = plot_clusters(X, model.labels_, model.cluster_centers_, model.history_.centers,
                               title=f"k-means, k = {model.n_clusters}, {model.n_iter_} iterations")
            save_figure(ax.figure, temporary["plot"])
        if "ssd_plot" in temporary:
            ax = plot_ssd(model.history_)
            save_figure(ax.figure, temporary["ssd_plot"])
    if "animate" in temporary:
        from ..viz import animate_kmeans

        animate_kmeans(X, model, temporary["animate"], fps=args.fps, half_steps=args.half_steps,
                       max_frames=args.max_frames, show_objective=True)
    if "report" in temporary:
        _common.write_report(model, X, temporary["report"])
    if "out" in temporary:
        save_result(model, temporary["out"])
