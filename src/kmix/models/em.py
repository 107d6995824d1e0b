"""EM for Gaussian mixtures as a loop over the data protocol, and its initialisations.

One pass per iteration computes the E-step and the M-step's sufficient statistics,
merged over the data by its data object (:mod:`kmix.backends`): over row blocks
of an in-memory array or chunk by chunk on a dask cluster, with the same kernels
(:mod:`kmix.kernels.gmm`, :mod:`kmix.kernels.gmm_passes`). The estimator,
:class:`kmix.models.gaussian_mixture.GaussianMixture`, drives it.

A data object's rows are in its own frame: centred by ``data.offset`` on dask,
as they are in memory. Statistics taken about a shift c in that frame are those
about c + offset in the original one (only x - c enters them), so a pass moves
the means into the data's frame, runs the kernels and moves the merged
statistics' shift back. The precisions and weights do not depend on the origin.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from ..backends.blocks import whole_block_only
from ..exceptions import NumericalError
from ..kernels import gmm as gk
from ..kernels import gmm_loop as gl
from ..kernels import gmm_passes as gp
from .history import History
from ..kernels.seeding import kmeans_plusplus
from .lloyd import fit_kmeans

__all__ = [
    "GaussianMixtureState",
    "MixtureParameters",
    "EMResult",
    "RelativeStop",
    "em",
    "em_statistics",
    "update_parameters",
    "initial_statistics",
    "responsibility_statistics",
    "statistics_of_rows",
    "worded_as_scikit_learn",
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
    # Σ w log p(x), Σ w log max_k z_k and the least ratio of a covariance's smallest
    # eigenvalue to its largest, at the returned parameters (``em(score=True)`` where
    # its compiled loop ran), else None
    scores: tuple[float, float, float] | None = None


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
    return gk.full_covariances(parameters.covariances, gk.layout_of(covariance_type), k, d)


def _in_original_frame(stats: gk.GMMStats, data: Any) -> gk.GMMStats:
    return stats._replace(shift=stats.shift + data.offset.astype(np.float64))


def em_statistics(data: Any, parameters: MixtureParameters, covariance_type: str) -> gk.GMMStats:
    """E-step and sufficient statistics of one iteration over the whole data, merged,
    about the current means (so the M-step's subtraction is of small numbers; see
    :func:`kmix.kernels.gmm.estimate_parameters`); ``covariance_type``'s layout."""
    means = parameters.means - data.offset
    plan = gp.em_pass_plan(data.n_features, data.dtype, gk.layout_of(covariance_type), means,
                           parameters.precisions_cholesky, gk.log_of_weights(parameters.weights),
                           means.astype(np.float64), compiled=getattr(data, "compiled", True))
    merged = data.reduce(plan.kernel, *plan.args, merge=plan.merge, block_rows=plan.block_rows)
    return _in_original_frame(plan.finish(merged), data)


def update_parameters(stats: gk.GMMStats, covariance_type: str, reg_covar: float, dtype,
                      iteration: int | None, previous: np.ndarray | None = None, *,
                      compiled: bool = False) -> MixtureParameters:
    """The M-step, its numerical failure named by where it happened. ``previous``:
    the covariances it replaces, where the model's M-step iterates from them.
    ``compiled``: without ``previous``, the M-step of the compiled EM loop
    (:func:`kmix.kernels.gmm_loop.start_parameters`; ``stats`` then hold
    per-component second moments, full or diagonal)."""
    try:
        if compiled and previous is None:
            weights, means, covariances, factors = gl.start_parameters(stats, covariance_type, reg_covar)
            return MixtureParameters(*(array.astype(dtype, copy=False)
                                       for array in (weights, means, covariances, factors)))
        if previous is not None:
            previous = previous.astype(np.float64)
        return MixtureParameters(*gk.update(stats, covariance_type, reg_covar, dtype, previous))
    except NumericalError as exc:
        where = "initialisation" if iteration is None else f"EM iteration {iteration}"
        raise NumericalError(f"{where}: {exc} (reg_covar={reg_covar:g})") from None


# What scikit-learn says when a covariance cannot be factorised; kmix adds where.
_ILL_DEFINED_COVARIANCE = (
    "Fitting the mixture model failed because some components have ill-defined empirical "
    "covariance (for instance caused by singleton or collapsed samples). Try to decrease the "
    "number of components, increase reg_covar, or scale the input data."
)


