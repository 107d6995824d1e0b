"""Turning a sequence of rendered figures into a GIF or an MP4 file."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import MissingDependencyError

ANIMATION_SUFFIXES = (".gif", ".mp4")


def select_frames(n_frames: int, max_frames: int | None) -> np.ndarray:
    """Indices of at most ``max_frames`` frames spread evenly over ``n_frames``,
    always keeping the first and the last."""
    if max_frames is None or max_frames >= n_frames:
        return np.arange(n_frames)
    if max_frames < 2:
        raise ValueError(f"max_frames must be >= 2 (the first and last frames), got {max_frames}")
    return np.unique(np.round(np.linspace(0, n_frames - 1, max_frames)).astype(int))


def check_animation_path(path: Any) -> Path:
    """The output path, with a suffix kmix can write; ffmpeg is checked for .mp4."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ANIMATION_SUFFIXES:
        raise ValueError(f"{path}: animations are written as .gif or .mp4, not {suffix or '(no suffix)'!r}")
    if suffix == ".mp4" and shutil.which("ffmpeg") is None:
        raise MissingDependencyError(
            f"{path}: writing .mp4 needs ffmpeg on the PATH; install ffmpeg "
            "(e.g. apt-get install ffmpeg) or write a .gif instead"
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"{path}: the folder {folder} does not exist")
    return path


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
    """Write RGB frames as an animated GIF (Pillow) or an MP4 (ffmpeg), atomically."""
    from ..io import atomic_write

    if path.suffix.lower() == ".gif":
        from PIL import Image

        images = [Image.fromarray(frame).quantize(colors=255, method=Image.Quantize.MEDIANCUT) for frame in frames]
        with atomic_write(path) as stream:
            images[0].save(
                stream, format="GIF", save_all=True, append_images=images[1:],
                duration=int(round(1000 / fps)), loop=0, disposal=1, optimize=False,
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
