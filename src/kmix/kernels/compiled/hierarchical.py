"""Model-based agglomerative hierarchical clustering in machine code (numba): every
merge of :func:`kmix.kernels.hierarchical.hc_merges` in one call.

The numpy twin (:mod:`kmix.kernels.hierarchical`, :mod:`kmix.kernels.hierarchical_vvv`)
vectorises each merge's work and loops over the merges in the interpreter; for a few
thousand groups of few features that per-merge return is most of its time. Here the
setup of the cost matrix, every merge, the minima of the columns, mclust's slot moves
and tie rules and its stored-scatter quirk run in one compiled loop, with the twin's
arithmetic operation for operation (the same sums in the same order, the same square
roots, logarithms and ``logaddexp``), so that exact ties come out as exact ties and are
decided as the twin decides them.

The one exception is VVV's log-determinant: an L D Lᵀ factorisation (Cholesky's
without its square roots) here, an LU factorisation (``numpy.linalg.slogdet``) in the
twin. The two agree to rounding where the scatter matrix is well conditioned. Where it
is singular in exact arithmetic (a union whose points span fewer than d dimensions,
such as the union of two small groups carried as mclust stores them, which have rank
min(n_k - 1, d)), both determinants are rounding noise, and so are the costs that
depend on them (they then differ as much as the twin's own costs with another
factorisation would).

Memory: the (g, g) cost matrix of the g starting groups, and for VVV two (g, d, d)
stacks of scatter matrices; nothing of size n × n × d.
"""

from __future__ import annotations

import numpy as np
from . import _cache  # noqa: F401  (the cache folder settled before any function is defined)
from numba import njit

__all__ = ["eii_tree", "vvv_tree"]

# mclust's √½ (Fortran constant rthalf), for pairs of singletons.
_ROOT_HALF = 0.7071067811865476
_LOG_2 = 0.6931471805599453
# Outside these bounds a product of pivots is taken as a sum of their logarithms.
_TINY = 1e-280
_HUGE = 1e280


# --- the greedy loop's bookkeeping (shared by both models) -------------------------


@njit(cache=True, error_model="numpy")
def _recompute_column(costs, c, col_min, col_arg):  # pragma: no cover - compiled
    """The least cost of column c above the diagonal and its row (the largest row
    among ties), read from row c left of the diagonal (the matrix is symmetric).
    Written: col_min[c], col_arg[c]."""
    if c == 0:
        col_min[0] = np.inf
        return
    best_row = c - 1
    best = costs[c, best_row]
    for r in range(c - 2, -1, -1):
        value = costs[c, r]
        if value < best:
            best = value
            best_row = r
    col_min[c] = best
    col_arg[c] = best_row


@njit(cache=True, error_model="numpy")
def _initial_minima(costs, col_min, col_arg):  # pragma: no cover - compiled
    """Every column's minimum. Written: col_min, col_arg."""
    col_min[0] = np.inf
    for c in range(1, costs.shape[0]):
        _recompute_column(costs, c, col_min, col_arg)


@njit(cache=True, error_model="numpy")
def _choose_pair(col_min, col_arg, last):  # pragma: no cover - compiled
    """The pair (i, j), i < j <= last, of least cost; among ties the largest column j
    (then the largest row, kept by the columns): mclust's scan of the packed upper
    triangle, which keeps the last minimum it meets."""
    j = last
    best = col_min[last]
    for c in range(last - 1, 0, -1):
        if col_min[c] < best:
            best = col_min[c]
            j = c
    return col_arg[j], j


@njit(cache=True, error_model="numpy")
def _move_and_write_row(costs, i, j, last, row):  # pragma: no cover - compiled
    """After merging slots i < j: the group of slot ``last`` moves into slot j, and
    row and column i take ``row[:last]`` (the union's costs). Only the leading
    (last, last) block is kept up to date; nothing reads beyond it. Written: costs."""
    if j != last:
        for c in range(last):
            value = costs[last, c]
            costs[j, c] = value
            costs[c, j] = value
        costs[j, j] = np.inf
    row[i] = np.inf
    for c in range(last):
        value = row[c]
        costs[i, c] = value
        costs[c, i] = value


