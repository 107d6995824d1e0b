"""Every argument checked before any work (no data loaded, nothing fitted), and
the library's warnings shown as one line each."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from kmix.cli import _dask
from kmix.cli.main import main


def run(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_error(code, err, message):
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("kmix: error: "), err
    assert message in err, err
    assert "Traceback" not in err


@pytest.fixture
def no_loading(monkeypatch):
    """Fail the test if a command gets as far as loading its data."""
    def refuse(args):
        raise AssertionError("the data was loaded before the arguments were checked")

    monkeypatch.setattr(_dask, "load_input", refuse)


# --- ranges and combinations, before loading ----------------------------------------

@pytest.mark.parametrize("command", ["kmeans", "gmm"])
@pytest.mark.parametrize("frames", ["1", "0", "-3"])
def test_max_frames_below_two_is_refused_by_the_parser(capsys, tmp_path, no_loading, command, frames):
    code, _, err = run(capsys, command, "samples_1", "-k", "2", "--animate", tmp_path / "a.gif",
                       "--max-frames", frames)
    assert_error(code, err, f"argument --max-frames: expected a number >= 2 (the first and the last frames "
                            f"are always kept), got {int(frames)}")
    assert os.listdir(tmp_path) == []


def test_max_frames_two_is_accepted(capsys, tmp_path):
    code, out, err = run(capsys, "kmeans", "samples_1", "-k", "2", "--seed", "0", "--animate",
                         tmp_path / "a.gif", "--max-frames", "2")
    assert code == 0, err
    assert f"wrote {tmp_path / 'a.gif'}" in out


@pytest.mark.parametrize("argv, message", [
    (["kmeans", "samples_1", "--fps", "3"], "--fps applies only with --animate"),
    (["kmeans", "samples_1", "--max-frames", "5"], "--max-frames applies only with --animate"),
    (["kmeans", "samples_1", "--half-steps"], "--half-steps applies only with --animate"),
    (["kmeans", "samples_1", "--fps", "3", "--half-steps"], "--fps, --half-steps apply only with --animate"),
    (["gmm", "samples_1", "--animate-style", "density"], "--animate-style applies only with --animate"),
    (["gmm", "samples_1", "--fps", "6", "--max-frames", "3"], "--fps, --max-frames apply only with --animate"),
])
def test_animation_options_without_animate_are_refused_before_loading(capsys, no_loading, argv, message):
    code, _, err = run(capsys, *argv)
    assert_error(code, err, f"kmix: error: {message}")


@pytest.mark.parametrize("command, word", [("kmeans", "centre"), ("gmm", "component")])
def test_kmeans_plus_plus_with_dask_is_refused_before_loading(capsys, no_loading, command, word):
    code, _, err = run(capsys, command, "samples_1", "--dask", "--init", "k-means++")
    assert_error(code, err, f"kmix: error: --init k-means++ makes one pass over the data per {word}; "
                            "with --dask use --init")


@pytest.mark.parametrize("argv", [["kmeans", ""], ["gmm", ""], ["select", ""], ["data", "info", ""],
                                  ["kmeans", "", "--dask"]])
def test_empty_data_is_refused_by_the_parser(capsys, no_loading, argv):
    code, out, err = run(capsys, *argv)
    command = " ".join(argv[:2] if argv[0] == "data" else argv[:1])
    assert_error(code, err, f"kmix: error: {command}: DATA is empty: give a file or a bundled dataset name")
    assert out == ""


def test_empty_qp_operand_says_so(capsys):
    code, _, err = run(capsys, "qp", "--M", "", "--h", "[1, 2]", "--b", "[1, 1]", "--c", "1")
    assert_error(code, err, 'kmix: error: --M is empty: give a number, a list such as "[1, 2]" or a file')


# --- symbolic links that loop ---------------------------------------------------------

@pytest.fixture
def loop(tmp_path):
    """A symbolic link that points to itself."""
    link = tmp_path / "loop"
    try:
        link.symlink_to(link)
    except (OSError, NotImplementedError):
        pytest.skip("no symbolic links here")
    return link


@pytest.mark.parametrize("option, name", [("--plot", "x.png"), ("--out", "x.npz"), ("--animate", "x.gif")])
def test_output_in_a_looping_folder_is_a_loop_not_a_missing_folder(capsys, monkeypatch, no_loading, loop,
                                                                   option, name):
    monkeypatch.chdir(loop.parent)
    code, _, err = run(capsys, "kmeans", "samples_1", option, f"loop/{name}")
    assert_error(code, err, f"argument {option}: loop/{name}: the folder loop cannot be looked up: too many "
                            "levels of symbolic links")
    assert "does not exist" not in err


def test_demo_out_on_a_loop_is_a_loop(capsys, loop):
    code, _, err = run(capsys, "demo", "--out", loop)
    assert_error(code, err, "too many levels of symbolic links")
    assert "is not a folder" not in err


@pytest.mark.parametrize("data", ["loop", "loop/x.csv"])
def test_data_through_a_loop_is_a_loop(capsys, monkeypatch, loop, data):
    monkeypatch.chdir(loop.parent)
    code, _, err = run(capsys, "kmeans", data)
    assert_error(code, err, f"kmix: error: {data}: too many levels of symbolic links")


def test_dask_folder_with_a_looping_link_names_it(capsys, tmp_path, monkeypatch, loop):
    pytest.importorskip("dask.array")
    monkeypatch.chdir(tmp_path)
    folder = Path("parts")
    folder.mkdir()
    np.save(folder / "part1.npy", np.arange(20.0).reshape(10, 2))
    (folder / "part2.npy").symlink_to("part2.npy")
    code, _, err = run(capsys, "kmeans", folder, "-k", "2", "--dask")
    assert_error(code, err, "kmix: error: parts/part2.npy: too many levels of symbolic links")


# --- warnings -------------------------------------------------------------------------

@pytest.fixture
def identical(tmp_path):
    path = tmp_path / "same.csv"
    np.savetxt(path, np.ones((20, 2)), delimiter=",")
    return path


def test_kmeans_warning_is_one_line(capsys, identical):
    before = warnings.showwarning
    code, out, err = run(capsys, "kmeans", identical, "-k", "3", "--seed", "0")
    assert code == 0, err
    assert err == ("kmix: warning: Number of distinct clusters (1) found smaller than n_clusters (3). "
                   "Possibly due to duplicate points in X.\n")
    assert "final SSD" in out
    assert warnings.showwarning is before  # the hook lives only while the command runs


def test_gmm_with_fewer_distinct_points_than_components_warns(capsys, identical):
    code, out, err = run(capsys, "gmm", identical, "-k", "3", "--seed", "0")
    assert code == 0, err
    assert err.startswith("kmix: warning: Number of distinct points (1) found smaller than n_components (3).")
    assert "decrease n_components" in err
    assert all(line.startswith("kmix: warning: ") for line in err.splitlines())
    assert "fit(X)" not in err and ".py:" not in err


def test_debug_shows_the_warning_as_python_does(capsys, identical):
    code, _, err = run(capsys, "--debug", "kmeans", identical, "-k", "3", "--seed", "0")
    assert code == 0
    assert "ConvergenceWarning: Number of distinct clusters (1)" in err and ".py:" in err
