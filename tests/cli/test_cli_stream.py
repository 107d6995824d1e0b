"""``kmix kmeans --minibatch`` and ``kmix gmm --stream``: the report, the files,
and the one-line errors (exit status 2) for what they cannot do."""

import numpy as np
import pytest

import kmix
from kmix.cli.main import main
from kmix.models.gaussian_mixture import GaussianMixtureCore
from kmix.models.minibatch import MiniBatchKMeansCore


def run(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def parts(tmp_path):
    """A folder of three .npy files (two blobs), and their rows stacked."""
    rng = np.random.default_rng(3)
    folder = tmp_path / "parts"
    folder.mkdir()
    arrays = []
    for i in range(3):
        rows = rng.normal(size=(300, 2)) + np.where(rng.random((300, 1)) < 0.5, 0.0, 6.0)
        np.save(folder / f"part{i}.npy", rows)
        arrays.append(rows)
    return folder, arrays


# --- kmix kmeans --minibatch --------------------------------------------------------

def test_minibatch_report_and_files(capsys, tmp_path):
    plot, ssd, gif = tmp_path / "c.png", tmp_path / "s.png", tmp_path / "a.gif"
    code, out, err = run(capsys, "kmeans", "samples_3", "-k", "4", "--seed", "0", "--minibatch",
                         "--batch-size", "100", "--plot", plot, "--ssd-plot", ssd,
                         "--animate", gif, "--max-frames", "5")
    assert code == 0, err
    X = kmix.datasets.load("samples_3")
    expected = MiniBatchKMeansCore(4, batch_size=100, random_state=0).fit(X)
    assert f"mini-batch k-means on samples_3: {X.shape[0]} samples x {X.shape[1]} features, k = 4, " \
           "batches of 100 rows" in out
    assert f"steps: {expected.n_steps_} ({expected.n_iter_} pass" in out
    assert f"final SSD (inertia): {expected.inertia_:.6g}" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["cluster", "size"])
    sizes = [int(line.split()[1]) for line in lines[header + 2: header + 6]]
    assert sizes == np.bincount(expected.labels_, minlength=4).tolist()
    for path in (plot, ssd, gif):
        assert path.stat().st_size > 0
        assert f"wrote {path}" in out
    from PIL import Image

    with Image.open(gif) as image:
        assert image.n_frames == 5


def test_minibatch_batch_ssd_figure_and_animation_frames(tmp_path):
    from kmix.viz import animate_kmeans, plot_batch_ssd

    X = kmix.datasets.load("samples_3")
    model = MiniBatchKMeansCore(3, batch_size=50, max_iter=1, max_no_improvement=None, random_state=1,
                                record_history=True).fit(X)
    ax = plot_batch_ssd(model.history_)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), model.history_.ssd)
    info = animate_kmeans(X, model, tmp_path / "a.gif", show_objective=True)
    assert info.n_frames == model.n_steps_ + 1  # the initial centres, then one frame per step
    assert info.frames[1] == "step 1"
    with pytest.raises(ValueError, match="no half-steps"):
        animate_kmeans(X, model, tmp_path / "b.gif", half_steps=True)


