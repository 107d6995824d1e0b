"""The demo's figures as a reader checks them: every value inside its axes, legends that
hide no data and name every kind of mark, the same iteration in a frame's title and
on its objective panel, and an EM animation that ends in the good optimum.

Built on the functions ``kmix demo`` calls, with the demo's own models and options.
"""

import re

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from kmix.cli import demo  # noqa: E402
from kmix.io import load_data  # noqa: E402
from kmix.models.gaussian_mixture import GaussianMixtureCore  # noqa: E402
from kmix.viz import plot_clusters, plot_density, plot_gmm, plot_log_likelihood, plot_ssd  # noqa: E402
from kmix.viz.animation import gmm_scene, kmeans_scene  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::kmix.ConvergenceWarning")


@pytest.fixture(scope="module")
def kmeans_fit():
    X = load_data("samples_3")
    return X, demo.kmeans_demo_model(X)


@pytest.fixture(scope="module")
def gmm_fit():
    X = load_data("samples_2")
    # as kmix.cli.gmm.demo_figures fits it
    return X, GaussianMixtureCore(5, random_state=0, tol=1e-6, max_iter=200).fit(X)


@pytest.fixture(scope="module")
def em_fit():
    X = load_data("samples_2")
    return X, demo.em_demo_model(X)


# --- what a reader checks ---------------------------------------------------------


def plotted_values(ax):
    """(what, data coordinates (n, 2)) of every line and scatter on ``ax``."""
    for line in ax.lines:
        xy = np.asarray(line.get_xydata(), dtype=float).reshape(-1, 2)
        if len(xy):
            yield f"line {line.get_label()!r}", xy
    for collection in ax.collections:
        if isinstance(collection, PathCollection) and len(collection.get_offsets()):
            yield f"scatter {collection.get_label()!r}", np.asarray(collection.get_offsets(), dtype=float)


def assert_inside_axes(ax):
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    count = 0
    for what, xy in plotted_values(ax):
        assert np.all(np.isfinite(xy)), what
        outside = (xy[:, 0] < x0) | (xy[:, 0] > x1) | (xy[:, 1] < y0) | (xy[:, 1] > y1)
        assert not outside.any(), (
            f"{what}: {outside.sum()} values outside x {x0:.4g}..{x1:.4g}, y {y0:.4g}..{y1:.4g}, "
            f"e.g. {xy[outside][0]}"
        )
        count += len(xy)
    if not ax.patches:
        return count
    draw(ax.figure)
    frame = ax.get_window_extent()
    for patch in ax.patches:  # ellipses: their whole outline inside the axes' box
        box = patch.get_window_extent()
        assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1, patch
        assert frame.y0 - 1 <= box.y0 and box.y1 <= frame.y1 + 1, patch
    return count


def display_marks(ax):
    """Display positions of every point, line vertex (and points along each segment)
    and patch outline drawn on ``ax``."""
    marks = []
    for line in ax.lines:
        xy = line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float).reshape(-1, 2))
        marks.append(xy)
        if line.get_linestyle() not in ("None", "none", "") and len(xy) > 1:
            t = np.linspace(0.0, 1.0, 60)[:, None, None]
            marks.append((xy[:-1] + t * (xy[1:] - xy[:-1])).reshape(-1, 2))
    for collection in ax.collections:
        if isinstance(collection, PathCollection):
            offsets = np.asarray(collection.get_offsets(), dtype=float)
            marks.append(collection.get_offset_transform().transform(offsets))
    for patch in ax.patches:
        marks.append(np.asarray(patch.get_verts()))
    return np.concatenate(marks)


