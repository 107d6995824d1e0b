"""Animations of a fit, one frame per recorded iteration, drawn from the History.

Nothing here refits: k-means frames take the recorded centres (and the
assignment step applied to them), EM frames take the recorded weights, means and
covariances.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ._frames import BlitRenderer, check_animation_path, check_fps, select_frames, write_frames
from ._projection import fit_projection
from ._style import axis_labels, color

__all__ = ["animate_kmeans", "animate_gmm", "AnimationInfo", "Scene", "kmeans_scene", "gmm_scene"]


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
    from ..kernels.kmeans import nearest_centers

    offset = points.mean(axis=0)  # centred: the expanded distances lose less to cancellation
    return nearest_centers(points - offset, centers - offset)[0]


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
        ``.gif`` (Pillow) or ``.mp4`` (needs ffmpeg on the PATH), in an existing
        folder; the file name at most 255 bytes, the path at most 4095.
    fps : float
        Frames per second, from 0.01 to 100 (a frame lasts from 10 ms to 100 s;
        a GIF stores frame durations in whole centiseconds, up to 655.35 s).
    half_steps : bool
        Two frames per iteration: after the assignment step (points recoloured,
        centres still) and after the update step (centres moved).
    max_frames : int, optional
        Keep at most this many frames, evenly spread, first and last included.
    show_objective : bool
        Draw the SSD curve beside the points, filling in as the animation plays,
        with the value the frame's title quotes marked. Iterations are counted
        from 1 there as in the titles: iteration i's assignment step at x = i,
        its update step at x = i + 0.5. The panel's range holds every value.

    Returns
    -------
    AnimationInfo (path, n_frames, frame captions)

    Raises
    ------
    ValueError
        A bad path (suffix, folder, length) or ``fps`` out of range, before
        anything is drawn; a model without a recorded history.
    """
    path = check_animation_path(path)
    fps = check_fps(fps)
    scene = kmeans_scene(X, model_or_history, half_steps=half_steps, max_frames=max_frames,
                         show_objective=show_objective, size=size, point_size=point_size)
    return _write(scene, path, fps)


class Scene(NamedTuple):
    """An animation's figure and how to set it to each of its frames.

    ``show(i)`` sets the artists to frame i (0 <= i < n_frames) and returns the
    frame's caption and the artists made for that frame alone (drawn beneath the
    others and removed by the caller once the frame is rendered).
    """

    figure: Any
    ax: Any
    objective_ax: Any  # None without show_objective
    dynamic: list[Any]  # the artists that change from frame to frame
    n_frames: int
    show: Callable[[int], tuple[str, list[Any]]]


def _write(scene: Scene, path: Path, fps: float) -> AnimationInfo:
    renderer = BlitRenderer(scene.figure, scene.dynamic)
    rendered, captions = [], []
    for index in range(scene.n_frames):
        caption, extra = scene.show(index)
        rendered.append(renderer.frame(extra))
        for artist in extra:
            artist.remove()
        captions.append(caption)
    write_frames(rendered, path, fps)
    return AnimationInfo(path, len(rendered), captions)


def _objective_marker(objective_ax: Any):
    """The point of the objective curve that the frame's title speaks of."""
    return objective_ax.plot([], [], linestyle="none", marker="o", markersize=7, markerfacecolor="#d62728",
                             markeredgecolor="white", zorder=5)[0]


