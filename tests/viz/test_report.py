"""The interactive report's content, read from its Bokeh document (no browser here;
tests/viz/test_report_browser.py drives the page itself)."""

from __future__ import annotations

import html
import subprocess
import sys

import numpy as np
import pytest

import kmix
import kmix.viz
from kmix.viz._projection import fit_projection


@pytest.fixture(scope="module")
def bokeh():
    return pytest.importorskip("bokeh")


@pytest.fixture(scope="module")
def kmeans_fit():
    X = kmix.load_data("samples_3")
    return X, kmix.KMeans(8, init="random", n_init=1, random_state=42).fit(X)


@pytest.fixture(scope="module")
def gmm_fit():
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(size=(150, 4)) + shift for shift in (0.0, 5.0, -5.0)])
    return X, kmix.GaussianMixture(3, random_state=0).fit(X)


def build(model, X, **options):
    from kmix.viz.report import _build

    return _build(model, X, **options)


def named(layout, name):
    found = layout.select_one({"name": name})
    assert found is not None, name
    return found


def column(layout, source, name):
    return np.asarray(named(layout, source).data[name])


def test_kmeans_report_holds_every_recorded_centre_and_ssd(bokeh, kmeans_fit):
    X, model = kmeans_fit
    data, layout = build(model, X)
    history = model.history_
    n_iter, k = history.ssd.shape[0], model.n_clusters
    centres = np.stack([column(layout, "history-source", f"f{j}") for j in range(2)], axis=-1)
    np.testing.assert_array_equal(centres.reshape(n_iter + 1, k, 2), history.centers)
    np.testing.assert_array_equal(column(layout, "objective-source", "y"), history.ssd.reshape(-1))
    # Half-steps: the initial centres, then assignment and update of each iteration.
    frames = named(layout, "frames-source").data
    assert len(frames["centre_step"]) == 2 * n_iter + 1
    assert frames["caption"][1] == "iteration 1: assignment" and frames["caption"][-1] == f"iteration {n_iter}: update"
    np.testing.assert_array_equal(frames["centre_step"][1:3], [0, 1])
    slider = named(layout, "iteration-slider")
    assert (slider.start, slider.end, slider.value) == (0, 2 * n_iter, 2 * n_iter)
    # The first view is the last frame: the fitted centres, the final labels.
    np.testing.assert_allclose(column(layout, "centres-source", "f0"), model.cluster_centers_[:, 0], atol=1e-12)
    np.testing.assert_allclose(column(layout, "centres-source", "y"), model.cluster_centers_[:, 1], atol=1e-12)
    points = named(layout, "points-source").data
    np.testing.assert_array_equal(points["row"], np.arange(len(X)))
    np.testing.assert_array_equal(points["label"], model.labels_)
    np.testing.assert_array_equal(points["shown_label"], model.labels_)
    # The assignment step of iteration t colours the points by the centres before it.
    from kmix.kernels.kmeans import nearest_centers

    offset = X.mean(axis=0)
    expected = nearest_centers(X - offset, history.centers[2] - offset)[0]
    np.testing.assert_array_equal(points["step_2"], expected)
    assert np.all(np.asarray(points["unassigned"]) == -1)
    # The paths so far: every recorded centre of each cluster.
    paths = named(layout, "paths-source").data
    np.testing.assert_array_equal(np.asarray(paths["xs"][3]), history.centers[:, 3, 0])
    # Final sizes and SSD on all of X.
    table = named(layout, "cluster-table-source").data
    np.testing.assert_array_equal(table["size"], np.bincount(model.labels_, minlength=k))
    criteria = dict(zip(*named(layout, "criteria-table-source").data.values()))
    assert criteria["SSD (inertia) of X"] == pytest.approx(model.inertia_, rel=1e-9)
    assert named(layout, "iteration-label").text.startswith(f"frame {2 * n_iter} of {2 * n_iter}: iteration")
    assert named(layout, "x-axis").visible is False  # two features: nothing to choose


