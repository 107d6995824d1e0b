"""k-means animations: valid GIFs, one frame per (half-)step, drawn from the history."""

import numpy as np
import pytest
from PIL import Image

import kmix
from kmix.viz.animation import animate_kmeans
from kmix.viz._frames import select_frames


@pytest.fixture(scope="module")
def fitted():
    X = kmix.datasets.load("samples_3")
    return X, kmix.KMeans(8, init="random", n_init=1, random_state=3).fit(X)


def _frames(path):
    with Image.open(path) as image:
        assert image.format == "GIF"
        frames = []
        for i in range(image.n_frames):
            image.seek(i)
            frames.append(np.asarray(image.convert("RGB")))
    return frames


def test_one_frame_per_iteration_plus_the_start(fitted, tmp_path):
    X, model = fitted
    info = animate_kmeans(X, model, tmp_path / "k.gif", fps=5)
    frames = _frames(info.path)
    assert len(frames) == info.n_frames == model.n_iter_ + 1
    assert len({f.shape for f in frames}) == 1
    # the fit moved at every iteration but the last (strict convergence): frames differ
    moved = np.abs(np.diff(model.history_.centers, axis=0)).sum(axis=(1, 2)) > 0
    for i in np.flatnonzero(moved):
        assert np.any(frames[i] != frames[i + 1]), f"frames {i} and {i + 1} are identical"


def test_half_steps_give_two_frames_per_iteration(fitted, tmp_path):
    X, model = fitted
    info = animate_kmeans(X, model, tmp_path / "k.gif", half_steps=True, show_objective=True)
    assert info.n_frames == 2 * model.n_iter_ + 1
    assert info.frames[1].endswith("assignment") and info.frames[2].endswith("update")
    frames = _frames(info.path)
    assert len(frames) == info.n_frames
    assert frames[0].shape[1] > frames[0].shape[0]  # the SSD panel sits beside the points


def test_max_frames_keeps_first_and_last(fitted, tmp_path):
    X, model = fitted
    full = animate_kmeans(X, model, tmp_path / "full.gif", half_steps=True)
    short = animate_kmeans(X, model, tmp_path / "short.gif", half_steps=True, max_frames=4)
    assert short.n_frames == 4
    assert short.frames[0] == full.frames[0] and short.frames[-1] == full.frames[-1]
    np.testing.assert_array_equal(_frames(short.path)[-1], _frames(full.path)[-1])
    assert select_frames(100, 7).tolist()[0] == 0 and select_frames(100, 7).tolist()[-1] == 99
    assert len(select_frames(100, 7)) == 7


def test_history_without_parameters_says_how_to_record_them(tmp_path):
    X = kmix.datasets.load("samples_1")
    model = kmix.KMeans(3, random_state=0, record_history=False).fit(X)
    with pytest.raises(ValueError, match="record_history=True"):
        animate_kmeans(X, model, tmp_path / "k.gif")


def test_bad_path_and_missing_ffmpeg(fitted, tmp_path, monkeypatch):
    X, model = fitted
    with pytest.raises(ValueError, match=r"written as \.gif or \.mp4"):
        animate_kmeans(X, model, tmp_path / "k.avi")
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(kmix.MissingDependencyError, match="install ffmpeg .* or write a .gif"):
        animate_kmeans(X, model, tmp_path / "k.mp4")


def test_high_dimensional_data_uses_a_fixed_projection(tmp_path, rng):
    X = np.concatenate([rng.normal(size=(60, 5)) + 6 * i for i in range(3)])
    model = kmix.KMeans(3, random_state=0).fit(X)
    info = animate_kmeans(X, model, tmp_path / "k.gif")
    assert len(_frames(info.path)) == model.n_iter_ + 1
