"""Reading arrays from data files: the one reading path of kmix.

``kmix.load_data``, ``kmix.load_model`` and the CLI's operands all read files
through here, so that every way a file can be wrong (a name the system refuses,
a folder, a pipe or device, no permission, a damaged archive, a truncated or
edited ``.npy`` header, pickled objects, text that is not UTF-8 or not numbers)
ends as one :class:`~kmix.exceptions.DataError` naming the file (``file.npz:key``
for an archive's member) and saying what is wrong.

A ``.npy`` header is read and checked against the bytes the file (or archive
member) really holds before the array is allocated, and pickled objects are
refused from the header's dtype, before any data is read. ``.npz`` archives are
opened with :mod:`zipfile` directly rather than through ``numpy.load``, which
hands back raw bytes for a member that is not a ``.npy``.
"""

from __future__ import annotations

import errno
import math
import os
import stat
import struct
import zipfile
import zlib
from typing import IO, Any, NamedTuple

import numpy as np

from ._paths import shorten
from .exceptions import DataError

DATA_EXTENSIONS = (".npy", ".npz", ".csv", ".tsv", ".txt")

# Deflate cannot expand data by more than about 1032 to 1 (one 258-byte match per
# two bits of the compressed stream); a member declaring more than that is lying.
_DEFLATE_MAX_RATIO = 1032
# Header errors quote the header; a damaged one can be thousands of characters.
_REASON_LIMIT = 200
# numpy's own limit on a .npy header's length, beyond which it refuses to parse it.
_MAX_HEADER_SIZE = 10_000
_NUMBER_KINDS = "fiub"


def data_error(where: str, reason: str) -> DataError:
    """A DataError ``"where: reason"`` that also keeps ``reason`` on its own."""
    error = DataError(f"{where}: {reason}")
    error.reason = reason  # type: ignore[attr-defined]
    return error


def _clip(text: str) -> str:
    return text if len(text) <= _REASON_LIMIT else text[:_REASON_LIMIT] + "…"


# --- where the file is ------------------------------------------------------------


class Located(NamedTuple):
    """A file that exists, as a reader needs it."""

    path: str  # the path as given, to open
    key: str | None  # the member asked for with ``file.npz:key``
    shown: str  # how messages name the file
    status: os.stat_result


def split_npz_key(source: str) -> tuple[str, str | None]:
    """``"file.npz:key"`` -> ("file.npz", "key"); anything else -> (source, None)."""
    head, sep, key = source.rpartition(":")
    if sep and head.lower().endswith(".npz") and key and "/" not in key and "\\" not in key:
        return head, key
    return source, None


