"""Animations of a fit, one frame per recorded iteration, drawn from the History.

Nothing here refits: k-means frames take the recorded centres (and the
assignment step applied to them), EM frames take the recorded weights, means and
covariances.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ._frames import BlitRenderer, check_animation_path, select_frames, write_frames
from ._projection import fit_projection
from ._style import axis_labels, color

__all__ = ["animate_kmeans", "AnimationInfo"]


class AnimationInfo(NamedTuple):
    """What an animation function wrote."""

    path: Path
    n_frames: int
    frames: list[str]  # a short caption of every frame written


def _history_of(model_or_history: Any, kind: str) -> Any:
    history = getattr(model_or_history, "history_", model_or_history)
    if history is None:
        raise ValueError(
            f"this {kind} model kept no history; fit it with record_history=True to animate it"
        )
    return history


def _limits(points: np.ndarray, extra: np.ndarray | None = None, margin: float = 0.06):
    stacked = points if extra is None else np.concatenate([points, extra.reshape(-1, 2)])
    low, high = stacked.min(axis=0), stacked.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return (low[0] - margin * span[0], high[0] + margin * span[0]), (low[1] - margin * span[1], high[1] + margin * span[1])


def _figure(show_objective: bool, size: float):
    from matplotlib.figure import Figure

    if show_objective:
        figure = Figure(figsize=(size * 1.9, size), dpi=90, layout="constrained")
        ax, objective_ax = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.0, 0.85]})
        return figure, ax, objective_ax
    figure = Figure(figsize=(size, size), dpi=90, layout="constrained")
    return figure, figure.add_subplot(), None


def _nearest(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    from ..kernels.kmeans import squared_distances

    offset = points.mean(axis=0)
    return np.argmin(squared_distances(points - offset, centers - offset), axis=1)


def animate_kmeans(
    X: Any,
    model_or_history: Any,
    path: Any,
    *,
    fps: float = 4,
    half_steps: bool = False,
    max_frames: int | None = None,
    show_objective: bool = False,
    size: float = 5.5,
    point_size: float = 10.0,
) -> AnimationInfo:
    """Animate a k-means fit from its recorded history.

    Parameters
    ----------
    X : array (n_samples, n_features)
        The data the model was fitted on (shown in its first two principal
        components when n_features > 2, the same view in every frame).
    model_or_history : fitted KMeans or its ``history_``
    path : str or Path
        ``.gif`` (Pillow) or ``.mp4`` (needs ffmpeg on the PATH).
    fps : float
        Frames per second.
    half_steps : bool
        Two frames per iteration: after the assignment step (points recoloured,
        centres still) and after the update step (centres moved).
    max_frames : int, optional
        Keep at most this many frames, evenly spread, first and last included.
    show_objective : bool
        Draw the SSD curve beside the points, filling in as the animation plays.

    Returns
    -------
    AnimationInfo (path, n_frames, frame captions)
    """
    path = check_animation_path(path)
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    history = _history_of(model_or_history, "KMeans")
    if "centers" not in history or "ssd" not in history:
        raise ValueError(
            "this history has no per-iteration centres; fit KMeans with record_history=True to animate it"
        )
    X = np.asarray(X, dtype=np.float64)
    centers_history = np.asarray(history.centers, dtype=np.float64)  # (n_iter + 1, k, d)
    ssd = np.asarray(history.ssd, dtype=np.float64)  # (n_iter, 2)
    if X.ndim != 2 or X.shape[1] != centers_history.shape[2]:
        raise ValueError(
            f"X has shape {X.shape} but the history's centres have {centers_history.shape[2]} features"
        )
    n_iter, k = ssd.shape[0], centers_history.shape[1]

    # Frames: (centres index, labels-from centres index or None, caption, SSD half-step index)
    frames: list[tuple[int, int | None, str, int | None]] = [(0, None, "initial centres", None)]
    for t in range(n_iter):
        if half_steps:
            frames.append((t, t, f"iteration {t + 1}: assignment", 2 * t))
        frames.append((t + 1, t, f"iteration {t + 1}" + (": update" if half_steps else ""), 2 * t + 1))
    chosen = select_frames(len(frames), max_frames)

    projection = fit_projection(X)
    if X.shape[1] == 1:
        points = np.column_stack([X[:, 0], np.zeros(len(X))])
        path2d = np.concatenate([centers_history, np.zeros_like(centers_history)], axis=-1)
    elif projection is not None:
        points, path2d = projection.points(X), projection.points(centers_history)
    else:
        points, path2d = X, centers_history
    labels_by_step = {}

    def labels_for(step: int) -> np.ndarray:
        if step not in labels_by_step:
            labels_by_step[step] = _nearest(X, centers_history[step])
        return labels_by_step[step]

    figure, ax, objective_ax = _figure(show_objective, size)
    xlim, ylim = _limits(points, path2d)
    palette = np.array([_rgba(color(j)) for j in range(k)])
    grey = np.array(_rgba("#9a9a9a"))
    scatter = ax.scatter(points[:, 0], points[:, 1], s=point_size, linewidths=0, alpha=0.8, c=[grey])
    trails = [ax.plot([], [], color=color(j), linewidth=1.4, marker="x", markersize=4, zorder=3)[0] for j in range(k)]
    centres = ax.scatter(path2d[0, :, 0], path2d[0, :, 1], marker="X", s=110, c=palette,
                         edgecolors="black", linewidths=1.0, zorder=4)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    axis_labels(ax, projection)
    # A representative title so the layout leaves room for it.
    title = ax.set_title(f"k-means, k = {k}: iteration {n_iter}: assignment, SSD {ssd.max():.6g}")
    curve = None
    if objective_ax is not None:
        steps = np.arange(2 * n_iter) / 2.0
        values = ssd.reshape(-1)
        objective_ax.plot(steps, values, color="0.85", linewidth=1.0)
        curve = objective_ax.plot([], [], color="0.2", marker="o", markersize=3, linewidth=1.4)[0]
        objective_ax.set_xlim(-0.25, max(steps[-1], 0.5) + 0.25)
        if np.all(values > 0):
            objective_ax.set_yscale("log")
        objective_ax.set_xlabel("iteration")
        objective_ax.set_ylabel("SSD")
        objective_ax.set_title("SSD after each half-step")

    dynamic = [scatter, *trails, centres, title] + ([curve] if curve is not None else [])
    renderer = BlitRenderer(figure, dynamic)
    rendered, captions = [], []
    for index in chosen:
        centre_step, label_step, caption, ssd_index = frames[index]
        if label_step is None:
            scatter.set_facecolor(np.repeat(grey[None], len(points), axis=0))
        else:
            scatter.set_facecolor(palette[labels_for(label_step)])
        centres.set_offsets(path2d[centre_step])
        for j, trail in enumerate(trails):
            trail.set_data(path2d[: centre_step + 1, j, 0], path2d[: centre_step + 1, j, 1])
        value = "" if ssd_index is None else f", SSD {ssd.reshape(-1)[ssd_index]:.6g}"
        title.set_text(f"k-means, k = {k}: {caption}{value}")
        if curve is not None:
            shown = 0 if ssd_index is None else ssd_index + 1
            curve.set_data(np.arange(shown) / 2.0, ssd.reshape(-1)[:shown])
        rendered.append(renderer.frame())
        captions.append(caption)
    write_frames(rendered, path, fps)
    return AnimationInfo(path, len(rendered), captions)


def _rgba(value: str) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    return to_rgba(value)
