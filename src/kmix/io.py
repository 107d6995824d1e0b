"""Reading data, saving and loading fitted models, writing files atomically.

Nothing here ever unpickles: ``.npy``/``.npz`` files are read with
``allow_pickle=False`` and models are stored as JSON metadata plus plain arrays in
one ``.npz`` file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from . import datasets
from ._validation import _check_shape, check_array, is_dask_array, nonfinite_message
from .exceptions import DataError

__all__ = ["load_data", "save_model", "load_model", "atomic_write", "DATA_EXTENSIONS", "NpyRows"]

DATA_EXTENSIONS = (".npy", ".npz", ".csv", ".tsv", ".txt")
# chunks="auto": chunks of about this many bytes (dask's own default size).
AUTO_CHUNK_BYTES = 128 * 2**20


def _split_npz_key(source: str) -> tuple[str, str | None]:
    """``"file.npz:key"`` -> ("file.npz", "key"); anything else -> (source, None)."""
    head, sep, key = source.rpartition(":")
    if sep and head.lower().endswith(".npz") and key and "/" not in key and "\\" not in key:
        return head, key
    return source, None


def load_data(source: Any, dtype: Any = np.float64, chunks: Any = None) -> Any:
    """Load a data set as a C-contiguous 2-D float array, or as a dask array.

    Parameters
    ----------
    source : str or path-like
        A ``.npy`` file, a ``.npz`` file (its only array, or ``file.npz:key``), a
        ``.csv``/``.tsv``/``.txt`` file of numbers with an optional single header
        line, or the name of a bundled dataset (see :func:`kmix.datasets.names`).
        With ``chunks``, also a folder of ``.npy`` files with the same columns.
    dtype : numpy dtype, default float64
        float64 or float32.
    chunks : None, int, "auto" or tuple of int
        None (the default): a numpy array in memory. Otherwise a dask array cut
        along rows only: an int is the rows per chunk, "auto" makes chunks of about
        128 MiB, a tuple gives the rows of each chunk. A ``.npy`` file is
        memory-mapped and each chunk read from it when computed, so the file never
        has to fit in memory (the dask workers must see the same path). A folder
        is read as one array, one chunk per file in natural name order (part2
        before part10); an int ``chunks`` also cuts longer files. Other files and
        bundled datasets are read into memory, then cut. Needs the ``dask`` extra.

    Returns
    -------
    ndarray of shape (n_samples, n_features), or a dask array of that shape

    Raises
    ------
    DataError
        Naming the file and the problem: missing file, unknown extension, pickled
        objects, several arrays in an .npz with no key, a non-numeric cell (with
        its row and column), NaN or inf, wrong number of dimensions, no rows, no
        columns, an empty file. With ``chunks``, everything but NaN and inf is
        found at once, with the same message; NaN or inf in a ``.npy`` file raise
        the same DataError (the count and first row in the whole file) when the
        chunk holding them is computed.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float64 or float32, got {dtype}")
    chunks = _check_chunks(chunks)
    text = os.fspath(source)
    path_text, key = _split_npz_key(text)
    path = Path(path_text)
    if not path.exists():
        if key is None and text in datasets.DATASETS:
            return _maybe_chunked(datasets.load(text).astype(dtype, copy=False), chunks, text)
        known = ", ".join(datasets.DATASETS)
        raise DataError(f"{path_text}: no such file (and not a bundled dataset: {known})")
    if path.is_dir():
        if chunks is None:
            raise DataError(
                f"{path_text}: is a folder, not a data file (a folder of .npy files is read "
                "as one dask array: pass chunks=)"
            )
        return _open_npy_folder(path, path_text, dtype, chunks)
    suffix = path.suffix.lower()
    if suffix not in DATA_EXTENSIONS:
        raise DataError(
            f"{path_text}: unknown extension {suffix or '(none)'!r}; "
            f"expected one of {', '.join(DATA_EXTENSIONS)} or a bundled dataset name"
        )
    if path.stat().st_size == 0:
        raise DataError(f"{path_text}: the file is empty")
    if suffix == ".npy" and chunks is not None:
        reader = _npy_reader(path, path_text, dtype)
        from .backends import dask_session as dask_backend

        row_chunks = _row_chunks(reader.shape, dtype, chunks, path_text)
        return dask_backend.array_from_readers([reader], [row_chunks])
    if suffix == ".npy":
        array = _read_npy(path)
    elif suffix == ".npz":
        array = _read_npz(path, key)
    else:
        array = _read_text(path)
    return _maybe_chunked(check_array(array, dtype=dtype, source=path_text), chunks, path_text)