def draw(figure):
    """fig.canvas.draw() on an Agg canvas (kmix's own figures come without one)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    canvas.draw()


def assert_legend_hides_nothing(ax):
    figure = ax.figure
    draw(figure)
    legend = ax.get_legend()
    assert legend is not None
    box = legend.get_window_extent()
    marks = display_marks(ax)
    under = (marks[:, 0] >= box.x0) & (marks[:, 0] <= box.x1) & (marks[:, 1] >= box.y0) & (marks[:, 1] <= box.y1)
    assert not under.any(), f"the legend {box} covers {under.sum()} marks, e.g. {marks[under][0]}"
    whole = figure.bbox
    assert whole.x0 <= box.x0 and box.x1 <= whole.x1 + 0.5 and whole.y0 <= box.y0 and box.y1 <= whole.y1 + 0.5, (
        "the legend runs off the figure"
    )
    return [text.get_text() for text in legend.get_texts()]


def close(ax):
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


# --- static figures -----------------------------------------------------------------


def test_kmeans_clusters_figure(kmeans_fit):
    X, model = kmeans_fit
    ax = plot_clusters(X, model.labels_, model.cluster_centers_, model.history_.centers, title="k-means")
    assert assert_inside_axes(ax) > len(X)
    texts = assert_legend_hides_nothing(ax)
    assert [t for t in texts if t.startswith("Cluster ")] == [
        f"Cluster {j:02d} ({n})" for j, n in enumerate(np.bincount(model.labels_, minlength=8))
    ]
    assert "Initial centres" in texts and "Final centres" in texts
    assert any(t.startswith("Path of each centre") for t in texts)
    # the rings of the initial centres sit where the history starts
    rings = [c for c in ax.collections if c.get_label() == "Initial centres"]
    np.testing.assert_allclose(rings[0].get_offsets(), model.history_.centers[0])


def test_kmeans_legend_with_many_clusters_has_one_entry_for_the_points(rng):
    X = rng.normal(size=(300, 2)) * 10
    centers = X[:15]
    labels = np.argmin(((X[:, None] - centers) ** 2).sum(-1), axis=1)
    ax = plot_clusters(X, labels, centers, np.stack([centers + 1.0, centers]))
    texts = assert_legend_hides_nothing(ax)
    assert texts[0] == "Points, coloured by cluster (15 clusters)" and texts[-1] == "Final centres"
    assert_inside_axes(ax)
    close(ax)


def test_kmeans_ssd_figure(kmeans_fit):
    _, model = kmeans_fit
    ax = plot_ssd(model.history_)
    assert_inside_axes(ax)
    assert assert_legend_hides_nothing(ax) == ["SSD", "after assignment", "after update"]
    # iteration 1's assignment at x = 1, as the animation's titles count
    np.testing.assert_allclose(ax.lines[1].get_xdata(), np.arange(1, model.n_iter_ + 1))
    close(ax)


def test_gmm_figures(gmm_fit):
    X, model = gmm_fit
    ax = plot_gmm(X, model, title="mixture")
    assert_inside_axes(ax)
    texts = assert_legend_hides_nothing(ax)
    assert texts[:3] == ["Samples", "Component means", "2σ ellipse of each component"]
    assert texts[3:] == [f"Component {j:02d}, weight {model.weights_[j]:.4f}" for j in range(5)]
    legend = ax.get_legend()
    # the ellipse entries are drawn as unfilled ellipses in the components' colours
    keys = [h for h in legend.legend_handles if isinstance(h, Patch)]
    assert len(keys) == 6 and not any(key.get_fill() for key in keys)
    close(ax)
    for ax in (plot_log_likelihood(model.history_), plot_density(model, X)):
        assert_inside_axes(ax)
        close(ax)


def test_gmm_legend_in_a_crowded_figure_goes_beside_the_axes(rng):
    X = rng.uniform(-5, 5, size=(2000, 2))
    params = (np.full(3, 1 / 3), np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 3.0]]), np.tile(np.eye(2), (3, 1, 1)))
    ax = plot_gmm(X, params)
    assert_legend_hides_nothing(ax)
    assert ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1
    close(ax)


def test_legend_in_a_figure_the_user_made_stays_in_the_figure(kmeans_fit):
    import matplotlib.pyplot as plt

    X, model = kmeans_fit
    figure, axes = plt.subplots(1, 2, figsize=(8, 4), layout="constrained")
    plot_clusters(X, model.labels_, model.cluster_centers_, model.history_.centers, ax=axes[0])
    assert_legend_hides_nothing(axes[0])
    plt.close(figure)


# --- animations: first and last frames, and every frame's numbering -------------------


def frame_title_numbers(title):
    """(iteration or None for the start, "assignment" / "update" / None, value quoted)."""
    match = re.search(r"iteration (\d+)(?:: (assignment|update))?, (?:SSD|log-likelihood) (-?[\d.e+]+)", title)
    if match is None:
        assert "initial" in title, title
        value = re.search(r"log-likelihood (-?[\d.]+)", title)
        return None, None, None if value is None else float(value.group(1))
    return int(match.group(1)), match.group(2), float(match.group(3))


def test_kmeans_animation_frames(kmeans_fit):
    X, model = kmeans_fit
    scene = kmeans_scene(X, model, **demo.KMEANS_ANIMATION)
    assert scene.n_frames == 2 * model.n_iter_ + 1
    marker = scene.objective_ax.lines[-1]
    for index in range(scene.n_frames):
        caption, extra = scene.show(index)
        assert extra == []
        iteration, half, value = frame_title_numbers(scene.ax.get_title())
        if iteration is None:
            assert len(marker.get_xdata()) == 0
            continue
        (x,), (y,) = marker.get_xdata(), marker.get_ydata()
        assert x == iteration + (0.5 if half == "update" else 0.0), (caption, x)
        assert y == pytest.approx(value, rel=1e-5)
        if index in (0, 1, scene.n_frames - 1):
            assert_inside_axes(scene.ax)
            assert_inside_axes(scene.objective_ax)
    # the static SSD figure puts the values where the animation's panel does
    np.testing.assert_array_equal(scene.objective_ax.lines[0].get_xdata(), plot_ssd(model.history_).lines[0].get_xdata())
    close(scene.ax)


def test_em_animation_frames(em_fit):
    X, model = em_fit
    scene = gmm_scene(X, model, **demo.EM_ANIMATION)
    assert scene.n_frames == model.n_iter_ + 1
    marker = scene.objective_ax.lines[-1]
    history = model.history_.log_likelihood
    for index in range(scene.n_frames):
        caption, extra = scene.show(index)
        iteration, _, value = frame_title_numbers(scene.ax.get_title())
        (x,), (y,) = marker.get_xdata(), marker.get_ydata()
        assert x == (0 if iteration is None else iteration), caption
        assert y == pytest.approx(value, abs=5e-5)
        if index in (0, scene.n_frames - 1):
            assert_inside_axes(scene.ax)
            assert_inside_axes(scene.objective_ax)
            low, high = scene.objective_ax.get_ylim()
            assert low < history.min() and high > history.max()  # the start's -5.37 included
        for artist in extra:
            artist.remove()
    close(scene.ax)


def test_em_animation_of_a_projected_fit_keeps_its_values_inside(rng, tmp_path):
    X = np.concatenate([rng.normal(size=(60, 3)) + 6 * i for i in range(3)])
    model = GaussianMixtureCore(3, random_state=0, max_iter=6, tol=0).fit(X)
    scene = gmm_scene(X, model, style="ellipses", show_objective=True)
    for index in (0, scene.n_frames - 1):
        scene.show(index)
        assert_inside_axes(scene.objective_ax)
    close(scene.ax)


# --- the hero animation ends in the good optimum ---------------------------------------


def test_em_demo_start_reaches_the_best_optimum_of_many_starts(em_fit):
    X, model = em_fit
    other_starts = [
        GaussianMixtureCore(5, tol=1e-4, max_iter=100, **demo.exercise_start(X, 5, seed)).fit(X).score(X)
        for seed in range(12)
    ]
    careful = GaussianMixtureCore(5, random_state=0, tol=1e-6, max_iter=200).fit(X).score(X)
    best = max(max(other_starts), careful)
    assert min(other_starts) < best - 0.05  # poor optima exist among these starts ...
    assert model.score(X) > best - 1e-4  # ... and the demo's start is not one of them
    # one component per visible cluster: no component is a sliver of another's cluster
    assert model.weights_.min() > 0.1
    start = model.history_
    np.testing.assert_array_equal(start.covariances[0], np.tile(np.eye(2), (5, 1, 1)))
    assert all(any(np.array_equal(mean, x) for x in X) for mean in start.means[0])


# --- the demo says what it is doing ---------------------------------------------------


def test_demo_announces_each_step(monkeypatch, tmp_path, capsys):
    from kmix.cli import gmm
    from kmix.cli.main import main

    def kmeans_step(out, outputs):
        print("STEP kmeans")
        return []

    def gmm_step(out, outputs):
        print("STEP gmm")
        return []

    # every step of the real demo either says what it does itself or is announced
    assert gmm.demo_figures in demo.STEPS and gmm.demo_figures in demo.ANNOUNCE
    for step in (demo.kmeans_figures, demo.em_animation):
        assert step in demo.STEPS and step not in demo.ANNOUNCE
    monkeypatch.setattr(demo, "STEPS", [kmeans_step, gmm_step])
    monkeypatch.setitem(demo.ANNOUNCE, gmm_step, "ABOUT gmm")
    assert main(["demo", "--out", str(tmp_path / "d")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("kmix demo: fitting the bundled samples")
    assert lines.index("STEP kmeans") == 1
    assert lines.index("ABOUT gmm") == lines.index("STEP gmm") - 1
