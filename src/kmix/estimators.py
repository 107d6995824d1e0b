"""The scikit-learn estimators: :class:`KMeans`, :class:`MiniBatchKMeans` and
:class:`GaussianMixture`, and scikit-learn's function :func:`k_means` over the first.

Each is a thin shell over its core (:class:`kmix.models.kmeans.KMeansCore`,
:class:`kmix.models.gaussian_mixture.GaussianMixtureCore`), which checks the
parameters, fits through the data protocol and predicts. The shells call the
core's methods by name: scikit-learn's mixins, before the core in the method
order, have placeholders of their own (``DensityMixin.score``). The shell adds what
scikit-learn's users and tools rely on, from scikit-learn itself: its base classes
and mixins (``get_params``/``set_params``, ``clone``, the HTML repr, tags),
the input's feature names (``feature_names_in_``, checked again at predict time),
``set_output`` and metadata routing (``set_fit_request(sample_weight=True)``).

This module imports scikit-learn; the command line never imports it, and
``import kmix`` loads it only when one of these names is first used.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    DensityMixin,
    TransformerMixin,
)
from sklearn.utils.validation import validate_data

from . import backends
from ._typing import ArrayLike
from ._validation import check_array, check_data, check_is_fitted, check_random_state
from .models._gmm_params import check_parameters
from .models.gaussian_mixture import GaussianMixtureCore
from .models.kmeans import KMeansCore, _checked_centers
from .models.kmeans_online import is_first_batch
from .models.lloyd import initial_centers
from .models.minibatch import MiniBatchKMeansCore

__all__ = ["KMeans", "MiniBatchKMeans", "GaussianMixture", "k_means"]


def _check_columns(estimator: Any, X: Any, *, reset: bool) -> None:
    """Record (``reset``) or check the feature names and the number of features of
    X as scikit-learn does; the values are the core's to check.

    After the fit, only data with column names, or given to a model fitted on
    named columns, has names to check; for any other X the core's own checks come
    first, with messages that say what is wrong with the values (a 1-D X, say)."""
    if reset or hasattr(X, "columns") or hasattr(estimator, "feature_names_in_"):
        validate_data(estimator, X, skip_check_array=True, reset=reset)


def _partial_fit(estimator: Any, core_step: Any, first: bool, X: Any, y: Any, sample_weight: Any) -> Any:
    """One batch step of the core, the column names handled as a partial_fit must:
    the first batch's become the model's (read once its values passed); a later
    batch is checked against them before it changes anything."""
    if not first:
        _check_columns(estimator, X, reset=False)
    core_step(estimator, X, y, sample_weight=sample_weight)
    if first:
        _check_columns(estimator, X, reset=True)
    return estimator


_SHELL_NOTE = """
    This is a scikit-learn estimator (``sklearn.base.BaseEstimator``): ``clone``,
    pipelines, grid searches, ``set_output(transform="pandas")``, metadata
    routing (``set_fit_request(sample_weight=True)``) and the HTML repr work as
    for scikit-learn's own. Fitted on a DataFrame it keeps ``feature_names_in_``
    and checks the column names of the data it is later given.
