"""Malformed input files through the CLI: one line ``kmix: error: ...`` naming the
file, exit status 2, no traceback, for every command that reads a data file."""

from __future__ import annotations

import os
import re
import zipfile

import numpy as np
import pytest

from kmix.cli.main import main
from tests.test_io_malformed import (
    deny,
    flip_last_data_byte,
    npy_bytes,
    set_declared_size,
    with_shape,
    write_zip,
)

# Each command with a file in the place where it reads data.
COMMANDS = {
    "kmeans": lambda data: ["kmeans", data, "-k", "2", "--seed", "0"],
    "gmm": lambda data: ["gmm", data, "-k", "2", "--seed", "0"],
    "data info": lambda data: ["data", "info", data],
    "qp": lambda data: ["qp", "--M", data, "--h", "[1, 2]", "--b", "[1, 1]", "--c", "1"],
}


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, command: str, pattern: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("kmix: error: "), err
    prefix = "--M: " if command == "qp" else ""
    assert re.search(r"^kmix: error: " + re.escape(prefix) + pattern, err), err


def _npz_text_member(tmp_path):
    path = tmp_path / "text.npz"
    write_zip(path, {"x.txt": b"1,2\n"})
    return str(path), r".*text\.npz:x\.txt: the member 'x\.txt' is not a \.npy array"


def _npz_random_member(tmp_path):
    path = tmp_path / "noise.npz"
    write_zip(path, {"x.npy": bytes(range(256)) * 2})
    return str(path), r".*noise\.npz:x: not a valid \.npy member \(no NumPy header\)"


def _npz_crc_error(tmp_path):
    path = tmp_path / "crc.npz"
    payload = npy_bytes(np.arange(12.0).reshape(6, 2))
    write_zip(path, {"x.npy": payload})
    flip_last_data_byte(path, payload)
    return str(path), r".*crc\.npz:x: the archive is damaged \(Bad CRC-32 for file 'x\.npy'\)"


def _npz_declared_size(tmp_path):
    path = tmp_path / "bomb.npz"
    write_zip(path, {"x.npy": npy_bytes(np.zeros((100, 2)))}, zipfile.ZIP_DEFLATED)
    set_declared_size(path, 0xFFFFFF00)
    return str(path), r".*bomb\.npz:x: the archive is damaged \(the member declares 4294967040 bytes"


def _npy_huge_header(tmp_path):
    path = tmp_path / "huge.npy"
    path.write_bytes(with_shape(npy_bytes(np.ones((2, 2))), "(2, 2)", "(2000000000000, 2)"))
    return str(path), (
        r".*huge\.npy: not a valid \.npy file: the header says 2000000000000 rows x 2 columns "
        r"\(32000000000000 bytes\) but the file holds only 32 bytes of data"
    )


def _npz_huge_header(tmp_path):
    path = tmp_path / "huge.npz"
    write_zip(path, {"x.npy": with_shape(npy_bytes(np.ones((2, 2))), "(2, 2)", "(2000000000000, 2)")})
    return str(path), r".*huge\.npz:x: not a valid \.npy member: the header says 2000000000000 rows"


def _long_name(tmp_path):
    return str(tmp_path / ("n" * 300 + ".csv")), r".*…n+\.csv: the file name is too long \(304 bytes"


def _long_path(tmp_path):
    path = os.path.join(str(tmp_path), *(["p" * 100] * 45), "x.csv")
    return path, r".*…p+/x\.csv: the path is too long"


def _folder(tmp_path):
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    return str(folder), r".*folder\.csv: is a folder"


