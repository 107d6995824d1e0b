"""One self-contained interactive HTML report per fit.

:func:`report` writes a single HTML file that shows a fitted KMeans or
GaussianMixture iteration by iteration: the data coloured by cluster, the
centres and their paths (or the means with their ellipses), the objective curve,
a slider over every recorded iteration with a Play button, tooltips on the
points, and tables of the final clusters.

It is built with Bokeh (the optional extra ``kmix[report]``): Bokeh writes
standalone documents with every script inline (``bokeh.resources.INLINE`` and
``bokeh.embed.file_html``), so the file works offline and the page makes no
network request; its widgets (Slider, Button, Select, DataTable) and CustomJS
callbacks run in the browser with no server; and it draws in data units, which
is what ellipses of covariances need. Bokeh is imported only when a report is
made.

Nothing here refits: the frames are read from the model's History; only the
final labels, responsibilities and criteria are computed from X, on all of it.
"""

from __future__ import annotations

import html as html_module
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_float, check_int, require
from ._frames import check_fps
from ._report_data import ELLIPSE_POINTS, MAX_FEATURE_AXES, ReportData, ellipse_outline, report_data
from ._style import color, colors

__all__ = ["report", "Report", "DEFAULT_MAX_POINTS"]

# At most this many points are drawn by default (a uniform sample beyond).
DEFAULT_MAX_POINTS = 5_000
# Height of the frame a notebook shows a report in, in pixels.
_NOTEBOOK_HEIGHT = 1050
_UNASSIGNED_COLOR = "#9a9a9a"


@dataclass(frozen=True)
class Report:
    """An interactive report: one HTML document, self-contained.

    Attributes
    ----------
    html : str
        The whole document.
    path : Path or None
        Where it was written, or None when it was not.
    """

    html: str = field(repr=False)
    path: Path | None = None

    def __repr__(self) -> str:
        return f"Report(path={self.path!r}, {len(self.html.encode('utf-8')) / 1e6:.1f} MB of HTML)"

    def save(self, path: str | os.PathLike) -> Path:
        """Write the document to ``path`` (atomically: an interrupted write leaves
        no half-written file) and return the path.

        Raises
        ------
        ValueError
            ``path`` does not end in ``.html`` or ``.htm``.
        DataError
            The folder of ``path`` does not exist.
        """
        from ..io import atomic_write

        target = _check_path(path)
        with atomic_write(target, "w") as stream:
            stream.write(self.html)
        return target

    def _repr_html_(self) -> str:
        # The page in an isolated frame: its scripts run apart from the notebook's.
        return (f'<iframe srcdoc="{html_module.escape(self.html, quote=True)}" '
                f'style="width: 100%; height: {_NOTEBOOK_HEIGHT}px; border: none" '
                'sandbox="allow-scripts"></iframe>')


def _check_path(path: Any) -> Path:
    try:
        target = Path(path)
    except TypeError:
        raise ValueError(f"path must be a file name ending in .html; got {path!r}") from None
    if target.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"path must end in .html or .htm; got {str(path)!r}")
    return target


