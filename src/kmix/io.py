"""Reading data, saving and loading fitted models, writing files atomically.

Nothing here ever unpickles: ``.npy``/``.npz`` files are read with
``allow_pickle=False`` and models are stored as JSON metadata plus plain arrays in
one ``.npz`` file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from . import datasets
from ._validation import check_array
from .exceptions import DataError

__all__ = ["load_data", "save_model", "load_model", "atomic_write", "DATA_EXTENSIONS"]

DATA_EXTENSIONS = (".npy", ".npz", ".csv", ".tsv", ".txt")


def _split_npz_key(source: str) -> tuple[str, str | None]:
    """``"file.npz:key"`` -> ("file.npz", "key"); anything else -> (source, None)."""
    head, sep, key = source.rpartition(":")
    if sep and head.lower().endswith(".npz") and key and "/" not in key and "\\" not in key:
        return head, key
    return source, None


def load_data(source: Any, dtype: Any = np.float64) -> np.ndarray:
    """Load a data set as a C-contiguous 2-D float array.

    Parameters
    ----------
    source : str or path-like
        A ``.npy`` file, a ``.npz`` file (its only array, or ``file.npz:key``), a
        ``.csv``/``.tsv``/``.txt`` file of numbers with an optional single header
        line, or the name of a bundled dataset (see :func:`kmix.datasets.names`).
    dtype : numpy dtype, default float64
        float64 or float32.

    Returns
    -------
    ndarray of shape (n_samples, n_features)

    Raises
    ------
    DataError
        Naming the file and the problem: missing file, unknown extension, pickled
        objects, several arrays in an .npz with no key, a non-numeric cell (with
        its row and column), NaN or inf, wrong number of dimensions, no rows, no
        columns, an empty file.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float64 or float32, got {dtype}")
    text = os.fspath(source)
    path_text, key = _split_npz_key(text)
    path = Path(path_text)
    if not path.exists():
        if key is None and text in datasets.DATASETS:
            return datasets.load(text).astype(dtype, copy=False)
        known = ", ".join(datasets.DATASETS)
        raise DataError(f"{path_text}: no such file (and not a bundled dataset: {known})")
    if path.is_dir():
        raise DataError(f"{path_text}: is a folder, not a data file")
    suffix = path.suffix.lower()
    if suffix not in DATA_EXTENSIONS:
        raise DataError(
            f"{path_text}: unknown extension {suffix or '(none)'!r}; "
            f"expected one of {', '.join(DATA_EXTENSIONS)} or a bundled dataset name"
        )
    if path.stat().st_size == 0:
        raise DataError(f"{path_text}: the file is empty")
    if suffix == ".npy":
        array = _read_npy(path)
    elif suffix == ".npz":
        array = _read_npz(path, key)
    else:
        array = _read_text(path)
    return check_array(array, dtype=dtype, source=path_text)


def _read_npy(path: Path) -> np.ndarray:
    with open(path, "rb") as handle:
        if handle.read(6) != b"\x93NUMPY":
            raise DataError(f"{path}: not a valid .npy file (no NumPy header)")
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise DataError(
                f"{path}: holds pickled Python objects (an object array); kmix never "
                "unpickles data: save a numeric array instead"
            ) from exc
        raise DataError(f"{path}: not a valid .npy file ({exc})") from exc
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: not a valid .npy file ({exc})") from exc
    return _numeric(array, str(path))


def _read_npz(path: Path, key: str | None) -> np.ndarray:
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a valid .npz file ({exc})") from exc
    with archive:
        keys = list(archive.files)
        if key is None:
            if not keys:
                raise DataError(f"{path}: the archive holds no arrays")
            if len(keys) > 1:
                raise DataError(
                    f"{path}: holds {len(keys)} arrays ({', '.join(keys)}); "
                    f"choose one as {path}:KEY"
                )
            key = keys[0]
        elif key not in keys:
            raise DataError(f"{path}: has no array {key!r}; it holds {', '.join(keys) or 'none'}")
        try:
            array = archive[key]
        except ValueError as exc:
            raise DataError(
                f"{path}:{key}: holds pickled Python objects (an object array); kmix never "
                "unpickles data: save a numeric array instead"
            ) from exc
    return _numeric(array, f"{path}:{key}")


def _numeric(array: np.ndarray, where: str) -> np.ndarray:
    if array.dtype.kind not in "fiub":
        raise DataError(f"{where}: holds {array.dtype} values, not numbers")
    return array


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


