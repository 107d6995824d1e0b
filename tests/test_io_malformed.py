"""Malformed files through kmix.load_data, kmix.io.read_array and kmix.load_model.

Each bad file gives a DataError (a ValueError) naming the file, or the archive's
member as ``file.npz:key``, and saying what is wrong; nothing else escapes.
The files are built here byte by byte.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import re
import zipfile

import numpy as np
import pytest

import kmix
from kmix import DataError, load_data, load_model
from kmix.io import read_array


# --- building malformed files --------------------------------------------------------


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def write_zip(path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)


def with_shape(payload: bytes, old: str, new: str) -> bytes:
    """A version 1.0 .npy whose header says shape ``new`` instead of ``old``, its
    length kept by taking the difference out of the header's padding."""
    length = int.from_bytes(payload[8:10], "little")
    header = payload[10:10 + length].decode("latin1")
    assert old in header
    edited = header.replace(old, new).rstrip("\n").rstrip(" ")
    edited = edited + " " * (length - 1 - len(edited)) + "\n"
    assert len(edited) == length
    return payload[:10] + edited.encode("latin1") + payload[10 + length:]


def flip_last_data_byte(path, payload: bytes) -> None:
    """Corrupt a stored member's data in place (its CRC no longer matches)."""
    data = bytearray(path.read_bytes())
    start = data.find(payload)
    assert start >= 0
    data[start + len(payload) - 1] ^= 0xFF
    path.write_bytes(bytes(data))


def set_declared_size(path, size: int) -> None:
    """Edit the uncompressed size the central directory declares for the only member."""
    data = bytearray(path.read_bytes())
    entry = data.find(b"PK\x01\x02")
    assert entry >= 0
    data[entry + 24:entry + 28] = size.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def raises(source, pattern, reader=load_data, **kwargs):
    with pytest.raises(DataError, match=pattern) as caught:
        reader(source, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


# --- .npz archives ---------------------------------------------------------------------


def test_npz_member_that_is_not_npy(tmp_path):
    path = tmp_path / "text.npz"
    write_zip(path, {"x.txt": b"1,2\n3,4\n"})
    raises(path, r"text\.npz:x\.txt: the member 'x\.txt' is not a \.npy array")
    raises(path, r"text\.npz:x\.txt: the member 'x\.txt' is not a \.npy array", reader=read_array)


def test_npz_member_of_random_bytes(tmp_path):
    path = tmp_path / "noise.npz"
    write_zip(path, {"x.npy": bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8))})
    raises(path, r"noise\.npz:x: not a valid \.npy member \(no NumPy header\)")


def test_npz_with_a_crc_error(tmp_path):
    path = tmp_path / "crc.npz"
    payload = npy_bytes(np.arange(12.0).reshape(6, 2))
    write_zip(path, {"x.npy": payload})
    flip_last_data_byte(path, payload)
    raises(path, r"crc\.npz:x: the archive is damaged \(Bad CRC-32 for file 'x\.npy'\); write it again")


