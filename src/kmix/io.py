"""Reading data, saving and loading fitted models (:mod:`kmix._modelfiles`), writing files atomically.

Nothing here ever unpickles: ``.npy``/``.npz`` files are read from their headers
with pickled objects refused, and models are stored as JSON metadata plus plain
arrays in one ``.npz`` file. Every file is read through :func:`read_array` and
the helpers beside it (in ``kmix._datafiles``), so a malformed file gives the
same DataError whoever reads it.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from . import datasets
from ._datafiles import (
    DATA_EXTENSIONS,
    Located,
    NpzArchive,
    check_regular,
    data_error,
    file_status,
    locate,
    read_array,
    read_located,
    read_named,
    read_npy,
    split_npz_key,
)
from ._paths import shorten
from ._sparsefiles import is_sparse_archive
from ._modelfiles import load_model, save_model
from ._validation import _check_shape, check_array, nonfinite_message
from .exceptions import DataError

__all__ = [
    "load_data", "read_array", "save_model", "load_model", "atomic_write", "DATA_EXTENSIONS", "NpyRows",
    "Located", "locate", "read_located",
]

# chunks="auto": chunks of about this many bytes (dask's own default size).
AUTO_CHUNK_BYTES = 128 * 2**20


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
    ndarray of shape (n_samples, n_features), or a dask array of that shape, or a
    scipy.sparse CSR matrix of that shape for a sparse ``.npz``

    Raises
    ------
    DataError
        Naming the file and the problem: missing file, a name the system refuses
        (too long, no permission), a folder, pipe or device, unknown extension,
        pickled objects, several arrays in an .npz with no key, a damaged
        archive, a ``.npy`` header that asks for more bytes than the file holds,
        complex or structured values, text that is not UTF-8, a non-numeric cell
        (with its row and column), NaN or inf, wrong number of dimensions, no
        rows, no columns, an empty file. With ``chunks``, everything but NaN and inf is
        found at once, with the same message; NaN or inf in a ``.npy`` file raise
        the same DataError (the count and first row in the whole file) when the
        chunk holding them is computed.

    An ``.npz`` written by ``scipy.sparse.save_npz`` from a CSR or CSC matrix (or
    array) loads as a scipy.sparse CSR matrix (an array where an array was saved)
    in ``dtype``: its members are read without unpickling and checked against
    each other (a DataError names the file and the inconsistency). Sparse data
    stays in memory: with ``chunks`` such a file is a DataError.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float64 or float32, got {dtype}")
    chunks = _check_chunks(chunks)
    text = os.fspath(source)
    if not text:
        raise DataError("source is empty: give a data file or a bundled dataset name")
    located = locate(text)
    if located is None:
        if split_npz_key(text)[1] is None and text in datasets.DATASETS:
            return _maybe_chunked(datasets.load(text).astype(dtype, copy=False), chunks, text)
        known = ", ".join(datasets.DATASETS)
        raise data_error(
            shorten(split_npz_key(text)[0]), f"no such file (and not a bundled dataset: {known})"
        )
    path, _, shown, status = located
    if stat.S_ISDIR(status.st_mode):
        if chunks is None:
            raise data_error(
                shown,
                "is a folder, not a data file (a folder of .npy files is read as one dask "
                "array: pass chunks=)",
            )
        return _open_npy_folder(Path(path), shown, dtype, chunks)
    if chunks is not None and os.path.splitext(path)[1].lower() == ".npy":
        check_regular(status, shown)
        if status.st_size == 0:
            raise data_error(shown, "the file is empty")
        reader = _npy_reader(path, shown, status.st_size, dtype)
        from .backends import dask_session as dask_backend

        row_chunks = _row_chunks(reader.shape, dtype, chunks, shown)
        return dask_backend.array_from_readers([reader], [row_chunks])
    if chunks is not None and os.path.splitext(path)[1].lower() == ".npz":
        _refuse_chunked_sparse(located)
    array, where = read_named(located, sparse=True)
    if _is_sparse(array):
        return _checked_sparse(array, dtype, where)
    return _maybe_chunked(check_array(array, dtype=dtype, source=where), chunks, where)


def _is_sparse(X: Any) -> bool:
    """True for a scipy.sparse matrix or array, without importing scipy.sparse."""
    return type(X).__module__.startswith("scipy.sparse")


def _refuse_chunked_sparse(located: Located) -> None:
    """A DataError for ``chunks=`` with a file written by scipy.sparse.save_npz."""
    check_regular(located.status, located.shown)
    if located.key is not None or located.status.st_size == 0:
        return
    with NpzArchive(located.path, located.shown, located.status.st_size) as archive:
        sparse = is_sparse_archive(archive)
    if sparse:
        raise data_error(
            located.shown,
            "holds a sparse matrix, which kmix keeps in memory only (there is no sparse dask "
            "array to fit): load it without chunks=",
        )


def _checked_sparse(X: Any, dtype: np.dtype, where: str) -> Any:
    """A sparse matrix read from ``where`` as :func:`load_data` returns it: CSR, in
    ``dtype``, with at least one row and column and no NaN or inf."""
    from .backends.sparse import check_finite_sparse

    _check_shape(tuple(int(size) for size in X.shape), f"{where}: ", 1, 1)
    if X.dtype != dtype:
        X = X.astype(dtype)
    check_finite_sparse(X, where=f"{where}: ")
    return X


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

    def _mapped(self) -> np.ndarray:
        """The file memory-mapped, as its header was when the reader was made.

        Raises
        ------
        DataError
            Naming the file, when it no longer reads as that array: numpy's own
            messages would say a damaged file "contains pickled data".
        """
        try:
            mapped = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except OSError as exc:
            raise DataError(f"{self.where}cannot be read ({exc.strerror or exc})") from exc
        except (ValueError, EOFError, SyntaxError, TypeError) as exc:
            raise DataError(self._changed_message()) from exc
        if mapped.shape != self.shape or mapped.ndim != 2 or mapped.dtype.kind not in "fiub":
            raise DataError(self._changed_message())
        return mapped

    def _changed_message(self) -> str:
        return (f"{self.where}not a valid .npy file (corrupt or truncated): it no longer holds the "
                f"{self.shape[0]} x {self.shape[1]} array its header held when kmix opened it; was it "
                "changed during the fit?")

    def __getitem__(self, key: Any) -> np.ndarray:
        mapped = self._mapped()
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
        mapped = self._mapped()
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


def _npy_reader(path: str, shown: str, size: int, dtype: np.dtype, min_samples: int = 1) -> NpyRows:
    """Check a .npy file's header as loading it would, and return its lazy reader."""
    header = read_npy(path, shown, size, header_only=True)
    where = f"{shown}: "
    _check_shape(header.shape, where, min_samples, 1)
    return NpyRows(path, where, header.shape, dtype)


