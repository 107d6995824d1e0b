"""Reading a delimited text file of numbers (``.csv``, ``.tsv``, ``.txt``) for
:mod:`kmix._datafiles`: UTF-8 with or without a byte-order mark, one optional
header line, a bad cell reported by its line and column."""

from __future__ import annotations

import codecs
import os

import numpy as np

from ._datafiles import _os_reason, data_error, open_binary
from .exceptions import DataError

def _delimiter(sample_line: str, suffix: str) -> str | None:
    if suffix == ".csv":
        return ","
    if suffix == ".tsv":
        return "\t"
    if "," in sample_line:
        return ","
    if "\t" in sample_line:
        return "\t"
    return None  # runs of whitespace


def _split(line: str, delimiter: str | None) -> list[str]:
    return [cell.strip() for cell in (line.split(delimiter) if delimiter else line.split())]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _bad_cell(shown: str, line_number: int, cells: list[str]) -> DataError | None:
    for column, cell in enumerate(cells, start=1):
        if not _is_number(cell):
            return data_error(
                shown,
                f"line {line_number}, column {column}: cannot read {cell if cell else '(empty)'!r} "
                "as a number",
            )
    return None


def _decode(raw: bytes, shown: str) -> str:
    """UTF-8 text, with or without a byte-order mark."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise data_error(
            shown,
            f"not UTF-8 text (line {line}: byte 0x{raw[exc.start]:02x} is not UTF-8); save the "
            "file as UTF-8",
        ) from exc


def read_text(path: str, shown: str) -> np.ndarray:
    """A delimited text file of numbers, with an optional single header line.

    The first line is a header only when none of its cells is a number (a line of
    names); a first line mixing numbers and other cells is a row with a bad cell
    and is reported as any other. The fast path is numpy's parser; when it fails,
    the file is scanned line by line to report the first bad cell by its line and
    column.
    """
    with open_binary(path, shown) as stream:
        try:
            raw = stream.read()
        except OSError as exc:
            raise data_error(shown, _os_reason(exc, path)) from exc
    lines = _decode(raw, shown).splitlines()
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise data_error(shown, "the file is empty (no data lines)")
    delimiter = _delimiter(numbered[0][1], os.path.splitext(path)[1].lower())
    first_cells = _split(numbered[0][1], delimiter)
    if not any(_is_number(cell) for cell in first_cells):
        numbered = numbered[1:]  # a header line
        if not numbered:
            return np.empty((0, len(first_cells)))
    try:
        return np.loadtxt([line for _, line in numbered], delimiter=delimiter, dtype=np.float64, ndmin=2)
    except ValueError:
        pass
    width = None
    for line_number, line in numbered:
        cells = _split(line, delimiter)
        if width is None:
            width = len(cells)
        elif len(cells) != width:
            raise data_error(shown, f"line {line_number} has {len(cells)} columns, expected {width}")
        error = _bad_cell(shown, line_number, cells)
        if error is not None:
            raise error
    raise data_error(shown, "could not be parsed as a table of numbers")
