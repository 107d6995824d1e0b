"""Gaussian mixtures fitted by EM, with every iteration recorded: the estimator's
core, without scikit-learn (the command line fits with it; the scikit-learn
estimator :class:`kmix.GaussianMixture` is a thin shell over it, in
:mod:`kmix.estimators`)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg

from .. import backends
from .._typing import ArrayLike, CovarianceType, RandomStateLike
from .._validation import (
    check_data,
    check_int,
    check_is_fitted,
    check_n_features,
    check_random_state,
    distinct_rows_below,
    is_batches,
    is_dask_array,
)
from ..backends.threads import one_blas_thread
from .. import exceptions
from ..kernels import gmm as gk
from ..kernels import gmm_models as gm
from ..kernels.gmm_models import Decomposition
from ..kernels import gmm_passes as gp
from ._base import BaseModel
from ._gmm_params import check_parameters
from .em import (EMResult, GaussianMixtureState, MixtureParameters, em, initial_statistics,
                 responsibility_statistics, update_parameters, worded_as_scikit_learn)
from .lloyd import uses_bounds
from . import online_em
from ._gmm_progress import _Progress

__all__ = ["GaussianMixtureCore", "GaussianMixtureState"]

class GaussianMixtureCore(BaseModel):
    """Gaussian mixture model fitted by expectation-maximisation.

    Parameters
    ----------
    n_components : int, default 1
        Number of mixture components, from 1 to n_samples.
    covariance_type : str, default "full"
        scikit-learn's four: "full": each component has its own covariance
        matrix; "tied": all share one; "diag": each has its own diagonal
        covariance; "spherical": each has its own single variance. Or one of
        mclust's fourteen models of Σ_k = λ_k D_k A_k D_kᵀ, volume λ, shape A and
        orientation D each Equal or Variable across components, or I (identity):
        "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE",
        "EEV", "VEV", "EVV", "VVV" (VII, VVI, EEE and VVV are spherical, diag,
        tied and full, with the same results). Models without a closed-form
        M-step (VEI, VEE, VEV, EVE, VVE) iterate inside each M-step from the
        previous covariances, so the log-likelihood never decreases. See
        docs/models.md.
    tol : float, default 1e-3
        EM stops when the mean log-likelihood per sample (per unit of sample
        weight) changes by less than ``tol`` between two iterations.
    reg_covar : float, default 1e-6
        Added to the diagonal of every covariance, so that a collapsing
        component (fewer points than dimensions, duplicate points) keeps a
        positive-definite covariance. For mclust's models it is added to each
        component's scatter before the model's constraint is fitted, so the
        covariances keep their structure (for the four that scikit-learn has,
        this is the same thing).
    max_iter : int, default 100
        Most EM iterations per initialisation (0: only initialise).
    n_init : int, default 1
        Number of initialisations; the run with the highest final log-likelihood
        is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default "kmeans"
        Initial responsibilities: one-hot from :class:`kmix.KMeans` (one run);
        one-hot on k-means++ seeds; uniform random, normalised; one-hot on
        random data points. The initial parameters are the M-step of these.
    weights_init : array-like (n_components,), optional
        Initial weights, non-negative, summing to 1.
    means_init : array-like (n_components, n_features), optional
        Initial means.
    precisions_init : array-like, optional
        Initial precisions (inverse covariances): (k, d, d) for "full", (d, d)
        for "tied", (k, d) for "diag", (k,) for "spherical"; symmetric positive
        definite, or positive.
    warm_start : bool, default False
        Start a new ``fit`` from the fitted parameters (one initialisation).
    random_state : int, numpy Generator, RandomState or None
        Seed of the initialisation and of :meth:`sample`.
    verbose : int, default 0
        Above 0, print scikit-learn's progress lines to standard output:
        "Initialization i" before each initialisation (counted from 0), every
        ``verbose_interval`` iterations "  Iteration t", and at the end of each
        run "Initialization converged." or "Initialization did not converge.".
        From 2, the iteration lines add the time since the last one and the
        change of the mean log-likelihood, and the last line the run's time and
        its lower bound (``lower_bound_``).
    verbose_interval : int, default 10
        Iterations between two progress lines.
    record_history : {"auto", True, False}, default "auto"
        Also record the weights, means and covariances (as full (k, d, d)
        matrices) after every iteration in ``history_``; "auto" does so when
        n_features <= 10. Memory O(n_iter x k x d²). The log-likelihood is
        always recorded.
    callback : callable, optional
        ``callback(iteration, state)`` after every iteration, ``state`` a
        :class:`GaussianMixtureState`. Returning True stops the run early.
    client : None, dask.distributed Client or str
        Where a fit on a dask array runs: None uses the active client, or starts
        a LocalCluster (one single-threaded worker process per core) for the fit
        and closes it afterwards; a Client is used as it is; a string is the
        address of a running scheduler ("tcp://host:8786"). Ignored for
        in-memory data.
    step_offset : float, default 2.0
        t0 of :meth:`partial_fit`'s step ρ_t = (t + t0)^(-α), t the number of
        steps taken; at least 1 (1: the first step is one EM iteration on the
        first batch). 2 keeps a third of the initial statistics in the first
        step, which damps it, and still forgets them within a few steps.
    step_exponent : float, default 0.6
        α of the steps, in (0.5, 1]: smaller steps decay more slowly; 1 weighs
        every batch equally.
    half_life : float, optional
        For drifting data: the step of a batch of total sample weight W is then
        at least 1 - 2^(-W / half_life), the constant step under which the
        statistics of the samples seen ``half_life`` units of sample weight
        (rows, when unweighted) ago keep half their weight. None: the steps
        decay for ever.

    Attributes
    ----------
    weights_ : ndarray (n_components,)
    means_ : ndarray (n_components, n_features)
    covariances_ : ndarray, layout of covariance_type
        (k, d, d) "full", (d, d) "tied", (k, d) "diag", (k,) "spherical"; mclust's
        models are stored in one of these: EII and VII as spherical, EEI, VEI,
        EVI and VVI as diag, EEE as tied, the other seven as full.
        :meth:`covariance_decomposition` gives volume, shape and orientation.
    precisions_ : ndarray, layout of covariance_type
    precisions_cholesky_ : ndarray, layout of covariance_type
        Upper-triangular U with precision U Uᵀ (for "diag" and "spherical",
        the square roots of the precisions).
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean log-likelihood computed in the E-step of the last iteration, i.e. of
        the parameters before the last M-step (scikit-learn's definition).
    lower_bounds_ : ndarray (n_iter_,)
        The same for every iteration (``history_.log_likelihood``).
    history_ : History
        ``log_likelihood`` (n_iter,): entry t is the mean log-likelihood of the
        parameters after t iterations (t = 0: the initial parameters), computed
        in the E-step of iteration t + 1; it never decreases. With
        ``record_history``: ``weights`` (n_iter + 1, k), ``means`` (n_iter + 1,
        k, d), ``covariances`` (n_iter + 1, k, d, d), the initial parameters
        first, so ``log_likelihood[t]`` belongs to ``weights[t]``.
    n_features_in_ : int

    Notes
    -----
    ``fit`` accepts ``sample_weight``: an integer weight w gives the same fit as
    the point repeated w times, and a zero weight is the same as leaving the
    point out. float32 data stays float32 (statistics are accumulated in
    float64; with full covariances and up to 256 features, or diagonal and
    spherical ones with up to 16, the whole E-step is computed in float64 too).
    """

    # Saved under this name; kmix.io.load_model gives back a kmix.GaussianMixture.
    _saved_as = "GaussianMixture"
    # What a saved model must hold to be a fitted one (see kmix.io.load_model).
    _fitted_arrays = ("weights_", "means_", "covariances_", "precisions_cholesky_")

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: CovarianceType = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init: ArrayLike | None = None,
        means_init: ArrayLike | None = None,
        precisions_init: ArrayLike | None = None,
        warm_start: bool = False,
        random_state: RandomStateLike = None,
        verbose: int = 0,
        verbose_interval: int = 10,
        record_history: bool | str = "auto",
        callback: Callable[[int, GaussianMixtureState], Any] | None = None,
        client: Any = None,
        step_offset: float = 2.0,
        step_exponent: float = 0.6,
        half_life: float | None = None,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.record_history = record_history
        self.callback = callback
        self.client = client
        self.step_offset = step_offset
        self.step_exponent = step_exponent
        self.half_life = half_life

    # --- checks -----------------------------------------------------------------
    def _check_params(self, n_samples: int, n_features: int, dtype: np.dtype, n_positive: int) -> dict[str, Any]:
        """Every constructor parameter, checked (see :func:`check_parameters`)."""
        return check_parameters(self, n_samples, n_features, dtype, n_positive)

    # --- initialisation -------------------------------------------------------------
    def _initial_parameters(self, data: Any, checked: dict[str, Any], rng: np.random.Generator | None,
                            dask_input: bool, resp: np.ndarray | None = None) -> MixtureParameters:
        """The given initial parameters, the others from the initial responsibilities
        (``resp`` (n, k) when given, else drawn by ``init_params``)."""
        covariance_type = checked["covariance_type"]
        weights_init = checked["weights_init"]
        means_init = checked["means_init"]
        precisions_cholesky = checked["precisions_cholesky_init"]
        if resp is not None and (weights_init is None or means_init is None or precisions_cholesky is None):
            stats = responsibility_statistics(data, resp, covariance_type)
            with data.hold_blas():
                start = update_parameters(stats, covariance_type, checked["reg_covar"], data.dtype, None)
        elif weights_init is None or means_init is None or precisions_cholesky is None:
            assert rng is not None
            n_components = checked["n_components"]
            # k-means starts as KMeans() would on this input: k-means|| and Lloyd's
            # pass on a dask array, k-means++ and bounds where they pay in memory.
            stats = initial_statistics(
                data, checked["init_params"], n_components, covariance_type, rng,
                kmeans_init="k-means||" if dask_input else "k-means++",
                kmeans_bounds=not dask_input and uses_bounds("auto", n_components, data.n_features),
            )
            with data.hold_blas():  # d x d products (see em)
                start = update_parameters(stats, covariance_type, checked["reg_covar"], data.dtype, None)
        else:
            start = None
        weights = start.weights if weights_init is None else weights_init
        means = start.means if means_init is None else means_init
        if precisions_cholesky is None:
            covariances = start.covariances
            precisions_cholesky = start.precisions_cholesky
        else:
            with data.hold_blas():
                covariances = gk.covariances_from_precision_cholesky(precisions_cholesky,
                                                                     gk.layout_of(covariance_type))
        return MixtureParameters(weights, means, covariances, precisions_cholesky)

    # --- fitting --------------------------------------------------------------------
    def fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> "GaussianMixtureCore":
        """Estimate the mixture's parameters by EM.

        Parameters
        ----------
        X : array-like, dask array (n_samples, n_features) or kmix.Batches
            float32 data stays float32 (unless its squared distances would leave
            float32's range: then the fit runs in float64); other numeric types
            become float64. Values whose squares would leave float64's range (about
            1e154) raise a DataError that says how to rescale. A dask
            array is fitted on a dask.distributed cluster (see ``client``), one
            chunk of rows at a time; a :class:`kmix.Batches` one batch at a time.
        y : ignored
        sample_weight : array-like (n_samples,) or dask array, optional
            Non-negative weights, not all zero: weight w counts a point w times.

        Returns
        -------
        self

        Warns
        -----
        ConvergenceWarning
            When EM stops at max_iter, and (for data in memory) when X has fewer
            distinct points of positive weight than n_components, as KMeans warns
            of fewer distinct clusters than n_clusters.
        """
        # NaN, inf and bad weights are found by the data object, for the whole array.
        X = check_data(X, finite=False, accept_batches=True)
        # Data read chunk by chunk (a dask array, kmix.Batches): k-means|| seeding.
        dask_input = is_dask_array(X) or is_batches(X)
        rng = check_random_state(self.random_state)
        with backends.wrap(X, sample_weight, client=self.client) as data:
            # The checks' products are of d x d matrices: BLAS held, so that no
            # BLAS worker is left spinning into the first pass (see em()).
            with data.hold_blas():
                checked = check_parameters(self, data.n_samples, data.n_features, data.dtype,
                                           data.n_positive_weights())
            needs_data = (
                checked["weights_init"] is None or checked["means_init"] is None
                or checked["precisions_cholesky_init"] is None
            )
            if dask_input and needs_data and checked["init_params"] == "k-means++":
                raise ValueError(
                    "init_params='k-means++' makes one pass over the data per component; for a "
                    "dask array or kmix.Batches use init_params='kmeans' (k-means|| seeding), 'random' or "
                    "'random_from_data'"
                )
            with worded_as_scikit_learn():
                best = self._run(data, checked, lambda: self._initial_parameters(data, checked, rng, dask_input))
            # In memory only: on a dask array or batches counting would be one more pass.
            n_distinct = None
            if not dask_input:
                X_checked, weights, _ = data.arrays()
                n_distinct = distinct_rows_below(X_checked, weights, checked["n_components"])
        if n_distinct is not None:
            n_components = checked["n_components"]
            warnings.warn(
                f"Number of distinct points ({n_distinct}) found smaller than n_components "
                f"({n_components}). Possibly due to duplicate points in X: the data cannot tell "
                f"{n_components} components apart; decrease n_components.",
                exceptions.ConvergenceWarning,
                stacklevel=2,
            )
        return self._set_fitted(best, checked, data.n_features, stacklevel=3)

    def partial_fit(self, X: ArrayLike, y: Any = None,
                    sample_weight: ArrayLike | None = None) -> "GaussianMixtureCore":
        """One step of online EM on the batch X (see :mod:`kmix.models.online_em`
        and ``step_offset``), in memory or a dask array; returns self.

        The first call starts from the fitted parameters if there are any, else
        from the given ``*_init`` or ``init_params`` on X (of ``n_init``, the
        start under which X is most likely), with ``n_iter_`` 0 and a new
        ``history_``. Every call adds one step to both; ``lower_bound_`` is X's
        mean log-likelihood before the step; ``converged_`` stays False. X keeps
        n_features, n_components and covariance_type stay; ``fit`` starts again.
        """
        with worded_as_scikit_learn():
            online_em.partial_fit(self, X, sample_weight)
        return self

    def _fit_from(self, data: Any, start: MixtureParameters) -> tuple[float, float, float] | None:
        """EM from ``start`` on a data object the caller made and checked: the path of
        model selection, whose cells share one data object and make their own starts
        (the constructor's parameters are checked; X and the start are not). Returns
        the fit's scores where its iterations ran compiled (see
        :func:`kmix.models.em.em`), else None."""
        with data.hold_blas():
            checked = check_parameters(self, data.n_samples, data.n_features, data.dtype,
                                       data.n_positive_weights())
        with worded_as_scikit_learn():
            best = self._run(data, checked, lambda: start, score=True)
        self._set_fitted(best, checked, data.n_features, stacklevel=3)
        return best.scores

    def _run(self, data: Any, checked: dict[str, Any], initial: Callable[[], MixtureParameters],
             score: bool = False) -> EMResult:
        """EM from each initialisation (or the fitted parameters); the best run."""
        n_features, dtype = data.n_features, data.dtype
        covariance_type = checked["covariance_type"]
        warm = bool(self.warm_start) and hasattr(self, "converged_")
        if warm:
            check_n_features(self, np.empty((0, n_features)))
            if self.means_.shape[0] != checked["n_components"] or getattr(
                self, "_fitted_covariance_type", covariance_type
            ) != covariance_type:
                raise ValueError(
                    "warm_start needs the same n_components and covariance_type as the fitted model"
                )
        n_init = 1 if warm else checked["n_init"]
        progress = _Progress(checked["verbose"], checked["verbose_interval"]) if checked["verbose"] else None
        best: EMResult | None = None
        for init in range(n_init):
            if progress is not None:
                progress.start(init)
            if warm:
                start = MixtureParameters(
                    self.weights_.astype(dtype), self.means_.astype(dtype),
                    self.covariances_.astype(dtype), self.precisions_cholesky_.astype(dtype),
                )
                lower_bound = self.lower_bound_
            else:
                start = initial()
                lower_bound = -np.inf
            result = em(
                data, start, covariance_type=covariance_type, reg_covar=checked["reg_covar"],
                max_iter=checked["max_iter"], tol=checked["tol"], lower_bound=lower_bound,
                record_parameters=checked["record"],
                callback=self.callback if progress is None else progress.reporting(self.callback),
                score=score,
            )
            if progress is not None and checked["max_iter"] > 0:
                progress.end(result)
            if best is None or result.lower_bound > best.lower_bound:
                best = result
        assert best is not None
        return best

    def _set_fitted(self, best: EMResult, checked: dict[str, Any], n_features: int,
                    stacklevel: int) -> "GaussianMixtureCore":
        covariance_type = checked["covariance_type"]
        if checked["max_iter"] > 0 and not best.converged and not best.history.stopped_by_callback:
            warnings.warn(
                "Best performing initialization did not converge. Try different init parameters, "
                "or increase max_iter, tol, or check for degenerate data. It stopped at "
                f"max_iter={checked['max_iter']} iterations before the change of the mean "
                f"log-likelihood fell below tol={checked['tol']:g}.",
                exceptions.ConvergenceWarning,
                stacklevel=stacklevel,
            )
        parameters = best.parameters
        self.weights_ = parameters.weights
        self.means_ = parameters.means
        self.covariances_ = parameters.covariances
        self.precisions_cholesky_ = parameters.precisions_cholesky
        with one_blas_thread():  # d x d products (see fit)
            self.precisions_ = self._precisions(parameters.precisions_cholesky, gk.layout_of(covariance_type))
        self.converged_ = bool(best.converged)
        self.n_iter_ = int(best.n_iter)
        self.lower_bound_ = float(best.lower_bound) if checked["max_iter"] > 0 else -math.inf
        self.history_ = best.history
        self.lower_bounds_ = (
            best.history.log_likelihood if "log_likelihood" in best.history else np.empty(0)
        )
        self.n_features_in_ = n_features
        self._fitted_covariance_type = covariance_type
        self.__dict__.pop("_online_state", None)  # a later partial_fit starts from these
        return self

    @staticmethod
    def _precisions(precisions_cholesky: np.ndarray, covariance_type: str) -> np.ndarray:
        # Λ = U Uᵀ
        layout = gk.layout_of(covariance_type)
        if layout == "full":
            return np.matmul(precisions_cholesky, np.swapaxes(precisions_cholesky, 1, 2))
        if layout == "tied":
            return precisions_cholesky @ precisions_cholesky.T
        return precisions_cholesky**2

    def fit_predict(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> np.ndarray:
        """Fit, then return the most probable component of each row of X."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    # --- using a fitted model ----------------------------------------------------------
    def _covariance_type_fitted(self) -> str:
        return getattr(self, "_fitted_covariance_type", self.covariance_type)

    def _layout_fitted(self) -> str:
        return gk.layout_of(self._covariance_type_fitted())

    def _per_row(self, X: ArrayLike, kernel: Callable, dtype: Any = None, n_columns: int | None = None) -> Any:
        """``kernel`` of the rows of X under the fitted mixture (``dtype`` None: X's)."""
        check_is_fitted(self, "means_")
        X = check_data(X)
        check_n_features(self, X)
        X = backends.rows_in_range(X, self.means_.mean(axis=0))
        return backends.map_rows(
            X, kernel, self.means_.astype(X.dtype, copy=False),
            self.precisions_cholesky_.astype(X.dtype, copy=False),
            gk.log_of_weights(self.weights_).astype(X.dtype, copy=False), self._layout_fitted(),
            dtype=X.dtype if dtype is None else dtype, n_columns=n_columns,
        )

    def weighted_log_prob(self, X: np.ndarray) -> np.ndarray:
        """log π_k + log N(x_i | μ_k, Σ_k) of an in-memory, validated X, shape
        (n_samples, n_components)."""
        return gk.weighted_log_prob(
            X, self.means_.astype(X.dtype, copy=False), self.precisions_cholesky_.astype(X.dtype, copy=False),
            gk.log_of_weights(self.weights_).astype(X.dtype, copy=False), self._layout_fitted())

    def score_samples(self, X: ArrayLike) -> Any:
        """log p(x) of every row of X under the mixture, shape (n_samples,).

        A dask array in gives a lazy dask array out.
        """
        return self._per_row(X, gp.score_samples_block)

    def score(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> float:
        """Mean log-likelihood per sample of X (weighted by sample_weight), higher is better.

        For a dask array the mean is computed with the active dask scheduler.
        """
        return backends.weighted_sum(self.score_samples(X), sample_weight, mean=True)

    def predict(self, X: ArrayLike) -> Any:
        """Most probable component of each row of X, shape (n_samples,) int64.

        A dask array in gives a lazy dask array out.
        """
        return self._per_row(X, gp.predict_block, np.int64)

    def predict_proba(self, X: ArrayLike) -> Any:
        """Responsibilities p(component | x), shape (n_samples, n_components); rows sum to 1.

        A dask array in gives a lazy dask array out.
        """
        check_is_fitted(self, "means_")
        return self._per_row(X, gp.predict_proba_block, None, self.means_.shape[0])

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw from the fitted mixture.

        Returns
        -------
        X : ndarray (n_samples, n_features) float64, grouped by component
        labels : ndarray (n_samples,) int64, the component of each row
        """
        check_is_fitted(self, "means_")
        n_samples = check_int(n_samples, "n_samples")
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples}. The sampling requires at least one sample."
            )
        rng = check_random_state(self.random_state)
        covariance_type = self._layout_fitted()
        weights = self.weights_.astype(np.float64)
        counts = rng.multinomial(n_samples, weights / weights.sum())
        means = self.means_.astype(np.float64)
        factors = self.precisions_cholesky_.astype(np.float64)
        n_features = means.shape[1]
        parts = []
        for j, count in enumerate(counts):
            noise = rng.standard_normal((int(count), n_features))
            if covariance_type in ("full", "tied"):
                upper = factors[j] if covariance_type == "full" else factors
                # Σ = U⁻ᵀ U⁻¹: x = μ + U⁻ᵀ z, by a triangular solve Uᵀ y = z.
                offsets = scipy.linalg.solve_triangular(upper, noise.T, trans="T", lower=False).T
            else:
                offsets = noise / factors[j]
            parts.append(means[j] + offsets)
        labels = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        return np.concatenate(parts, axis=0), labels

    def covariance_decomposition(self) -> "Decomposition":
        """The fitted covariances as Σ_k = λ_k D_k A_k D_kᵀ (mclust's parameterisation).

        Returns
        -------
        Decomposition (a NamedTuple)
            ``volume`` (k,): λ_k = det(Σ_k)^(1/d); ``shape`` (k, d): the diagonal of
            A_k, product 1, decreasing for the models with an orientation;
            ``orientation`` (k, d, d): D_k, eigenvectors in columns (the identity for
            the diagonal and spherical models; one D for all components of EVE and
            VVE). Equal parts are repeated for every component.
        """
        check_is_fitted(self, "means_")
        k, d = self.means_.shape
        parts = gm.decompose(gk.model_of(self._covariance_type_fitted()),
                             np.asarray(self.covariances_, dtype=np.float64), n_features=d)
        if parts.volume.shape[0] != k:  # one tied covariance for every component
            parts = gm.Decomposition(*(np.repeat(part, k, axis=0) for part in parts))
        return parts

    def _n_parameters(self) -> int:
        k, d = self.means_.shape
        return gk.n_parameters(k, d, self._covariance_type_fitted())

    def information_criteria(self, X: ArrayLike) -> tuple[float, float, float]:
        """The mean log-likelihood per sample, the BIC and the AIC of X, from one
        pass over X (``score``, ``bic`` and ``aic`` give them one at a time).

        Returns
        -------
        (score, bic, aic) : floats; BIC = -2 log L + p log n, AIC = -2 log L + 2 p
        with p free parameters (lower is better)
        """
        check_is_fitted(self, "means_")
        X = check_data(X)
        check_n_features(self, X)
        n_samples = X.shape[0]
        mean = self.score(X)
        n_parameters = self._n_parameters()
        return (mean, -2.0 * mean * n_samples + n_parameters * math.log(n_samples),
                -2.0 * mean * n_samples + 2.0 * n_parameters)

    def bic(self, X: ArrayLike) -> float:
        """Bayesian information criterion on X: -2 log L + p log n (lower is better)."""
        return self.information_criteria(X)[1]

    def aic(self, X: ArrayLike) -> float:
        """Akaike information criterion on X: -2 log L + 2 p (lower is better)."""
        return self.information_criteria(X)[2]

