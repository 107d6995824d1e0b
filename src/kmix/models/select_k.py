"""How many clusters for k-means: one sweep over k, every criterion (:func:`select_k`).

For each k, ``n_init`` k-means runs (each from its own seed); every run is scored
by each criterion, and a criterion's value at k is the mean over the runs (its
spread, their standard deviation). The criteria reach the data through the data
protocol, so the sufficient-statistic ones run on dask too:

- "ssd": the within-cluster sum of squares (the runs' inertia); chosen by the
  knee of the curve (:func:`kmix.kernels.cluster_indices.knee`);
- "calinski_harabasz" (largest is best) and "davies_bouldin" (smallest is best):
  from per-cluster moments, two passes (the means, then the distances to them);
- "silhouette" (largest is best): exact for up to ``silhouette_sample`` rows in
  memory; above that, or on dask, the silhouette of a uniform sample of that many
  rows measured among themselves, as scikit-learn's ``sample_size`` does (its
  standard error is kept);
- "gap" (Tibshirani, Walther and Hastie 2001): log W_k of the data against
  ``gap_references`` uniform reference sets in the data's bounding box (or its
  principal-axes box), chosen by the one-standard-error rule.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backends
from ..backends.threads import map_tasks, one_blas_thread
from .._validation import check_counts, check_data, check_int, check_random_state, is_dask_array
from ..kernels import cluster_indices as ci
from ..kernels import kmeans as kk

__all__ = ["KSelection", "select_k", "K_CRITERIA"]

K_CRITERIA = ("ssd", "calinski_harabasz", "davies_bouldin", "silhouette", "gap")
# k = 1 is defined for these only.
_AT_ONE = ("ssd", "gap")
# Largest rows measured for an exact silhouette in memory.
SILHOUETTE_EXACT_MAX = 10_000
# Reference sets of the gap statistic are as large as the data up to this many rows
# (W of a uniform set grows in proportion to its rows, which log W then corrects for:
# a larger set would only cost more fits).
GAP_REFERENCE_MAX = 20_000


class KSelection:
    """The result of :func:`select_k`.

    Attributes
    ----------
    k : ndarray (m,) int, the numbers of clusters tried, in order
    criteria : tuple of str
    values : dict criterion -> ndarray (m,), the mean over the runs (NaN where a
        criterion is not defined, as silhouette at k = 1)
    spread : dict criterion -> ndarray (m,), the standard deviation over the runs
    choice : dict criterion -> int, each criterion's k
    gap_standard_error : ndarray (m,) or None, s_k of the gap statistic
    silhouette_sample : int, the rows whose silhouette was measured (all of them
        when exact); ``silhouette_standard_error`` (m,) their standard error
    models : list, the fitted model of every k (the run with the least SSD), in
        the order of ``k``
    """

    def __init__(self, k: np.ndarray, criteria: tuple[str, ...], values: dict, spread: dict, choice: dict,
                 models: list, gap_standard_error: np.ndarray | None, silhouette_sample: int,
                 silhouette_standard_error: np.ndarray | None) -> None:
        self.k = k
        self.criteria = criteria
        self.values = values
        self.spread = spread
        self.choice = choice
        self.models = models
        self.gap_standard_error = gap_standard_error
        self.silhouette_sample = silhouette_sample
        self.silhouette_standard_error = silhouette_standard_error

    def summary(self) -> str:
        """A table of every criterion against k, and each criterion's choice."""
        width = max(len(name) for name in self.criteria) + 2
        lines = ["k".rjust(4) + "".join(name.rjust(max(width, 14)) for name in self.criteria)]
        for i, k in enumerate(self.k):
            lines.append(f"{int(k):>4}" + "".join(f"{self.values[name][i]:>{max(width, 14)}.6g}"
                                                  for name in self.criteria))
        lines.append("choice" + "".join(f"{self.choice[name]:>{max(width, 14) - (6 if j == 0 else 0)}}"
                                        for j, name in enumerate(self.criteria)))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"KSelection(k={self.k.tolist()}, choice={self.choice})"


