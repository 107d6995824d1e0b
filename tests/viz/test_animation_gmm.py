"""EM animations: valid GIFs, one frame per iteration, from the recorded parameters."""

import numpy as np
import pytest
from PIL import Image

import kmix
from kmix.viz import animate_gmm

pytestmark = pytest.mark.filterwarnings("ignore::kmix.ConvergenceWarning")


@pytest.fixture(scope="module")
def fitted():
    X = kmix.datasets.load("samples_2")
    rng = np.random.default_rng(0)
    model = kmix.GaussianMixture(
        5, weights_init=np.full(5, 0.2), means_init=X[rng.choice(500, 5, replace=False)],
        precisions_init=np.tile(np.eye(2), (5, 1, 1)), tol=1e-4, max_iter=12,
    ).fit(X)
    return X, model


def _frames(path):
    with Image.open(path) as image:
        assert image.format == "GIF"
        frames = []
        for i in range(image.n_frames):
            image.seek(i)
            frames.append(np.asarray(image.convert("RGB")))
    return frames


@pytest.mark.parametrize("style", ["ellipses", "density"])
def test_one_frame_per_iteration(fitted, tmp_path, style):
    X, model = fitted
    info = animate_gmm(X, model, tmp_path / f"{style}.gif", style=style, fps=5)
    frames = _frames(info.path)
    assert len(frames) == info.n_frames == model.n_iter_ + 1
    assert len({f.shape for f in frames}) == 1
    moved = np.abs(np.diff(model.history_.means, axis=0)).max(axis=(1, 2)) > 1e-3
    for i in np.flatnonzero(moved):
        assert np.any(frames[i] != frames[i + 1]), f"frames {i} and {i + 1} are identical"
    assert info.frames[0] == "initial parameters" and info.frames[-1] == f"iteration {model.n_iter_}"


def test_objective_panel_and_max_frames(fitted, tmp_path):
    X, model = fitted
    info = animate_gmm(X, model.history_, tmp_path / "g.gif", show_objective=True, max_frames=5)
    frames = _frames(info.path)
    assert len(frames) == 5 and info.frames[0] == "initial parameters"
    assert info.frames[-1] == f"iteration {model.n_iter_}"
    assert frames[0].shape[1] > frames[0].shape[0]


def test_history_without_parameters_says_how_to_record_them(tmp_path):
    X = kmix.datasets.load("samples_1")
    model = kmix.GaussianMixture(3, random_state=0, record_history=False).fit(X)
    with pytest.raises(ValueError, match="record_history=True"):
        animate_gmm(X, model, tmp_path / "g.gif")


def test_bad_style(fitted, tmp_path):
    X, model = fitted
    with pytest.raises(ValueError, match="style must be 'ellipses' or 'density'"):
        animate_gmm(X, model, tmp_path / "g.gif", style="contours")


def test_high_dimensional_mixture_is_projected(tmp_path, rng):
    X = np.concatenate([rng.normal(size=(80, 4)) + 5 * i for i in range(3)])
    model = kmix.GaussianMixture(3, random_state=0, max_iter=5, tol=0).fit(X)
    info = animate_gmm(X, model, tmp_path / "g.gif", style="density")
    assert len(_frames(info.path)) == model.n_iter_ + 1