"""


class KMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator, KMeansCore):
    def fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> "KMeans":
        """Cluster X (see :meth:`kmix.models.kmeans.KMeansCore.fit`); returns self."""
        # The core checks the values first; the names are read once they passed.
        KMeansCore.fit(self, X, y, sample_weight=sample_weight)
        _check_columns(self, X, reset=True)
        return self

    def partial_fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> "KMeans":
        """One mini-batch step on X (see :meth:`kmix.models.kmeans.KMeansCore.partial_fit`); returns self."""
        return _partial_fit(self, KMeansCore.partial_fit, is_first_batch(self), X, y, sample_weight)

    def _checked(self, X: ArrayLike) -> None:
        check_is_fitted(self, "cluster_centers_")
        _check_columns(self, X, reset=False)

    def predict(self, X: ArrayLike) -> Any:
        self._checked(X)
        return KMeansCore.predict(self, X)

    def transform(self, X: ArrayLike) -> Any:
        self._checked(X)
        return KMeansCore.transform(self, X)

    def score(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> float:
        self._checked(X)
        return KMeansCore.score(self, X, y, sample_weight=sample_weight)

    def _init_centroids(self, X: ArrayLike, x_squared_norms: Any, init: Any, random_state: Any,
                        sample_weight: ArrayLike | None, init_size: int | None = None,
                        n_centroids: int | None = None) -> np.ndarray:
        # scikit-learn's private seeding step (its own tests call it): the initial
        # centres ``fit`` would start from, by a name, a callable or an array.
        # ``x_squared_norms`` and ``init_size`` (a subsample) are not needed here.
        X = check_data(X, accept_sparse=True)
        n_centroids = self.n_clusters if n_centroids is None else n_centroids
        if callable(init):
            return _checked_centers(init(X, n_centroids, random_state=random_state), X.dtype,
                                    n_centroids, X.shape[1], "init(X, n_clusters, random_state)")
        if not isinstance(init, str):
            return _checked_centers(init, X.dtype, n_centroids, X.shape[1], "init")
        with backends.wrap(X, sample_weight, centre=True) as data:
            centers = initial_centers(data, n_centroids, init, check_random_state(random_state))
            return (centers + data.offset).astype(X.dtype, copy=False)

    @property
    def _n_features_out(self) -> int:
        # get_feature_names_out: one output column per cluster, kmeans0, kmeans1, ...
        return self.cluster_centers_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True  # CSR/CSC through the compiled sparse passes
        return tags

    predict.__doc__ = KMeansCore.predict.__doc__
    transform.__doc__ = KMeansCore.transform.__doc__
    score.__doc__ = KMeansCore.score.__doc__


class MiniBatchKMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator,
                      MiniBatchKMeansCore):
    def fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> "MiniBatchKMeans":
        """Cluster X by mini-batches (see
        :meth:`kmix.models.minibatch.MiniBatchKMeansCore.fit`); returns self."""
        MiniBatchKMeansCore.fit(self, X, y, sample_weight=sample_weight)
        _check_columns(self, X, reset=True)
        return self

    def partial_fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> "MiniBatchKMeans":
        """One mini-batch step on X (see
        :meth:`kmix.models.minibatch.MiniBatchKMeansCore.partial_fit`); returns self."""
        return _partial_fit(self, MiniBatchKMeansCore.partial_fit, not hasattr(self, "cluster_centers_"),
                            X, y, sample_weight)

    # KMeans's, as they are: the core's (a KMeansCore) after the column check.
    _checked = KMeans._checked
    predict = KMeans.predict
    transform = KMeans.transform
    score = KMeans.score
    _init_centroids = KMeans._init_centroids

    @property
    def _n_features_out(self) -> int:
        # get_feature_names_out: minibatchkmeans0, minibatchkmeans1, ...
        return self.cluster_centers_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True  # CSR batches through the compiled sparse passes
        return tags


class GaussianMixture(DensityMixin, BaseEstimator, GaussianMixtureCore):
    def fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> "GaussianMixture":
        """Estimate the mixture's parameters by EM (see
        :meth:`kmix.models.gaussian_mixture.GaussianMixtureCore.fit`); returns self."""
        # The core checks the values first; the names are read once they passed.
        GaussianMixtureCore.fit(self, X, y, sample_weight=sample_weight)
        _check_columns(self, X, reset=True)
        return self

    def fit_predict(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> Any:
        labels = GaussianMixtureCore.fit_predict(self, X, y, sample_weight=sample_weight)
        _check_columns(self, X, reset=True)
        return labels

    def partial_fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> "GaussianMixture":
        """One step of online EM on the batch X (see
        :meth:`kmix.models.gaussian_mixture.GaussianMixtureCore.partial_fit`); returns self."""
        return _partial_fit(self, GaussianMixtureCore.partial_fit, not hasattr(self, "n_features_in_"),
                            X, y, sample_weight)

    def _set_parameters(self, params: tuple) -> None:
        # scikit-learn's private setter (its own tests call it): fitted parameters
        # from (weights, means, covariances, precisions_cholesky).
        weights, means, covariances, precisions_cholesky = params
        self.weights_, self.means_ = weights, means
        self.covariances_, self.precisions_cholesky_ = covariances, precisions_cholesky
        self.precisions_ = self._precisions(precisions_cholesky, self.covariance_type)

    def _initialize(self, X: ArrayLike, resp: ArrayLike) -> None:
        # scikit-learn's private initialiser (its own tests call it): the parameters
        # of the responsibilities ``resp`` (n, k), the given *_init taking
        # precedence, as a fit would start from them. As in scikit-learn, the
        # number of components is resp's, whatever n_components says.
        X = check_data(X)
        with backends.wrap(X, None) as data:
            resp = check_array(resp, name="resp", dtype=(data.dtype.type,))
            if resp.shape[0] != data.n_samples:
                raise ValueError(f"resp must have one row per sample ({data.n_samples}), got {resp.shape[0]}")
            as_given = copy.copy(self)
            as_given.n_components = resp.shape[1]
            checked = check_parameters(as_given, data.n_samples, data.n_features, data.dtype,
                                       data.n_positive_weights())
            start = self._initial_parameters(data, checked, None, False, resp=resp)
        self._set_parameters(tuple(start))

    def _checked(self, X: ArrayLike) -> None:
        check_is_fitted(self, "means_")
        _check_columns(self, X, reset=False)

    def predict(self, X: ArrayLike) -> Any:
        self._checked(X)
        return GaussianMixtureCore.predict(self, X)

    def predict_proba(self, X: ArrayLike) -> Any:
        self._checked(X)
        return GaussianMixtureCore.predict_proba(self, X)

    def score_samples(self, X: ArrayLike) -> Any:
        self._checked(X)
        return GaussianMixtureCore.score_samples(self, X)

    def score(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> float:
        self._checked(X)
        return GaussianMixtureCore.score(self, X, y, sample_weight=sample_weight)

    def information_criteria(self, X: ArrayLike) -> tuple[float, float, float]:
        self._checked(X)
        return GaussianMixtureCore.information_criteria(self, X)

    def bic(self, X: ArrayLike) -> float:
        self._checked(X)
        return GaussianMixtureCore.bic(self, X)

    def aic(self, X: ArrayLike) -> float:
        self._checked(X)
        return GaussianMixtureCore.aic(self, X)

    for _name in ("fit_predict", "predict", "predict_proba", "score_samples", "score",
                  "information_criteria", "bic", "aic"):
        locals()[_name].__doc__ = getattr(GaussianMixtureCore, _name).__doc__
    del _name


KMeans.__doc__ = (KMeansCore.__doc__ or "").rstrip() + "\n" + _SHELL_NOTE
MiniBatchKMeans.__doc__ = (MiniBatchKMeansCore.__doc__ or "").rstrip() + "\n" + _SHELL_NOTE
GaussianMixture.__doc__ = (GaussianMixtureCore.__doc__ or "").rstrip() + "\n" + _SHELL_NOTE


def k_means(
    X: ArrayLike,
    n_clusters: int,
    *,
    sample_weight: ArrayLike | None = None,
    init: Any = "k-means++",
    n_init: int | str = "auto",
    max_iter: int = 300,
    verbose: bool | int = False,
    tol: float = 1e-4,
    random_state: Any = None,
    copy_x: bool = True,
    algorithm: str = "lloyd",
    return_n_iter: bool = False,
) -> tuple:
    """k-means clustering as one function call, as scikit-learn's ``k_means``.

    Fits a :class:`KMeans` (without its history) with these parameters and
    returns what it found; see :class:`KMeans` for their meaning.

    Parameters
    ----------
    X : array-like (n_samples, n_features)
    n_clusters : int
    sample_weight : array-like (n_samples,), optional
    init, n_init, max_iter, verbose, tol, random_state, copy_x, algorithm
        As for :class:`KMeans` (``init`` defaults to "k-means++", ``algorithm``
        to "lloyd", as in scikit-learn).
    return_n_iter : bool, default False
        Also return the number of iterations of the kept run.

    Returns
    -------
    cluster_centers : ndarray (n_clusters, n_features)
    labels : ndarray (n_samples,)
    inertia : float
        Weighted SSD of the points to their centres.
    n_iter : int
        Only with ``return_n_iter``.
    """
    if not isinstance(return_n_iter, (bool, np.bool_)):
        raise ValueError(f"return_n_iter must be True or False, got {return_n_iter!r}")
    model = KMeans(
        n_clusters=n_clusters, init=init, n_init=n_init, max_iter=max_iter, verbose=verbose, tol=tol,
        random_state=random_state, copy_x=copy_x, algorithm=algorithm, record_history=False,
    ).fit(X, sample_weight=sample_weight)
    if return_n_iter:
        return model.cluster_centers_, model.labels_, model.inertia_, model.n_iter_
    return model.cluster_centers_, model.labels_, model.inertia_
