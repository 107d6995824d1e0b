"""kmix: fit and see.

k-means and Gaussian mixtures fitted by EM with every iteration recorded and
drawn, and the constrained quadratic program min xᵀMx + xᵀh s.t. Bx >= c solved
through its dual.

``KMeans``, ``MiniBatchKMeans`` and ``GaussianMixture`` are scikit-learn
estimators; they, the functions ``k_means`` and ``kmeans_plusplus``, and the
exceptions that subclass scikit-learn's, are loaded on first use, so that
``import kmix`` (and the command line) does not pay for importing scikit-learn.
"""

from . import datasets
from .exceptions import (
    DataError,
    IllConditionedError,
    KmixError,
    MissingDependencyError,
    NumericalError,
)
from .io import load_data, load_model, save_model
from .models import GaussianMixtureState, History, KMeansState, QPResult, solve_qp

__version__ = "0.1.0"

__all__ = [
    "KMeans",
    "MiniBatchKMeans",
    "GaussianMixture",
    "k_means",
    "kmeans_plusplus",
    "select_mixture",
    "MixtureSelection",
    "select_k",
    "KSelection",
    "Batches",
    "GaussianMixtureState",
    "KMeansState",
    "History",
    "solve_qp",
    "QPResult",
    "load_data",
    "save_model",
    "load_model",
    "datasets",
    "KmixError",
    "DataError",
    "NotFittedError",
    "NumericalError",
    "IllConditionedError",
    "MissingDependencyError",
    "ConvergenceWarning",
    "__version__",
]

# name -> the module that defines it, imported when the name is first used
_ON_FIRST_USE = {
    "KMeans": "estimators",
    "MiniBatchKMeans": "estimators",
    "GaussianMixture": "estimators",
    "k_means": "estimators",
    "kmeans_plusplus": "models.kmeans",
    "select_mixture": "models.selection",
    "MixtureSelection": "models.selection",
    "select_k": "models.select_k",
    "KSelection": "models.select_k",
    "Batches": "backends.batches",
    "NotFittedError": "exceptions",
    "ConvergenceWarning": "exceptions",
}


def __getattr__(name: str):
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_ON_FIRST_USE))