def _moments(data: Any, centers: np.ndarray, about: np.ndarray) -> ci.ClusterMoments:
    """Per-cluster moments of the rows labelled by their nearest of ``centers``,
    taken about ``about`` (k, d) (both in the original frame)."""
    from ..kernels.kmeans_passes import predict_block

    k, d = centers.shape
    offset = np.asarray(data.offset, dtype=np.float64)
    labelling, shifted = centers - offset, about - offset

    def kernel(block: Any) -> ci.ClusterMoments:
        if block.X.shape[0] == 0:
            return ci.empty_cluster_moments(k, d)
        labels = predict_block(block, np.zeros(d), labelling.astype(block.X.dtype))
        return ci.cluster_moments(np.asarray(block.X, dtype=np.float64), np.asarray(block.sample_weight, np.float64),
                                  labels, shifted)

    return data.reduce(kernel, merge=ci.merge_cluster_moments, block_rows=kk.block_rows(k, d))


def _indices(data: Any, centers: np.ndarray) -> tuple[float, float]:
    """Calinski–Harabasz and Davies–Bouldin of the rows labelled by their nearest
    centre: one pass for the clusters' means, one for the distances to them."""
    offset = np.asarray(data.offset, dtype=np.float64)
    first = _moments(data, centers, centers)
    means = ci.cluster_means(first, centers - offset) + offset
    second = _moments(data, centers, means)
    return ci.calinski_harabasz(second, means - offset), ci.davies_bouldin(second, means - offset)


