"""Gaussian-mixture figures: ellipses, the log-likelihood curve, the density.

Nothing here refits: the figures read a fitted :class:`kmix.GaussianMixture`
(and its History) or plain (weights, means, covariances) arrays. Data with more
than two features is drawn in its first two principal components; means and
covariances are projected with it (P μ, P Σ Pᵀ), which is exactly the marginal
of each Gaussian on that plane.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..kernels import gmm as gk
from ._legend import place_legend
from ._projection import Projection, fit_projection
from ._style import axis_labels, color, new_axes

__all__ = ["plot_gmm", "plot_log_likelihood", "plot_density", "mixture_parameters"]


class _Mixture(NamedTuple):
    weights: np.ndarray  # (k,)
    means: np.ndarray  # (k, d)
    covariances: np.ndarray  # (k, d, d)


def mixture_parameters(model_or_params: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights (k,), means (k, d), covariances (k, d, d) full) as float64 arrays.

    Parameters
    ----------
    model_or_params : fitted GaussianMixture, tuple or dict
        A fitted model (any covariance_type), a ``(weights, means, covariances)``
        tuple with full covariances, or a dict with those three keys.
    """
    if hasattr(model_or_params, "means_") and hasattr(model_or_params, "covariances_"):
        model = model_or_params
        means = np.asarray(model.means_, dtype=np.float64)
        k, d = means.shape
        covariance_type = getattr(model, "_fitted_covariance_type", model.covariance_type)
        covariances = gk.full_covariances(np.asarray(model.covariances_, dtype=np.float64),
                                          gk.layout_of(covariance_type), k, d)
        weights = np.asarray(model.weights_, dtype=np.float64)
    elif isinstance(model_or_params, dict):
        try:
            weights, means, covariances = (
                model_or_params["weights"], model_or_params["means"], model_or_params["covariances"]
            )
        except KeyError as exc:
            raise ValueError(f"the parameter dict needs 'weights', 'means' and 'covariances'; missing {exc}") from None
    elif isinstance(model_or_params, (tuple, list)) and len(model_or_params) == 3:
        weights, means, covariances = model_or_params
    elif hasattr(model_or_params, "get_params"):
        raise ValueError(f"this {type(model_or_params).__name__} is not fitted yet; call fit first")
    else:
        raise ValueError(
            "expected a fitted GaussianMixture, a (weights, means, covariances) tuple or a dict "
            f"with those keys; got {type(model_or_params).__name__}"
        )
    weights = np.asarray(weights, dtype=np.float64)
    means = np.atleast_2d(np.asarray(means, dtype=np.float64))
    covariances = np.asarray(covariances, dtype=np.float64)
    k, d = means.shape
    if weights.shape != (k,) or covariances.shape != (k, d, d):
        raise ValueError(
            "weights (k,), means (k, d) and full covariances (k, d, d) must agree; got "
            f"{weights.shape}, {means.shape}, {covariances.shape}"
        )
    return weights, means, covariances


def _in_plane(X: np.ndarray | None, mixture: _Mixture) -> tuple[np.ndarray | None, _Mixture, Projection | None]:
    """Data and mixture in two dimensions (PCA of X for d > 2; a zero second axis for d = 1)."""
    d = mixture.means.shape[1]
    if X is not None and X.shape[1] != d:
        raise ValueError(f"X has {X.shape[1]} features but the mixture has {d}")
    if d == 1:
        k = mixture.means.shape[0]
        means = np.column_stack([mixture.means[:, 0], np.zeros(k)])
        covariances = np.zeros((k, 2, 2))
        covariances[:, 0, 0] = mixture.covariances[:, 0, 0]
        points = None if X is None else np.column_stack([X[:, 0], np.zeros(len(X))])
        return points, _Mixture(mixture.weights, means, covariances), None
    if d == 2:
        return X, mixture, None
    # Without data, project onto the principal axes of the mixture's own spread.
    projection = fit_projection(X if X is not None else _mixture_sample(mixture))
    assert projection is not None
    projected = _Mixture(
        mixture.weights, projection.points(mixture.means), projection.covariances(mixture.covariances)
    )
    return (None if X is None else projection.points(X)), projected, projection


def _mixture_sample(mixture: _Mixture, n: int = 2000) -> np.ndarray:
    """A fixed, deterministic sample of the mixture, only to choose a view."""
    rng = np.random.default_rng(0)
    counts = rng.multinomial(n, mixture.weights / mixture.weights.sum())
    parts = []
    for j, count in enumerate(counts):
        values, vectors = np.linalg.eigh(mixture.covariances[j])
        root = vectors * np.sqrt(np.clip(values, 0.0, None))
        parts.append(mixture.means[j] + rng.standard_normal((count, len(values))) @ root.T)
    return np.concatenate(parts)


