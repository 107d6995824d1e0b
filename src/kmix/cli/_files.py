"""Writing figures and models from the command line, atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..io import atomic_write, save_model


def save_figure(figure: Any, path: Path) -> Path:
    """Write a matplotlib figure to ``path`` (format from the suffix), atomically."""
    with atomic_write(path) as stream:
        figure.savefig(stream, format=path.suffix.lstrip(".").lower() or "png", dpi=110)
    return path


def result_path(path: Path) -> Path:
    """Where :func:`save_result` writes for ``path``: ``path`` itself when it ends
    in ``.npz``, else ``path`` with ``.npz`` added."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        path = path.with_name(path.name + ".npz")
    return path


def save_result(model: Any, path: Path) -> Path:
    """Save a fitted model (JSON metadata + arrays in one .npz), atomically, at
    :func:`result_path` of ``path``; returns that path."""
    path = result_path(path)
    save_model(model, path)
    return path
