"""What the fitting commands share: the ``--dask`` options, their checks and the
client, a progress bar for long fits, and the run itself (load, fit, report,
write every output or none)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator, Sequence
from typing import IO, Any

from . import _common
from ._common import UsageError

__all__ = ["DEFAULT_CHUNK_ROWS", "add_dask_arguments", "check_dask_arguments", "dask_client", "load_input",
           "Progress", "run_fit"]

# Rows per chunk with --dask when --chunks is not given.
DEFAULT_CHUNK_ROWS = 100_000


def add_dask_arguments(parser: argparse.ArgumentParser) -> None:
    """--dask, --scheduler and --chunks (shared by the fitting commands)."""
    group = parser.add_argument_group("out of core (dask)")
    group.add_argument("--dask", action="store_true",
                       help="fit chunk by chunk with dask.distributed (a .npy file is memory-mapped; "
                            "DATA may be a folder of .npy files); needs kmix[dask]")
    group.add_argument("--scheduler", metavar="ADDRESS",
                       help="a running dask scheduler, e.g. tcp://HOST:8786 (default: a local cluster, "
                            "one worker process per core)")
    group.add_argument("--chunks", type=_common.positive_int, metavar="ROWS",
                       help=f"rows per chunk with --dask (default {DEFAULT_CHUNK_ROWS})")


def check_dask_arguments(args: argparse.Namespace, in_memory: Sequence[str] = ("plot",)) -> None:
    """--scheduler and --chunks make sense only with --dask; the options named in
    ``in_memory`` (attribute names, e.g. "plot", "density_plot") draw every point,
    so they are refused with --dask."""
    if not args.dask and (args.scheduler or args.chunks):
        raise UsageError("--scheduler and --chunks apply only with --dask")
    if not args.dask:
        return
    for name in in_memory:
        if getattr(args, name, None):
            option = "--" + name.replace("_", "-")
            raise UsageError(
                f"{option} draws every point, so it needs the data in memory: leave out --dask or {option}"
            )


def load_input(args: argparse.Namespace) -> Any:
    """DATA as a numpy array, or with --dask as a dask array of --chunks rows."""
    import numpy as np

    from ..io import load_data

    dtype = np.float32 if args.float32 else np.float64
    if args.dask:
        return load_data(args.data, dtype=dtype, chunks=args.chunks or DEFAULT_CHUNK_ROWS)
    return load_data(args.data, dtype=dtype)


def run_fit(args: argparse.Namespace, *, in_memory: Sequence[str], output_options: Sequence[str],
            fit_and_report: Any, write_outputs: Any) -> int:
    """A fitting command from its parsed arguments: the outputs reserved (and
    checked) before the data is loaded, the fit and its report, then every output
    written, all of them put in place or none (see :class:`._outputs.OutputFiles`).

    ``fit_and_report(args, X, client)`` returns the fitted model;
    ``write_outputs(args, X, model, temporary)`` writes each output to its
    temporary path."""
    from ._outputs import OutputFiles

    check_dask_arguments(args, in_memory=in_memory)
    with OutputFiles(data=args.data) as outputs:
        temporary = outputs.add_options(args, output_options)
        X = load_input(args)
        with dask_client(args) as client:
            model = fit_and_report(args, X, client)
            with outputs.writing():
                write_outputs(args, X, model, temporary)
    for path in outputs.written:
        _common.say(f"wrote {path}")
    return 0


@contextlib.contextmanager
def dask_client(args: argparse.Namespace) -> Iterator[Any]:
    """The dask client to fit on with --dask (closed afterwards), or None without it.

    A local cluster started here logs nothing (an error ends as the one line
    ``kmix: error: ...``), except with --debug, where distributed's own log
    levels are kept next to the traceback.
    """
    if not args.dask:
        yield None
        return
    from ..backends.dask_session import client_session

    quiet = not getattr(args, "debug", False)
    with client_session(args.scheduler, quiet=quiet) as session:
        yield session.client


class Progress:
    """A one-line text progress bar over iterations, on a terminal, for long fits only.

    Used as the model's callback: nothing is drawn during the first ``delay``
    seconds (a short fit stays quiet), nor when ``stream`` is not a terminal.
    """

    def __init__(self, max_iter: int, label: str = "iteration", stream: IO[str] | None = None,
                 delay: float = 1.0, width: int = 30) -> None:
        self.max_iter = max_iter
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        self.delay = delay
        self.width = width
        self.start = time.monotonic()
        self.drawn = False
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, iteration: int, state: Any) -> None:
        if not self.enabled or time.monotonic() - self.start < self.delay:
            return
        filled = int(self.width * min(iteration, self.max_iter) / self.max_iter)
        bar = "#" * filled + "-" * (self.width - filled)
        detail = ""
        if hasattr(state, "ssd_assignment"):  # k-means
            detail = f"  SSD {state.ssd_assignment:.6g}, {state.n_changed} moved"
        elif hasattr(state, "log_likelihood"):  # a mixture
            detail = f"  log-likelihood {state.log_likelihood:.6g}"
        elapsed = time.monotonic() - self.start
        self.stream.write(f"\r[{bar}] {self.label} {iteration}/{self.max_iter}{detail}  {elapsed:.0f} s ")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """End the bar's line (if one was drawn)."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
