"""Malformed data files for tests/test_fuzz_inputs.py: a small base table, and
makers that each write one file into a folder (a bad cell or ragged rows in a
CSV, a truncated or edited .npy, a broken .npz, odd paths, and valid files a
careless reader gets wrong) and return its name, with whether a well-behaved
reader could accept it ("either"). Generated from a fixed seed."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

SEED = 20261206


# --- the base data and files ------------------------------------------------------------

def base_data() -> np.ndarray:
    rng = np.random.default_rng(SEED)
    centres = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 6.0]])
    return np.concatenate([c + rng.normal(size=(14, 2)) for c in centres])


BASE = base_data()


def csv_lines(X: np.ndarray) -> list[list[str]]:
    return [[repr(float(v)) for v in row] for row in X]


def write_text(folder: Path, name: str, rows: list[list[str]] | None = None, text: str | None = None,
                raw: bytes | None = None, delimiter: str = ",") -> Path:
    path = folder / name
    if raw is not None:
        path.write_bytes(raw)
    elif text is not None:
        path.write_text(text, encoding="utf-8")
    else:
        path.write_text("\n".join(delimiter.join(row) for row in rows) + "\n", encoding="utf-8")
    return path


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def with_shape(npy: bytes, shape: str) -> bytes:
    """A .npy file's bytes with the shape in its header replaced (same header length)."""
    end = npy.index(b"\n") + 1
    header = npy[:end].decode("latin-1")
    start = header.index("'shape': ") + len("'shape': ")
    stop = header.index(")", start) + 1
    edited = (header[:start] + shape + header[stop:-1]).rstrip(" ")
    assert len(edited) < end
    return edited.ljust(end - 1).encode("latin-1") + b"\n" + npy[end:]


def zip_file(folder: Path, name: str, members: dict[str, bytes], stored: bool = True) -> Path:
    path = folder / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


# --- malformed data files -----------------------------------------------------------------
# Each maker writes one file into the folder and returns its name (and whether a
# well-behaved reader could accept it: "either").

BAD_CELLS = ["abc", "", "1..2", "--1", "0x10", "1 2", "nan", "inf", "-inf", "1e999", "NaN", "∞",
             "1,5", "+-3", "1e", "e5", "..", "1_0x", "TRUE", "'1'", '"2"', "\x00"]


