"""What an interactive report shows, as plain numpy arrays (no plotting library).

:func:`report_data` reads a fitted KMeans or GaussianMixture, its History and
the data, and returns a :class:`ReportData`: the sample of rows drawn, every
candidate axis of the scatter (principal components and original features) with
the points, the recorded centres and the covariances projected on it, the
frames of the iteration slider, the objective curve, and the statistics of the
fit computed on all of X. :mod:`kmix.viz.report` turns it into a Bokeh document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._projection import fit_projection

__all__ = ["Axis", "Frame", "ReportData", "report_data", "ellipse_outline", "MAX_FEATURE_AXES", "SAMPLE_SEED"]

# Data with at most this many features can be viewed in any two of them; above,
# only in its first two principal components (the page would hold every feature
# of every shown point and every recorded centre).
MAX_FEATURE_AXES = 12
# The seed of the uniform sample of rows drawn when X has more than max_points.
SAMPLE_SEED = 0
# Points of each ellipse outline.
ELLIPSE_POINTS = 73


@dataclass(frozen=True)
class Axis:
    """One direction the scatter can be drawn along: ``x @ vector + offset``."""

    column: str  # the key of its values in the page's data sources
    title: str  # what the axis and the selector call it
    vector: np.ndarray  # (n_features,)
    offset: float = 0.0


@dataclass(frozen=True)
class Frame:
    """One position of the iteration slider."""

    centre_step: int  # the recorded centres (or means, covariances) shown
    label_column: str  # the points' column that colours them
    objective_index: int  # the objective value marked, -1 for none
    caption: str


@dataclass
class ReportData:
    """The content of a report (see :func:`report_data`)."""

    kind: str  # "kmeans", "minibatch" or "gmm"
    title: str
    n_samples: int
    n_features: int
    n_components: int
    feature_names: list[str]
    rows: np.ndarray  # (n_shown,) int64, sorted: the rows of X drawn
    features: np.ndarray  # (n_shown, n_features) float64: X[rows]
    labels: np.ndarray  # (n_shown,) int64: final label of each drawn row
    label_steps: dict[str, np.ndarray]  # points' column -> labels of the drawn rows (n_shown,)
    responsibilities: np.ndarray | None  # (n_shown, k) for a mixture
    axes: list[Axis]
    centres: np.ndarray  # (n_steps, k, n_features): recorded centres or means, the final ones last
    covariances: np.ndarray | None  # (n_steps, k, n_features, n_features) full, mixtures
    weights: np.ndarray | None  # (n_steps, k), mixtures
    frames: list[Frame]
    objective_x: np.ndarray
    objective_y: np.ndarray
    objective_name: str  # "SSD" or "mean log-likelihood"
    objective_axis: str  # the objective plot's x-axis title
    table: dict[str, list[Any]]  # final per-cluster statistics, columns by name
    criteria: dict[str, list[Any]]  # name / value rows (n_samples, SSD or log-likelihood, BIC, AIC)
    notes: list[str] = field(default_factory=list)

    @property
    def n_shown(self) -> int:
        return int(self.rows.size)

    def projected(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """``values`` (..., n_features) on every axis, by the axis's column."""
        return {axis.column: values @ axis.vector + axis.offset for axis in self.axes}

    def projected_covariances(self) -> dict[str, np.ndarray]:
        """The covariances on every pair of axes (i <= j in axis order), by
        ``c_<column i>__<column j>``, each (n_steps, k): aᵢᵀ Σ aⱼ."""
        out = {}
        if self.covariances is None:
            return out
        for i, first in enumerate(self.axes):
            left = self.covariances @ first.vector  # (n_steps, k, d)
            for second in self.axes[i:]:
                out[f"c_{first.column}__{second.column}"] = left @ second.vector
        return out


def _history_of(model: Any) -> Any:
    return getattr(model, "history_", None)


