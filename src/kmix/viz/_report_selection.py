"""The interactive report of a model selection: the criterion against the number
of clusters (``kmix.select_k``) or of components and covariance model
(``kmix.select_mixture``), and the fit of whichever cell is clicked.

Every model of the selection is read as fitted: its labels of the drawn rows,
its centres or means and covariances; nothing is refitted.
"""

from __future__ import annotations

import html as html_module
from typing import Any

import numpy as np

from ._report_data import ELLIPSE_POINTS, MAX_FEATURE_AXES, _as_array, _axes, _sample_rows, ellipse_outline
from ._report_js import ELLIPSES
from ._style import color, colors

__all__ = ["is_selection", "selection_document"]

# args: cells, default_index, x_select, y_select, titles, points, models, covariances, centres,
# ellipses, label, x_axis, y_axis, n_std, n_ellipse
SELECT = ELLIPSES + r"""
const chosen = cells.selected.indices.length ? cells.selected.indices[0] : default_index;
const m = cells.data.model[chosen];
const xc = x_select.value, yc = y_select.value;
const pd = Object.assign({}, points.data);
pd.x = pd[xc];
pd.y = pd[yc];
pd.shown_label = pd["model_" + m];
points.data = pd;
const md = models.data;
const rows = [];
for (let r = 0; r < md.model.length; r++) if (md.model[r] === m) rows.push(r);
const cx = rows.map((r) => md[xc][r]), cy = rows.map((r) => md[yc][r]);
centres.data = {x: cx, y: cy, component: rows.map((r) => md.component[r]),
                color: rows.map((r) => md.color[r])};
if (covariances !== null) {
  const [ex, ey] = ellipse_outlines(covariances.data, xc, yc, rows, cx, cy, n_std, n_ellipse);
  ellipses.data = {xs: ex, ys: ey, color: rows.map((r) => md.color[r])};
}
label.text = cells.data.caption[chosen];
x_axis.axis_label = titles[xc];
y_axis.axis_label = titles[yc];
"""


def is_selection(value: Any) -> bool:
    """Whether ``value`` is the result of ``kmix.select_k`` or ``kmix.select_mixture``."""
    return hasattr(value, "models") and (hasattr(value, "covariance_types") or hasattr(value, "choice"))


def _cells(selection: Any) -> tuple[str, list[dict[str, Any]], list[Any], int]:
    """(kind, one dict per cell with a model, the models, the index of the default cell)."""
    if hasattr(selection, "covariance_types"):
        values = selection.grid()
        criterion = selection.criterion.upper()
        best = selection.best_params_
        cells, models = [], []
        for i, k in enumerate(selection.n_components):
            for j, name in enumerate(selection.covariance_types):
                model = selection.models.get((int(k), name))
                if model is None or not np.isfinite(values[i, j]):
                    continue
                cells.append({"k": int(k), "series": name, "value": float(values[i, j]),
                              "caption": f"{int(k)} components, {name}: {criterion} {values[i, j]:.7g}"
                                         + (" (the best)" if (int(k), name) == best else "")})
                models.append(model)
        default = next(i for i, cell in enumerate(cells) if (cell["k"], cell["series"]) == best)
        return "mixture", cells, models, default
    cells, models = [], []
    chosen_by = {}
    for criterion, k in selection.choice.items():
        chosen_by.setdefault(int(k), []).append(criterion)
    for i, k in enumerate(selection.k):
        for criterion in selection.criteria:
            value = float(selection.values[criterion][i])
            if not np.isfinite(value):
                continue
            note = f" (chosen by {', '.join(chosen_by[int(k)])})" if int(k) in chosen_by else ""
            cells.append({"k": int(k), "series": criterion, "value": value, "model": i,
                          "caption": f"k = {int(k)}{note}"})
        models.append(selection.models[i])
    preferred = selection.choice.get("gap", next(iter(selection.choice.values())))
    default = next(i for i, cell in enumerate(cells) if cell["k"] == int(preferred))
    return "kmeans", cells, models, default


