"""k-means|| seeding (Bahmani et al. 2012), as per-chunk statistics that merge.

The scalable initialisation makes a few passes over the data instead of one per
centre:

1. one centre drawn with probability proportional to the sample weight;
2. a few rounds, each keeping every point x independently with probability
   ``min(1, l * w(x) * D²(x) / phi)``, where ``D²(x)`` is its squared distance to
   the nearest candidate so far, ``phi = sum w D²`` and ``l`` the oversampling
   factor (expected ``l`` new candidates per round);
3. each candidate weighted by the total weight of the points nearest to it;
4. the weighted candidates (a few times k points, in memory) clustered into k.

Every function here sees one chunk of rows and returns something small that
merges across chunks, so the same code runs on one in-memory block or on every
chunk of a dask array. The chunk functions share one signature,
``f(X, sample_weight, x_norms, state, chunk_index, *args) -> (state, partial)``:
``state`` is a per-row array carried from pass to pass (the distances ``D²``) or
None, ``partial`` merges with the function named beside it. Randomness comes from
a seed and the chunk's index, so a result depends only on the seed and the
chunking, never on the order in which chunks run.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .kmeans import block_rows, squared_distances, squared_norms

__all__ = [
    "KeyedSample",
    "chunk_rng",
    "keyed_sample",
    "merge_keyed",
    "update_closest",
    "oversample",
    "nearest_candidate_weights",
    "chunk_keyed_sample",
    "chunk_update_closest",
    "chunk_oversample",
    "chunk_candidate_weights",
    "concatenate_points",
    "add",
]


class KeyedSample(NamedTuple):
    """A weighted sample without replacement, kept as the rows with the largest keys.

    With key ``log(u) / w`` for ``u`` uniform on (0, 1) (Efraimidis and Spirakis
    2006), the m largest keys of the whole data are a weighted sample of size m,
    and the m largest of two chunks' m largest are those of their union: a sample
    drawn chunk by chunk merges exactly.
    """

    keys: np.ndarray  # (m,) float64, descending; -inf for zero weight
    points: np.ndarray  # (m, d) the sampled rows, in key order


def chunk_rng(seed: int, chunk_index: int) -> np.random.Generator:
    """The random generator of one chunk in one pass: a function of both numbers only."""
    return np.random.default_rng([int(seed), int(chunk_index)])


def keyed_sample(X: np.ndarray, sample_weight: np.ndarray, size: int,
                 rng: np.random.Generator) -> KeyedSample:
    """The ``size`` rows of X with the largest keys ``log(u) / w`` (fewer if X is shorter).

    Parameters
    ----------
    X : ndarray (n, d)
    sample_weight : ndarray (n,), non-negative
    size : int
    rng : numpy Generator

    Returns
    -------
    KeyedSample with min(size, n) rows
    """
    n = X.shape[0]
    # 1 - uniform lies in (0, 1]: log never sees 0.
    logs = np.log1p(-rng.random(n))
    weight = sample_weight.astype(np.float64, copy=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        keys = np.where(weight > 0, logs / np.where(weight > 0, weight, 1.0), -np.inf)
    m = min(size, n)
    if m < n:
        top = np.argpartition(-keys, m - 1)[:m]
    else:
        top = np.arange(n)
    top = top[np.argsort(-keys[top], kind="stable")]
    return KeyedSample(keys[top], np.array(X[top], dtype=np.float64))


def merge_keyed(a: KeyedSample, b: KeyedSample, size: int) -> KeyedSample:
    """The keyed sample of the union of two chunks (the ``size`` largest keys)."""
    keys = np.concatenate([a.keys, b.keys])
    points = np.concatenate([a.points, b.points])
    keep = np.argsort(-keys, kind="stable")[:size]
    return KeyedSample(keys[keep], points[keep])


def update_closest(X: np.ndarray, x_norms: np.ndarray, candidates: np.ndarray,
                   closest: np.ndarray | None = None) -> np.ndarray:
    """Squared distance of each row to its nearest candidate, shape (n,) float64.

    Parameters
    ----------
    X : ndarray (n, d)
    x_norms : ndarray (n,), squared norms of the rows of X
    candidates : ndarray (c, d)
        The candidates added since ``closest`` was computed.
    closest : ndarray (n,), optional
        Distances to the earlier candidates; not written (a new array is returned).
    """
    n = X.shape[0]
    out = np.full(n, np.inf) if closest is None else np.array(closest, dtype=np.float64)
    if candidates.shape[0] == 0 or n == 0:
        return out
    centers = candidates.astype(X.dtype, copy=False)
    center_norms = squared_norms(centers)
    # Blocks of rows keep the (rows, c) distance matrix a few MiB.
    step = block_rows(centers.shape[0], X.shape[1], X.dtype.itemsize)
    for start in range(0, n, step):
        stop = min(start + step, n)
        distances = squared_distances(X[start:stop], centers, x_norms[start:stop], center_norms)
        np.minimum(out[start:stop], distances.min(axis=1), out=out[start:stop])
    return out


def oversample(X: np.ndarray, sample_weight: np.ndarray, closest: np.ndarray, factor: float,
               total_cost: float, rng: np.random.Generator) -> np.ndarray:
    """The rows kept by one k-means|| round, shape (m, d) float64.

    Each row is kept with probability ``min(1, factor * w * closest / total_cost)``,
    independently; ``total_cost`` is ``sum w * closest`` over the whole data.
    """
    if X.shape[0] == 0 or total_cost <= 0:
        return np.empty((0, X.shape[1]))
    probability = (factor / total_cost) * sample_weight.astype(np.float64, copy=False) * closest
    kept = rng.random(X.shape[0]) < probability
    return np.array(X[kept], dtype=np.float64)


def nearest_candidate_weights(X: np.ndarray, sample_weight: np.ndarray, x_norms: np.ndarray,
                              candidates: np.ndarray) -> np.ndarray:
    """Total sample weight of the rows nearest to each candidate, shape (c,) float64."""
    c = candidates.shape[0]
    out = np.zeros(c)
    n = X.shape[0]
    if n == 0:
        return out
    centers = candidates.astype(X.dtype, copy=False)
    center_norms = squared_norms(centers)
    step = block_rows(c, X.shape[1], X.dtype.itemsize)
    for start in range(0, n, step):
        stop = min(start + step, n)
        nearest = squared_distances(X[start:stop], centers, x_norms[start:stop], center_norms).argmin(axis=1)
        out += np.bincount(nearest, weights=sample_weight[start:stop], minlength=c)
    return out


# --- the same steps with the chunk-function signature the backends call ----------------

def chunk_keyed_sample(X, sample_weight, x_norms, state, chunk_index, seed: int, size: int):
    """``(None, KeyedSample)`` of one chunk; merge with :func:`merge_keyed`."""
    return None, keyed_sample(X, sample_weight, size, chunk_rng(seed, chunk_index))


def chunk_update_closest(X, sample_weight, x_norms, state, chunk_index, candidates: np.ndarray):
    """``(closest, cost)`` of one chunk: the new distances and ``sum w * closest``; merge with :func:`add`."""
    closest = update_closest(X, x_norms, candidates, state)
    cost = float(np.dot(sample_weight.astype(np.float64, copy=False), closest)) if X.shape[0] else 0.0
    return closest, cost


def chunk_oversample(X, sample_weight, x_norms, state, chunk_index, factor: float,
                     total_cost: float, seed: int):
    """``(None, points)`` kept by one round in one chunk; merge with :func:`concatenate_points`."""
    return None, oversample(X, sample_weight, state, factor, total_cost, chunk_rng(seed, chunk_index))


def chunk_candidate_weights(X, sample_weight, x_norms, state, chunk_index, candidates: np.ndarray):
    """``(None, weights)`` of the candidates from one chunk; merge with :func:`add`."""
    return None, nearest_candidate_weights(X, sample_weight, x_norms, candidates)


def concatenate_points(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows of two chunks, in chunk order."""
    return np.concatenate([a, b])


def add(a, b):
    """Sum of two partial results (floats or arrays)."""
    return a + b