@njit(cache=True, error_model="numpy")
def _update_minima(costs, active, i, j, col_min, col_arg, stale):  # pragma: no cover - compiled
    """Column minima after a merge into slot i and a move into slot j (when
    j < active): rows and columns i and j changed. A column whose minimum sat in row
    i or j is recomputed; the others can only have improved through rows i and j.
    Written: col_min, col_arg, stale (scratch, (g,) bool)."""
    for c in range(active):
        arg = col_arg[c]
        stale[c] = arg == i or arg == j
    stale[i] = True
    if j < active:
        stale[j] = True
    for r in (i, j):
        for c in range(r + 1, active):
            value = costs[r, c]
            if value < col_min[c] or (value == col_min[c] and r > col_arg[c]):
                col_min[c] = value
                col_arg[c] = r
    for c in range(active):
        if stale[c]:
            _recompute_column(costs, c, col_min, col_arg)


@njit(cache=True, error_model="numpy")
def _record(merges, merge_costs, step, slot_label, costs, i, j):  # pragma: no cover - compiled
    """Row ``step`` of the merges, in mclust's labels (the union keeps the smaller),
    and its cost. Returns the union's label. Written: merges, merge_costs."""
    label_i = slot_label[i]
    label_j = slot_label[j]
    low = min(label_i, label_j)
    merges[step, 0] = low
    merges[step, 1] = max(label_i, label_j)
    merge_costs[step] = costs[i, j]
    return low


# --- EII: Ward's criterion -----------------------------------------------------------


@njit(cache=True, error_model="numpy")
def eii_tree(counts, sums, n_merges):  # pragma: no cover - compiled
    """The merges of model-based hierarchical clustering with model "EII" (Ward's
    criterion), from mclust's scaled group sums.

    Parameters
    ----------
    counts : ndarray (g,), float64
        Sizes of the g starting groups. Written (by slot, as merges proceed).
    sums : ndarray (g, d), float64, C-contiguous
        Each group's sum over √n_k, as :func:`kmix.kernels.hierarchical._mclust_group_sums`
        accumulates it. Read only.
    n_merges : int
        1 <= n_merges <= g - 1.

    Returns
    -------
    merges : ndarray (n_merges, 2), int64
    merge_costs : ndarray (n_merges,), float64
        As :func:`kmix.kernels.hierarchical._hc_tree` returns them.
    """
    g, d = sums.shape
    costs = np.empty((g, g))
    for r in range(g):
        for c in range(r):
            # v = √(n_c/n) s_r - √(n_r/n) s_c = √(n_r n_c / n) (m_r - m_c), as mclust
            # forms it; -v for the mirrored entry, so the matrix is exactly symmetric.
            merged = counts[r] + counts[c]
            weight_r = np.sqrt(counts[c] / merged)
            weight_c = -np.sqrt(counts[r] / merged)
            total = 0.0
            for f in range(d):
                v = weight_r * sums[r, f] + weight_c * sums[c, f]
                total += v * v
            costs[r, c] = total
            costs[c, r] = total
        costs[r, r] = np.inf
    col_min = np.empty(g)
    col_arg = np.zeros(g, dtype=np.int64)
    stale = np.zeros(g, dtype=np.bool_)
    _initial_minima(costs, col_min, col_arg)
    slot_label = np.arange(g)
    merges = np.empty((n_merges, 2), dtype=np.int64)
    merge_costs = np.empty(n_merges)
    row = np.empty(g)
    active = g
    for step in range(n_merges):
        last = active - 1
        i, j = _choose_pair(col_min, col_arg, last)
        low = _record(merges, merge_costs, step, slot_label, costs, i, j)
        if step == n_merges - 1:
            break
        # Lance-Williams for Ward: the union's cost against each group k from the
        # costs of its two parts, in mclust's order of operations.
        merged_cost = costs[i, j]
        n_i = counts[i]
        n_j = counts[j]
        if j != last:
            counts[j] = counts[last]
        counts[i] = n_i + n_j
        for k in range(last):
            if k == i:
                continue
            source = last if k == j else k
            n_k = counts[k]
            row[k] = ((n_k + n_i) * costs[i, source] + (n_k + n_j) * costs[j, source]
                      - n_k * merged_cost) / (n_k + counts[i])
        slot_label[i] = low
        if j != last:
            slot_label[j] = slot_label[last]
        _move_and_write_row(costs, i, j, last, row)
        active = last
        _update_minima(costs, active, i, j, col_min, col_arg, stale)
    return merges, merge_costs


# --- VVV: unconstrained covariances --------------------------------------------------

# The determinants of the unions are taken for _LANES pairs at once, one pair per lane,
# the lanes innermost: the factorisation's loops then run over contiguous lanes in SIMD
# registers, and the lanes' chains of divisions overlap instead of waiting on each
# other. Every lane does the same operations in the same order, so a pair's result
# does not depend on the pairs beside it.
_LANES = 8