@pytest.mark.parametrize("argv, message", [
    (["--batch-size", "10"], "--batch-size applies only with --minibatch"),
    (["--minibatch", "--batch-size", "0"], r"argument --batch-size: expected a number >= 1, got 0"),
    (["--minibatch", "--batch-size", "ten"], r"argument --batch-size: expected a whole number, got 'ten'"),
    (["--minibatch", "--dask"], "--minibatch fits data in memory"),
    (["--minibatch", "--select", "2..4"], "leave out --minibatch or --select"),
    (["--minibatch", "--init", "k-means||"], "with --minibatch use auto"),
    (["--minibatch", "--algorithm", "lloyd"], "does not apply with --minibatch"),
    (["--minibatch", "--animate", "{tmp}/a.gif", "--half-steps"], "leave out --half-steps"),
    (["--minibatch", "--out", "{tmp}/m.npz"], "--out cannot save a mini-batch k-means model"),
])
def test_minibatch_errors(capsys, tmp_path, argv, message):
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    code, out, err = run(capsys, "kmeans", "samples_3", "-k", "3", *argv)
    assert code == 2
    assert err.startswith("kmix: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert out == "" and list(tmp_path.iterdir()) == []  # refused before any work


# --- kmix gmm --stream --------------------------------------------------------------

def test_stream_report_equals_partial_fit_over_the_files(capsys, tmp_path, parts):
    folder, arrays = parts
    ll_plot, saved = tmp_path / "ll.png", tmp_path / "m.npz"
    code, out, err = run(capsys, "gmm", folder, "-k", "2", "--seed", "0", "--stream", "--passes", "2",
                         "--ll-plot", ll_plot, "--out", saved)
    assert code == 0, err
    expected = GaussianMixtureCore(2, random_state=0)
    for _ in range(2):
        for rows in arrays:
            expected.partial_fit(rows)
    X = np.concatenate(arrays)
    mean, bic, aic = expected.information_criteria(X)
    assert f"Gaussian mixture on {folder}: 900 samples x 2 features, k = 2, full covariances" in out
    assert "online EM: 6 steps (2 passes over 3 files, batches of at most 10000 rows)" in out
    assert f"final log-likelihood: {mean * 900:.6f} ({mean:.6f} per sample)" in out
    assert f"BIC: {bic:.6f}   AIC: {aic:.6f}" in out
    assert f"{expected.weights_[0]:.6g}" in out
    assert ll_plot.stat().st_size > 0
    model = kmix.load_model(saved)
    np.testing.assert_allclose(model.means_, expected.means_)
    assert model.n_iter_ == 6


def test_stream_reads_row_batches_of_a_file(monkeypatch, capsys, tmp_path):
    from kmix.cli import _online

    monkeypatch.setattr(_online, "STREAM_BATCH_ROWS", 100)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(250, 3)))
    code, out, err = run(capsys, "gmm", tmp_path / "x.npy", "-k", "2", "--seed", "1", "--stream")
    assert code == 0, err
    assert "online EM: 3 steps (1 pass over 1 file, batches of at most 100 rows)" in out


def test_stream_row_batches_never_span_files():
    from kmix.models.streaming import RowStream

    stream = RowStream([np.zeros((25, 2)), np.zeros((0, 2)), np.ones((10, 2))], batch_rows=10)
    assert [len(batch) for batch in stream] == [10, 10, 5, 10]
    assert (stream.n_samples, stream.n_features, stream.n_batches) == (35, 2, 4)


@pytest.mark.parametrize("argv, message", [
    (["--passes", "2"], "--passes applies only with --stream"),
    (["--stream", "--passes", "0"], r"argument --passes: expected a number >= 1, got 0"),
    (["--stream", "--plot", "{tmp}/p.png"], "--plot draws every point, so it needs the data in memory: "
                                            "leave out --stream or --plot"),
    (["--stream", "--density-plot", "{tmp}/d.png"], "leave out --stream or --density-plot"),
    (["--stream", "--animate", "{tmp}/a.gif"], "leave out --stream or --animate"),
    (["--stream", "--dask"], "leave out --dask"),
    (["--stream", "--max-iter", "5"], "--max-iter and --tol apply to EM over all the data"),
])
def test_stream_option_errors(capsys, tmp_path, parts, argv, message):
    folder, _ = parts
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    code, out, err = run(capsys, "gmm", folder, *argv)
    assert code == 2
    assert err.startswith("kmix: error: ") and err.count("\n") == 1
    assert message in err and out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parts"]


def test_stream_folder_errors(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "gmm", empty, "--stream")
    assert code == 2 and "the folder holds no .npy files" in err
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    np.save(mixed / "a.npy", np.zeros((20, 2)))
    np.save(mixed / "b.npy", np.zeros((20, 3)))
    code, _, err = run(capsys, "gmm", mixed, "--stream")
    assert code == 2 and "b.npy: has 3 columns, but a.npy has 2" in err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.npy").write_bytes(b"not a numpy file")
    code, _, err = run(capsys, "gmm", bad, "--stream")
    assert code == 2 and "a.npy" in err and "not a valid .npy" in err
    code, _, err = run(capsys, "gmm", tmp_path / "missing", "--stream")
    assert code == 2 and "no such folder" in err
    (tmp_path / "x.csv").write_text("1,2\n3,4\n")
    code, _, err = run(capsys, "gmm", tmp_path / "x.csv", "--stream")
    assert code == 2 and "is not a folder of .npy files" in err
    for e in (err,):
        assert e.startswith("kmix: error: ") and "Traceback" not in e


def test_stream_names_the_file_with_nan(capsys, tmp_path):
    folder = tmp_path / "nan"
    folder.mkdir()
    np.save(folder / "a.npy", np.random.default_rng(0).normal(size=(50, 2)))
    rows = np.random.default_rng(1).normal(size=(50, 2))
    rows[7, 1] = np.nan
    np.save(folder / "b.npy", rows)
    code, out, err = run(capsys, "gmm", folder, "-k", "2", "--stream")
    assert code == 2 and err.startswith("kmix: error: ") and "b.npy" in err
    assert "NaN" in err or "nan" in err.lower()
