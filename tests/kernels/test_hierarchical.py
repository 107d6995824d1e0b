"""Model-based agglomerative hierarchical clustering against R's mclust hc() (tables of
tests/reference/mclust/hc.json), Ward's linkage in scipy, and a brute-force greedy
merge of the stated VVV criterion."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from kmix.kernels import hierarchical as hc
from kmix.kernels import hierarchical_vvv as hc_vvv
from kmix.kernels.hierarchical import hc_merges, hc_partition, hc_transform

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "mclust" / "hc.json"
DATASETS = ("faithful", "iris", "diabetes")
MODELS = ("VVV", "EII")
USES = ("VARS", "SVD")
CASES = list(itertools.product(DATASETS, MODELS, USES))


@pytest.fixture(scope="module")
def tables():
    return json.loads(REFERENCE.read_text())


def reference_case(tables, dataset, model, use):
    """R's data (as hc() clustered it), merges (0-based), costs, G and partitions (0-based)."""
    record = tables["datasets"][dataset]
    data = np.array(record["svd"]["transformed"] if use == "SVD" else record["data"], dtype=float)
    tree = record[model][use]
    return (
        data,
        np.array(tree["merges"]) - 1,
        np.array(tree["costs"]),
        tree["G"],
        np.array(tree["classes"]) - 1,
    )


def canonical(labels):
    """Labels renumbered 0, 1, ... by first appearance (a partition up to relabelling)."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=int)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def clustered_sample(seed, n, d):
    """Three elongated clusters, of varied shapes (so the determinants matter)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(3, size=n)
    shapes = rng.normal(size=(3, d, d)) * np.array([0.3, 1.0, 2.0])[:, None, None]
    centres = rng.normal(scale=4.0, size=(3, d))
    return centres[labels] + np.einsum("nij,nj->ni", shapes[labels], rng.normal(size=(n, d)))