def select_k(
    X: Any,
    k: Any = range(2, 13),
    criteria: Any = K_CRITERIA,
    *,
    n_init: int = 3,
    random_state: Any = None,
    sample_weight: Any = None,
    silhouette_sample: int = SILHOUETTE_EXACT_MAX,
    gap_references: int = 10,
    gap_reference: str = "box",
    start: str = "k-means++",
    max_iter: int = 300,
    tol: float = 1e-4,
    client: Any = None,
    model_class: Any = None,
) -> KSelection:
    """Fit k-means for every k and score each by several criteria.

    Parameters
    ----------
    X : array-like or dask array (n_samples, n_features), dense
    k : iterable of int, default range(2, 13); k = 1 only with "ssd" and "gap"
    criteria : names from ("ssd", "calinski_harabasz", "davies_bouldin",
        "silhouette", "gap")
    n_init : int, default 3
        Runs per k, each from its own k-means++ (k-means|| on dask) seed.
    random_state : seeds every run and every sample
    sample_weight : weights of the k-means runs and of "ssd",
        "calinski_harabasz" and "davies_bouldin" (silhouette and gap ignore them,
        as scikit-learn's silhouette does)
    silhouette_sample : int
        In memory, the silhouette is exact up to this many rows; above it (and on
        dask) it is that of this many rows drawn uniformly, among themselves.
    gap_references : int, the reference sets B of the gap statistic (each as many
        rows as X, at most 20,000; each clustered by one k-means run per k)
    gap_reference : {"box", "pca"}: uniform in the data's bounding box, or in
        the box of its principal axes
    start : {"k-means++", "split"}, default "k-means++"
        How each k's first run starts: its own seeding, or (in memory, for
        consecutive k) the previous k's best centres with its cluster of largest
        SSD split in two along its principal axis, at ± one standard deviation
        (the other runs draw their own seeds either way).
    max_iter, tol : of each k-means run
    client : dask.distributed Client, optional
    model_class : the estimator of each run (default :class:`kmix.KMeans`)

    Returns
    -------
    KSelection
    """
    if model_class is None:
        from ..estimators import KMeans as model_class
    X = check_data(X, finite=False)
    ks = check_counts(k, "k", "range(2, 13)")
    names = (criteria,) if isinstance(criteria, str) else tuple(criteria)
    for name in names:
        if name not in K_CRITERIA:
            raise ValueError(f"criteria must be names from {', '.join(K_CRITERIA)}; got {name!r}")
    if 1 in ks.tolist() and not set(names) <= set(_AT_ONE):
        raise ValueError("k = 1 is defined for 'ssd' and 'gap' only; start k at 2 for the other criteria")
    n_init = check_int(n_init, "n_init", minimum=1)
    if gap_reference not in ("box", "pca"):
        raise ValueError(f"gap_reference must be 'box' or 'pca'; got {gap_reference!r}")
    if start not in ("k-means++", "split"):
        raise ValueError(f"start must be 'k-means++' or 'split'; got {start!r}")
    if start == "split" and is_dask_array(X):
        raise ValueError("start='split' needs X in memory (it reads the rows of the cluster it splits); "
                         "use start='k-means++' for a dask array")
    rng = check_random_state(random_state)
    extra = {} if client is None else {"client": client}
    runs: list[list[Any]] = []
    previous = None
    for value in ks.tolist():
        if value > X.shape[0]:
            raise ValueError(f"k={value} needs at least {value} samples; X has {X.shape[0]}")
        seeds = rng.integers(0, 2**31 - 1, size=n_init)
        models = []
        for r, seed in enumerate(seeds):
            init: Any = "auto"
            if start == "split" and r == 0 and previous is not None and previous.n_clusters == value - 1:
                init = _split_largest(np.asarray(X, dtype=np.float64), previous, sample_weight)
            models.append(model_class(n_clusters=value, init=init, n_init=1, random_state=int(seed),
                                      max_iter=max_iter, tol=tol, record_history=False,
                                      **extra).fit(X, sample_weight=sample_weight))
        runs.append(models)
        previous = min(models, key=lambda model: model.inertia_)
    per_run = {name: np.full((len(ks), n_init), np.nan) for name in names}
    silhouette_rows = 0
    silhouette_error = None
    with backends.wrap(X, sample_weight, client=client) as data:
        if "silhouette" in names:
            silhouette_error = np.full(len(ks), np.nan)
            exact = not is_dask_array(X) and X.shape[0] <= silhouette_sample
            rows = (np.arange(X.shape[0]) if exact
                    else np.sort(rng.choice(X.shape[0], size=min(silhouette_sample, X.shape[0]), replace=False)))
            sample = np.asarray(X if exact else X[rows], dtype=np.float64)
            silhouette_rows = len(rows)
        labelings: dict[tuple[int, int], np.ndarray] = {}
        for i, models in enumerate(runs):
            for r, model in enumerate(models):
                centers = np.asarray(model.cluster_centers_, dtype=np.float64)
                if "ssd" in names:
                    per_run["ssd"][i, r] = model.inertia_
                if ("calinski_harabasz" in names or "davies_bouldin" in names) and centers.shape[0] > 1:
                    ch, db = _indices(data, centers)
                    if "calinski_harabasz" in names:
                        per_run["calinski_harabasz"][i, r] = ch
                    if "davies_bouldin" in names:
                        per_run["davies_bouldin"][i, r] = db
                if "silhouette" in names and centers.shape[0] > 1:
                    # The rows (or the sample) labelled by their nearest centre, as the
                    # fit labels them, and measured among themselves below.
                    labelings[(i, r)] = kk.nearest_centers(sample, centers)[0]
        if labelings:
            # Every labeling of the one sample at once: its distances are computed once.
            all_values = ci.silhouette_samples_many(sample, list(labelings.values()))
            for (i, r), values in zip(labelings, all_values):
                per_run["silhouette"][i, r] = values.mean()
                if not exact and r == 0:
                    silhouette_error[i] = values.std() / math.sqrt(len(values))
    gap_error = None
    if "gap" in names:
        log_w = np.log([min(model.inertia_ for model in models) for models in runs])
        references = _gap_references(X, ks, gap_references, gap_reference, rng, model_class, max_iter, tol)
        gap, gap_error = ci.gap_from_log_w(log_w, references)
        per_run["gap"][:] = gap[:, None]
    values = {name: np.nanmean(per_run[name], axis=1) if np.isfinite(per_run[name]).any() else
              per_run[name][:, 0] for name in names}
    spread = {name: np.nanstd(per_run[name], axis=1) if n_init > 1 else np.zeros(len(ks)) for name in names}
    choice = {}
    for name in names:
        finite = np.isfinite(values[name])
        if not finite.any():
            continue
        if name == "ssd":
            choice[name] = int(ci.knee(ks[finite], values[name][finite]))
        elif name == "gap":
            choice[name] = int(ci.one_standard_error_choice(ks, values["gap"], gap_error))
        elif name == "davies_bouldin":
            choice[name] = int(ks[finite][np.argmin(values[name][finite])])
        else:
            choice[name] = int(ks[finite][np.argmax(values[name][finite])])
    best = [min(models, key=lambda model: model.inertia_) for models in runs]
    return KSelection(ks.astype(np.int64), names, values, spread, choice, best, gap_error, silhouette_rows,
                      silhouette_error)


