"""Helpers shared by the subcommands: errors, tables, files."""

from __future__ import annotations

import argparse
import errno
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._paths import shorten


class UsageError(Exception):
    """A command-line mistake found after parsing (reported as ``kmix: error: ...``)."""


class OutputError(UsageError):
    """An output file could not be written; the message names the file the user
    asked for, never the temporary one written first."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's help, with its descriptions and epilogs laid out as written in
    two kinds of lines: prose (lines that start at the margin, up to a blank or
    indented line, form one paragraph) is wrapped to the terminal's width, and an
    indented line (an example command) is kept whole, to be copied as it is."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines: list[str] = []
        paragraph: list[str] = []

        def end_paragraph() -> None:
            if paragraph:
                lines.extend(textwrap.wrap(" ".join(paragraph), width, initial_indent=indent,
                                           subsequent_indent=indent, break_long_words=False,
                                           break_on_hyphens=False))
                paragraph.clear()

        for line in text.splitlines():
            if line.strip() and not line[:1].isspace():
                paragraph.append(line.strip())
                continue
            end_paragraph()
            lines.append(indent + line if line.strip() else "")
        end_paragraph()
        return "\n".join(lines)


class DataArgument(argparse.Action):
    """DATA, the file or bundled dataset a command reads: an empty name is refused
    while parsing, before any work."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        if values == "":
            parser.error(f"{self.metavar or self.dest} is empty: give a file or a bundled dataset name")
        setattr(namespace, self.dest, values)


def add_data_argument(parser: argparse.ArgumentParser,
                      help: str = "a .npy/.npz/.csv/.tsv/.txt file or a bundled dataset name") -> None:
    """The positional DATA argument of a command (see :class:`DataArgument`)."""
    parser.add_argument("data", metavar="DATA", action=DataArgument, help=help)


# The help of --seed: an unseeded run draws its start from fresh operating-system
# entropy (numpy.random.default_rng(None)).
SEED_HELP = "random seed of the initialisation (default: none, a different start each run)"


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def frame_count(text: str) -> int:
    """``--max-frames``: at least 2, the first and the last frame."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"expected a number >= 2 (the first and the last frames are always kept), got {value}")
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
        raise argparse.ArgumentTypeError(_loop_message(text, folder=True) or str(exc)) from None


def _loop_message(text: str, folder: bool) -> str | None:
    """Why ``text`` (with ``folder``, the folder it is in) cannot be looked up when
    that is a loop of symbolic links, else None: the checks of output paths see
    such a path as missing, which it is not."""
    path = Path(text)
    looked_up = (path.parent if str(path.parent) else Path(".")) if folder else path
    try:
        os.stat(looked_up)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            where = f"the folder {shorten(str(looked_up), 40)}" if folder else "the path"
            return (f"{shorten(text)}: {where} cannot be looked up: too many levels of symbolic "
                    "links (a link that points to itself?)")
    except ValueError:  # an embedded NUL character: the check's own message says so
        return None
    return None


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
        message = _loop_message(text, folder=False) if text else None
        raise argparse.ArgumentTypeError(message or str(exc)) from None


def report_path(text: str) -> Path:
    """An interactive report's file: .html, with Bokeh installed (both checked
    before fitting; Bokeh is looked for, not imported)."""
    import importlib.util

    path = output_path(text)
    if path.suffix.lower() not in (".html", ".htm"):
        raise argparse.ArgumentTypeError(f"{shorten(text)}: reports are written as .html")
    if importlib.util.find_spec("bokeh") is None:
        raise argparse.ArgumentTypeError(
            "writing a report needs the optional package 'bokeh': pip install 'kmix[report]'"
        )
    return path


def add_report_argument(parser: argparse.ArgumentParser) -> None:
    """``--report HTML``, shared by kmeans and gmm."""
    parser.add_argument("--report", type=report_path, metavar="HTML",
                        help="write an interactive report of the fit: one self-contained HTML file with a "
                             "slider over every iteration (needs kmix[report])")


def write_report(model: Any, X: Any, path: Path) -> None:
    """The fit's interactive report, written to ``path`` (a temporary file of the run)."""
    from ..viz.report import report

    report(model, X, path)


def animation_path(text: str) -> Path:
    """An animation file: .gif, or .mp4 when ffmpeg is on the PATH (checked before fitting)."""
    from ..exceptions import MissingDependencyError
    from ..viz._frames import check_animation_path

    try:
        return check_animation_path(text)
    except MissingDependencyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(_loop_message(text, folder=True) or str(exc)) from None


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


# Frames per second of an animation when --fps is not given.
DEFAULT_FPS = 4.0


def add_animation_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """``--animate PATH [--fps N] [--max-frames N]``, shared by kmeans and gmm;
    returns the group, for the command's own animation options."""
    group = parser.add_argument_group("animation")
    group.add_argument("--animate", type=animation_path, metavar="GIF",
                       help="write an animation of the fit, one frame per iteration (.gif, or .mp4 with ffmpeg)")
    # None when not given, so that check_animation_arguments can tell.
    group.add_argument("--fps", type=frame_rate, default=None,
                       help=f"animation frames per second, from 0.01 to 100 (default {DEFAULT_FPS:g})")
    group.add_argument("--max-frames", type=frame_count, default=None, metavar="N",
                       help="keep at most N frames (N >= 2), evenly spread, first and last included")
    return group


def check_animation_arguments(args: argparse.Namespace, own: dict[str, Any] | None = None) -> None:
    """The animation options apply only with --animate: given without it, they are
    a mistake, said before any work. Then each option not given takes its default.

    ``own`` maps a command's own animation options (attribute names, such as
    "half_steps") to their defaults; their parser default must be None or False.
    """
    defaults = {"fps": DEFAULT_FPS, "max_frames": None, **(own or {})}
    if not getattr(args, "animate", None):
        given = [f"--{name.replace('_', '-')}" for name in defaults
                 if getattr(args, name, None) not in (None, False)]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise UsageError(f"{', '.join(given)} {verb} only with --animate")
    for name, default in defaults.items():
        if getattr(args, name, None) is None:
            setattr(args, name, default)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], left: Sequence[int] = ()) -> str:
    """A plain text table, right-aligned (numbers) except the columns whose
    indices are in ``left`` (text)."""
    cells = [[str(h) for h in headers]] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) if i in left else cell.rjust(width)
                       for i, (cell, width) in enumerate(zip(row, widths))).rstrip()
             for row in cells]
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
