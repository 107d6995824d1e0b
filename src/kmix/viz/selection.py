"""The model-selection picture: a criterion against the number of components, one
line per covariance model (mclust's BIC plot, in kmix's sign: lower is better)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot_criterion", "MODEL_STYLES"]

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
