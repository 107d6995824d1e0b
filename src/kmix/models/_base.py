"""The estimators' core base: scikit-learn's parameter conventions without importing
it (the scikit-learn estimators in :mod:`kmix.estimators` add the rest)."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np


class BaseModel:
    """Constructor parameters are stored as given; ``fit`` sets attributes ending in ``_``.

    Provides ``get_params``/``set_params`` (so ``sklearn.base.clone`` and grid
    searches work) and a repr that lists the parameters that differ from their
    defaults.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(
            name
            for name, parameter in signature.parameters.items()
            if name != "self" and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters and their current values."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "BaseModel":
        """Set constructor parameters; unknown names raise a ValueError."""
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r} for {type(self).__name__}; "
                    f"valid parameters: {', '.join(sorted(valid))}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(type(self).__init__).parameters.items()
        }
        shown = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
                changed = True
            else:
                try:
                    changed = bool(value != default)
                except Exception:
                    changed = True
            if changed:
                text = f"array(shape={value.shape})" if isinstance(value, np.ndarray) else repr(value)
                shown.append(f"{name}={text}")
        return f"{type(self).__name__}({', '.join(shown)})"
