"""Entry point of the ``kmix`` command.

Errors the user can fix come out as one line, ``kmix: error: ...``, on stderr
with exit status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import warnings
from collections.abc import Sequence

from .._paths import shorten
from ..exceptions import KmixError
from ._common import HelpFormatter, UsageError

# Each subcommand lives in its own module exposing ``register(subparsers)``; the
# parser it adds sets ``func`` to the function that runs it.
COMMANDS = ("data", "kmeans", "gmm", "select", "demo", "qp")

EPILOG = """examples:
  kmix data info samples_3
  kmix kmeans samples_3 -k 8 --seed 42 --plot clusters.png --ssd-plot ssd.png
  kmix demo --out kmix-demo
"""


# A number in any form float() reads: 5, 5., .5, 1_000, 1e5, 1E+5, 1.5e-3, inf,
# infinity, nan (any case).
_NUMBER = (
    r"(?:(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?"
    r"|inf(?:inity)?|nan)"
)
# A negative number, or an inline list of numbers that starts with one ("-1,2").
_NEGATIVE_NUMBER = re.compile(
    rf"^-{_NUMBER}(?:\s*,\s*[+-]?{_NUMBER})*$", re.IGNORECASE
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``kmix ...: error: ...``.

    argparse takes a token that starts with "-" for an option unless its
    ``_negative_number_matcher`` calls it a number, and its own matcher knows only
    forms such as -5 and -.5 (newer versions any "-" and a digit, still not -inf):
    ``--c -1e5`` would end as "expected one argument". This parser accepts every
    form float() reads. argparse consults the matcher only while the parser has no
    option that looks like a negative number, and kmix defines none. Subparsers
    are made with their parent's class, so they share the matcher.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message: str):  # type: ignore[override]
        # Every error line starts "kmix: error:", whichever command found it.
        command = self.prog.partition(" ")[2]
        where = f"{command}: " if command else ""
        sys.stderr.write(f"kmix: error: {where}{message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kmix",
        description="Fit and see: k-means and Gaussian mixtures with every iteration recorded and drawn.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"kmix {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"kmix.cli.{name}").register(subparsers)
    _format_alike(parser)
    return parser


def _format_alike(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` and every parser under it kmix's help formatter (a
    subcommand registered with one of argparse's own still wraps its long lines)."""
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in set(action.choices.values()):
                _format_alike(subparser)


def _show_warning(debug: bool):
    """A ``warnings.showwarning`` for the command line: each warning as one line,
    ``kmix: warning: <message>``, on stderr; with ``--debug``, as Python shows it
    (category, file, line and source)."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        stream = sys.stderr if file is None else file
        if stream is None:
            return
        if debug:
            text = warnings.formatwarning(message, category, filename, lineno, line)
        else:
            text = "kmix: warning: " + " ".join(str(message).split()) + "\n"
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # stderr closed: nothing to say it on
            pass

    return show


def _os_error_message(exc: OSError) -> str:
    """An OSError that reached the command line, as one line: the file it is
    about and the reason, in lower case as the other messages."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.strerror:
        reason = reason[:1].lower() + reason[1:]
    if not exc.filename:
        return reason
    return f"{shorten(str(exc.filename))}: {reason}"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        # Warnings of the library (ConvergenceWarning, ...) shown as one line each;
        # the library itself never changes how warnings are shown.
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning(args.debug)
            return int(args.func(args) or 0)
    except (KmixError, UsageError, ValueError, OSError, MemoryError) as exc:
        if args.debug:
            raise
        if isinstance(exc, OSError) and not isinstance(exc, KmixError):
            message = _os_error_message(exc)
        else:
            message = str(exc) or type(exc).__name__
        sys.stderr.write(f"kmix: error: {message}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("kmix: interrupted\n")
        return 130
    except Exception as exc:  # a bug in kmix: still one line unless --debug
        if args.debug:
            raise
        sys.stderr.write(
            f"kmix: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)\n"
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
