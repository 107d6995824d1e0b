"""Where compiled code is cached when the package folder cannot be written.

The folders are made unwritable by a regular file standing where the folder would
be, which stops root as well as any other user."""

import os
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
