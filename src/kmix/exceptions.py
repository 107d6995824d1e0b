"""Exceptions and warnings raised by kmix.

Every error kmix raises on purpose derives from :class:`KmixError`, so a caller can
catch them all at once; the ones about bad input also derive from ``ValueError`` so
that code written for scikit-learn keeps working.
"""

from __future__ import annotations

__all__ = [
    "KmixError",
    "DataError",
    "NotFittedError",
    "ConvergenceWarning",
    "NumericalError",
    "IllConditionedError",
    "MissingDependencyError",
]


class KmixError(Exception):
    """Base class of every error raised by kmix."""


class DataError(KmixError, ValueError):
    """Input data that cannot be used: unreadable, wrongly shaped, not finite, ...

    The message names the source (file or dataset) where there is one, the row and
    column where it can, and the problem.
    """


class NotFittedError(KmixError, ValueError, AttributeError):
    """A fitted attribute or a prediction was asked of an estimator before ``fit``."""


class NumericalError(KmixError, ValueError, ArithmeticError):
    """A numerical step failed (for instance a Cholesky factorisation); the message
    says what to change.

    A ValueError too: the data or the parameters given make the problem
    ill-conditioned, and code that catches bad input catches this as well."""


class IllConditionedError(DataError, NumericalError):
    """A problem too ill-conditioned for float64 to give a trustworthy answer (for
    instance a quadratic program whose M is nearly singular).

    A DataError (so a ValueError), since the remedy is in the input: rescale it or
    regularise it; and a NumericalError, since float64 is what gave out.
    """


class MissingDependencyError(KmixError, ImportError):
    """An optional dependency is needed for the requested feature."""


class ConvergenceWarning(UserWarning):
    """The iteration stopped at ``max_iter`` or a degenerate case was met.

    A warning, not an error: the fitted result is still usable.
    """
