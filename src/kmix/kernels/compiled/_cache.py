"""Where the compiled code is cached, settled before the first function is compiled.

numba keeps each function's machine code next to its source (``__pycache__``) or,
where the package folder is not writable (a system-wide or read-only install), in
the user's cache folder (``~/.cache/numba``, or ``$XDG_CACHE_HOME/numba``); an
explicit ``NUMBA_CACHE_DIR`` comes first. Where none of them can be written numba
would refuse to define the functions at all: kmix then compiles into a temporary
folder for this process only and says so, once, with what to set.

numba tells a cached function's machine code stale by the text of the one file
that defines it, but a compiled function holds a copy of every compiled function
it calls, from whichever module. A kernel changed in one module would then go on
running, unchanged, inside the cached callers of other modules. So this package's
functions are stamped with the text of all its modules, and of the modules of kmix
whose constants they read (:func:`install_package_stamp`): a change to any of them
compiles the whole package again.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import shutil
import tempfile
import warnings

import numba
from numba.misc.appdirs import AppDirs

__all__ = ["install_package_stamp", "settle", "source_stamp"]

_FOLDER = os.path.dirname(os.path.abspath(__file__))
# The modules outside this package whose constants its functions read, relative
# to it (a test checks that every import from outside is listed).
ALSO_READ = ("../gmm_models_orientation.py",)


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


@functools.lru_cache(maxsize=None)
def source_stamp(folder: str, also_read: tuple[str, ...] = ()) -> str:
    """A digest of the text of every module in ``folder`` and of ``also_read``
    (paths relative to it)."""
    names = sorted(name for name in os.listdir(folder) if name.endswith(".py"))
    digest = hashlib.sha256()
    for name in [*names, *also_read]:
        with open(os.path.join(folder, name), "rb") as handle:
            digest.update(name.encode() + b"\0" + handle.read() + b"\0")
    return digest.hexdigest()


class _StampedLocator:
    """numba's own locator for a function (the same cache folder and file names),
    with the stamp of its whole package in place of its file's."""

    def __init__(self, inner, stamp: str) -> None:
        self._inner = inner
        self._stamp = stamp

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def get_source_stamp(self) -> str:
        return self._stamp


def install_package_stamp(folder: str, also_read: tuple[str, ...] = ()) -> bool:
    """Stamp the cached functions defined in ``folder``'s modules with
    :func:`source_stamp` of the folder. False where numba has no list of cache
    locators to extend (then numba's own per-file stamp stands)."""
    from numba.core import caching

    # CacheImpl in recent numba, _CacheImpl in older releases.
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    classes = getattr(impl, "_locator_classes", None)
    if not isinstance(classes, list):
        return False
    folder = os.path.abspath(folder)

    class PackageLocator:
        @classmethod
        def from_function(cls, py_func, py_file):
            if os.path.dirname(os.path.abspath(py_file)) != folder:
                return None
            for other in classes:
                if other is not cls:
                    inner = other.from_function(py_func, py_file)
                    if inner is not None:
                        return _StampedLocator(inner, source_stamp(folder, also_read))
            return None

    classes.insert(0, PackageLocator)
    return True


settle()
# Whether the package's stamp is in force (a test checks it for the numba installed).
STAMPED = install_package_stamp(_FOLDER, ALSO_READ)
