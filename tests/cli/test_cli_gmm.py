"""``kmix gmm``: the table, the files, one-line errors; the demo's figures."""

import numpy as np
import pytest

import kmix
from kmix.cli.gmm import demo_figures
from kmix.cli.main import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_gmm_prints_table_and_writes_files(capsys, tmp_path):
    plot, curve, density, out = (tmp_path / name for name in ("g.png", "ll.png", "d.svg", "r.npz"))
    code, stdout, err = run(capsys, "gmm", "samples_2", "-k", "3", "--seed", "0", "--covariance-type", "diag",
                            "--plot", str(plot), "--ll-plot", str(curve), "--density-plot", str(density),
                            "--out", str(out))
    assert code == 0, err
    expected = kmix.GaussianMixture(3, covariance_type="diag", random_state=0).fit(kmix.datasets.load("samples_2"))
    X = kmix.datasets.load("samples_2")
    assert f"iterations: {expected.n_iter_} (converged)" in stdout
    assert f"final log-likelihood: {expected.score(X) * 500:.6f}" in stdout
    assert f"BIC: {expected.bic(X):.6f}" in stdout
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["component", "weight"])
    rows = [line.split() for line in lines[header + 2: header + 5]]
    assert [row[0] for row in rows] == ["00", "01", "02"]
    np.testing.assert_allclose([float(row[1]) for row in rows], expected.weights_, rtol=1e-5)
    np.testing.assert_allclose([[float(v) for v in row[2:]] for row in rows], expected.means_, rtol=1e-5)
    for path in (plot, curve, density, out):
        assert path.exists() and path.stat().st_size > 0 and f"wrote {path}" in stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in density.read_bytes()[:500]
    model = kmix.load_model(out)
    np.testing.assert_array_equal(model.predict_proba(X), expected.predict_proba(X))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


@pytest.mark.parametrize(
    "argv, message",
    [
        (["gmm", "missing.csv"], "missing.csv: no such file"),
        (["gmm", "samples_2", "-k", "0"], "expected a number >= 1"),
        (["gmm", "samples_2", "-k", "501"], "n_components=501 must be <= n_samples=500"),
        (["gmm", "samples_2", "--covariance-type", "round"], "invalid choice"),
        (["gmm", "samples_2", "--init", "bad"], "invalid choice"),
        (["gmm", "samples_2", "--reg-covar", "-1"], "expected a finite number >= 0"),
        (["gmm", "samples_2", "--plot", "nofolder/x.png"], "does not exist"),
        (["gmm", "samples_2", "--density-plot", "x.gifx"], "figures are written as"),
    ],
)
def test_bad_input_is_one_line_with_status_2(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "error:" in err and message in err
    assert "Traceback" not in err


def test_collapse_without_regularisation_is_one_line(capsys, tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("\n".join(["0,0", "1,1", "5,2"] * 10) + "\n")
    code, _, err = run(capsys, "gmm", str(path), "-k", "3", "--reg-covar", "0", "--seed", "0")
    assert code == 2 and err.startswith("kmix: error:") and "increase reg_covar" in err
    assert len(err.strip().splitlines()) == 1


def test_help_has_examples(capsys):
    code, out, _ = run(capsys, "gmm", "--help")
    assert code == 0 and "examples:" in out and "kmix gmm samples_2 -k 5" in out


def test_demo_figures(capsys, tmp_path):
    paths = demo_figures(tmp_path)
    assert [p.name for p in paths] == ["gmm.png", "gmm_loglik.png", "gmm_density.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "samples_2, k = 5" in capsys.readouterr().out


def test_gmm_animate_writes_a_gif(capsys, tmp_path):
    from PIL import Image

    from kmix.cli.main import main

    path = tmp_path / "em.gif"
    code = main(["gmm", "samples_1", "-k", "3", "--seed", "0", "--animate", str(path),
                 "--animate-style", "density", "--max-frames", "4", "--fps", "8"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"wrote {path}" in out
    with Image.open(path) as image:
        assert image.format == "GIF" and 2 <= image.n_frames <= 4


def test_gmm_animate_bad_suffix_is_refused_before_fitting(capsys, tmp_path):
    from kmix.cli.main import main

    code = main(["gmm", "samples_1", "--animate", str(tmp_path / "em.avi")])
    _, err = capsys.readouterr()
    assert code == 2 and "animations are written as .gif or .mp4" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "option, name", [("--plot", "x.png"), ("--density-plot", "x.png"), ("--animate", "x.gif")]
)
def test_gmm_dask_refuses_plots_of_every_point(capsys, tmp_path, option, name):
    code, _, err = run(capsys, "gmm", "samples_2", "--dask", option, str(tmp_path / name))
    assert code == 2
    assert f"kmix: error: {option} draws every point, so it needs the data in memory" in err
    assert len(err.strip().splitlines()) == 1


def test_gmm_scheduler_and_chunks_need_dask(capsys):
    code, _, err = run(capsys, "gmm", "samples_2", "--chunks", "100")
    assert code == 2 and "--scheduler and --chunks apply only with --dask" in err
