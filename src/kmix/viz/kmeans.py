"""k-means figures: the clustering with the centres' paths, and the SSD curve."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._projection import fit_projection
from ._legend import place_legend
from ._style import axis_labels, color, colors, new_axes

__all__ = ["plot_clusters", "plot_ssd", "plot_batch_ssd"]


def plot_clusters(
    X: Any,
    labels: Any,
    centers: Any,
    centers_history: Any | None = None,
    ax: Any = None,
    *,
    point_size: float = 12.0,
    legend: bool = True,
    title: str | None = None,
):
    """Points coloured by cluster, the centres, and each centre's path from its start.

    Parameters
    ----------
    X : array (n_samples, n_features)
    labels : array (n_samples,) of int
        Cluster of each point (a one-hot (n_samples, k) array is accepted too).
    centers : array (k, n_features)
    centers_history : array (n_steps, k, n_features), optional
        Centres over the iterations (``history_.centers``); each path is drawn in
        its cluster's colour.
    ax : matplotlib Axes, optional
    point_size : float
    legend : bool
        A legend with an entry for every kind of mark: each cluster's points
        ("Cluster 03 (51)": its number of points; one entry for all the points
        beyond twelve clusters), the initial centres (rings), the paths and the
        final centres. It is placed where it hides no mark, inside the axes if
        a free place exists and else beside them.
    title : str, optional

    Returns
    -------
    ax : the Axes drawn on. Data with more than two features is shown in its
    first two principal components, and the axes are labelled so.
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = np.argmax(labels, axis=1)
    centers = np.asarray(centers, dtype=np.float64)
    if X.ndim != 2 or centers.ndim != 2 or centers.shape[1] != X.shape[1]:
        raise ValueError(
            f"X (n_samples, n_features) and centers (k, n_features) must agree; got {X.shape} and {centers.shape}"
        )
    if labels.shape != (X.shape[0],):
        raise ValueError(f"labels must have shape ({X.shape[0]},), got {labels.shape}")
    projection = fit_projection(X) if X.shape[1] > 2 else None
    if X.shape[1] == 1:
        X = np.column_stack([X[:, 0], np.zeros(len(X))])
        centers = np.column_stack([centers[:, 0], np.zeros(len(centers))])
        if centers_history is not None:
            history = np.asarray(centers_history, dtype=np.float64)
            centers_history = np.concatenate([history, np.zeros_like(history)], axis=-1)
    elif projection is not None:
        X = projection.points(X)
        centers = projection.points(centers)
        if centers_history is not None:
            centers_history = projection.points(np.asarray(centers_history, dtype=np.float64))
    own_figure = ax is None
    ax = new_axes(ax)
    k = centers.shape[0]
    clusters = []
    for cluster in range(k):
        members = labels == cluster
        clusters.append(ax.scatter(
            X[members, 0], X[members, 1], s=point_size, color=color(cluster), alpha=0.75,
            linewidths=0, label=f"Cluster {cluster:02d} ({int(members.sum())})",
        ))
    if centers_history is not None:
        path = np.asarray(centers_history, dtype=np.float64)
        for cluster in range(k):
            ax.plot(
                path[:, cluster, 0], path[:, cluster, 1], color=color(cluster), linewidth=1.5,
                marker="x", markersize=5, zorder=3,
            )
        # Where each centre started: hollow rings in its cluster's colour.
        ax.scatter(
            path[0, :, 0], path[0, :, 1], marker="o", s=50, facecolors="white", edgecolors=colors(k),
            linewidths=1.5, zorder=3.5, label="Initial centres",
        )
    final = ax.scatter(
        centers[:, 0], centers[:, 1], marker="X", s=120, color="black", edgecolors="white",
        linewidths=1.0, zorder=4, label="Final centres" if centers_history is not None else "Centres",
    )
    axis_labels(ax, projection)
    if title is not None:
        ax.set_title(title)
    if legend:
        handles, names = _cluster_legend(clusters, final, k, centers_history is not None)
        place_legend(ax, handles, names, grow_figure=own_figure, fontsize="small", framealpha=0.85)
    return ax