@contextlib.contextmanager
def worded_as_scikit_learn() -> Iterator[None]:
    """A covariance that cannot be factorised, in scikit-learn's words first and then
    kmix's (where it happened, which component)."""
    try:
        yield
    except NumericalError as exc:
        raise NumericalError(f"{_ILL_DEFINED_COVARIANCE} At {exc}") from None


class RelativeStop:
    """A stopping rule as a callback: stop after an iteration t > 1 whose change of
    the total log-likelihood l = L·``scale`` is at most ``tol`` (1 + |l|) (mclust's
    rule; L is the mean log-likelihood per unit of sample weight, the estimator's
    ``tol`` is on L itself). :func:`em` applies it inside its compiled loop too."""

    def __init__(self, tol: float, scale: float) -> None:
        self.tol, self.scale = float(tol), float(scale)

    def __call__(self, iteration: int, state: GaussianMixtureState) -> bool:
        total = state.log_likelihood * self.scale
        return iteration > 1 and abs(state.change) * self.scale <= self.tol * (1.0 + abs(total))


def em(
    data: Any,
    start: MixtureParameters,
    *,
    covariance_type: str,
    reg_covar: float,
    max_iter: int,
    tol: float,
    lower_bound: float = -np.inf,
    record_parameters: bool = True,
    callback: Callable[[int, GaussianMixtureState], Any] | None = None,
    score: bool = False,
) -> EMResult:
    """EM iterations from ``start`` on a data object.

    Iteration t: E-step with the current parameters, whose mean log-likelihood
    L_t is computed on the way; M-step. Stops when |L_t - L_{t-1}| < tol (L_0 is
    ``lower_bound``), at ``max_iter``, or when the callback returns True. The
    returned ``lower_bound`` is the last L_t: the log-likelihood of the
    parameters before the last M-step, as in scikit-learn. ``score``: where the
    iterations run compiled, the result's ``scores`` are taken at the returned
    parameters in the same call (else they are None).
    """
    history = History(_HISTORY_FIELDS)
    if (not record_parameters and (callback is None or type(callback) is RelativeStop)
            and data.dense_block and getattr(data, "compiled", True)
            and gl.loop_applies(data.n_features, data.dtype)):
        return _em_compiled(data, start, history, covariance_type=covariance_type, reg_covar=reg_covar,
                            max_iter=max_iter, tol=tol, lower_bound=lower_bound, stop=callback, score=score)
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
        # The pass and the M-step's small products with BLAS held (see hold_blas).
        with data.hold_blas():
            stats = em_statistics(data, parameters, covariance_type)
            parameters = update_parameters(stats, covariance_type, reg_covar, data.dtype, iteration,
                                           parameters.covariances)
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


def _em_compiled(data: Any, start: MixtureParameters, history: History, *, covariance_type: str,
                 reg_covar: float, max_iter: int, tol: float, lower_bound: float,
                 stop: RelativeStop | None, score: bool) -> EMResult:
    """:func:`em`'s iterations in one compiled call (no parameters recorded, no
    callback but a :class:`RelativeStop`): the same iterations, to rounding."""
    kernel = functools.partial(
        gl.run_em_loop, covariance_type=covariance_type, reg_covar=reg_covar, max_iter=max_iter,
        tol=tol, lower_bound=lower_bound, relative_tol=-1.0 if stop is None else stop.tol,
        relative_scale=1.0 if stop is None else stop.scale, score=score,
    )
    # The rows are in the data's frame (see the module's docstring), the means too.
    offset = data.offset.astype(np.float64)
    try:
        result = data.reduce(kernel, start.weights, start.means - offset, start.covariances,
                             start.precisions_cholesky, merge=whole_block_only, block_rows=None)
    except NumericalError as exc:
        raise NumericalError(f"EM iteration {exc.iteration}: {exc} (reg_covar={reg_covar:g})") from None
    history.extend(log_likelihood=result.log_likelihoods)
    history.n_iter = result.n_iter
    history.converged = result.converged
    history.stopped_by_callback = result.stopped
    parameters = MixtureParameters(result.weights, result.means + offset, result.covariances,
                                   result.precisions_cholesky)
    final = float(result.log_likelihoods[-1]) if result.n_iter else float(lower_bound)
    return EMResult(parameters, final, result.n_iter, result.converged, history, result.scores)


