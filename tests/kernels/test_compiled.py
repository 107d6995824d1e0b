"""The compiled package: numba loaded on first use only, thread counts passed in, never kept."""

import subprocess
import sys

import numpy as np
import pytest

from kmix.kernels import compiled
from kmix.kernels import kmeans as kk
from kmix.kernels import kmeans_bounds as bounds
from kmix.kernels import kmeans_passes as passes
from kmix.kernels import moments
from kmix.kernels.seeding import kmeans_plusplus


def test_importing_the_kernels_does_not_import_numba():
    code = (
        "import sys\n"
        "import kmix.kernels.compiled, kmix.kernels.kmeans, kmix.kernels.kmeans_passes, kmix.kernels.gmm\n"
        "import kmix.kernels.gmm_passes, kmix.kernels.kmeans_parallel, kmix.kernels.seeding\n"
        "assert 'numba' not in sys.modules, 'numba was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_threads_sets_the_count_inside_and_restores_it():
    import numba

    pool = numba.config.NUMBA_NUM_THREADS
    before = numba.get_num_threads()
    with compiled.threads(1, 100):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with compiled.threads(100, 1):  # one chunk: the calling thread alone
        assert numba.get_num_threads() == 1
    with compiled.threads(pool + 5, pool + 5):  # never more than the pool
        assert numba.get_num_threads() == pool
    with compiled.threads(0, 0):
        assert numba.get_num_threads() == 1
    with pytest.raises(ZeroDivisionError), compiled.threads(1, 10):
        1 / 0
    assert numba.get_num_threads() == before


@pytest.mark.parametrize("d", [3, 40])
def test_bounded_pass_centring_and_seeding_do_not_depend_on_the_threads(rng, d):
    import numba

    counts = sorted({1, 2, numba.config.NUMBA_NUM_THREADS})
    X = rng.normal(size=(9000, d)) * 2.0 + 1.0
    w = rng.uniform(0.5, 2.0, size=9000)
    centred = [moments.centered(X, n_threads=count) for count in counts]
    Xc, _, norms, _ = centred[0][:4]
    for other in centred[1:]:
        for a, b in zip(other, centred[0]):
            np.testing.assert_array_equal(a, b)
    seeds = [kmeans_plusplus(Xc, 6, np.random.default_rng(4), w, norms, n_threads=count) for count in counts]
    for other in seeds[1:]:
        np.testing.assert_array_equal(other, seeds[0])
    centers = Xc[seeds[0]]
    runs = []
    for count in counts:
        lower = np.empty(len(Xc))
        labels, stats, _ = passes.bounded_statistics(Xc, w, centers, norms, None, lower, n_threads=count)
        new, _ = kk.update_centers(stats, centers)
        drops = bounds.bound_drops(centers, new)
        again = passes.bounded_statistics(Xc, w, new, norms, labels, lower, drops, n_threads=count)
        runs.append((labels, stats, again[0], again[1], lower))
    for other in runs[1:]:
        np.testing.assert_array_equal(other[0], runs[0][0])
        np.testing.assert_array_equal(other[2], runs[0][2])
        np.testing.assert_array_equal(other[4], runs[0][4])
        for a, b in zip(other[3], runs[0][3]):
            np.testing.assert_array_equal(a, b)
