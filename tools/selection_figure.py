"""Draw the model-selection picture of the README: BIC of every covariance model
against the number of components, on the bundled ``samples_2`` (a mixture of five).

Usage::

    MPLBACKEND=Agg python tools/selection_figure.py [docs/figures/select_bic.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import kmix
from kmix.models.gaussian_mixture import GaussianMixtureCore
from kmix.models.selection import select_mixture
from kmix.viz import plot_criterion


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", nargs="?", default="docs/figures/select_bic.png", type=Path)
    args = parser.parse_args(argv)
    X = kmix.load_data("samples_2")
    selection = select_mixture(X, range(1, 10), random_state=0, model_class=GaussianMixtureCore)
    print(selection.summary())
    ax = plot_criterion(selection, title="BIC of the fourteen models on samples_2")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    ax.figure.savefig(args.output, dpi=90)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