def kmeans_scene(
    X: Any,
    model_or_history: Any,
    *,
    half_steps: bool = False,
    max_frames: int | None = None,
    show_objective: bool = False,
    size: float = 5.5,
    point_size: float = 10.0,
) -> Scene:
    """The figure of :func:`animate_kmeans` and how to set it to each frame
    (arguments as there)."""
    from .kmeans import ssd_positions

    history = _history_of(model_or_history, "KMeans")
    if "centers" not in history or "ssd" not in history:
        raise ValueError(
            "this history has no per-iteration centres; fit KMeans with record_history=True to animate it"
        )
    X = np.asarray(X, dtype=np.float64)
    centers_history = np.asarray(history.centers, dtype=np.float64)  # (n_iter + 1, k, d)
    ssd = np.asarray(history.ssd, dtype=np.float64)  # (n_iter, 2); a mini-batch fit's (n_steps,)
    # A mini-batch history: one step (and the SSD of its batch) per frame, no half-steps.
    per_step = ssd.ndim == 1
    if per_step and half_steps:
        raise ValueError("a mini-batch fit has no half-steps: each step assigns a batch and moves the "
                         "centres at once; animate it without half_steps")
    name, measure = ("mini-batch k-means", "batch SSD") if per_step else ("k-means", "SSD")
    if X.ndim != 2 or X.shape[1] != centers_history.shape[2]:
        raise ValueError(
            f"X has shape {X.shape} but the history's centres have {centers_history.shape[2]} features"
        )
    n_iter, k = ssd.shape[0], centers_history.shape[1]
    values = ssd.reshape(-1)
    # Iteration t + 1: assignment at t + 1, update at t + 1.5; mini-batch step t + 1 at t + 1.
    steps = 1.0 + np.arange(values.size) if per_step else ssd_positions(values.size)

    # Frames: (centres index, labels-from centres index or None, caption, SSD half-step index)
    frames: list[tuple[int, int | None, str, int | None]] = [(0, None, "initial centres", None)]
    for t in range(n_iter):
        if per_step:
            frames.append((t + 1, t, f"step {t + 1}", t))
            continue
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
    title = ax.set_title(f"{name}, k = {k}\niteration {n_iter}: assignment, {measure} {ssd.max():.6g}")
    curve = marker = None
    if objective_ax is not None:
        objective_ax.plot(steps, values, color="0.85", linewidth=1.0)
        curve = objective_ax.plot([], [], color="0.2", marker="o", markersize=3, linewidth=1.4)[0]
        marker = _objective_marker(objective_ax)
        objective_ax.set_xlim(steps[0] - 0.25, max(steps[-1], steps[0] + 0.5) + 0.25)
        if np.all(values > 0):
            objective_ax.set_yscale("log")
        objective_ax.set_ylim(*_padded_range(values, log=objective_ax.get_yscale() == "log"))
        if per_step:
            objective_ax.set_xlabel("step")
            objective_ax.set_ylabel(measure)
            objective_ax.set_title("SSD of each batch before its step")
        else:
            objective_ax.set_xlabel("iteration (assignment at i, update at i + ½)")
            objective_ax.set_ylabel("SSD")
            objective_ax.set_title("SSD after each half-step")

    def show(index: int) -> tuple[str, list[Any]]:
        centre_step, label_step, caption, ssd_index = frames[chosen[index]]
        if label_step is None:
            scatter.set_facecolor(np.repeat(grey[None], len(points), axis=0))
        else:
            scatter.set_facecolor(palette[labels_for(label_step)])
        centres.set_offsets(path2d[centre_step])
        for j, trail in enumerate(trails):
            trail.set_data(path2d[: centre_step + 1, j, 0], path2d[: centre_step + 1, j, 1])
        value = "" if ssd_index is None else f", {measure} {values[ssd_index]:.6g}"
        title.set_text(f"{name}, k = {k}\n{caption}{value}")
        if curve is not None:
            shown = 0 if ssd_index is None else ssd_index + 1
            curve.set_data(steps[:shown], values[:shown])
            marker.set_data(steps[shown - 1: shown], values[shown - 1: shown])
        return caption, []

    dynamic = [scatter, *trails, centres, title] + ([curve, marker] if curve is not None else [])
    return Scene(figure, ax, objective_ax, dynamic, len(chosen), show)


