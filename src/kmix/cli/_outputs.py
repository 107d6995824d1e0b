"""One transaction for the files a command writes: all of them, or none.

Each output is written to a hidden temporary file in its target's folder; only
when the whole run has succeeded are they renamed into place, together. A failure
or an interrupt anywhere before that removes the temporaries and leaves every
target as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import secrets
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._paths import shorten
from ._common import OutputError, UsageError

__all__ = ["OutputFiles", "joined", "data_file"]

# Bytes of the target's name kept in its temporary name (to tell whose it is);
# with the rest of the name this stays within kmix._paths.TEMPORARY_ROOM.
_NAME_PART = 24


@dataclass
class _Output:
    option: str  # the command-line option that asked for it, for messages
    target: Path
    temporary: Path
    backup: Path | None = None  # where the file that was at target is kept until the end


def data_file(data: str | os.PathLike | None) -> Path | None:
    """The file a command's DATA argument reads, or None for a bundled dataset.

    ``file.npz:key`` reads ``file.npz``; a name that is no file but a bundled
    dataset reads no file.
    """
    if data is None:
        return None
    from .. import datasets
    from .._datafiles import split_npz_key

    text = os.fspath(data)
    file_part, key = split_npz_key(text)
    if key is None and text in datasets.DATASETS and not os.path.lexists(text):
        return None
    return Path(file_part)


def _same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file: the file system's answer when both exist,
    else a comparison of their absolute paths with the links resolved."""
    with contextlib.suppress(OSError, ValueError):
        if first.exists() and second.exists():
            return os.path.samefile(first, second)
    return _resolved(first) == _resolved(second)


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a path the system refuses is no folder; reserving beside it says why
        return False


# Reasons for a failed write, in the words of the other messages (by errno name:
# not every system has every one).
_WRITE_REASONS = {
    getattr(errno, name): reason for name, reason in [
        ("ENOSPC", "no space left on device"),
        ("EDQUOT", "disk quota exceeded"),
        ("EROFS", "the file system is read-only"),
        ("EACCES", "permission denied"),
        ("EPERM", "operation not permitted"),
        ("EFBIG", "the file is too large for the file system"),
    ] if hasattr(errno, name)
}