def test_npz_that_is_not_a_zip_or_is_cut_short(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK but not really a zip archive")
    raises(junk, r"junk\.npz: not a valid \.npz file \(not a readable zip archive")
    cut = tmp_path / "cut.npz"
    np.savez(cut, x=np.ones((50, 4)))
    cut.write_bytes(cut.read_bytes()[:-40])  # the central directory is at the end
    raises(cut, r"cut\.npz: not a valid \.npz file")


def test_npz_member_header_claims_more_rows_than_it_holds(tmp_path):
    path = tmp_path / "huge.npz"
    write_zip(path, {"x.npy": with_shape(npy_bytes(np.ones((3, 2))), "(3, 2)", "(2000000000000, 2)")})
    raises(
        path,
        r"huge\.npz:x: not a valid \.npy member: the header says 2000000000000 rows x 2 columns "
        r"\(32000000000000 bytes\) but the member holds only 48 bytes of data",
    )


def test_npz_member_declaring_an_impossible_size(tmp_path):
    deflated = tmp_path / "bomb.npz"
    write_zip(deflated, {"x.npy": npy_bytes(np.zeros((100, 2)))}, zipfile.ZIP_DEFLATED)
    set_declared_size(deflated, 0xFFFFFF00)
    raises(
        deflated,
        r"bomb\.npz:x: the archive is damaged \(the member declares 4294967040 bytes, more than "
        r"its \d+ compressed bytes can expand to\)",
    )
    stored = tmp_path / "stored.npz"
    write_zip(stored, {"x.npy": npy_bytes(np.zeros((100, 2)))})
    set_declared_size(stored, 0xFFFFFF00)
    raises(stored, r"stored\.npz:x: the archive is damaged \(the stored member declares 4294967040 bytes")


@pytest.mark.parametrize("shape", [(), (2, 3, 4)])
def test_npz_member_with_wrong_dimensions(tmp_path, shape):
    path = tmp_path / "dims.npz"
    np.savez(path, x=np.ones(shape))
    raises(path, rf"dims\.npz:x: must be a 2-D array .* got {len(shape)}-D")
    assert read_array(path).shape == shape  # as stored: the caller checks dimensions


def test_npz_member_of_pickled_objects_is_refused_before_reading(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    raises(path, r"objects\.npz:x: holds pickled Python objects .* never unpickles")


# --- .npy files --------------------------------------------------------------------


def test_npy_header_claims_more_rows_than_the_file_holds(tmp_path):
    path = tmp_path / "huge.npy"
    path.write_bytes(with_shape(npy_bytes(np.ones((3, 3))), "(3, 3)", "(2000000000000, 3)"))
    message = (
        r"huge\.npy: not a valid \.npy file: the header says 2000000000000 rows x 3 columns "
        r"\(48000000000000 bytes\) but the file holds only 72 bytes of data"
    )
    raises(path, message)
    raises(path, message, reader=read_array)


def test_npy_header_check_with_chunks(tmp_path):
    pytest.importorskip("dask.array")
    path = tmp_path / "huge.npy"
    path.write_bytes(with_shape(npy_bytes(np.ones((3, 3))), "(3, 3)", "(2000000000000, 3)"))
    raises(path, r"huge\.npy: not a valid \.npy file: the header says 2000000000000 rows", chunks=10)


def test_npy_with_a_negative_size_in_its_header(tmp_path):
    path = tmp_path / "negative.npy"
    path.write_bytes(with_shape(npy_bytes(np.ones((3, 3))), "(3, 3)", "(-3, 3)"))
    raises(path, r"negative\.npy: not a valid \.npy file \(damaged header: negative size")


def test_npy_with_a_garbled_header(tmp_path):
    path = tmp_path / "garbled.npy"
    payload = bytearray(npy_bytes(np.ones((3, 3))))
    payload[12:20] = b"@@@@@@@@"
    path.write_bytes(bytes(payload))
    raises(path, r"garbled\.npy: not a valid \.npy file \(damaged header")


@pytest.mark.parametrize(
    "array, pattern",
    [
        (np.ones((2, 2), dtype=complex), r"holds complex128 values, not numbers kmix can use: kmix works on real numbers"),
        (np.ones(3, dtype=[("a", "f8"), ("b", "f8")]), r"holds structured records \(.*\), not plain numbers"),
        (np.array([["a", "b"]]), r"holds <U1 values, not numbers"),
        (np.array(["2021-01-01"], dtype="datetime64[D]").reshape(1, 1), r"holds datetime64\[D\] values, not numbers"),
    ],
)
def test_npy_dtypes_that_are_not_real_numbers(tmp_path, array, pattern):
    path = tmp_path / "values.npy"
    np.save(path, array)
    raises(path, r"values\.npy: " + pattern)
    archive = tmp_path / "values.npz"
    np.savez(archive, x=array)
    raises(archive, r"values\.npz:x: " + pattern)


def test_npy_non_native_byte_order_and_fortran_order_are_read(tmp_path):
    X = np.arange(12.0).reshape(4, 3)
    path = tmp_path / "big_endian.npy"
    np.save(path, np.asfortranarray(X.astype(">f8")))
    np.testing.assert_array_equal(load_data(path), X)
    archive = tmp_path / "big_endian.npz"
    np.savez_compressed(archive, x=np.asfortranarray(X.astype(">i4")))
    np.testing.assert_array_equal(load_data(archive), X)


@pytest.mark.parametrize("shape", [(), (2, 3, 4)])
def test_npy_with_wrong_dimensions(tmp_path, shape):
    path = tmp_path / "dims.npy"
    np.save(path, np.ones(shape))
    raises(path, rf"dims\.npy: must be a 2-D array .* got {len(shape)}-D")


# --- paths -----------------------------------------------------------------------------


def test_file_name_too_long(tmp_path):
    name = "a" * 300 + ".npy"
    message = raises(tmp_path / name, r"the file name is too long \(304 bytes in one name; file systems allow at most 255\)")
    shown = message.split(": ")[0]
    assert "…" in shown and shown.endswith("aaa.npy") and len(shown) < 100
    raises(tmp_path / name, r"the file name is too long", reader=read_array)
    raises(tmp_path / name, r"the file name is too long", reader=load_model)


def test_path_too_long(tmp_path):
    path = os.path.join(str(tmp_path), *(["b" * 100] * 45), "x.npy")
    assert len(path) > 4096
    message = raises(path, r"the path is too long \(\d+ bytes; the system allows at most 4096\)")
    assert message.split(": ")[0].endswith("bbb/x.npy")
    raises(path, r"the path is too long", reader=load_model)


def test_nul_character_in_a_name(tmp_path):
    raises(f"{tmp_path}/x\0y.npy", r"x\\x00y\.npy: not a usable file name")


def test_folder_where_a_file_is_expected(tmp_path):
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    raises(folder, r"folder\.csv: is a folder, not a data file")
    raises(folder, r"folder\.csv: is a folder, not a regular file", reader=read_array)
    raises(folder, r"folder\.csv: is a folder, not a regular file", reader=load_model)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_named_pipe_is_refused_without_being_opened(tmp_path):
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    # Opening a pipe with no writer would block: refusing it must not open it.
    raises(pipe, r"pipe\.csv: is a named pipe \(FIFO\), not a regular file")
    raises(pipe, r"pipe\.csv: is a named pipe \(FIFO\)", reader=load_model)
    pytest.importorskip("dask.array")
    npy_pipe = tmp_path / "pipe.npy"
    os.mkfifo(npy_pipe)
    raises(npy_pipe, r"pipe\.npy: is a named pipe \(FIFO\)", chunks=10)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_device_file_is_refused():
    raises("/dev/zero", r"/dev/zero: is a device, not a regular file")
    raises("/dev/zero", r"/dev/zero: is a device, not a regular file", reader=load_model)


def deny(monkeypatch, target) -> None:
    """Make opening ``target`` fail as a file without read permission does."""
    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):
        if os.fspath(file) == os.fspath(target):
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)