def _sample_rows(n_samples: int, max_points: int) -> np.ndarray:
    if n_samples <= max_points:
        return np.arange(n_samples, dtype=np.int64)
    rng = np.random.default_rng(SAMPLE_SEED)
    return np.sort(rng.choice(n_samples, size=max_points, replace=False)).astype(np.int64)


def _axes(X: np.ndarray, feature_names: list[str]) -> list[Axis]:
    n_features = X.shape[1]
    features = [Axis(f"f{j}", feature_names[j], np.eye(n_features)[j]) for j in range(n_features)]
    if n_features == 1:
        return features + [Axis("zero", "(none)", np.zeros(1))]
    projection = fit_projection(X)
    if projection is None:
        return features
    share = projection.explained_variance_ratio
    components = [
        Axis(f"pc{i}", f"principal component {i + 1} ({100 * share[i]:.0f}% of variance)",
             projection.components[i], -float(projection.mean @ projection.components[i]))
        for i in range(2)
    ]
    return components + (features if n_features <= MAX_FEATURE_AXES else [])


def _nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    from ..kernels.kmeans import nearest_centers

    offset = points.mean(axis=0)  # centred: the expanded distances lose less to cancellation
    return np.asarray(nearest_centers(points - offset, centres - offset)[0], dtype=np.int64)


def _as_array(X: Any) -> np.ndarray:
    if hasattr(X, "compute") and hasattr(X, "chunks"):  # a dask array: the report draws every point
        X = X.compute()
    return np.asarray(X, dtype=np.float64)


def report_data(model: Any, X: Any, *, max_points: int) -> ReportData:
    """The content of a report of ``model`` fitted on ``X`` (see :func:`kmix.viz.report`)."""
    if hasattr(model, "means_") and hasattr(model, "covariances_"):
        kind = "gmm"
    elif hasattr(model, "cluster_centers_"):
        kind = "kmeans"
    elif hasattr(model, "get_params"):
        raise ValueError(f"this {type(model).__name__} is not fitted yet; call fit first")
    else:
        raise ValueError(f"model must be a fitted KMeans or GaussianMixture; got {type(model).__name__}")
    points = _as_array(X)
    centres_final = np.asarray(model.means_ if kind == "gmm" else model.cluster_centers_, dtype=np.float64)
    n_components, n_features = centres_final.shape
    if points.ndim != 2 or points.shape[1] != n_features:
        raise ValueError(f"X has shape {points.shape}, but the model was fitted on {n_features} features")
    if points.shape[0] == 0:
        raise ValueError("X has no rows; give the data the model was fitted on")
    names = getattr(model, "feature_names_in_", None)
    feature_names = ([str(name) for name in names] if names is not None and len(names) == n_features
                     else [f"x{j + 1}" for j in range(n_features)])
    # The model's own methods read X as it was given when it has named columns
    # (they are checked against the fit's), else the array already in memory.
    given = X if hasattr(X, "columns") else points
    rows = _sample_rows(points.shape[0], max_points)
    common = dict(n_samples=points.shape[0], n_features=n_features, n_components=n_components,
                  feature_names=feature_names, rows=rows, features=points[rows],
                  axes=_axes(points, feature_names))
    if kind == "gmm":
        return _gmm_data(model, given, points, common)
    return _kmeans_data(model, given, points, common)


def _sampling_note(n_shown: int, n_samples: int) -> list[str]:
    if n_shown == n_samples:
        return []
    return [f"showing {n_shown:,} of {n_samples:,} points, a uniform sample; every statistic is "
            "computed on all of them"]


