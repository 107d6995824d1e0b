"""Two-dimensional views of higher-dimensional data: the first two principal components."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Projection(NamedTuple):
    """An affine map x -> (x - mean) @ components.T onto two principal axes."""

    mean: np.ndarray  # (n_features,)
    components: np.ndarray  # (2, n_features), orthonormal rows
    explained_variance_ratio: np.ndarray  # (2,)

    def points(self, X: np.ndarray) -> np.ndarray:
        """Project points, shape (..., n_features) -> (..., 2)."""
        return (np.asarray(X, dtype=np.float64) - self.mean) @ self.components.T

    def covariances(self, covariances: np.ndarray) -> np.ndarray:
        """Project covariance matrices, shape (..., d, d) -> (..., 2, 2): P Σ Pᵀ."""
        P = self.components
        return np.einsum("ij,...jk,lk->...il", P, np.asarray(covariances, dtype=np.float64), P)


def fit_projection(X: np.ndarray) -> Projection | None:
    """The principal-component projection of X, or None when X is already 2-D.

    Fitted once per figure or animation, so every frame shares the same view.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape[1] <= 2:
        return None
    mean = X.mean(axis=0)
    # SVD of the centred data: right singular vectors are the principal axes.
    _, singular_values, vt = np.linalg.svd(X - mean, full_matrices=False)
    variance = singular_values**2
    total = variance.sum()
    ratio = variance[:2] / total if total > 0 else np.array([0.0, 0.0])
    components = vt[:2]
    # Fix the sign so the view does not flip between runs: largest entry positive.
    signs = np.sign(components[np.arange(2), np.argmax(np.abs(components), axis=1)])
    signs[signs == 0] = 1.0
    return Projection(mean, components * signs[:, None], ratio)


def to_2d(X: np.ndarray) -> tuple[np.ndarray, Projection | None]:
    """Points in two dimensions and the projection used (None when d <= 2).

    One-dimensional data is drawn against a zero second coordinate.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape[1] == 1:
        return np.column_stack([X[:, 0], np.zeros(len(X))]), None
    projection = fit_projection(X)
    return (X if projection is None else projection.points(X)), projection