def report(
    model: Any,
    X: Any,
    path: str | os.PathLike | None = None,
    *,
    max_points: int = DEFAULT_MAX_POINTS,
    fps: float = 4.0,
    n_std: float = 2.0,
    title: str | None = None,
) -> Report:
    """An interactive HTML report of a fit, written to ``path`` if given.

    The page shows the data (the first two features when n_features == 2, else
    the first two principal components, with selectors for any two original
    features when n_features <= 12) coloured by cluster with the colours of
    every kmix figure (:func:`kmix.viz.color`); a slider over every recorded
    iteration (for k-means two positions per iteration, after the assignment
    and after the update step) and a Play/Pause button; the centres with their
    paths so far, or the means with their ``n_std`` ellipses; the objective
    (SSD, or the mean log-likelihood per sample) with the current iteration
    marked; tooltips giving each point's row, features, label and, for a
    mixture, responsibilities; and tables of the final clusters (size, weight,
    mean) and, for a mixture, BIC and AIC.

    Parameters
    ----------
    model : fitted KMeans, MiniBatchKMeans or GaussianMixture, or a selection
        A model fitted without a recorded history (``record_history=False``)
        gets a report of its final state, which the page says. The result of
        :func:`kmix.select_k` or :func:`kmix.select_mixture` gets its criteria,
        where clicking a cell shows that cell's fitted model over the data.
    X : array-like (n_samples, n_features)
        The data the model was fitted on, in memory (a dask array is computed).
    path : str or Path, optional
        Where to write the report, ending in ``.html`` (written atomically).
    max_points : int, default 5000
        Draw at most this many points: beyond it a uniform sample of rows (the
        same for the same n_samples), which the page says. Labels, sizes and
        criteria are computed on all of X.
    fps : float, default 4
        Frames per second of the Play button, from 0.01 to 100.
    n_std : float, default 2
        Radius of the mixtures' ellipses in standard deviations.
    title : str, optional
        The page's title (default: what was fitted).

    Returns
    -------
    Report
        ``.html``, ``.path`` (None without ``path``), ``.save(path)``; shown
        in a notebook in an isolated frame.

    Raises
    ------
    MissingDependencyError
        Bokeh is not installed: ``pip install 'kmix[report]'``.
    ValueError
        A model that is not a fitted KMeans or GaussianMixture, X of another
        number of features, ``path`` not ending in .html, or ``max_points``,
        ``fps`` or ``n_std`` out of range.
    """
    target = None if path is None else _check_path(path)
    data, layout = _build(model, X, max_points=max_points, fps=fps, n_std=n_std)
    page = _page(layout, title or (data if isinstance(data, str) else data.title))
    result = Report(page, None)
    if target is not None:
        result = Report(page, result.save(target))
    return result


# --- the document ---------------------------------------------------------------------

def _build(model: Any, X: Any, *, max_points: int = DEFAULT_MAX_POINTS, fps: float = 4.0,
           n_std: float = 2.0) -> tuple[ReportData | str, Any]:
    """The report's content (for a selection, its title) and its Bokeh layout
    (the arguments checked as :func:`report` says)."""
    max_points = check_int(max_points, "max_points", minimum=1)
    fps = check_fps(fps)
    n_std = check_float(n_std, "n_std", minimum=0.0, exclusive_minimum=True)
    require("bokeh", "report", "kmix.viz.report")
    from ._report_selection import is_selection, selection_document

    if is_selection(model):
        return selection_document(model, X, max_points=max_points, n_std=n_std)
    data = report_data(model, X, max_points=max_points)
    return data, _document(data, interval=int(round(1000.0 / fps)), n_std=n_std)


def _label_dtype(n_components: int) -> type:
    return np.int8 if n_components < 127 else np.int32


def _points_columns(data: ReportData) -> dict[str, np.ndarray]:
    dtype = _label_dtype(data.n_components)
    columns: dict[str, np.ndarray] = {"row": data.rows.astype(np.int32)}
    for name, labels in data.label_steps.items():
        columns[name] = labels.astype(dtype)
    for j in range(min(data.n_features, MAX_FEATURE_AXES)):
        columns[f"f{j}"] = data.features[:, j].copy()
    for column, values in data.projected(data.features).items():
        columns.setdefault(column, values)
    if data.responsibilities is not None:
        for j in range(data.n_components):
            columns[f"r{j}"] = data.responsibilities[:, j].astype(np.float32)
    return columns