def _os_reason(exc: OSError, path: str) -> str:
    """What an OSError from checking or opening ``path`` means, in words."""
    if exc.errno == errno.ENAMETOOLONG:
        parts = [part for part in path.replace("\\", "/").split("/") if part]
        longest = max((len(os.fsencode(part)) for part in parts), default=0)
        if longest > 255:
            return (
                f"the file name is too long ({longest} bytes in one name; file systems "
                "allow at most 255): rename the file"
            )
        return (
            f"the path is too long ({len(os.fsencode(path))} bytes; the system allows at "
            "most 4096): move the file to a shorter path or give a relative one"
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: kmix cannot read this file (check its permissions)"
    if exc.errno == errno.ELOOP:
        return "too many levels of symbolic links (a link that points to itself?)"
    return f"cannot be read ({exc.strerror or exc})"


def file_status(path: str, shown: str) -> os.stat_result | None:
    """``os.stat(path)``, or None where nothing is there.

    Raises
    ------
    DataError
        Where the path cannot even be looked up: a name or path too long for the
        system, a folder that may not be searched, a NUL character in the name.
    """
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise data_error(shown, _os_reason(exc, path)) from exc
    except ValueError as exc:  # an embedded NUL character
        raise data_error(shown, f"not a usable file name ({exc})") from exc


def locate(source: Any) -> Located | None:
    """The file ``source`` names (``file.npz:key`` for an archive's member), or None
    where nothing is there. DataError where the name cannot be looked up."""
    path, key = split_npz_key(os.fspath(source))
    shown = shorten(path)
    status = file_status(path, shown)
    return None if status is None else Located(path, key, shown, status)


def check_regular(status: os.stat_result, shown: str) -> None:
    """Refuse folders, pipes, sockets and devices: reading them would never end or
    would mean nothing (``/dev/zero`` is an endless file of zero bytes)."""
    mode = status.st_mode
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        kind = "a folder"
    elif stat.S_ISFIFO(mode):
        kind = "a named pipe (FIFO)"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    else:
        kind = "a special file"
    raise data_error(shown, f"is {kind}, not a regular file; kmix reads data only from ordinary files")


def open_binary(path: str, shown: str) -> IO[bytes]:
    """``open(path, "rb")`` with any OSError turned into a DataError naming the file."""
    try:
        return open(path, "rb")
    except OSError as exc:
        raise data_error(shown, _os_reason(exc, path)) from exc


# --- .npy headers and bodies -------------------------------------------------------


class NpyHeader(NamedTuple):
    """What a ``.npy`` header says, and where its data starts."""

    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype
    offset: int  # bytes from the start of the file (or member) to the data


def _describe_shape(shape: tuple[int, ...]) -> str:
    if len(shape) == 2:
        return f"{shape[0]} rows x {shape[1]} columns"
    if len(shape) == 1:
        return f"{shape[0]} values"
    if not shape:
        return "a single value"
    return f"shape {shape}"


def dtype_problem(dtype: np.dtype, kinds: str = _NUMBER_KINDS) -> str | None:
    """Why an array of ``dtype`` cannot be used (None where it can)."""
    if dtype.hasobject:
        hint = ": save a numeric array instead" if kinds == _NUMBER_KINDS else ""
        return f"holds pickled Python objects (an object array); kmix never unpickles data{hint}"
    if dtype.names is not None or dtype.subdtype is not None:
        return (
            f"holds structured records ({dtype}), not plain numbers: save one numeric "
            "array (numpy.lib.recfunctions.structured_to_unstructured makes one)"
        )
    if dtype.kind == "c":
        return (
            f"holds {dtype} values, not numbers kmix can use: kmix works on real numbers "
            "(save the real part or the magnitude)"
        )
    if dtype.kind not in kinds:
        return f"holds {dtype} values, not numbers"
    return None


def read_npy_header(
    stream: IO[bytes], where: str, holds: int, what: str = "file", kinds: str = _NUMBER_KINDS
) -> NpyHeader:
    """Read and check a ``.npy`` header at the start of ``stream``.

    Parameters
    ----------
    stream : binary file object, positioned at the start of the ``.npy`` data
    where : str
        How messages name the file (``path`` or ``path.npz:key``).
    holds : int
        The bytes the file (or archive member) holds, header included.
    what : {"file", "member"}
    kinds : str
        The dtype kinds accepted (numbers: ``"fiub"``).

    Returns
    -------
    NpyHeader, its data known to be all there and of an accepted dtype.

    Raises
    ------
    DataError
        No NumPy magic, an unknown format version, a damaged header, pickled
        objects, a dtype that is not numbers, or a header whose shape needs more
        bytes than the file holds (truncated, or the header edited).
    """
    try:
        version = np.lib.format.read_magic(stream)
    except ValueError as exc:
        raise data_error(where, f"not a valid .npy {what} (no NumPy header)") from exc
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    if version not in readers:
        raise data_error(
            where,
            f"not a .npy {what} kmix can read (format version {version[0]}.{version[1]}; "
            "kmix reads versions 1.0 and 2.0)",
        )
    try:
        shape, fortran_order, dtype = readers[version](stream, max_header_size=_MAX_HEADER_SIZE)
    except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError, UnicodeDecodeError) as exc:
        raise data_error(where, f"not a valid .npy {what} (damaged header: {_clip(str(exc))})") from exc
    problem = dtype_problem(dtype, kinds)
    if problem is not None:
        raise data_error(where, problem)
    if any(size < 0 for size in shape):
        raise data_error(where, f"not a valid .npy {what} (damaged header: negative size in shape {shape})")
    offset = stream.tell()
    needed = math.prod(shape) * dtype.itemsize
    available = holds - offset
    if needed > available:
        raise data_error(
            where,
            f"not a valid .npy {what}: the header says {_describe_shape(shape)} "
            f"({needed} bytes) but the {what} holds only {max(available, 0)} bytes of data; "
            "it is truncated or its header was damaged",
        )
    return NpyHeader(tuple(shape), bool(fortran_order), dtype, offset)