def _ellipse(mean: np.ndarray, covariance: np.ndarray, n_std: float, **kwargs: Any):
    """The n_std contour of N(mean, covariance) in 2-D, from its eigendecomposition."""
    from matplotlib.patches import Ellipse

    # eigh, not eig: for symmetric input it guarantees real eigenvalues in
    # ascending order and orthonormal eigenvectors.
    values, vectors = np.linalg.eigh(covariance)
    values = np.clip(values, 0.0, None)
    major = vectors[:, 1]
    angle = np.degrees(np.arctan2(major[1], major[0]))
    width, height = 2.0 * n_std * np.sqrt(values[1]), 2.0 * n_std * np.sqrt(values[0])
    return Ellipse(xy=(mean[0], mean[1]), width=width, height=height, angle=angle, **kwargs)


def plot_gmm(
    X: Any,
    model_or_params: Any,
    ax: Any = None,
    n_std: float = 2.0,
    *,
    point_size: float = 10.0,
    legend: bool = True,
    title: str | None = None,
):
    """Samples, component means and covariance ellipses.

    Parameters
    ----------
    X : array (n_samples, n_features)
    model_or_params : fitted GaussianMixture, (weights, means, covariances) or dict
        Covariances in full (k, d, d) form for the tuple and dict.
    ax : matplotlib Axes, optional
    n_std : float, default 2
        The ellipses are the contours at ``n_std`` standard deviations along the
        principal axes of each covariance.
    point_size : float
    legend : bool
        A legend with an entry for every kind of mark: the samples, the means,
        the ellipses ("2σ ellipse of each component" for ``n_std=2``) and each
        component, "Component 00, weight 0.2312" (up to 12 components). It is
        placed where it hides no sample, mean or ellipse: inside the axes if a
        free place exists, else beside them.
    title : str, optional

    Returns
    -------
    ax : the Axes. Component i is drawn in :func:`kmix.viz.color` (i), as in the
    k-means figures.
    """
    from matplotlib.legend_handler import HandlerPatch
    from matplotlib.patches import Ellipse

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    mixture = _Mixture(*mixture_parameters(model_or_params))
    points, plane, projection = _in_plane(X, mixture)
    own_figure = ax is None
    ax = new_axes(ax)
    samples = ax.scatter(points[:, 0], points[:, 1], s=point_size, color="0.55", alpha=0.6, linewidths=0,
                         label="Samples")
    k = plane.means.shape[0]
    ellipses = []
    for j in range(k):
        ellipses.append(ax.add_patch(
            _ellipse(
                plane.means[j], plane.covariances[j], n_std, fill=False, edgecolor=color(j),
                linewidth=2.0, label=f"Component {j:02d}, weight {plane.weights[j]:.4f}", zorder=3,
            )
        ))
        ax.scatter(plane.means[j, 0], plane.means[j, 1], marker="x", s=70, color=color(j), linewidths=2.0, zorder=4)
    ax.autoscale_view()
    axis_labels(ax, projection)
    if title is not None:
        ax.set_title(title)
    if legend:
        handles, names = _mixture_legend(samples, ellipses, n_std)
        place_legend(ax, handles, names, grow_figure=own_figure, fontsize="small", framealpha=0.85,
                     handler_map={Ellipse: HandlerPatch(patch_func=_ellipse_key)})
    return ax


def _mixture_legend(samples: Any, ellipses: list[Any], n_std: float) -> tuple[list[Any], list[str]]:
    """One entry per kind of mark: the samples, the means, what the ellipses are,
    and each component (its ellipse's colour and weight; up to twelve)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Ellipse

    handles = [samples, Line2D([], [], linestyle="none", marker="x", markersize=7, markeredgewidth=2.0, color="0.3"),
               Ellipse((0.0, 0.0), 1.0, 1.0, fill=False, edgecolor="0.3", linewidth=2.0)]
    names = ["Samples", "Component means", f"{n_std:g}σ ellipse of each component"]
    if len(ellipses) <= 12:
        handles.extend(ellipses)
        names.extend(ellipse.get_label() for ellipse in ellipses)
    return handles, names


def _ellipse_key(legend, orig_handle, xdescent, ydescent, width, height, fontsize):
    """The legend key of an ellipse: a flat ellipse filling the key's box."""
    from matplotlib.patches import Ellipse

    return Ellipse((0.5 * width - xdescent, 0.5 * height - ydescent), width, 0.9 * height)