# --- initial statistics -------------------------------------------------------------------

def _two_passes(reduce: Callable[[np.ndarray, str], gk.GMMStats], n_components: int, n_features: int,
                covariance_type: str) -> gk.GMMStats:
    """Statistics of initial responsibilities about their own weighted means: the first
    pass gives the means (moments about 0 are exact for them), the second takes the
    second moments about those means, so the initial covariances carry no
    cancellation error at all. The first pass needs only N_k and the sums; "diag"
    is the cheapest layout for the second moments it carries along unused."""
    first = reduce(np.zeros((n_components, n_features)), "diag")
    _, means, _ = gk.estimate_parameters(first, "diag", 0.0)
    return reduce(means, gk.layout_of(covariance_type))


def initial_statistics(data: Any, init_params: str, n_components: int, covariance_type: str,
                       rng: np.random.Generator, *, kmeans_init: str = "k-means++",
                       kmeans_bounds: bool = False) -> gk.GMMStats:
    """Statistics of the initial responsibilities, in the original frame.

    "kmeans": one-hot on the labels of one k-means run (``kmeans_init`` seeding,
    Hamerly's bounds if ``kmeans_bounds``) on the same data object, centred; "k-means++": one-hot on greedy k-means++ seeds
    (data in memory); "random": uniform random, normalised, drawn per chunk from
    one seed; "random_from_data": one-hot on weighted distinct random rows.
    """
    k, d = n_components, data.n_features

    def over_data(kernel: Callable, *params: Any, state: Any = None) -> gk.GMMStats:
        return _two_passes(
            lambda shift, layout: data.reduce(kernel, *params, shift, layout,
                                              merge=gk.merge_statistics, state=state),
            k, d, covariance_type)

    def over_points(points: np.ndarray, weights: np.ndarray) -> gk.GMMStats:
        # The rows are the components' only members: their own statistics.
        resp = np.eye(k, dtype=points.dtype)
        return _two_passes(lambda shift, layout: gk.resp_statistics(points, weights, resp, shift, layout),
                           k, d, covariance_type)

    if init_params == "kmeans":
        centred = data.centred()
        result = fit_kmeans(centred, k, rng, init=kmeans_init, bounds=kmeans_bounds,
                            max_iter=300, tol=1e-4 * centred.mean_variance, record=False)
        stats = over_data(gp.labels_statistics, k, state=result.labels)
    elif init_params == "random":
        stats = over_data(gp.random_resp_statistics, int(rng.integers(2**63 - 1)), k)
    elif init_params == "k-means++":
        X, sample_weight, _ = data.arrays()
        # Seeds drawn in the frame of the weighted mean: the seeding's distances
        # through ||x||² - 2x·c + ||c||² lose less to cancellation there.
        centred = X - np.average(X, axis=0, weights=sample_weight).astype(X.dtype)
        indices = kmeans_plusplus(centred, k, rng, sample_weight, n_threads=data.n_threads)
        stats = over_points(X[indices], sample_weight[indices])
    else:  # random_from_data
        stats = over_points(*data.sample(k, rng))
    return _in_original_frame(stats, data)


def responsibility_statistics(data: Any, resp: np.ndarray, covariance_type: str) -> gk.GMMStats:
    """Statistics of given responsibilities (n, k) over an in-memory data object, in
    the original frame, taken as the initial ones are (see :func:`_two_passes`)."""
    X, sample_weight, _ = data.arrays()
    return _in_original_frame(statistics_of_rows(X, sample_weight, resp, covariance_type), data)


def statistics_of_rows(X: np.ndarray, sample_weight: np.ndarray, resp: np.ndarray,
                       covariance_type: str) -> gk.GMMStats:
    """Statistics of given responsibilities (n, k) of rows X already checked (in
    their own frame), taken as the initial ones are (see :func:`_two_passes`)."""
    resp = np.asarray(resp, dtype=X.dtype)
    return _two_passes(lambda shift, layout: gk.resp_statistics(X, sample_weight, resp, shift, layout),
                       resp.shape[1], X.shape[1], covariance_type)
