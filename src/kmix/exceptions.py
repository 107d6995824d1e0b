"""Exceptions and warnings raised by kmix.

Every error kmix raises on purpose derives from :class:`KmixError`, so a caller can
catch them all at once; the ones about bad input or an ill-conditioned fit also
derive from ``ValueError``. :class:`NotFittedError` and :class:`ConvergenceWarning`
subclass scikit-learn's, so ``except sklearn.exceptions.NotFittedError`` and
warning filters written for scikit-learn catch kmix's too. They are made on first
use: importing scikit-learn costs a command-line run more than the rest of kmix,
so it happens only when one of them is actually raised or asked for.
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


def _not_fitted_error() -> type:
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError

    class NotFittedError(KmixError, SklearnNotFittedError):
        """A fitted attribute or a prediction was asked of an estimator before ``fit``.

        Also scikit-learn's NotFittedError (a ValueError and an AttributeError).
        """

    return NotFittedError


def _convergence_warning() -> type:
    from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning

    class ConvergenceWarning(SklearnConvergenceWarning):
        """The iteration stopped at ``max_iter`` or a degenerate case was met.

        A warning, not an error: the fitted result is still usable. Also
        scikit-learn's ConvergenceWarning (a UserWarning).
        """

    return ConvergenceWarning


_MADE_ON_FIRST_USE = {"NotFittedError": _not_fitted_error, "ConvergenceWarning": _convergence_warning}


def __getattr__(name: str) -> type:
    make = _MADE_ON_FIRST_USE.get(name)
    if make is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    made = make()
    made.__module__, made.__qualname__ = __name__, name
    globals()[name] = made  # made once: every later use gets the same class
    return made
