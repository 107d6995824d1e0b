"""Reading a sparse matrix saved by ``scipy.sparse.save_npz``, through the safe
archive reader of :mod:`kmix._datafiles` (nothing is unpickled), its members
checked against each other."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._datafiles import _NUMBER_KINDS, NpzArchive, _clip, data_error

# scipy.sparse.save_npz writes the members format, shape, data, indices and indptr
# for a CSR or CSC matrix (and _is_array for a sparse array).
_SPARSE_FORMATS = ("csr", "csc")


def is_sparse_archive(archive: NpzArchive) -> bool:
    """Whether an ``.npz`` archive holds a matrix saved by ``scipy.sparse.save_npz``
    (its members say so; nothing is read)."""
    return {"format", "shape", "data"} <= set(archive.members)


def _sparse_member(archive: NpzArchive, key: str, fmt: str, kinds: str, what: str) -> np.ndarray:
    if key not in archive.members:
        raise data_error(
            archive.shown,
            f"holds a sparse {fmt.upper()} matrix without its {key!r} array; write it again "
            "with scipy.sparse.save_npz",
        )
    array = archive.read(key, kinds)
    if array.ndim != 1:
        raise data_error(f"{archive.shown}:{key}", f"must be 1-D ({what}), got shape {array.shape}")
    return array


def read_sparse(archive: NpzArchive) -> Any:
    """The CSR matrix of an archive written by ``scipy.sparse.save_npz`` from a CSR
    or CSC matrix (a ``csr_array`` where an array was saved), in canonical form
    (sorted column indices, duplicates added up), its values as stored.

    The members are read as plain arrays (nothing is unpickled) and checked
    against each other before scipy sees them: the lengths, ``indptr`` starting at
    0, never decreasing and ending at the number of values, and every index within
    the shape.

    Raises
    ------
    DataError
        Naming the file (or ``file.npz:member``) and what is inconsistent.
    """
    import scipy.sparse  # only for sparse files

    shown = archive.shown
    name = archive.read("format", "SU")
    fmt = name.item() if name.ndim == 0 else None
    if isinstance(fmt, bytes):
        fmt = fmt.decode("ascii", errors="replace")
    if not isinstance(fmt, str):
        raise data_error(f"{shown}:format", "is not the name of a sparse format")
    if fmt not in _SPARSE_FORMATS:
        raise data_error(
            shown,
            f"holds a sparse matrix in {fmt!r} format; kmix reads CSR and CSC matrices "
            "(save X.tocsr() instead)",
        )
    shape = _sparse_member(archive, "shape", fmt, "iu", "the number of rows and columns")
    if shape.shape != (2,) or np.any(shape < 0):
        raise data_error(f"{shown}:shape", f"is not a shape (two sizes): {_clip(repr(shape.tolist()))}")
    n_rows, n_columns = (int(size) for size in shape)
    data = _sparse_member(archive, "data", fmt, _NUMBER_KINDS, "the stored values")
    indices = _sparse_member(archive, "indices", fmt, "iu", "the index of each value")
    indptr = _sparse_member(archive, "indptr", fmt, "iu", "where each row or column starts")
    major, minor = (n_rows, n_columns) if fmt == "csr" else (n_columns, n_rows)
    lines, across = ("rows", "column") if fmt == "csr" else ("columns", "row")
    if indptr.shape[0] != major + 1:
        raise data_error(
            f"{shown}:indptr",
            f"has {indptr.shape[0]} entries; a {fmt.upper()} matrix of shape {n_rows} x {n_columns} "
            f"needs {major + 1} (one more than its {lines}): the archive is inconsistent",
        )
    if indices.shape[0] != data.shape[0]:
        raise data_error(
            shown,
            f"holds {data.shape[0]} values but {indices.shape[0]} indices; they must be as many: "
            "the archive is inconsistent",
        )
    if int(indptr[0]) != 0 or int(indptr[-1]) != data.shape[0]:
        raise data_error(
            f"{shown}:indptr",
            f"runs from {int(indptr[0])} to {int(indptr[-1])}; it must run from 0 to the number "
            f"of values ({data.shape[0]}): the archive is inconsistent",
        )
    steps = np.diff(indptr.astype(np.int64))
    if np.any(steps < 0):
        where = int(np.argmax(steps < 0))
        raise data_error(
            f"{shown}:indptr",
            f"decreases after entry {where} ({int(indptr[where])} then {int(indptr[where + 1])}); "
            "it must never decrease: the archive is inconsistent",
        )
    if indices.shape[0] and (int(indices.min()) < 0 or int(indices.max()) >= minor):
        bad = int(np.argmax((indices < 0) | (indices >= minor)))
        raise data_error(
            f"{shown}:indices",
            f"holds the {across} index {int(indices[bad])} (value {bad}), outside 0 to {minor - 1}: "
            "the archive is inconsistent",
        )
    is_array = "_is_array" in archive.members and bool(np.any(archive.read("_is_array", "biu")))
    kind = fmt + ("_array" if is_array else "_matrix")
    index_dtype = np.int32 if max(data.shape[0], n_rows, n_columns) < 2**31 else np.int64
    matrix = getattr(scipy.sparse, kind)(
        (data, indices.astype(index_dtype, copy=False), indptr.astype(index_dtype, copy=False)),
        shape=(n_rows, n_columns),
    )
    matrix = matrix.tocsr()
    if not matrix.has_canonical_format:
        matrix.sum_duplicates()  # sorts the indices too
    return matrix