# What only a write can run into: no room left.
_FULL = {getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG") if hasattr(errno, name)}


def _write_reason(exc: OSError) -> str:
    if exc.errno in _WRITE_REASONS:
        return _WRITE_REASONS[exc.errno]
    reason = exc.strerror or str(exc) or type(exc).__name__
    return reason[:1].lower() + reason[1:]


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a loop of links
        return Path(os.path.abspath(path))


class OutputFiles:
    """The files of one command run, put in place together or not at all.

    Use it as a context manager. :meth:`add` checks a target and returns the
    temporary path to write it to (a hidden file in the target's folder, with the
    target's suffix, so writers that choose the format by the suffix still do).
    Leaving the block normally renames every temporary onto its target
    (:meth:`commit`); leaving it by an exception, ``KeyboardInterrupt`` included,
    removes every temporary and leaves every target as it was (:meth:`discard`).

    A target that already exists is first moved aside to a backup name, so that
    when a later rename fails, the files already replaced are put back; the backups
    are deleted once all renames succeeded.

    Parameters
    ----------
    data : str or path-like, optional
        The command's DATA argument: an output that names the file it reads is
        refused, and so are two outputs that name one file.

    Attributes
    ----------
    written : list of Path
        The targets, in the order they were added, once committed.
    """

    def __init__(self, data: str | os.PathLike | None = None) -> None:
        self.data = None if data is None else os.fspath(data)
        self._input = data_file(data)
        self._outputs: list[_Output] = []
        self._folders: list[Path] = []  # made by this run, deepest first
        self.written: list[Path] = []

    def __enter__(self) -> OutputFiles:
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> bool:
        if exc_type is None:
            self.commit()
        else:
            self.discard()
            failure = self.write_failure(exc)
            if failure is not None:
                raise failure from exc
        return False

    def _output_of(self, filename: Any) -> _Output | None:
        """The output whose temporary (or a writer's own temporary beside it, or its
        backup, or its target) ``filename`` is, or None."""
        if filename is None or isinstance(filename, int):
            return None
        try:
            path = Path(os.path.abspath(os.fsdecode(filename)))
        except (TypeError, ValueError):
            return None
        for output in self._outputs:
            temporary = Path(os.path.abspath(output.temporary))
            if path in (temporary, Path(os.path.abspath(output.target))):
                return output
            if output.backup is not None and path == Path(os.path.abspath(output.backup)):
                return output
            # A writer's own temporary file beside ours (kmix.io.atomic_write's,
            # the MP4 writer's): its name starts with ours, after a dot.
            if path.parent == temporary.parent and path.name.startswith(f".{temporary.name}."):
                return output
        return None

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Around the writing of the outputs, in the order they were added: a
        failure there that names no file (a full disk, say) is put on the first
        output not written yet."""
        try:
            yield
        except OSError as exc:
            failure = self.write_failure(exc, writing=True)
            if failure is None:
                raise
            raise failure from exc

    def _first_unwritten(self) -> _Output | None:
        for output in self._outputs:
            with contextlib.suppress(OSError):
                if os.path.getsize(output.temporary) == 0:
                    return output
        return None

    def write_failure(self, exc: BaseException, writing: bool = False) -> OutputError | None:
        """An error raised while writing or renaming the outputs, as the user sees
        it: ``cannot write TARGET: REASON``, naming the file asked for, never a
        temporary one. None for an error that is not about an output.

        ``writing``: ``exc`` was raised while the outputs were written (see
        :meth:`writing`), where a full disk is about the output being written.
        """
        if not isinstance(exc, OSError):
            return None
        output = self._output_of(exc.filename) or self._output_of(exc.filename2)
        if output is None and writing and exc.filename is None and exc.errno in _FULL:
            output = self._first_unwritten()
        if output is not None:
            return OutputError(f"cannot write {shorten(str(output.target))}: {_write_reason(exc)}")
        # A writer's message that names a temporary path (ffmpeg's, say): the
        # target's name in its place.
        message = str(exc)
        named = [output for output in self._outputs if str(output.temporary) in message]
        if not named:
            return None
        for output in named:
            message = message.replace(str(output.temporary), str(output.target))
        return OutputError(message)

    def add(self, option: str, target: str | os.PathLike) -> Path:
        """Check ``target`` and reserve its temporary file; return the temporary's path.

        Raises
        ------
        UsageError
            Naming ``option`` when ``target`` is the input data file, is already
            an output of this run, is a folder, or no file can be made in its
            folder.
        """
        target = Path(target)
        shown = shorten(str(target))
        if self._input is not None and _same_file(target, self._input):
            raise UsageError(f"{option} {shown} is the input data file; choose another name")
        for other in self._outputs:
            if _same_file(target, other.target):
                names = f"{other.option} and {option}" if other.option != option else f"{option} twice"
                raise UsageError(f"{names} name the same file {shown}; choose different names")
        if _is_dir(target):
            raise UsageError(f"{option} {shown} is a folder; give the name of a file")
        output = _Output(option, target, self._reserve(option, target))
        self._outputs.append(output)
        return output.temporary

    def add_options(self, args: argparse.Namespace, names: Iterable[str]) -> dict[str, Path]:
        """:meth:`add` for each option of ``names`` (attributes of ``args``, such
        as "ssd_plot" for ``--ssd-plot``) that was given; returns their temporary
        paths by name."""
        temporary = {}
        for name in names:
            target = getattr(args, name, None)
            if target:
                temporary[name] = self.add("--" + name.replace("_", "-"), target)
        return temporary

    def make_folder(self, option: str, folder: str | os.PathLike) -> Path:
        """Make ``folder`` and its missing parents; those made are removed again
        when the run fails."""
        folder = Path(folder)
        missing = []
        existing = folder
        while not os.path.lexists(existing) and existing != existing.parent:
            missing.append(existing)
            existing = existing.parent
        try:
            for path in reversed(missing):
                path.mkdir()
                self._folders.insert(0, path)
        except OSError as exc:
            raise UsageError(
                f"{option} {shorten(str(folder))}: cannot make the folder ({exc.strerror or exc})"
            ) from None
        if not folder.is_dir():
            raise UsageError(f"{option} {shorten(str(folder))} is not a folder")
        return folder

    def _reserve(self, option: str, target: Path) -> Path:
        """Create an empty, new hidden file beside ``target``, with its suffix."""
        folder = target.parent
        name = target.name
        while len(os.fsencode(name)) > _NAME_PART:
            name = name[:-1]
        for _ in range(100):
            temporary = folder / f".{name}.{secrets.token_hex(5)}.tmp{target.suffix}"
            try:
                # The mode a plain open() gives (0666 less the umask), which the
                # target then keeps.
                descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            except OSError as exc:
                raise UsageError(
                    f"{option} {shorten(str(target))}: cannot write in the folder "
                    f"{shorten(str(folder), 40)} ({exc.strerror or exc})"
                ) from None
            os.close(descriptor)
            return temporary
        raise UsageError(f"{option} {shorten(str(target))}: cannot find a free temporary name beside it")

    def commit(self) -> list[Path]:
        """Rename every temporary onto its target; on any failure put back what
        was there and remove the temporaries. Returns the targets."""
        started: list[_Output] = []
        try:
            for output in self._outputs:
                if os.path.getsize(output.temporary) == 0:
                    raise RuntimeError(f"{output.option} {output.target}: nothing was written")
            for output in self._outputs:
                started.append(output)
                if os.path.lexists(output.target):
                    # A name derived from the temporary's, which this run made
                    # unique in the folder.
                    output.backup = output.temporary.with_name(output.temporary.name + ".old")
                    os.replace(output.target, output.backup)
                os.replace(output.temporary, output.target)
        except BaseException as exc:
            self._roll_back(started)
            self.discard()
            failure = self.write_failure(exc)
            if failure is not None:
                raise failure from exc
            raise
        for output in self._outputs:
            if output.backup is not None:
                with contextlib.suppress(OSError):
                    os.unlink(output.backup)
        self.written = [output.target for output in self._outputs]
        return self.written

    def _roll_back(self, started: list[_Output]) -> None:
        # What to undo is read from the files themselves, so that an interrupt
        # between two steps is undone as well as a failed step.
        for output in reversed(started):
            try:
                if output.backup is not None and os.path.lexists(output.backup):
                    os.replace(output.backup, output.target)
                elif output.backup is None and not os.path.lexists(output.temporary):
                    os.unlink(output.target)
            except OSError as exc:
                kept = f"; its previous content is in {output.backup}" if output.backup else ""
                sys.stderr.write(
                    f"kmix: warning: could not restore {output.target} ({exc.strerror or exc}){kept}\n"
                )

    def discard(self) -> None:
        """Remove every temporary file, and the folders this run made if empty."""
        for output in self._outputs:
            with contextlib.suppress(OSError):
                os.unlink(output.temporary)
        for folder in self._folders:
            with contextlib.suppress(OSError):
                folder.rmdir()
        self._folders = []


@contextlib.contextmanager
def joined(outputs: OutputFiles | None) -> Iterator[OutputFiles]:
    """``outputs`` itself, or, when None, a transaction of its own that commits
    when the block ends (for a function that also runs on its own)."""
    if outputs is not None:
        yield outputs
        return
    with OutputFiles() as own:
        yield own
