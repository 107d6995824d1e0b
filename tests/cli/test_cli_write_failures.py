"""A failed write says which file the user asked for, never the temporary file
written first, and why, in one line; damaged input files are named as such."""

from __future__ import annotations

import errno
import os
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from kmix.cli.main import main


def run(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_error(code, err, message):
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("kmix: error: "), err
    assert message in err, err
    assert ".tmp" not in err and "Traceback" not in err


def listing(folder):
    return sorted(path.name for path in Path(folder).iterdir())


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Each test runs in its own folder, so that messages name files as short
    relative paths (a long path is shortened in the middle)."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def full_disk(monkeypatch):
    """Every figure written stops half-way with "no space left on device"."""
    def savefig(self, stream, **kwargs):
        stream.write(b"\x89PNG half a figure")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Figure, "savefig", savefig)


@pytest.mark.parametrize("command", [["kmeans", "samples_1", "-k", "2"], ["gmm", "samples_1", "-k", "2"]])
def test_full_disk_names_the_target(capsys, tmp_path, full_disk, command):
    target = "out.png"
    code, out, err = run(capsys, *command, "--seed", "0", "--plot", target, "--out", "r.npz")
    assert_error(code, err, f"kmix: error: cannot write {target}: no space left on device")
    assert "wrote" not in out
    assert listing(tmp_path) == []  # neither the figure nor the model, no temporary left


def test_full_disk_in_the_demo_names_the_target(capsys, tmp_path, full_disk):
    code, _, err = run(capsys, "demo", "--out", "demo")
    assert_error(code, err, "kmix: error: cannot write demo/")
    assert re.fullmatch(r"kmix: error: cannot write demo/\w+\.png: no space left on device\n", err), err
    assert listing(tmp_path) == []


def test_full_disk_while_saving_the_model_names_it(capsys, tmp_path, monkeypatch):
    def savez(stream, **arrays):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", savez)
    code, _, err = run(capsys, "kmeans", "samples_1", "-k", "2", "--out", "model")
    assert_error(code, err, "kmix: error: cannot write model.npz: no space left on device")
    assert listing(tmp_path) == []


def test_permission_denied_names_the_target(capsys, tmp_path, monkeypatch):
    # As root a read-only folder does not stop a write: the refusal is made here.
    def mkstemp(prefix="", suffix="", dir=None, **kwargs):
        name = os.path.join(dir, f"{prefix}l5t5s3wr{suffix}")
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    code, _, err = run(capsys, "kmeans", "samples_1", "-k", "2", "--plot", "new.png")
    assert_error(code, err, "kmix: error: cannot write new.png: permission denied")
    assert "l5t5s3wr" not in err
    assert listing(tmp_path) == []


def test_a_file_system_that_refuses_chmod_is_written_all_the_same(capsys, tmp_path, monkeypatch):
    # FAT and some network or FUSE mounts answer chmod with "operation not permitted".
    def chmod(path, mode, **kwargs):
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), path)

    monkeypatch.setattr(os, "chmod", chmod)
    target = tmp_path / "new.png"
    code, out, err = run(capsys, "kmeans", "samples_1", "-k", "2", "--plot", target)
    assert code == 0, err
    assert f"wrote {target}" in out
    assert target.read_bytes()[:4] == b"\x89PNG"
    assert listing(tmp_path) == ["new.png"]


def test_a_failed_rename_names_the_target(capsys, tmp_path, monkeypatch):
    real = os.replace
    target = "r.npz"

    def replace(source, destination):
        if Path(destination) == Path(target):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(source), str(destination))
        return real(source, destination)

    monkeypatch.setattr(os, "replace", replace)
    code, _, err = run(capsys, "kmeans", "samples_1", "-k", "2", "--out", target)
    assert_error(code, err, f"kmix: error: cannot write {target}: invalid cross-device link")
    assert listing(tmp_path) == []


# --- damaged input files are named as such (nothing is ever unpickled) ---------------------

@pytest.mark.parametrize("name, content, message", [
    ("noise.npy", bytes(range(256)), "noise.npy: not a valid .npy file (no NumPy header)"),
    ("cut.npy", None, "cut.npy: not a valid .npy file: the header says 100 rows x 2 columns"),
    ("noise.npz", bytes(range(256)), "noise.npz: not a valid .npz file (not a readable zip archive"),
    ("cut.npz", None, "cut.npz: not a valid .npz file (not a readable zip archive"),
])
@pytest.mark.parametrize("dask", [False, True])
def test_damaged_numpy_files_are_named_and_never_called_pickled(capsys, tmp_path, name, content, message, dask):
    if dask:
        pytest.importorskip("dask.array")
    path = Path(name)
    if content is None:  # a good file cut short
        whole = Path(f"whole{path.suffix}")
        (np.save if path.suffix == ".npy" else lambda p, a: np.savez(p, X=a))(whole, np.ones((100, 2)))
        content = whole.read_bytes()[:150]
    path.write_bytes(content)
    code, _, err = run(capsys, "kmeans", path, "-k", "2", *(["--dask"] if dask else []))
    assert_error(code, err, f"kmix: error: {message}")
    assert "pickled" not in err and "allow_pickle" not in err


def test_npz_with_a_damaged_member_names_the_member(capsys, tmp_path):
    path = "member.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", bytes(range(200)))
    code, _, err = run(capsys, "kmeans", path, "-k", "2")
    assert_error(code, err, f"{path}:X: not a valid .npy member (no NumPy header)")
    assert "pickled" not in err