@njit(cache=True, error_model="numpy", inline="always")
def _logaddexp(x, y):  # pragma: no cover - compiled
    """log(eˣ + eʸ) as numpy's ``logaddexp`` computes it: the larger plus
    log1p(exp(-|x - y|)), never exp of a large argument; equal arguments (two -inf
    included) give x + log 2."""
    if x == y:
        return x + _LOG_2
    difference = x - y
    if difference > 0.0:
        return x + np.log1p(np.exp(-difference))
    if difference <= 0.0:
        return y + np.log1p(np.exp(difference))
    return difference  # NaN


@njit(cache=True, error_model="numpy", inline="always")
def _term(n, trace, log_det, alpha, beta, d):  # pragma: no cover - compiled
    """A group's term n log(|W/n| + β (tr W + α')/n), from log|W| (-inf where |W/n|
    counts as 0). The sum is taken as logaddexp: |W/n| can be far below or above
    the rest."""
    term = np.log(beta * (trace + alpha) / n)
    if np.isfinite(log_det):
        term = _logaddexp(log_det - d * np.log(n), term)
    return n * term


@njit(cache=True, error_model="numpy")
def _new_lanes(d):  # pragma: no cover - compiled
    """Scratch for the lanes (see :func:`_log_dets`): matrices (d, d, _LANES), gaps
    (d, _LANES), factors (3, d, _LANES), and per lane (_LANES,) its other group (int64),
    trace and log-determinant."""
    return (np.empty((d, d, _LANES)), np.empty((d, _LANES)), np.empty((3, d, _LANES)),
            np.empty(_LANES, dtype=np.int64), np.empty(_LANES), np.empty(_LANES))


@njit(cache=True, error_model="numpy")
def _log_dets(matrices, factors, count, log_dets):  # pragma: no cover - compiled
    """log|A| of the symmetric matrices of lanes 0..count-1, whose lower triangles
    ``matrices[:, :, lane]`` hold, from A = L D Lᵀ (L unit lower triangular,
    |A| = Π D_jj: Cholesky's squared pivots without its square roots); -inf where a
    pivot is not above 0 (A singular, or not positive definite by rounding).
    Written: matrices (the strict lower triangle becomes L D), factors (3, d, _LANES)
    scratch, log_dets[:count]."""
    d = matrices.shape[0]
    pivots = factors[0]
    inverses = factors[1]
    row_j = factors[2]
    for j in range(d):
        # row_j = L[j, :j] from (L D)[j, :j]; then the pivot D_jj and column j of L D.
        for lane in range(count):
            pivots[j, lane] = matrices[j, j, lane]
        for p in range(j):
            for lane in range(count):
                row_j[p, lane] = matrices[j, p, lane] * inverses[p, lane]
                pivots[j, lane] -= matrices[j, p, lane] * row_j[p, lane]
        for lane in range(count):
            inverses[j, lane] = 1.0 / pivots[j, lane]
        for r in range(j + 1, d):
            for p in range(j):
                for lane in range(count):
                    matrices[r, j, lane] -= matrices[r, p, lane] * row_j[p, lane]
    for lane in range(count):
        product = 1.0
        positive = True
        for j in range(d):
            pivot = pivots[j, lane]
            positive = positive and pivot > 0.0
            product *= pivot
        if not positive:
            log_dets[lane] = -np.inf
        elif product > _TINY and product < _HUGE:
            log_dets[lane] = np.log(product)
        else:
            # The product left the range where it is exact to rounding: add logarithms.
            total = 0.0
            for j in range(d):
                total += np.log(pivots[j, lane])
            log_dets[lane] = total


@njit(cache=True, error_model="numpy", inline="always")
def _gap(k, o, counts, sums, gaps, lane):  # pragma: no cover - compiled
    """v = √(n_o/n) s_k - √(n_k/n) s_o = √(n_k n_o/n) (m_k - m_o) in mclust's
    arithmetic ((s_k - s_o)·√½ for two singletons), into ``gaps[:, lane]``; returns
    Σ v_f², added in order (written: gaps)."""
    d = gaps.shape[0]
    n_k = counts[k]
    n_o = counts[o]
    squares = 0.0
    if n_k == 1.0 and n_o == 1.0:
        for f in range(d):
            value = (sums[k, f] - sums[o, f]) * _ROOT_HALF
            gaps[f, lane] = value
            squares += value * value
        return squares
    reciprocal = 1.0 / (n_k + n_o)
    weight_k = np.sqrt(n_o * reciprocal)
    weight_o = -np.sqrt(n_k * reciprocal)
    for f in range(d):
        value = weight_k * sums[k, f] + weight_o * sums[o, f]
        gaps[f, lane] = value
        squares += value * value
    return squares


