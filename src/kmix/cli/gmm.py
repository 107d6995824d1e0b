"""``kmix gmm``: fit a Gaussian mixture by EM and print, draw and save the result."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._typing import COVARIANCE_NAMES
from ..exceptions import DataError
from . import _common, _online
from ._common import format_table, say
from ._dask import Progress, add_dask_arguments, run_fit
from ._files import save_figure, save_result
from ._outputs import OutputFiles, joined

if TYPE_CHECKING:  # the fitting modules are loaded by the run that fits
    from ..models.gaussian_mixture import GaussianMixtureCore

EPILOG = """examples:
  kmix gmm samples_2 -k 5 --seed 0
  kmix gmm points.csv -k 3 --covariance-type diag --plot gmm.png --ll-plot ll.png
  kmix gmm data.npz:X -k 8 --init k-means++ --density-plot density.png --out result.npz
  kmix gmm samples_2 -k 5 --animate em.gif --animate-style density --fps 6
  kmix gmm samples_2 -k 5 --report gmm.html
  kmix gmm big.npy -k 8 --dask --chunks 100000
  kmix gmm parts/ -k 8 --dask --scheduler tcp://10.0.0.5:8786
  kmix gmm parts/ -k 8 --stream --passes 3 --ll-plot ll.png
"""

# Options that draw every point: refused with --dask.
IN_MEMORY_OPTIONS = ("plot", "density_plot", "animate", "report")
# The options that name files; all of them are written, or none.
OUTPUT_OPTIONS = ("plot", "ll_plot", "density_plot", "animate", "report", "out")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "gmm",
        help="Gaussian mixture fitted by EM, every iteration recorded",
        description="Fit a mixture of k Gaussians to DATA by expectation-maximisation.",
        epilog=EPILOG,
        formatter_class=_common.HelpFormatter,
    )
    _common.add_data_argument(parser)
    parser.add_argument("-k", "--n-components", type=_common.positive_int, default=5,
                        help="number of components (default 5)")
    parser.add_argument("--covariance-type", choices=list(COVARIANCE_NAMES), default="full",
                        metavar="TYPE",
                        help="covariance of each component: full, tied, diag, spherical (scikit-learn's "
                             "names) or one of mclust's fourteen models, EII, VII, EEI, VEI, EVI, VVI, "
                             "EEE, VEE, EVE, VVE, EEV, VEV, EVV, VVV (default full)")
    parser.add_argument("--init", choices=["kmeans", "k-means++", "random", "random_from_data"], default="kmeans",
                        help="initialisation (default kmeans)")
    parser.add_argument("--n-init", type=_common.positive_int, default=1,
                        help="runs from different starts; the best is kept (default 1)")
    parser.add_argument("--seed", type=_common.seed, default=None, help=_common.SEED_HELP)
    # None when not given, so that --stream can refuse them (see run).
    parser.add_argument("--max-iter", type=_common.positive_int, default=None,
                        help="most EM iterations (default 100)")
    parser.add_argument("--tol", type=_common.non_negative_float, default=None,
                        help="stop when the mean log-likelihood per sample changes by less (default 1e-3)")
    parser.add_argument("--reg-covar", type=_common.non_negative_float, default=1e-6,
                        help="added to every covariance's diagonal (default 1e-6)")
    parser.add_argument("--float32", action="store_true",
                        help="store the data and the fitted parameters as float32 (half the memory); the "
                             "statistics of each iteration are summed in float64 and, for most covariance "
                             "types, the E-step too (data whose squared distances would overflow float32 is "
                             "fitted in float64)")
    parser.add_argument("--plot", type=_common.image_path, metavar="PNG",
                        help="write the samples with the components' ellipses")
    parser.add_argument("--ll-plot", type=_common.image_path, metavar="PNG",
                        help="write the log-likelihood over the iterations")
    parser.add_argument("--density-plot", type=_common.image_path, metavar="PNG",
                        help="write the mixture density as filled contours")
    parser.add_argument("--out", type=_common.model_path, metavar="NPZ",
                        help="save the fitted model (parameters, history) as .npz (added to the name if missing)")
    _common.add_report_argument(parser)
    stream = parser.add_argument_group("streaming")
    stream.add_argument("--stream", action="store_true",
                        help="DATA is a folder of .npy files (or one .npy file): fit by online EM, one step "
                             f"per batch of at most {_online.STREAM_BATCH_ROWS} rows, reading the files one "
                             "at a time (never all the data in memory)")
    stream.add_argument("--passes", type=_common.positive_int, default=None, metavar="P",
                        help="passes over the files with --stream (default 1)")
    animation = _common.add_animation_arguments(parser)
    # None when not given (see run).
    animation.add_argument("--animate-style", choices=["ellipses", "density"], default=None,
                           help="what the animation draws (default ellipses)")
    add_dask_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Every argument is checked here, before the data is loaded.
    _common.check_animation_arguments(args, {"animate_style": "ellipses"})
    if args.passes is not None and not args.stream:
        raise _common.UsageError("--passes applies only with --stream")
    if args.stream:
        args.passes = 1 if args.passes is None else args.passes
        return _online.run_stream(args, IN_MEMORY_OPTIONS)
    args.max_iter = 100 if args.max_iter is None else args.max_iter
    args.tol = 1e-3 if args.tol is None else args.tol
    if args.dask and args.init == "k-means++":
        raise _common.UsageError("--init k-means++ makes one pass over the data per component; with --dask "
                                 "use --init kmeans (k-means|| seeding), random or random_from_data")
    return run_fit(args, in_memory=IN_MEMORY_OPTIONS, output_options=OUTPUT_OPTIONS,
                   fit_and_report=_fit_and_report, write_outputs=write_outputs)


def _fit_and_report(args: argparse.Namespace, X: Any, client: Any) -> GaussianMixtureCore:
    from ..models.gaussian_mixture import GaussianMixtureCore

    progress = Progress(args.max_iter)
    try:
        model = GaussianMixtureCore(
            n_components=args.n_components,
            covariance_type=args.covariance_type,
            init_params=args.init,
            n_init=args.n_init,
            max_iter=args.max_iter,
            tol=args.tol,
            reg_covar=args.reg_covar,
            random_state=args.seed,
            # An animation or a report needs the parameters of every iteration,
            # whatever the dimension.
            record_history=True if args.animate or args.report else "auto",
            callback=progress if progress.enabled else None,
            client=client,
        ).fit(X)
    except DataError as exc:
        raise _common.naming_data(exc, args.data) from exc
    finally:
        progress.close()
    n_samples, n_features = X.shape
    say(
        f"Gaussian mixture on {args.data}: {n_samples} samples x {n_features} features, "
        f"k = {args.n_components}, {args.covariance_type} covariances"
    )
    if client is not None:
        n_workers = len(client.scheduler_info(n_workers=-1).get("workers", {}))
        say(f"dask: {X.numblocks[0]} chunks on {n_workers} worker(s)")
    status = "converged" if model.converged_ else "stopped at max-iter"
    say(f"iterations: {model.n_iter_} ({status})")
    # One pass over X (on the cluster with --dask) for all three.
    mean_log_likelihood, bic, aic = model.information_criteria(X)
    say(f"final log-likelihood: {mean_log_likelihood * n_samples:.6f} ({mean_log_likelihood:.6f} per sample)")
    say(f"BIC: {bic:.6f}   AIC: {aic:.6f}")
    shown = min(4, n_features)
    rows = [[f"{j:02d}", float(model.weights_[j])] + [float(v) for v in model.means_[j, :shown]]
            for j in range(args.n_components)]
    headers = ["component", "weight"] + [f"mean[{i}]" for i in range(shown)]
    say(format_table(headers, rows))
    return model


def write_outputs(args: argparse.Namespace, X: Any, model: GaussianMixtureCore, temporary: dict[str, Path]) -> None:
    """Write each requested output to its temporary path (``temporary``, by option
    name, from :meth:`OutputFiles.add_options`)."""
    if {"plot", "ll_plot", "density_plot"} & temporary.keys():
        from ..viz import plot_density, plot_gmm, plot_log_likelihood

        title = f"Gaussian mixture, k = {args.n_components}, {model.n_iter_} iterations"
        if "plot" in temporary:
            save_figure(plot_gmm(X, model, title=title).figure, temporary["plot"])
        if "ll_plot" in temporary:
            save_figure(plot_log_likelihood(model.history_).figure, temporary["ll_plot"])
        if "density_plot" in temporary:
            save_figure(plot_density(model, X, title=title).figure, temporary["density_plot"])
    if "animate" in temporary:
        from ..viz import animate_gmm

        animate_gmm(X, model, temporary["animate"], style=args.animate_style, fps=args.fps,
                    max_frames=args.max_frames, show_objective=True)
    if "report" in temporary:
        _common.write_report(model, X, temporary["report"])
    if "out" in temporary:
        save_result(model, temporary["out"])


def demo_figures(out_dir: Path, outputs: OutputFiles | None = None) -> list[Path]:
    """Five components on samples_2 (fixed seed): ellipses, log-likelihood curve, density.

    Writes gmm.png, gmm_loglik.png and gmm_density.png into ``out_dir`` and
    returns their paths. With ``outputs`` (the demo's transaction) they are put
    in place when it commits; without it, together when this returns.
    """
    from ..io import load_data
    from ..models.gaussian_mixture import GaussianMixtureCore
    from ..viz import plot_density, plot_gmm, plot_log_likelihood

    out_dir = Path(out_dir)
    X = load_data("samples_2")
    model = GaussianMixtureCore(5, random_state=0, tol=1e-6, max_iter=200).fit(X)
    say(
        f"Gaussian mixture on samples_2, k = 5: {model.n_iter_} iterations, "
        f"log-likelihood {model.score(X) * X.shape[0]:.6g}"
    )
    title = f"Gaussian mixture on samples_2, k = 5 ({model.n_iter_} iterations)"
    figures = {
        "gmm.png": plot_gmm(X, model, title=title).figure,
        "gmm_loglik.png": plot_log_likelihood(model.history_).figure,
        "gmm_density.png": plot_density(model, X, title="Mixture density on samples_2").figure,
    }
    with joined(outputs) as outputs:
        for name, figure in figures.items():
            save_figure(figure, outputs.add("--out", out_dir / name))
    return [out_dir / name for name in figures]
