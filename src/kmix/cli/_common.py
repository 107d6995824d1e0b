"""Helpers shared by the subcommands: errors, tables, files."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._paths import shorten


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
    """An output file: a name and path the operating system accepts, in a folder
    that exists, not itself a folder (checked before any work is done)."""
    from .._paths import check_output_path

    try:
        return check_output_path(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def image_path(text: str) -> Path:
    path = output_path(text)
    if path.suffix.lower() not in (".png", ".pdf", ".svg", ".jpg", ".jpeg"):
        raise argparse.ArgumentTypeError(
            f"{shorten(text)}: figures are written as .png, .pdf, .svg or .jpg"
        )
    return path


def model_path(text: str) -> Path:
    """Where a fitted model is saved: ``text``, with ".npz" added unless it ends so
    (the final name is the one checked)."""
    from ._files import result_path

    if not Path(text).name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected the name of a file")
    return output_path(str(result_path(Path(text))))


def output_folder(text: str) -> Path:
    """A folder to write into: an existing folder, or one that can be made."""
    from .._paths import check_output_folder

    try:
        return check_output_folder(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def animation_path(text: str) -> Path:
    """An animation file: .gif, or .mp4 when ffmpeg is on the PATH (checked before fitting)."""
    from ..exceptions import MissingDependencyError
    from ..viz._frames import check_animation_path

    try:
        return check_animation_path(text)
    except (ValueError, MissingDependencyError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def frame_rate(text: str) -> float:
    """Frames per second of an animation, within the range the writers accept."""
    from ..viz._frames import check_fps

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    try:
        return check_fps(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_animation_arguments(parser: argparse.ArgumentParser) -> None:
    """``--animate PATH [--fps N] [--max-frames N]``, shared by kmeans and gmm."""
    group = parser.add_argument_group("animation")
    group.add_argument("--animate", type=animation_path, metavar="GIF",
                       help="write an animation of the fit, one frame per iteration (.gif, or .mp4 with ffmpeg)")
    group.add_argument("--fps", type=frame_rate, default=4.0,
                       help="animation frames per second, from 0.01 to 100 (default 4)")
    group.add_argument("--max-frames", type=positive_int, default=None,
                       help="keep at most N frames, evenly spread, first and last included")


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


# The stdout whose reader has gone (a pipe closed early, as by ``| head -1``):
# nothing more is written to it, and the run goes on writing its files.
_closed_stdout: Any = None


def naming_data(error: Exception, data: str) -> Exception:
    """A fit's DataError about "X" as the command line says it: about DATA."""
    from ..exceptions import DataError

    message = str(error)
    if message.startswith("X "):
        return DataError(f"{data}: {message[2:]}")
    return error


def say(text: str = "") -> None:
    """Print a line of the report on stdout.

    When the reader of stdout has stopped reading, the rest of the report is
    dropped and the command carries on: its files are still written and its exit
    status is what it would have been.
    """
    global _closed_stdout
    stream = sys.stdout
    if stream is None or stream is _closed_stdout:
        return
    try:
        stream.write(text + "\n")
        # Line by line, so that a reader that has gone is noticed here and not in
        # the interpreter's final flush.
        stream.flush()
    except BrokenPipeError:
        _closed_stdout = stream
        _silence(stream)


def _silence(stream: Any) -> None:
    """Point ``stream``'s file descriptor at the null device, so that writing what
    is left in its buffer (the interpreter flushes it at exit) cannot fail."""
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not backed by a file descriptor: nothing is flushed to one at exit
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, descriptor)
    finally:
        os.close(null)
