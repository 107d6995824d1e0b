"""Which mixture: a grid of numbers of components x covariance models, every cell
fitted and scored by BIC, ICL and AIC (:func:`select_mixture`).

Each cell is an ordinary fit of a Gaussian mixture (any of scikit-learn's four
covariance types or mclust's fourteen models), from several starts, keeping the
best; a cell that cannot be fitted (fewer points than the model needs, a
component that collapses) is NaN in every grid with its reason, and the
selection goes on. Criteria are in scikit-learn's sign, lower is better:

    BIC = -2 log L + p log n,   AIC = -2 log L + 2 p,
    ICL = BIC - 2 sum_i log max_k z_ik

with p the free parameters as mclust counts them and z the responsibilities of
the fitted model (ICL adds the entropy of the classification to BIC, as mclust
defines it; mclust reports all three with the opposite sign).
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings
from typing import Any, NamedTuple

import numpy as np

from .. import backends, exceptions
from .._typing import CRITERIA, MCLUST_MODELS
from .._validation import check_counts, check_data, check_int, check_random_state
from ..backends.threads import map_tasks, one_blas_thread
from ..kernels import gmm as gk
from ..kernels import gmm_loop as gl
from .em import RelativeStop

__all__ = ["MixtureSelection", "select_mixture", "criteria", "CRITERIA", "MCLUST_MODELS"]

# A fitted covariance whose smallest eigenvalue is below this fraction of its largest
# is singular to the precision of the data: the likelihood there says nothing
# about the model (it grows without bound as a component collapses onto a few points),
# so the cell fails, as mclust's does (its singularity tolerance is the same eps).
_SINGULAR = float(np.finfo(np.float64).eps)
# The hierarchical start clusters at most this many rows (a random subset of them
# beyond; mclust's default subset is as large).
HC_MAX_ROWS = 2000
# Starts whose log-likelihoods differ by more than this (relative) reached different optima.
_DISAGREE = 1e-6


class _Cell(NamedTuple):
    model: Any  # the best start's fitted model, or None
    log_likelihood: float
    bic: float
    icl: float
    aic: float
    n_parameters: int
    converged: bool
    n_iter: int
    spread: float  # max - min of the starts' log-likelihoods (0 for one start)
    reason: str | None


class MixtureSelection:
    """The result of :func:`select_mixture`: every cell of the grid, fitted and scored.

    Attributes
    ----------
    n_components : ndarray (r,) int, the rows
    covariance_types : tuple of str (c,), the columns
    criterion : str, the criterion ``best`` is chosen by ("bic", "icl" or "aic")
    bic, icl, aic : ndarray (r, c) float, lower is better; NaN where a cell failed
        (mclust's values are the negatives)
    log_likelihood : ndarray (r, c), the total log-likelihood log L of each fit
    n_parameters : ndarray (r, c) int, free parameters as mclust counts them
    converged : ndarray (r, c) bool
    n_iter : ndarray (r, c) int, EM iterations of the kept start
    spread : ndarray (r, c), max - min of the log-likelihoods of the cell's starts
    disagree : ndarray (r, c) bool, starts that reached different optima
    failures : dict (n_components, covariance_type) -> str, why a cell has no fit
    models : dict (n_components, covariance_type) -> the fitted model of every cell
    n_samples : float, n in the criteria (the total sample weight)
    """

    # Saved by kmix.save_model under this name, with every cell's model.
    _saved_as = "MixtureSelection"
    _GRIDS = ("log_likelihood", "bic", "icl", "aic", "n_parameters", "converged", "n_iter", "spread", "disagree")

    def __init__(self, n_components: np.ndarray, covariance_types: tuple[str, ...], criterion: str,
                 cells: dict[tuple[int, str], _Cell], n_samples: float) -> None:
        self.n_components = np.asarray(n_components, dtype=np.int64)
        self.covariance_types = tuple(covariance_types)
        self.criterion = criterion
        self.n_samples = float(n_samples)
        shape = (len(self.n_components), len(self.covariance_types))

        places = {(k, name): (self._row(k), self.covariance_types.index(name)) for k, name in cells}

        def grid(field: str, dtype: Any, empty: Any) -> np.ndarray:
            out = np.full(shape, empty, dtype=dtype)
            for key, cell in cells.items():
                out[places[key]] = getattr(cell, field)
            return out

        self.log_likelihood = grid("log_likelihood", np.float64, np.nan)
        self.bic = grid("bic", np.float64, np.nan)
        self.icl = grid("icl", np.float64, np.nan)
        self.aic = grid("aic", np.float64, np.nan)
        self.n_parameters = grid("n_parameters", np.int64, 0)
        self.converged = grid("converged", bool, False)
        self.n_iter = grid("n_iter", np.int64, 0)
        self.spread = grid("spread", np.float64, np.nan)
        self.disagree = self.spread > _DISAGREE * np.maximum(np.abs(self.log_likelihood), 1.0)
        self.failures = {key: cell.reason for key, cell in cells.items() if cell.reason is not None}
        self.models = {key: cell.model for key, cell in cells.items() if cell.model is not None}

    def _to_record(self, arrays: dict[str, np.ndarray], record: Any) -> dict[str, Any]:
        """The selection's metadata for a model file; its grids, and each cell's model
        (``record(model, prefix, arrays)``), go into ``arrays``."""
        arrays["selection/n_components"] = self.n_components
        for field in self._GRIDS:
            arrays[f"selection/{field}"] = getattr(self, field)
        cells = [{"n_components": int(k), "covariance_type": name, "model": record(model, f"cell{i}/", arrays)}
                 for i, ((k, name), model) in enumerate(self.models.items())]
        return {"covariance_types": list(self.covariance_types), "criterion": self.criterion,
                "n_samples": self.n_samples, "cells": cells,
                "failures": [[int(k), name, reason] for (k, name), reason in self.failures.items()]}

    @classmethod
    def _from_record(cls, record: dict[str, Any], arrays: dict[str, np.ndarray], load: Any) -> "MixtureSelection":
        """The selection a model file holds (``load(record, prefix)`` reads a cell's model)."""
        selection = cls.__new__(cls)
        selection.n_components = np.asarray(arrays["selection/n_components"], dtype=np.int64)
        selection.covariance_types = tuple(str(name) for name in record["covariance_types"])
        selection.criterion = _check_criterion(record["criterion"])
        selection.n_samples = float(record["n_samples"])
        shape = (len(selection.n_components), len(selection.covariance_types))
        for field in cls._GRIDS:
            grid = np.asarray(arrays[f"selection/{field}"])
            if grid.shape != shape:
                raise ValueError(f"the {field} grid has shape {grid.shape}, not {shape}")
            setattr(selection, field, grid)
        selection.failures = {(int(k), str(name)): str(reason) for k, name, reason in record["failures"]}
        selection.models = {(int(cell["n_components"]), str(cell["covariance_type"])): load(cell["model"], f"cell{i}/")
                            for i, cell in enumerate(record["cells"])}
        return selection

    def _row(self, n_components: int) -> int:
        return int(np.flatnonzero(self.n_components == n_components)[0])

    def grid(self, criterion: str | None = None) -> np.ndarray:
        """The (r, c) grid of ``criterion`` (default: the selection's)."""
        return getattr(self, _check_criterion(criterion or self.criterion))

    def ranking(self, criterion: str | None = None) -> list[tuple[int, str, float]]:
        """Every fitted cell as (n_components, covariance_type, value), best first; ties
        go to fewer components, then to the earlier model."""
        values = self.grid(criterion)
        cells = [(float(values[i, j]), i, j) for i in range(values.shape[0]) for j in range(values.shape[1])
                 if np.isfinite(values[i, j])]
        cells.sort()
        return [(int(self.n_components[i]), self.covariance_types[j], value) for value, i, j in cells]

    @property
    def best_params_(self) -> tuple[int, str]:
        """(n_components, covariance_type) of the best cell by the criterion."""
        ranking = self.ranking()
        if not ranking:
            raise exceptions.NumericalError(
                "no cell of the grid could be fitted: " + "; ".join(
                    f"{k} {name}: {reason}" for (k, name), reason in list(self.failures.items())[:3]))
        return ranking[0][0], ranking[0][1]

    @property
    def best_(self) -> Any:
        """The fitted model of the best cell."""
        return self.models[self.best_params_]

    def summary(self, top: int = 3, criterion: str | None = None) -> str:
        """The best ``top`` cells as a short text table, as mclust's summary prints them."""
        criterion = _check_criterion(criterion or self.criterion)
        ranking = self.ranking(criterion)[:top]
        name = criterion.upper()
        lines = [f"Best {name} values (lower is better; mclust's sign is the opposite):"]
        width = max([len(f"{t},{k}") for k, t, _ in ranking] + [6])
        lines.append("  " + "  ".join(f"{f'{t},{k}':>{width}}" for k, t, _ in ranking))
        lines.append("  " + "  ".join(f"{value:>{width}.6g}" for _, _, value in ranking))
        if len(ranking) > 1:
            best = ranking[0][2]
            lines.append("  " + "  ".join(f"{value - best:>{width}.6g}" for _, _, value in ranking)
                         + "   (difference from the best)")
        failed = len(self.failures)
        if failed:
            lines.append(f"{failed} of {self.bic.size} cells could not be fitted (see failures).")
        return "\n".join(lines)

    def __repr__(self) -> str:
        k, name = self.best_params_ if self.ranking() else (None, None)
        return (f"MixtureSelection({len(self.n_components)} x {len(self.covariance_types)} cells, "
                f"criterion={self.criterion!r}, best=({k}, {name!r}))")


def _check_criterion(criterion: str) -> str:
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(map(repr, CRITERIA))}; got {criterion!r}")
    return criterion


def _covariance_types(covariance_type: Any) -> tuple[str, ...]:
    if isinstance(covariance_type, str):
        if covariance_type == "all":
            return MCLUST_MODELS
        names = (covariance_type,)
    else:
        names = tuple(covariance_type)
    for name in names:
        if not isinstance(name, str) or name not in gk.COVARIANCE_NAMES:
            raise ValueError(
                f"covariance_type must be 'all', a name or a list of names from {', '.join(gk.COVARIANCE_NAMES)}; "
                f"got {name!r}")
    if not names or len(set(names)) != len(names):
        raise ValueError(f"covariance_type must name each model once; got {list(names)}")
    return names


def _singular(model: Any, scores: tuple[float, float, float] | None = None) -> bool:
    if scores is not None:  # the fit's least eigenvalue ratio
        return bool(scores[2] <= _SINGULAR)
    k, d = model.means_.shape
    covariances = gk.full_covariances(np.asarray(model.covariances_, dtype=np.float64),
                                      gk.layout_of(model.covariance_type), k, d)
    values = np.linalg.eigvalsh(covariances)
    return bool(np.any(values[:, 0] <= _SINGULAR * values[:, -1]))


def _hc_tree(X: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Rows and merges of model-based hierarchical clustering (unconstrained
    components, mclust's VVV criterion) on mclust's SVD transformation of X, as
    mclust's default starts are made; on a random subset of rows where X is large
    (the tree costs O(n²) memory)."""
    from ..kernels.hierarchical import hc_merges, hc_transform

    rows = np.arange(X.shape[0])
    if X.shape[0] > HC_MAX_ROWS:
        rows = np.sort(rng.choice(X.shape[0], size=HC_MAX_ROWS, replace=False))
    points = np.asarray(X[rows], dtype=np.float64)
    try:
        transformed = hc_transform(points, "SVD")
    except ValueError:  # dependent columns: the SVD scaling divides by a zero singular value
        transformed = hc_transform(points, "VARS")
    return rows, hc_merges(transformed, "VVV")


class _Start(NamedTuple):
    """A cell's start made here: its parameters, and the same as the estimator's
    ``*_init`` parameters (recorded in the fitted model)."""

    parameters: Any  # kmix.models.em.MixtureParameters
    init: dict[str, Any]


class _HierarchicalStarts:
    """Every cell's start from one hierarchical tree (one M-step of the cell's model on
    the one-hot responsibilities of the partition into k groups). The partitions
    are read from the merges once for every k, and the groups' statistics taken once
    per k and kind of second moments: the models of one kind start from the same
    statistics."""

    def __init__(self, X: np.ndarray, hc: tuple[np.ndarray, Any], n_components: list[int],
                 names: tuple[str, ...], make: Any) -> None:
        from ..kernels.hierarchical import hc_partition
        from .em import statistics_of_rows

        rows, merges = hc
        points = np.asarray(X[rows], dtype=np.float64)
        ones = np.ones(points.shape[0])
        reachable = [k for k in n_components if k <= min(merges.shape[0] + 1, points.shape[0])]
        labels = hc_partition(merges, len(rows), reachable) if reachable else None
        self._make = make
        # The compiled start takes per-component second moments (full, or diagonal for
        # the diagonal and spherical layouts); the interpreted one the model's layout.
        self._compiled = gl.loop_applies(points.shape[1], np.float64)
        self._statistics: dict[tuple[int, str], Any] = {}
        for column, k in enumerate(reachable):
            resp = np.eye(k)[labels[:, column]]
            for name in names:
                key = (k, self._kind(name))
                if key not in self._statistics:
                    self._statistics[key] = statistics_of_rows(points, ones, resp, key[1])

    def _kind(self, name: str) -> str:
        layout = gk.layout_of(name)
        if not self._compiled:
            return layout
        return "diag" if layout in ("diag", "spherical") else "full"

    def __call__(self, k: int, name: str) -> _Start:
        from .em import update_parameters

        stats = self._statistics.get((k, self._kind(name)))
        if stats is None:
            raise ValueError(f"the hierarchical clustering has fewer than {k} groups")
        start = update_parameters(stats, name, 0.0, np.float64, None, compiled=self._compiled)
        precisions = self._make._precisions(start.precisions_cholesky, gk.layout_of(name))
        return _Start(start, dict(weights_init=start.weights, means_init=start.means, precisions_init=precisions))


def _fit_cell(make: Any, X: Any, sample_weight: Any, k: int, name: str, starts: list[Any],
              settings: dict[str, Any], n_samples: float, data: Any = None) -> _Cell:
    best, best_scores = None, None
    values = []
    reason = None
    for start in starts:
        try:
            given = start() if callable(start) else start
            stop = RelativeStop(settings["tol"], n_samples)
            # A start made here, on data already wrapped: EM from it on that data object
            # (the same fit as model.fit with the start as *_init, without checking X and
            # the start again for every cell).
            direct = isinstance(given, _Start) and data is not None and hasattr(make, "_fit_from")
            init = given.init if isinstance(given, _Start) else given
            model = make(n_components=k, covariance_type=name, n_init=1, callback=stop,
                         **({} if direct else init), **dict(settings, tol=0.0))
            scores = None
            if direct:
                scores = model._fit_from(data, given.parameters)
                for key, value in init.items():  # the start, as fit would have recorded it
                    setattr(model, key, value)
            else:
                model.fit(X, sample_weight=sample_weight)
        except ValueError as exc:  # too few points, a collapsed component
            reason = str(exc)
            continue
        if _singular(model, scores):
            reason = "a component collapsed: its covariance is singular to the data's precision"
            continue
        values.append(model.lower_bound_)
        if best is None or model.lower_bound_ > best.lower_bound_:
            best, best_scores = model, scores
    if best is None:
        return _Cell(None, math.nan, math.nan, math.nan, math.nan, 0, False, 0, math.nan, reason)
    log_likelihood, bic, icl, aic, p = criteria(best, X, sample_weight, best_scores)
    spread = float(max(values) - min(values)) * n_samples if len(values) > 1 else 0.0
    converged = bool(best.converged_ or best.history_.stopped_by_callback)  # stopped by mclust's rule
    return _Cell(best, log_likelihood, bic, icl, aic, p, converged, int(best.n_iter_), spread, None)


def criteria(model: Any, X: Any, sample_weight: Any = None,
             scores: tuple[float, ...] | None = None) -> tuple[float, float, float, float, int]:
    """(log L, BIC, ICL, AIC, p) of a fitted mixture on X, lower is better for the
    three criteria (see the module's formulas); n is the total sample weight.
    ``scores``: Σ w log p(x) and Σ w log max_k z_k of the model on X where its fit
    gave them (:func:`kmix.models.em.em`), instead of a pass over X here."""
    if sample_weight is None:
        n_samples = float(X.shape[0])
    else:
        n_samples = float(np.sum(np.asarray(sample_weight, dtype=np.float64)))
    if scores is not None:
        log_likelihood, entropy = scores[:2]
    else:
        if isinstance(X, np.ndarray):
            # One E-step gives both the densities and the responsibilities.
            log_density, resp = gk.log_prob_resp(model.weighted_log_prob(X).astype(np.float64))
        else:
            log_density = np.asarray(model.score_samples(X), dtype=np.float64)
            resp = np.asarray(model.predict_proba(X), dtype=np.float64)
        weight = (np.ones(log_density.shape[0]) if sample_weight is None
                  else np.asarray(sample_weight, np.float64))
        log_likelihood = float(weight @ log_density)
        # The classification's entropy: the log of each point's largest responsibility
        # (a zero responsibility, log 0, counts as 0 as in mclust: it is never the largest).
        with np.errstate(divide="ignore"):
            entropy = float(weight @ np.log(resp.max(axis=1)))
    p = int(model._n_parameters())
    bic = -2.0 * log_likelihood + p * math.log(n_samples)
    return log_likelihood, bic, bic - 2.0 * entropy, -2.0 * log_likelihood + 2.0 * p, p


def select_mixture(
    X: Any,
    n_components: Any = range(1, 10),
    covariance_type: Any = "all",
    criterion: str = "bic",
    *,
    n_init: int = 1,
    init_params: str = "hc",
    reg_covar: float = 0.0,
    tol: float = 1e-5,
    max_iter: int = 1000,
    random_state: Any = None,
    sample_weight: Any = None,
    client: Any = None,
    model_class: Any = None,
) -> MixtureSelection:
    """Fit a Gaussian mixture for every number of components and covariance model,
    and score each by BIC, ICL and AIC.

    Parameters
    ----------
    X : array-like or dask array (n_samples, n_features)
    n_components : iterable of int, default range(1, 10)
        The rows of the grid.
    covariance_type : "all", a name or a list of names, default "all"
        The columns: "all" is mclust's fourteen models (EII ... VVV); any of
        scikit-learn's four names may be given too.
    criterion : {"bic", "icl", "aic"}, default "bic"
        What ``best_`` is chosen by (the three grids are filled either way).
    n_init : int, default 1
        Starts per cell; the cell keeps the one with the highest likelihood and
        records how far the starts were apart (``spread``, ``disagree``). More
        starts can only improve a cell, at their cost.
    init_params : str, default "hc"
        "hc": the first start of every cell is the partition of one model-based
        agglomerative hierarchical clustering (mclust's VVV criterion on its SVD
        transformation of X: mclust's own default start, merge for merge; on a
        random subset of 2,000 rows beyond that; in-memory X), cut into each number
        of components; the other starts are k-means runs from their own seeds. Any of
        GaussianMixture's ``init_params`` draws every start that way.
    reg_covar : float, default 0.0
        As in GaussianMixture. With the default none is added, as in mclust: a
        cell whose component collapses fails instead of scoring a likelihood that
        only the regularisation bounds.
    tol : float, default 1e-5
        A run stops as mclust's EM does: after an iteration that changed the
        total log-likelihood l by at most tol (1 + |l|).
    max_iter : as in GaussianMixture.
    random_state : int, Generator, RandomState or None
        Seeds every start of every cell (the same grid for the same seed).
    sample_weight : array-like (n_samples,), optional
        n in the criteria is then the total weight.
    client : dask.distributed Client, optional
        For a dask array X (see GaussianMixture).
    model_class : class, optional
        The estimator each cell is (default :class:`kmix.GaussianMixture`).

    Returns
    -------
    MixtureSelection
    """
    if model_class is None:
        from ..estimators import GaussianMixture as model_class
    X = check_data(X, finite=False)
    rows = check_counts(n_components, "n_components", "range(1, 10)")
    names = _covariance_types(covariance_type)
    criterion = _check_criterion(criterion)
    n_init = check_int(n_init, "n_init", minimum=1)
    n_samples = float(X.shape[0] if sample_weight is None else np.sum(np.asarray(sample_weight, np.float64)))
    rng = check_random_state(random_state)
    hierarchical = init_params == "hc"
    if hierarchical and not isinstance(X, np.ndarray):
        raise ValueError("init_params='hc' needs X in memory; for a dask array use init_params='kmeans'")
    settings = dict(reg_covar=reg_covar, tol=tol, max_iter=max_iter, record_history=False)
    if client is not None:
        settings["client"] = client
    with contextlib.ExitStack() as stack:
        if hierarchical:
            # Every pass and small product of the grid runs on kmix's threads: BLAS
            # held to one thread once for the whole grid rather than once per pass.
            stack.enter_context(one_blas_thread())
        hc = _hc_tree(X, rng) if hierarchical else None
        # One data object for every cell fitted from a start made here (in memory).
        data = stack.enter_context(backends.wrap(X, sample_weight, compiled=True)) if hierarchical else None
        cells = _fit_cells(model_class, X, sample_weight, rows, names, n_init, rng, hc, settings, n_samples,
                           init_params, data)
    return MixtureSelection(rows, names, criterion, cells, n_samples)


def _fit_cells(model_class: Any, X: Any, sample_weight: Any, rows: np.ndarray, names: tuple[str, ...],
               n_init: int, rng: np.random.Generator, hc: Any, settings: dict[str, Any], n_samples: float,
               init_params: str, data: Any) -> dict[tuple[int, str], _Cell]:
    hierarchical = hc is not None
    starts_from_tree = _HierarchicalStarts(X, hc, rows.tolist(), names, model_class) if hierarchical else None
    cells: dict[tuple[int, str], _Cell] = {}
    tasks = []
    for k in rows.tolist():
        for name in names:
            seeds = [int(seed) for seed in rng.integers(0, 2**31 - 1, size=n_init)]
            if k > X.shape[0]:
                cells[(k, name)] = _Cell(None, math.nan, math.nan, math.nan, math.nan, 0, False, 0, math.nan,
                                         f"{k} components need at least {k} samples; X has {X.shape[0]}")
                continue
            drawn = [dict(random_state=seed, init_params="kmeans" if hierarchical else init_params)
                     for seed in seeds]
            starts = ([functools.partial(starts_from_tree, k, name)] + drawn[1:] if hierarchical else drawn)
            tasks.append((k, name, starts))

    def fit(task: tuple[int, str, list[Any]]) -> _Cell:
        k, name, starts = task
        return _fit_cell(model_class, X, sample_weight, k, name, starts, settings, n_samples, data)

    # Cells whose every run is one compiled loop on this thread's share of the cores
    # run side by side (the loop releases the GIL); the cells with most components,
    # the longest, first. Each cell's fit is the same whichever thread runs it.
    side_by_side = (data is not None and data.dense_block and n_init == 1
                    and gl.loop_applies(data.n_features, data.dtype) and gl.on_calling_thread(data.n_samples))
    if side_by_side:
        tasks.sort(key=lambda task: -task[0])
    with warnings.catch_warnings():
        # Recorded in ``converged`` instead; matched by its words, so that the
        # class (made on scikit-learn's) is not loaded for nothing.
        warnings.filterwarnings("ignore", message="Best performing initialization did not converge")
        fitted = map_tasks(fit, tasks, None if side_by_side else 1)
    for (k, name, _), cell in zip(tasks, fitted):
        cells[(k, name)] = cell
    return {(k, name): cells[(k, name)] for k in rows.tolist() for name in names}
