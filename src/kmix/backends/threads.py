"""Thread control for every backend: how many threads, BLAS held to one, blocks on threads.

This is the one place where kmix decides about threads. Kernels never keep a
thread count: they are told one (``n_threads``) by the backend that calls them.

- :func:`n_threads`: the threads an in-memory pass may use.
- :func:`start_compiled_threads`: numba's thread pool, started once per process
  with OpenMP's passive wait (see its docstring).
- :func:`one_blas_thread`: BLAS held to one thread while kmix's own threads (numba's
  or the block pool's) run the products; re-entrant, so nested holds cost nothing.
- :func:`reduce_blocks`: per-block kernels on a pool of threads, merged in block
  order, so the result is the same as a serial loop, bit for bit, whatever the
  number of threads.
- :func:`map_tasks`: independent tasks (the cells of a model-selection grid) on
  threads of their own, their results in the tasks' order.

numpy's matrix products and ufuncs release the GIL, so per-block kernels run in
parallel on threads without copying the data; thin products (few features) get
little from a multi-threaded BLAS, so splitting the rows is what uses every core.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import reduce
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")

__all__ = ["n_threads", "start_compiled_threads", "one_blas_thread", "reduce_blocks", "map_tasks"]

_POOL: ThreadPoolExecutor | None = None
_blas_controller = None
_blas_lock = threading.Lock()
_blas_depth = 0  # how many holds are open: only the outermost one talks to threadpoolctl
_numba_lock = threading.Lock()
_numba_started = False
# A task of map_tasks keeps its share of the threads here, for the passes it starts.
_task = threading.local()


def n_threads() -> int:
    """Threads to use: the CPUs this process may run on (KMIX_NUM_THREADS overrides);
    inside a task of :func:`map_tasks`, that task's share of them."""
    share = getattr(_task, "share", None)
    if share is not None:
        return share
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


def start_compiled_threads() -> None:
    """Start numba's thread pool with OpenMP's passive wait, unless the user chose
    (``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` set: kept as set).

    With the default (active) policy the threads of a finished parallel region spin
    before they sleep; on a machine busy with other work that spinning takes the
    cores from the threads still working. Passive waiting costs a wake-up per pass
    instead, the safer choice on a shared machine (bench/RESULTS.md has the
    figures, and when a short spin pays). The environment is set only while the
    pool and its OpenMP runtime start, then restored, so OpenMP runtimes loaded
    later never see it.
    """
    global _numba_started
    if _numba_started:
        return
    with _numba_lock:
        if _numba_started:
            return
        from numba.np.ufunc import parallel

        chosen = "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ
        if not chosen:
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        try:
            parallel._launch_threads()
        finally:
            if not chosen:
                del os.environ["OMP_WAIT_POLICY"]
        _numba_started = True


def _pool(workers: int) -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None or _POOL._max_workers != workers:  # noqa: SLF001 - size check only
        _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kmix")
    return _POOL


@contextlib.contextmanager
def one_blas_thread(needed: bool = True) -> Iterator[None]:
    """BLAS limited to one thread while kmix's own threads each call it.

    Two thread pools on the same cores wait for each other, and after a product on
    several threads an OpenBLAS worker keeps spinning for a while, taking a core
    from the next pass. Re-entrant: a hold inside another costs nothing.
    """
    global _blas_controller, _blas_depth
    if not needed:
        yield
        return
    with _blas_lock:
        outermost = _blas_depth == 0
        _blas_depth += 1
    try:
        if not outermost:
            yield
            return
        if _blas_controller is None:
            import scipy.linalg.cython_blas  # noqa: F401 - the BLAS numba calls, loaded first
            from threadpoolctl import ThreadpoolController

            _blas_controller = ThreadpoolController()
        with _blas_controller.limit(limits=1, user_api="blas"):
            yield
    finally:
        with _blas_lock:
            _blas_depth -= 1


def reduce_blocks(func: Callable[[slice], T], blocks: Iterable[slice], merge: Callable[[T, T], T],
                  workers: int | None = None) -> T:
    """``merge(merge(func(b0), func(b1)), ...)`` over the blocks, computed on threads.

    Per-block results are merged in block order. BLAS runs on one thread meanwhile
    (the threads here are the parallelism). ``workers``: at most this many threads
    (default :func:`n_threads`).
    """
    blocks = list(blocks)
    workers = min(n_threads() if workers is None else workers, len(blocks))
    if workers <= 1:
        return reduce(merge, map(func, blocks))
    with one_blas_thread():
        results = list(_pool(workers).map(func, blocks))
    return reduce(merge, results)


def map_tasks(func: Callable[[T], U], items: Iterable[T], workers: int | None = None) -> list[U]:
    """``[func(item) for item in items]``, the calls spread over threads.

    For independent tasks that release the GIL for most of their time (compiled
    loops). The threads are their own, not the block pool's, so a task may itself
    reduce over blocks; the data objects a task makes get its share of the threads
    (:func:`n_threads` there: this thread's count divided among the workers, at
    least one), so that tasks side by side do not each start a pass on every core.
    Tasks are taken in the order given (put the longest first); the first exception
    a task raises is raised here. ``workers``: at most this many threads (default
    :func:`n_threads`); one runs the tasks on this thread.
    """
    items = list(items)
    total = n_threads()
    workers = min(total if workers is None else workers, len(items))
    if workers <= 1:
        return [func(item) for item in items]
    share = max(1, total // workers)

    def task(item: T) -> U:
        _task.share = share
        try:
            return func(item)
        finally:
            _task.share = None

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kmix-task") as pool:
        return list(pool.map(task, items))