def test_points_take_the_colours_of_every_kmix_figure(bokeh, kmeans_fit):
    X, model = kmeans_fit
    _, layout = build(model, X)
    mapper = named(layout, "points").glyph.fill_color["transform"]
    assert list(mapper.palette) == [kmix.viz.color(j) for j in range(8)]
    # label j sits in the middle of the j-th colour's bin; unassigned (-1) below them all
    assert (mapper.low, mapper.high) == (-0.5, 7.5)
    assert list(named(layout, "centres-source").data["color"]) == kmix.viz.colors(8)


def test_gmm_report_holds_every_recorded_parameter_and_the_criteria(bokeh, gmm_fit):
    X, model = gmm_fit
    data, layout = build(model, X)
    history = model.history_
    n_steps, k, d = history.means.shape
    means = np.stack([column(layout, "history-source", f"f{j}") for j in range(d)], axis=-1)
    np.testing.assert_array_equal(means.reshape(n_steps, k, d), history.means)
    np.testing.assert_array_equal(column(layout, "history-source", "weight").reshape(n_steps, k), history.weights)
    covariance = column(layout, "covariances-source", "c_f1__f3").reshape(n_steps, k)
    np.testing.assert_allclose(covariance, history.covariances[:, :, 1, 3], rtol=1e-12, atol=1e-12)
    # The objective: the recorded log-likelihoods, then the fitted model's on X.
    objective = column(layout, "objective-source", "y")
    np.testing.assert_array_equal(objective[:-1], history.log_likelihood)
    assert objective[-1] == pytest.approx(model.score(X), rel=1e-12)
    assert len(named(layout, "frames-source").data["caption"]) == n_steps
    for j in range(d):
        np.testing.assert_allclose(column(layout, "centres-source", f"f{j}"), model.means_[:, j], atol=1e-12)
    # Tooltips: row, features, label and responsibilities.
    points = named(layout, "points-source").data
    np.testing.assert_allclose(np.stack([points[f"r{j}"] for j in range(k)], axis=1), model.predict_proba(X),
                               atol=1e-6)
    np.testing.assert_array_equal(points["label"], model.predict(X))
    tooltips = dict(named(layout, "points-hover").tooltips)
    assert tooltips["row"] == "@row" and tooltips["label"] == "@label" and "p(2 | x)" in tooltips
    assert all(f"x{j + 1}" in tooltips for j in range(d))
    criteria = dict(zip(*named(layout, "criteria-table-source").data.values()))
    assert criteria["BIC"] == pytest.approx(model.bic(X), rel=1e-9)
    assert criteria["AIC"] == pytest.approx(model.aic(X), rel=1e-9)
    table = named(layout, "cluster-table-source").data
    np.testing.assert_allclose(table["weight"], model.weights_)
    # Four features: the principal components first, any two features to choose.
    projection = fit_projection(X)
    np.testing.assert_allclose(points["x"], projection.points(X)[:, 0], atol=1e-9)
    options = [value for value, _ in named(layout, "x-axis").options]
    assert options == ["pc0", "pc1", "f0", "f1", "f2", "f3"] and named(layout, "x-axis").visible


def test_the_first_ellipses_are_the_two_sigma_contours_in_the_view(bokeh, gmm_fit):
    X, model = gmm_fit
    _, layout = build(model, X)
    projection = fit_projection(X)
    ellipses = named(layout, "ellipses-source").data
    centres2 = projection.points(model.means_)
    covariances2 = projection.covariances(model.covariances_)
    for j in range(3):
        offsets = np.column_stack([ellipses["xs"][j], ellipses["ys"][j]]) - centres2[j]
        distances = np.einsum("ni,ij,nj->n", offsets, np.linalg.inv(covariances2[j]), offsets)
        np.testing.assert_allclose(distances, 4.0, rtol=1e-9)


def test_many_features_are_seen_in_principal_components_only(bokeh):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 14))
    model = kmix.KMeans(2, random_state=0).fit(X)
    data, layout = build(model, X)
    assert [axis.column for axis in data.axes] == ["pc0", "pc1"]
    assert named(layout, "x-axis").visible is False
    # the tooltips hold the first 12 features
    assert len(named(layout, "points-hover").tooltips) == 2 + 12


