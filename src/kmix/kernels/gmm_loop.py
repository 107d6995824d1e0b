"""Every EM iteration of a Gaussian mixture in one compiled call, for a block of
few features held in memory (:mod:`kmix.kernels.compiled.gmm_em_loop`).

The kernel takes the start and the settings of :func:`kmix.models.em.em` and
returns the parameters after the last iteration in the layout of the
covariance type, with the mean log-likelihood of every iteration. The same
iterations as that loop's: the E-step and statistics of the compiled pass (bit
for bit), then the M-step of :func:`kmix.kernels.gmm.update`, computed in
machine code (equal to rounding).
"""

from __future__ import annotations

import contextlib
from typing import Any, NamedTuple

import numpy as np

from .gmm import _NK_FLOOR, GMMStats, estimate_parameters
from .gmm_covariances import SCIKIT_LEARN_MODELS, _cholesky_failed, full_covariances, layout_of, model_of
from .gmm_models import MODELS, STATISTICS
from .gmm_passes import COMPILED_MAX_FEATURES, compiled_tile_rows

__all__ = ["LoopResult", "loop_applies", "on_calling_thread", "start_parameters", "run_em_loop"]

# The compiled pass's chunks of rows (see kmix.kernels.gmm_passes): the same
# chunks, so the statistics are the pass's own, bit for bit.
_CHUNK_ROWS = 2048
# The iterative models' M-step: its tolerance and most iterations, as the reference's
# (kmix.kernels.gmm_models.model_covariances).
_MSTEP_TOL, _MSTEP_MAX_ITER = 1e-12, 10_000


class LoopResult(NamedTuple):
    weights: np.ndarray  # (k,)
    means: np.ndarray  # (k, d)
    covariances: np.ndarray  # in the layout of the covariance type
    precisions_cholesky: np.ndarray  # same layout
    log_likelihoods: np.ndarray  # (n_iter,) mean log-likelihood of each iteration's start
    n_iter: int
    converged: bool  # |change| < tol
    stopped: bool  # the relative rule held
    # Σ w log p(x) and Σ w log max_k z_k at the returned parameters, and the least
    # ratio of a covariance's smallest eigenvalue to its largest, when asked for
    scores: tuple[float, float, float] | None = None


def loop_applies(n_features: int, dtype: Any) -> bool:
    """Whether :func:`run_em_loop` takes data of this width and dtype (float64 rows
    with at most as many features as the compiled pass handles)."""
    return np.dtype(dtype) == np.float64 and 0 < n_features <= COMPILED_MAX_FEATURES


def on_calling_thread(n_rows: int) -> bool:
    """Whether :func:`run_em_loop` runs its passes over this many rows on the calling
    thread alone (one chunk), so that several loops may run side by side on threads."""
    return n_rows <= _CHUNK_ROWS


def _layout(full: np.ndarray, layout: str) -> np.ndarray:
    if layout == "full":
        return full
    if layout == "tied":
        return full[0].copy()
    diagonals = np.diagonal(full, axis1=1, axis2=2).copy()
    return diagonals if layout == "diag" else diagonals[:, 0].copy()