def _check_chunks(chunks: Any) -> Any:
    """None, "auto", a positive int or a tuple of non-negative ints; else a ValueError."""
    if chunks is None or chunks == "auto":
        return chunks
    if isinstance(chunks, (int, np.integer)) and not isinstance(chunks, bool) and chunks >= 1:
        return int(chunks)
    if isinstance(chunks, (tuple, list)) and chunks and all(
        isinstance(c, (int, np.integer)) and not isinstance(c, bool) and c >= 0 for c in chunks
    ):
        return tuple(int(c) for c in chunks)
    raise ValueError(
        "chunks must be None, 'auto', a positive number of rows per chunk or a tuple of "
        f"row counts; got {chunks!r}"
    )


def _row_chunks(shape: tuple[int, int], dtype: np.dtype, chunks: Any, where: str) -> tuple[int, ...]:
    """The rows of each chunk of an (n, d) array: ``chunks`` resolved."""
    n, d = shape
    if isinstance(chunks, tuple):
        if sum(chunks) != n:
            raise ValueError(f"chunks {chunks} add up to {sum(chunks)} rows, but {where} has {n}")
        return chunks
    if chunks == "auto":
        chunks = max(1, AUTO_CHUNK_BYTES // max(1, d * dtype.itemsize))
    if n == 0:
        return (0,)
    return tuple(min(chunks, n - start) for start in range(0, n, chunks))


def _maybe_chunked(X: np.ndarray, chunks: Any, where: str) -> Any:
    if chunks is None:
        return X
    from .backends import dask_session as dask_backend

    return dask_backend.from_array(X, _row_chunks(X.shape, X.dtype, chunks, where))


class NpyRows:
    """The rows of a 2-D ``.npy`` file, read through a memory map only when asked for.

    Dask slices it as it would an array (``shape``, ``dtype``, ``ndim``,
    ``__getitem__``); it pickles as its path and header, so worker processes can
    open the file themselves (they must see the same path), and the map is closed
    after each read, so no worker keeps the file's pages. Each read checks that
    its values are finite; when one is not, the whole file is scanned so that the
    DataError gives the same count and first row as loading the file in memory.

    Parameters
    ----------
    path : str
    where : str
        How messages name the file (``"path: "``).
    shape : (n_rows, n_columns)
    dtype : numpy dtype the rows are converted to (float32 or float64)
    """

    ndim = 2

    def __init__(self, path: str, where: str, shape: tuple[int, int], dtype: np.dtype) -> None:
        self.path = path
        self.where = where
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        status = os.stat(path)
        self._stamp = (status.st_size, status.st_mtime_ns)

    def __getitem__(self, key: Any) -> np.ndarray:
        mapped = np.load(self.path, mmap_mode="r", allow_pickle=False)
        try:
            block = np.array(mapped[key], dtype=self.dtype, order="C")
        finally:
            del mapped  # unmaps the file: its pages leave this process
        # A sum is finite when every term is (one pass, no temporary array); only
        # when it is not, the values are checked one by one.
        with np.errstate(over="ignore", invalid="ignore"):
            total = block.sum()
        if not np.isfinite(total) and not np.isfinite(block).all():
            raise DataError(self._nonfinite_message())
        return block

    def _nonfinite_message(self) -> str:
        # Only on the error path: count over the whole file, as check_array does.
        mapped = np.load(self.path, mmap_mode="r", allow_pickle=False)
        step = max(1, 2**24 // max(1, self.shape[1] * self.dtype.itemsize))
        count, first = 0, -1
        for start in range(0, self.shape[0], step):
            bad = ~np.isfinite(np.asarray(mapped[start:start + step], dtype=self.dtype))
            count += int(bad.sum())
            if first < 0 and bad.any():
                first = start + int(np.flatnonzero(bad.any(axis=1))[0])
        del mapped
        return nonfinite_message(self.where, count, first)

    def __dask_tokenize__(self) -> tuple:
        return ("kmix.io.NpyRows", self.path, self.dtype.str, self.shape, self._stamp)

    def __repr__(self) -> str:
        return f"NpyRows({self.path!r}, shape={self.shape}, dtype={self.dtype})"


def _npy_reader(path: Path, path_text: str, dtype: np.dtype, min_samples: int = 1) -> NpyRows:
    """Check a .npy file's header as loading it would, and return its lazy reader."""
    mapped = _read_npy(path, mmap=True)
    where = f"{path_text}: "
    _check_shape(tuple(mapped.shape), where, min_samples, 1)
    shape = mapped.shape
    del mapped
    return NpyRows(os.fspath(path), where, shape, dtype)


def _natural_key(path: Path) -> list:
    """Sort key that puts part2 before part10."""
    return [int(piece) if piece.isdigit() else piece.lower() for piece in re.split(r"(\d+)", path.name)]


def _open_npy_folder(path: Path, path_text: str, dtype: np.dtype, chunks: Any) -> Any:
    if isinstance(chunks, tuple):
        raise ValueError(
            "chunks as a tuple of row counts applies to one .npy file; a folder is read "
            "one chunk per file (an int also cuts longer files)"
        )
    files = sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".npy"), key=_natural_key)
    if not files:
        raise DataError(f"{path_text}: the folder holds no .npy files")
    readers: list[NpyRows] = []
    for file in files:
        if file.stat().st_size == 0:
            raise DataError(f"{file}: the file is empty")
        reader = _npy_reader(file, str(file), dtype, min_samples=0)
        if readers and reader.shape[1] != readers[0].shape[1]:
            raise DataError(
                f"{file}: has {reader.shape[1]} columns, but {files[0].name} has "
                f"{readers[0].shape[1]}; every file of a folder must have the same columns"
            )
        readers.append(reader)
    _check_shape((sum(r.shape[0] for r in readers), readers[0].shape[1]), f"{path_text}: ", 1, 1)
    if chunks == "auto":
        row_chunks = [(r.shape[0],) for r in readers]
    else:
        row_chunks = [_row_chunks(r.shape, dtype, chunks, r.path) for r in readers]
    from .backends import dask_session as dask_backend

    return dask_backend.array_from_readers(readers, row_chunks)


