"""EM for Gaussian mixtures: the iteration loop and its passes over the data.

One pass per iteration computes the E-step and the M-step's sufficient statistics,
merged over the data: over row blocks of an in-memory array (on all cores), or chunk
by chunk on a dask cluster, with the same kernels (:mod:`kmix.kernels.gmm`). The
estimator, :class:`kmix.models.gaussian_mixture.GaussianMixture`, drives it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ..backends._threads import one_blas_thread, reduce_blocks
from ..exceptions import NumericalError
from ..kernels import gmm as gk
from ..kernels import gmm_passes as gp
from ..kernels import kmeans as kk
from ..kernels import kmeans_parallel as kp
from .history import History

__all__ = [
    "GaussianMixtureState",
    "MixtureParameters",
    "EMResult",
    "em",
    "statistics_pass",
    "statistics_from_resp",
    "dask_pass",
    "dask_statistics_from_resp",
    "update_parameters",
    "weighted_log_prob",
    "predict_chunk",
    "proba_chunk",
    "score_samples_chunk",
    "log_of_weights",
]

class GaussianMixtureState(NamedTuple):
    """What ``callback(iteration, state)`` receives after each EM iteration."""

    iteration: int  # 1-based count of completed iterations
    weights: np.ndarray  # (k,) after the M-step
    means: np.ndarray  # (k, d) after the M-step
    covariances: np.ndarray  # after the M-step, in the layout of covariance_type
    log_likelihood: float  # mean log-likelihood of the parameters the iteration started from
    change: float  # log_likelihood minus that of the previous iteration (inf at first)


class MixtureParameters(NamedTuple):
    """One set of mixture parameters, covariances in the layout of their type."""

    weights: np.ndarray  # (k,)
    means: np.ndarray  # (k, d)
    covariances: np.ndarray  # (k, d, d) | (d, d) | (k, d) | (k,)
    precisions_cholesky: np.ndarray  # same layout


class EMResult(NamedTuple):
    parameters: MixtureParameters
    lower_bound: float
    n_iter: int
    converged: bool
    history: History


_HISTORY_FIELDS = {
    "log_likelihood": (
        "mean log-likelihood per unit of sample weight of the parameters after t iterations "
        "(t = 0: the initial ones), computed in the E-step of iteration t + 1 (n_iter,)"
    ),
    "weights": "mixture weights: the initial ones, then after every M-step (n_iter + 1, k)",
    "means": "means: the initial ones, then after every M-step (n_iter + 1, k, d)",
    "covariances": (
        "covariances as full matrices whatever covariance_type: the initial ones, then after "
        "every M-step (n_iter + 1, k, d, d)"
    ),
}


def _full(parameters: MixtureParameters, covariance_type: str) -> np.ndarray:
    k, d = parameters.means.shape
    return gk.full_covariances(parameters.covariances, covariance_type, k, d)


# --- passes over the data (in memory, in row blocks) ----------------------------------


def _blocks(X: np.ndarray, n_components: int, step: int | None = None):
    if step is None:
        step = gk.block_rows(n_components, X.shape[1], X.dtype.itemsize)
    for start in range(0, X.shape[0], step):
        yield slice(start, min(start + step, X.shape[0]))


def log_of_weights(weights: np.ndarray) -> np.ndarray:
    # A user may give a zero initial weight: log 0 = -inf is the right value.
    with np.errstate(divide="ignore"):
        return np.log(weights)


def statistics_pass(
    X: np.ndarray,
    sample_weight: np.ndarray,
    parameters: MixtureParameters,
    covariance_type: str,
    *,
    parallel: bool = True,
) -> gk.GMMStats:
    """E-step and sufficient statistics over X in row blocks, merged.

    Moments are taken about the current means, so the M-step's subtraction is of
    small numbers (see :func:`kmix.kernels.gmm.estimate_parameters`). With
    ``parallel`` the blocks run on all cores (a dask worker passes False: it has
    one thread); the result is the same either way, bit for bit.
    """
    return _blocks_pass(
        X, sample_weight, parameters.means, parameters.precisions_cholesky,
        log_of_weights(parameters.weights), parameters.means.astype(np.float64), covariance_type,
        parallel=parallel,
    )


def _blocks_pass(
    X: np.ndarray,
    sample_weight: np.ndarray,
    means: np.ndarray,
    precisions_cholesky: np.ndarray,
    log_weights: np.ndarray,
    shift: np.ndarray,
    covariance_type: str,
    *,
    parallel: bool = True,
) -> gk.GMMStats:
    """The statistics pass with its arguments spelled out (what a dask chunk receives)."""
    k = means.shape[0]
    if X.shape[0] > 0 and gp.compiled_applies(X, covariance_type) and np.array_equal(shift, means):
        # Few features: E-step and statistics in one compiled loop over row tiles.
        return gp.compiled_statistics(X, sample_weight, means, precisions_cholesky, log_weights,
                                      covariance_type, parallel=parallel)
    if X.shape[0] == 0:  # a chunk without rows: statistics that merge as zero
        return gk.block_statistics(
            X, sample_weight, np.empty((0, k), dtype=X.dtype), shift, covariance_type, np.empty(0)
        )

    if gp.full_triangle_applies(X, covariance_type) and np.array_equal(shift, means):
        # Many features, full covariances: E-step and statistics through the rows'
        # outer products; raw moments merged, turned into statistics once.
        terms = gp.full_pass_terms(means, precisions_cholesky, log_weights)
        unit_weight = bool(np.all(sample_weight == 1.0))

        def moments(rows: slice) -> gp.FullMoments:
            return gp.full_block_moments(X[rows], sample_weight[rows], terms, unit_weight)

        blocks = _blocks(X, k, gp.full_block_rows(X.shape[1]))
        if parallel:
            merged = reduce_blocks(moments, blocks, gp.merge_full_moments)
        else:
            merged = functools.reduce(gp.merge_full_moments, map(moments, blocks))
        return gp.full_statistics(merged, terms)

    def block(rows: slice) -> gk.GMMStats:
        log_norm, resp = gk.e_step(X[rows], means, precisions_cholesky, log_weights, covariance_type)
        return gk.block_statistics(X[rows], sample_weight[rows], resp, shift, covariance_type, log_norm)

    if not parallel:
        return functools.reduce(gk.merge_statistics, map(block, _blocks(X, k)))
    # Blocks run on all cores and merge in block order: the same result as a
    # serial loop, whatever the number of threads.
    return reduce_blocks(block, _blocks(X, k), gk.merge_statistics)


def statistics_from_resp(
    X: np.ndarray, sample_weight: np.ndarray, resp: np.ndarray, covariance_type: str
) -> gk.GMMStats:
    """Statistics of given responsibilities, about their own weighted means.

    Two passes: the first gives the means (moments about 0 are exact for them),
    the second takes the second moments about those means, so the initial
    covariances carry no cancellation error at all.
    """
    k = resp.shape[1]
    d = X.shape[1]
    origin = np.zeros((k, d))
    # The first pass needs only N_k and the sums; "diag" is the cheapest layout
    # for the second moments it carries along unused.
    first = None
    for rows in _blocks(X, k):
        block = gk.block_statistics(X[rows], sample_weight[rows], resp[rows], origin, "diag")
        first = block if first is None else gk.merge_statistics(first, block)
    assert first is not None
    _, means, _ = gk.estimate_parameters(first, "diag", 0.0)
    stats = None
    for rows in _blocks(X, k):
        block = gk.block_statistics(X[rows], sample_weight[rows], resp[rows], means, covariance_type)
        stats = block if stats is None else gk.merge_statistics(stats, block)
    assert stats is not None
    return stats


def _in_memory_pass(X: np.ndarray, sample_weight: np.ndarray, parameters: MixtureParameters, *,
                    covariance_type: str) -> gk.GMMStats:
    return statistics_pass(X, sample_weight, parameters, covariance_type)


def update_parameters(stats: gk.GMMStats, covariance_type: str, reg_covar: float, dtype,
                      iteration: int | None) -> MixtureParameters:
    try:
        return MixtureParameters(*gk.update(stats, covariance_type, reg_covar, dtype))
    except NumericalError as exc:
        where = "initialisation" if iteration is None else f"EM iteration {iteration}"
        raise NumericalError(f"{where}: {exc} (reg_covar={reg_covar:g})") from None


def em(
    X: Any,
    sample_weight: np.ndarray | None,
    start: MixtureParameters,
    *,
    covariance_type: str,
    reg_covar: float,
    max_iter: int,
    tol: float,
    lower_bound: float = -np.inf,
    record_parameters: bool = True,
    callback: Callable[[int, GaussianMixtureState], Any] | None = None,
    pass_statistics: Callable[[MixtureParameters], gk.GMMStats] | None = None,
) -> EMResult:
    """EM iterations from ``start`` on validated X.

    Iteration t: E-step with the current parameters, whose mean log-likelihood
    L_t is computed on the way; M-step. Stops when |L_t - L_{t-1}| < tol (L_0 is
    ``lower_bound``), at ``max_iter``, or when the callback returns True. The
    returned ``lower_bound`` is the last L_t: the log-likelihood of the
    parameters before the last M-step, as in scikit-learn.

    ``pass_statistics(parameters)`` is the E-step and statistics of one
    iteration, merged over the data: None for an in-memory X
    (:func:`statistics_pass`); the dask backend passes its chunked pass (X is
    then anything with a ``dtype``).
    """
    # In memory, BLAS keeps to one thread while a pass and the M-step run: the
    # passes run on kmix's own threads, and after a product on two threads an
    # OpenBLAS worker keeps spinning for a while, taking a core from them (a pass
    # at 64 features took about 1.5x as long right after the M-step's small
    # products had run on two threads).
    in_memory = pass_statistics is None
    if pass_statistics is None:
        pass_statistics = functools.partial(
            _in_memory_pass, X, sample_weight, covariance_type=covariance_type
        )
    history = History(_HISTORY_FIELDS)
    parameters = start
    if record_parameters:
        history.append(
            weights=parameters.weights, means=parameters.means,
            covariances=_full(parameters, covariance_type),
        )
    converged = False
    n_iter = 0
    for iteration in range(1, max_iter + 1):
        previous = lower_bound
        with one_blas_thread(in_memory):
            stats = pass_statistics(parameters)
            parameters = update_parameters(stats, covariance_type, reg_covar, X.dtype, iteration)
        lower_bound = stats.log_likelihood / stats.total_weight
        n_iter = iteration
        change = lower_bound - previous
        history.append(log_likelihood=lower_bound)
        if record_parameters:
            history.append(
                weights=parameters.weights, means=parameters.means,
                covariances=_full(parameters, covariance_type),
            )
        history.n_iter = n_iter
        stop = False
        if callback is not None:
            state = GaussianMixtureState(
                iteration, parameters.weights.copy(), parameters.means.copy(),
                parameters.covariances.copy(), float(lower_bound), float(change),
            )
            if callback(iteration, state) is True:
                history.stopped_by_callback = True
                stop = True
        if abs(change) < tol:
            converged = True
            break
        if stop:
            break
    history.converged = converged
    return EMResult(parameters, float(lower_bound), n_iter, converged, history)


# --- passes over a dask array: chunk functions run on the workers --------------------
#
# The dask backend centres every chunk by the column means (``data.offset``), as it
# does for k-means. Statistics taken about a shift c in centred coordinates are
# those about c + offset in the original ones (only x - c enters them), so a pass
# moves the means into centred coordinates, runs the in-memory kernels on each
# chunk and moves the merged statistics' shift back. The precisions and weights
# do not depend on the origin.


def _em_chunk(X: np.ndarray, sample_weight: np.ndarray, x_norms: np.ndarray, state: None,
              chunk_index: int, means: np.ndarray, precisions_cholesky: np.ndarray,
              log_weights: np.ndarray, shift: np.ndarray, covariance_type: str) -> tuple[None, gk.GMMStats]:
    """``(None, GMMStats)`` of one centred chunk: the in-memory pass, on one thread."""
    return None, _blocks_pass(
        X, sample_weight, means, precisions_cholesky, log_weights, shift, covariance_type, parallel=False
    )


def dask_pass(data: Any, parameters: MixtureParameters, *, covariance_type: str) -> gk.GMMStats:
    """E-step and statistics of every chunk of ``data`` (a DaskData), tree-merged.

    Only the merged statistics, O(k·d²) numbers, come back to the client.
    """
    means = (parameters.means - data.offset).astype(data.dtype, copy=False)
    _, stats = data.map_chunks(
        _em_chunk,
        (means, parameters.precisions_cholesky, log_of_weights(parameters.weights),
         means.astype(np.float64), covariance_type),
        merge=gk.merge_statistics,
    )
    return stats._replace(shift=stats.shift + data.offset.astype(np.float64))


def _initial_resp_chunk(X: np.ndarray, sample_weight: np.ndarray, x_norms: np.ndarray, state: None,
                        chunk_index: int, how: str, source: Any, n_components: int, shift: np.ndarray,
                        covariance_type: str) -> tuple[None, gk.GMMStats]:
    """``(None, GMMStats)`` of one centred chunk under initial responsibilities.

    ``how="centers"``: one-hot on the nearest of the centres ``source`` (k, d);
    ``how="random"``: uniform random, normalised, drawn from
    ``kp.chunk_rng(source, chunk_index)``, so every pass over a chunk sees the
    same responsibilities whichever worker computes it.
    """
    n = X.shape[0]
    if how == "centers":
        labels = np.argmin(kk.squared_distances(X, source, x_norms), axis=1)
        resp = np.zeros((n, n_components), dtype=X.dtype)
        resp[np.arange(n), labels] = 1.0
    else:
        resp = kp.chunk_rng(source, chunk_index).uniform(size=(n, n_components)).astype(X.dtype)
        resp /= resp.sum(axis=1, keepdims=True)
    stats = gk.block_statistics(X[:0], sample_weight[:0], resp[:0], shift, covariance_type)
    for rows in _blocks(X, n_components):
        block = gk.block_statistics(X[rows], sample_weight[rows], resp[rows], shift, covariance_type)
        stats = gk.merge_statistics(stats, block)
    return None, stats


def dask_statistics_from_resp(data: Any, how: str, source: Any, n_components: int,
                               covariance_type: str) -> gk.GMMStats:
    """As :func:`statistics_from_resp`, chunk by chunk: two passes, the first for the
    means, the second for the moments about them; statistics in original coordinates."""
    origin = np.zeros((n_components, data.n_features))
    _, first = data.map_chunks(
        _initial_resp_chunk, (how, source, n_components, origin, "diag"), merge=gk.merge_statistics
    )
    _, means, _ = gk.estimate_parameters(first, "diag", 0.0)
    _, stats = data.map_chunks(
        _initial_resp_chunk, (how, source, n_components, means, covariance_type), merge=gk.merge_statistics
    )
    return stats._replace(shift=stats.shift + data.offset.astype(np.float64))


# --- results on a fitted model, per block (and per chunk of a dask array) -------------


def weighted_log_prob(X: np.ndarray, means: np.ndarray, precisions_cholesky: np.ndarray,
                       log_weights: np.ndarray, covariance_type: str) -> np.ndarray:
    """log π_k + log N(x_i | μ_k, Σ_k), shape (n_samples, n_components), in blocks."""
    out = np.empty((X.shape[0], means.shape[0]), dtype=X.dtype)
    for rows in _blocks(X, means.shape[0]):
        out[rows] = gk.estimate_log_gaussian_prob(X[rows], means, precisions_cholesky, covariance_type)
        out[rows] += log_weights
    return out


def predict_chunk(X: np.ndarray, *args: Any) -> np.ndarray:
    return np.argmax(weighted_log_prob(X, *args), axis=1).astype(np.int64)


def proba_chunk(X: np.ndarray, *args: Any) -> np.ndarray:
    return gk.log_prob_resp(weighted_log_prob(X, *args))[1]


def score_samples_chunk(X: np.ndarray, *args: Any) -> np.ndarray:
    return gk.log_prob_resp(weighted_log_prob(X, *args))[0]
