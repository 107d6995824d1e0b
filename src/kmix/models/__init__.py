"""Estimators with scikit-learn conventions, the fitting loops under them, and the History they record.

:mod:`.lloyd` (k-means) and :mod:`.em` (Gaussian mixtures) are the loops: they reach
the data through a data object of :mod:`kmix.backends` and never ask where it
lives. :class:`KMeans` and :class:`GaussianMixture` check their parameters and call
them; :func:`solve_qp` is the quadratic program.
"""

from .gaussian_mixture import GaussianMixture, GaussianMixtureState
from .history import History
from .kmeans import KMeans, KMeansState
from .qp import QPResult, solve_qp

# Models that kmix.io.save_model / load_model know how to store.
SAVABLE_MODELS = (KMeans, GaussianMixture)

__all__ = [
    "History",
    "KMeans",
    "KMeansState",
    "GaussianMixture",
    "GaussianMixtureState",
    "QPResult",
    "SAVABLE_MODELS",
    "solve_qp",
]