def read_npy_body(stream: IO[bytes], header: NpyHeader, where: str) -> np.ndarray:
    """The array whose ``header`` was just read from ``stream``."""
    count = math.prod(header.shape)
    order = "F" if header.fortran_order else "C"
    if count == 0 or header.dtype.itemsize == 0:
        return np.empty(header.shape, dtype=header.dtype, order=order)
    try:
        flat = np.empty(count, dtype=header.dtype)
    except MemoryError as exc:
        raise data_error(
            where,
            f"{_describe_shape(header.shape)} ({count * header.dtype.itemsize} bytes) do not fit "
            "in memory",
        ) from exc
    # Filled in place: the array is the only copy of the data in memory.
    buffer = memoryview(flat.view(np.uint8))
    filled = 0
    while filled < len(buffer):
        got = stream.readinto(buffer[filled:])  # type: ignore[attr-defined]
        if not got:
            raise data_error(where, f"the data ends after {filled} of {len(buffer)} bytes: the file is truncated")
        filled += got
    return flat.reshape(header.shape, order=order)


def read_npy(path: str, shown: str, size: int, *, header_only: bool = False) -> Any:
    """A ``.npy`` file's array, or with ``header_only`` its checked header."""
    with open_binary(path, shown) as stream:
        header = read_npy_header(stream, shown, size)
        if header_only:
            return header
        try:
            return read_npy_body(stream, header, shown)
        except OSError as exc:
            raise data_error(shown, _os_reason(exc, path)) from exc


# --- .npz archives -----------------------------------------------------------------

# What reading a damaged member can raise: zipfile's own errors (a bad CRC, a bad
# local header), zlib's for bad deflate data, EOFError for a member cut short,
# RuntimeError for an encrypted member, NotImplementedError for a compression
# method zipfile does not know, struct.error for a header cut short.
_MEMBER_ERRORS = (
    zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError,
    NotImplementedError, struct.error,
)


class NpzArchive:
    """An ``.npz`` file opened to read its ``.npy`` members one at a time.

    Parameters
    ----------
    path : str
    shown : str
        How messages name the file.
    size : int
        The file's size in bytes.
    kind : str
        What the file should be, for the message when it is not a zip archive
        (``"a valid .npz file"``).

    Attributes
    ----------
    members : dict
        Member key (the name without ``.npy``, as ``numpy.load`` names them) ->
        its ``zipfile.ZipInfo``.
    """

    def __init__(self, path: str, shown: str, size: int, kind: str = "a valid .npz file") -> None:
        self.shown = shown
        self.size = size
        self._stream = open_binary(path, shown)
        try:
            self._zip = zipfile.ZipFile(self._stream)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, struct.error) as exc:
            self._stream.close()
            raise data_error(shown, f"not {kind} (not a readable zip archive: {_clip(str(exc))})") from exc
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in self._zip.infolist():
            if info.is_dir():
                continue
            name = info.filename
            self.members.setdefault(name[:-4] if name.endswith(".npy") else name, info)

    def __enter__(self) -> "NpzArchive":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()
        self._stream.close()

    def choose(self, key: str | None) -> str:
        """``key``, or the archive's only member where ``key`` is None."""
        keys = list(self.members)
        if key is None:
            if not keys:
                raise data_error(self.shown, "the archive holds no arrays")
            if len(keys) > 1:
                raise data_error(
                    self.shown,
                    f"holds {len(keys)} arrays ({', '.join(keys)}); choose one as {self.shown}:KEY",
                )
            return keys[0]
        if key not in self.members:
            raise data_error(self.shown, f"has no array {key!r}; it holds {', '.join(keys) or 'none'}")
        return key

    def _capacity(self, info: zipfile.ZipInfo, where: str) -> int:
        """The bytes a member can really hold: its declared size, once checked
        against its compressed size and the file's size."""
        if info.header_offset + info.compress_size > self.size:
            raise data_error(
                where,
                "the archive is truncated (the member ends past the end of the file); write it again",
            )
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise data_error(
                where,
                f"the archive is damaged (the stored member declares {info.file_size} bytes but "
                f"holds {info.compress_size}); write it again",
            )
        if (
            info.compress_type == zipfile.ZIP_DEFLATED
            and info.file_size > info.compress_size * _DEFLATE_MAX_RATIO + 1024
        ):
            raise data_error(
                where,
                f"the archive is damaged (the member declares {info.file_size} bytes, more than "
                f"its {info.compress_size} compressed bytes can expand to); write it again",
            )
        return info.file_size

    def read(self, key: str, kinds: str = _NUMBER_KINDS) -> np.ndarray:
        """The array of member ``key`` (see :meth:`choose`).

        Raises
        ------
        DataError
            Naming ``file.npz:key``: a member that is not a ``.npy``, a damaged
            archive (bad CRC, bad compressed data, cut short), and everything
            :func:`read_npy_header` refuses.
        """
        info = self.members[key]
        where = f"{self.shown}:{key}"
        if not info.filename.endswith(".npy"):
            raise data_error(
                where,
                f"the member {info.filename!r} is not a .npy array; an .npz archive holds "
                "arrays saved by numpy.savez",
            )
        holds = self._capacity(info, where)
        try:
            with self._zip.open(info) as stream:
                header = read_npy_header(stream, where, holds, "member", kinds)
                array = read_npy_body(stream, header, where)
                # zipfile checks a member's CRC when its end is reached: read to it.
                while stream.read(1 << 20):
                    pass
        except DataError:
            raise
        except _MEMBER_ERRORS as exc:
            raise data_error(where, f"the archive is damaged ({_clip(str(exc))}); write it again") from exc
        return array


