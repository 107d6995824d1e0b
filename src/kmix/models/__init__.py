"""Estimators with scikit-learn conventions, the fitting loops under them, and the History they record.

:mod:`.lloyd` (k-means), :mod:`.minibatch` (mini-batch k-means) and :mod:`.em`
(Gaussian mixtures) are the loops: they reach the data through a data object of
:mod:`kmix.backends` and never ask where it lives. The estimators check their
parameters and call them; :func:`solve_qp` is the quadratic program.

Each name is loaded on first use, so that a k-means run does not import the
mixtures' modules (nor scipy.linalg with them), and the scikit-learn estimators
import scikit-learn only when asked for.
"""

__all__ = [
    "History",
    "KMeans",
    "KMeansCore",
    "MiniBatchKMeans",
    "KMeansState",
    "GaussianMixture",
    "GaussianMixtureCore",
    "GaussianMixtureState",
    "QPResult",
    "solve_qp",
]

# name -> the module that defines it
_ON_FIRST_USE = {
    "History": ".history",
    "KMeansCore": ".kmeans",
    "KMeansState": ".kmeans",
    "GaussianMixtureCore": ".gaussian_mixture",
    "GaussianMixtureState": ".gaussian_mixture",
    "QPResult": ".qp",
    "solve_qp": ".qp",
    "KMeans": "..estimators",
    "MiniBatchKMeans": "..estimators",
    "GaussianMixture": "..estimators",
}


def __getattr__(name: str):
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    if not module.startswith(".."):  # the estimators stay looked up (scikit-learn's on first use)
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_ON_FIRST_USE))
