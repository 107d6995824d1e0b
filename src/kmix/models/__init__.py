"""Estimators with scikit-learn conventions, and the History they record."""

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
