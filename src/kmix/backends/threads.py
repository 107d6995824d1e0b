"""Row blocks of an in-memory array processed on several threads, merged in order.

numpy's matrix products and ufuncs release the GIL, so per-block kernels run in
parallel on threads without copying the data. Thin products (few features) get
little from a multi-threaded BLAS, so splitting the rows is what uses every
core. Results are merged in block order, so the outcome does not depend on
which thread finished first: the same as a serial loop, bit for bit.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import reduce
from typing import TypeVar

T = TypeVar("T")

_POOL: ThreadPoolExecutor | None = None
_blas_controller = None


def n_threads() -> int:
    """Threads to use: the CPUs this process may run on (KMIX_NUM_THREADS overrides)."""
    override = os.environ.get("KMIX_NUM_THREADS")
    if override:
        try:
            return max(1, int(override))
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _pool(workers: int) -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None or _POOL._max_workers != workers:  # noqa: SLF001 - size check only
        _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kmix")
    return _POOL


@contextlib.contextmanager
def one_blas_thread(needed: bool = True) -> Iterator[None]:
    """BLAS limited to one thread while our own threads each call it: two thread
    pools on the same cores wait for each other (a GMM pass with 64 features took
    longer on two threads than on one before this limit)."""
    global _blas_controller
    if not needed:
        yield
        return
    if _blas_controller is None:
        import scipy.linalg.cython_blas  # noqa: F401 - the BLAS numba calls, loaded first
        from threadpoolctl import ThreadpoolController

        _blas_controller = ThreadpoolController()
    with _blas_controller.limit(limits=1, user_api="blas"):
        yield


def reduce_blocks(func: Callable[[slice], T], blocks: Iterable[slice], merge: Callable[[T, T], T]) -> T:
    """``merge(merge(func(b0), func(b1)), ...)`` over the blocks, computed on threads.

    Each thread takes every other group of consecutive blocks; per-block results
    are merged in block order. BLAS runs on one thread meanwhile (the threads
    here are the parallelism).
    """
    blocks = list(blocks)
    workers = min(n_threads(), len(blocks))
    if workers <= 1:
        return reduce(merge, map(func, blocks))
    with one_blas_thread():
        results = list(_pool(workers).map(func, blocks))
    return reduce(merge, results)
