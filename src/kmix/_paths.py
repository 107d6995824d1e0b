"""Checks of output paths, made before any work: what the operating system would
refuse is said in one clear sentence instead of a bare ``OSError`` at the end."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["NAME_MAX", "PATH_MAX", "TEMPORARY_ROOM", "check_output_path", "check_output_folder", "shorten"]

# Bytes in one file or folder name (ext4, XFS, Btrfs, APFS, NTFS).
NAME_MAX = 255
# Bytes in a whole path: Linux's PATH_MAX is 4096 with the closing NUL.
PATH_MAX = 4095
# Files are written to a hidden temporary name beside the target first (and a
# writer may nest one more beside that); such names stay within this many bytes,
# so the folder needs this much room even for a shorter target name.
TEMPORARY_ROOM = 64


def shorten(text: str, limit: int = 81) -> str:
    """``text`` as a one-line message shows it: a newline or NUL escaped, and a
    very long name cut in the middle, keeping its start and its end."""
    if not text.isprintable():
        text = repr(text)[1:-1]
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return f"{text[:head]}…{text[len(text) - (limit - 1 - head):]}"


def _size(text: str) -> int:
    return len(os.fsencode(text))


def _check_lengths(path: Path, text: str, is_file: bool, room: int) -> None:
    """Every name in ``path`` at most NAME_MAX bytes; the path at most PATH_MAX
    bytes, and still so with a name of ``room`` bytes in place of its last (a file
    written beside it) or after it (a file written in it)."""
    shown = shorten(text)
    parts = [part for part in path.parts if part != path.anchor]
    for position, part in enumerate(parts):
        size = _size(part)
        if size > NAME_MAX:
            if position < len(parts) - 1:
                what = f"folder name {shorten(part, 30)!r}"
            else:
                what = "file name" if is_file else "folder name"
            raise ValueError(
                f"{shown}: the {what} is {size} bytes long; a file system allows at most {NAME_MAX}"
            )
    total = _size(text)
    if total > PATH_MAX:
        raise ValueError(
            f"{shown}: the path is {total} bytes long; the operating system allows at most {PATH_MAX}"
        )
    folder = total - _size(path.name) if is_file else total + 1
    if folder + room > PATH_MAX:
        where = "beside" if is_file else "in"
        raise ValueError(
            f"{shown}: the path is {total} bytes long, too long to write a temporary file "
            f"{where} it (at most {PATH_MAX - room} bytes for the folder)"
        )


def _folder(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _is_dir(path: Path, shown: str) -> bool:
    try:
        return path.is_dir()
    except OSError as exc:
        raise ValueError(f"{shown}: cannot look at {shorten(str(path), 40)} ({exc.strerror or exc})") from None


def check_output_path(path: Any) -> Path:
    """``path`` as a Path, when a file can be written there.

    Every name in it is at most 255 bytes, the whole path at most 4095 (with room
    in its folder for a temporary name), its folder exists, and it is not itself a
    folder.

    Raises
    ------
    ValueError
        Naming the path and what is wrong.
    """
    text = os.fspath(path)
    path = Path(text)
    shown = shorten(str(text))
    if not path.name:
        raise ValueError(f"{shown or repr(text)}: expected the name of a file")
    _check_lengths(path, str(text), True, TEMPORARY_ROOM)
    folder = _folder(path)
    if not _is_dir(folder, shown):
        raise ValueError(f"{shown}: the folder {shorten(str(folder), 40)} does not exist")
    if _is_dir(path, shown):
        raise ValueError(f"{shown} is a folder; give the name of a file")
    return path


def check_output_folder(path: Any, longest_name: int = 32) -> Path:
    """``path`` as a Path, when it is a folder or one can be made there to hold
    files of names up to ``longest_name`` bytes.

    Raises
    ------
    ValueError
        Naming the path and what is wrong.
    """
    text = os.fspath(path)
    path = Path(text)
    shown = shorten(str(text))
    if not str(text):
        raise ValueError("expected the name of a folder, got ''")
    _check_lengths(path, str(text), False, max(TEMPORARY_ROOM, longest_name))
    existing = path
    while not _exists(existing, shown):
        existing = _folder(existing)
    if not _is_dir(existing, shown):
        what = "" if existing == path else f": {shorten(str(existing), 40)}"
        raise ValueError(f"{shown}: exists and is not a folder{what}")
    return path


def _exists(path: Path, shown: str) -> bool:
    try:
        return os.path.lexists(path) or path == Path(".") or path == Path(path.anchor)
    except OSError as exc:  # pragma: no cover - lexists reports most errors as False
        raise ValueError(f"{shown}: cannot look at {shorten(str(path), 40)} ({exc.strerror or exc})") from None