def file_makers(rng: np.random.Generator) -> list[tuple[str, Callable[[Path], str], str]]:
    makers: list[tuple[str, Callable[[Path], str], str]] = []
    rows = csv_lines(BASE)

    # One bad cell in a CSV, anywhere (the first row included).
    for i, cell in enumerate(BAD_CELLS):
        row, column = int(rng.integers(0, len(rows))) if i % 3 else 0, int(rng.integers(0, 2))

        def make(folder: Path, row=row, column=column, cell=cell) -> str:
            changed = [list(r) for r in rows]
            changed[row][column] = cell
            write_text(folder, "bad.csv", changed)
            return "bad.csv"

        makers.append((f"csv-cell-{i}-row{row}", make, "error"))

    # Rows of the wrong width.
    for i in range(6):
        row = int(rng.integers(0, len(rows)))
        extra = i % 2 == 0

        def make(folder: Path, row=row, extra=extra) -> str:
            changed = [list(r) for r in rows]
            changed[row] = changed[row] + ["1.0"] if extra else changed[row][:1]
            write_text(folder, "ragged.csv", changed)
            return "ragged.csv"

        makers.append((f"csv-ragged-{i}", make, "error"))

    texts = {
        "empty": "", "blank": "\n\n  \n", "comments": "# a\n# b\n", "header-only": "x,y\n",
        "bom-header-only": "\ufeffx,y\n", "one-cell-text": "hello\n", "semicolons": "1;2\n3;4\n",
        "tabs-in-csv": "1\t2\n3\t4\n",
    }
    for label, text in texts.items():
        def make(folder: Path, text=text) -> str:
            write_text(folder, "text.csv", text=text)
            return "text.csv"

        makers.append((f"csv-{label}", make, "error"))

    raws = {
        "binary": bytes(rng.integers(0, 256, 300, dtype=np.uint8)),
        "latin1": "1,2\n3,\xe9\n".encode("latin-1"),
        "nul": b"1,2\n\x00\x00\n",
        "utf16": "1,2\n3,4\n".encode("utf-16"),
    }
    for label, raw in raws.items():
        def make(folder: Path, raw=raw) -> str:
            write_text(folder, "raw.csv", raw=raw)
            return "raw.csv"

        makers.append((f"csv-{label}", make, "error"))

    # Valid files that a careless reader gets wrong: they must load in full.
    def bom_csv(folder: Path) -> str:
        write_text(folder, "bom.csv", text="\ufeff" + "\n".join(",".join(r) for r in rows) + "\n")
        return "bom.csv"

    makers.append(("csv-bom-no-header", bom_csv, "either"))

    def crlf_csv(folder: Path) -> str:
        write_text(folder, "crlf.csv", raw=("\r\n".join(",".join(r) for r in rows) + "\r\n").encode())
        return "crlf.csv"

    makers.append(("csv-crlf", crlf_csv, "either"))

    # .npy files: truncated, edited headers, the wrong kind of array.
    good = npy_bytes(BASE)
    for i in range(10):
        cut = int(rng.integers(1, len(good) - 1))

        def make(folder: Path, cut=cut) -> str:
            (folder / "cut.npy").write_bytes(good[:cut])
            return "cut.npy"

        makers.append((f"npy-truncated-{cut}", make, "error"))

    for i, shape in enumerate(["(2000000000000, 2)", "(42, 3)", "(42,)", "(6, 7, 2)", "(-1, 2)", "(0, 2)", "(42, 0)"]):
        def make(folder: Path, shape=shape) -> str:
            (folder / "header.npy").write_bytes(with_shape(good, shape))
            return "header.npy"

        makers.append((f"npy-header-{i}", make, "error"))

    arrays = {
        "object": (np.array([[1, None], [2, "x"]], dtype=object), True),
        "complex": (BASE.astype(complex), False),
        "strings": (np.array([["1", "2"], ["3", "4"]]), False),
        "one-d": (BASE[:, 0], False),
        "three-d": (BASE.reshape(6, 7, 2), False),
        "no-rows": (np.empty((0, 2)), False),
        "no-columns": (np.empty((5, 0)), False),
        "nan": (np.where(np.arange(BASE.size).reshape(BASE.shape) == 17, np.nan, BASE), False),
        "inf": (np.where(np.arange(BASE.size).reshape(BASE.shape) == 3, -np.inf, BASE), False),
        "structured": (np.zeros(4, dtype=[("a", "f8"), ("b", "f8")]), False),
        "datetime": (np.array([["2020-01-01"]], dtype="datetime64[D]"), False),
        "scalar": (np.array(3.0), False),
    }
    for label, (array, pickled) in arrays.items():
        def make(folder: Path, array=array, pickled=pickled) -> str:
            (folder / "array.npy").write_bytes(npy_bytes(array, allow_pickle=pickled))
            return "array.npy"

        makers.append((f"npy-{label}", make, "error"))

    # Valid files: data info describes them; a fit may refuse the extreme ones.
    for label, array in {"huge": BASE * 1e200, "tiny": BASE * 1e-300, "int": (BASE * 10).astype(np.int64), "float16": BASE.astype(np.float16),
                         "bool": BASE > 1, "huge-float32": (BASE * 1e20).astype(np.float32),
                         "fortran": np.asfortranarray(BASE)}.items():
        def make(folder: Path, array=array) -> str:
            (folder / "ok.npy").write_bytes(npy_bytes(array))
            return "ok.npy"

        makers.append((f"npy-valid-{label}", make, "either"))

    def wrong_magic(folder: Path) -> str:
        (folder / "magic.npy").write_bytes(b"\x93NUMPZ" + good[6:])
        return "magic.npy"

    makers.append(("npy-wrong-magic", wrong_magic, "error"))

    def wrong_version(folder: Path) -> str:
        (folder / "version.npy").write_bytes(good[:6] + b"\x09\x00" + good[8:])
        return "version.npy"

    makers.append(("npy-unknown-version", wrong_version, "error"))

    # .npz archives.
    npz_members = {
        "two-arrays": {"a.npy": good, "b.npy": good},
        "empty": {},
        "text-member": {"x.txt": b"1,2\n"},
        "garbage-member": {"x.npy": bytes(rng.integers(0, 256, 200, dtype=np.uint8))},
        "pickled-member": {"x.npy": npy_bytes(np.array([None, 1], dtype=object), True)},
        "truncated-member": {"x.npy": good[: len(good) // 2]},
        "huge-header-member": {"x.npy": with_shape(good, "(9999999999, 2)")},
    }
    for label, members in npz_members.items():
        def make(folder: Path, members=members) -> str:
            zip_file(folder, "archive.npz", members)
            return "archive.npz"

        makers.append((f"npz-{label}", make, "error"))

    def crc_error(folder: Path) -> str:
        path = zip_file(folder, "crc.npz", {"x.npy": good})
        data = bytearray(path.read_bytes())
        position = data.index(good[-64:]) + 8
        data[position] ^= 0xFF
        path.write_bytes(bytes(data))
        return "crc.npz"

    makers.append(("npz-crc", crc_error, "error"))

    for i in range(5):
        cut = int(rng.integers(10, len(good)))

        def make(folder: Path, cut=cut) -> str:
            path = zip_file(folder, "cut.npz", {"x.npy": good})
            path.write_bytes(path.read_bytes()[:cut])
            return "cut.npz"

        makers.append((f"npz-truncated-{cut}", make, "error"))

    def missing_key(folder: Path) -> str:
        zip_file(folder, "keyed.npz", {"x.npy": good})
        return "keyed.npz:nope"

    makers.append(("npz-missing-key", missing_key, "error"))

    def good_key(folder: Path) -> str:
        zip_file(folder, "keyed.npz", {"x.npy": good, "y.npy": good})
        return "keyed.npz:x"

    makers.append(("npz-valid-key", good_key, "either"))

    for label, name in {"no-extension": "data", "unknown-extension": "data.xlsx", "missing": "missing.csv",
                        "folder": "folder.npy", "long-name": "x" * 300 + ".csv",
                        "long-path": "/".join(["d" * 200] * 25) + "/x.csv"}.items():
        def make(folder: Path, name=name, label=label) -> str:
            if label in ("no-extension", "unknown-extension"):
                (folder / name).write_text("1,2\n")
            if label == "folder":
                (folder / name).mkdir()
            return name

        makers.append((f"path-{label}", make, "error"))
    return makers


FILE_MAKERS = file_makers(np.random.default_rng(SEED))