# --- mclust ------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", DATASETS)
def test_svd_transform_matches_mclust(tables, dataset):
    record = tables["datasets"][dataset]
    X = np.array(record["data"], dtype=float)
    expected = np.array(record["svd"]["transformed"])
    Z = hc_transform(X, "SVD")
    assert Z.shape == expected.shape
    # The signs of singular vectors are arbitrary; neither criterion depends on them.
    signs = np.sign(np.sum(Z * expected, axis=0))
    np.testing.assert_allclose(Z * signs, expected, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(hc_transform(X, "VARS"), X)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
@pytest.mark.parametrize("dataset, model, use", CASES)
def test_merges_and_costs_match_mclust(tables, dataset, model, use, compiled):
    """On the very data hc() clustered, every merge is mclust's and so is its cost
    (EII's bit for bit; VVV's determinants are computed another way, to rounding), by
    the compiled loop and by its numpy twin."""
    data, merges, costs, _, _ = reference_case(tables, dataset, model, use)
    got_merges, got_costs = hc._hc_tree(
        data, model, partition=None, minclus=1, alpha=1.0, beta=1.0, mclust_compatible=True,
        compiled=compiled,
    )
    np.testing.assert_array_equal(got_merges, merges)
    if model == "EII":
        np.testing.assert_array_equal(got_costs, costs)
    else:
        np.testing.assert_allclose(got_costs, costs, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("dataset, model, use", CASES)
def test_partitions_match_mclust(tables, dataset, model, use):
    """kmix's whole pipeline from the raw data: hclass(hc(X, model, use), 1:9).

    From kmix's own SVD transform (equal to R's to ~1e-15, not bit for bit) the EII merge
    sequence on faithful and iris parts from mclust's early (step 17 and 9): the discrete
    data have pairs at exactly equal distances, which the transform turns into
    near-ties decided by the last bit. The partitions into 1..9 groups are mclust's
    all the same (numbered as hclass numbers them, by first appearance).
    """
    X = np.array(tables["datasets"][dataset]["data"], dtype=float)
    _, _, _, groups, classes = reference_case(tables, dataset, model, use)
    merges = hc_merges(hc_transform(X, use), model)
    partitions = hc_partition(merges, len(X), groups)
    assert partitions.shape == classes.shape
    np.testing.assert_array_equal(partitions, classes)


def test_partition_start_and_minclus_match_mclust(tables):
    start_record = tables["partition_start"]
    X = np.array(tables["datasets"][start_record["dataset"]]["data"], dtype=float)
    start = np.array(start_record["partition"])
    for model in MODELS:
        merges = hc_merges(X, model, partition=start, minclus=start_record["minclus"])
        np.testing.assert_array_equal(merges, np.array(start_record[model]["merges"]) - 1)
        partitions = hc_partition(merges, len(X), start_record[model]["G"], partition=start)
        np.testing.assert_array_equal(partitions, np.array(start_record[model]["classes"]) - 1)


def test_vvv_scaled_alpha_matches_mclust(tables):
    for dataset in DATASETS:
        for use in USES:
            data, *_ = reference_case(tables, dataset, "VVV", use)
            groups = hc_vvv._VVVGroups(data, np.arange(len(data)), len(data), 1.0, 1.0, True)
            expected = tables["datasets"][dataset]["VVV"][use]["alpha_scaled"]
            assert groups.alpha == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("dataset", DATASETS)
def test_stated_criterion_gives_mclust_merges_on_svd_data(tables, dataset):
    """mclust_compatible=False (the criterion as stated) differs from mclust only through
    how mclust stores merged groups; on these SVD data that changes no merge."""
    data, merges, *_ = reference_case(tables, dataset, "VVV", "SVD")
    np.testing.assert_array_equal(hc_merges(data, "VVV", mclust_compatible=False), merges)


# --- the stated criterion, brute force ---------------------------------------------------


def vvv_term(points, alpha_scaled, beta):
    n, d = points.shape
    centred = points - points.mean(axis=0)
    scatter = centred.T @ centred
    determinant = np.linalg.det(scatter / n) if n > d else 0.0
    return n * np.log(determinant + beta * (np.trace(scatter) + alpha_scaled) / n)


def brute_force_vvv(X, alpha=1.0, beta=1.0):
    """Greedy merging of Σ n_k log(|W_k/n_k| + β(tr W_k + α')/n_k), every pair's change
    computed from the points; the partitions after each merge and the costs."""
    n, d = X.shape
    alpha_scaled = alpha * np.sum((X - X.mean(axis=0)) ** 2) / (n * d)
    groups = [[i] for i in range(n)]
    partitions, costs = [], []
    while len(groups) > 1:
        best = None
        for a, b in itertools.combinations(range(len(groups)), 2):
            cost = (
                vvv_term(X[groups[a] + groups[b]], alpha_scaled, beta)
                - vvv_term(X[groups[a]], alpha_scaled, beta)
                - vvv_term(X[groups[b]], alpha_scaled, beta)
            )
            if best is None or cost < best[0]:
                best = (cost, a, b)
        cost, a, b = best
        groups[a] = groups[a] + groups[b]
        del groups[b]
        labels = np.empty(n, dtype=int)
        for k, members in enumerate(groups):
            labels[members] = k
        partitions.append(canonical(labels))
        costs.append(cost)
    return partitions, np.array(costs)


@pytest.mark.parametrize("seed, d, alpha, beta", [(0, 2, 1.0, 1.0), (1, 3, 1.0, 1.0), (2, 3, 0.1, 2.0)])
def test_vvv_criterion_against_brute_force(seed, d, alpha, beta):
    X = clustered_sample(seed, 24, d)
    expected_partitions, expected_costs = brute_force_vvv(X, alpha, beta)
    merges, costs = hc._hc_tree(
        X, "VVV", partition=None, minclus=1, alpha=alpha, beta=beta, mclust_compatible=False
    )
    np.testing.assert_allclose(costs, expected_costs, rtol=1e-9, atol=1e-9)
    for step, expected in enumerate(expected_partitions):
        np.testing.assert_array_equal(hc_partition(merges, len(X), len(X) - step - 1), expected)


# --- Ward's linkage ----------------------------------------------------------------------


def test_eii_is_wards_linkage():
    cluster = pytest.importorskip("scipy.cluster.hierarchy")
    X = clustered_sample(3, 200, 3)
    merges, costs = hc._hc_tree(
        X, "EII", partition=None, minclus=1, alpha=1.0, beta=1.0, mclust_compatible=True
    )
    linkage = cluster.ward(X)
    # scipy's height is √(2 Δ), Δ the increase in the within-group sum of squares.
    np.testing.assert_allclose(np.sqrt(2.0 * costs), linkage[:, 2], rtol=1e-10)
    groups = list(range(1, 10))
    ours = hc_partition(merges, len(X), groups)
    theirs = cluster.cut_tree(linkage, n_clusters=groups)
    for column in range(len(groups)):
        np.testing.assert_array_equal(ours[:, column], canonical(theirs[:, column]))


# --- partition, minclus, labels ----------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_starting_from_a_partition_continues_the_tree(model):
    """The groups after 40 merges, given as the start, lead to the same partitions."""
    X = clustered_sample(4, 60, 2)
    full = hc_merges(X, model, mclust_compatible=False)
    start = hc_partition(full, len(X), 20)
    # Labels of any kind, in any order: numbered by first appearance.
    relabelled = np.array([f"g{99 - k}" for k in start])
    rest = hc_merges(X, model, partition=relabelled, mclust_compatible=False)
    assert rest.shape == (19, 2)
    assert np.all(rest[:, 0] < rest[:, 1])
    groups = list(range(1, 21))
    np.testing.assert_array_equal(
        hc_partition(rest, len(X), groups, partition=relabelled), hc_partition(full, len(X), groups)
    )


@pytest.mark.parametrize("model", MODELS)
def test_minclus_stops_early(model):
    X = clustered_sample(5, 40, 3)
    full = hc_merges(X, model)
    assert full.shape == (39, 2)
    np.testing.assert_array_equal(hc_merges(X, model, minclus=6), full[:34])
    start = np.arange(40) // 4
    assert hc_merges(X, model, partition=start, minclus=3).shape == (7, 2)


def test_merge_labels_follow_mclust_convention():
    # Four points on a line: {0, 1} and {2, 3} pair up, then the pairs join.
    X = np.array([[0.0], [0.1], [5.0], [5.2]])
    for model in MODELS:
        merges = hc_merges(X, model)
        np.testing.assert_array_equal(merges, [[0, 1], [2, 3], [0, 2]])
    merges = np.array([[0, 1], [2, 3], [0, 2]])
    np.testing.assert_array_equal(
        hc_partition(merges, 4, [4, 3, 2, 1]), [[0, 0, 0, 0], [1, 0, 0, 0], [2, 1, 1, 0], [3, 2, 1, 0]]
    )
    np.testing.assert_array_equal(hc_partition(merges, 4, 2), [0, 0, 1, 1])


def test_one_feature_and_duplicates():
    X = np.array([[1.0], [1.0], [2.0], [2.0], [2.0], [7.0], [7.5]])
    # Ward's criterion keeps {1, 1} and {2, 2, 2} apart; VVV's regularisation
    # (α' = the data's variance, large next to these groups' spreads) makes one group of
    # them first. mclust 6.0.0's hc(X, "VVV") gives the same merges, 1-based:
    # (4,5) (3,4) (2,3) (1,2) (6,7) (1,6). (Its hcEII fails on one column.)
    expected = {"EII": [0, 0, 1, 1, 1, 2, 2], "VVV": [0, 0, 0, 0, 0, 1, 2]}
    for model in MODELS:
        merges = hc_merges(X, model)
        assert merges.shape == (6, 2)
        np.testing.assert_array_equal(hc_partition(merges, 7, 3), expected[model])
    np.testing.assert_array_equal(hc_merges(X, "VVV"), [[3, 4], [2, 3], [1, 2], [0, 1], [5, 6], [0, 5]])


# --- bad input ---------------------------------------------------------------------------


def test_bad_arguments_raise():
    X = clustered_sample(6, 10, 2)
    with pytest.raises(ValueError, match="model must be one of 'EII', 'VVV'; got 'VII'"):
        hc_merges(X, "VII")
    with pytest.raises(ValueError, match="minclus must be at least 1; got 0"):
        hc_merges(X, minclus=0)
    with pytest.raises(ValueError, match="has 10 groups, not more than minclus=10"):
        hc_merges(X, minclus=10)
    with pytest.raises(ValueError, match=r"partition must have one label per row \(10\)"):
        hc_merges(X, partition=np.zeros(9))
    with pytest.raises(ValueError, match="beta > 0"):
        hc_merges(X, beta=0.0)
    with pytest.raises(ValueError, match="use must be one of 'VARS', 'SVD'; got 'PCS'"):
        hc_transform(X, "PCS")
    with pytest.raises(ValueError, match="full rank"):
        hc_transform(np.column_stack([X[:, 0], 2.0 * X[:, 0]]), "SVD")
    merges = hc_merges(X, minclus=3)
    unreachable = "n_groups=2 is not reachable: the merges go from 10 groups down to 3"
    with pytest.raises(ValueError, match=unreachable):
        hc_partition(merges, 10, 2)
    with pytest.raises(ValueError, match="n_groups=0 is not reachable"):
        hc_partition(merges, 10, [3, 0])
