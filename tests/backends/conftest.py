"""One local dask.distributed cluster per test module: 2 single-threaded worker processes."""

import warnings

import pytest

# dask pauses a worker at 80% of its limit: 512 MiB leaves room for the chunks
# beside a worker's own footprint (numba's compiled kernels included).
MEMORY_LIMIT = 512 * 2**20


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
            memory_limit=MEMORY_LIMIT,
        )
    with local:
        yield local


@pytest.fixture(scope="module")
def client(cluster):
    # Not the default client: each test says which client it fits on.
    distributed = pytest.importorskip("distributed")
    with distributed.Client(cluster, set_as_default=False) as module_client:
        yield module_client
