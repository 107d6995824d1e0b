"""Colours and axes set-up shared by every figure."""

from __future__ import annotations

import numpy as np

# Twenty distinct colours (matplotlib's tab10 followed by the darker half of
# tab20b), repeated beyond that; cluster i always gets _PALETTE[i % 20].
_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
    "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363",
)


def color(index: int) -> str:
    """The colour of cluster or component ``index`` in every kmix figure."""
    return _PALETTE[int(index) % len(_PALETTE)]


def colors(n: int) -> list[str]:
    """The colours of clusters or components 0 .. n-1."""
    return [color(i) for i in range(n)]


def new_axes(ax=None, figsize=(6.0, 6.0)):
    """Return ``ax`` or, when it is None, the axes of a new figure."""
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=100, layout="constrained")
    return figure.add_subplot()


def axis_labels(ax, projection) -> None:
    """Label the axes with the feature names or the principal components used."""
    if projection is None:
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
    else:
        share = projection.explained_variance_ratio
        ax.set_xlabel(f"principal component 1 ({100 * share[0]:.0f}% of variance)")
        ax.set_ylabel(f"principal component 2 ({100 * share[1]:.0f}% of variance)")


def as_float_array(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)
