"""Saving and loading fitted models: one ``.npz`` file of JSON metadata and plain
arrays, never a pickle (:func:`save_model`, :func:`load_model`, also in :mod:`kmix.io`).

A file holds one estimator (KMeans, GaussianMixture) or a model selection (its
grids and the fitted model of every cell). Each estimator is a *record*: its
parameters, its fitted scalars in the metadata, and its fitted arrays and history
as arrays under a prefix, so that a selection stores its cells as records under
prefixes of their own.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ._datafiles import NpzArchive, check_regular, data_error, file_status
from ._paths import shorten
from ._validation import is_dask_array
from .exceptions import DataError

__all__ = ["save_model", "load_model"]

_FORMAT = "kmix-model"
# Version 2 adds model selections; files of version 1 (one estimator) read as before.
_VERSION = 2
_SELECTION = "MixtureSelection"
# Arrays a model file may hold: numbers, booleans and text (never objects).
_MODEL_ARRAY_KINDS = "fiubU"


def _registry() -> dict[str, type]:
    """The classes a saved estimator loads back as, by the name it was saved under."""
    from . import estimators

    return {"KMeans": estimators.KMeans, "GaussianMixture": estimators.GaussianMixture}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


def _saved_name(model: Any) -> str:
    name = getattr(type(model), "_saved_as", None)
    if name is None:
        raise ValueError(
            f"cannot save a {type(model).__name__}; savable models: KMeans, GaussianMixture, "
            "MixtureSelection"
        )
    return name


def _record(model: Any, prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The metadata of one estimator; its arrays go into ``arrays`` under ``prefix``."""
    params: dict[str, Any] = {}
    for key, value in model.get_params(deep=False).items():
        if isinstance(value, np.ndarray):
            arrays[f"{prefix}param/{key}"] = value
        elif callable(value) or isinstance(value, (np.random.Generator, np.random.RandomState)):
            params[key] = None  # not storable; the fitted state does not depend on it
        elif key == "client" and not isinstance(value, str):
            params[key] = None  # a live dask client: where a fit ran, not what it found
        else:
            params[key] = _jsonable(value)
    fitted: dict[str, Any] = {}
    text_arrays: list[str] = []
    for key, value in vars(model).items():
        if not key.endswith("_") or key.startswith("_") or key == "history_":
            continue
        if is_dask_array(value):
            value = np.asarray(value)  # computed with the active dask scheduler
        if isinstance(value, np.ndarray) and value.dtype == object:
            # Column names (feature_names_in_): stored as text, never pickled.
            if not all(isinstance(item, str) for item in value.ravel()):
                raise ValueError(f"cannot save {key}: it holds objects other than strings")
            arrays[f"{prefix}fitted/{key}"] = np.asarray(value.tolist(), dtype=str)
            text_arrays.append(key)
        elif isinstance(value, np.ndarray):
            arrays[f"{prefix}fitted/{key}"] = value
        else:
            fitted[key] = _jsonable(value)
    history = getattr(model, "history_", None)
    history_meta = None
    if history is not None:
        own: dict[str, np.ndarray] = {}
        history_meta = history.to_dict(own)
        arrays.update({f"{prefix}{key}": value for key, value in own.items()})
    return {"class": _saved_name(model), "params": params, "fitted": fitted, "history": history_meta,
            "object_arrays": text_arrays}


def save_model(model: Any, path: str | os.PathLike) -> None:
    """Save a fitted estimator, or a model selection with every cell's model, as one
    ``.npz`` file: JSON metadata plus arrays.

    Parameters, fitted arrays and scalars, and the per-iteration history are kept;
    the file loads back with :func:`load_model` without unpickling anything.
    """
    from .io import atomic_write

    arrays: dict[str, np.ndarray] = {}
    if _saved_name(model) == _SELECTION:
        meta = {"format": _FORMAT, "version": _VERSION, "class": _SELECTION, "params": {}, "fitted": {},
                "history": None, "selection": model._to_record(arrays, _record)}
    else:
        meta = {"format": _FORMAT, "version": _VERSION, **_record(model, "", arrays)}
    arrays["__meta__"] = np.array(json.dumps(meta))
    with atomic_write(path) as stream:
        np.savez(stream, **arrays)


def _not_a_model(shown: str, reason: str) -> DataError:
    return data_error(
        shown, f"not a kmix model file (or one written by an incompatible version of kmix): {reason}"
    )


