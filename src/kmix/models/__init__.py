"""Estimators with scikit-learn conventions, the fitting loops under them, and the History they record.

:mod:`.lloyd` (k-means), :mod:`.minibatch` (mini-batch k-means) and :mod:`.em`
(Gaussian mixtures) are the loops: they reach the data through a data object of
:mod:`kmix.backends` and never ask where it lives. The estimators check their
parameters and call them; :func:`solve_qp` is the quadratic program.
"""

from .gaussian_mixture import GaussianMixtureCore, GaussianMixtureState
from .history import History
from .kmeans import KMeansCore, KMeansState
from .qp import QPResult, solve_qp

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


def __getattr__(name: str):
    # The scikit-learn estimators import scikit-learn: only when asked for.
    if name in ("KMeans", "MiniBatchKMeans", "GaussianMixture"):
        from .. import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
