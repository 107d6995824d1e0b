"""``kmix select``: fit a grid of Gaussian mixtures (numbers of components x
covariance models), score each by BIC, ICL and AIC, print the best and save it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._typing import COVARIANCE_NAMES, CRITERIA, MCLUST_MODELS
from ..exceptions import DataError
from . import _common
from ._common import UsageError, say
from ._dask import add_dask_arguments, run_fit
from ._files import save_figure, save_result

if TYPE_CHECKING:  # the fitting modules are loaded by the run that fits
    from ..models.selection import MixtureSelection

EPILOG = """examples:
  kmix select samples_2 -k 1..9
  kmix select points.csv -k 1..6 --models VVV,VEV,EEE --criterion icl --plot bic.png --out best.npz
  kmix select big.npy -k 2..8 --dask --init kmeans
  kmix select samples_2 -k 1..6 --models VVV,EEE,VII --report select.html
"""

IN_MEMORY_OPTIONS = ("report",)
OUTPUT_OPTIONS = ("plot", "report", "out")


def components(text: str) -> list[int]:
    """``-k``: "1..9" (a range, both ends included), "3" or "2,4,8"."""
    try:
        if ".." in text:
            low, high = (int(part) for part in text.split("..", 1))
            values = list(range(low, high + 1))
        else:
            values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a range like 1..9 or numbers like 2,4,8, got {text!r}") from None
    if not values or min(values) < 1 or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"expected distinct positive numbers of components, got {text!r}")
    return values


def models(text: str) -> list[str]:
    """``--models``: "all" (mclust's fourteen) or names separated by commas."""
    if text == "all":
        return list(MCLUST_MODELS)
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in COVARIANCE_NAMES]
    if not names or unknown:
        named = ", ".join(unknown) if unknown else repr(text)
        raise argparse.ArgumentTypeError(
            f"unknown model {named}; use 'all' or names from {', '.join(COVARIANCE_NAMES)}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a model is named twice in {text!r}")
    return names


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "select",
        help="which mixture: numbers of components x covariance models, by BIC or ICL",
        description="Fit a Gaussian mixture for every number of components and covariance model, "
                    "score each by BIC, ICL and AIC (lower is better) and report the best.",
        epilog=EPILOG,
        formatter_class=_common.HelpFormatter,
    )
    _common.add_data_argument(parser)
    parser.add_argument("-k", "--n-components", type=components, default=list(range(1, 10)), metavar="K",
                        help="numbers of components: a range like 1..9 (default) or a list like 2,4,8")
    parser.add_argument("--models", type=models, default=list(MCLUST_MODELS), metavar="NAMES",
                        help="covariance models: 'all' (mclust's fourteen, the default) or a list like VVV,VEV,EEE")
    parser.add_argument("--criterion", choices=CRITERIA, default="bic", help="what chooses the best (default bic)")
    parser.add_argument("--init", choices=["hc", "kmeans", "k-means++", "random", "random_from_data"], default="hc",
                        help="how each cell starts: hc (mclust's model-based hierarchical clustering, "
                             "then k-means for any further start; the default) or GaussianMixture's own")
    parser.add_argument("--n-init", type=_common.positive_int, default=1,
                        help="starts per cell, the best kept (default 1)")
    parser.add_argument("--seed", type=_common.seed, default=None,
                        help="random seed of the starts that are drawn (default: none, different starts each "
                             "run; --init hc with one start draws nothing)")
    parser.add_argument("--max-iter", type=_common.positive_int, default=1000,
                        help="most EM iterations per start (default 1000)")
    parser.add_argument("--tol", type=_common.non_negative_float, default=1e-5,
                        help="stop a run when the total log-likelihood l changes by at most tol (1 + |l|), "
                             "as mclust does (default 1e-5)")
    parser.add_argument("--reg-covar", type=_common.non_negative_float, default=0.0,
                        help="added to every component's scatter (default 0: a collapsed component fails its cell)")
    parser.add_argument("--plot", type=_common.image_path, metavar="PNG",
                        help="write the criterion against the number of components, a line per model")
    parser.add_argument("--out", type=_common.model_path, metavar="NPZ", help="save the best model as .npz")
    parser.add_argument("--report", type=_common.report_path, metavar="HTML",
                        help="write an interactive report: the criterion of every cell, and the fit of the "
                             "cell clicked, in one self-contained HTML file (needs kmix[report])")
    add_dask_arguments(parser)
    # The criteria compare log-likelihoods across models: always in float64.
    parser.set_defaults(func=run, float32=False)


def run(args: argparse.Namespace) -> int:
    if args.dask and args.init == "hc":
        raise UsageError("--init hc needs the data in memory; with --dask use --init kmeans")
    return run_fit(args, in_memory=IN_MEMORY_OPTIONS, output_options=OUTPUT_OPTIONS,
                   fit_and_report=_select_and_report, write_outputs=write_outputs)


def _select_and_report(args: argparse.Namespace, X: Any, client: Any) -> MixtureSelection:
    from ..models.gaussian_mixture import GaussianMixtureCore
    from ..models.selection import select_mixture

    # A first run compiles each model's M-step (about a minute for all fourteen): say
    # so before the wait, not after.
    say(f"fitting {len(args.n_components)} x {len(args.models)} mixtures (the first run also compiles "
        "each model's EM, once)")
    try:
        selection = select_mixture(
            X, args.n_components, args.models, args.criterion, n_init=args.n_init, init_params=args.init,
            reg_covar=args.reg_covar, tol=args.tol, max_iter=args.max_iter, random_state=args.seed,
            client=client, model_class=GaussianMixtureCore,
        )
    except DataError as exc:
        raise _common.naming_data(exc, args.data) from exc
    n_samples, n_features = X.shape
    say(f"model selection on {args.data}: {n_samples} samples x {n_features} features, "
        f"{len(selection.n_components)} numbers of components x {len(selection.covariance_types)} models")
    say(selection.summary(criterion=args.criterion))
    k, name = selection.best_params_
    say(f"best by {args.criterion.upper()}: {name} with {k} components")
    for (k_failed, model), reason in list(selection.failures.items())[:5]:
        say(f"  not fitted: {model} with {k_failed} components: {reason.splitlines()[0][:120]}")
    return selection


def write_outputs(args: argparse.Namespace, X: Any, selection: MixtureSelection,
                  temporary: dict[str, Path]) -> None:
    if "plot" in temporary:
        from ..viz import plot_criterion

        save_figure(plot_criterion(selection).figure, temporary["plot"])
    if "report" in temporary:
        _common.write_report(selection, X, temporary["report"])
    if "out" in temporary:
        save_result(selection.best_, temporary["out"])