@njit(cache=True, error_model="numpy", inline="always")
def _fill_union(scatter_k, stored_o, gaps, lane, matrices):  # pragma: no cover - compiled
    """The lower triangle of W = scatter_k + stored_o + v vᵀ (v = ``gaps[:, lane]``)
    into ``matrices[:, :, lane]`` (written)."""
    d = gaps.shape[0]
    for a in range(d):
        for b in range(a + 1):
            matrices[a, b, lane] = (scatter_k[a, b] + stored_o[a, b]) + gaps[a, lane] * gaps[b, lane]


@njit(cache=True, error_model="numpy")
def _pair_costs(k, scatter_k, stop, counts, sums, traces, terms, stored, alpha, beta, lanes,
                out):  # pragma: no cover - compiled
    """The cost of merging group k (scatter matrix ``scatter_k``) with each group
    o < stop, o != k: the criterion's change term(k ∪ o) - term(k) - term(o), the
    union's scatter matrix being W = scatter_k + stored[o] + v vᵀ.
    Written: out[:stop] (out[k] untouched), lanes (scratch, :func:`_new_lanes`)."""
    matrices, gaps, factors, others, lane_traces, log_dets = lanes
    d = gaps.shape[0]
    n_k = counts[k]
    count = 0
    for o in range(stop + 1):
        if o < stop and o != k:
            merged = n_k + counts[o]
            trace = (traces[k] + traces[o]) + _gap(k, o, counts, sums, gaps, count)
            # Two singletons never get a determinant in mclust, even for d = 1.
            if not (merged > d and merged > 2.0):
                out[o] = _term(merged, trace, -np.inf, alpha, beta, d) - (terms[k] + terms[o])
                continue
            _fill_union(scatter_k, stored[o], gaps, count, matrices)
            others[count] = o
            lane_traces[count] = trace
            count += 1
        if count == _LANES or (o == stop and count > 0):
            _log_dets(matrices, factors, count, log_dets)
            for lane in range(count):
                other = others[lane]
                term = _term(n_k + counts[other], lane_traces[lane], log_dets[lane], alpha, beta, d)
                out[other] = term - (terms[k] + terms[other])
            count = 0


@njit(cache=True, error_model="numpy")
def _copy_matrix(source, out):  # pragma: no cover - compiled
    """out[:, :] = source, element by element (a slice assignment costs numba far
    more to compile). Written: out (d, d)."""
    for a in range(source.shape[0]):
        for b in range(source.shape[1]):
            out[a, b] = source[a, b]


@njit(cache=True, error_model="numpy")
def _stored_scatter(scatter, n, out):  # pragma: no cover - compiled
    """The matrix mclust 6.0.0's hcvvv holds for a group it formed by a merge (see
    :func:`kmix.kernels.hierarchical_vvv._mclust_stored_scatter`): with q = min(n-1, d)
    and R₀ = W[0]/√W[0,0], entry (a, b) is R₀[a] R₀[b] · min(a+1, b+1, q); W itself
    for q <= 1 or W[0,0] <= 0. Written: out (d, d)."""
    d = scatter.shape[0]
    q = int(min(n - 1.0, d))
    if q <= 1 or scatter[0, 0] <= 0.0:
        _copy_matrix(scatter, out)
        return
    root = np.sqrt(scatter[0, 0])
    for a in range(d):
        first_a = scatter[0, a] / root
        for b in range(d):
            repeats = min(min(a, b) + 1, q)
            out[a, b] = (first_a * (scatter[0, b] / root)) * repeats


