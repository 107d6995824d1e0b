"""Estimators with scikit-learn conventions, and the History they record."""

from .history import History
from .kmeans import KMeans, KMeansState

# Models that kmix.io.save_model / load_model know how to store.
SAVABLE_MODELS = (KMeans,)

__all__ = ["History", "KMeans", "KMeansState", "SAVABLE_MODELS"]