def _natural_key(path: Path) -> list:
    """Sort key that puts part2 before part10."""
    return [int(piece) if piece.isdigit() else piece.lower() for piece in re.split(r"(\d+)", path.name)]


def npy_folder_readers(source: str | os.PathLike, dtype: Any = np.float64) -> list[NpyRows]:
    """The ``.npy`` files of a folder (or one ``.npy`` file) as lazy row readers,
    their headers checked: each file 2-D and numeric, all with the same columns,
    at least one row in all. A reader's rows (``reader[start:stop]``) are read
    through a memory map when asked for, in ``dtype``, and checked to be finite.

    Raises
    ------
    DataError
        Naming the folder or the file: no such folder, no .npy file in it, an
        empty or damaged file, a file whose columns differ from the first's.
    """
    dtype = np.dtype(dtype)
    text = os.fspath(source)
    located = locate(text) if text else None
    if located is None:
        raise data_error(shorten(text), "no such folder")
    path, _, shown, status = located
    if stat.S_ISDIR(status.st_mode):
        return _npy_folder_readers(Path(path), shown, dtype)
    if os.path.splitext(path)[1].lower() != ".npy":
        raise data_error(shown, "is not a folder of .npy files (nor one .npy file)")
    check_regular(status, shown)
    if status.st_size == 0:
        raise data_error(shown, "the file is empty")
    return [_npy_reader(path, shown, status.st_size, dtype)]


