"""Read-only rows (a memory-mapped file, dask's chunks) through the compiled EM
pass: numba types a read-only array apart, so the pass must take them without
compiling itself once more, and give the numbers of writable rows."""

import numpy as np
import pytest

from kmix.kernels import gmm as gk
from kmix.kernels import gmm_passes as gp


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_read_only_inputs_take_the_compiled_pass_of_writable_ones(rng, covariance_type):
    from kmix.kernels.compiled import gmm_em

    k, d = 4, 3
    means = rng.normal(scale=3.0, size=(k, d))
    covariances = (np.stack([np.eye(d) * s for s in rng.uniform(0.5, 2.0, size=k)])
                   if covariance_type == "full" else rng.uniform(0.5, 2.0, size=(k, d)))
    factors = gk.compute_precision_cholesky(covariances, covariance_type)
    X = means[rng.integers(0, k, size=3000)] + rng.normal(size=(3000, d))
    w = rng.uniform(0.5, 2.0, size=3000)
    args = [X, w, means, factors, np.log(np.full(k, 1.0 / k))]
    writable = gp.compiled_statistics(*args, covariance_type)
    compiled = len(gmm_em.em_pass.signatures)
    frozen = [a.copy() for a in args]
    for a in frozen:
        a.flags.writeable = False
    read_only = gp.compiled_statistics(*frozen, covariance_type)
    assert len(gmm_em.em_pass.signatures) == compiled
    np.testing.assert_array_equal(read_only.second_moments, writable.second_moments)
    np.testing.assert_array_equal(read_only.sums, writable.sums)
    assert read_only.log_likelihood == writable.log_likelihood
