"""The M-step of mclust's fourteen covariance models: constraints, optimality, monotone
starts, closed forms against brute force, parameter counts, decompositions."""

import itertools
import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize

from kmix.kernels import gmm_models as gm
from kmix.kernels import gmm_models_orientation as go

MODELS = gm.MODELS
ITERATIVE = ("VEI", "VEE", "VEV", "EVE", "VVE")
CASES = [(1, 1), (3, 1), (1, 2), (2, 2), (4, 2), (2, 3), (3, 3), (1, 4), (3, 4), (4, 5)]
_ORDER = {"I": 0, "E": 1, "V": 2}


# --- helpers -----------------------------------------------------------------------------


def random_problem(seed, k, d):
    """Weights n_k and scatter S_k, positive definite, of varied scales and shapes."""
    rng = np.random.default_rng(seed)
    n = rng.uniform(5.0, 60.0, size=k)
    S = []
    for _ in range(k):
        A = rng.normal(size=(d, d))
        S.append((A @ A.T / d + 0.2 * np.eye(d)) * np.exp(rng.normal(scale=0.7)))
    return n, np.array(S)


def statistics(model, S):
    return np.diagonal(S, axis1=1, axis2=2).copy() if gm.STATISTICS[model] == "diag" else S


def as_full(model, covariances, k, d):
    layout = gm.LAYOUT[model]
    if layout == "spherical":
        return covariances[:, None, None] * np.eye(d)
    if layout == "diag":
        return covariances[:, :, None] * np.eye(d)
    if layout == "tied":
        return np.repeat(covariances[None], k, axis=0)
    return covariances


def Q(n, S, full):
    """-½ Σ_k n_k [log det Σ_k + tr(S_k Σ_k⁻¹)], with W_k = n_k S_k."""
    _, log_det = np.linalg.slogdet(full)
    trace = np.trace(np.linalg.solve(full, S), axis1=1, axis2=2)
    return -0.5 * float(np.sum(n * (log_det + trace)))


def fit(model, n, S, **kwargs):
    covariances, n_iter = gm.model_covariances(model, n, statistics(model, S), **kwargs)
    return covariances, n_iter


def compose(model, volume, shape, orientation):
    """Covariances in the model's layout from λ_k, diag(A_k), D_k (component 0 for tied)."""
    layout = gm.LAYOUT[model]
    if layout == "spherical":
        return volume.copy()
    if layout == "diag":
        return volume[:, None] * shape
    full = np.einsum("kij,kj,klj->kil", orientation, volume[:, None] * shape, orientation)
    full = 0.5 * (full + np.swapaxes(full, 1, 2))
    return full[0] if layout == "tied" else full


def rotation(rng, d, scale):
    skew = rng.normal(scale=scale, size=(d, d))
    return scipy.linalg.expm(skew - skew.T)


def random_feasible(model, seed, k, d):
    """Random covariances that satisfy the model's constraints."""
    rng = np.random.default_rng(seed)
    volume_letter, shape_letter, orientation_letter = model
    k_used = 1 if gm.LAYOUT[model] == "tied" else k
    volume = np.exp(rng.normal(size=1 if volume_letter == "E" else k_used))
    volume = np.broadcast_to(volume, (k_used,)).copy()
    if shape_letter == "I":
        shape = np.ones((k_used, d))
    else:
        logs = rng.normal(scale=0.6, size=(1 if shape_letter == "E" else k_used, d))
        logs -= logs.mean(axis=1, keepdims=True)
        shape = np.broadcast_to(np.exp(logs), (k_used, d)).copy()
    if orientation_letter == "I":
        orientation = np.broadcast_to(np.eye(d), (k_used, d, d)).copy()
    elif orientation_letter == "E":
        orientation = np.broadcast_to(rotation(rng, d, 1.0), (k_used, d, d)).copy()
    else:
        orientation = np.array([rotation(rng, d, 1.0) for _ in range(k_used)])
    return compose(model, volume, shape, orientation)


