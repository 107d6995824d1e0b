"""The VVV criterion of model-based hierarchical clustering (see
:mod:`kmix.kernels.hierarchical`): Σ n_k log(|W_k/n_k| + β (tr W_k + α')/n_k), with
mclust's bookkeeping."""

from __future__ import annotations

import numpy as np

from .hierarchical import (
    _BLOCK_ELEMENTS,
    _ROOT_HALF,
    MergeFunction,
    _mclust_group_sums,
    _sequential_sum_of_squares,
)

__all__: list[str] = []


def _vvv_start(
    X: np.ndarray, labels: np.ndarray, n_groups: int, alpha: float
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What both VVV loops (this module's and the compiled one) start from: α' and each
    starting group's size (g,), scaled sum (g, d), trace (g,) and scatter matrix
    (g, d, d), all float64 and C-contiguous, new arrays."""
    n, d = X.shape
    # α' = α tr(W)/(n d), at least machine epsilon (as mclust).
    total_scatter = float(((X - X.mean(axis=0)) ** 2).sum())
    alpha_scaled = max(alpha * total_scatter / (n * d), np.finfo(float).eps)
    counts, sums, traces = _mclust_group_sums(X, labels, n_groups, "VVV")
    scatters = np.zeros((n_groups, d, d))
    if n_groups < n:
        # Second moments about each group's own mean: no cancellation. (Singletons'
        # scatter matrices are 0.)
        means = np.zeros((n_groups, d))
        np.add.at(means, labels, X)
        means /= counts[:, None]
        centred = X - means[labels]
        np.add.at(scatters, labels, centred[:, :, None] * centred[:, None, :])
    return alpha_scaled, counts, sums, traces, scatters


def _log_det(scatters: np.ndarray) -> np.ndarray:
    """log|W| of each matrix of a (m, d, d) stack; -inf where W is singular (rounding
    can leave it with a determinant <= 0)."""
    sign, log_det = np.linalg.slogdet(scatters)
    return np.where(sign > 0, log_det, -np.inf)


class _VVVGroups:
    """Sizes, scaled sums, scatter matrices, traces and criterion terms of the groups,
    by slot, and the cost matrix.

    Group k's scaled sum is its sum over √n_k (mclust keeps these rather than means):
    for two groups, v = √(n_j/n) s_i - √(n_i/n) s_j = √(n_i n_j/n) (m_i - m_j), and the
    union's scatter matrix is W_i + W_j + v vᵀ. ``scatters[k]`` is the matrix group k's
    determinant is taken of when it has just been formed, ``stored[k]`` the one used
    for it afterwards: one array, unless mclust's storage is reproduced (see
    :func:`hc_merges`): then a group formed by a merge is stored as mclust stores it
    (:func:`_mclust_stored_scatter`), and ``recent`` is the slot of the group the last
    merge formed.
    """

    def __init__(
        self,
        X: np.ndarray,
        labels: np.ndarray,
        n_groups: int,
        alpha: float,
        beta: float,
        mclust_compatible: bool,
    ) -> None:
        n, d = X.shape
        self.d = d
        self.beta = beta
        self.alpha, self.counts, self.sums, self.traces, self.scatters = _vvv_start(X, labels, n_groups, alpha)
        self.stored = self.scatters.copy() if mclust_compatible else self.scatters
        self.mclust_compatible = mclust_compatible
        self.recent = -1
        log_det = np.full(n_groups, -np.inf)
        big = self.counts > d
        log_det[big] = _log_det(self.scatters[big])
        # A singleton's term is log(α' β), as the formula gives.
        self.terms = self._terms(self.counts, self.traces, log_det)
        self.costs = np.empty((n_groups, n_groups))
        if n_groups == n:
            self._singleton_costs()
        else:
            for k in range(n_groups):
                self.costs[k, :k] = self.pair_costs(k, np.arange(k), self.stored[k])[0]
                self.costs[:k, k] = self.costs[k, :k]
        np.fill_diagonal(self.costs, np.inf)

    def _singleton_costs(self) -> None:
        """The costs between singletons, as :meth:`pair_costs` computes them, in blocks."""
        g = self.costs.shape[0]
        singleton_term = self.terms[0]
        block = max(1, _BLOCK_ELEMENTS // max(g, 1))
        for start in range(0, g, block):
            rows = slice(start, min(start + block, g))
            trace = np.zeros((rows.stop - start, g))
            for k in range(self.d):
                v = (self.sums[rows, k, None] - self.sums[:, k]) * _ROOT_HALF
                trace += v * v
            # Two points: n = 2 and no determinant.
            term = 2.0 * np.log(self.beta * (trace + self.alpha) / 2.0)
            self.costs[rows] = term - (singleton_term + singleton_term)

    def _terms(self, counts: np.ndarray, traces: np.ndarray, log_det: np.ndarray) -> np.ndarray:
        """n log(|W/n| + β (tr W + α')/n) from log|W| (-inf where |W/n| counts as 0).
        log(a + b) is taken as logaddexp: |W/n| can be far below or above the rest."""
        terms = np.log(self.beta * (traces + self.alpha) / counts)
        has = np.isfinite(log_det)
        if has.any():
            terms[has] = np.logaddexp(log_det[has] - self.d * np.log(counts[has]), terms[has])
        return counts * terms

    def _gaps(self, k: int, others: np.ndarray) -> np.ndarray:
        """v for group k and each of ``others`` (m, d), in mclust's arithmetic."""
        n_k, n_o = self.counts[k], self.counts[others]
        reciprocal = 1.0 / (n_k + n_o)
        weight_k = np.sqrt(n_o * reciprocal)[:, None]
        weight_o = -np.sqrt(n_k * reciprocal)[:, None]
        v = weight_k * self.sums[k] + weight_o * self.sums[others]
        singles = (n_k == 1.0) & (n_o == 1.0)
        if singles.any():
            v[singles] = (self.sums[k] - self.sums[others[singles]]) * _ROOT_HALF
        return v

    def pair_costs(
        self, k: int, others: np.ndarray, scatter_k: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Costs of merging group k (scatter matrix ``scatter_k``) with each of
        ``others``, and the merged groups' traces and terms."""
        merged = self.counts[k] + self.counts[others]
        v = self._gaps(k, others)
        traces = (self.traces[k] + self.traces[others]) + _sequential_sum_of_squares(v)
        log_det = np.full(merged.shape, -np.inf)
        # Two singletons never get a determinant in mclust, even for d = 1.
        big = (merged > self.d) & (merged > 2.0)
        if big.any():
            vb = v[big]
            log_det[big] = _log_det(scatter_k + self.stored[others[big]] + vb[:, :, None] * vb[:, None, :])
        terms = self._terms(merged, traces, log_det)
        return terms - (self.terms[k] + self.terms[others]), traces, terms

    def merge(self, i: int, j: int, last: int) -> np.ndarray:
        if self.mclust_compatible and self.recent not in (i, j):
            # mclust forms the union from the stored matrices of both; after the first
            # merge it takes the union's term from the pair's cost (computed when one of
            # the two was recent).
            base, other, scatter_base = i, j, self.stored[i]
        else:
            base, other = (j, i) if self.recent == j else (i, j)
            scatter_base = self.scatters[base]
        _, trace, term = self.pair_costs(base, np.array([other]), scatter_base)
        if self.mclust_compatible and self.recent not in (i, j, -1):
            term[0] = self.costs[i, j] + (self.terms[i] + self.terms[j])
        v = self._gaps(base, np.array([other]))[0]
        scatter = scatter_base + self.stored[other] + np.outer(v, v)
        n_i, n_j = self.counts[i], self.counts[j]
        merged = n_i + n_j
        if n_i == 1.0 and n_j == 1.0:
            weight_i = weight_j = _ROOT_HALF
        else:
            weight_i, weight_j = np.sqrt(n_i * (1.0 / merged)), np.sqrt(n_j * (1.0 / merged))
        self.sums[i] = weight_i * self.sums[i] + weight_j * self.sums[j]
        self.scatters[i] = scatter
        if self.mclust_compatible:
            self.stored[i] = _mclust_stored_scatter(scatter, merged)
        self.counts[i] = merged
        self.traces[i], self.terms[i] = trace[0], term[0]
        self.recent = i
        if j != last:
            for array in (self.counts, self.sums, self.scatters, self.stored, self.traces, self.terms):
                array[j] = array[last]
        return self.pair_costs(i, np.arange(last), self.scatters[i])[0]


def _mclust_stored_scatter(scatter: np.ndarray, n: float) -> np.ndarray:
    """The matrix mclust 6.0.0's hcvvv holds for a group it formed by a merge.

    hcvvv keeps each group's upper-triangular Cholesky factor R (RᵀR = W), q = min(n-1, d)
    rows of it. On storing a merged group it copies R's first row q times (``r(1,1)``
    where ``r(k,1)`` is meant), and reads stored row k from column k on: the stored factor
    has rows (0, ..., 0, R[0, k:]). Its Gram matrix is R[0,a] R[0,b] · min(a+1, b+1, q),
    with R[0] = W[0]/√W[0,0]. For q = 1 (two points, or d = 1) that is W itself.
    """
    d = scatter.shape[0]
    q = int(min(n - 1, d))
    if q <= 1 or scatter[0, 0] <= 0:
        # W[0,0] = 0: R's first row then depends on mclust's order of rotations; W is
        # kept (a group whose members share their first coordinate).
        return scatter.copy()
    first_row = scatter[0] / np.sqrt(scatter[0, 0])
    index = np.arange(d)
    repeats = np.minimum(np.minimum.outer(index, index) + 1, q)
    return np.outer(first_row, first_row) * repeats


def _vvv_setup(
    X: np.ndarray, labels: np.ndarray, n_groups: int, alpha: float, beta: float, mclust_compatible: bool
) -> tuple[np.ndarray, MergeFunction]:
    groups = _VVVGroups(X, labels, n_groups, alpha, beta, mclust_compatible)
    return groups.costs, groups.merge
