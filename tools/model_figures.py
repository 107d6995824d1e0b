"""Draw the fourteen covariance models of mclust fitted to one data set.

One figure, one panel per model in mclust's order (EII ... VVV): the same 2-D
sample of three clusters with different volumes, shapes and orientations, and
the two-standard-deviation ellipses of the three fitted components. Every fit
starts from the same means (one k-means fit), so component i is the same
cluster, in the same colour, in every panel.

Usage::

    MPLBACKEND=Agg python tools/model_figures.py [docs/figures/covariance_models.png]
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import numpy as np

import kmix
from kmix.kernels.gmm_covariances import n_parameters
from kmix.kernels.gmm_models import MODELS
from kmix.viz import plot_gmm

N_COMPONENTS = 3


def _cluster(rng: np.random.Generator, n: int, centre: np.ndarray, scales: tuple[float, float],
             degrees: float) -> np.ndarray:
    """n points of N(centre, R diag(scales²) Rᵀ), R the rotation by ``degrees``."""
    angle = np.radians(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.asarray(centre) + (rng.standard_normal((n, 2)) * np.asarray(scales)) @ rotation.T


def synthetic_data() -> tuple[np.ndarray, np.ndarray]:
    """600 points in three clusters, and the clusters' centres (3, 2).

    A small round cluster, a large one elongated along 30°, and a medium one
    elongated along 75°: volumes, shapes and orientations all differ.
    """
    rng = np.random.default_rng(0)
    centres = np.array([[-5.0, 4.0], [3.0, 1.0], [-4.0, -3.0]])
    X = np.concatenate([
        _cluster(rng, 150, centres[0], (0.5, 0.5), 0.0),
        _cluster(rng, 250, centres[1], (2.2, 0.5), 30.0),
        _cluster(rng, 200, centres[2], (1.3, 0.35), 75.0),
    ])
    return X, centres


def shared_means(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """k-means centres, ordered so that centre i is the one nearest the i-th cluster."""
    found = kmix.KMeans(n_clusters=N_COMPONENTS, n_init=10, random_state=0).fit(X).cluster_centers_
    distances = np.linalg.norm(centres[:, None, :] - found[None, :, :], axis=2)
    order = []
    for row in distances:  # greedy matching; the clusters are well apart
        row = row.copy()
        row[order] = np.inf
        order.append(int(np.argmin(row)))
    return found[order]


def covariance_parameters(model: str, k: int, d: int) -> int:
    """Free parameters of the covariances alone: all of them less k·d means and k - 1 weights."""
    return n_parameters(k, d, model) - (k * d + k - 1)


def draw(output: Path, dpi: int = 100) -> Path:
    """Fit every model, draw the 4 x 4 grid (two panels left empty) and save it."""
    from matplotlib.figure import Figure

    X, centres = synthetic_data()
    means_init = shared_means(X, centres)
    k, d = N_COMPONENTS, X.shape[1]

    figure = Figure(figsize=(11.0, 11.0), dpi=dpi, layout="constrained")
    axes = figure.subplots(4, 4, sharex=True, sharey=True).ravel()
    for ax, model in zip(axes, MODELS):
        gmm = kmix.GaussianMixture(k, covariance_type=model, means_init=means_init, random_state=0).fit(X)
        count = covariance_parameters(model, k, d)
        noun = "parameter" if count == 1 else "parameters"
        plot_gmm(X, gmm, ax=ax, point_size=4.0, legend=False, title=f"{model}  ({count} covariance {noun})")
        ax.title.set_fontsize(10)
        ax.label_outer()
    for ax in axes[len(MODELS):]:
        ax.set_visible(False)
    for ax in axes[len(MODELS) - 4:len(MODELS) - 2]:  # above an empty panel: the x axis shows
        ax.xaxis.set_tick_params(labelbottom=True)
        ax.set_xlabel("$x_1$")
    # One square window for every panel that holds every point and ellipse, equal
    # scales, so that shapes and angles are true.
    bounds = np.array([ax.dataLim.get_points() for ax in axes[:len(MODELS)]])  # (14, 2, 2)
    low, high = bounds[:, 0].min(axis=0), bounds[:, 1].max(axis=0)
    middle, half = (low + high) / 2, 0.52 * float(np.max(high - low))
    axes[0].set_xlim(middle[0] - half, middle[0] + half)
    axes[0].set_ylim(middle[1] - half, middle[1] + half)
    for ax in axes:
        ax.set_aspect("equal", adjustable="box")
    figure.suptitle(
        "mclust's fourteen covariance models, Σ$_k$ = λ$_k$ D$_k$ A$_k$ D$_k^T$, fitted to one sample "
        f"(k = {k}, d = {d}; 2-standard-deviation ellipses)"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    _save(figure, output, dpi)
    return output


def _save(figure: Any, output: Path, dpi: int) -> None:
    """Save the figure; a PNG with a palette of 256 colours, which keeps the file
    small and is enough for points and lines in a few colours."""
    if output.suffix.lower() != ".png":
        figure.savefig(output, dpi=dpi)
        return
    from PIL import Image  # matplotlib's own dependency

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    buffer.seek(0)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(colors=256).save(output, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="docs/figures/covariance_models.png", type=Path,
                        help="where to write the figure (default docs/figures/covariance_models.png)")
    parser.add_argument("--dpi", type=int, default=100, help="resolution (default 100)")
    arguments = parser.parse_args(argv)
    print(draw(arguments.output, arguments.dpi))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