def perturb(model, decomposition, rng, scale):
    """Move λ, A and D at random, equally across components where the model says Equal."""
    volume, shape, orientation = decomposition
    k, d = shape.shape
    volume_letter, shape_letter, orientation_letter = model

    def draw(letter, size):
        draws = rng.normal(scale=scale, size=(1 if letter == "E" else k,) + size)
        return np.broadcast_to(draws, (k,) + size)

    volume = volume * np.exp(draw(volume_letter, ())[:, ...])
    if shape_letter != "I" and d > 1:
        logs = draw(shape_letter, (d,))
        shape = shape * np.exp(logs - logs.mean(axis=1, keepdims=True))
    if orientation_letter != "I" and d > 1:
        if orientation_letter == "E":
            orientation = orientation @ rotation(rng, d, scale)
        else:
            orientation = np.array([D @ rotation(rng, d, scale) for D in orientation])
    return compose(model, volume, shape, orientation)


def more_constrained(a, b):
    """Whether every model a allows is one that b allows (letterwise I ≤ E ≤ V)."""
    return a != b and all(_ORDER[x] <= _ORDER[y] for x, y in zip(a, b))


def decomposition_of(model, covariances, d):
    return gm.decompose(model, covariances, n_features=d)


# --- constraints and decompositions ---------------------------------------------------------


