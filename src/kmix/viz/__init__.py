"""Figures and animations. The only part of kmix that imports matplotlib.

Every function takes ``ax=None`` (a new figure is made when it is None), returns
what it drew, and never calls ``plt.show()``. Cluster or component ``i`` has the
same colour, :func:`color`, in every figure and every frame. :func:`report`
writes an interactive HTML report of a fit (with Bokeh, imported only then).
"""

from ._style import color, colors
from .animation import AnimationInfo, animate_gmm, animate_kmeans
from .gmm import plot_density, plot_gmm, plot_log_likelihood
from .kmeans import plot_batch_ssd, plot_clusters, plot_ssd
from .report import Report, report
from .selection import plot_classification, plot_criterion, plot_pairs, plot_select_k

__all__ = [
    "color",
    "colors",
    "plot_clusters",
    "plot_ssd",
    "plot_batch_ssd",
    "plot_gmm",
    "plot_log_likelihood",
    "plot_density",
    "plot_criterion",
    "plot_classification",
    "plot_pairs",
    "plot_select_k",
    "animate_kmeans",
    "animate_gmm",
    "AnimationInfo",
    "report",
    "Report",
]