def _read_npy(path: Path, mmap: bool = False) -> np.ndarray:
    """The array of a .npy file (memory-mapped read-only with ``mmap``), or a DataError."""
    with open(path, "rb") as handle:
        if handle.read(6) != b"\x93NUMPY":
            raise DataError(f"{path}: not a valid .npy file (no NumPy header)")
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc) or "Python objects" in str(exc):
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
        if len(numbered) == 1 and any(_is_number(c) for c in first_cells):
            # The only line, with numbers in it: a row with a bad cell, not a header.
            column, cell = next((j, c) for j, c in enumerate(first_cells, start=1) if not _is_number(c))
            shown = cell if cell else "(empty)"
            raise DataError(
                f"{path}: line {numbered[0][0]}, column {column}: cannot read {shown!r} as a number"
            )
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
        # mkstemp makes the file private (0600); give the result the permissions a
        # plain open() would (0666 less the umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
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
        elif key == "client" and not isinstance(value, str):
            params[key] = None  # a live dask client: where a fit ran, not what it found
        else:
            params[key] = _jsonable(value)
    fitted: dict[str, Any] = {}
    for key, value in vars(model).items():
        if not key.endswith("_") or key.startswith("_") or key == "history_":
            continue
        if is_dask_array(value):
            value = np.asarray(value)  # computed with the active dask scheduler
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