def test_large_data_is_sampled_and_every_statistic_is_on_all_of_it(bokeh):
    rng = np.random.default_rng(2)
    X = np.concatenate([rng.normal(size=(6000, 2)), rng.normal(size=(6000, 2)) + 6])
    model = kmix.KMeans(2, random_state=0).fit(X)
    data, layout = build(model, X, max_points=500)
    rows = np.asarray(named(layout, "points-source").data["row"])
    assert rows.size == 500 and np.all(np.diff(rows) > 0) and rows.max() < len(X)
    np.testing.assert_array_equal(named(layout, "points-source").data["f1"], X[rows, 1])
    np.testing.assert_array_equal(named(layout, "points-source").data["label"], model.labels_[rows])
    table = named(layout, "cluster-table-source").data
    assert sum(table["size"]) == len(X)
    np.testing.assert_array_equal(table["size"], np.bincount(model.labels_))
    assert "showing 500 of 12,000 points, a uniform sample" in named(layout, "report-notes").text
    # the same rows every time
    again = build(model, X, max_points=500)[0].rows
    np.testing.assert_array_equal(again, rows)
    assert "showing" not in named(build(model, X[:300])[1], "report-notes").text


def test_a_fit_without_history_gets_its_final_state_and_says_so(bokeh, kmeans_fit):
    X, _ = kmeans_fit
    model = kmix.KMeans(4, random_state=0, record_history=False).fit(X)
    _, layout = build(model, X)
    slider = named(layout, "iteration-slider")
    assert slider.value == 0 and slider.disabled and named(layout, "play-button").disabled
    assert len(named(layout, "frames-source").data["caption"]) == 1
    np.testing.assert_allclose(column(layout, "centres-source", "x"), model.cluster_centers_[:, 0])
    assert "kept no per-iteration centres" in named(layout, "report-notes").text
    gmm = kmix.GaussianMixture(2, random_state=0, record_history=False).fit(X)
    _, layout = build(gmm, X)
    assert "kept no per-iteration parameters" in named(layout, "report-notes").text
    np.testing.assert_allclose(column(layout, "centres-source", "f1"), gmm.means_[:, 1])


def test_a_dataframe_gives_its_column_names(bokeh):
    pandas = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    frame = pandas.DataFrame(rng.normal(size=(90, 3)), columns=["height", "width", "depth"])
    model = kmix.KMeans(2, random_state=0).fit(frame)
    data, layout = build(model, frame)
    assert data.feature_names == ["height", "width", "depth"]
    assert [title for _, title in named(layout, "y-axis").options][2:] == ["height", "width", "depth"]
    assert "depth" in dict(named(layout, "points-hover").tooltips)
    np.testing.assert_array_equal(named(layout, "points-source").data["label"], model.labels_)


def test_minibatch_report_has_one_frame_per_step(bokeh, kmeans_fit):
    X, _ = kmeans_fit
    model = kmix.MiniBatchKMeans(3, batch_size=100, random_state=0, record_history=True).fit(X)
    data, layout = build(model, X)
    steps = model.history_.ssd.shape[0]
    assert data.kind == "minibatch" and len(data.frames) == steps + 1
    np.testing.assert_allclose(column(layout, "centres-source", "x"), model.cluster_centers_[:, 0])


def test_report_writes_one_self_contained_file(bokeh, kmeans_fit, tmp_path):
    X, model = kmeans_fit
    result = kmix.viz.report(model, X, tmp_path / "fit.html")
    assert result.path == tmp_path / "fit.html"
    text = result.path.read_text(encoding="utf-8")
    assert text == result.html and text.lstrip().lower().startswith("<!doctype html>")
    # every script inline: no element of the page names anything to fetch
    assert _fetched(text) == [] and "cdn.bokeh.org" not in text
    assert text.count("<script") >= 2
    assert [p.name for p in tmp_path.iterdir()] == ["fit.html"]  # no temporary left
    copy = result.save(tmp_path / "copy.htm")
    assert copy.read_text(encoding="utf-8") == text
    # a notebook shows it in an isolated frame, the page escaped into srcdoc
    frame = result._repr_html_()
    assert frame.startswith("<iframe srcdoc=\"") and 'sandbox="allow-scripts"' in frame
    inner = frame[len("<iframe srcdoc=\""): frame.index("\" style=")]
    assert "<" not in inner and html.unescape(inner) == text
    assert kmix.viz.report(model, X).path is None


