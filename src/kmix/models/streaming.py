"""Fitting by ``partial_fit`` over data read in row batches, one batch in memory at a time.

:class:`RowStream` cuts a sequence of 2-D row sources (the readers of
:func:`kmix.io.npy_folder_readers`, which read a ``.npy`` file's rows through a
memory map only when asked for, or arrays) into batches of at most
``batch_rows`` rows, in order; :func:`partial_fit_passes` gives every batch of
every pass to a model's ``partial_fit`` (online EM for a GaussianMixture, a
mini-batch step for a KMeans); :func:`mixture_criteria` makes one more pass for
the fitted mixture's log-likelihood, BIC and AIC.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .._validation import check_int

__all__ = ["DEFAULT_BATCH_ROWS", "RowStream", "partial_fit_passes", "mixture_criteria"]

# Rows per batch when none is given: a few MB for tens of features.
DEFAULT_BATCH_ROWS = 10_000


class RowStream:
    """The rows of ``sources``, in order, as batches of at most ``batch_rows`` rows.

    Parameters
    ----------
    sources : sequence of 2-D row sources with ``shape`` and slicing by rows
        (``kmix.io.NpyRows``, ndarrays), all with the same number of columns
    batch_rows : int, default 10,000
        A source is cut into batches of this many rows (its last one shorter);
        a batch never spans two sources. A source of zero rows gives no batch.

    Attributes
    ----------
    n_samples, n_features : int
    n_batches : int, batches of one pass
    """

    def __init__(self, sources: Sequence[Any], batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        self.sources = list(sources)
        if not self.sources:
            raise ValueError("sources is empty: give at least one 2-D array or .npy reader")
        self.batch_rows = check_int(batch_rows, "batch_rows", minimum=1)
        columns = {int(source.shape[1]) for source in self.sources}
        if len(columns) != 1:
            raise ValueError(f"every source must have the same number of columns, got {sorted(columns)}")
        self.n_features = columns.pop()
        self.n_samples = sum(int(source.shape[0]) for source in self.sources)
        self.n_batches = sum(math.ceil(int(source.shape[0]) / self.batch_rows) for source in self.sources)

    def __iter__(self) -> Iterator[np.ndarray]:
        for source in self.sources:
            for start in range(0, int(source.shape[0]), self.batch_rows):
                # A reader copies the rows out of its memory map and closes it.
                yield np.asarray(source[start:start + self.batch_rows])


def partial_fit_passes(model: Any, stream: RowStream, n_passes: int = 1) -> Any:
    """``model.partial_fit(batch)`` for every batch of ``stream``, ``n_passes``
    times over; returns the model. Its callback, if any, sees every step."""
    n_passes = check_int(n_passes, "n_passes", minimum=1)
    for _ in range(n_passes):
        for batch in stream:
            model.partial_fit(batch)
    return model


def mixture_criteria(model: Any, stream: RowStream) -> tuple[float, float, float]:
    """The mean log-likelihood per sample, the BIC and the AIC of a fitted mixture
    on the rows of ``stream`` (one pass), as
    :meth:`kmix.models.gaussian_mixture.GaussianMixtureCore.information_criteria`
    gives them for data in memory."""
    total, n_samples = 0.0, 0
    for batch in stream:
        total += float(np.sum(model.score_samples(batch), dtype=np.float64))
        n_samples += batch.shape[0]
    mean = total / n_samples
    n_parameters = model._n_parameters()
    return (mean, -2.0 * total + n_parameters * math.log(n_samples), -2.0 * total + 2.0 * n_parameters)