def _open_npy_folder(path: Path, shown: str, dtype: np.dtype, chunks: Any) -> Any:
    if isinstance(chunks, tuple):
        raise ValueError(
            "chunks as a tuple of row counts applies to one .npy file; a folder is read "
            "one chunk per file (an int also cuts longer files)"
        )
    readers = _npy_folder_readers(path, shown, dtype)
    if chunks == "auto":
        row_chunks = [(r.shape[0],) for r in readers]
    else:
        row_chunks = [_row_chunks(r.shape, dtype, chunks, r.path) for r in readers]
    from .backends import dask_session as dask_backend

    return dask_backend.array_from_readers(readers, row_chunks)


def _npy_folder_readers(path: Path, shown: str, dtype: np.dtype) -> list[NpyRows]:
    try:
        candidates = [p for p in path.iterdir() if p.suffix.lower() == ".npy"]
    except OSError as exc:
        raise data_error(shown, f"the folder cannot be read ({exc.strerror or exc})") from exc
    # file_status says why a name cannot be looked up (a loop of symbolic links, say);
    # what is no regular file (a folder, a link to nothing) is no part of the data.
    files = sorted(
        (p for p in candidates
         if (status := file_status(str(p), shorten(str(p)))) is not None and stat.S_ISREG(status.st_mode)),
        key=_natural_key,
    )
    if not files:
        raise data_error(shown, "the folder holds no .npy files")
    readers: list[NpyRows] = []
    for file in files:
        file_shown = shorten(str(file))
        status = file_status(str(file), file_shown)
        if status is None:
            raise data_error(file_shown, "no such file (removed while the folder was read)")
        if status.st_size == 0:
            raise data_error(file_shown, "the file is empty")
        reader = _npy_reader(str(file), file_shown, status.st_size, dtype, min_samples=0)
        if readers and reader.shape[1] != readers[0].shape[1]:
            raise data_error(
                file_shown,
                f"has {reader.shape[1]} columns, but {files[0].name} has {readers[0].shape[1]}; "
                "every file of a folder must have the same columns",
            )
        readers.append(reader)
    _check_shape((sum(r.shape[0] for r in readers), readers[0].shape[1]), f"{shown}: ", 1, 1)
    return readers


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    An interrupted or failed write never leaves a half-written ``path`` behind.

    Raises
    ------
    OSError
        When the file cannot be written (no space left, no permission, ...): of
        the same errno, its ``filename`` ``path``, never the temporary file.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise DataError(f"{target}: the folder {folder} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        _raise_write_error(exc, target, None)
    try:
        # mkstemp makes the file private (0600); give the result the permissions a
        # plain open() would (0666 less the umask). A file system without Unix
        # modes (FAT, some network or FUSE mounts) refuses: the file is written all
        # the same, with the mode that file system gives.
        umask = os.umask(0)
        os.umask(umask)
        with contextlib.suppress(OSError):
            os.chmod(temporary, 0o666 & ~umask)
        with os.fdopen(handle, mode) as stream:
            yield stream
        os.replace(temporary, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            _raise_write_error(exc, target, temporary)
        raise


def _raise_write_error(exc: OSError, target: Path, temporary: str | None) -> None:
    """Raise ``exc``, raised while writing ``target`` (through ``temporary``), as an
    OSError about ``target``: the same errno (so the same subclass), its
    ``filename`` the target, not the temporary file. An error about another file
    (a writer reading a font, say), or without an errno, is raised as it is.
    ``temporary`` None: the temporary file could not be made."""
    about = os.fsdecode(exc.filename) if isinstance(exc.filename, (str, bytes, os.PathLike)) else None
    if exc.errno is None or (temporary is not None and about not in (None, temporary, os.fspath(target))):
        raise exc
    raise OSError(exc.errno, exc.strerror or str(exc), os.fspath(target)) from exc