def _padded_range(values: np.ndarray, *, log: bool = False, margin: float = 0.06) -> tuple[float, float]:
    """Axis limits that hold every one of ``values`` with a margin (on a log scale
    when ``log``, the margin in decades)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if log:
        values = np.log10(values[values > 0])
    low, high = float(values.min()), float(values.max())
    pad = margin * (high - low) if high > low else max(abs(high) * 0.05, 0.5)
    low, high = low - pad, high + pad
    return (10.0**low, 10.0**high) if log else (low, high)


def _rgba(value: str) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    return to_rgba(value)


def _gmm_frames_in_plane(X: np.ndarray, history: Any):
    """Data, means and covariances of every recorded iteration in one fixed 2-D view."""
    weights = np.asarray(history.weights, dtype=np.float64)  # (n_iter + 1, k)
    means = np.asarray(history.means, dtype=np.float64)  # (n_iter + 1, k, d)
    covariances = np.asarray(history.covariances, dtype=np.float64)  # (n_iter + 1, k, d, d)
    d = means.shape[2]
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"X has shape {X.shape} but the history's means have {d} features")
    if d == 1:
        points = np.column_stack([X[:, 0], np.zeros(len(X))])
        means2 = np.concatenate([means, np.zeros_like(means)], axis=-1)
        covariances2 = np.zeros(covariances.shape[:2] + (2, 2))
        covariances2[..., 0, 0] = covariances[..., 0, 0]
        covariances2[..., 1, 1] = 1e-12 * max(float(np.max(covariances[..., 0, 0])), 1.0)
        return points, weights, means2, covariances2, None
    projection = fit_projection(X)
    if projection is None:
        return X, weights, means, covariances, None
    return projection.points(X), weights, projection.points(means), projection.covariances(covariances), projection


def _mixture_log_density(grid: np.ndarray, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """log p(x) of a 2-D mixture at the grid points."""
    from ..kernels import gmm as gk

    return gk.mixture_log_density(grid, weights, means, covariances)


def animate_gmm(
    X: Any,
    model_or_history: Any,
    path: Any,
    *,
    style: str = "ellipses",
    fps: float = 4,
    max_frames: int | None = None,
    show_objective: bool = False,
    n_std: float = 2.0,
    size: float = 5.5,
    point_size: float = 8.0,
    resolution: int = 120,
) -> AnimationInfo:
    """Animate an EM fit of a Gaussian mixture from its recorded history.

    Parameters
    ----------
    X : array (n_samples, n_features)
        The data the model was fitted on (first two principal components when
        n_features > 2, the same view in every frame; means and covariances are
        projected with it).
    model_or_history : fitted GaussianMixture or its ``history_``
        Needs the per-iteration weights, means and covariances (recorded by
        default when n_features <= 10; ``record_history=True`` forces it).
    path : str or Path
        ``.gif`` or ``.mp4`` (ffmpeg).
    style : {"ellipses", "density"}
        Covariance ellipses over the points, or filled contours of the mixture
        density (the same colour levels in every frame).
    fps, max_frames, show_objective
        As in :func:`animate_kmeans` (fps from 0.01 to 100); the objective is the
        mean log-likelihood per sample, drawn at x = the iterations completed
        (the number in the frame's title), its range holding every value from
        the start on.
    n_std : float
        Ellipse radius in standard deviations.
    resolution : int
        Grid points per axis for the density style.

    Returns
    -------
    AnimationInfo (path, n_frames, frame captions). Frame i shows the parameters
    after i iterations (frame 0: the initial parameters).

    Raises
    ------
    ValueError
        As :func:`animate_kmeans`; also an unknown ``style``.
    """
    path = check_animation_path(path)
    if style not in ("ellipses", "density"):
        raise ValueError(f"style must be 'ellipses' or 'density'; got {style!r}")
    fps = check_fps(fps)
    scene = gmm_scene(X, model_or_history, style=style, max_frames=max_frames, show_objective=show_objective,
                      n_std=n_std, size=size, point_size=point_size, resolution=resolution)
    return _write(scene, path, fps)


def gmm_scene(
    X: Any,
    model_or_history: Any,
    *,
    style: str = "ellipses",
    max_frames: int | None = None,
    show_objective: bool = False,
    n_std: float = 2.0,
    size: float = 5.5,
    point_size: float = 8.0,
    resolution: int = 120,
) -> Scene:
    """The figure of :func:`animate_gmm` and how to set it to each frame
    (arguments as there)."""
    from .gmm import _ellipse

    if style not in ("ellipses", "density"):
        raise ValueError(f"style must be 'ellipses' or 'density'; got {style!r}")
    history = _history_of(model_or_history, "GaussianMixture")
    if not all(name in history for name in ("weights", "means", "covariances")):
        raise ValueError(
            "this history has no per-iteration weights, means and covariances; fit the "
            "GaussianMixture with record_history=True to animate it (by default they are "
            "recorded only for n_features <= 10)"
        )
    X = np.asarray(X, dtype=np.float64)
    points, weights, means, covariances, projection = _gmm_frames_in_plane(X, history)
    n_steps, k = weights.shape
    recorded = np.asarray(history.log_likelihood, dtype=np.float64) if "log_likelihood" in history else np.empty(0)
    # Mean log-likelihood of the parameters shown in each frame: the history
    # holds it for every frame but the last, which is evaluated once here.
    objective = np.full(n_steps, np.nan)
    objective[: min(len(recorded), n_steps)] = recorded[:n_steps]
    if np.isnan(objective[-1]) and projection is None and X.shape[1] == means.shape[2]:
        objective[-1] = float(np.mean(_mixture_log_density(points, weights[-1], means[-1], covariances[-1])))
    chosen = select_frames(n_steps, max_frames)

    figure, ax, objective_ax = _figure(show_objective, size)
    xlim, ylim = _limits(points, means)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    axis_labels(ax, projection)
    title = ax.set_title(f"EM, {k} components\niteration {n_steps - 1}, log-likelihood {-99.9999:.4f} per sample")
    dynamic: list[Any] = [title]
    if style == "ellipses":
        ax.scatter(points[:, 0], points[:, 1], s=point_size, color="#9a9a9a", alpha=0.7, linewidths=0)
        ellipses = []
        for j in range(k):
            patch = _ellipse(means[0, j], covariances[0, j], n_std, fill=False, linewidth=2.0, edgecolor=color(j))
            ax.add_patch(patch)
            ellipses.append(patch)
        dynamic.extend(ellipses)
    else:
        xs = np.linspace(*xlim, resolution)
        ys = np.linspace(*ylim, resolution)
        grid_x, grid_y = np.meshgrid(xs, ys)
        grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
        densities = [
            np.exp(_mixture_log_density(grid, weights[i], means[i], covariances[i])).reshape(grid_x.shape)
            for i in chosen
        ]
        # One colour scale for every frame, set by the fitted (last) density: an
        # early frame with a nearly singular component can peak far higher, and
        # would otherwise leave every later frame in the lowest colour.
        top = float(np.max(densities[-1]))
        density_levels = np.linspace(0.0, top if top > 0 else 1.0, 21)
        dots = ax.scatter(points[:, 0], points[:, 1], s=3, color="white", alpha=0.5, linewidths=0, zorder=2)
        dynamic.insert(0, dots)
    centres = ax.scatter(means[0, :, 0], means[0, :, 1], marker="X", s=100, c=[color(j) for j in range(k)],
                         edgecolors="white" if style == "density" else "black", linewidths=0.9, zorder=4)
    dynamic.append(centres)
    curve = marker = None
    if objective_ax is not None:
        finite = np.isfinite(objective)
        objective_ax.plot(np.flatnonzero(finite), objective[finite], color="0.85", linewidth=1.0)
        curve = objective_ax.plot([], [], color="0.2", marker="o", markersize=3, linewidth=1.4)[0]
        marker = _objective_marker(objective_ax)
        objective_ax.set_xlim(-0.5, max(n_steps - 1, 1) + 0.5)
        if finite.any():
            # Every value of the history inside the panel, the start included:
            # the frame's title quotes it.
            objective_ax.set_ylim(*_padded_range(objective[finite]))
        objective_ax.set_xlabel("iterations completed")
        objective_ax.set_ylabel("mean log-likelihood")
        objective_ax.set_title("log-likelihood per sample")
        dynamic.extend([curve, marker])

    def show(index: int) -> tuple[str, list[Any]]:
        step = chosen[index]
        extra = []
        if style == "ellipses":
            for j, patch in enumerate(ellipses):
                fresh = _ellipse(means[step, j], covariances[step, j], n_std)
                patch.set_center(fresh.get_center())
                patch.set_width(fresh.get_width())
                patch.set_height(fresh.get_height())
                patch.set_angle(fresh.get_angle())
                patch.set_linewidth(1.0 + 6.0 * float(weights[step, j]))
        else:
            filled = ax.contourf(grid_x, grid_y, densities[index], levels=density_levels, cmap="viridis",
                                 extend="max", zorder=1)
            extra = [filled]
        centres.set_offsets(means[step])
        caption = "initial parameters" if step == 0 else f"iteration {step}"
        value = "" if np.isnan(objective[step]) else f", log-likelihood {objective[step]:.4f} per sample"
        title.set_text(f"EM, {k} components\n{caption}{value}")
        if curve is not None:
            shown = np.arange(step + 1)
            shown = shown[np.isfinite(objective[: step + 1])]
            curve.set_data(shown, objective[shown])
            current = shown[-1:] if shown.size and shown[-1] == step else shown[:0]
            marker.set_data(current, objective[current])
        return caption, extra

    return Scene(figure, ax, objective_ax, dynamic, len(chosen), show)