def _cluster_legend(clusters: list[Any], final: Any, k: int, with_paths: bool) -> tuple[list[Any], list[str]]:
    """One entry per kind of mark: the clusters' points (one per cluster up to
    twelve, else one for all), the initial centres and the paths, the centres."""
    from matplotlib.lines import Line2D

    if k <= 12:
        handles, names = list(clusters), [c.get_label() for c in clusters]
    else:
        handles = [Line2D([], [], linestyle="none", marker="o", markersize=4, color="0.45")]
        names = [f"Points, coloured by cluster ({k} clusters)"]
    if with_paths:
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=7, markerfacecolor="white",
                              markeredgecolor="0.3", markeredgewidth=1.5))
        names.append("Initial centres")
        handles.append(Line2D([], [], color="0.3", linewidth=1.5, marker="x", markersize=5))
        names.append("Path of each centre (× per iteration)")
    handles.append(final)
    names.append(final.get_label())
    return handles, names


def ssd_positions(n_values: int) -> np.ndarray:
    """Where the SSD after each half-step is drawn: iteration i (counted from 1, as
    the animations' titles count) has its assignment step at x = i and its update
    step at x = i + 0.5."""
    return 1.0 + np.arange(n_values) / 2.0


def _ssd_values(history: Any) -> np.ndarray:
    ssd = getattr(history, "ssd", history)
    ssd = np.asarray(ssd, dtype=np.float64)
    return ssd.reshape(-1)


def plot_ssd(history: Any, ax: Any = None, *, log: bool = True, title: str | None = "SSD over the iterations"):
    """The SSD after every half-step, on a log scale.

    Parameters
    ----------
    history : History, or array (n_iter, 2) or (2 * n_iter,)
        ``history_`` of a fitted KMeans, or the SSD values themselves: after the
        assignment step and after the update step of each iteration.
    ax : matplotlib Axes, optional
    log : bool, default True
        Logarithmic y axis.

    Returns
    -------
    ax : the Axes. As in the exercise's figure, assignment steps sit at whole
    numbers and update steps at .5; iterations are counted from 1, as the
    animations' titles count them (iteration 3's assignment at x = 3, its update
    at x = 3.5). The legend is placed where it hides no point of the curve.
    """
    ssd = _ssd_values(history)
    if ssd.size == 0 or ssd.size % 2:
        raise ValueError(f"expected two SSD values per iteration, got {ssd.size}")
    steps = ssd_positions(ssd.size)
    own_figure = ax is None
    ax = new_axes(ax, figsize=(6.0, 4.0))
    ax.plot(steps, ssd, color="0.3", linewidth=1.2, label="SSD")
    ax.plot(steps[0::2], ssd[0::2], "o", color=color(0), markersize=4, label="after assignment")
    ax.plot(steps[1::2], ssd[1::2], "s", color=color(1), markersize=4, label="after update")
    if log and np.all(ssd > 0):
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("SSD")
    if title:
        ax.set_title(title)
    handles, names = ax.get_legend_handles_labels()
    place_legend(ax, handles, names, grow_figure=own_figure, fontsize="small")
    return ax


def plot_batch_ssd(history: Any, ax: Any = None, *, log: bool = True,
                   title: str | None = "SSD of each batch"):
    """The SSD of every mini-batch step's batch (to the centres before the step), on
    a log scale.

    Parameters
    ----------
    history : History of a MiniBatchKMeans (or a KMeans fitted by partial_fit), or
        the batch SSD values themselves, shape (n_steps,)
    ax : matplotlib Axes, optional
    log : bool, default True
        Logarithmic y axis.

    Returns
    -------
    ax : the Axes; steps are counted from 1.
    """
    ssd = _ssd_values(history)
    if ssd.size == 0:
        raise ValueError("expected one batch SSD per step, got none")
    steps = 1.0 + np.arange(ssd.size)
    own_figure = ax is None
    ax = new_axes(ax, figsize=(6.0, 4.0))
    ax.plot(steps, ssd, color=color(0), linewidth=1.0, marker="o" if ssd.size <= 60 else None,
            markersize=3, label="batch SSD")
    if log and np.all(ssd > 0):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("SSD of the batch")
    if title:
        ax.set_title(title)
    handles, names = ax.get_legend_handles_labels()
    place_legend(ax, handles, names, grow_figure=own_figure, fontsize="small")
    return ax