def _fetched(text: str) -> list[tuple[str, str]]:
    """The (tag, address) of every element of an HTML page that loads a resource."""
    from html.parser import HTMLParser

    found = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.extend((tag, value) for name, value in attrs if name in ("src", "href") and value)

    Parser().feed(text)
    return found


@pytest.mark.parametrize("options, message", [
    ({"max_points": 0}, "max_points must be >= 1"),
    ({"max_points": 2.5}, "max_points must be an integer"),
    ({"fps": 0}, "fps must be a number from"),
    ({"n_std": -1.0}, "n_std must be > 0"),
    ({"path": "fit.png"}, r"path must end in \.html or \.htm; got 'fit.png'"),
])
def test_bad_parameters_are_named(bokeh, kmeans_fit, options, message):
    X, model = kmeans_fit
    with pytest.raises(ValueError, match=message):
        kmix.viz.report(model, X, **options)


def test_bad_models_and_data_are_named(bokeh, kmeans_fit):
    X, model = kmeans_fit
    with pytest.raises(ValueError, match="not fitted yet"):
        kmix.viz.report(kmix.KMeans(3), X)
    with pytest.raises(ValueError, match="model must be a fitted KMeans or GaussianMixture"):
        kmix.viz.report(object(), X)
    with pytest.raises(ValueError, match=r"X has shape \(500, 3\), but the model was fitted on 2 features"):
        kmix.viz.report(model, np.ones((500, 3)))
    with pytest.raises(kmix.DataError, match="does not exist"):
        kmix.viz.report(model, X, "no/such/folder/fit.html")


def test_missing_bokeh_names_the_extra(kmeans_fit, monkeypatch):
    X, model = kmeans_fit
    monkeypatch.setitem(sys.modules, "bokeh", None)  # import bokeh raises ImportError
    with pytest.raises(kmix.MissingDependencyError, match=r"pip install 'kmix\[report\]'"):
        kmix.viz.report(model, X)


def test_importing_viz_does_not_import_bokeh():
    code = "import sys, kmix.viz; assert 'bokeh' not in sys.modules; kmix.viz.report"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


# --- the command line ------------------------------------------------------------------


def run(capsys, *argv):
    from kmix.cli.main import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", [["kmeans", "-k", "4"], ["gmm", "-k", "3"],
                                     ["kmeans", "-k", "4", "--minibatch"]])
def test_cli_report_writes_the_page(bokeh, capsys, tmp_path, command):
    path = tmp_path / "fit.html"
    code, out, err = run(capsys, command[0], "samples_3", *command[1:], "--seed", "0", "--report", path)
    assert code == 0, err
    assert f"wrote {path}" in out
    text = path.read_text(encoding="utf-8")
    assert "iteration-slider" in text and "<script src" not in text


def test_cli_report_without_bokeh_is_one_line_before_fitting(capsys, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bokeh" else real(name, *a))
    for command in ("kmeans", "gmm"):
        code, out, err = run(capsys, command, "samples_3", "--report", tmp_path / "fit.html")
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith("kmix: error: ")
        assert "pip install 'kmix[report]'" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extra, message", [
    (["--report", "fit.png"], "reports are written as .html"),
    (["--dask", "--report", "fit.html"], "--report draws every point"),
    (["--select", "2..4", "--dask", "--report", "fit.html"], "--report draws every point"),
])
def test_cli_report_refusals(bokeh, capsys, tmp_path, monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "kmeans", "samples_3", *extra)
    assert code == 2 and message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_cli_select_report_writes_the_criteria_page(bokeh, capsys, tmp_path):
    path = tmp_path / "select.html"
    code, out, err = run(capsys, "kmeans", "samples_3", "--select", "2..4", "--seed", "0", "--report", path)
    assert code == 0, err
    assert f"wrote {path}" in out and "cells-source" in path.read_text(encoding="utf-8")