def _history_columns(data: ReportData) -> tuple[dict[str, np.ndarray], list[str]]:
    n_steps, k, d = data.centres.shape
    flat = data.centres.reshape(n_steps * k, d)
    columns: dict[str, np.ndarray] = {
        "step": np.repeat(np.arange(n_steps, dtype=np.int32), k),
        "component": np.tile(np.arange(k, dtype=np.int32), n_steps),
    }
    feature_columns = []
    for j in range(min(d, MAX_FEATURE_AXES)):
        columns[f"f{j}"] = flat[:, j].copy()
        feature_columns.append(f"f{j}")
    for column, values in data.projected(flat).items():
        columns.setdefault(column, values)
    if data.weights is not None:
        columns["weight"] = data.weights.reshape(-1).copy()
    return columns, feature_columns


def _frame_state(data: ReportData, points: dict, history: dict, covariances: dict, frame: int,
                 x_column: str, y_column: str, n_std: float) -> dict[str, Any]:
    """What the page's script sets for ``frame`` (the same computation, for the
    document's first view)."""
    k = data.n_components
    record = data.frames[frame]
    step = record.centre_step
    rows = step * k + np.arange(k)
    state: dict[str, Any] = {
        "points": {**points, "x": points[x_column], "y": points[y_column],
                   "shown_label": points[record.label_column]},
        "centres_xy": (history[x_column][rows], history[y_column][rows]),
        "paths": ([history[x_column][j: (step + 1) * k: k].tolist() for j in range(k)],
                  [history[y_column][j: (step + 1) * k: k].tolist() for j in range(k)]),
        "ellipses": ([], []),
    }
    if covariances:
        def pair(a: str, b: str) -> np.ndarray:
            return covariances.get(f"c_{a}__{b}", covariances.get(f"c_{b}__{a}"))

        for j, row in enumerate(rows):
            matrix = np.array([[pair(x_column, x_column)[row], pair(x_column, y_column)[row]],
                               [pair(x_column, y_column)[row], pair(y_column, y_column)[row]]])
            xs, ys = ellipse_outline(np.array([state["centres_xy"][0][j], state["centres_xy"][1][j]]),
                                     matrix, n_std)
            state["ellipses"][0].append(xs.tolist())
            state["ellipses"][1].append(ys.tolist())
    index = record.objective_index
    value = "" if index < 0 else f", {data.objective_name} {float(data.objective_y[index]):.7g}"
    state["objective_index"] = index
    state["text"] = f"frame {frame} of {len(data.frames) - 1}: {record.caption}{value}"
    return state