def _log_likelihood_values(history: Any) -> tuple[np.ndarray, bool]:
    """The values and whether they come from a History (first entry: the initial parameters)."""
    source = getattr(history, "history_", history)
    if source is None:
        raise ValueError("this model kept no history")
    if hasattr(source, "fields") and callable(source.fields):
        if "log_likelihood" not in source:
            recorded = ", ".join(source.fields()) or "none"
            raise ValueError(f"this History has no 'log_likelihood' field; it has {recorded}")
        return np.asarray(source.log_likelihood, dtype=np.float64).reshape(-1), True
    values = np.asarray(source, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"expected one log-likelihood per iteration (1-D), got shape {values.shape}")
    return values, False


def plot_log_likelihood(history: Any, ax: Any = None, *, title: str | None = "Log-likelihood over the iterations"):
    """The log-likelihood over the EM iterations.

    Parameters
    ----------
    history : History, fitted GaussianMixture or array (n_iter,)
        ``history_`` of a fitted GaussianMixture (or the model): entry t is the
        mean log-likelihood of the parameters after t iterations, drawn at x = t
        from 0. An array (such as the log-likelihoods returned by
        :func:`kmix.textbook.fit_gaussian_mixture`, after iterations 1, 2, ...)
        is drawn from x = 1.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    ax : the Axes
    """
    values, from_history = _log_likelihood_values(history)
    if values.size == 0:
        raise ValueError("no log-likelihood values to draw (was the model fitted with max_iter=0?)")
    first = 0 if from_history else 1
    iterations = np.arange(first, first + values.size)
    ax = new_axes(ax, figsize=(6.0, 4.0))
    ax.plot(iterations, values, color=color(0), linewidth=1.5, marker="o", markersize=3.5, label="log-likelihood")
    ax.set_xlabel("iterations completed" if from_history else "iteration")
    ax.set_ylabel("mean log-likelihood per sample" if from_history else "log-likelihood")
    if title:
        ax.set_title(title)
    return ax


def plot_density(
    model_or_params: Any,
    X: Any = None,
    ax: Any = None,
    *,
    resolution: int = 200,
    levels: int = 20,
    cmap: str = "viridis",
    colorbar: bool = True,
    title: str | None = None,
):
    """Filled contours of the mixture density over the data's range.

    Parameters
    ----------
    model_or_params : fitted GaussianMixture, (weights, means, covariances) or dict
    X : array (n_samples, n_features), optional
        The data: sets the range (with a margin) and is drawn as small dots.
        Without it the range covers every component's 3-standard-deviation box.
    ax : matplotlib Axes, optional
    resolution : int, default 200
        Grid points along each axis.
    levels : int, default 20
        Number of contour levels.
    cmap : str, default "viridis"
    colorbar : bool, default True
    title : str, optional

    Returns
    -------
    ax : the Axes; the filled contour set is ``ax.collections``' first entry.
    Means are marked in their components' colours. For d > 2 the density shown
    is the exact marginal of the mixture on the principal-component plane.
    """
    mixture = _Mixture(*mixture_parameters(model_or_params))
    if X is not None:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    points, plane, projection = _in_plane(X, mixture)
    if mixture.means.shape[1] == 1:
        raise ValueError("plot_density needs at least two features (a 1-D mixture has no 2-D density)")
    if points is not None:
        low, high = points.min(axis=0), points.max(axis=0)
    else:
        spread = 3.0 * np.sqrt(np.diagonal(plane.covariances, axis1=1, axis2=2))
        low, high = (plane.means - spread).min(axis=0), (plane.means + spread).max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    low, high = low - 0.08 * span, high + 0.08 * span
    xs = np.linspace(low[0], high[0], resolution)
    ys = np.linspace(low[1], high[1], resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    log_density = gk.mixture_log_density(grid, plane.weights, plane.means, plane.covariances)
    density = np.exp(log_density).reshape(grid_x.shape)
    ax = new_axes(ax, figsize=(6.5, 5.5) if colorbar else (6.0, 6.0))
    filled = ax.contourf(grid_x, grid_y, density, levels=levels, cmap=cmap)
    ax.contour(grid_x, grid_y, density, levels=filled.levels, colors="k", linewidths=0.3, alpha=0.6)
    if points is not None:
        ax.scatter(points[:, 0], points[:, 1], s=3, color="white", alpha=0.5, linewidths=0)
    for j in range(plane.means.shape[0]):
        ax.scatter(
            plane.means[j, 0], plane.means[j, 1], marker="X", s=90, color=color(j), edgecolors="white",
            linewidths=0.8, zorder=4,
        )
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    axis_labels(ax, projection)
    if colorbar:
        ax.figure.colorbar(filled, ax=ax, label="density")
    if title is not None:
        ax.set_title(title)
    return ax
