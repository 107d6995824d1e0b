"""``kmix data``: look at a data set before fitting it."""

from __future__ import annotations

import argparse

import numpy as np

from .. import datasets
from ..io import load_data
from ._common import HelpFormatter, add_data_argument, format_table, say

EPILOG = """examples:
  kmix data info samples_3
  kmix data info points.csv
  kmix data list
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "data",
        help="describe a data file or list the bundled datasets",
        description="Describe a data file (.npy, .npz, .csv, .tsv, .txt) or a bundled dataset.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    info = actions.add_parser(
        "info", help="shape, dtype and a per-column summary",
        epilog="example:\n  kmix data info samples_2", formatter_class=HelpFormatter,
    )
    add_data_argument(info, help="a data file or a bundled dataset name")
    info.set_defaults(func=run_info)
    listing = actions.add_parser("list", help="the bundled datasets", formatter_class=HelpFormatter)
    listing.set_defaults(func=run_list)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def run_info(args: argparse.Namespace) -> int:
    X = load_data(args.data)
    say(f"{args.data}: {X.shape[0]} samples x {X.shape[1]} features, {X.dtype}")
    rows = []
    for j in range(X.shape[1]):
        column = X[:, j]
        rows.append([j, *_mean_std(column), float(column.min()), float(np.median(column)),
                     float(column.max())])
    say(format_table(["column", "mean", "std", "min", "median", "max"], rows))
    return 0


def _mean_std(column: np.ndarray) -> tuple[float, float]:
    """The mean and standard deviation of a column, finite for any finite values: taken
    of the column divided by a power of two near its largest value (exact), whose
    sums and squares cannot overflow, then scaled back."""
    largest = float(np.max(np.abs(column)))
    scale = 2.0 ** np.frexp(largest)[1] if largest > 0 else 1.0
    scaled = column.astype(np.float64) / scale
    return float(scaled.mean() * scale), float(min(scaled.std() * scale, np.finfo(np.float64).max))


def run_list(args: argparse.Namespace) -> int:
    rows = [[name, description] for name, description in datasets.names().items()]
    say(format_table(["name", "description"], rows, left=(0, 1)))
    return 0
