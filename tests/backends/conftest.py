"""One local dask.distributed cluster per test module: 2 single-threaded worker processes.

The cluster is configured so that no test depends on timing or on memory another
process could take: the workers' memory limit only informs kmix's choice to keep
data on them (dask's own pausing, spilling and restarting of a worker near its
limit are off: on a busy machine they would make a fit wait or fail by chance),
and the time allowed for connections and restarts is generous.
"""

import warnings

import pytest

# What kmix reads as the workers' memory: 512 MiB, for the out-of-core test.
MEMORY_LIMIT = 512 * 2**20
# Seconds a worker may take to (re)start or connect on a loaded machine.
PATIENCE = 300

DASK_CONFIG = {
    "distributed.worker.memory.target": False,
    "distributed.worker.memory.spill": False,
    "distributed.worker.memory.pause": False,
    "distributed.worker.memory.terminate": False,
    "distributed.comm.timeouts.connect": f"{PATIENCE}s",
    "distributed.comm.timeouts.tcp": f"{PATIENCE}s",
    "distributed.deploy.lost-worker-timeout": f"{PATIENCE}s",
}


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    import dask

    # Worker processes take the configuration of the process that starts them.
    with dask.config.set(DASK_CONFIG), warnings.catch_warnings():
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
    with distributed.Client(cluster, set_as_default=False, timeout=PATIENCE) as module_client:
        yield module_client
