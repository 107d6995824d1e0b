"""The model-selection picture: a criterion against the number of components, one
line per covariance model (mclust's BIC plot, in kmix's sign: lower is better)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot_criterion", "plot_classification", "plot_pairs", "plot_select_k", "MODEL_STYLES"]

# Each of mclust's models with the colour and symbol mclust draws it with (its
# bicPlotColors and bicPlotSymbols, the symbols as matplotlib's closest markers:
# filled where mclust's are filled).
MODEL_STYLES = {
    "EII": ("gray", "^", True), "VII": ("black", "^", False), "EEI": ("#218B21", "o", True),
    "EVI": ("#41884F", "P", False), "VEI": ("#508476", "X", False), "VVI": ("#58819C", "o", False),
    "EEE": ("#597DC3", "s", True), "VEE": ("#5178EA", "*", True), "EVE": ("#716EE7", "D", False),
    "VVE": ("#9B60B8", "d", True), "EEV": ("#B2508B", "p", False), "VEV": ("#C03F60", "x", True),
    "EVV": ("#C82A36", "h", False), "VVV": ("#CC0000", "s", False),
}
# scikit-learn's names draw as the mclust models they are.
_ALIASES = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}


def plot_criterion(selection: Any, criterion: str | None = None, ax: Any = None, *, legend: bool = True,
                   title: str | None = None):
    """Draw ``criterion`` (default: the selection's) of every cell of a
    :class:`kmix.models.selection.MixtureSelection` against the number of
    components, a line per covariance model, the best cell ringed.

    Returns the axes. Cells that could not be fitted are gaps in their line.
    """
    import matplotlib.pyplot as plt

    criterion = criterion or selection.criterion
    values = selection.grid(criterion)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 5))
    ks = selection.n_components
    for j, name in enumerate(selection.covariance_types):
        colour, marker, filled = MODEL_STYLES[_ALIASES.get(name, name)]
        ax.plot(ks, values[:, j], color=colour, marker=marker, markersize=6, linewidth=1.2, label=name,
                markerfacecolor=colour if filled else "none", markeredgecolor=colour)
    ranking = selection.ranking(criterion)
    if ranking:
        k, name, value = ranking[0]
        ax.plot([k], [value], marker="o", markersize=16, markerfacecolor="none", markeredgecolor="black",
                markeredgewidth=1.5, linestyle="none", label=f"best: {name}, {k}")
    ax.set_xlabel("number of components")
    ax.set_ylabel(f"{criterion.upper()} (lower is better)")
    ax.set_xticks(ks)
    if title is None:
        title = f"{criterion.upper()} of every model"
    if title:
        ax.set_title(title)
    finite = values[np.isfinite(values)]
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
        margin = 0.05 * (high - low) if high > low else 1.0
        ax.set_ylim(low - margin, high + margin)
    if legend:
        ax.legend(ncol=2, fontsize="small", loc="best", frameon=False)
    ax.figure.tight_layout()
    return ax


def plot_classification(X: Any, model: Any, ax: Any = None, *, uncertainty: bool = False, n_std: float = 2.0,
                        point_size: float = 12.0, title: str | None = None):
    """The points coloured by their most probable component, with the components'
    ellipses (in the plane of the first two principal components for more than
    two features), as mclust's classification plot.

    With ``uncertainty``, each point's size is its uncertainty 1 - max_k z_ik
    (mclust's uncertainty plot): the points the model is unsure about stand out.

    Returns the axes.
    """
    from ._style import axis_labels, color, new_axes
    from .gmm import _ellipse, _in_plane, _Mixture, mixture_parameters

    X = np.asarray(X, dtype=np.float64)
    resp = np.asarray(model.predict_proba(X), dtype=np.float64)
    labels = resp.argmax(axis=1)
    mixture = _Mixture(*mixture_parameters(model))
    points, plane, projection = _in_plane(X, mixture)
    ax = new_axes(ax)
    if uncertainty:
        unsure = 1.0 - resp.max(axis=1)
        # Scaled so that the least certain point is large and a certain one a dot.
        sizes = 2.0 + 5.0 * point_size * unsure / max(float(unsure.max()), 1e-12)
    else:
        sizes = np.full(X.shape[0], point_size)
    k = plane.means.shape[0]
    for j in range(k):
        mine = labels == j
        ax.scatter(points[mine, 0], points[mine, 1], s=sizes[mine], color=color(j), alpha=0.7, linewidths=0,
                   label=f"Component {j:02d} ({int(mine.sum())} points)")
        ax.add_patch(_ellipse(plane.means[j], plane.covariances[j], n_std, fill=False, edgecolor=color(j),
                              linewidth=1.8, zorder=3))
    ax.autoscale_view()
    axis_labels(ax, projection)
    if title is None:
        title = "Uncertainty (point size: 1 - largest responsibility)" if uncertainty else "Classification"
    if title:
        ax.set_title(title)
    if k <= 12:
        ax.legend(loc="best", fontsize="small", framealpha=0.8)
    return ax


def plot_pairs(X: Any, model: Any, *, features: Any = None, n_std: float = 2.0, point_size: float = 6.0,
               names: Any = None):
    """A scatter-plot matrix: every pair of features, the points coloured by their
    most probable component and each component's ellipse in that pair's plane (the
    marginal of its covariance), histograms of each feature by component on the
    diagonal.

    ``features``: the columns to show (default all, at most 8); ``names``: their
    labels. Returns the (f, f) array of axes.
    """
    import matplotlib.pyplot as plt

    from ._style import color
    from .gmm import _ellipse, mixture_parameters

    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    columns = list(range(min(d, 8))) if features is None else [int(c) for c in features]
    if not columns or any(c < 0 or c >= d for c in columns):
        raise ValueError(f"features must be column numbers of X (0 to {d - 1}), got {features!r}")
    labels_of = names if names is not None else [f"x{c}" for c in columns]
    _, means, covariances = mixture_parameters(model)
    labels = np.asarray(model.predict(X))
    f = len(columns)
    figure, axes = plt.subplots(f, f, figsize=(2.2 * f + 1, 2.2 * f + 1), squeeze=False)
    k = means.shape[0]
    for row, a in enumerate(columns):
        for col, b in enumerate(columns):
            ax = axes[row, col]
            if row == col:
                edges = np.histogram_bin_edges(X[:, a], bins=20)  # one set of bins for every component
                for j in range(k):
                    ax.hist(X[labels == j, a], bins=edges, color=color(j), alpha=0.6)
            else:
                for j in range(k):
                    mine = labels == j
                    ax.scatter(X[mine, b], X[mine, a], s=point_size, color=color(j), alpha=0.6, linewidths=0)
                    block = covariances[j][np.ix_([b, a], [b, a])]
                    ax.add_patch(_ellipse(means[j, [b, a]], block, n_std, fill=False, edgecolor=color(j),
                                          linewidth=1.4))
            if row == f - 1:
                ax.set_xlabel(labels_of[col])
            if col == 0:
                ax.set_ylabel(labels_of[row])
            ax.tick_params(labelsize="x-small")
    figure.tight_layout()
    return axes


# What each k-means criterion's best is, for the panels' titles.
_K_GOALS = {"ssd": "knee", "calinski_harabasz": "largest", "davies_bouldin": "smallest",
            "silhouette": "largest", "gap": "one-standard-error rule"}


def plot_select_k(result: Any, *, title: str | None = None):
    """Small multiples of a :class:`kmix.models.select_k.KSelection`: one panel per
    criterion against k, the spread over the runs as a band (the gap statistic's
    standard error for "gap"), each criterion's choice marked.

    Returns the array of axes (one per criterion).
    """
    import matplotlib.pyplot as plt

    names = result.criteria
    columns = min(len(names), 3)
    rows = -(-len(names) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    ks = np.asarray(result.k)
    for index, name in enumerate(names):
        ax = axes[index // columns, index % columns]
        values = np.asarray(result.values[name], dtype=np.float64)
        band = (result.gap_standard_error if name == "gap" and result.gap_standard_error is not None
                else result.spread[name])
        band = np.nan_to_num(np.asarray(band, dtype=np.float64))
        ax.fill_between(ks, values - band, values + band, color="0.8", linewidth=0)
        ax.plot(ks, values, color="0.2", marker="o", markersize=4, linewidth=1.2)
        chosen = result.choice.get(name)
        if chosen is not None:
            at = int(np.flatnonzero(ks == chosen)[0])
            ax.plot([chosen], [values[at]], marker="o", markersize=12, markerfacecolor="none",
                    markeredgecolor="tab:red", markeredgewidth=2, linestyle="none")
            ax.axvline(chosen, color="tab:red", linewidth=0.8, linestyle=":")
        ax.set_title(f"{name.replace('_', '-')} ({_K_GOALS[name]}): k = {chosen}", fontsize="medium")
        ax.set_xticks(ks)
        ax.set_xlabel("k")
    for index in range(len(names), rows * columns):
        axes[index // columns, index % columns].set_visible(False)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return axes.ravel()[: len(names)]