def _kmeans_data(model: Any, X: Any, points: np.ndarray, common: dict) -> ReportData:
    from .kmeans import ssd_positions

    rows, shown = common["rows"], common["features"]
    k = common["n_components"]
    final_centres = np.asarray(model.cluster_centers_, dtype=np.float64)
    labels_all = np.asarray(model.predict(X), dtype=np.int64)
    labels = labels_all[rows]
    history = _history_of(model)
    notes = _sampling_note(rows.size, points.shape[0])
    ssd = np.asarray(history.ssd, dtype=np.float64) if history is not None and "ssd" in history else None
    per_step = ssd is not None and ssd.ndim == 1
    kind = "minibatch" if per_step else "kmeans"
    has_centres = history is not None and "centers" in history
    label_steps: dict[str, np.ndarray] = {"label": labels}
    frames: list[Frame] = []
    if has_centres and ssd is not None:
        centres = np.asarray(history.centers, dtype=np.float64)
        n_iter = ssd.shape[0]
        label_steps["unassigned"] = np.full(rows.size, -1, dtype=np.int64)
        frames.append(Frame(0, "unassigned", -1, "initial centres"))
        for t in range(n_iter):
            assignment = f"step_{t}"
            label_steps[assignment] = _nearest(shown, centres[t])
            # The last frame shows the final labels (those of the returned centres).
            after = "label" if t == n_iter - 1 else assignment
            if per_step:
                frames.append(Frame(t + 1, after, t, f"step {t + 1}"))
                continue
            frames.append(Frame(t, assignment, 2 * t, f"iteration {t + 1}: assignment"))
            frames.append(Frame(t + 1, after, 2 * t + 1, f"iteration {t + 1}: update"))
    else:
        centres = final_centres[None]
        last = -1 if ssd is None else ssd.size - 1
        frames.append(Frame(0, "label", last, "final centres"))
        notes.append("this fit kept no per-iteration centres (fit with record_history=True to keep "
                     "them): the report shows the final state only")
    ssd_all = -float(model.score(X))
    n_iter = int(getattr(model, "n_iter_", len(frames) - 1))
    if ssd is None:
        # No record: the final SSD alone, where its iteration's update step is drawn.
        objective_y = np.array([ssd_all])
        objective_x = np.array([n_iter + 0.5 if n_iter else 1.0])
        frames[0] = Frame(0, "label", 0, "final centres")
    else:
        objective_y = ssd.reshape(-1)
        objective_x = 1.0 + np.arange(objective_y.size) if per_step else ssd_positions(objective_y.size)
    sizes = np.bincount(labels_all, minlength=k)
    name = "mini-batch k-means" if per_step else "k-means"
    converged = None if history is None else bool(history.converged)
    status = "" if converged is None else (", converged" if converged else ", stopped before converging")
    unit = "steps" if per_step else "iterations"
    table = _centre_table("cluster", sizes, final_centres, common["feature_names"])
    criteria = {"name": ["samples", "SSD (inertia) of X"], "value": [float(points.shape[0]), ssd_all]}
    return ReportData(
        kind=kind, title=f"{name}, k = {k}, {n_iter} {unit}{status}",
        labels=labels, label_steps=label_steps, responsibilities=None, centres=centres,
        covariances=None, weights=None, frames=frames, objective_x=objective_x, objective_y=objective_y,
        objective_name="batch SSD" if per_step else "SSD",
        objective_axis="step" if per_step else "iteration (assignment at i, update at i + ½)",
        table=table, criteria=criteria, notes=notes, **common,
    )


def _centre_table(name: str, sizes: np.ndarray, centres: np.ndarray, feature_names: list[str],
                  weights: np.ndarray | None = None) -> dict[str, list[Any]]:
    total = max(int(sizes.sum()), 1)
    table: dict[str, list[Any]] = {
        name: list(range(len(sizes))),
        "size": [int(s) for s in sizes],
        "share": [float(s) / total for s in sizes],
    }
    if weights is not None:
        table["weight"] = [float(w) for w in weights]
    for j, feature in enumerate(feature_names[:MAX_FEATURE_AXES]):
        table[f"mean {feature}"] = [float(v) for v in centres[:, j]]
    return table