# --- any data file ---------------------------------------------------------------------


def read_named(located: Located, *, sparse: bool = False) -> tuple[Any, str]:
    """The array a located data file holds, as stored (any number of dimensions,
    any real numeric dtype; a text file gives a 2-D float64 array), and how
    messages name it (``file.npz:key`` for an archive's member).

    An ``.npz`` written by ``scipy.sparse.save_npz`` (read without a key) gives its
    CSR matrix with ``sparse`` (see :func:`kmix._sparsefiles.read_sparse`), a DataError without.

    Raises
    ------
    DataError
        Naming the file (``file.npz:key`` for a member) and the problem.
    """
    # The text and sparse readers build on this module's own.
    from ._sparsefiles import is_sparse_archive, read_sparse
    from ._textfiles import read_text

    path, key, shown, status = located
    check_regular(status, shown)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in DATA_EXTENSIONS:
        raise data_error(
            shown,
            f"unknown extension {suffix or '(none)'!r}; expected one of "
            f"{', '.join(DATA_EXTENSIONS)} or a bundled dataset name",
        )
    if status.st_size == 0:
        raise data_error(shown, "the file is empty")
    if suffix == ".npy":
        return read_npy(path, shown, status.st_size), shown
    if suffix == ".npz":
        with NpzArchive(path, shown, status.st_size) as archive:
            if key is None and is_sparse_archive(archive):
                if not sparse:
                    raise data_error(
                        shown,
                        "holds a sparse matrix (written by scipy.sparse.save_npz); only "
                        "kmix.load_data reads sparse files. Save a dense array instead",
                    )
                return read_sparse(archive), shown
            key = archive.choose(key)
            return archive.read(key), f"{shown}:{key}"
    return read_text(path, shown), shown


def read_located(located: Located) -> np.ndarray:
    """The array a located data file holds, as :func:`read_named` reads it."""
    return read_named(located)[0]


def read_array(source: Any) -> np.ndarray:
    """The array stored in a data file, as stored: the one reading path for files.

    Parameters
    ----------
    source : str or path-like
        A ``.npy`` file, a ``.npz`` file (its only array, or ``file.npz:key``) or
        a ``.csv``/``.tsv``/``.txt`` file of numbers with an optional header line.

    Returns
    -------
    ndarray
        Of any number of dimensions and any real numeric dtype (booleans and
        integers included); a text file gives a 2-D float64 array.

    Raises
    ------
    DataError
        Naming the file and what is wrong with it.
    """
    located = locate(source)
    if located is None:
        path, _ = split_npz_key(os.fspath(source))
        raise data_error(shorten(path), "no such file")
    return read_located(located)
