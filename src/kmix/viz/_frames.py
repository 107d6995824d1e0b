"""Turning a sequence of rendered figures into a GIF or an MP4 file."""

from __future__ import annotations

import numbers
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from .._paths import check_output_path, shorten
from ..exceptions import MissingDependencyError

ANIMATION_SUFFIXES = (".gif", ".mp4")
# Frames per second allowed (see check_fps).
FPS_RANGE = (0.01, 100.0)


def select_frames(n_frames: int, max_frames: int | None) -> np.ndarray:
    """Indices of at most ``max_frames`` frames spread evenly over ``n_frames``,
    always keeping the first and the last."""
    if max_frames is None or max_frames >= n_frames:
        return np.arange(n_frames)
    if max_frames < 2:
        raise ValueError(f"max_frames must be >= 2 (the first and last frames), got {max_frames}")
    return np.unique(np.round(np.linspace(0, n_frames - 1, max_frames)).astype(int))


def check_animation_path(path: Any) -> Path:
    """The output path, with a suffix kmix can write; ffmpeg is checked for .mp4.

    Raises
    ------
    ValueError
        Another suffix; a name over 255 bytes or a path over 4095; a folder that
        does not exist; a path that is a folder.
    MissingDependencyError
        ``.mp4`` without ffmpeg on the PATH.
    """
    text = os.fspath(path)
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix not in ANIMATION_SUFFIXES:
        raise ValueError(
            f"{shorten(str(text))}: animations are written as .gif or .mp4, not {suffix or '(no suffix)'!r}"
        )
    if suffix == ".mp4" and shutil.which("ffmpeg") is None:
        raise MissingDependencyError(
            f"{shorten(str(text))}: writing .mp4 needs ffmpeg on the PATH; install ffmpeg "
            "(e.g. apt-get install ffmpeg) or write a .gif instead"
        )
    return check_output_path(path)


def check_fps(fps: Any) -> float:
    """``fps`` as a float, when it is within FPS_RANGE; else a ValueError.

    A GIF stores each frame's duration as a 16-bit count of centiseconds, so a
    frame lasts from 10 ms to 655.35 s; kmix keeps to the round range of 0.01 to
    100 frames per second (100 s to 10 ms a frame) for GIF and MP4 alike.
    """
    low, high = FPS_RANGE
    if not isinstance(fps, numbers.Real) or isinstance(fps, bool) or not low <= float(fps) <= high:
        raise ValueError(
            f"fps must be a number from {low:g} to {high:g} frames per second (a frame "
            f"lasts from {1000 / high:g} ms to {1 / low:g} s); got {fps!r}"
        )
    return float(fps)


class BlitRenderer:
    """Renders frames of a figure whose axes, ticks and static artists never change.

    The static part is drawn once (with the layout engine, which is then switched
    off since limits are fixed); each frame restores that background and draws
    only the changing artists. Axis and tick drawing is most of the cost of a
    full redraw, so this is several times faster than redrawing everything.
    """

    def __init__(self, figure: Any, artists: list[Any]) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.figure = figure
        self.canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
        self.artists = list(artists)
        for artist in self.artists:
            artist.set_animated(True)
        self.canvas.draw()
        figure.set_layout_engine("none")
        self.background = self.canvas.copy_from_bbox(figure.bbox)

    def frame(self, extra: list[Any] = ()) -> np.ndarray:
        """Pixels (height, width, 3) uint8 of the current state; ``extra`` are
        per-frame artists (such as contour sets) drawn beneath the others."""
        self.canvas.restore_region(self.background)
        for artist in [*extra, *self.artists]:
            artist.set_animated(True)
            self.figure.draw_artist(artist)
        return np.asarray(self.canvas.buffer_rgba())[..., :3].copy()


def write_frames(frames: list[np.ndarray], path: Path, fps: float) -> None:
    """Write RGB frames as an animated GIF (Pillow) or an MP4 (ffmpeg), atomically.

    ``fps`` must be within FPS_RANGE (see :func:`check_fps`).
    """
    from ..io import atomic_write

    fps = check_fps(fps)

    if path.suffix.lower() == ".gif":
        from PIL import Image

        images = [Image.fromarray(frame).quantize(colors=255, method=Image.Quantize.MEDIANCUT) for frame in frames]
        with atomic_write(path) as stream:
            images[0].save(
                stream, format="GIF", save_all=True, append_images=images[1:],
                # GIF durations are whole centiseconds: rounded here, where
                # Pillow would truncate.
                duration=10 * round(100 / fps), loop=0, disposal=1, optimize=False,
            )
        return
    height, width, _ = frames[0].shape
    temporary = path.with_name(f".{path.name}.{os.getpid()}.mp4")
    command = [
        shutil.which("ffmpeg") or "ffmpeg", "-y", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps),
        "-i", "-", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p",
        "-vcodec", "libx264", str(temporary),
    ]
    try:
        result = subprocess.run(command, input=b"".join(f.tobytes() for f in frames), capture_output=True)
        if result.returncode != 0:
            raise OSError(f"ffmpeg failed writing {path}: {result.stderr.decode(errors='replace').strip()}")
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
