"""Where compiled code is cached when the package folder cannot be written.

The folders are made unwritable by a regular file standing where the folder would
be, which stops root as well as any other user."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kmix

_RUN = (
    "import warnings, numpy as np\n"
    "warnings.simplefilter('always')\n"
    "from kmix.kernels.compiled import kmeans_prep\n"
    "out = np.empty(3)\n"
    "kmeans_prep.cumulative_potential(np.ones(3), np.array([1.0, 2.0, 3.0]), out)\n"
    "assert out.tolist() == [1.0, 3.0, 6.0], out\n"
    "import numba\n"
    "print(numba.config.CACHE_DIR or '')\n"
)


def _installed_copy(tmp_path: Path) -> tuple[Path, dict]:
    """kmix copied to ``tmp_path/site`` with no writable __pycache__ in its compiled
    package, and an environment that imports that copy."""
    source = Path(kmix.__file__).parent
    site = tmp_path / "site"
    shutil.copytree(source, site / "kmix", ignore=shutil.ignore_patterns("__pycache__"))
    (site / "kmix" / "kernels" / "compiled" / "__pycache__").write_text("not a folder")
    env = {key: value for key, value in os.environ.items() if not key.startswith("NUMBA_")}
    env.update(PYTHONPATH=str(site), HOME=str(tmp_path / "home"))
    return site, env


def _run(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _RUN], env=env, capture_output=True, text=True,
                          timeout=600, check=True)


def test_a_read_only_package_caches_in_the_users_cache_folder(tmp_path):
    site, env = _installed_copy(tmp_path)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    done = _run(env)
    assert "cannot be cached" not in done.stderr
    cached = list((tmp_path / "cache" / "numba").rglob("kmeans_prep.cumulative_potential*.nbi"))
    assert cached, "no cache index in the user's cache folder"
    assert not list(site.rglob("*.nbi"))


def test_with_no_writable_cache_folder_kmix_says_so_and_still_computes(tmp_path):
    _, env = _installed_copy(tmp_path)
    blocked = tmp_path / "cache"
    blocked.write_text("not a folder either")
    env["XDG_CACHE_HOME"] = str(blocked)
    done = _run(env)
    assert "compiled code cannot be cached in" in done.stderr
    assert "Set NUMBA_CACHE_DIR to a writable folder" in done.stderr
    folder = done.stdout.strip().splitlines()[-1]
    assert "kmix-compiled-" in folder
    assert not os.path.exists(folder), "the temporary cache outlived its process"


# --- a change to a callee's module compiles its callers again ---------------------------

_CALLER = (
    "import sys\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "if sys.argv[2] == 'stamped':\n"
    "    from kmix.kernels.compiled import _cache\n"
    "    assert _cache.install_package_stamp(sys.argv[1] + '/toy')\n"
    "from toy.caller import twice\n"
    "print(twice())\n"
)


def _toy_package(root: Path, value: int) -> None:
    package = root / "toy"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "callee.py").write_text(
        f"from numba import njit\n\n@njit(cache=True)\ndef value():\n    return {value}\n")
    (package / "caller.py").write_text(
        "from numba import njit\nfrom .callee import value\n\n"
        "@njit(cache=True)\ndef twice():\n    return 2 * value()\n")


def _twice(root: Path, mode: str) -> int:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NUMBA_")}
    done = subprocess.run([sys.executable, "-c", _CALLER, str(root), mode], env=env,
                          capture_output=True, text=True, timeout=600, check=True)
    return int(done.stdout.split()[-1])


def test_a_changed_callee_compiles_its_cached_callers_again(tmp_path):
    for mode, root in (("numba's own stamp", tmp_path / "plain"), ("stamped", tmp_path / "stamped")):
        root.mkdir()
        _toy_package(root, 1)
        assert _twice(root, mode) == 2
        assert _twice(root, mode) == 2  # from the cache
        _toy_package(root, 5)  # the callee's module changes, the caller's does not
        if mode == "stamped":
            assert _twice(root, mode) == 10
        else:
            # numba alone keeps the cached caller, with its copy of the old callee.
            assert _twice(root, mode) == 2


def test_the_package_stamp_covers_every_module_its_functions_read():
    from kmix.kernels.compiled import _cache, kmeans_loop

    folder = Path(_cache.__file__).parent
    imported = set()
    for module in folder.glob("*.py"):
        imported |= set(re.findall(r"^\s*from \.\.(\w+) import", module.read_text(), re.M))
    assert imported, "the compiled package reads nothing from the rest of kmix"
    assert {f"../{name}.py" for name in imported} == set(_cache.ALSO_READ)
    assert _cache.STAMPED
    locator = kmeans_loop.lloyd_loop._cache._impl.locator
    assert locator.get_source_stamp() == _cache.source_stamp(str(folder), _cache.ALSO_READ)


def test_the_stamp_changes_with_any_module_of_the_package(tmp_path):
    from kmix.kernels.compiled import _cache

    folder = tmp_path / "compiled"
    shutil.copytree(Path(_cache.__file__).parent, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "constants.py").write_text("A = 1\n")
    stamps = {_cache.source_stamp(str(folder), ("../constants.py",))}
    for name in ("sums.py", "../constants.py"):
        with open(folder / name, "a") as handle:
            handle.write("# changed\n")
        _cache.source_stamp.cache_clear()
        stamps.add(_cache.source_stamp(str(folder), ("../constants.py",)))
    assert len(stamps) == 3
