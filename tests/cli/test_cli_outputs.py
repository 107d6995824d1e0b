"""Every command writes all of its outputs or none, never over its input, and says
in one line why it wrote nothing."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import kmix
from kmix.cli import _common, _dask, demo, gmm, kmeans
from kmix.cli._common import OutputError
from kmix.cli._outputs import OutputFiles
from kmix.cli.main import main
from kmix.viz import animate_gmm, animate_kmeans
from kmix.viz._frames import write_frames

PNG = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def listing(folder):
    """Every file and folder under ``folder``, hidden ones included."""
    return sorted(str(path.relative_to(folder)) for path in Path(folder).rglob("*"))


def assert_one_line_error(code, err, *fragments):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "error:" in lines[0] and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "in.npz"
    np.savez(path, X=kmix.datasets.load("samples_1"))
    return path


@pytest.fixture
def no_loading(monkeypatch):
    """Fail the test if a command gets as far as loading its data."""
    def refuse(args):
        raise AssertionError("the data was loaded before the outputs were checked")

    monkeypatch.setattr(_dask, "load_input", refuse)


# --- an output that is the input ------------------------------------------------

@pytest.mark.parametrize("command", ["kmeans", "gmm"])
@pytest.mark.parametrize("data, out", [
    ("in.npz", "in.npz"),
    ("in.npz:X", "in.npz"),
    ("in.npz", "in"),  # ".npz" is added to the --out name
    ("in.npz", "sub/../in.npz"),
    ("in.npz", "IN_LINK.npz"),  # a link to the input
])
def test_out_naming_the_input_is_refused_before_loading(capsys, tmp_path, monkeypatch, data_file, no_loading,
                                                        command, data, out):
    (tmp_path / "sub").mkdir()
    (tmp_path / "IN_LINK.npz").symlink_to(data_file)
    before = data_file.read_bytes()
    files = listing(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, command, data, "-k", "2", "--plot", "ok.png", "--out", out)
    assert_one_line_error(code, err, f"kmix: error: --out {out if out.endswith('.npz') else out + '.npz'}",
                          "is the input data file; choose another name")
    assert data_file.read_bytes() == before
    assert listing(tmp_path) == files


def test_an_output_beside_a_bundled_dataset_name_is_fine(capsys, tmp_path):
    code, out, err = run(capsys, "kmeans", "samples_1", "-k", "2", "--seed", "0", "--out", tmp_path / "samples_1")
    assert code == 0, err
    assert f"wrote {tmp_path / 'samples_1.npz'}" in out


# --- two outputs naming one file ------------------------------------------------

@pytest.mark.parametrize("argv, options", [
    (["kmeans", "samples_1", "-k", "2", "--plot", "a.png", "--ssd-plot", "a.png"], "--plot and --ssd-plot"),
    (["kmeans", "samples_1", "-k", "2", "--plot", "a.png", "--ssd-plot", "./sub/../a.png"], "--plot and --ssd-plot"),
    (["gmm", "samples_1", "-k", "2", "--ll-plot", "a.png", "--density-plot", "a.png"], "--ll-plot and --density-plot"),
])
def test_two_outputs_naming_one_file_are_refused(capsys, tmp_path, monkeypatch, no_loading, argv, options):
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, f"kmix: error: {options} name the same file", "choose different names")
    assert listing(tmp_path) == ["sub"]


# --- all outputs or none ----------------------------------------------------------

@pytest.mark.parametrize("command", ["kmeans", "gmm"])
def test_out_onto_a_folder_is_refused_and_nothing_is_written(capsys, tmp_path, command):
    (tmp_path / "result.npz").mkdir()
    code, _, err = run(capsys, command, "samples_1", "-k", "2", "--plot", tmp_path / "ok.png",
                       "--out", tmp_path / "result")
    assert_one_line_error(code, err, "--out", "result.npz is a folder")
    assert listing(tmp_path) == ["result.npz"]


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failing_writer_leaves_every_target_as_it_was(capsys, tmp_path, monkeypatch, failure):
    old = tmp_path / "ok.png"
    old.write_bytes(b"the user's old figure")

    def fail(model, path):
        raise failure

    monkeypatch.setattr(kmeans, "save_result", fail)
    code, _, err = run(capsys, "kmeans", "samples_1", "-k", "2", "--seed", "0", "--plot", old,
                       "--ssd-plot", tmp_path / "ssd.png", "--animate", tmp_path / "a.gif", "--max-frames", "2",
                       "--out", tmp_path / "r.npz")
    if isinstance(failure, KeyboardInterrupt):
        assert code == 130 and err == "kmix: interrupted\n"
    else:
        # The error names no file: it is put on the output being written.
        assert_one_line_error(code, err, f"kmix: error: cannot write {tmp_path / 'r.npz'}: no space left on device")
    assert old.read_bytes() == b"the user's old figure"
    assert listing(tmp_path) == ["ok.png"]


def _failing_replace(monkeypatch, target, *, after=False):
    """Make the first rename onto ``target`` fail (or, with ``after``, be
    interrupted just after it happened); every other rename works."""
    real = os.replace
    calls = []

    def replace(source, destination):
        if Path(destination) == Path(target) and not calls:
            calls.append(source)
            if after:
                real(source, destination)
                raise KeyboardInterrupt
            raise PermissionError(13, "Permission denied", str(destination))
        return real(source, destination)

    monkeypatch.setattr(os, "replace", replace)
    return calls


@pytest.mark.parametrize("existing", [False, True])
def test_a_failed_rename_puts_back_the_files_already_replaced(capsys, tmp_path, monkeypatch, existing):
    plot, out = tmp_path / "ok.png", tmp_path / "r.npz"
    plot.write_bytes(b"old figure")
    if existing:
        out.write_bytes(b"old model")
    calls = _failing_replace(monkeypatch, out)
    code, _, err = run(capsys, "kmeans", "samples_1", "-k", "2", "--seed", "0", "--plot", plot,
                       "--ssd-plot", tmp_path / "ssd.png", "--out", out)
    assert calls  # the renames were under way: the plots had been put in place
    assert_one_line_error(code, err, f"kmix: error: cannot write {out}: permission denied")
    assert plot.read_bytes() == b"old figure"
    assert listing(tmp_path) == (["ok.png", "r.npz"] if existing else ["ok.png"])
    if existing:
        assert out.read_bytes() == b"old model"


def _write_three(outputs, folder):
    for name in ("a.png", "b.npz", "c.gif"):
        outputs.add("--x", folder / name).write_bytes(b"new " + name.encode())


@pytest.mark.parametrize("after", [False, True])
def test_transaction_rolls_back_a_failed_or_interrupted_rename(tmp_path, monkeypatch, after):
    (tmp_path / "a.png").write_bytes(b"old a")
    (tmp_path / "c.gif").write_bytes(b"old c")
    _failing_replace(monkeypatch, tmp_path / "c.gif", after=after)
    with pytest.raises(KeyboardInterrupt if after else OutputError,
                       match=None if after else rf"^cannot write {re.escape(str(tmp_path / 'c.gif'))}: permission"):
        with OutputFiles() as outputs:
            _write_three(outputs, tmp_path)
    assert listing(tmp_path) == ["a.png", "c.gif"]
    assert (tmp_path / "a.png").read_bytes() == b"old a"
    assert (tmp_path / "c.gif").read_bytes() == b"old c"


def test_transaction_commits_everything_and_keeps_no_backups(tmp_path):
    (tmp_path / "a.png").write_bytes(b"old a")
    with OutputFiles() as outputs:
        _write_three(outputs, tmp_path)
        temporaries = [output.temporary for output in outputs._outputs]
        assert all(path.parent == tmp_path and path.name.startswith(".") for path in temporaries)
        assert [path.suffix for path in temporaries] == [".png", ".npz", ".gif"]
        assert not (tmp_path / "b.npz").exists()  # nothing is in place before the end
    assert outputs.written == [tmp_path / "a.png", tmp_path / "b.npz", tmp_path / "c.gif"]
    assert listing(tmp_path) == ["a.png", "b.npz", "c.gif"]
    assert (tmp_path / "a.png").read_bytes() == b"new a.png"


def test_transaction_interrupted_while_writing_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with OutputFiles() as outputs:
            _write_three(outputs, tmp_path)
            raise KeyboardInterrupt
    assert listing(tmp_path) == []


def test_demo_writes_nothing_when_a_step_fails(capsys, tmp_path, monkeypatch):
    folder = tmp_path / "made" / "demo"

    def fail(out, outputs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(demo, "STEPS", [gmm.demo_figures, fail])
    code, _, err = run(capsys, "demo", "--out", folder)
    assert_one_line_error(code, err, "kmix: error: no space left on device")
    assert listing(tmp_path) == []  # the folders it made are gone too

    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "gmm.png").write_bytes(b"old figure")
    code, _, err = run(capsys, "demo", "--out", existing)
    assert code == 2
    assert listing(existing) == ["gmm.png"] and (existing / "gmm.png").read_bytes() == b"old figure"


def test_demo_out_must_be_a_folder(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    code, _, err = run(capsys, "demo", "--out", tmp_path / "file")
    assert_one_line_error(code, err, "argument --out", "exists and is not a folder")
    code, _, err = run(capsys, "demo", "--out", tmp_path / "file" / "sub")
    assert_one_line_error(code, err, "argument --out", "exists and is not a folder")
    assert listing(tmp_path) == ["file"]


# --- a reader that stops reading --------------------------------------------------

def _environment():
    return dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")


@pytest.mark.parametrize("read_first_line", [False, True])
def test_closed_stdout_still_writes_the_files(tmp_path, read_first_line):
    plot = tmp_path / "p.png"
    command = [sys.executable, "-m", "kmix", "kmeans", "samples_3", "-k", "3", "--seed", "0",
               "--plot", str(plot), "--out", str(tmp_path / "r.npz")]
    if read_first_line:  # as `kmix ... | head -1`
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_environment())
        assert process.stdout.readline().startswith(b"k-means on samples_3")
        process.stdout.close()
        err = process.stderr.read()
        process.stderr.close()
        code = process.wait(timeout=300)
    else:  # the reader is gone before anything is printed: the first line already fails
        reader, writer = os.pipe()
        os.close(reader)
        try:
            process = subprocess.Popen(command, stdout=writer, stderr=subprocess.PIPE, env=_environment())
        finally:
            os.close(writer)
        _, err = process.communicate(timeout=300)
        code = process.returncode
    assert code == 0, err
    assert b"Exception ignored" not in err and b"BrokenPipe" not in err and b"Traceback" not in err
    assert plot.read_bytes()[:8] == PNG
    with Image.open(plot) as image:
        image.verify()
    assert kmix.load_model(tmp_path / "r.npz").n_clusters == 3
    assert listing(tmp_path) == ["p.png", "r.npz"]


def test_say_stops_writing_once_the_reader_is_gone(monkeypatch):
    class Gone:
        writes = 0

        def write(self, text):
            Gone.writes += 1
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", Gone())
    _common.say("first")
    _common.say("second")
    assert Gone.writes == 1


# --- frames per second ------------------------------------------------------------

@pytest.fixture(scope="module")
def kmeans_fit():
    X = kmix.datasets.load("samples_1")
    return X, kmix.KMeans(3, random_state=0).fit(X)


@pytest.mark.parametrize("fps", [0.0001, 0.0099, 101, 1e9, 0, -1, float("nan"), float("inf"), "4", True])
def test_animation_fps_out_of_range_is_refused_before_drawing(kmeans_fit, tmp_path, monkeypatch, fps):
    X, model = kmeans_fit

    def no_drawing(*args, **kwargs):
        raise AssertionError("frames were drawn before fps was checked")

    monkeypatch.setattr("kmix.viz.animation.BlitRenderer", no_drawing)
    with pytest.raises(ValueError, match=r"fps must be a number from 0\.01 to 100 .*got"):
        animate_kmeans(X, model, tmp_path / "k.gif", fps=fps)
    gmm_model = kmix.GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"fps must be a number from 0\.01 to 100"):
        animate_gmm(X, gmm_model, tmp_path / "g.gif", fps=fps)
    with pytest.raises(ValueError, match=r"fps must be a number from 0\.01 to 100"):
        write_frames([np.zeros((4, 4, 3), np.uint8)] * 2, tmp_path / "w.gif", fps)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("fps, milliseconds", [(0.01, 100_000), (100, 10), (3, 330)])
def test_animation_fps_at_the_ends_of_the_range(kmeans_fit, tmp_path, fps, milliseconds):
    X, model = kmeans_fit
    info = animate_kmeans(X, model, tmp_path / "k.gif", fps=fps, max_frames=2)
    with Image.open(info.path) as image:
        assert image.format == "GIF" and image.n_frames == 2
        assert image.info["duration"] == milliseconds


@pytest.mark.parametrize("fps", ["0.0001", "101", "nan", "0"])
def test_cli_fps_out_of_range_is_a_usage_error(capsys, tmp_path, fps):
    code, _, err = run(capsys, "kmeans", "samples_1", "-k", "2", "--animate", tmp_path / "k.gif", "--fps", fps)
    assert_one_line_error(code, err, "argument --fps", "fps must be a number from 0.01 to 100")
    assert listing(tmp_path) == []


# --- names the operating system would refuse --------------------------------------

LONG_NAME = "n" * 300
DEEP = "/".join(["d" * 200] * 25)  # 5024 bytes


@pytest.mark.parametrize("command, option, suffix", [
    ("kmeans", "--plot", ".png"),
    ("kmeans", "--ssd-plot", ".svg"),
    ("kmeans", "--animate", ".gif"),
    ("kmeans", "--out", ".npz"),
    ("gmm", "--ll-plot", ".png"),
    ("gmm", "--density-plot", ".pdf"),
    ("gmm", "--animate", ".gif"),
    ("gmm", "--out", ""),
])
@pytest.mark.parametrize("name, message", [
    (LONG_NAME, "the file name is 30"),
    ("é" * 130, "the file name is 26"),  # 130 characters, 260 bytes or more
    (LONG_NAME + "/x", "the folder name 'nnnn"),
    (DEEP + "/x", "the path is "),  # its length depends on the temporary folder's
])
def test_too_long_output_names_are_usage_errors(capsys, tmp_path, command, option, suffix, name, message):
    code, _, err = run(capsys, command, "samples_1", option, f"{tmp_path}/{name}{suffix}")
    assert_one_line_error(code, err, f"argument {option}", message)
    assert "bytes long" in err and len(err) < 400
    assert listing(tmp_path) == []


def test_out_name_too_long_once_npz_is_added(capsys, tmp_path):
    code, _, err = run(capsys, "kmeans", "samples_1", "--out", tmp_path / ("m" * 253))
    assert_one_line_error(code, err, "argument --out", "the file name is 257 bytes long")


@pytest.mark.parametrize("name", [LONG_NAME, DEEP])
def test_demo_out_folder_too_long_is_a_usage_error(capsys, tmp_path, name):
    code, _, err = run(capsys, "demo", "--out", f"{tmp_path}/{name}")
    assert_one_line_error(code, err, "argument --out", "bytes long")
    assert listing(tmp_path) == []


def test_library_animation_refuses_too_long_names(kmeans_fit, tmp_path):
    X, model = kmeans_fit
    with pytest.raises(ValueError, match="the file name is 304 bytes long; a file system allows at most 255"):
        animate_kmeans(X, model, tmp_path / (LONG_NAME + ".gif"))
    with pytest.raises(ValueError, match="the operating system allows at most 4095"):
        animate_kmeans(X, model, tmp_path / DEEP / "x.gif")
