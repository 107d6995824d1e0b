"""The fits that take the data a batch at a time: ``kmix kmeans --minibatch``
(MiniBatchKMeans on data in memory) and ``kmix gmm --stream`` (online EM over a
folder of .npy files, read one batch of rows at a time)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import DataError
from . import _common
from ._common import UsageError, format_table, say
from ._dask import Progress, run_fit
from ._files import save_figure, save_result

# Rows per MiniBatchKMeans batch when --batch-size is not given (scikit-learn's default).
DEFAULT_BATCH_SIZE = 1024
# Most passes over the data with --minibatch when --max-iter is not given (scikit-learn's default).
DEFAULT_MINIBATCH_PASSES = 100
# Most rows of a file given to one online EM step with --stream.
STREAM_BATCH_ROWS = 10_000


# --- kmix kmeans --minibatch -----------------------------------------------------

def check_minibatch_arguments(args: argparse.Namespace) -> None:
    """What --minibatch cannot be combined with, said before the data is read."""
    if args.dask:
        raise UsageError("--minibatch fits data in memory: leave out --dask or --minibatch")
    if args.select is not None:
        raise UsageError("--select fits every k by Lloyd's algorithm: leave out --minibatch or --select")
    if args.init == "k-means||":
        raise UsageError("--init k-means|| is the initialisation of --dask; with --minibatch use auto "
                         "(k-means++) or random")
    if args.algorithm != "auto":
        raise UsageError("--algorithm chooses how Lloyd's algorithm assigns every point; it does not apply "
                         "with --minibatch")
    if args.half_steps:
        raise UsageError("--half-steps: a mini-batch step assigns its batch and moves the centres at once; "
                         "leave out --half-steps")
    from ..models.minibatch import MiniBatchKMeansCore

    if args.out and getattr(MiniBatchKMeansCore, "_saved_as", None) is None:
        raise UsageError("--out cannot save a mini-batch k-means model (kmix saves KMeans and Gaussian "
                         "mixtures): leave out --out, or --minibatch")


def run_minibatch(args: argparse.Namespace, output_options: tuple[str, ...]) -> int:
    check_minibatch_arguments(args)
    if args.max_iter is None:
        args.max_iter = DEFAULT_MINIBATCH_PASSES
    if args.tol is None:
        args.tol = 0.0
    return run_fit(args, in_memory=("plot", "animate", "report"), output_options=output_options,
                   fit_and_report=_minibatch_and_report, write_outputs=_write_minibatch)


def _minibatch_and_report(args: argparse.Namespace, X: Any, client: Any) -> Any:
    from ..models.minibatch import MiniBatchKMeansCore

    batch_size = args.batch_size or DEFAULT_BATCH_SIZE
    try:
        model = MiniBatchKMeansCore(
            n_clusters=args.n_clusters,
            init="k-means++" if args.init == "auto" else args.init,
            n_init="auto" if args.n_init is None else args.n_init,
            max_iter=args.max_iter,
            batch_size=batch_size,
            tol=args.tol,
            random_state=args.seed,
            # The paths of the centres are drawn from the history.
            record_history=True if args.plot or args.animate or args.report else "auto",
        ).fit(X)
    except DataError as exc:
        raise _common.naming_data(exc, args.data) from exc
    n_samples, n_features = X.shape
    say(f"mini-batch k-means on {args.data}: {n_samples} samples x {n_features} features, "
        f"k = {args.n_clusters}, batches of {min(batch_size, n_samples)} rows")
    status = "converged" if model.history_.converged else "stopped at max-iter"
    passes = "pass" if model.n_iter_ == 1 else "passes"
    say(f"steps: {model.n_steps_} ({model.n_iter_} {passes} over the data, {status})")
    say(f"final SSD (inertia): {model.inertia_:.6g}")
    sizes = np.bincount(np.asarray(model.labels_), minlength=args.n_clusters)
    rows = [[f"{j:02d}", int(sizes[j])] + [float(v) for v in model.cluster_centers_[j, :4]]
            for j in range(args.n_clusters)]
    headers = ["cluster", "size"] + [f"centre[{i}]" for i in range(min(4, n_features))]
    say(format_table(headers, rows))
    return model


def _write_minibatch(args: argparse.Namespace, X: Any, model: Any, temporary: dict[str, Path]) -> None:
    if "plot" in temporary or "ssd_plot" in temporary:
        from ..viz import plot_batch_ssd, plot_clusters

        if "plot" in temporary:
            history = model.history_
            paths = history.centers if "centers" in history else None
            ax = plot_clusters(X, model.labels_, model.cluster_centers_, paths,
                               title=f"mini-batch k-means, k = {model.n_clusters}, {model.n_steps_} steps")
            save_figure(ax.figure, temporary["plot"])
        if "ssd_plot" in temporary:
            save_figure(plot_batch_ssd(model.history_).figure, temporary["ssd_plot"])
    if "animate" in temporary:
        from ..viz import animate_kmeans

        animate_kmeans(X, model, temporary["animate"], fps=args.fps, max_frames=args.max_frames,
                       show_objective=True)
    if "report" in temporary:
        _common.write_report(model, X, temporary["report"])
    if "out" in temporary:
        save_result(model, temporary["out"])


# --- kmix gmm --stream ---------------------------------------------------------------

def check_stream_arguments(args: argparse.Namespace, in_memory: tuple[str, ...]) -> None:
    """What --stream cannot be combined with, said before any file is read."""
    if args.dask or args.scheduler or args.chunks:
        raise UsageError("--stream reads the files one batch at a time itself: leave out --dask "
                         "(--scheduler, --chunks) or --stream")
    for name in in_memory:
        if getattr(args, name, None):
            option = "--" + name.replace("_", "-")
            raise UsageError(
                f"{option} draws every point, so it needs the data in memory: leave out --stream or {option}"
            )
    if args.max_iter is not None or args.tol is not None:
        raise UsageError("--max-iter and --tol apply to EM over all the data; with --stream online EM "
                         "makes one step per batch, --passes times over the files")


def run_stream(args: argparse.Namespace, in_memory: tuple[str, ...]) -> int:
    """``kmix gmm FOLDER --stream``: online EM over the folder's .npy files,
    ``--passes`` times, then the report and the outputs (all written, or none)."""
    from ..io import npy_folder_readers
    from ..models.gaussian_mixture import GaussianMixtureCore
    from ..models.streaming import RowStream, mixture_criteria, partial_fit_passes
    from ._outputs import OutputFiles

    check_stream_arguments(args, in_memory)
    with OutputFiles(data=args.data) as outputs:
        temporary = outputs.add_options(args, ("ll_plot", "out"))
        readers = npy_folder_readers(args.data, np.float32 if args.float32 else np.float64)
        stream = RowStream(readers, STREAM_BATCH_ROWS)
        progress = Progress(stream.n_batches * args.passes, label="step")
        model = GaussianMixtureCore(
            n_components=args.n_components,
            covariance_type=args.covariance_type,
            init_params=args.init,
            n_init=args.n_init,
            reg_covar=args.reg_covar,
            random_state=args.seed,
            callback=progress if progress.enabled else None,
        )
        try:
            partial_fit_passes(model, stream, args.passes)
            mean_log_likelihood, bic, aic = mixture_criteria(model, stream)
        finally:
            progress.close()
        _report_stream(args, model, stream, len(readers), mean_log_likelihood, bic, aic)
        with outputs.writing():
            if "ll_plot" in temporary:
                from ..viz import plot_log_likelihood

                save_figure(plot_log_likelihood(model.history_).figure, temporary["ll_plot"])
            if "out" in temporary:
                save_result(model, temporary["out"])
    for path in outputs.written:
        say(f"wrote {path}")
    return 0


def _report_stream(args: argparse.Namespace, model: Any, stream: Any, n_files: int,
                   mean_log_likelihood: float, bic: float, aic: float) -> None:
    n_samples, n_features = stream.n_samples, stream.n_features
    say(
        f"Gaussian mixture on {args.data}: {n_samples} samples x {n_features} features, "
        f"k = {args.n_components}, {args.covariance_type} covariances"
    )
    files = "file" if n_files == 1 else "files"
    passes = "pass" if args.passes == 1 else "passes"
    steps = "step" if model.n_iter_ == 1 else "steps"
    say(f"online EM: {model.n_iter_} {steps} ({args.passes} {passes} over {n_files} {files}, batches of "
        f"at most {stream.batch_rows} rows)")
    say(f"final log-likelihood: {mean_log_likelihood * n_samples:.6f} ({mean_log_likelihood:.6f} per sample)")
    say(f"BIC: {bic:.6f}   AIC: {aic:.6f}")
    shown = min(4, n_features)
    rows = [[f"{j:02d}", float(model.weights_[j])] + [float(v) for v in model.means_[j, :shown]]
            for j in range(args.n_components)]
    headers = ["component", "weight"] + [f"mean[{i}]" for i in range(shown)]
    say(format_table(headers, rows))