@pytest.mark.parametrize("k, d", CASES)
@pytest.mark.parametrize("model", MODELS)
def test_result_satisfies_the_model(model, k, d):
    n, S = random_problem(1000 * k + d, k, d)
    covariances, _ = fit(model, n, S)
    layout = gm.LAYOUT[model]
    expected_shape = {"spherical": (k,), "diag": (k, d), "tied": (d, d), "full": (k, d, d)}[layout]
    assert covariances.shape == expected_shape and covariances.dtype == np.float64
    assert np.all(np.isfinite(covariances))
    full = as_full(model, covariances, k, d)
    np.testing.assert_array_equal(full, np.swapaxes(full, 1, 2))
    assert np.all(np.linalg.eigvalsh(full) > 0)

    volume, shape, orientation = decomposition_of(model, covariances, d)
    volume_letter, shape_letter, orientation_letter = model
    np.testing.assert_allclose(np.prod(shape, axis=1), 1.0, rtol=1e-12)
    if volume_letter == "E":
        np.testing.assert_allclose(volume, volume[0], rtol=1e-10)
    if shape_letter == "I":
        np.testing.assert_array_equal(shape, 1.0)
    if shape_letter == "E":
        np.testing.assert_allclose(shape, np.broadcast_to(shape[0], shape.shape), rtol=1e-10)
    if orientation_letter == "I":
        assert layout in ("spherical", "diag")
    if orientation_letter == "E":
        # Symmetric matrices share their eigenvectors exactly when they commute.
        scale = np.max(np.abs(full)) ** 2
        for a, b in itertools.combinations(full, 2):
            np.testing.assert_allclose(a @ b - b @ a, 0.0, atol=1e-11 * scale)
    if shape_letter == "E" and orientation_letter == "E":
        unit = full / np.linalg.det(full)[:, None, None] ** (1.0 / d)
        np.testing.assert_allclose(unit, np.broadcast_to(unit[0], unit.shape), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("k, d", [(1, 1), (3, 1), (2, 2), (3, 3), (4, 5)])
@pytest.mark.parametrize("model", MODELS)
def test_decompose_round_trips(model, k, d):
    covariances = random_feasible(model, 7 * k + d, k, d)
    volume, shape, orientation = decomposition_of(model, covariances, d)
    k_used = 1 if gm.LAYOUT[model] == "tied" else k
    assert volume.shape == (k_used,) and shape.shape == (k_used, d) and orientation.shape == (k_used, d, d)
    identity = np.broadcast_to(np.eye(d), (k_used, d, d))
    np.testing.assert_allclose(np.einsum("kij,kil->kjl", orientation, orientation), identity, atol=1e-12)
    np.testing.assert_allclose(volume, np.linalg.det(as_full(model, covariances, k_used, d)) ** (1.0 / d), rtol=1e-11)
    rebuilt = compose(model, volume, shape, orientation)
    np.testing.assert_allclose(rebuilt, covariances, rtol=1e-11, atol=1e-12 * np.max(np.abs(covariances)))
    if gm.LAYOUT[model] in ("full", "tied") and model not in ("EVE", "VVE"):
        assert np.all(np.diff(shape, axis=1) <= 0)  # decreasing, as mclust reports
    if model in ("EVE", "VVE"):
        np.testing.assert_array_equal(orientation, np.broadcast_to(orientation[0], orientation.shape))


def test_decompose_spherical_needs_the_number_of_features():
    with pytest.raises(ValueError, match="n_features"):
        gm.decompose("VII", np.ones(3))


# --- optimality ----------------------------------------------------------------------------


@pytest.mark.parametrize("k, d", [(1, 1), (3, 1), (2, 2), (4, 2), (3, 3), (3, 4), (4, 5)])
@pytest.mark.parametrize("model", MODELS)
def test_result_beats_feasible_perturbations(model, k, d):
    n, S = random_problem(31 * k + d, k, d)
    covariances, _ = fit(model, n, S)
    best = Q(n, S, as_full(model, covariances, k, d))
    decomposition = decomposition_of(model, covariances, d)
    rng = np.random.default_rng(5)
    for scale in (1e-3, 1e-2, 0.3):
        for _ in range(4):
            other = perturb(model, decomposition, rng, scale)
            assert Q(n, S, as_full(model, other, k, d)) <= best + 1e-10 * abs(best)


@pytest.mark.parametrize("k, d", [(1, 1), (3, 1), (2, 2), (4, 2), (3, 3), (2, 4), (4, 5)])
def test_models_are_ordered_by_their_constraints(k, d):
    n, S = random_problem(77 * k + d, k, d)
    values = {}
    for model in MODELS:
        covariances, _ = fit(model, n, S)
        values[model] = Q(n, S, as_full(model, covariances, k, d))
    slack = 1e-10 * max(abs(v) for v in values.values())
    for a, b in itertools.permutations(MODELS, 2):
        if more_constrained(a, b):
            assert values[a] <= values[b] + slack, (a, b)
    for model in MODELS:
        assert values[model] <= values["VVV"] + slack


def _brute_force(model, n, S):
    """Maximise Q over λ (log), A (log a₁ = -log a₂) and D (an angle) with d = 2."""
    k = len(n)
    volume_letter, shape_letter, orientation_letter = model
    sizes = {"I": 0, "E": 1, "V": k}
    counts = [1 if volume_letter == "E" else k, sizes[shape_letter], sizes[orientation_letter]]

    def covariances(x):
        log_volume, log_shape, angle = np.split(x, np.cumsum(counts)[:2])
        volume = np.exp(np.broadcast_to(log_volume, (k,)))
        t = np.broadcast_to(log_shape, (k,)) if counts[1] else np.zeros(k)
        theta = np.broadcast_to(angle, (k,)) if counts[2] else np.zeros(k)
        c, s = np.cos(theta), np.sin(theta)
        D = np.stack([np.stack([c, -s], axis=1), np.stack([s, c], axis=1)], axis=1)
        shape = np.exp(np.stack([t, -t], axis=1))
        return np.einsum("kij,kj,klj->kil", D, volume[:, None] * shape, D)

    def loss(x):
        return -Q(n, S, covariances(x))

    rng = np.random.default_rng(0)
    best = None
    for _ in range(4):
        x0 = rng.normal(scale=0.5, size=sum(counts))
        result = scipy.optimize.minimize(loss, x0, method="BFGS", options={"gtol": 1e-10, "maxiter": 2000})
        if best is None or result.fun < best.fun:
            best = result
    return covariances(best.x), -best.fun


@pytest.mark.parametrize("model", MODELS)
def test_agrees_with_brute_force_maximisation(model):
    n, S = random_problem(2024, 2, 2)
    covariances, _ = fit(model, n, S)
    full = as_full(model, covariances, 2, 2)
    expected, best = _brute_force(model, n, S)
    assert Q(n, S, full) >= best - 1e-9 * abs(best)
    np.testing.assert_allclose(full, expected, rtol=1e-6, atol=1e-6 * np.max(np.abs(expected)))


def test_d_one_reduces_to_equal_or_variable_variances():
    n, S = random_problem(9, 4, 1)
    pooled = np.sum(n * S[:, 0, 0]) / n.sum()
    for model in MODELS:
        covariances, _ = fit(model, n, S)
        variances = as_full(model, covariances, 4, 1)[:, 0, 0]
        expected = np.full(4, pooled) if model[0] == "E" else S[:, 0, 0]
        np.testing.assert_allclose(variances, expected, rtol=1e-13, err_msg=model)


# --- the four models scikit-learn also has -------------------------------------------------


def test_sklearn_models_are_the_obvious_formulas():
    n, S = random_problem(4, 3, 4)
    diagonal = np.diagonal(S, axis1=1, axis2=2).copy()
    full, iterations = gm.model_covariances("VVV", n, S)
    np.testing.assert_array_equal(full, S)
    assert iterations == 0 and full is not S
    for model in set(MODELS) - set(ITERATIVE):
        assert gm.model_covariances(model, n, statistics(model, S))[1] == 0
    np.testing.assert_array_equal(gm.model_covariances("VVI", n, diagonal)[0], diagonal)
    np.testing.assert_array_equal(gm.model_covariances("VII", n, diagonal)[0], diagonal.sum(axis=1) / 4)
    tied = sum(n_k * S_k for n_k, S_k in zip(n, S)) / n.sum()
    np.testing.assert_allclose(gm.model_covariances("EEE", n, S)[0], tied, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(gm.model_covariances("EEE", n, S)[0], gm.model_covariances("EEE", n, S)[0].T)


def test_closed_forms_match_the_formulas():
    n, S = random_problem(12, 3, 3)
    W = n[:, None, None] * S
    B = np.diagonal(W, axis1=1, axis2=2)
    diagonal = B / n[:, None]
    total = n.sum()
    np.testing.assert_allclose(gm.model_covariances("EII", n, diagonal)[0], np.full(3, np.trace(W.sum(0)) / (3 * total)))
    np.testing.assert_allclose(gm.model_covariances("EEI", n, diagonal)[0], np.tile(B.sum(0) / total, (3, 1)))
    roots = np.prod(B, axis=1) ** (1 / 3)
    np.testing.assert_allclose(gm.model_covariances("EVI", n, diagonal)[0], roots.sum() / total * B / roots[:, None])
    roots = np.linalg.det(W) ** (1 / 3)
    np.testing.assert_allclose(gm.model_covariances("EVV", n, S)[0], roots.sum() / total * W / roots[:, None, None])
    eev, _ = gm.model_covariances("EEV", n, S)
    values, vectors = np.linalg.eigh(W)
    common = values.sum(0) / total  # ascending in every component alike
    np.testing.assert_allclose(eev, np.einsum("kij,j,klj->kil", vectors, common, vectors), rtol=1e-12)


# --- the iterative models ------------------------------------------------------------------


@pytest.mark.parametrize("k, d", [(1, 1), (3, 1), (1, 3), (2, 2), (3, 3), (2, 4), (4, 5)])
@pytest.mark.parametrize("model", ITERATIVE)
def test_iterations_never_lower_q_below_the_start(model, k, d):
    n, S = random_problem(500 + 3 * k + d, k, d)
    for seed in range(3):
        start = random_feasible(model, seed, k, d)
        value = Q(n, S, as_full(model, start, k, d))
        for max_iter in (0, 1, 2, 3, 5, 20, 10_000):
            covariances, n_iter = fit(model, n, S, start=start, max_iter=max_iter)
            assert n_iter <= max_iter
            new = Q(n, S, as_full(model, covariances, k, d))
            assert new >= value - 1e-12 * abs(value), (seed, max_iter)
            value = new  # and more iterations never give less


@pytest.mark.parametrize("k, d", [(2, 2), (3, 3), (2, 4), (4, 5)])
@pytest.mark.parametrize("model", ITERATIVE)
def test_iterations_reach_the_same_maximiser_from_different_starts(model, k, d):
    n, S = random_problem(900 + 3 * k + d, k, d)
    reference, n_iter = fit(model, n, S)
    assert 0 < n_iter < 10_000
    for seed in range(2):
        start = random_feasible(model, 40 + seed, k, d)
        covariances, _ = fit(model, n, S, start=start)
        np.testing.assert_allclose(covariances, reference, rtol=1e-9, atol=1e-10 * np.max(np.abs(reference)))
    # from the maximiser itself: it stays there, and soon knows it
    again, n_again = fit(model, n, S, start=reference)
    np.testing.assert_allclose(again, reference, rtol=1e-11, atol=1e-12 * np.max(np.abs(reference)))
    assert n_again <= 12


@pytest.mark.parametrize("model", ITERATIVE)
def test_tight_tolerance_is_close_to_the_exact_maximiser(model):
    # the default tol against an iteration run to rounding: about 1e-10 apart at most
    n, S = random_problem(61, 4, 5)
    covariances, _ = fit(model, n, S)
    exact, _ = fit(model, n, S, tol=1e-15)
    np.testing.assert_allclose(covariances, exact, rtol=1e-10, atol=1e-10 * np.max(np.abs(exact)))


def soft_clusters(seed, k, d, size):
    """n_k and S_k of random data under random soft responsibilities: components alike,
    so the likelihood is flat along some rotations of a common orientation."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(size, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)
    z = rng.dirichlet(np.full(k, 0.7), size=size)
    n = z.sum(axis=0)
    means = z.T @ X / n[:, None]
    S = np.array([((X - m).T * z[:, j]) @ (X - m) / n[j] for j, m in enumerate(means)])
    return n, S


@pytest.mark.parametrize("model", ["EVE", "VVE"])
@pytest.mark.parametrize("problem", ["random", "flat"])
def test_common_orientation_is_stationary(model, problem):
    # At a maximum over the common orientation, Σ_k W_k Σ_k⁻¹ is symmetric (with
    # Σ_k⁻¹ = D Ψ_k Dᵀ its (p, q) asymmetry in D's basis is Σ_k B_kpq (ψ_kq - ψ_kp),
    # the derivative of Q along the rotation in plane (p, q): Flury's condition).
    n, S = random_problem(17, 3, 4) if problem == "random" else soft_clusters(11, 4, 5, 400)
    covariances, n_iter = fit(model, n, S)
    assert n_iter < 100
    M = np.einsum("k,kij,kjl->il", n, S, np.linalg.inv(covariances))
    np.testing.assert_allclose(M - M.T, 0.0, atol=1e-10 * np.abs(M).max())
    # plain MM steps (no acceleration, no Newton) from there stay there
    W = n[:, None, None] * S
    D = gm.decompose(model, covariances).orientation[0]
    for _ in range(50):
        volumes, shapes = go.profile(W, n, D, equal_volume=model == "EVE")
        D = go.orientation_step(W, D, volumes, shapes)
    volumes, shapes = go.profile(W, n, D, equal_volume=model == "EVE")
    again = np.einsum("ij,kj,lj->kil", D, volumes[:, None] * shapes, D)
    np.testing.assert_allclose(again, covariances, rtol=1e-9, atol=1e-10 * np.abs(covariances).max())


def test_orientation_step_never_increases_the_objective():
    rng = np.random.default_rng(8)
    for k, d in [(1, 2), (2, 2), (3, 3), (2, 5), (4, 6)]:
        n, S = random_problem(int(rng.integers(1000)), k, d)
        W = n[:, None, None] * S
        D = rotation(rng, d, 1.0)
        volumes = np.exp(rng.normal(size=k))
        logs = rng.normal(size=(k, d))
        shapes = np.exp(logs - logs.mean(axis=1, keepdims=True))
        value = go.orientation_objective(W, D, volumes, shapes)
        for _ in range(30):
            D = go.orientation_step(W, D, volumes, shapes)
            np.testing.assert_allclose(D.T @ D, np.eye(d), atol=1e-13)
            new = go.orientation_objective(W, D, volumes, shapes)
            assert new <= value * (1 + 1e-14)
            value = new


def test_orientation_step_stays_at_a_common_orientation():
    # Scatters that share an orientation D with the shapes as given: D minimises f.
    rng = np.random.default_rng(2)
    d, k = 4, 3
    D = rotation(rng, d, 1.0)
    diagonals = np.exp(rng.normal(size=(k, d)))
    W = np.einsum("ij,kj,lj->kil", D, diagonals, D)
    volumes, shapes = go.profile(W, np.ones(k), D, equal_volume=False)
    np.testing.assert_allclose(go.orientation_step(W, D, volumes, shapes), D, atol=1e-12)


@pytest.mark.parametrize("equal_volume", [True, False])
def test_newton_derivatives_match_finite_differences(equal_volume):
    # The gradient and Hessian of the profile loss ℓ = -2Q/d in the coordinates x
    # of D expm(Σ x_pq (e_p e_qᵀ - e_q e_pᵀ)), against central differences.
    rng = np.random.default_rng(6)
    k, d = 3, 4
    n, S = random_problem(21, k, d)
    W = n[:, None, None] * S
    D = rotation(rng, d, 1.0)
    upper = np.triu_indices(d, 1)

    def moved(x):
        K = np.zeros((d, d))
        K[upper] = x
        return D @ scipy.linalg.expm(K - K.T)

    def loss(x):
        volumes, _ = go.profile(W, n, moved(x), equal_volume=equal_volume)
        return float(np.sum(n * np.log(volumes)))

    def gradient(x):
        E = moved(x)
        return go._gradient(np.einsum("ji,kjl,lm->kim", E, W, E), n, equal_volume, upper)

    P, h = len(upper[0]), 1e-5
    steps = h * np.eye(P)
    numeric = np.array([(loss(e) - loss(-e)) / (2 * h) for e in steps])
    np.testing.assert_allclose(gradient(np.zeros(P)), numeric, rtol=1e-6, atol=1e-7 * np.abs(numeric).max())
    hessian = go._hessian(np.einsum("ji,kjl,lm->kim", D, W, D), n, equal_volume, upper)
    # The derivative of the gradient taken in the moving frame differs from the
    # Hessian by terms in the gradient, antisymmetric to first order: compare
    # the symmetric parts.
    numeric = np.array([(gradient(e) - gradient(-e)) / (2 * h) for e in steps])
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-12 * np.abs(hessian).max())
    np.testing.assert_allclose(hessian, 0.5 * (numeric + numeric.T), rtol=1e-6, atol=1e-7 * np.abs(hessian).max())


# --- degenerate scatter ---------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_degenerate_scatter_gives_no_nan(model):
    n, S = random_problem(3, 3, 3)
    zero = S.copy()
    zero[1] = 0.0  # a component on one point
    shared = S.copy()
    shared[:, 2, :] = shared[:, :, 2] = 0.0  # all components flat along one axis
    rng = np.random.default_rng(4)
    few = np.array([np.cov(rng.normal(size=(2, 3)) * [1, 2, 3], rowvar=False, bias=True) for _ in range(3)])
    few[2] = S[2]  # two components on two points each (rank 1), one proper
    for bad in (zero, shared, few, np.zeros_like(S)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            covariances, _ = fit(model, n, bad)
        assert np.all(np.isfinite(covariances)), model
    covariances, _ = fit(model, n[:2], np.zeros((2, 1, 1)))
    assert np.all(np.isfinite(covariances))


# --- parameter counts -------------------------------------------------------------------------

# nMclustParams(model, d, G) from R's mclust for d = 2..5 (inner) and G = 1..4 (outer).
MCLUST_COUNTS = {
    "EII": [3, 4, 5, 6, 6, 8, 10, 12, 9, 12, 15, 18, 12, 16, 20, 24],
    "VII": [3, 4, 5, 6, 7, 9, 11, 13, 11, 14, 17, 20, 15, 19, 23, 27],
    "EEI": [4, 6, 8, 10, 7, 10, 13, 16, 10, 14, 18, 22, 13, 18, 23, 28],
    "VEI": [4, 6, 8, 10, 8, 11, 14, 17, 12, 16, 20, 24, 16, 21, 26, 31],
    "EVI": [4, 6, 8, 10, 8, 12, 16, 20, 12, 18, 24, 30, 16, 24, 32, 40],
    "VVI": [4, 6, 8, 10, 9, 13, 17, 21, 14, 20, 26, 32, 19, 27, 35, 43],
    "EEE": [5, 9, 14, 20, 8, 13, 19, 26, 11, 17, 24, 32, 14, 21, 29, 38],
    "VEE": [5, 9, 14, 20, 9, 14, 20, 27, 13, 19, 26, 34, 17, 24, 32, 41],
    "EVE": [5, 9, 14, 20, 9, 15, 22, 30, 13, 21, 30, 40, 17, 27, 38, 50],
    "VVE": [5, 9, 14, 20, 10, 16, 23, 31, 15, 23, 32, 42, 20, 30, 41, 53],
    "EEV": [5, 9, 14, 20, 9, 16, 25, 36, 13, 23, 36, 52, 17, 30, 47, 68],
    "VEV": [5, 9, 14, 20, 10, 17, 26, 37, 15, 25, 38, 54, 20, 33, 50, 71],
    "EVV": [5, 9, 14, 20, 10, 18, 28, 40, 15, 27, 42, 60, 20, 36, 56, 80],
    "VVV": [5, 9, 14, 20, 11, 19, 29, 41, 17, 29, 44, 62, 23, 39, 59, 83],
}


def _covariance_count(model, k, d):
    h = d * (d - 1) // 2
    return {
        "EII": 1, "VII": k, "EEI": d, "VEI": k + (d - 1), "EVI": 1 + k * (d - 1), "VVI": k * d,
        "EEE": d * (d + 1) // 2, "VEE": k + d * (d + 1) // 2 - 1, "EVE": 1 + k * (d - 1) + h,
        "VVE": k + k * (d - 1) + h, "EEV": 1 + (d - 1) + k * h, "VEV": k + (d - 1) + k * h,
        "EVV": 1 + k * (d * (d + 1) // 2 - 1), "VVV": k * d * (d + 1) // 2,
    }[model]


@pytest.mark.parametrize("model", MODELS)
def test_n_parameters(model):
    for k, d in itertools.product(range(1, 7), range(1, 8)):
        assert gm.n_parameters(model, k, d) == k * d + k - 1 + _covariance_count(model, k, d)
    counts = [gm.n_parameters(model, k, d) for k in range(1, 5) for d in range(2, 6)]
    assert counts == MCLUST_COUNTS[model]
    # d = 1: mclust's "E" (k = 3: 6 parameters) or "V" (8)
    assert gm.n_parameters(model, 3, 1) == (6 if model[0] == "E" else 8)


def test_tables_cover_every_model():
    assert set(gm.LAYOUT) == set(gm.STATISTICS) == set(MODELS) and len(MODELS) == 14
    assert {m for m in MODELS if gm.STATISTICS[m] == "diag"} == {"EII", "VII", "EEI", "VEI", "EVI", "VVI"}
    with pytest.raises(ValueError, match="unknown model"):
        gm.model_covariances("XYZ", np.ones(1), np.ones((1, 1)))