def selection_document(selection: Any, X: Any, *, max_points: int, n_std: float) -> tuple[str, Any]:
    """The page's title and Bokeh layout for a selection (see :func:`kmix.viz.report`)."""
    from bokeh.layouts import column, gridplot, row
    from bokeh.models import ColumnDataSource, CustomJS, Div, HoverTool, LinearColorMapper, Select, TapTool
    from bokeh.plotting import figure

    from .gmm import mixture_parameters

    kind, cells, models, default = _cells(selection)
    if not cells:
        raise ValueError("this selection holds no fitted model to show")
    points_all = _as_array(X)
    n_features = np.asarray(models[0].means_ if kind == "mixture" else models[0].cluster_centers_).shape[1]
    if points_all.ndim != 2 or points_all.shape[1] != n_features:
        raise ValueError(f"X has shape {points_all.shape}, but the selection was fitted on {n_features} features")
    names = [f"x{j + 1}" for j in range(n_features)]
    axes = _axes(points_all, names)
    rows = _sample_rows(points_all.shape[0], max_points)
    shown = points_all[rows]
    if kind == "mixture":  # one model per cell
        for index, cell in enumerate(cells):
            cell["model"] = index

    points = {"row": rows.astype(np.int32)}
    for j in range(min(n_features, MAX_FEATURE_AXES)):
        points[f"f{j}"] = shown[:, j].copy()
    for axis in axes:
        points.setdefault(axis.column, shown @ axis.vector + axis.offset)
    model_rows: dict[str, list] = {"model": [], "component": [], "color": []}
    centres_all, covariances_all = [], []
    for index, model in enumerate(models):
        labels = np.asarray(model.predict(shown), dtype=np.int64)
        points[f"model_{index}"] = labels.astype(np.int8 if labels.max(initial=0) < 127 else np.int32)
        if kind == "mixture":
            _, means, covariances = mixture_parameters(model)
            covariances_all.append(covariances)
        else:
            means = np.asarray(model.cluster_centers_, dtype=np.float64)
        centres_all.append(means)
        model_rows["model"] += [index] * len(means)
        model_rows["component"] += list(range(len(means)))
        model_rows["color"] += colors(len(means))
    centres_flat = np.concatenate(centres_all)
    model_columns: dict[str, Any] = {"model": np.array(model_rows["model"], dtype=np.int32),
                                     "component": np.array(model_rows["component"], dtype=np.int32),
                                     "color": model_rows["color"]}
    for axis in axes:
        model_columns[axis.column] = centres_flat @ axis.vector + axis.offset
    covariance_columns = {}
    if covariances_all:
        flat = np.concatenate(covariances_all)
        for i, first in enumerate(axes):
            left = flat @ first.vector
            for second in axes[i:]:
                covariance_columns[f"c_{first.column}__{second.column}"] = left @ second.vector

    # The first view: the default cell's fit on the first two axes.
    x_column, y_column = axes[0].column, axes[1].column
    m = cells[default]["model"]
    mask = model_columns["model"] == m
    points.update(x=points[x_column], y=points[y_column], shown_label=points[f"model_{m}"])
    centres = {"x": model_columns[x_column][mask], "y": model_columns[y_column][mask],
               "component": model_columns["component"][mask],
               "color": [c for c, keep in zip(model_columns["color"], mask) if keep]}
    ellipses = {"xs": [], "ys": [], "color": centres["color"] if covariance_columns else []}
    if covariance_columns:
        def pair(a: str, b: str) -> np.ndarray:
            return covariance_columns.get(f"c_{a}__{b}", covariance_columns.get(f"c_{b}__{a}"))

        for j, r in enumerate(np.flatnonzero(mask)):
            matrix = np.array([[pair(x_column, x_column)[r], pair(x_column, y_column)[r]],
                               [pair(x_column, y_column)[r], pair(y_column, y_column)[r]]])
            xs, ys = ellipse_outline(np.array([centres["x"][j], centres["y"][j]]), matrix, n_std)
            ellipses["xs"].append(xs.tolist())
            ellipses["ys"].append(ys.tolist())

    points_source = ColumnDataSource(points, name="points-source")
    models_source = ColumnDataSource(model_columns, name="models-source")
    covariances_source = ColumnDataSource(covariance_columns, name="covariances-source") if covariance_columns else None
    centres_source = ColumnDataSource(centres, name="centres-source")
    ellipses_source = ColumnDataSource(ellipses, name="ellipses-source")
    series = list(dict.fromkeys(cell["series"] for cell in cells))
    cells_source = ColumnDataSource({
        "k": [cell["k"] for cell in cells], "value": [cell["value"] for cell in cells],
        "series": [cell["series"] for cell in cells], "model": [cell["model"] for cell in cells],
        "caption": [cell["caption"] for cell in cells],
        "color": [color(series.index(cell["series"])) for cell in cells],
    }, name="cells-source")
    cells_source.selected.indices = [default]

    # The criteria: one panel per criterion for k-means (their scales differ), one
    # panel with a line per covariance model for mixtures.
    criterion_plots = []
    groups = [[name] for name in series] if kind == "kmeans" else [series]
    for group in groups:
        title = group[0] if kind == "kmeans" else f"{selection.criterion.upper()} (lower is better); click a cell"
        plot = figure(width=330 if kind == "kmeans" else 620, height=260 if kind == "kmeans" else 420,
                      title=title, tools="tap,pan,wheel_zoom,reset",
                      x_axis_label="k" if kind == "kmeans" else "number of components",
                      name=f"criterion-{group[0]}" if kind == "kmeans" else "criterion")
        for name in group:
            keep = [i for i, cell in enumerate(cells) if cell["series"] == name]
            plot.line([cells[i]["k"] for i in keep], [cells[i]["value"] for i in keep],
                      line_color=color(series.index(name)), line_width=1.5,
                      **({"legend_label": name} if kind == "mixture" else {}))
        view_renderer = plot.scatter("k", "value", source=cells_source, size=10, fill_color="color",
                                     line_color="white", name="cells",
                                     nonselection_fill_alpha=0.35, selection_line_color="black")
        if kind == "kmeans":
            from bokeh.models import CDSView, GroupFilter

            view_renderer.view = CDSView(filter=GroupFilter(column_name="series", group=group[0]))
        else:
            plot.legend.location = "top_right"
            plot.legend.click_policy = "hide"
        plot.select_one(TapTool).renderers = [view_renderer]
        plot.add_tools(HoverTool(renderers=[view_renderer], tooltips=[("cell", "@caption"), ("value", "@value")]))
        criterion_plots.append(plot)

    titles = {axis.column: axis.title for axis in axes}
    scatter = figure(width=620, height=560, title="the clicked cell's fit", name="scatter",
                     tools="pan,wheel_zoom,box_zoom,reset,save",
                     x_axis_label=titles[x_column], y_axis_label=titles[y_column])
    k_most = max(len(c) for c in centres_all)
    mapper = LinearColorMapper(palette=colors(k_most), low=-0.5, high=k_most - 0.5, low_color="#9a9a9a")
    points_renderer = scatter.scatter("x", "y", source=points_source, size=5, line_color=None, fill_alpha=0.7,
                                      fill_color={"field": "shown_label", "transform": mapper}, name="points")
    scatter.x_range.renderers = [points_renderer]
    scatter.y_range.renderers = [points_renderer]
    if covariance_columns:
        scatter.patches("xs", "ys", source=ellipses_source, line_color="color", line_width=2.2,
                        fill_color="color", fill_alpha=0.08, name="ellipses")
    scatter.scatter("x", "y", source=centres_source, marker="x", size=14, line_color="black", line_width=4)
    scatter.scatter("x", "y", source=centres_source, marker="x", size=14, line_color="color", line_width=2.2,
                    name="centres")
    tooltips = [("row", "@row"), ("label", "@shown_label")]
    tooltips += [(names[j], f"@{{f{j}}}") for j in range(min(n_features, MAX_FEATURE_AXES))]
    scatter.add_tools(HoverTool(renderers=[points_renderer], tooltips=tooltips, name="points-hover"))

    x_select = Select(title="x axis", value=x_column, options=[(a.column, a.title) for a in axes],
                      visible=len(axes) > 2, width=260, name="x-axis")
    y_select = Select(title="y axis", value=y_column, options=[(a.column, a.title) for a in axes],
                      visible=len(axes) > 2, width=260, name="y-axis")
    label = Div(text=cells[default]["caption"], name="model-label",
                styles={"font-size": "15px", "font-weight": "600"})
    update = CustomJS(args=dict(
        cells=cells_source, default_index=default, x_select=x_select, y_select=y_select, titles=titles,
        points=points_source, models=models_source, covariances=covariances_source, centres=centres_source,
        ellipses=ellipses_source, label=label, x_axis=scatter.xaxis[0], y_axis=scatter.yaxis[0], n_std=n_std,
        n_ellipse=ELLIPSE_POINTS,
    ), code=SELECT)
    cells_source.selected.js_on_change("indices", update)
    x_select.js_on_change("value", update)
    y_select.js_on_change("value", update)

    what = "number of clusters" if kind == "kmeans" else "number of components and covariance model"
    title = f"choosing the {what}: {len(models)} fits"
    sampled = ("" if rows.size == points_all.shape[0] else
               f"<p><b>showing {rows.size:,} of {points_all.shape[0]:,} points, a uniform sample.</b></p>")
    header = Div(text=f"<h2 style='margin: 4px 0'>{html_module.escape(title)}</h2>"
                      f"<p>{points_all.shape[0]:,} samples &times; {n_features} features. Click a point of the "
                      "criterion to see that fit.</p>" + sampled, name="report-notes", width=1100)
    criteria = gridplot(criterion_plots, ncols=3) if kind == "kmeans" else criterion_plots[0]
    return title, column(header, criteria, row(scatter, column(x_select, y_select, label)))
