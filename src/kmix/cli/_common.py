"""Helpers shared by the subcommands: errors, tables, files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


class UsageError(Exception):
    """A command-line mistake found after parsing (reported as ``kmix: error: ...``)."""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


def seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a seed >= 0, got {value}")
    return value


def output_path(text: str) -> Path:
    """An output file whose folder must exist (checked before any work is done)."""
    path = Path(text)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"the folder {folder} does not exist")
    return path


def image_path(text: str) -> Path:
    path = output_path(text)
    if path.suffix.lower() not in (".png", ".pdf", ".svg", ".jpg", ".jpeg"):
        raise argparse.ArgumentTypeError(
            f"{text}: figures are written as .png, .pdf, .svg or .jpg"
        )
    return path


def animation_path(text: str) -> Path:
    """An animation file: .gif, or .mp4 when ffmpeg is on the PATH (checked before fitting)."""
    from ..exceptions import MissingDependencyError
    from ..viz._frames import check_animation_path

    try:
        return check_animation_path(text)
    except (ValueError, MissingDependencyError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_animation_arguments(parser: argparse.ArgumentParser) -> None:
    """``--animate PATH [--fps N] [--max-frames N]``, shared by kmeans and gmm."""
    group = parser.add_argument_group("animation")
    group.add_argument("--animate", type=animation_path, metavar="GIF",
                       help="write an animation of the fit, one frame per iteration (.gif, or .mp4 with ffmpeg)")
    group.add_argument("--fps", type=positive_float, default=4.0, help="animation frames per second (default 4)")
    group.add_argument("--max-frames", type=positive_int, default=None,
                       help="keep at most N frames, evenly spread, first and last included")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain, right-aligned text table."""
    cells = [[str(h) for h in headers]] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.6g}"
    return str(value)


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