def test_cli_select_mixture_report(bokeh, capsys, tmp_path):
    path = tmp_path / "select.html"
    code, out, err = run(capsys, "select", "samples_2", "-k", "1..3", "--models", "VVV,EII", "--seed", "0",
                         "--report", path)
    assert code == 0, err
    assert f"wrote {path}" in out and "cells-source" in path.read_text(encoding="utf-8")


def test_gmm_stream_refuses_a_report(bokeh, capsys, tmp_path):
    np.save(tmp_path / "part.npy", np.random.default_rng(0).normal(size=(50, 2)))
    code, _, err = run(capsys, "gmm", tmp_path, "-k", "2", "--stream", "--report", tmp_path / "fit.html")
    assert code == 2 and "--report draws every point" in err


def test_demo_skips_the_report_without_bokeh_in_one_line(capsys, tmp_path, monkeypatch):
    import importlib.util

    from kmix.cli import demo

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bokeh" else real(name, *a))
    assert demo.report_page(tmp_path) == []
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "skipped report.html" in out and "pip install 'kmix[report]'" in out
    assert list(tmp_path.iterdir()) == []


def test_demo_writes_the_report_beside_the_animations(bokeh, capsys, tmp_path):
    from kmix.cli import demo

    assert demo.report_page in demo.STEPS
    assert demo.report_page(tmp_path) == [tmp_path / "report.html"]
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "iteration-slider" in text and "k-means, k = 8" in text
    assert "writing report.html" in capsys.readouterr().out


# --- selections: the criterion, and the fit of the cell clicked -------------------------


@pytest.fixture(scope="module")
def selections():
    import warnings

    X3, X2 = kmix.load_data("samples_3"), kmix.load_data("samples_2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kmix.ConvergenceWarning)
        by_k = kmix.select_k(X3, range(2, 6), random_state=0)
        mixture = kmix.select_mixture(X2, n_components=range(1, 4), covariance_type=["VVV", "EII"],
                                      random_state=0)
    return (X3, by_k), (X2, mixture)


def test_select_k_report_shows_every_criterion_and_the_chosen_fit(bokeh, selections):
    (X, selection), _ = selections
    title, layout = build(selection, X)
    cells = named(layout, "cells-source").data
    assert set(cells["series"]) == set(selection.criteria)
    gap = [value for value, series in zip(cells["value"], cells["series"]) if series == "gap"]
    np.testing.assert_allclose(gap, selection.values["gap"])
    chosen = named(layout, "cells-source").selected.indices[0]
    assert cells["k"][chosen] == selection.choice["gap"]
    model = selection.models[cells["model"][chosen]]
    np.testing.assert_allclose(column(layout, "centres-source", "x"), model.cluster_centers_[:, 0])
    np.testing.assert_array_equal(named(layout, "points-source").data["shown_label"], model.predict(X))
    models = named(layout, "models-source").data
    for index, fitted in enumerate(selection.models):
        rows = np.asarray(models["model"]) == index
        np.testing.assert_allclose(np.asarray(models["f1"])[rows], fitted.cluster_centers_[:, 1])
    assert "choosing the number of clusters" in title


def test_select_mixture_report_starts_at_the_best_cell(bokeh, selections):
    _, (X, selection) = selections
    title, layout = build(selection, X)
    cells = named(layout, "cells-source").data
    chosen = named(layout, "cells-source").selected.indices[0]
    assert (cells["k"][chosen], cells["series"][chosen]) == selection.best_params_
    np.testing.assert_allclose(sorted(cells["value"]), sorted(v for _, _, v in selection.ranking()))
    np.testing.assert_allclose(column(layout, "centres-source", "y"), selection.best_.means_[:, 1])
    assert len(named(layout, "ellipses-source").data["xs"]) == selection.best_params_[0]
    assert "(the best)" in named(layout, "model-label").text