def _read_text(path: Path) -> np.ndarray:
    """Read a delimited text file of numbers, with an optional single header line.

    The fast path is numpy's parser; when it fails, the file is scanned line by
    line to report the first bad cell by its line and column.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a text file (cannot decode as UTF-8)") from exc
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise DataError(f"{path}: the file is empty (no data lines)")
    delimiter = _delimiter(numbered[0][1], path.suffix.lower())
    first_cells = _split(numbered[0][1], delimiter)
    if not all(_is_number(c) for c in first_cells):
        numbered = numbered[1:]  # a header line
        if not numbered:
            return np.empty((0, len(first_cells)))
    try:
        array = np.loadtxt(
            [line for _, line in numbered], delimiter=delimiter, dtype=np.float64, ndmin=2
        )
        return array
    except ValueError:
        pass
    width = None
    for line_number, line in numbered:
        cells = _split(line, delimiter)
        if width is None:
            width = len(cells)
        elif len(cells) != width:
            raise DataError(
                f"{path}: line {line_number} has {len(cells)} columns, expected {width}"
            )
        for column, cell in enumerate(cells, start=1):
            if not _is_number(cell):
                shown = cell if cell else "(empty)"
                raise DataError(
                    f"{path}: line {line_number}, column {column}: cannot read {shown!r} as a number"
                )
    raise DataError(f"{path}: could not be parsed as a table of numbers")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    An interrupted or failed write never leaves a half-written ``path`` behind.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise DataError(f"{target}: the folder {folder} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, mode) as stream:
            yield stream
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# --- fitted models --------------------------------------------------------------

_FORMAT = "kmix-model"
_VERSION = 1


def _registry() -> dict[str, type]:
    from . import models

    return {cls.__name__: cls for cls in models.SAVABLE_MODELS}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


def save_model(model: Any, path: str | os.PathLike) -> None:
    """Save a fitted estimator as one ``.npz`` file: JSON metadata plus arrays.

    Parameters, fitted arrays and scalars, and the per-iteration history are kept;
    the file loads back with :func:`load_model` without unpickling anything.
    """
    name = type(model).__name__
    if name not in _registry():
        raise ValueError(f"cannot save a {name}; savable models: {', '.join(_registry())}")
    arrays: dict[str, np.ndarray] = {}
    params: dict[str, Any] = {}
    for key, value in model.get_params(deep=False).items():
        if isinstance(value, np.ndarray):
            arrays[f"param/{key}"] = value
        elif callable(value) or isinstance(value, (np.random.Generator, np.random.RandomState)):
            params[key] = None  # not storable; the fitted state does not depend on it
        else:
            params[key] = _jsonable(value)
    fitted: dict[str, Any] = {}
    for key, value in vars(model).items():
        if not key.endswith("_") or key.startswith("_") or key == "history_":
            continue
        if isinstance(value, np.ndarray):
            arrays[f"fitted/{key}"] = value
        else:
            fitted[key] = _jsonable(value)
    history = getattr(model, "history_", None)
    history_meta = None
    if history is not None:
        history_meta = history.to_dict(arrays)
    meta = {
        "format": _FORMAT,
        "version": _VERSION,
        "class": name,
        "params": params,
        "fitted": fitted,
        "history": history_meta,
    }
    arrays["__meta__"] = np.array(json.dumps(meta))
    with atomic_write(path) as stream:
        np.savez(stream, **arrays)


def load_model(path: str | os.PathLike) -> Any:
    """Load an estimator saved by :func:`save_model`."""
    from .models.history import History

    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError as exc:
        raise DataError(f"{path}: no such file") from exc
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a kmix model file ({exc})") from exc
    with archive:
        if "__meta__" not in archive.files:
            raise DataError(f"{path}: not a kmix model file (no metadata)")
        meta = json.loads(str(archive["__meta__"]))
        if meta.get("format") != _FORMAT:
            raise DataError(f"{path}: not a kmix model file")
        cls = _registry().get(meta["class"])
        if cls is None:
            raise DataError(f"{path}: unknown model class {meta['class']!r}")
        params = dict(meta["params"])
        arrays = {key: archive[key] for key in archive.files if key != "__meta__"}
    for key, value in arrays.items():
        if key.startswith("param/"):
            params[key[len("param/"):]] = value
    model = cls(**params)
    for key, value in meta["fitted"].items():
        setattr(model, key, value)
    for key, value in arrays.items():
        if key.startswith("fitted/"):
            setattr(model, key[len("fitted/"):], value)
    if meta.get("history") is not None:
        model.history_ = History.from_dict(meta["history"], arrays)
    return model
