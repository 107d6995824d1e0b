"""Type aliases shared across kmix."""

from __future__ import annotations

from typing import Literal, Union, get_args

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.floating]
IntArray = npt.NDArray[np.integer]
CovarianceType = Literal[
    "full", "tied", "diag", "spherical",
    "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV",
]
RandomStateLike = Union[int, np.random.Generator, np.random.RandomState, None]
Criterion = Literal["bic", "icl", "aic"]

# The names, in one place for the library and the command line (which reads them
# without loading the modules that fit).
COVARIANCE_NAMES: tuple[str, ...] = get_args(CovarianceType)  # scikit-learn's four, then mclust's fourteen
MCLUST_MODELS: tuple[str, ...] = COVARIANCE_NAMES[4:]  # in mclust's order
CRITERIA: tuple[str, ...] = get_args(Criterion)

__all__ = ["ArrayLike", "FloatArray", "IntArray", "CovarianceType", "RandomStateLike", "Criterion",
           "COVARIANCE_NAMES", "MCLUST_MODELS", "CRITERIA", "is_sparse"]


def is_sparse(X: object) -> bool:
    """True for a scipy.sparse matrix or array, without importing scipy.sparse (a
    run on dense data never loads it)."""
    return type(X).__module__.startswith("scipy.sparse")
