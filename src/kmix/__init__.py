"""kmix: fit and see.

k-means and Gaussian mixtures fitted by EM with every iteration recorded and
drawn, and the constrained quadratic program min xᵀMx + xᵀh s.t. Bx >= c solved
through its dual.
"""

from . import datasets
from .exceptions import (
    ConvergenceWarning,
    DataError,
    IllConditionedError,
    KmixError,
    MissingDependencyError,
    NotFittedError,
    NumericalError,
)
from .io import load_data, load_model, save_model
from .models import GaussianMixture, GaussianMixtureState, History, KMeans, QPResult, solve_qp

__version__ = "0.1.0"

__all__ = [
    "KMeans",
    "GaussianMixture",
    "GaussianMixtureState",
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