def _gmm_data(model: Any, X: Any, points: np.ndarray, common: dict) -> ReportData:
    from .gmm import mixture_parameters

    rows = common["rows"]
    k = common["n_components"]
    weights_final, means_final, covariances_final = mixture_parameters(model)
    responsibilities_all = np.asarray(model.predict_proba(X), dtype=np.float64)
    labels_all = np.argmax(responsibilities_all, axis=1).astype(np.int64)
    mean_log_likelihood, bic, aic = model.information_criteria(X)
    history = _history_of(model)
    notes = _sampling_note(rows.size, points.shape[0])
    recorded = (np.asarray(history.log_likelihood, dtype=np.float64)
                if history is not None and "log_likelihood" in history else np.empty(0))
    has_parameters = history is not None and all(name in history for name in ("weights", "means", "covariances"))
    if has_parameters:
        weights = np.asarray(history.weights, dtype=np.float64)
        centres = np.asarray(history.means, dtype=np.float64)
        covariances = np.asarray(history.covariances, dtype=np.float64)
    else:
        weights, centres, covariances = weights_final[None], means_final[None], covariances_final[None]
        notes.append("this fit kept no per-iteration parameters (fit with record_history=True to keep "
                     "them): the report shows the final state only")
    # The mean log-likelihood of the parameters after t iterations: recorded for
    # every t but the last, which is the fitted model's, computed here on all of X.
    objective_y = np.append(recorded, float(mean_log_likelihood))
    objective_x = np.arange(objective_y.size, dtype=np.float64)
    n_steps = centres.shape[0]
    if has_parameters:
        frames = [Frame(t, "label", t if t < objective_y.size else -1,
                        "initial parameters" if t == 0 else f"iteration {t}") for t in range(n_steps)]
    else:
        frames = [Frame(0, "label", objective_y.size - 1, "final parameters")]
    sizes = np.bincount(labels_all, minlength=k)
    converged = bool(getattr(model, "converged_", False))
    status = ", converged" if converged else ", stopped before converging"
    n_samples = points.shape[0]
    criteria = {
        "name": ["samples", "mean log-likelihood per sample", "log-likelihood", "BIC", "AIC"],
        "value": [float(n_samples), float(mean_log_likelihood), float(mean_log_likelihood) * n_samples,
                  float(bic), float(aic)],
    }
    covariance_type = getattr(model, "_fitted_covariance_type", getattr(model, "covariance_type", "full"))
    return ReportData(
        kind="gmm",
        title=f"Gaussian mixture, {k} components ({covariance_type} covariances), "
              f"{int(model.n_iter_)} iterations{status}",
        labels=labels_all[rows], label_steps={"label": labels_all[rows]},
        responsibilities=responsibilities_all[rows], centres=centres, covariances=covariances,
        weights=weights, frames=frames, objective_x=objective_x, objective_y=objective_y,
        objective_name="mean log-likelihood", objective_axis="iterations completed",
        table=_centre_table("component", sizes, means_final, common["feature_names"], weights_final),
        criteria=criteria, notes=notes, **common,
    )


def ellipse_outline(mean: np.ndarray, covariance: np.ndarray, n_std: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_std`` standard-deviation ellipse of a 2-D Gaussian as a closed polygon.

    Parameters
    ----------
    mean : array (2,)
    covariance : array (2, 2), symmetric positive semi-definite

    Returns
    -------
    xs, ys : arrays (ELLIPSE_POINTS,): the points x with (x - mean)ᵀ Σ⁻¹ (x - mean) = n_std²
    """
    a, b, c = float(covariance[0, 0]), float(covariance[0, 1]), float(covariance[1, 1])
    # Eigenvalues and the first eigenvector's angle of [[a, b], [b, c]] in closed form
    # (the same formula the page's script uses).
    half_trace, radius = 0.5 * (a + c), float(np.hypot(0.5 * (a - c), b))
    major, minor = np.sqrt(max(half_trace + radius, 0.0)), np.sqrt(max(half_trace - radius, 0.0))
    angle = 0.5 * np.arctan2(2.0 * b, a - c)
    t = np.linspace(0.0, 2.0 * np.pi, ELLIPSE_POINTS)
    u, v = n_std * major * np.cos(t), n_std * minor * np.sin(t)
    return (mean[0] + u * np.cos(angle) - v * np.sin(angle), mean[1] + u * np.sin(angle) + v * np.cos(angle))