def start_parameters(stats: GMMStats, covariance_type: str,
                     reg_covar: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A start from statistics (such as a partition's one-hot responsibilities):
    the M-step of an iteration of :func:`run_em_loop`, compiled, with no previous
    covariances. Weights, means, covariances and precision factors, the last two in
    the layout of ``covariance_type``.

    ``stats``: per-component second moments, (k, d) diagonals for the diagonal and
    spherical layouts, (k, d, d) otherwise (the tied layout's too).

    Raises
    ------
    NumericalError
        If a covariance is not positive definite, naming the component.
    """
    from .compiled import gmm_em_loop, gmm_model_step  # numba is imported on first use only

    layout = layout_of(covariance_type)
    diagonal = layout in ("diag", "spherical")
    k, d = stats.sums.shape
    second = np.ascontiguousarray(stats.second_moments, dtype=np.float64)
    if second.shape != ((k, d) if diagonal else (k, d, d)):
        raise ValueError(f"{covariance_type!r} starts from per-component "
                         f"{'diagonal' if diagonal else 'full'} second moments; got shape {second.shape}")
    weights = np.empty(k)
    means = np.array(stats.shift, dtype=np.float64, order="C")
    covariances = np.empty((k, d, d))
    factors = np.empty((k, d, d))
    code = MODELS.index(model_of(covariance_type))
    failed = gmm_em_loop.start_parameters()(
        gmm_model_step.model_argument(code), code, diagonal, np.ascontiguousarray(stats.weight_sums, dtype=np.float64),
        np.ascontiguousarray(stats.sums, dtype=np.float64), np.empty((1, 1, 1)) if diagonal else second,
        second if diagonal else np.empty((1, 1)), float(reg_covar), _MSTEP_TOL, _MSTEP_MAX_ITER, weights, means,
        covariances,
        factors,
    )
    if failed >= 0:
        raise _cholesky_failed(None if layout == "tied" else int(failed), layout)
    return weights, means, _layout(covariances, layout), _layout(factors, layout)


def run_em_loop(block: Any, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray,
                precisions_cholesky: np.ndarray, *, covariance_type: str, reg_covar: float,
                max_iter: int, tol: float, lower_bound: float, relative_tol: float = -1.0,
                relative_scale: float = 1.0, score: bool = False) -> LoopResult:
    """EM iterations over one in-memory block (a kernel of the data protocol, run
    with ``block_rows=None``).

    ``relative_tol`` >= 0 adds mclust's stop: after an iteration t > 1 whose
    change of the total log-likelihood l = L·``relative_scale`` is at most
    ``relative_tol`` (1 + |l|). The covariances and factors are given and
    returned in the layout of ``covariance_type``. ``score``: one more pass, at the
    returned parameters, gives ``scores`` (what model selection's criteria need).

    Raises
    ------
    NumericalError
        If a covariance is not positive definite after an M-step, naming the
        component, as :func:`kmix.kernels.gmm.update` does (the iteration is in
        the exception's ``iteration`` attribute, for the caller's message).
    """
    # numba is imported on first use only
    from .compiled import as_read_only, as_writable, gmm_em_loop, gmm_model_step, threads

    layout = layout_of(covariance_type)
    k, d = means.shape
    X = as_read_only(np.ascontiguousarray(block.X, dtype=np.float64))
    sample_weight = as_writable(np.ascontiguousarray(block.sample_weight, dtype=np.float64))
    weights = np.array(weights, dtype=np.float64, order="C")
    means = np.array(means, dtype=np.float64, order="C")
    full = np.ascontiguousarray(full_covariances(np.asarray(covariances, dtype=np.float64), layout, k, d))
    factors = np.ascontiguousarray(
        full_covariances(np.asarray(precisions_cholesky, dtype=np.float64), layout, k, d))
    log_likelihoods = np.empty(max(max_iter, 0))
    code = MODELS.index(model_of(covariance_type))
    tile = compiled_tile_rows(k, d)
    n_chunks = -(-X.shape[0] // _CHUNK_ROWS)
    # One chunk is passed over on this thread alone, whatever numba's thread count
    # (which is then set only for loading the loop: see em_loop()).
    serial = n_chunks == 1 and gmm_em_loop.loaded()
    with contextlib.nullcontext() if serial else threads(block.n_threads, n_chunks):
        n_iter, converged, stopped, failed = gmm_em_loop.em_loop()(
            X, sample_weight, bool(block.unit_weight), gmm_model_step.model_argument(code), code,
            layout in ("diag", "spherical"), weights, means, full, factors, float(reg_covar),
            int(max_iter), float(tol), float(relative_tol), float(relative_scale), float(lower_bound),
            _CHUNK_ROWS, tile, _MSTEP_TOL, _MSTEP_MAX_ITER, log_likelihoods,
        )
    if failed >= 0:
        error = _cholesky_failed(None if layout == "tied" else int(failed), layout)
        error.iteration = int(n_iter)
        raise error
    scores = None
    if score:
        out = np.empty(3)
        gmm_em_loop.score_parameters(X, sample_weight, bool(block.unit_weight), weights, means, full, factors,
                                     layout in ("diag", "spherical"), tile, out)
        scores = (float(out[0]), float(out[1]), float(out[2]))
    return LoopResult(weights, means, _layout(full, layout), _layout(factors, layout),
                      log_likelihoods[:n_iter].copy(), int(n_iter), bool(converged), bool(stopped), scores)
