"""The interactive report in a real headless browser: Debian's chromium driven by
Playwright (never a browser Playwright downloads).

Skipped, saying why, only when playwright or a chromium binary is missing.
Every wait is a condition the page must reach, with a generous timeout; no
assertion is about how long anything took.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import kmix
import kmix.viz

# Generous: a loaded machine can be slow to start the browser or render.
WAIT_MS = 60_000


def _chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("bokeh")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    executable = _chromium()
    if executable is None:
        pytest.skip("no chromium binary on the PATH or at /usr/bin/chromium (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        # chromium refuses to sandbox itself when run as root (as in a container)
        arguments = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=arguments)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    pytest.importorskip("bokeh")
    folder = tmp_path_factory.mktemp("reports")
    X2 = kmix.load_data("samples_3")
    kmeans = kmix.KMeans(8, init="random", n_init=1, random_state=42).fit(X2)
    rng = np.random.default_rng(5)
    X5 = np.concatenate([rng.normal(size=(200, 5)) + shift for shift in (0.0, 4.0, -4.0)])
    X5[:, 4] *= 3.0
    gmm = kmix.GaussianMixture(3, random_state=0).fit(X5)
    plain = kmix.KMeans(3, random_state=0, record_history=False).fit(X2)
    return {
        "kmeans": (X2, kmeans, kmix.viz.report(kmeans, X2, folder / "kmeans.html", fps=20).path),
        "gmm": (X5, gmm, kmix.viz.report(gmm, X5, folder / "gmm.html", fps=20).path),
        "plain": (X2, plain, kmix.viz.report(plain, X2, folder / "plain.html").path),
        "slow": (X2, kmeans, kmix.viz.report(kmeans, X2, folder / "slow.html", fps=0.2).path),
    }


class Opened:
    """A report open in a page, with what the page logged and requested."""

    def __init__(self, browser, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1300, "height": 1150})
        self.messages: list[tuple[str, str]] = []
        self.requests: list[str] = []
        self.page.on("console", lambda message: self.messages.append((message.type, message.text)))
        self.page.on("pageerror", lambda error: self.messages.append(("pageerror", str(error))))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        # Rendered: the document exists and the scatter's view is built.
        self.page.wait_for_function(
            "() => window.Bokeh && Bokeh.documents.length > 0"
            " && Bokeh.documents[0].get_model_by_name('scatter') !== null"
            " && Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('scatter')) != null",
            timeout=WAIT_MS,
        )

    def evaluate(self, script: str, argument=None):
        return self.page.evaluate(script, argument)

    def model(self, name: str, attribute: str):
        return self.evaluate("([name, attribute]) => Bokeh.documents[0].get_model_by_name(name)[attribute]",
                             [name, attribute])

    def column(self, source: str, column: str) -> np.ndarray:
        return np.asarray(self.evaluate(
            "([source, column]) => Array.from(Bokeh.documents[0].get_model_by_name(source).data[column])",
            [source, column]))

    def set(self, name: str, attribute: str, value) -> None:
        self.evaluate("([name, attribute, value]) => { Bokeh.documents[0].get_model_by_name(name)[attribute] = value; }",
                      [name, attribute, value])

    def wait_for_label(self, text: str) -> str:
        self.page.wait_for_function(
            "(text) => Bokeh.documents[0].get_model_by_name('iteration-label').text.startsWith(text)",
            arg=text, timeout=WAIT_MS)
        return self.model("iteration-label", "text")

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def opened(browser):
    pages = []

    def open_report(path: Path) -> Opened:
        page = Opened(browser, path)
        pages.append(page)
        return page

    yield open_report
    for page in pages:
        page.close()


@pytest.mark.parametrize("which", ["kmeans", "gmm", "plain"])
def test_report_loads_with_no_error_and_no_request_but_itself(opened, reports, which):
    page = opened(reports[which][2])
    # move through the frames and the axes: the scripts run without error
    last = page.model("iteration-slider", "end")
    page.set("iteration-slider", "value", 0)
    page.set("iteration-slider", "value", last)
    page.wait_for_label(f"frame {last if which != 'plain' else 0} of ")
    assert [m for m in page.messages if m[0] in ("error", "pageerror")] == []
    assert [m for m in page.messages if m[0] == "warning"] == []
    assert page.requests == [page.url]


def test_the_last_frame_shows_the_fitted_centres(opened, reports):
    X, model, path = reports["kmeans"]
    page = opened(path)
    n_iter = model.history_.ssd.shape[0]
    end = page.model("iteration-slider", "end")
    assert end == 2 * n_iter
    page.set("iteration-slider", "value", 0)
    assert page.wait_for_label("frame 0 of") == f"frame 0 of {end}: initial centres"
    np.testing.assert_allclose(page.column("centres-source", "x"), model.history_.centers[0][:, 0], atol=1e-9)
    page.set("iteration-slider", "value", end)
    text = page.wait_for_label(f"frame {end} of")
    assert text == f"frame {end} of {end}: iteration {n_iter}: update, SSD {model.history_.ssd[-1, 1]:.7g}"
    centres = np.column_stack([page.column("centres-source", "f0"), page.column("centres-source", "f1")])
    np.testing.assert_allclose(centres, model.cluster_centers_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(page.column("centres-source", "x"), model.cluster_centers_[:, 0], atol=1e-6)
    # the points are coloured by the final labels, the paths run through every centre
    np.testing.assert_array_equal(page.column("points-source", "shown_label"), model.labels_)
    paths = page.evaluate("() => Bokeh.documents[0].get_model_by_name('paths-source').data.xs.map((values) => Array.from(values))")
    np.testing.assert_allclose(np.asarray(paths[2]), model.history_.centers[:, 2, 0], atol=1e-9)
    marker = page.column("marker-source", "y")
    np.testing.assert_allclose(marker, [model.history_.ssd[-1, 1]])


def test_the_last_frame_shows_the_fitted_means_and_their_ellipses(opened, reports):
    X, model, path = reports["gmm"]
    page = opened(path)
    end = page.model("iteration-slider", "end")
    assert end == model.n_iter_
    page.set("iteration-slider", "value", 0)
    page.wait_for_label("frame 0 of")
    page.set("iteration-slider", "value", end)
    text = page.wait_for_label(f"frame {end} of")
    assert text == f"frame {end} of {end}: iteration {end}, mean log-likelihood {model.score(X):.7g}"
    means = np.column_stack([page.column("centres-source", f"f{j}") for j in range(5)])
    np.testing.assert_allclose(means, model.means_, rtol=0, atol=1e-6)
    # Two original features chosen: the points, means and 2-sigma ellipses on them.
    page.set("x-axis", "value", "f4")
    page.set("y-axis", "value", "f1")
    page.page.wait_for_function(
        "() => Bokeh.documents[0].get_model_by_name('scatter').below[0].axis_label === 'x5'"
        " && Bokeh.documents[0].get_model_by_name('scatter').left[0].axis_label === 'x2'",
        timeout=WAIT_MS)
    np.testing.assert_allclose(page.column("points-source", "x"), X[:, 4], atol=1e-12)
    np.testing.assert_allclose(page.column("centres-source", "y"), model.means_[:, 1], atol=1e-6)
    ellipses = page.evaluate("() => { const d = Bokeh.documents[0].get_model_by_name('ellipses-source').data;"
                             " return [d.xs.map((values) => Array.from(values)), d.ys.map((values) => Array.from(values))]; }")
    pair = [4, 1]
    for j in range(3):
        offsets = np.column_stack([ellipses[0][j], ellipses[1][j]]) - model.means_[j, pair]
        covariance = model.covariances_[j][np.ix_(pair, pair)]
        distances = np.einsum("ni,ij,nj->n", offsets, np.linalg.inv(covariance), offsets)
        np.testing.assert_allclose(distances, 4.0, rtol=1e-6)


def test_play_runs_through_the_frames(opened, reports):
    page = opened(reports["kmeans"][2])
    end = page.model("iteration-slider", "end")
    page.set("iteration-slider", "value", 0)
    page.wait_for_label("frame 0 of")
    page.page.get_by_role("button", name="Play").click()
    # it moves on, frame by frame, to the last one, and stops there
    page.page.wait_for_function(
        "() => Bokeh.documents[0].get_model_by_name('iteration-slider').value >= 1", timeout=WAIT_MS)
    page.wait_for_label(f"frame {end} of")
    page.page.wait_for_function(
        "() => Bokeh.documents[0].get_model_by_name('play-button').label.endsWith('Play')", timeout=WAIT_MS)
    assert page.model("iteration-slider", "value") == end


def test_pause_stops_the_frames(opened, reports):
    page = opened(reports["slow"][2])
    page.set("iteration-slider", "value", 0)
    page.wait_for_label("frame 0 of")
    page.page.get_by_role("button", name="Play").click()
    page.page.wait_for_function(
        "() => Bokeh.documents[0].get_model_by_name('iteration-slider').value >= 1", timeout=WAIT_MS)
    # a frame lasts seconds here: the button says Pause until it is pressed
    page.page.get_by_role("button", name="Pause").click()
    page.page.wait_for_function(
        "() => Bokeh.documents[0].get_model_by_name('play-button').label.endsWith('Play')", timeout=WAIT_MS)
    assert page.model("iteration-slider", "value") < page.model("iteration-slider", "end")


@pytest.mark.parametrize("which", ["kmeans", "gmm"])
def test_hovering_a_point_shows_its_row_and_label(opened, reports, which):
    X, model, path = reports[which]
    page = opened(path)
    # The point farthest from every other on screen (so the tooltip is its alone),
    # and where it is in the page.
    target = page.evaluate("""() => {
        const doc = Bokeh.documents[0];
        const view = Bokeh.index.find_one(doc.get_model_by_name('scatter'));
        const data = doc.get_model_by_name('points').data_source.data;
        const frame = view.frame.bbox;
        const sx = Array.from(data.x, (x) => view.frame.x_scale.compute(x));
        const sy = Array.from(data.y, (y) => view.frame.y_scale.compute(y));
        let best = -1, widest = -1;
        for (let i = 0; i < sx.length; i++) {
            if (sx[i] < frame.left + 20 || sx[i] > frame.right - 20 || sy[i] < frame.top + 20 || sy[i] > frame.bottom - 20) continue;
            let gap = Infinity;
            for (let j = 0; j < sx.length; j++) if (j !== i) gap = Math.min(gap, Math.hypot(sx[i] - sx[j], sy[i] - sy[j]));
            if (gap > widest) { widest = gap; best = i; }
        }
        const canvas = view.canvas_view.el.getBoundingClientRect();
        return {x: canvas.left + sx[best], y: canvas.top + sy[best], index: best, gap: widest};
    }""")
    assert target["gap"] > 6, "no point stands apart from the others"
    page.page.mouse.move(target["x"], target["y"])
    tooltip = page.page.locator(".bk-tooltip-content").first
    tooltip.wait_for(state="visible", timeout=WAIT_MS)
    fields = dict(line.split(":\t", 1) for line in tooltip.inner_text().splitlines() if ":\t" in line)
    row = int(fields["row"])
    assert row == int(page.column("points-source", "row")[target["index"]])
    assert int(fields["label"]) == int(np.asarray(model.predict(X))[row])
    assert float(fields["x1"]) == pytest.approx(X[row, 0], rel=1e-5, abs=1e-9)
    if which == "gmm":
        responsibilities = model.predict_proba(X)[row]
        for j in range(3):
            assert float(fields[f"p({j} | x)"]) == pytest.approx(responsibilities[j], abs=1e-4)


def test_the_page_is_not_blank(opened, reports):
    from PIL import Image

    page = opened(reports["gmm"][2])
    page.wait_for_label("frame ")
    image = Image.open(io.BytesIO(page.page.screenshot(full_page=True))).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50
    # the clusters' own colours are drawn
    pixels = np.asarray(image).reshape(-1, 3)
    for j in range(3):
        rgb = np.array([int(kmix.viz.color(j)[i: i + 2], 16) for i in (1, 3, 5)])
        assert np.any(np.abs(pixels.astype(int) - rgb).sum(axis=1) <= 30), kmix.viz.color(j)


def test_clicking_a_cell_of_a_selection_shows_its_fit(opened, tmp_path):
    import warnings

    X = kmix.load_data("samples_3")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kmix.ConvergenceWarning)
        selection = kmix.select_k(X, range(2, 6), criteria=("ssd", "silhouette"), random_state=0)
    page = opened(kmix.viz.report(selection, X, tmp_path / "select.html").path)
    cells = page.evaluate("() => { const d = Bokeh.documents[0].get_model_by_name('cells-source').data;"
                          " return {k: Array.from(d.k), series: Array.from(d.series), model: Array.from(d.model)}; }")
    target = next(i for i, (k, series) in enumerate(zip(cells["k"], cells["series"]))
                  if k == 5 and series == "silhouette")
    # Click the cell's point on its panel.
    position = page.evaluate("""(index) => {
        const doc = Bokeh.documents[0];
        const plot = doc.get_model_by_name('criterion-silhouette');
        const view = Bokeh.index.find_one(plot);
        const data = doc.get_model_by_name('cells-source').data;
        const canvas = view.canvas_view.el.getBoundingClientRect();
        return {x: canvas.left + view.frame.x_scale.compute(data.k[index]),
                y: canvas.top + view.frame.y_scale.compute(data.value[index])};
    }""", target)
    page.page.mouse.click(position["x"], position["y"])
    page.page.wait_for_function(
        "() => Bokeh.documents[0].get_model_by_name('model-label').text.startsWith('k = 5')", timeout=WAIT_MS)
    model = selection.models[cells["model"][target]]
    centres = np.column_stack([page.column("centres-source", "x"), page.column("centres-source", "y")])
    np.testing.assert_allclose(centres, model.cluster_centers_, atol=1e-6)
    np.testing.assert_array_equal(page.column("points-source", "shown_label"), model.predict(X))
    assert [m for m in page.messages if m[0] in ("error", "pageerror")] == []
