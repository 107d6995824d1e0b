"""kmix: fit and see.

k-means and Gaussian mixtures fitted by EM with every iteration recorded and
drawn, and the constrained quadratic program min xᵀMx + xᵀh s.t. Bx >= c solved
through its dual.

Every public name but the exceptions is loaded on first use: ``import kmix``
reads no module of numpy, scipy or scikit-learn, and a script or the command
line pays only for what it uses (the estimators, ``KMeans``, ``MiniBatchKMeans``
and ``GaussianMixture``, are scikit-learn's; the exceptions that subclass
scikit-learn's load it when first named).
"""

from .exceptions import (
    DataError,
    IllConditionedError,
    KmixError,
    MissingDependencyError,
    NumericalError,
)

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
    "GaussianMixtureState": "models",
    "KMeansState": "models",
    "History": "models",
    "QPResult": "models",
    "solve_qp": "models",
    "load_data": "io",
    "save_model": "io",
    "load_model": "io",
    # subpackages and modules, as attributes of the package
    **{module: None for module in ("datasets", "io", "models", "backends", "kernels", "viz", "cli", "textbook",
                                   "estimators")},
    "NotFittedError": "exceptions",
    "ConvergenceWarning": "exceptions",
}


def __getattr__(name: str):
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module = _ON_FIRST_USE[name]
    if module is None:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_ON_FIRST_USE))
