"""Model-based agglomerative hierarchical clustering, as R's mclust ``hc()`` does it
(mclust's default start for EM in model selection).

Starting from singletons (or a given partition), the pair of groups whose merge
increases the classification criterion of the model the least is merged, over and
over. For a partition into groups G_k with n_k points, means m_k and scatter
matrices W_k = Σ_{x∈G_k} (x - m_k)(x - m_k)ᵀ (d features):

- "EII" (equal spherical covariances): the criterion is the total within-group sum of
  squares Σ_k tr(W_k), Ward's criterion. Merging i and j costs
  n_i n_j / (n_i + n_j) · ‖m_i - m_j‖².
- "VVV" (unconstrained covariances): Σ_k n_k log(|W_k / n_k| + β (tr(W_k) + α') / n_k),
  where the determinant counts as 0 for groups of n_k ≤ d points (whose W_k is
  singular) and α' = α · tr(W) / (n d), with W the scatter matrix of the whole data:
  the mean squared deviation per coordinate, times α. The β and α' terms keep the
  criterion finite for small groups, where the determinant alone (Banfield and Raftery's
  Σ_k n_k log|W_k / n_k|) is 0 or near it; a singleton costs log(α' β). The cost of a
  merge is the criterion's change, term(i ∪ j) - term(i) - term(j), so it can be
  negative. mclust's defaults, and this module's, are α = β = 1.

This is mclust 6.0.0's ``hcEII`` and ``hcVVV`` (Fortran ``hceii``, ``hcvvv``; Fraley,
"Algorithms for model-based Gaussian hierarchical clustering", SIAM J. Sci. Comput.
20 (1998) 270-281). mclust's details are kept, so that the merges are its merges:

- Groups live in numbered slots (group k of the starting partition in slot k); after
  merging slots i < j the union stays in slot i and the group in the last slot moves
  into slot j. Among pairs of equal cost the one mclust's scan meets last wins: the
  largest j, then the largest i.
- The costs that decide between exactly tied pairs are computed with mclust's
  arithmetic: from each group's sum over √n_k (mclust keeps these, not means), EII's by
  its Lance-Williams update, VVV's traces as mclust adds them up, and for two
  singletons from (x_i - x_j)·√½. (VVV's determinants come from scatter matrices here
  and from rank-one updates of a Cholesky factor in mclust: they agree to rounding.)
- VVV with ``mclust_compatible=True`` (the default): hcvvv keeps each group's Cholesky
  factor R (RᵀR = W_k), but stores the factor of a group it forms by a merge as copies
  of R's first row (the Fortran copies ``r(1,1)`` where ``r(k,1)`` is meant; unchanged
  up to mclust 6.1.3). A group of three points or more formed by a merge is then
  carried with another matrix than its W_k (:func:`_mclust_stored_scatter`) in every
  later cost but those computed right after it was formed, and the term of a union
  is taken from the cost of the pair. ``mclust_compatible=False`` computes the
  criterion as stated above, which is what hcvvv computes with that one index mended.
  On faithful, iris and diabetes with use="SVD" (mclust's default) both give the same
  merges; on the raw variables of faithful and diabetes they part at merge 207 of 271
  and 104 of 144, and the partitions into 9 or fewer groups differ.

The merges are labelled as mclust labels them (0-based here, mclust's minus one):
a group is named by the smallest label of the starting groups it holds (the starting
groups are numbered 0, 1, ... in order of first appearance, so from singletons a group
is named by its first row); a row (i, j) of the merges, i < j, says that group j
joins group i, and the union is named i. :func:`hc_partition` reads the partition
into k groups from them, as mclust's ``hclass`` does.

Each merge updates one row of the (g, g) cost matrix (g starting groups) and the
minimum of each column above the diagonal: O(g²) memory, and O(g²) time in all for
EII, O(g² d³) for VVV (a d × d determinant per pair updated). :func:`hc_merges` runs
the whole agglomeration in one compiled call (:mod:`kmix.kernels.compiled.hierarchical`);
this module's numpy loop (vectorised over the pairs, a Python loop over the merges) is
its reference twin, with the same merges.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["HC_MODELS", "HC_USES", "hc_merges", "hc_partition", "hc_transform"]

HC_MODELS = ("EII", "VVV")
HC_USES = ("VARS", "SVD")

# mclust's √½ (Fortran constant rthalf), used for pairs of singletons.
_ROOT_HALF = 0.7071067811865476
# Elements of the cost matrix handled per vectorised block.
_BLOCK_ELEMENTS = 1 << 20
# Up to this many columns, a column minimum is recomputed one column at a time.
_FEW_COLUMNS = 16


def hc_transform(X: np.ndarray, use: str = "SVD") -> np.ndarray:
    """The data mclust's ``hc(X, use=...)`` clusters.

    Parameters
    ----------
    X : ndarray (n_samples, n_features), float
    use : {"SVD", "VARS"}
        "VARS": the variables as they are. "SVD" (mclust's default,
        ``mclust.options("hcUse")``): each column centred and divided by its standard
        deviation (n - 1 denominator, as R's ``scale``), constant columns dropped, then
        Z = Xs V diag(1/√s) where Xs = U diag(s) Vᵀ is the thin SVD, so Z = U diag(√s):
        the principal components, each scaled by the inverse square root of its
        singular value (partly whitened, not fully).

    Returns
    -------
    Z : ndarray (n_samples, q), float64
        q = n_features for "VARS", min(n_samples, non-constant features) for "SVD". The
        signs of the columns of an SVD are arbitrary; neither criterion depends on them.
    """
    if use not in HC_USES:
        raise ValueError(f"use must be one of {', '.join(map(repr, HC_USES))}; got {use!r}")
    X = np.asarray(X, dtype=np.float64)
    if use == "VARS":
        return X
    n = X.shape[0]
    centred = X - X.mean(axis=0)
    sd = np.sqrt((centred**2).sum(axis=0) / (n - 1)) if n > 1 else np.zeros(X.shape[1])
    keep = sd > 0
    scaled = centred[:, keep] / sd[keep]
    _, singular_values, vt = np.linalg.svd(scaled, full_matrices=False)
    tolerance = singular_values[0] * np.finfo(float).eps * max(scaled.shape) if singular_values.size else 0.0
    if not singular_values.size or singular_values[-1] <= tolerance:
        raise ValueError(
            "use='SVD' needs data of full rank after dropping constant columns (a singular "
            "value is 0, which mclust's scaling divides by); use 'VARS' or drop dependent columns"
        )
    return (scaled @ vt.T) / np.sqrt(singular_values)


def hc_merges(
    X: np.ndarray,
    model: str = "VVV",
    *,
    partition: np.ndarray | None = None,
    minclus: int = 1,
    alpha: float = 1.0,
    beta: float = 1.0,
    mclust_compatible: bool = True,
) -> np.ndarray:
    """The merges of model-based agglomerative hierarchical clustering: starting from
    singletons (or ``partition``), repeatedly merge the pair of groups whose merge
    increases the classification criterion of ``model`` the least (see the module).

    Parameters
    ----------
    X : ndarray (n_samples, n_features), float
        The data as clustered (mclust's ``hc`` transforms it first: :func:`hc_transform`).
    model : {"VVV", "EII"}
    partition : ndarray (n_samples,), optional
        Starting groups (any labels; numbered 0, 1, ... by first appearance).
        Default: every row its own group, as mclust's ``hc()``.
    minclus : int
        Stop at this many groups.
    alpha, beta : float
        VVV's regularisation (mclust's ``hcVVV`` arguments; ignored by EII).
    mclust_compatible : bool
        VVV: True reproduces mclust's ``hcVVV`` merge for merge, including how it stores
        the groups it forms; False computes the criterion as stated (see the module).
        Ignored by EII.

    Returns
    -------
    merges : ndarray (n_groups - minclus, 2), intp
        Row s is the s-th merge (i, j), i < j: group j joins group i (labels as in the
        module docstring; mclust's ``t(hc(...))`` minus one).
    """
    merges, _ = _hc_tree(
        X, model, partition=partition, minclus=minclus, alpha=alpha, beta=beta,
        mclust_compatible=mclust_compatible,
    )
    return merges


def _hc_tree(
    X: np.ndarray,
    model: str,
    *,
    partition: np.ndarray | None,
    minclus: int,
    alpha: float,
    beta: float,
    mclust_compatible: bool,
    compiled: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`hc_merges` and the cost of each merge, (n_merges,) (mclust computes these
    and drops them).

    ``compiled``: every merge in one compiled call
    (:mod:`kmix.kernels.compiled.hierarchical`); False runs this module's numpy loop,
    its reference twin (the same merges, the same costs to rounding).
    """
    if model not in HC_MODELS:
        raise ValueError(f"model must be one of {', '.join(map(repr, HC_MODELS))}; got {model!r}")
    if not (alpha >= 0 and beta > 0):
        raise ValueError(f"alpha must be >= 0 and beta > 0; got alpha={alpha}, beta={beta}")
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    labels = _first_appearance_labels(partition, n)
    n_groups = int(labels.max()) + 1 if n else 0
    if minclus < 1:
        raise ValueError(f"minclus must be at least 1; got {minclus}")
    n_merges = n_groups - minclus
    if n_merges <= 0:
        raise ValueError(f"the starting partition has {n_groups} groups, not more than minclus={minclus}")
    if compiled:
        return _compiled_tree(X, model, labels, n_groups, n_merges, alpha, beta, mclust_compatible)
    if model == "EII":
        costs, merge = _eii_setup(X, labels, n_groups)
    else:
        from .hierarchical_vvv import _vvv_setup  # the module imports this one

        costs, merge = _vvv_setup(X, labels, n_groups, alpha, beta, mclust_compatible)
    return _agglomerate(costs, n_merges, merge)


def _compiled_tree(
    X: np.ndarray,
    model: str,
    labels: np.ndarray,
    n_groups: int,
    n_merges: int,
    alpha: float,
    beta: float,
    mclust_compatible: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_hc_tree` by the compiled loop, from the same starting statistics as the
    numpy loop."""
    from .compiled import hierarchical as compiled_hc  # numba is imported on first use only

    if model == "EII":
        counts, sums, _ = _mclust_group_sums(X, labels, n_groups, "EII")
        merges, costs = compiled_hc.eii_tree(counts, sums, int(n_merges))
    else:
        from .hierarchical_vvv import _vvv_start  # the module imports this one

        alpha_scaled, counts, sums, traces, scatters = _vvv_start(X, labels, n_groups, alpha)
        merges, costs = compiled_hc.vvv_tree(
            counts, sums, traces, scatters, float(alpha_scaled), float(beta), bool(mclust_compatible),
            int(n_merges),
        )
    return merges.astype(np.intp, copy=False), costs


def hc_partition(
    merges: np.ndarray,
    n_samples: int,
    n_groups: int | Sequence[int],
    *,
    partition: np.ndarray | None = None,
) -> np.ndarray:
    """The partition into ``n_groups`` groups along ``merges`` (mclust's ``hclass``).

    Parameters
    ----------
    merges : ndarray (n_merges, 2), int
        From :func:`hc_merges`.
    n_samples : int
    n_groups : int or sequence of int
    partition : ndarray (n_samples,), optional
        The starting partition the merges were made from (default: singletons).

    Returns
    -------
    labels : ndarray (n_samples,) or (n_samples, len(n_groups)), intp
        Labels 0..k-1 numbered by first appearance; one column per entry of
        ``n_groups``, in its order.
    """
    start = _first_appearance_labels(partition, n_samples)
    n_start = int(start.max()) + 1 if n_samples else 0
    merges = np.asarray(merges)
    several = not np.isscalar(n_groups)
    wanted = [int(k) for k in (n_groups if several else [n_groups])]
    out = np.empty((n_samples, len(wanted)), dtype=np.intp)
    for column, k in enumerate(wanted):
        steps = n_start - k
        if k < 1 or steps < 0 or steps > len(merges):
            raise ValueError(
                f"n_groups={k} is not reachable: the merges go from {n_start} groups "
                f"down to {n_start - len(merges)}"
            )
        # parent[j] = i for each merge (i, j); a group's name is the root of its chain.
        parent = np.arange(n_start)
        if steps:
            kept, joined = merges[:steps].min(axis=1), merges[:steps].max(axis=1)
            parent[joined] = kept
            while True:
                grand = parent[parent]
                if np.array_equal(grand, parent):
                    break
                parent = grand
        out[:, column] = _first_appearance_labels(parent[start], n_samples)
    return out if several else out[:, 0]


# ---------------------------------------------------------------------------
# The greedy loop over the cost matrix, in mclust's slot order.

# merge(i, j, last) -> the new costs of slot i against slots 0..last-1 after the merge.
MergeFunction = Callable[[int, int, int], np.ndarray]


def _agglomerate(costs: np.ndarray, n_merges: int, merge: MergeFunction) -> tuple[np.ndarray, np.ndarray]:
    """Merge ``n_merges`` times; the merges (n_merges, 2) and the cost of each (the
    change in the criterion, (n_merges,)). ``costs`` (g, g) is symmetric with +inf on
    the diagonal, written: after merging slots i < j, row and column i hold the merged
    group's costs and the last slot's group moves to slot j.

    ``col_min[c]``, ``col_arg[c]``: the least cost in column c above the diagonal and its
    row (the largest row among ties). The pair merged is the least of those (the
    largest column among ties), which is mclust's rule: its scan of the packed upper
    triangle, column by column, keeps the last minimum.
    """
    g = costs.shape[0]
    col_min = np.full(g, np.inf)
    col_arg = np.zeros(g, dtype=np.intp)
    _recompute_columns(costs, g, np.arange(1, g), col_min, col_arg)
    slot_label = np.arange(g)
    merges = np.empty((n_merges, 2), dtype=np.intp)
    merge_costs = np.empty(n_merges)
    active = g
    for step in range(n_merges):
        last = active - 1
        # col_min[last:0:-1] runs from the last column down to column 1.
        j = last - int(np.argmin(col_min[last:0:-1]))
        i = int(col_arg[j])
        label_i, label_j = slot_label[i], slot_label[j]
        merges[step] = (min(label_i, label_j), max(label_i, label_j))
        merge_costs[step] = costs[i, j]
        if step == n_merges - 1:
            break
        row = merge(i, j, last)
        slot_label[i] = min(label_i, label_j)
        if j != last:
            slot_label[j] = slot_label[last]
            costs[j, :] = costs[last, :]
            costs[:, j] = costs[:, last]
            costs[j, j] = np.inf
        costs[last, :] = np.inf
        costs[:, last] = np.inf
        active = last
        row[i] = np.inf
        costs[i, :active] = row
        costs[:active, i] = row
        _update_column_minima(costs, active, i, j, col_min, col_arg)
    return merges, merge_costs


def _update_column_minima(
    costs: np.ndarray, active: int, i: int, j: int, col_min: np.ndarray, col_arg: np.ndarray
) -> None:
    """After a merge into slot i (and a move into slot j, when j < active): rows and
    columns i and j changed. Written: col_min, col_arg."""
    stale = (col_arg[:active] == i) | (col_arg[:active] == j)
    stale[i] = True
    if j < active:
        stale[j] = True
    for r in (i, j):
        if r + 1 >= active:
            continue
        values = costs[r, r + 1 : active]
        current, current_row = col_min[r + 1 : active], col_arg[r + 1 : active]
        better = (values < current) | ((values == current) & (r > current_row))
        current[better] = values[better]
        current_row[better] = r
    _recompute_columns(costs, active, np.flatnonzero(stale), col_min, col_arg)


def _recompute_columns(
    costs: np.ndarray, active: int, columns: np.ndarray, col_min: np.ndarray, col_arg: np.ndarray
) -> None:
    """col_min, col_arg of ``columns`` from scratch (written). Column c above the
    diagonal is row c left of it (the matrix is symmetric), read contiguously."""
    if len(columns) <= _FEW_COLUMNS:
        for c in columns:
            if c == 0:
                col_min[0] = np.inf
                continue
            # argmin of the reversed row: the largest index among ties.
            arg = c - 1 - int(np.argmin(costs[c, c - 1 :: -1]))
            col_min[c] = costs[c, arg]
            col_arg[c] = arg
        return
    index = np.arange(active)
    block = max(1, _BLOCK_ELEMENTS // max(active, 1))
    for start in range(0, len(columns), block):
        cols = columns[start : start + block]
        sub = np.where(index < cols[:, None], costs[cols, :active], np.inf)
        arg = active - 1 - np.argmin(sub[:, ::-1], axis=1)
        col_min[cols] = sub[np.arange(len(cols)), arg]
        col_arg[cols] = arg


def _first_appearance_labels(partition: np.ndarray | None, n: int) -> np.ndarray:
    """Labels 0, 1, ... in order of first appearance (mclust's ``partconv``)."""
    if partition is None:
        return np.arange(n)
    partition = np.asarray(partition)
    if partition.shape != (n,):
        raise ValueError(f"partition must have one label per row ({n}); got shape {partition.shape}")
    _, first, inverse = np.unique(partition, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.intp)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def _sequential_sum_of_squares(v: np.ndarray) -> np.ndarray:
    """Σ_k v[..., k]², added left to right as BLAS ddot does for short vectors."""
    total = np.zeros(v.shape[:-1])
    for k in range(v.shape[-1]):
        total += v[..., k] * v[..., k]
    return total


# ---------------------------------------------------------------------------
# EII: Ward's criterion, from mclust's scaled sums and the Lance-Williams update.


def _mclust_group_sums(
    X: np.ndarray, labels: np.ndarray, n_groups: int, model: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each starting group's size, its sum divided by √n_k (= √n_k times its mean) and,
    for VVV, the trace of its scatter matrix, accumulated in mclust's order and
    arithmetic: the rows are first permuted so that group k's first row sits in row
    k, then the other rows join their groups one at a time, in row order."""
    n = X.shape[0]
    counts = np.bincount(labels, minlength=n_groups).astype(np.float64)
    traces = np.zeros(n_groups)
    if n_groups == n:
        return counts, X.copy(), traces
    order = np.arange(n)
    ic = labels.copy()
    # Rows 0..k already hold the heads of groups 0..k; then each first appearance of
    # the next group swaps places with row k + 1.
    k = 0
    while k + 1 < n and ic[k + 1] == k + 1:
        k += 1
    for r in range(k + 2, n):
        if ic[r] > k:
            k += 1
            order[k], order[r] = order[r], order[k]
            ic[r], ic[k] = ic[k], ic[r]
    sums = X[order[:n_groups]].copy()
    size = np.ones(n_groups)
    for r in range(n_groups, n):
        group, x = ic[r], X[order[r]]
        joined = size[group] + 1.0
        if model == "EII":
            w_new = np.sqrt(1.0 / joined)
            w_old = np.sqrt(size[group]) * w_new
        else:
            w_new = np.sqrt(1.0 / joined)
            w_old = np.sqrt(size[group] * (1.0 / joined))
            # The new row's deviation from the old mean, times √(n/(n+1)).
            traces[group] += _sequential_sum_of_squares(w_old * x + (-w_new) * sums[group])
        sums[group] = w_old * sums[group] + w_new * x
        size[group] = joined
    return counts, sums, traces


def _eii_setup(X: np.ndarray, labels: np.ndarray, n_groups: int) -> tuple[np.ndarray, MergeFunction]:
    counts, sums, _ = _mclust_group_sums(X, labels, n_groups, "EII")
    costs = np.empty((n_groups, n_groups))
    block = max(1, _BLOCK_ELEMENTS // max(n_groups, 1))
    for start in range(0, n_groups, block):
        rows = slice(start, min(start + block, n_groups))
        merged = counts[rows, None] + counts
        # v = √(n_j/n_ij) s_i - √(n_i/n_ij) s_j = √(n_i n_j / n_ij) (m_i - m_j), as mclust.
        weight_i = np.sqrt(counts / merged)
        weight_j = -np.sqrt(counts[rows, None] / merged)
        total = np.zeros(merged.shape)
        for k in range(sums.shape[1]):
            v = weight_i * sums[rows, k, None] + weight_j * sums[:, k]
            total += v * v
        costs[rows] = total
    np.fill_diagonal(costs, np.inf)

    def merge(i: int, j: int, last: int) -> np.ndarray:
        # Lance-Williams for Ward: the new group's cost against each group k from the
        # costs of its two parts, in mclust's order of operations.
        merged_cost = costs[i, j]
        n_i, n_j = counts[i], counts[j]
        to_i, to_j = costs[i, : last + 1].copy(), costs[j, : last + 1].copy()
        if j != last:
            to_i[j], to_j[j] = to_i[last], to_j[last]
            counts[j] = counts[last]
        counts[i] = n_i + n_j
        n_k = counts[:last]
        # Entry i is inf (the diagonal); the caller sets it.
        return ((n_k + n_i) * to_i[:last] + (n_k + n_j) * to_j[:last] - n_k * merged_cost) / (n_k + counts[i])

    return costs, merge