def _document(data: ReportData, *, interval: int, n_std: float) -> Any:
    from bokeh.layouts import column, row
    from bokeh.models import (
        Button,
        ColumnDataSource,
        CustomJS,
        DataTable,
        Div,
        HoverTool,
        LinearColorMapper,
        NumberFormatter,
        Select,
        Slider,
        TableColumn,
    )
    from bokeh.plotting import figure

    from ._report_js import PLAY, UPDATE

    k = data.n_components
    axes = data.axes
    x_column, y_column = axes[0].column, axes[1].column
    titles = {axis.column: axis.title for axis in axes}
    last = len(data.frames) - 1

    points_columns = _points_columns(data)
    history_columns, feature_columns = _history_columns(data)
    flat_covariances = {name: values.reshape(-1) for name, values in data.projected_covariances().items()}
    state = _frame_state(data, points_columns, history_columns, flat_covariances, last, x_column, y_column,
                         n_std)

    points = ColumnDataSource(state["points"], name="points-source")
    history = ColumnDataSource(history_columns, name="history-source")
    covariances = ColumnDataSource(flat_covariances, name="covariances-source") if flat_covariances else None
    frames = ColumnDataSource({
        "centre_step": np.array([f.centre_step for f in data.frames], dtype=np.int32),
        "label_column": [f.label_column for f in data.frames],
        "objective_index": np.array([f.objective_index for f in data.frames], dtype=np.int32),
        "caption": [f.caption for f in data.frames],
    }, name="frames-source")
    centre_rows = data.frames[last].centre_step * k + np.arange(k)
    centres_data = {"x": state["centres_xy"][0], "y": state["centres_xy"][1],
                    "component": np.arange(k, dtype=np.int32), "color": colors(k)}
    for name in feature_columns:
        centres_data[name] = history_columns[name][centre_rows]
    if "weight" in history_columns:
        centres_data["weight"] = history_columns["weight"][centre_rows]
    centres = ColumnDataSource(centres_data, name="centres-source")
    paths = ColumnDataSource({"xs": state["paths"][0], "ys": state["paths"][1], "color": colors(k)},
                             name="paths-source")
    ellipses = ColumnDataSource({"xs": state["ellipses"][0], "ys": state["ellipses"][1],
                                 "color": colors(k) if covariances is not None else []},
                                name="ellipses-source")

    # The scatter, its ranges held by the points alone (the centres' paths and the
    # ellipses move from frame to frame; the view does not).
    scatter = figure(width=620, height=560, title=_scatter_title(data, n_std), name="scatter",
                     tools="pan,wheel_zoom,box_zoom,reset,save", active_scroll="wheel_zoom",
                     x_axis_label=titles[x_column], y_axis_label=titles[y_column])
    mapper = LinearColorMapper(palette=colors(k), low=-0.5, high=k - 0.5, low_color=_UNASSIGNED_COLOR)
    points_renderer = scatter.scatter("x", "y", source=points, size=5, line_color=None, fill_alpha=0.7,
                                      fill_color={"field": "shown_label", "transform": mapper}, name="points")
    scatter.x_range.renderers = [points_renderer]
    scatter.y_range.renderers = [points_renderer]
    scatter.multi_line("xs", "ys", source=paths, line_color="color", line_width=1.6, line_alpha=0.9,
                       name="paths")
    if covariances is not None:
        scatter.patches("xs", "ys", source=ellipses, line_color="color", line_width=2.2, fill_color="color",
                        fill_alpha=0.08, name="ellipses")
    centres_renderer = scatter.scatter("x", "y", source=centres, marker="x", size=14, line_color="black",
                                       line_width=4, name="centres-outline")
    scatter.scatter("x", "y", source=centres, marker="x", size=14, line_color="color", line_width=2.2,
                    name="centres")
    tooltips = [("row", "@row"), ("label", "@label")]
    formatters = {}
    for j in range(min(data.n_features, MAX_FEATURE_AXES)):
        tooltips.append((data.feature_names[j], f"@{{f{j}}}{{%0.6g}}"))
        formatters[f"@{{f{j}}}"] = "printf"
    if data.responsibilities is not None:
        for j in range(k):
            tooltips.append((f"p({j} | x)", f"@{{r{j}}}{{0.0000}}"))
    scatter.add_tools(HoverTool(renderers=[points_renderer], tooltips=tooltips, formatters=formatters,
                                name="points-hover"))
    centre_tips = [("component" if data.kind == "gmm" else "cluster", "@component")]
    centre_tips += [(data.feature_names[j], f"@{{f{j}}}{{%0.6g}}") for j in range(len(feature_columns))]
    if "weight" in history_columns:
        centre_tips.append(("weight", "@weight{0.0000}"))
    scatter.add_tools(HoverTool(renderers=[centres_renderer], tooltips=centre_tips,
                                formatters={f"@{{{name}}}": "printf" for name in feature_columns},
                                name="centres-hover"))

    objective_plot = figure(width=460, height=560, name="objective", title=data.objective_name,
                            x_axis_label=data.objective_axis, y_axis_label=data.objective_name,
                            tools="pan,wheel_zoom,box_zoom,reset,save",
                            y_axis_type="log" if data.objective_y.size and np.all(data.objective_y > 0)
                            else "linear")
    objective = ColumnDataSource({"x": data.objective_x, "y": data.objective_y}, name="objective-source")
    index = state["objective_index"]
    progress = ColumnDataSource({"x": data.objective_x[: index + 1], "y": data.objective_y[: index + 1]},
                                name="progress-source")
    marker = ColumnDataSource({"x": data.objective_x[index: index + 1] if index >= 0 else [],
                               "y": data.objective_y[index: index + 1] if index >= 0 else []},
                              name="marker-source")
    objective_plot.line("x", "y", source=objective, line_color="#d9d9d9", line_width=1.2)
    objective_plot.line("x", "y", source=progress, line_color="#333333", line_width=1.6, name="objective-progress")
    objective_plot.scatter("x", "y", source=progress, size=4, color="#333333")
    objective_plot.scatter("x", "y", source=marker, size=11, fill_color=color(3), line_color="white",
                           name="objective-marker")

    slider = Slider(start=0, end=max(last, 1), value=last, step=1, title="frame", width=560,
                    disabled=last == 0, name="iteration-slider")
    play = Button(label="\u25B6 Play", width=110, disabled=last == 0, name="play-button")
    x_select = Select(title="x axis", value=x_column, options=[(a.column, a.title) for a in axes],
                      visible=len(axes) > 2, width=260, name="x-axis")
    y_select = Select(title="y axis", value=y_column, options=[(a.column, a.title) for a in axes],
                      visible=len(axes) > 2, width=260, name="y-axis")
    label = Div(text=state["text"], name="iteration-label", styles={"font-size": "15px", "font-weight": "600"})
    update = CustomJS(args=dict(
        slider=slider, frames=frames, x_select=x_select, y_select=y_select, titles=titles, points=points,
        history=history, covariances=covariances, centres=centres, paths=paths, ellipses=ellipses,
        objective=objective, marker=marker, progress=progress, label=label, x_axis=scatter.xaxis[0],
        y_axis=scatter.yaxis[0], feature_columns=feature_columns, n_components=k, n_std=n_std,
        n_ellipse=ELLIPSE_POINTS, objective_name=data.objective_name,
    ), code=UPDATE)
    slider.js_on_change("value", update)
    x_select.js_on_change("value", update)
    y_select.js_on_change("value", update)
    play.js_on_event("button_click", CustomJS(args=dict(slider=slider, button=play, interval=interval),
                                              code=PLAY))

    header = Div(text=_header_html(data), name="report-notes", width=1100)
    number = NumberFormatter(format="0,0.[000000]")
    table_source = ColumnDataSource(data.table, name="cluster-table-source")
    table = DataTable(source=table_source, name="cluster-table", width=1080, index_position=None, reorderable=False,
                      height=min(40 + 26 * k, 320),
                      columns=[TableColumn(field=name, title=name, **({} if i == 0 else {"formatter": number}))
                               for i, name in enumerate(data.table)])
    criteria = DataTable(source=ColumnDataSource(data.criteria, name="criteria-table-source"),
                         name="criteria-table", width=520, index_position=None, reorderable=False,
                         height=40 + 26 * len(data.criteria["name"]),
                         columns=[TableColumn(field="name", title="on all of X"),
                                  TableColumn(field="value", title="value", formatter=number)])
    controls = row(play, slider, x_select, y_select)
    return column(header, row(scatter, objective_plot), controls, label, table, criteria)


def _scatter_title(data: ReportData, n_std: float) -> str:
    shown = "every point" if data.n_shown == data.n_samples else f"{data.n_shown:,} of {data.n_samples:,} points"
    centres = f"means and {n_std:g}-sigma ellipses" if data.kind == "gmm" else "centres and their paths"
    return f"{shown}, coloured by cluster; {centres}"


def _header_html(data: ReportData) -> str:
    escape = html_module.escape
    lines = [f"<h2 style='margin: 4px 0'>{escape(data.title)}</h2>",
             f"<p>{data.n_samples:,} samples &times; {data.n_features} features. "
             "Move the slider or press Play to step through the fit; hover over a point for its row, "
             "features and label.</p>"]
    lines += [f"<p><b>{escape(note)}.</b></p>" for note in data.notes]
    return "\n".join(lines)


def _page(layout: Any, title: str) -> str:
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    return file_html(layout, resources=INLINE, title=title)
