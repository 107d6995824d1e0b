"""The per-iteration record of a fit, kept for pictures and animations."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["History"]


class History:
    """What a fit recorded after every iteration.

    Each field is a sequence of per-iteration values, read as a stacked array by
    attribute (``history.ssd``, ``history.centers``). Fields may differ in length
    by one where the initial state is recorded too (``centers`` holds the initial
    centres followed by the centres after every iteration).

    Attributes
    ----------
    n_iter : int
        Number of completed iterations.
    converged : bool
        Whether the convergence criterion stopped the fit.
    stopped_by_callback : bool
        Whether the user's callback asked to stop.
    """

    def __init__(self, fields: dict[str, str] | None = None) -> None:
        # name -> short description, in the order fields were declared
        self._descriptions: dict[str, str] = dict(fields or {})
        self._values: dict[str, list[np.ndarray]] = {name: [] for name in self._descriptions}
        self.n_iter = 0
        self.converged = False
        self.stopped_by_callback = False

    def append(self, **values: Any) -> None:
        """Add one value to each named field (copied, so later in-place updates do not leak)."""
        for name, value in values.items():
            self._values.setdefault(name, []).append(np.array(value, copy=True))

    def extend(self, **values: Any) -> None:
        """Add several values to each named field at once: ``values[name][i]`` is the
        i-th new value (copied)."""
        for name, stacked in values.items():
            self._values.setdefault(name, []).extend(np.array(stacked, copy=True))

    def fields(self) -> list[str]:
        """Names of the recorded fields."""
        return [name for name, values in self._values.items() if values]

    def describe(self) -> dict[str, str]:
        """Field names with their descriptions."""
        return {name: self._descriptions.get(name, "") for name in self.fields()}

    def __contains__(self, name: str) -> bool:
        return bool(self._values.get(name))

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_"):  # not a field; keeps copy and pickle away from recursion
            raise AttributeError(name)
        values = self.__dict__.get("_values", {}).get(name)
        if not values:
            raise AttributeError(
                f"this History has no field {name!r}; recorded fields: "
                f"{', '.join(self.fields()) or 'none'}"
            )
        # One array from values of one shape (np.stack's result, built in one call).
        return np.array(values)

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return getattr(self, name)
        except AttributeError as exc:
            raise KeyError(name) from exc

    def __repr__(self) -> str:
        shapes = ", ".join(f"{name}{tuple(getattr(self, name).shape)}" for name in self.fields())
        return f"History(n_iter={self.n_iter}, converged={self.converged}, {shapes})"

    # --- storage (used by kmix.io) ----------------------------------------------
    def to_dict(self, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        """Put the fields into ``arrays`` (written) and return the JSON-able rest."""
        for name in self.fields():
            arrays[f"history/{name}"] = getattr(self, name)
        return {
            "n_iter": self.n_iter,
            "converged": bool(self.converged),
            "stopped_by_callback": bool(self.stopped_by_callback),
            "fields": self.describe(),
        }

    @classmethod
    def from_dict(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "History":
        history = cls(meta.get("fields", {}))
        for name in meta.get("fields", {}):
            stacked = arrays.get(f"history/{name}")
            if stacked is not None:
                history._values[name] = list(stacked)
        history.n_iter = int(meta["n_iter"])
        history.converged = bool(meta["converged"])
        history.stopped_by_callback = bool(meta["stopped_by_callback"])
        return history
