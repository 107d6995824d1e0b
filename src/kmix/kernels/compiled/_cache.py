"""Where the compiled code is cached, settled before the first function is compiled.

numba keeps each function's machine code next to its source (``__pycache__``) or,
where the package folder is not writable (a system-wide or read-only install), in
the user's cache folder (``~/.cache/numba``, or ``$XDG_CACHE_HOME/numba``); an
explicit ``NUMBA_CACHE_DIR`` comes first. Where none of them can be written numba
would refuse to define the functions at all: kmix then compiles into a temporary
folder for this process only and says so, once, with what to set.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import warnings

import numba
from numba.misc.appdirs import AppDirs

__all__ = ["settle"]


def _writable(folder: str) -> bool:
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return False
    return True


def settle() -> str | None:
    """Point numba at a temporary folder when neither the package's ``__pycache__``
    nor the user's cache folder can be written (a RuntimeWarning says so); return
    that folder, or None when numba's own choice stands."""
    if numba.config.CACHE_DIR:
        return None
    in_tree = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")
    user_wide = AppDirs(appname="numba", appauthor=False).user_cache_dir
    if _writable(in_tree) or _writable(user_wide):
        return None
    folder = tempfile.mkdtemp(prefix="kmix-compiled-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    numba.config.CACHE_DIR = folder
    warnings.warn(
        f"kmix: compiled code cannot be cached in {in_tree} nor in {user_wide} (neither can be "
        "written); it is compiled for this process only. Set NUMBA_CACHE_DIR to a writable "
        "folder to keep it between runs.",
        RuntimeWarning,
        stacklevel=2,
    )
    return folder


settle()