@pytest.mark.parametrize("name", ["locked.csv", "locked.npy", "locked.npz"])
def test_permission_denied_names_the_file(tmp_path, monkeypatch, name):
    path = tmp_path / name
    writers = {".csv": np.savetxt, ".npy": np.save, ".npz": np.savez}
    writers[path.suffix](path, np.ones((2, 2)))
    deny(monkeypatch, path)
    raises(path, rf"locked\.{name[-3:]}: permission denied: kmix cannot read this file")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_permission_denied_for_real(tmp_path):
    path = tmp_path / "locked.csv"
    path.write_text("1,2\n")
    path.chmod(0)
    try:
        raises(path, r"locked\.csv: permission denied")
    finally:
        path.chmod(0o600)


def test_long_names_are_shortened_in_the_middle():
    from kmix._paths import shorten as shorten_name

    assert shorten_name("short.csv") == "short.csv"
    long = "d" * 150 + "/data.csv"
    shown = shorten_name(long)
    assert shown == "d" * 40 + "…" + long[-40:]
    assert shorten_name("a\nb.csv") == "a\\nb.csv"


# --- text ----------------------------------------------------------------------------


def test_csv_with_byte_order_mark_and_no_header_keeps_its_first_row(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf1.5,2\n3,4\n")
    np.testing.assert_array_equal(load_data(path), [[1.5, 2], [3, 4]])
    with_header = tmp_path / "bom_header.csv"
    with_header.write_bytes(b"\xef\xbb\xbfx,y\n1,2\n")
    np.testing.assert_array_equal(load_data(with_header), [[1, 2]])


@pytest.mark.parametrize(
    "text, line, column, cell",
    [
        ("2..5,1.0\n3,4\n", 1, 1, "2..5"),
        ("1.0,2..5\n3,4\n", 1, 2, "2..5"),
        ("id,2019\n1,2\n", 1, 1, "id"),
        ("1,,3\n4,5,6\n", 1, 2, "(empty)"),
        ("3,4\n2..5,1.0\n", 2, 1, "2..5"),
    ],
)
def test_first_row_with_a_bad_cell_is_reported_not_taken_as_a_header(tmp_path, text, line, column, cell):
    path = tmp_path / "typo.csv"
    path.write_text(text)
    raises(path, rf"typo\.csv: line {line}, column {column}: cannot read {re.escape(repr(cell))} as a number")


def test_first_line_of_names_is_still_a_header(tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("width, height\n1,2\n3,4\n")
    np.testing.assert_array_equal(load_data(path), [[1, 2], [3, 4]])


def test_text_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("x,y\n1,2\n3,é\n".encode("latin-1"))
    raises(path, r"latin1\.csv: not UTF-8 text \(line 3: byte 0xe9 is not UTF-8\); save the file as UTF-8")


# --- model files -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.npz"
    kmix.save_model(kmix.KMeans(3, random_state=0).fit(kmix.datasets.load("samples_1")), path)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    return arrays


def model_file(tmp_path, arrays: dict, edit_meta=None, **replace) -> os.PathLike:
    arrays = dict(arrays, **replace)
    if edit_meta is not None:
        meta = json.loads(str(arrays["__meta__"]))
        edit_meta(meta)
        arrays["__meta__"] = np.array(json.dumps(meta))
    path = tmp_path / "edited.npz"
    np.savez(path, **arrays)
    return path


NOT_A_MODEL = r"edited\.npz: not a kmix model file \(or one written by an incompatible version of kmix\): "


def test_saved_model_still_loads(tmp_path, saved_model):
    model = load_model(model_file(tmp_path, saved_model))
    assert model.cluster_centers_.shape == (3, 2) and model.history_.n_iter == model.n_iter_


@pytest.mark.parametrize(
    "replace, pattern",
    [
        ({"__meta__": np.array([{"format": "kmix-model"}], dtype=object)}, r"its metadata holds pickled Python objects"),
        ({"__meta__": np.array("{not json")}, r"its metadata is not JSON"),
        ({"__meta__": np.array("[1, 2, 3]")}, r"its metadata is a JSON list, not an object"),
        ({"__meta__": np.array(["{}", "{}"])}, r"its metadata is an array of shape \(2,\), not one JSON text"),
        ({"__meta__": np.arange(3.0)}, r"its metadata holds float64 values"),
        ({"__meta__": np.array("[" * 100_000 + "]" * 100_000)}, r"its metadata is not JSON"),
    ],
)
def test_model_metadata_that_is_not_json(tmp_path, saved_model, replace, pattern):
    raises(model_file(tmp_path, saved_model, **replace), NOT_A_MODEL + pattern, reader=load_model)


def _drop(key):
    return lambda meta: meta.pop(key)


def _set(key, value):
    return lambda meta: meta.__setitem__(key, value)


@pytest.mark.parametrize(
    "edit, pattern",
    [
        (_drop("format"), r"its metadata does not say format 'kmix-model'"),
        (_set("version", 99), r"it is in model format version 99; this kmix reads versions 1 to 2"),
        (_set("version", "1"), r"it is in model format version '1'"),
        (_drop("class"), r"its metadata has no 'class'"),
        (_drop("params"), r"its metadata has no 'params'"),
        (_set("params", [1, 2]), r"its metadata's 'params' is a list"),
        (_drop("fitted"), r"its metadata has no 'fitted'"),
        (_set("history", "yes"), r"its metadata's 'history' is a str"),
        (_set("class", "Pipeline"), r"unknown model class 'Pipeline'"),
        (lambda meta: meta["params"].update(bogus=1), r"KMeans has no parameter 'bogus'"),
        (lambda meta: meta["fitted"].update(fit=1), r"it names 'fit', which is not a fitted attribute"),
        (lambda meta: meta["fitted"].update(__class__=1), r"it names '__class__', which is not a fitted"),
        (lambda meta: meta["history"].pop("n_iter"), r"its history is incomplete or damaged \(no 'n_iter'\)"),
    ],
)
def test_model_metadata_that_is_not_kmix(tmp_path, saved_model, edit, pattern):
    raises(model_file(tmp_path, saved_model, edit_meta=edit), NOT_A_MODEL + pattern, reader=load_model)


def test_model_array_named_after_an_unknown_parameter(tmp_path, saved_model):
    path = model_file(tmp_path, saved_model, **{"param/bogus": np.ones(2)})
    raises(path, NOT_A_MODEL + r"KMeans has no parameter 'bogus'", reader=load_model)


def test_model_file_with_no_metadata_or_not_an_archive(tmp_path, saved_model):
    plain = tmp_path / "edited.npz"
    np.savez(plain, a=np.ones(3))
    raises(plain, NOT_A_MODEL + r"it has no __meta__ entry", reader=load_model)
    plain.write_bytes(b"not an archive")
    raises(plain, r"edited\.npz: not a kmix model file \(not a readable zip archive", reader=load_model)
    plain.write_bytes(b"")
    raises(plain, NOT_A_MODEL + r"the file is empty", reader=load_model)
    raises(tmp_path / "absent.npz", r"absent\.npz: no such file", reader=load_model)


def test_model_file_with_a_damaged_member(tmp_path, saved_model):
    path = tmp_path / "damaged.npz"
    payload = npy_bytes(saved_model["fitted/cluster_centers_"])
    members = {f"{key}.npy": npy_bytes(value) for key, value in saved_model.items()}
    members["fitted/cluster_centers_.npy"] = payload
    write_zip(path, members)
    flip_last_data_byte(path, payload)
    raises(path, r"damaged\.npz:fitted/cluster_centers_: the archive is damaged \(Bad CRC-32", reader=load_model)