def _read_meta(archive: NpzArchive, shown: str) -> dict[str, Any]:
    """The JSON metadata of a model file, checked for the keys load_model needs."""
    if "__meta__" not in archive.members:
        raise _not_a_model(shown, "it has no __meta__ entry")
    try:
        stored = archive.read("__meta__", kinds="U")
    except DataError as exc:
        raise _not_a_model(shown, f"its metadata {getattr(exc, 'reason', exc)}") from exc
    if stored.ndim != 0:
        raise _not_a_model(shown, f"its metadata is an array of shape {stored.shape}, not one JSON text")
    try:
        meta = json.loads(str(stored[()]))
    except (ValueError, RecursionError) as exc:
        raise _not_a_model(shown, f"its metadata is not JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise _not_a_model(shown, f"its metadata is a JSON {type(meta).__name__}, not an object")
    if meta.get("format") != _FORMAT:
        raise _not_a_model(shown, f"its metadata does not say format {_FORMAT!r}")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= _VERSION:
        raise _not_a_model(
            shown, f"it is in model format version {version!r}; this kmix reads versions 1 to {_VERSION}"
        )
    _check_record(meta, shown)
    return meta


def _check_record(record: Any, shown: str) -> None:
    if not isinstance(record, dict):
        raise _not_a_model(shown, f"a model's metadata is a JSON {type(record).__name__}, not an object")
    for key, kinds in (("class", str), ("params", dict), ("fitted", dict)):
        if key not in record:
            raise _not_a_model(shown, f"its metadata has no {key!r}")
        if not isinstance(record[key], kinds):
            raise _not_a_model(shown, f"its metadata's {key!r} is a {type(record[key]).__name__}")
    if not isinstance(record.get("history"), (dict, type(None))):
        raise _not_a_model(shown, f"its metadata's 'history' is a {type(record['history']).__name__}")


def _check_attribute_name(name: str, shown: str) -> None:
    # Only fitted attributes (public names ending in "_") may be set: a file must
    # not replace a model's methods or private state.
    if not (name.isidentifier() and name.endswith("_") and not name.startswith("_")):
        raise _not_a_model(shown, f"it names {name!r}, which is not a fitted attribute")


def _from_record(record: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str, shown: str) -> Any:
    """The estimator a record describes, its arrays read from ``arrays`` under ``prefix``."""
    from .models.history import History

    _check_record(record, shown)
    cls = _registry().get(record["class"])
    if cls is None:
        raise _not_a_model(
            shown, f"unknown model class {record['class']!r} (kmix saves {', '.join(_registry())}, "
                   f"{_SELECTION})"
        )
    params = dict(record["params"])
    fitted = dict(record["fitted"])
    own = {key[len(prefix):]: value for key, value in arrays.items() if key.startswith(prefix)}
    for key, value in own.items():
        if key.startswith("param/"):
            params[key[len("param/"):]] = value
        elif key.startswith("fitted/"):
            fitted[key[len("fitted/"):]] = value
    unknown = sorted(set(params) - set(cls._param_names()))
    if unknown:
        raise _not_a_model(shown, f"{cls.__name__} has no parameter {', '.join(map(repr, unknown))}")
    text_arrays = record.get("object_arrays")
    for name in text_arrays if isinstance(text_arrays, list) else ():
        if isinstance(name, str) and isinstance(fitted.get(name), np.ndarray) and fitted[name].dtype.kind == "U":
            fitted[name] = fitted[name].astype(object)  # as scikit-learn holds column names
    for name in fitted:
        _check_attribute_name(name, shown)
    try:
        model = cls(**params)
    except (TypeError, ValueError) as exc:
        raise _not_a_model(shown, f"its parameters do not make a {cls.__name__} ({exc})") from exc
    for name in getattr(cls, "_fitted_arrays", ()):
        value = fitted.get(name)
        if not (isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size
                and np.isfinite(value).all()):
            raise _not_a_model(shown, f"it holds no fitted {name} (finite numbers)")
    for name, value in fitted.items():
        setattr(model, name, value)
    if record.get("history") is not None:
        try:
            model.history_ = History.from_dict(record["history"], own)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            reason = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
            raise _not_a_model(shown, f"its history is incomplete or damaged ({reason})") from exc
    return model


def load_model(path: str | os.PathLike) -> Any:
    """Load an estimator or a model selection saved by :func:`save_model`.

    Raises
    ------
    DataError
        Naming the file: no such file, not a readable archive, or not a kmix
        model file (or one from an incompatible version) and why: missing or
        unreadable metadata, an unknown model class or parameter, a damaged
        member.
    """
    text = os.fspath(path)
    shown = shorten(text)
    status = file_status(text, shown)
    if status is None:
        raise data_error(shown, "no such file")
    check_regular(status, shown)
    if status.st_size == 0:
        raise _not_a_model(shown, "the file is empty")
    with NpzArchive(text, shown, status.st_size, kind="a kmix model file") as archive:
        meta = _read_meta(archive, shown)
        if meta["class"] != _SELECTION and _registry().get(meta["class"]) is None:
            _from_record(meta, {}, "", shown)  # names the unknown class before reading any array
        arrays = {
            key: archive.read(key, kinds=_MODEL_ARRAY_KINDS) for key in archive.members if key != "__meta__"
        }
    if meta["class"] == _SELECTION:
        from .models.selection import MixtureSelection

        try:
            return MixtureSelection._from_record(
                meta.get("selection"), arrays, lambda record, prefix: _from_record(record, arrays, prefix, shown))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            if isinstance(exc, DataError):
                raise
            raise _not_a_model(shown, f"its model selection is incomplete or damaged ({exc!r})") from exc
    return _from_record(meta, arrays, "", shown)
