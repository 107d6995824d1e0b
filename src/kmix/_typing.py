"""Type aliases shared across kmix."""

from __future__ import annotations

from typing import Literal, Union

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

__all__ = ["ArrayLike", "FloatArray", "IntArray", "CovarianceType", "RandomStateLike"]
