"""The command line: output, files, and one-line errors with exit status 2."""

import subprocess
import sys

import numpy as np
import pytest

import kmix
from kmix.cli.main import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_kmeans_prints_table_and_writes_files(capsys, tmp_path):
    plot, ssd, out = tmp_path / "c.png", tmp_path / "s.png", tmp_path / "r.npz"
    code, stdout, err = run(capsys, "kmeans", "samples_3", "-k", "8", "--seed", "42",
                            "--plot", str(plot), "--ssd-plot", str(ssd), "--out", str(out))
    assert code == 0, err
    assert "final SSD (inertia):" in stdout and "iterations:" in stdout
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["cluster", "size"])
    rows = [line.split() for line in lines[header + 2: header + 10]]
    assert [row[0] for row in rows] == [f"{j:02d}" for j in range(8)]
    assert sum(int(row[1]) for row in rows) == 500
    for path in (plot, ssd, out):
        assert path.exists() and path.stat().st_size > 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = kmix.load_model(out)
    expected = kmix.KMeans(8, random_state=42).fit(kmix.datasets.load("samples_3"))
    np.testing.assert_array_equal(model.labels_, expected.labels_)
    assert f"{expected.inertia_:.6g}" in stdout
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_kmeans_algorithm_option(capsys, algorithm):
    code, stdout, err = run(capsys, "kmeans", "samples_3", "-k", "8", "--seed", "42",
                            "--algorithm", algorithm)
    assert code == 0, err
    expected = kmix.KMeans(8, random_state=42, algorithm=algorithm).fit(kmix.datasets.load("samples_3"))
    assert f"{expected.inertia_:.6g}" in stdout


def test_data_info_and_list(capsys, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6\n")
    code, out, _ = run(capsys, "data", "info", str(path))
    assert code == 0 and "2 samples x 3 features" in out
    code, out, _ = run(capsys, "data", "list")
    assert code == 0 and "samples_u" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["kmeans", "missing.csv"], "missing.csv: no such file"),
        (["kmeans", "samples_3", "-k", "0"], "expected a number >= 1"),
        (["kmeans", "samples_3", "-k", "501"], "n_samples=500 should be >= n_clusters=501"),
        (["kmeans", "samples_3", "--plot", "nofolder/x.png"], "does not exist"),
        (["kmeans", "samples_3", "--plot", "x.gifx"], "figures are written as"),
        (["kmeans", "samples_3", "--tol", "-1"], "expected a finite number >= 0"),
        (["kmeans", "samples_3", "--init", "bad"], "invalid choice"),
        (["kmeans", "samples_3", "--algorithm", "elkan"], "invalid choice"),
        (["data", "info", "samples_9"], "no such file"),
    ],
)
def test_bad_input_is_one_line_with_status_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "error:" in err and message in err
    assert "Traceback" not in err


def test_bad_file_content_is_one_line(capsys, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("1,2\nx,3\n")
    code, _, err = run(capsys, "kmeans", str(path), "-k", "1")
    assert code == 2 and err.startswith("kmix: error:") and "line 2, column 1" in err


def test_help_has_examples(capsys):
    for argv in (["--help"], ["kmeans", "--help"], ["data", "--help"], ["demo", "--help"]):
        code, out, _ = run(capsys, *argv)
        assert code == 0 and "example" in out


def test_console_script_runs_as_a_process(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "kmix", "kmeans", "samples_1", "-k", "3", "--seed", "0"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "final SSD" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "kmix", "kmeans", "nope.npy"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_demo_writes_the_figures(capsys, tmp_path):
    code, out, err = run(capsys, "demo", "--out", str(tmp_path / "demo"))
    assert code == 0, err
    for name in ("kmeans_clusters.png", "kmeans_ssd.png", "gmm.png", "gmm_loglik.png", "gmm_density.png"):
        path = tmp_path / "demo" / name
        assert path.exists() and path.read_bytes()[:4] == b"\x89PNG"
        assert str(path) in out
    from PIL import Image

    for name in ("kmeans.gif", "em.gif"):
        path = tmp_path / "demo" / name
        assert str(path) in out
        with Image.open(path) as image:
            assert image.format == "GIF" and image.n_frames > 3


def test_kmeans_animate_writes_a_gif(capsys, tmp_path):
    from PIL import Image

    path = tmp_path / "k.gif"
    code, out, err = run(capsys, "kmeans", "samples_3", "-k", "8", "--seed", "1", "--animate", str(path),
                         "--half-steps", "--fps", "5")
    assert code == 0, err
    assert f"wrote {path}" in out
    model = kmix.KMeans(8, random_state=1).fit(kmix.datasets.load("samples_3"))
    with Image.open(path) as image:
        assert image.n_frames == 2 * model.n_iter_ + 1


def test_kmeans_animate_refuses_other_formats_before_fitting(capsys, tmp_path):
    code, _, err = run(capsys, "kmeans", "samples_3", "--animate", str(tmp_path / "k.webm"))
    assert code == 2 and "animations are written as .gif or .mp4" in err


def test_a_dense_kmeans_run_loads_neither_scipy_sparse_nor_the_mixtures():
    # What a run does not use, it does not import: scipy.sparse (sparse input only),
    # the mixtures' and the QP's modules (other subcommands).
    code = (
        "import contextlib, io, sys\n"
        "from kmix.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['kmeans', 'samples_3', '-k', '3', '--seed', '0']) == 0\n"
        "loaded = [m for m in ('scipy.sparse', 'sklearn', 'kmix.models.gaussian_mixture',\n"
        "                      'kmix.models.selection', 'kmix.models.qp') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=600)
