"""Legends that hide no mark: inside the axes where they cover nothing drawn, else beside them.

matplotlib's ``loc="best"`` only minimises the overlap and happily covers data when
every corner holds some; here a place counts only when the legend's box, in display
coordinates, holds no plotted point (scatter offsets and line markers, padded by the
marker's size) and crosses no line or patch outline (paths, ellipses). Filled areas
such as contour sets cover the whole plane and are not counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Inside the axes, tried in this order.
INSIDE = (
    "upper right", "upper left", "lower left", "lower right",
    "upper center", "lower center", "center right", "center left",
)
# Points closer than this (display pixels) to the legend's box count as hidden by it,
# on top of the marker's own radius.
PAD_PIXELS = 2.0
# Gap between the axes and a legend placed beside them, as a fraction of the axes' width.
BESIDE_GAP = 0.03


def marks_in_display(ax: Any) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Where the axes' marks are drawn, in display coordinates.

    Returns
    -------
    points : array (n, 2)
        Scatter offsets and the vertices of lines drawn with a marker.
    radii : array (n,)
        Each point's marker radius in pixels.
    outlines : list of arrays (m_i, 2)
        Polylines of every line with a line style and of every patch's outline
        (curves flattened to segments).
    """
    from matplotlib.collections import PathCollection

    to_pixels = ax.figure.dpi / 72.0
    points, radii, outlines = [], [], []
    for collection in ax.collections:
        if not isinstance(collection, PathCollection) or not collection.get_visible():
            continue
        offsets = np.asarray(collection.get_offsets(), dtype=np.float64).reshape(-1, 2)
        offsets = offsets[np.all(np.isfinite(offsets), axis=1)]
        if not len(offsets):
            continue
        points.append(collection.get_offset_transform().transform(offsets))
        sizes = collection.get_sizes()
        size = float(np.max(sizes)) if len(sizes) else 36.0  # marker area in points²
        radii.append(np.full(len(offsets), 0.5 * np.sqrt(size) * to_pixels))
    for line in ax.lines:
        if not line.get_visible():
            continue
        xy = np.asarray(line.get_xydata(), dtype=np.float64).reshape(-1, 2)
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        if not len(xy):
            continue
        display = line.get_transform().transform(xy)
        if line.get_marker() not in (None, "None", "none", "", " "):
            points.append(display)
            radii.append(np.full(len(display), 0.5 * line.get_markersize() * to_pixels))
        if line.get_linestyle() not in ("None", "none", "", " ") and len(display) > 1:
            outlines.append(display)
    for patch in ax.patches:
        if not patch.get_visible():
            continue
        path = patch.get_transform().transform_path(patch.get_path())
        outlines.extend(np.asarray(polygon) for polygon in path.to_polygons(closed_only=False))
    if points:
        return np.concatenate(points), np.concatenate(radii), outlines
    return np.empty((0, 2)), np.empty(0), outlines


def hidden_marks(box: Any, points: np.ndarray, radii: np.ndarray, outlines: list[np.ndarray]) -> int:
    """How many points lie under ``box`` (a display Bbox) and outlines cross it."""
    from matplotlib.path import Path

    reach = radii + PAD_PIXELS
    under = (
        (points[:, 0] + reach >= box.x0) & (points[:, 0] - reach <= box.x1)
        & (points[:, 1] + reach >= box.y0) & (points[:, 1] - reach <= box.y1)
    )
    crossed = sum(bool(Path(outline).intersects_bbox(box, filled=False)) for outline in outlines)
    return int(np.count_nonzero(under)) + crossed


def place_legend(ax: Any, handles: list[Any], labels: list[str], *, grow_figure: bool = False, **kwargs: Any):
    """Add a legend where it hides none of the axes' marks.

    Every place inside the axes in :data:`INSIDE` is tried; the first whose box
    holds no mark is kept. When none is free the legend goes beside the axes, on
    the right. A figure with a layout engine (kmix's own figures use the
    constrained layout) makes room for it there; with ``grow_figure`` the figure
    is also widened by the legend's width, so the data keep their size. In a
    figure without a layout engine, where a legend beside the axes would run off
    the figure, the place inside that hides the fewest marks is used instead.

    Call it after everything else is drawn on ``ax`` and the limits are set.

    Parameters
    ----------
    ax : matplotlib Axes
    handles, labels : the legend's entries
    grow_figure : bool
        Widen the figure for a legend placed beside the axes (for figures that
        the caller made itself).
    **kwargs : passed on to ``ax.legend`` (fontsize, framealpha, handler_map, ...)

    Returns
    -------
    The Legend.
    """
    from matplotlib.transforms import Bbox

    figure = ax.figure
    figure.draw_without_rendering()  # the layout and the limits as they will be drawn
    points, radii, outlines = marks_in_display(ax)
    # The legend's size and its gap to the axes' edges do not depend on where it
    # goes: measure them once, in the upper right, and move that box around.
    legend = ax.legend(handles, labels, loc=INSIDE[0], **kwargs)
    first = legend.get_window_extent()
    frame = ax.get_window_extent()
    width, height = first.width, first.height
    gap_x, gap_y = frame.x1 - first.x1, frame.y1 - first.y1
    left, right = frame.x0 + gap_x, frame.x1 - gap_x - width
    bottom, top = frame.y0 + gap_y, frame.y1 - gap_y - height
    middle_x, middle_y = 0.5 * (frame.x0 + frame.x1 - width), 0.5 * (frame.y0 + frame.y1 - height)
    corners = {
        "upper right": (right, top), "upper left": (left, top), "lower left": (left, bottom),
        "lower right": (right, bottom), "upper center": (middle_x, top), "lower center": (middle_x, bottom),
        "center right": (right, middle_y), "center left": (left, middle_y),
    }
    hidden = {}
    for loc in INSIDE:
        x, y = corners[loc]
        hidden[loc] = hidden_marks(Bbox.from_bounds(x, y, width, height), points, radii, outlines)
        if hidden[loc] == 0:
            return legend if loc == INSIDE[0] else ax.legend(handles, labels, loc=loc, **kwargs)
    legend = ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0 + BESIDE_GAP, 1.0),
                       borderaxespad=0.0, **kwargs)
    if grow_figure:
        figure.set_figwidth(figure.get_figwidth() + width / figure.dpi + 0.1)
    elif figure.get_layout_engine() is None and legend.get_window_extent().x1 > figure.bbox.x1:
        legend = ax.legend(handles, labels, loc=min(INSIDE, key=hidden.__getitem__), **kwargs)
    return legend
