"""Online EM for Gaussian mixtures: one step per batch, over the data protocol.

Cappé and Moulines (2009, "On-line expectation-maximization algorithm for latent
data models", JRSS-B 71) replace EM's E-step over all the data by a running
average of the complete-data sufficient statistics: for batch t, with s̄_t its
statistics per unit of sample weight under the current parameters θ_t,

    s_{t+1} = (1 - ρ_t) s_t + ρ_t s̄_t,    θ_{t+1} = M-step(s_{t+1}),

with steps ρ_t = (t + t0)^(-α), α in (0.5, 1] (Σ ρ_t = ∞, Σ ρ_t² < ∞). A batch's
statistics come from the same pass as one iteration of :func:`kmix.models.em.em`
(:func:`~kmix.models.em.em_statistics`) and the M-step is the same
(:func:`~kmix.models.em.update_parameters`), so every covariance_type that EM
fits is fitted online too, and a step with ρ = 1 is one EM iteration on the batch.

The statistics are second moments about a shift per component (the means the
E-step used, see :class:`kmix.kernels.gmm.GMMStats`). Before two sets are
averaged the running one is moved to the batch's shift by exact algebra
(:func:`moved`); the move is that of the means in one step, so it is small and
loses nothing to cancellation.

:meth:`kmix.models.gaussian_mixture.GaussianMixtureCore.partial_fit` calls
:func:`partial_fit` here.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .. import backends
from .._validation import check_data, check_n_features, check_random_state, is_dask_array
from ..kernels import gmm as gk
from .em import GaussianMixtureState, MixtureParameters, em_statistics, update_parameters
from .history import History

__all__ = ["OnlineState", "step_size", "moved", "statistics_of_parameters", "online_step", "partial_fit"]

HISTORY_FIELDS = {
    "log_likelihood": (
        "mean log-likelihood per unit of sample weight of batch t + 1 under the parameters "
        "after t steps (t = 0: the initial ones), computed before step t + 1 (n_iter,)"
    ),
    "weights": "mixture weights: the initial ones, then after every step (n_iter + 1, k)",
    "means": "means: the initial ones, then after every step (n_iter + 1, k, d)",
    "covariances": (
        "covariances as full matrices whatever covariance_type: the initial ones, then after "
        "every step (n_iter + 1, k, d, d)"
    ),
}


class OnlineState(NamedTuple):
    """What a model keeps between two calls of ``partial_fit``."""

    statistics: gk.GMMStats  # running average, per unit of sample weight, float64
    parameters: MixtureParameters  # M-step of ``statistics``
    n_steps: int  # steps taken (t of the next step)
    covariance_type: str
    record: bool  # whether the parameters are recorded in ``history``
    history: History


def step_size(step: int, step_offset: float, step_exponent: float, half_life: float | None,
              batch_weight: float) -> float:
    """ρ_t = (t + t0)^(-α), and with ``half_life`` h at least 1 - 2^(-W/h) for a
    batch of total weight W: the constant step at which statistics seen h units
    of weight ago keep half their weight, (1 - ρ)^(h/W) = 1/2."""
    rho = (step + step_offset) ** (-step_exponent)
    if half_life is not None:
        # 1 - 2^(-W/h) as -expm1: exact also when W/h is tiny.
        rho = max(rho, -math.expm1(-math.log(2.0) * batch_weight / half_life))
    return min(rho, 1.0)


def moved(stats: gk.GMMStats, shift: np.ndarray, layout: str) -> gk.GMMStats:
    """The same statistics taken about ``shift`` (k, d) instead of ``stats.shift``.

    With δ_k = c'_k - c_k: Σ w r (x - c') = S1 - N δ and
    Σ w r (x - c')(x - c')ᵀ = S2 - S1 δᵀ - δ S1ᵀ + N δ δᵀ (summed over k for
    "tied"; the diagonal, S2 - 2 δ S1 + N δ², for "diag" and "spherical").
    """
    shift = np.asarray(shift, dtype=np.float64)
    delta = shift - stats.shift
    n = stats.weight_sums
    sums = stats.sums
    if layout == "full":
        cross = sums[:, :, None] * delta[:, None, :]
        second = (stats.second_moments - cross - cross.transpose(0, 2, 1)
                  + n[:, None, None] * delta[:, :, None] * delta[:, None, :])
    elif layout == "tied":
        cross = sums.T @ delta
        second = stats.second_moments - cross - cross.T + (delta * n[:, None]).T @ delta
    else:
        second = stats.second_moments - 2.0 * delta * sums + n[:, None] * delta**2
    return stats._replace(sums=sums - n[:, None] * delta, second_moments=second, shift=shift)


def statistics_of_parameters(parameters: MixtureParameters, covariance_type: str,
                             reg_covar: float) -> gk.GMMStats:
    """Statistics per unit of weight whose M-step gives ``parameters`` back (to
    rounding): N_k = π_k, the moments about the means, the scatter Σ_k - reg_covar·I
    (the M-step adds reg_covar back). The start of the running average."""
    layout = gk.layout_of(covariance_type)
    weights = np.asarray(parameters.weights, dtype=np.float64)
    means = np.asarray(parameters.means, dtype=np.float64)
    k, d = means.shape
    covariances = np.asarray(parameters.covariances, dtype=np.float64)
    if layout == "full":
        second = weights[:, None, None] * (covariances - reg_covar * np.eye(d))
    elif layout == "tied":
        second = (covariances - reg_covar * np.eye(d)) * weights.sum()
    else:
        # Diagonal and spherical statistics are (k, d) per-feature squares.
        variances = covariances if layout == "diag" else np.repeat(covariances[:, None], d, axis=1)
        second = weights[:, None] * (variances - reg_covar)
    return gk.GMMStats(weights.copy(), np.zeros((k, d)), second, means.copy(), 0.0, 1.0)


def online_step(data: Any, state: OnlineState, *, reg_covar: float, step_offset: float,
                step_exponent: float, half_life: float | None) -> tuple[OnlineState, float]:
    """One step on the batch held by ``data``: its statistics under the current
    parameters, averaged into the running ones, and the M-step. Returns the new
    state and the batch's mean log-likelihood under the parameters before the step.

    Raises NumericalError (from the M-step) when a covariance is not positive definite.
    """
    covariance_type = state.covariance_type
    layout = gk.layout_of(covariance_type)
    dtype = data.dtype
    parameters = MixtureParameters(*(part.astype(dtype, copy=False) for part in state.parameters))
    with data.hold_blas():  # the pass and the M-step's small products (see em)
        batch = em_statistics(data, parameters, covariance_type)
        weight = batch.total_weight
        rho = step_size(state.n_steps, step_offset, step_exponent, half_life, weight)
        # Per unit of weight, so that a batch's size does not set its say in the
        # average (the step does).
        scale = rho / weight
        running = moved(state.statistics, batch.shift, layout)
        statistics = gk.GMMStats(
            (1.0 - rho) * running.weight_sums + scale * batch.weight_sums,
            (1.0 - rho) * running.sums + scale * batch.sums,
            (1.0 - rho) * running.second_moments + scale * batch.second_moments,
            batch.shift, 0.0, 1.0,
        )
        updated = update_parameters(statistics, covariance_type, reg_covar, dtype, state.n_steps + 1,
                                    parameters.covariances)
    lower_bound = batch.log_likelihood / weight
    history = state.history
    history.append(log_likelihood=lower_bound)
    if state.record:
        _record(history, updated, covariance_type)
    history.n_iter = state.n_steps + 1
    return state._replace(statistics=statistics, parameters=updated, n_steps=state.n_steps + 1), lower_bound


def _record(history: History, parameters: MixtureParameters, covariance_type: str) -> None:
    k, d = parameters.means.shape
    history.append(weights=parameters.weights, means=parameters.means,
                   covariances=gk.full_covariances(parameters.covariances, gk.layout_of(covariance_type), k, d))


def partial_fit(model: Any, X: Any, sample_weight: Any = None) -> None:
    """One online EM step of ``model`` (a GaussianMixtureCore) on the batch X; sets
    its fitted attributes. The first call (no running statistics yet) starts from
    the fitted parameters if the model has them, else from the initialisation on
    this batch. A NumericalError of the M-step is left to the caller to word."""
    X = check_data(X, finite=False)
    state: OnlineState | None = getattr(model, "_online_state", None)
    fitted = hasattr(model, "means_")
    with backends.wrap(X, sample_weight, client=model.client) as data:
        if fitted:
            check_n_features(model, np.empty((0, data.n_features)))
        # Later batches may hold fewer rows than components: the counts are
        # checked against the batch only where it initialises the mixture.
        n_rows, n_positive = ((data.n_samples, data.n_positive_weights()) if not fitted
                              else (2**62, 2**62))
        with data.hold_blas():
            checked = model._check_params(n_rows, data.n_features, data.dtype, n_positive)
        covariance_type = checked["covariance_type"]
        if fitted and (model.means_.shape[0] != checked["n_components"]
                       or model._covariance_type_fitted() != covariance_type):
            raise ValueError(
                "partial_fit continues the fitted model: n_components and covariance_type must stay "
                f"{model.means_.shape[0]} and {model._covariance_type_fitted()!r} (fit, or a new "
                "estimator, starts again)"
            )
        if state is None:
            if fitted:
                start = MixtureParameters(model.weights_, model.means_, model.covariances_,
                                          model.precisions_cholesky_)
            else:
                dask_input = is_dask_array(X)
                if dask_input and checked["init_params"] == "k-means++" and (
                        checked["weights_init"] is None or checked["means_init"] is None
                        or checked["precisions_cholesky_init"] is None):
                    raise ValueError("init_params='k-means++' makes one pass over the data per component; "
                                     "for a dask array use init_params='kmeans', 'random' or "
                                     "'random_from_data'")
                start = _best_start(model, data, checked, dask_input)
            history = History(HISTORY_FIELDS)
            if checked["record"]:
                _record(history, start, covariance_type)
            state = OnlineState(statistics_of_parameters(start, covariance_type, checked["reg_covar"]),
                                start, 0, covariance_type, checked["record"], history)
        previous = getattr(model, "lower_bound_", -math.inf) if state.n_steps else -math.inf
        state, lower_bound = online_step(data, state, reg_covar=checked["reg_covar"],
                                         step_offset=checked["step_offset"],
                                         step_exponent=checked["step_exponent"],
                                         half_life=checked["half_life"])
        n_features = data.n_features
    _set_fitted(model, state, lower_bound, n_features)
    if model.callback is not None:
        parameters = state.parameters
        model.callback(state.n_steps, GaussianMixtureState(
            state.n_steps, parameters.weights.copy(), parameters.means.copy(), parameters.covariances.copy(),
            float(lower_bound), float(lower_bound - previous)))


def _best_start(model: Any, data: Any, checked: dict[str, Any], dask_input: bool) -> MixtureParameters:
    """The initialisation on the first batch; of ``n_init`` drawn ones (where the
    start is not given), the one under which the batch is most likely: one
    E-step pass over the batch each, instead of EM to the end as in fit."""
    rng = check_random_state(model.random_state)
    given = all(checked[name] is not None for name in ("weights_init", "means_init", "precisions_cholesky_init"))
    n_init = 1 if given else checked["n_init"]
    best, best_log_likelihood = None, -math.inf
    for _ in range(n_init):
        start = model._initial_parameters(data, checked, rng, dask_input)
        if n_init == 1:
            return start
        as_data = MixtureParameters(*(part.astype(data.dtype, copy=False) for part in start))
        with data.hold_blas():
            log_likelihood = em_statistics(data, as_data, checked["covariance_type"]).log_likelihood
        if best is None or log_likelihood > best_log_likelihood:
            best, best_log_likelihood = start, log_likelihood
    return best


def _set_fitted(model: Any, state: OnlineState, lower_bound: float, n_features: int) -> None:
    parameters = state.parameters
    model.weights_ = parameters.weights
    model.means_ = parameters.means
    model.covariances_ = parameters.covariances
    model.precisions_cholesky_ = parameters.precisions_cholesky
    model.precisions_ = model._precisions(parameters.precisions_cholesky, gk.layout_of(state.covariance_type))
    model.converged_ = False
    model.n_iter_ = state.n_steps
    model.lower_bound_ = float(lower_bound)
    model.history_ = state.history
    model.lower_bounds_ = state.history.log_likelihood
    model.n_features_in_ = n_features
    model._fitted_covariance_type = state.covariance_type
    model._online_state = state
