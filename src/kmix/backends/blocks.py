"""What a kernel sees of the data: one block of rows, whichever backend holds it."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import is_sparse
from ..kernels.kmeans import squared_norms

__all__ = ["Block", "row_blocks", "whole_block_only"]


class Block:
    """One block of rows handed to a kernel by a backend.

    Kernels of the data protocol have the signature ``kernel(block, *params)``
    and read only these attributes; the backend decides how large a block is,
    where it runs and on how many threads.

    Attributes
    ----------
    X : ndarray (m, n_features), float32 or float64, or a scipy.sparse CSR matrix
        The rows, in the frame of the data object (centred when it is; sparse
        rows never are).
    sample_weight : ndarray (m,), X's dtype
    x_norms : ndarray (m,), X's dtype
        Squared norms of the rows of X, computed on first use when the backend
        did not have them.
    unit_weight : bool
        Every weight is 1 (computed on first use when the backend did not know).
    state : per-row state of an earlier pass for these rows, or None
    index : int
        The block's chunk index: with a seed, what makes per-chunk random draws
        independent of where and in which order chunks run.
    n_threads : int
        Threads a compiled kernel may use on this block.
    owns_state : bool
        The kernel may write into ``state`` (no other task will read it again).
    compiled : bool
        Dense rows go through the compiled passes; False (small in-memory data,
        see :func:`kmix.kernels.compiled_pays`): through the numpy entry points.
    """

    __slots__ = ("X", "sample_weight", "state", "index", "n_threads", "owns_state", "compiled",
                 "_x_norms", "_unit_weight")

    def __init__(self, X: np.ndarray, sample_weight: np.ndarray, *, x_norms: np.ndarray | None = None,
                 unit_weight: bool | None = None, state: Any = None, index: int = 0,
                 n_threads: int = 1, owns_state: bool = False, compiled: bool = True) -> None:
        self.X = X
        self.compiled = compiled
        self.sample_weight = sample_weight
        self.state = state
        self.index = index
        self.n_threads = n_threads
        self.owns_state = owns_state
        self._x_norms = x_norms
        self._unit_weight = unit_weight

    @property
    def x_norms(self) -> np.ndarray:
        if self._x_norms is None:
            if is_sparse(self.X):
                from ..kernels.kmeans_sparse import squared_norms as sparse_squared_norms

                self._x_norms = sparse_squared_norms(self.X, n_threads=self.n_threads)
            else:
                self._x_norms = squared_norms(self.X)
        return self._x_norms

    @property
    def unit_weight(self) -> bool:
        if self._unit_weight is None:
            self._unit_weight = bool(np.all(self.sample_weight == 1))
        return self._unit_weight

    def rows(self, rows: slice) -> "Block":
        """The sub-block of these rows (same chunk index, one thread, no state)."""
        return Block(
            self.X[rows], self.sample_weight[rows],
            x_norms=None if self._x_norms is None else self._x_norms[rows],
            unit_weight=self._unit_weight, index=self.index, compiled=self.compiled,
        )


def row_blocks(n_rows: int, block_rows: int) -> list[slice]:
    """Consecutive slices of ``block_rows`` rows covering ``range(n_rows)``."""
    return [slice(start, min(start + block_rows, n_rows)) for start in range(0, n_rows, block_rows)]


def whole_block_only(a: Any, b: Any) -> Any:
    """The ``merge`` of a kernel that runs on the whole block in one call (a fitting
    loop given ``block_rows=None`` by a data object whose ``dense_block`` is True):
    there are never two partial results to merge."""
    raise AssertionError("a kernel on the whole block has no partial results to merge")
