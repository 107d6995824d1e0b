"""The compiled agglomeration (kmix.kernels.compiled.hierarchical) against its numpy
reference twin (kmix.kernels.hierarchical with compiled=False): the same merges in the
same order, and the same costs (EII's bit for bit: the same arithmetic; VVV's to
rounding: its determinants come from another factorisation)."""

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kmix.kernels import hierarchical as hc

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "mclust"
DATASETS = ("faithful", "iris", "diabetes")
USES = ("SVD", "VARS")
# (model, mclust_compatible): EII ignores the flag.
VARIANTS = (("EII", True), ("VVV", True), ("VVV", False))


@pytest.fixture(scope="module")
def datasets():
    return {
        name: np.array(json.loads((REFERENCE / f"{name}.json").read_text())["data"], dtype=float)
        for name in DATASETS
    }


def trees(X, model, **options):
    """(merges, costs) of the numpy twin and of the compiled loop."""
    arguments = dict(partition=None, minclus=1, alpha=1.0, beta=1.0, mclust_compatible=True)
    arguments.update(options)
    reference = hc._hc_tree(X, model, compiled=False, **arguments)
    compiled = hc._hc_tree(X, model, compiled=True, **arguments)
    return reference, compiled


def assert_same_tree(X, model, **options):
    (merges, costs), (got_merges, got_costs) = trees(X, model, **options)
    assert got_merges.dtype == merges.dtype
    np.testing.assert_array_equal(got_merges, merges)
    if model == "EII":
        np.testing.assert_array_equal(got_costs, costs)
    else:
        np.testing.assert_allclose(got_costs, costs, rtol=1e-10, atol=1e-10)
    return merges


def duplicated_rows(rng, n, d):
    """n rows drawn from n // 4 distinct ones: groups of equal points, exact ties."""
    distinct = rng.normal(size=(max(2, n // 4), d))
    return distinct[rng.integers(len(distinct), size=n)]


def grid_points(rng, n, d):
    """Points on a small integer grid: many pairs at exactly equal distances, many
    groups with singular scatter matrices."""
    return rng.integers(0, 3, size=(n, d)).astype(float)


def tenths(rng, n, d):
    """Data rounded to one decimal, as faithful and iris are: distances equal in
    exact arithmetic differ in the last bits, and those bits decide."""
    return np.round(5.0 + 10.0 * rng.normal(size=(n, d))) / 10.0


# --- mclust's data sets ------------------------------------------------------------------


@pytest.mark.parametrize("dataset, use, variant", list(itertools.product(DATASETS, USES, VARIANTS)))
def test_mclust_data_sets(datasets, dataset, use, variant):
    model, mclust_compatible = variant
    X = hc.hc_transform(datasets[dataset], use)
    assert_same_tree(X, model, mclust_compatible=mclust_compatible)


@pytest.mark.parametrize("dataset, variant", list(itertools.product(DATASETS, VARIANTS)))
def test_mclust_data_sets_from_a_partition_to_minclus(datasets, dataset, variant):
    """From the twin's own 40 groups (groups of several points, some of more points than
    features) and from scattered labels, down to 3 groups."""
    model, mclust_compatible = variant
    X = hc.hc_transform(datasets[dataset], "VARS")
    n = len(X)
    full, _ = hc._hc_tree(X, model, partition=None, minclus=1, alpha=1.0, beta=1.0,
                          mclust_compatible=mclust_compatible, compiled=False)
    starts = [hc.hc_partition(full, n, 40), np.arange(n) % 25, np.arange(n) // 7]
    for start in starts:
        merges = assert_same_tree(X, model, partition=start, minclus=3, mclust_compatible=mclust_compatible)
        assert len(merges) == len(np.unique(start)) - 3


# --- random data, ties and duplicates ----------------------------------------------------


@pytest.mark.parametrize("seed, d", [(seed, d) for seed in range(3) for d in range(1, 7)])
def test_random_data(seed, d):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(40, 160))
    samples = {
        "normal": rng.normal(size=(n, d)),
        "duplicated": duplicated_rows(rng, n, d),
        "grid": grid_points(rng, n, d),
        "tenths": tenths(rng, n, d),
    }
    for X in samples.values():
        for model, mclust_compatible in VARIANTS:
            assert_same_tree(X, model, mclust_compatible=mclust_compatible)


@pytest.mark.parametrize("seed, d", [(3, 2), (4, 4), (5, 6)])
def test_random_data_from_a_partition_with_other_regularisation(seed, d):
    rng = np.random.default_rng(seed)
    n = 150
    for X in (rng.normal(size=(n, d)), duplicated_rows(rng, n, d), grid_points(rng, n, d)):
        start = rng.integers(0, 60, size=n)
        for model, mclust_compatible in VARIANTS:
            for alpha, beta in ((1.0, 1.0), (0.1, 2.0), (0.0, 0.5)):
                assert_same_tree(X, model, partition=start, minclus=4, alpha=alpha, beta=beta,
                                 mclust_compatible=mclust_compatible)


@pytest.mark.parametrize("d", [2, 5])
def test_five_hundred_rows(d):
    X = np.random.default_rng(6 + d).normal(size=(500, d))
    for model, mclust_compatible in VARIANTS:
        assert_same_tree(X, model, mclust_compatible=mclust_compatible)


def test_small_cases():
    # Two rows, equal rows (merge costs of 0, all tied), one feature, one merge only.
    cases = [
        (np.array([[0.0, 1.0], [2.0, 3.0]]), {}),
        (np.zeros((6, 2)), {}),
        (np.ones((5, 1)), {}),
        (np.array([[1.0], [1.0], [2.0], [2.0], [2.0], [7.0], [7.5]]), {}),
        (np.random.default_rng(7).normal(size=(9, 3)), {"minclus": 8}),
    ]
    for X, options in cases:
        for model, mclust_compatible in VARIANTS:
            assert_same_tree(X, model, mclust_compatible=mclust_compatible, **options)


# --- the public entry point --------------------------------------------------------------


def test_hc_merges_runs_the_compiled_loop_and_leaves_its_input_alone(datasets):
    X = np.asfortranarray(hc.hc_transform(datasets["iris"], "SVD"))
    before = X.copy()
    merges = hc.hc_merges(X, "VVV")
    np.testing.assert_array_equal(X, before)
    (reference, _), (compiled, _) = trees(X, "VVV")
    np.testing.assert_array_equal(merges, compiled)
    np.testing.assert_array_equal(merges, reference)
    assert merges.dtype == np.intp and merges.shape == (len(X) - 1, 2)


def test_importing_the_hierarchical_kernels_does_not_import_numba():
    code = (
        "import sys\n"
        "import kmix.kernels, kmix.kernels.hierarchical, kmix.kernels.hierarchical_vvv\n"
        "assert 'numba' not in sys.modules, 'numba was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
