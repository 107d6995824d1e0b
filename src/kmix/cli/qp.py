"""``kmix qp``: solve min xᵀMx + xᵀh subject to Bx >= c from files or inline lists."""

from __future__ import annotations

import argparse
import ast
import json
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import DataError
from .._paths import shorten
from ..io import locate, read_located
from ._common import HelpFormatter, UsageError, format_table, say

if TYPE_CHECKING:  # the solver is loaded by the run that solves
    from ..models.qp import QPResult

EPILOG = """examples:
  kmix qp --M M.npy --h h.npy --b b.npy --c 1.5
  kmix qp --M "[[2, 0], [0, 3]]" --h "[1, 2]" --b "[1, 1]" --c 1.5 --json
  kmix qp --M M.csv --h h.txt --B B.csv --c c.txt
  kmix qp --M M.npy --h h.npy --B B.npy --c 0 --A-eq A.npy --b-eq 1

Each operand is a .npy, .npz (file.npz:key picks an array), .csv, .tsv or .txt
file, or an inline number or list such as "[1, 2]" or "[[2, 0], [0, 3]]".
The objective has no 1/2: it is x'Mx + x'h.
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "qp",
        help="solve min x'Mx + x'h subject to Bx >= c through its dual",
        description=(
            "Minimise x'Mx + x'h subject to b'x >= c (or Bx >= c for several rows, and "
            "optionally A_eq x = b_eq), M symmetric positive definite. Prints x, the "
            "multipliers, the objective and which constraints are active."
        ),
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--M", dest="M", required=True, metavar="MATRIX",
                        help="the (n, n) symmetric positive definite matrix M")
    parser.add_argument("--h", dest="h", required=True, metavar="VECTOR",
                        help="the linear term h, n entries")
    constraint = parser.add_mutually_exclusive_group(required=True)
    constraint.add_argument("--b", dest="b", metavar="VECTOR",
                            help="one constraint b'x >= c, b with n entries")
    constraint.add_argument("--B", dest="B", metavar="MATRIX",
                            help="several constraints Bx >= c, B of shape (m, n)")
    parser.add_argument("--c", dest="c", required=True, metavar="NUMBER|VECTOR",
                        help="right-hand side: a number, or m entries with --B")
    parser.add_argument("--A-eq", dest="A_eq", metavar="MATRIX",
                        help="equality constraints A_eq x = b_eq, shape (p, n)")
    parser.add_argument("--b-eq", dest="b_eq", metavar="NUMBER|VECTOR",
                        help="right-hand side of the equalities: a number or p entries")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.A_eq is None) != (args.b_eq is None):
        raise UsageError("--A-eq and --b-eq go together: give both or neither")
    M = read_operand(args.M, "--M", ndim=2)
    h = read_operand(args.h, "--h", ndim=1)
    if args.B is not None:
        B = read_operand(args.B, "--B", ndim=2)
        c = read_operand(args.c, "--c", ndim=None)
    else:
        B = read_operand(args.b, "--b", ndim=1)
        c = read_operand(args.c, "--c", ndim=0)
    equality: dict[str, Any] = {}
    if args.A_eq is not None:
        equality["A_eq"] = read_operand(args.A_eq, "--A-eq", ndim=2)
        equality["b_eq"] = read_operand(args.b_eq, "--b-eq", ndim=None)
    from ..models.qp import solve_qp

    result = solve_qp(M, h, B, c, **equality)
    if args.json:
        say(json.dumps(result.to_dict(), indent=2))
    else:
        say(format_result(result))
    return 0


def format_result(result: QPResult) -> str:
    """The text report: x, the objective, one row per constraint, the residuals."""
    multipliers = np.atleast_1d(result.multiplier)
    active = np.atleast_1d(result.active)
    rows = [
        [i, float(value), "yes" if flag else "no"]
        for i, (value, flag) in enumerate(zip(multipliers, active))
    ]
    lines = [
        f"x = {_vector_text(result.x)}",
        f"objective = {result.objective:.10g}   (dual objective {result.dual_objective:.10g})",
        "",
        format_table(["constraint", "lambda", "active"], rows),
    ]
    if result.equality_multiplier is not None:
        lines += ["", f"equality multipliers nu = {_vector_text(result.equality_multiplier)}"]
    residuals = result.residuals
    lines += [
        "",
        f"KKT residuals: stationarity {residuals.stationarity:.3g}, primal feasibility "
        f"{residuals.primal_feasibility:.3g}, complementarity {residuals.complementarity:.3g}",
    ]
    return "\n".join(lines)


def _vector_text(vector: np.ndarray) -> str:
    return "[" + ", ".join(f"{float(value):.10g}" for value in vector) + "]"


# --- reading operands ---------------------------------------------------------------


def read_operand(text: str, option: str, *, ndim: int | None) -> np.ndarray:
    """A number, vector or matrix from an inline list or a file.

    Parameters
    ----------
    text : str
        An inline number or list (``"1.5"``, ``"[1, 2]"``, ``"[[2, 0], [0, 3]]"``) or
        a ``.npy``, ``.npz`` (``file.npz:key``), ``.csv``, ``.tsv`` or ``.txt`` file.
    option : str
        The option's name, for error messages.
    ndim : {0, 1, 2} or None
        The dimension wanted: a single-row or single-column table read as a vector
        when 1, a vector read as one row when 2; None keeps what was read
        (a number or a vector).

    Returns
    -------
    ndarray, float64

    Raises
    ------
    DataError
        Naming the option: text that is neither a number, a list nor an existing
        file; a list nested deeper than a matrix; an unreadable file (as
        :func:`kmix.io.read_array` reports it); the wrong number of dimensions.
    """
    stripped = text.strip()
    if not stripped:
        raise DataError(f"{option} is empty: give a number, a list such as \"[1, 2]\" or a file")
    try:
        inline = _parse_inline(stripped)
    except DataError as exc:
        raise DataError(f"{option}: {exc}") from exc
    if inline is not None:
        array, source = inline, f"{option} {shorten(stripped)!r}"
    else:
        array, source = _read_file(stripped, option), f"{option} {shorten(stripped)}"
    return _shape_as(array, ndim, source)


# An operand is at most a matrix: two levels of brackets. Deeper nesting is refused
# before parsing, as the parsers recurse once per level.
_MAX_NESTING = 2


def _nesting(text: str) -> int:
    """The deepest bracket nesting in ``text``."""
    depth = deepest = 0
    for character in text:
        if character in "[(":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "])":
            depth -= 1
    return deepest


def _parse_inline(text: str) -> np.ndarray | None:
    """A number or nested list written out, or None where ``text`` is not one."""
    if not text or not (text[0] in "[(+-.0123456789" or text.lower() in ("nan", "inf", "-inf")):
        return None
    shown = shorten(text)
    if text[0] in "[(":
        deepest = _nesting(text)
        if deepest > _MAX_NESTING:
            raise DataError(
                f"{shown!r} is nested {deepest} brackets deep; an operand is a number, a "
                "vector such as [1, 2] or a matrix such as [[2, 0], [0, 3]]"
            )
    value: Any
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            if text[0] in "[(":
                raise DataError(f"cannot read {shown!r} as a list of numbers") from None
            try:
                value = float(text)
            except ValueError:
                return None  # perhaps a file name such as 1.csv
    odd = _not_a_number(value)
    if odd is not None:
        # numpy would turn '1' or True into 1.0: a quoted or boolean entry is a typo.
        raise DataError(f"cannot read {shown!r} as numbers: {odd!r} is not a number")
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"cannot read {shown!r} as numbers ({exc})") from exc
    return array


def _not_a_number(value: Any) -> Any:
    """The first entry of a parsed operand that is not an int or a float, or None."""
    if isinstance(value, (list, tuple)):
        for item in value:
            odd = _not_a_number(item)
            if odd is not None:
                return odd
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return None


def _read_file(text: str, option: str) -> np.ndarray:
    """The array of a data file, read as :func:`kmix.io.read_array` reads it."""
    try:
        located = locate(text)
        if located is None:
            raise DataError(
                f"{shorten(text)!r} is neither a number, a list such as \"[1, 2]\", "
                "nor an existing file"
            )
        array = read_located(located)
        if array.size == 0:
            raise DataError(f"{located.shown}: holds no numbers")
    except DataError as exc:
        raise DataError(f"{option}: {exc}") from exc
    return np.asarray(array, dtype=np.float64)


def _shape_as(array: np.ndarray, ndim: int | None, source: str) -> np.ndarray:
    if ndim == 1 and array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)  # one row or one column of a table
    elif ndim == 2 and array.ndim == 1:
        array = array.reshape(1, -1)  # a single constraint row
    elif ndim == 0 and array.size == 1:
        array = array.reshape(())
    elif ndim is None and array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    wanted = {0: "a number", 1: "a vector", 2: "a matrix", None: "a number or a vector"}[ndim]
    if (ndim is not None and array.ndim != ndim) or (ndim is None and array.ndim > 1):
        raise DataError(f"{source}: expected {wanted}, got an array of shape {array.shape}")
    return array