@njit(cache=True, error_model="numpy")
def vvv_tree(counts, sums, traces, scatters, alpha, beta, mclust_compatible,
             n_merges):  # pragma: no cover - compiled
    """The merges of model-based hierarchical clustering with model "VVV".

    Parameters
    ----------
    counts : ndarray (g,), float64
        Sizes of the g starting groups. Written (by slot, as merges proceed).
    sums : ndarray (g, d), float64, C-contiguous
        Each group's sum over √n_k in mclust's arithmetic. Written.
    traces : ndarray (g,), float64
        tr W_k, as mclust accumulates it. Written.
    scatters : ndarray (g, d, d), float64, C-contiguous
        W_k, symmetric. Written.
    alpha : float
        α' = α tr(W)/(n d) (at least machine epsilon), the scaled regularisation.
    beta : float
    mclust_compatible : bool
        Carry a group formed by a merge as mclust 6.0.0 stores it (see
        :mod:`kmix.kernels.hierarchical`), as the numpy twin does.
    n_merges : int
        1 <= n_merges <= g - 1.

    Returns
    -------
    merges : ndarray (n_merges, 2), int64
    merge_costs : ndarray (n_merges,), float64
        As :func:`kmix.kernels.hierarchical._hc_tree` returns them.
    """
    g, d = sums.shape
    # stored[k]: the matrix group k's determinant is formed from once it is not the
    # group the last merge formed; the same array unless mclust's storage is kept.
    stored = scatters.copy() if mclust_compatible else scatters
    lanes = _new_lanes(d)
    matrices, gaps, factors, _, _, log_dets = lanes
    one_lane = np.int64(1)  # typed as _pair_costs's count, so _log_dets compiles once
    terms = np.empty(g)
    for k in range(g):
        log_det = -np.inf
        if counts[k] > d:
            for a in range(d):
                for b in range(a + 1):
                    matrices[a, b, 0] = scatters[k, a, b]
            _log_dets(matrices, factors, one_lane, log_dets)
            log_det = log_dets[0]
        terms[k] = _term(counts[k], traces[k], log_det, alpha, beta, d)
    costs = np.empty((g, g))
    for k in range(g):
        _pair_costs(k, stored[k], k, counts, sums, traces, terms, stored, alpha, beta, lanes, costs[k])
        for o in range(k):
            costs[o, k] = costs[k, o]
        costs[k, k] = np.inf
    col_min = np.empty(g)
    col_arg = np.zeros(g, dtype=np.int64)
    stale = np.zeros(g, dtype=np.bool_)
    _initial_minima(costs, col_min, col_arg)
    slot_label = np.arange(g)
    merges = np.empty((n_merges, 2), dtype=np.int64)
    merge_costs = np.empty(n_merges)
    row = np.empty(g)
    union = np.empty((d, d))
    recent = -1  # the slot of the group the last merge formed
    active = g
    for step in range(n_merges):
        last = active - 1
        i, j = _choose_pair(col_min, col_arg, last)
        low = _record(merges, merge_costs, step, slot_label, costs, i, j)
        if step == n_merges - 1:
            break
        if mclust_compatible and recent != i and recent != j:
            # mclust forms the union from the stored matrices of both.
            base, other = i, j
            scatter_base = stored[i]
        else:
            base, other = (j, i) if recent == j else (i, j)
            scatter_base = scatters[base]
        merged = counts[base] + counts[other]
        trace = (traces[base] + traces[other]) + _gap(base, other, counts, sums, gaps, 0)
        log_det = -np.inf
        if merged > d and merged > 2.0:
            _fill_union(scatter_base, stored[other], gaps, 0, matrices)
            _log_dets(matrices, factors, one_lane, log_dets)
            log_det = log_dets[0]
        term = _term(merged, trace, log_det, alpha, beta, d)
        for a in range(d):
            for b in range(d):
                union[a, b] = (scatter_base[a, b] + stored[other, a, b]) + gaps[a, 0] * gaps[b, 0]
        if mclust_compatible and recent != i and recent != j and recent != -1:
            # After the first merge mclust takes the union's term from the pair's cost
            # (computed when one of the two was recent).
            term = costs[i, j] + (terms[i] + terms[j])
        n_i = counts[i]
        n_j = counts[j]
        if n_i == 1.0 and n_j == 1.0:
            weight_i = _ROOT_HALF
            weight_j = _ROOT_HALF
        else:
            weight_i = np.sqrt(n_i * (1.0 / merged))
            weight_j = np.sqrt(n_j * (1.0 / merged))
        for f in range(d):
            sums[i, f] = weight_i * sums[i, f] + weight_j * sums[j, f]
        _copy_matrix(union, scatters[i])
        if mclust_compatible:
            _stored_scatter(union, merged, stored[i])
        counts[i] = merged
        traces[i] = trace
        terms[i] = term
        recent = i
        if j != last:
            counts[j] = counts[last]
            for f in range(d):
                sums[j, f] = sums[last, f]
            _copy_matrix(scatters[last], scatters[j])
            if mclust_compatible:
                _copy_matrix(stored[last], stored[j])
            traces[j] = traces[last]
            terms[j] = terms[last]
        _pair_costs(i, scatters[i], last, counts, sums, traces, terms, stored, alpha, beta, lanes, row)
        slot_label[i] = low
        if j != last:
            slot_label[j] = slot_label[last]
        _move_and_write_row(costs, i, j, last, row)
        active = last
        _update_minima(costs, active, i, j, col_min, col_arg, stale)
    return merges, merge_costs
