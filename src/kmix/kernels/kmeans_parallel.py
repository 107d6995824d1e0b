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
chunk of a dask array. The ``chunk_*`` functions are kernels of the backends'
data protocol, ``f(block, *args)``, where ``block`` has the attributes ``X`` (the
chunk's rows), ``sample_weight``, ``x_norms`` (squared norms of the rows),
``state`` and ``index`` (the chunk's index). They return a partial result that
merges with the function named beside it; :func:`chunk_update_closest` returns
``(state, partial)``, its state the per-row distances ``D²`` carried to the next
pass. Randomness comes from a seed and the chunk's index, so a result depends only
on the seed and the chunking, never on the order in which chunks run.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .kmeans import block_rows, nearest_centers, squared_norms

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
    weights: np.ndarray  # (m,) float64, their sample weights


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
    return KeyedSample(keys[top], np.array(X[top], dtype=np.float64), weight[top])


def merge_keyed(a: KeyedSample, b: KeyedSample, size: int) -> KeyedSample:
    """The keyed sample of the union of two chunks (the ``size`` largest keys)."""
    keys = np.concatenate([a.keys, b.keys])
    points = np.concatenate([a.points, b.points])
    weights = np.concatenate([a.weights, b.weights])
    keep = np.argsort(-keys, kind="stable")[:size]
    return KeyedSample(keys[keep], points[keep], weights[keep])


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
    _, nearest = nearest_centers(X, centers, x_norms, squared_norms(centers))
    np.minimum(out, nearest, out=out)
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
    labels, _ = nearest_centers(X, centers, x_norms, squared_norms(centers))
    # Weights summed per block of rows, the blocks' totals added in block order:
    # short running sums, as the chunks' partials are added in a chunked pass.
    step = block_rows(c, X.shape[1], X.dtype.itemsize)
    for start in range(0, n, step):
        stop = min(start + step, n)
        out += np.bincount(labels[start:stop], weights=sample_weight[start:stop], minlength=c)
    return out


# --- the same steps as kernels of the data protocol: f(block, *args) -----------------

def chunk_keyed_sample(block: Any, seed: int, size: int) -> KeyedSample:
    """The KeyedSample of one chunk; merge with :func:`merge_keyed`."""
    return keyed_sample(block.X, block.sample_weight, size, chunk_rng(seed, block.index))


def chunk_update_closest(block: Any, candidates: np.ndarray) -> tuple[np.ndarray, float]:
    """``(closest, cost)`` of one chunk: the new distances (per-row state, kept for the
    next pass) and ``sum w * closest``; merge the cost with :func:`add`."""
    closest = update_closest(block.X, block.x_norms, candidates, block.state)
    cost = (float(np.dot(block.sample_weight.astype(np.float64, copy=False), closest))
            if block.X.shape[0] else 0.0)
    return closest, cost


def chunk_oversample(block: Any, factor: float, total_cost: float, seed: int) -> np.ndarray:
    """The points kept by one round in one chunk (``block.state``: the distances of
    :func:`chunk_update_closest`); merge with :func:`concatenate_points`."""
    return oversample(block.X, block.sample_weight, block.state, factor, total_cost,
                      chunk_rng(seed, block.index))


def chunk_candidate_weights(block: Any, candidates: np.ndarray) -> np.ndarray:
    """The weights of the candidates from one chunk; merge with :func:`add`."""
    return nearest_candidate_weights(block.X, block.sample_weight, block.x_norms, candidates)


def concatenate_points(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows of two chunks, in chunk order."""
    return np.concatenate([a, b])


def add(a, b):
    """Sum of two partial results (floats or arrays)."""
    return a + b