def _split_largest(X: np.ndarray, model: Any, sample_weight: Any) -> Any:
    """k + 1 starting centres from a fitted k: the cluster of largest weighted SSD
    replaced by two centres at ± one standard deviation along its principal axis;
    "auto" (the run's own seeding) where that cluster cannot be split."""
    centers = np.asarray(model.cluster_centers_, dtype=np.float64)
    labels = np.asarray(model.labels_)
    weight = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    offsets = X - centers[labels]
    ssd = np.bincount(labels, weights=weight * np.einsum("ij,ij->i", offsets, offsets), minlength=len(centers))
    j = int(np.argmax(ssd))
    mine = labels == j
    if np.count_nonzero(mine) < 2 or ssd[j] <= 0:
        return "auto"
    members, w = offsets[mine], weight[mine]
    values, vectors = np.linalg.eigh((members * w[:, None]).T @ members / w.sum())
    step = math.sqrt(max(values[-1], 0.0)) * vectors[:, -1]
    return np.vstack([np.delete(centers, j, axis=0), centers[j] - step, centers[j] + step])


def _gap_references(X: Any, ks: np.ndarray, n_references: int, method: str, rng: np.random.Generator,
                    model_class: Any, max_iter: int, tol: float) -> np.ndarray:
    """log W_k of each reference set (B, m): uniform draws as large as the data (at
    most GAP_REFERENCE_MAX rows, log W then moved by log(n / rows), since W grows
    with the rows), each clustered by one k-means run for every k."""
    n = X.shape[0]
    if is_dask_array(X):
        # The box from a uniform sample of rows: the data's range, up to what the sample saw.
        rows = np.sort(rng.choice(n, size=min(n, GAP_REFERENCE_MAX), replace=False))
        points = np.asarray(X[rows], dtype=np.float64)
    else:
        points = np.asarray(X, dtype=np.float64)
    box = ci.reference_box(points, method)
    size = min(n, GAP_REFERENCE_MAX)
    # Every draw first, in the order of one set after the other (its rows, then a seed
    # per k), so that the sets' fits can run side by side with the same results.
    draws = [(ci.draw_reference(box, size, rng), [int(rng.integers(2**31 - 1)) for _ in ks])
             for _ in range(n_references)]

    def log_w(draw: tuple[np.ndarray, list[int]]) -> list[float]:
        reference, seeds = draw
        return [math.log(model_class(n_clusters=value, n_init=1, random_state=seed, max_iter=max_iter,
                                     tol=tol, record_history=False).fit(reference).inertia_) + math.log(n / size)
                for value, seed in zip(ks.tolist(), seeds)]

    with one_blas_thread():
        return np.array(map_tasks(log_w, draws))