def _fifo(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("named pipes are POSIX")
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    return str(pipe), r".*pipe\.csv: is a named pipe \(FIFO\), not a regular file"


def _device(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("needs /dev/zero")
    return "/dev/zero", r"/dev/zero: is a device, not a regular file"


def _not_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("1,2\n3,é\n".encode("latin-1"))
    return str(path), r".*latin1\.csv: not UTF-8 text \(line 2: byte 0xe9"


def _first_row_typo(tmp_path):
    path = tmp_path / "typo.csv"
    path.write_text("2..5,1.0\n3,4\n")
    return str(path), r".*typo\.csv: line 1, column 1: cannot read '2\.\.5' as a number"


def _complex(tmp_path):
    path = tmp_path / "complex.npy"
    np.save(path, np.ones((2, 2), dtype=complex))
    return str(path), r".*complex\.npy: holds complex128 values, not numbers kmix can use"


def _structured(tmp_path):
    path = tmp_path / "records.npy"
    np.save(path, np.ones(3, dtype=[("a", "f8"), ("b", "f8")]))
    return str(path), r".*records\.npy: holds structured records"


def _pickled(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.array([[{"a": 1}, None]], dtype=object))
    return str(path), r".*objects\.npz:x: holds pickled Python objects"


CASES = {
    "npz member not npy": _npz_text_member,
    "npz member of random bytes": _npz_random_member,
    "npz crc error": _npz_crc_error,
    "npz impossible declared size": _npz_declared_size,
    "npy header claims too many rows": _npy_huge_header,
    "npz member header claims too many rows": _npz_huge_header,
    "file name too long": _long_name,
    "path too long": _long_path,
    "folder": _folder,
    "fifo": _fifo,
    "device": _device,
    "not utf-8": _not_utf8,
    "first row typo": _first_row_typo,
    "complex": _complex,
    "structured": _structured,
    "pickled": _pickled,
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(CASES))
def test_malformed_file_is_one_line_error(tmp_path, capsys, command, case):
    data, pattern = CASES[case](tmp_path)
    code, out, err = run(capsys, COMMANDS[command](data))
    assert_one_line_error(code, err, command, pattern)
    assert out == ""


@pytest.mark.parametrize("command", list(COMMANDS))
def test_unreadable_file_is_one_line_error(tmp_path, capsys, monkeypatch, command):
    path = tmp_path / "locked.csv"
    path.write_text("1,2\n3,4\n")
    deny(monkeypatch, path)
    code, _, err = run(capsys, COMMANDS[command](str(path)))
    assert_one_line_error(code, err, command, r".*locked\.csv: permission denied")


def test_dask_input_checks_the_header_before_any_work(tmp_path, capsys):
    pytest.importorskip("dask.array")
    data, pattern = _npy_huge_header(tmp_path)
    code, _, err = run(capsys, ["kmeans", data, "-k", "2", "--dask", "--chunks", "10"])
    assert_one_line_error(code, err, "kmeans", pattern)


def test_byte_order_mark_keeps_the_first_row(tmp_path, capsys):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf2,0\n0,3\n")
    code, out, err = run(capsys, ["data", "info", str(path)])
    assert code == 0, err
    assert "2 samples x 2 features" in out
    code, out, err = run(capsys, COMMANDS["qp"](str(path)) + ["--json"])
    assert code == 0, err  # M read as [[2, 0], [0, 3]]: a valid QP


def test_qp_inline_matrix_nested_too_deep(capsys):
    deep = "[" * 50_000 + "1" + "]" * 50_000
    code, _, err = run(capsys, COMMANDS["qp"](deep))
    assert_one_line_error(code, err, "qp", r"'\[+…\]+' is nested 50000 brackets deep")
    code, _, err = run(capsys, COMMANDS["qp"]("[[[2]]]"))
    assert_one_line_error(code, err, "qp", r"'\[\[\[2\]\]\]' is nested 3 brackets deep")


def test_qp_file_of_no_numbers(tmp_path, capsys):
    path = tmp_path / "header.csv"
    path.write_text("a,b\n")
    code, _, err = run(capsys, COMMANDS["qp"](str(path)))
    assert_one_line_error(code, err, "qp", r".*header\.csv: holds no numbers")


def test_qp_operand_name_too_long(capsys):
    code, _, err = run(capsys, COMMANDS["qp"]("m" * 5000))
    assert_one_line_error(code, err, "qp", r"m{40}…m{40}: the file name is too long \(5000 bytes")
