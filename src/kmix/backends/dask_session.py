"""Where a dask fit runs, and dask arrays built from files or arrays.

:func:`client_session` gives the dask.distributed client a fit runs on (the
active one, one given, one at an address, or a LocalCluster started and closed
around the fit). :func:`array_from_readers` and :func:`from_array` build row-chunked
dask arrays for :mod:`kmix.io`.

dask and distributed are imported here and in :mod:`kmix.backends.dask` only,
inside the functions that need them, so ``import kmix`` stays light and works
without the ``dask`` extra.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import threading
import types
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from .._validation import check_sample_weight, is_dask_array, require

__all__ = ["dask_modules", "distributed_module", "Session", "client_session", "array_from_readers", "from_array", "aligned_weight"]


def dask_modules():
    require("dask", "dask", "Working with dask arrays")
    import dask
    import dask.array as da

    return dask, da


def distributed_module():
    return require("distributed", "dask", "Fitting on a dask array")


# --- where the work runs --------------------------------------------------------------

class Session(NamedTuple):
    """The dask.distributed client a fit runs on."""

    client: Any  # distributed.Client
    closes: bool  # True when the client (and anything it holds) goes away after the fit
    is_default: bool  # the client that dask's compute() uses when none is named

    @property
    def keeps_results(self) -> bool:
        """Whether data left on the cluster stays usable by a plain ``.compute()``."""
        return self.is_default and not self.closes


@contextlib.contextmanager
def client_session(client: Any = None, *, quiet: bool = True) -> Iterator[Session]:
    """The client to run on, closed afterwards when it was opened here.

    Parameters
    ----------
    client : None, distributed.Client or str
        None: the active client (``distributed.default_client()``) if there is one,
        else a LocalCluster of one single-threaded worker process per core,
        started here and closed afterwards; its workers start without running the
        caller's script again (see :class:`_ScriptHiddenFromSpawn`). A Client: used
        as it is. A string: the address of a running scheduler
        (``"tcp://host:8786"``), connected to here and disconnected afterwards (the
        cluster keeps running).
    quiet : bool, default True
        Keep a LocalCluster started here from logging anything below CRITICAL, in
        this process (its scheduler, nannies and client) and in its worker
        processes, for as long as it runs: a task that fails reaches the caller as
        the exception the fit raises, not also as a worker's "Compute Failed" log.
        False leaves distributed's own levels. Clients and schedulers passed in are
        never touched.

    Yields
    ------
    Session
    """
    distributed = distributed_module()
    if client is None:
        try:
            active = distributed.default_client()
        except ValueError:
            active = None
        if active is not None and active.status == "running":
            yield Session(active, False, True)
            return
        cluster = distributed.LocalCluster(
            n_workers=os.cpu_count() or 1,
            # nannies that start (and restart) their worker without running the
            # caller's script again, guard or not: see _ScriptHiddenFromSpawn
            worker_class=_script_safe_nanny(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: never collides with another cluster
            # One thread per worker, as dask already sets for BLAS: the compiled
            # kernels would otherwise start one thread per core in every worker.
            env={"NUMBA_NUM_THREADS": "1"},
            # distributed sets this level on its log handlers here while the
            # cluster runs, and hands it to each worker process, which sets it
            # on its own handlers (workers log to their own stderr)
            silence_logs=logging.CRITICAL if quiet else logging.WARNING,
        )
        try:
            with distributed.Client(cluster) as own:
                yield Session(own, True, True)
        finally:
            cluster.close()
    elif isinstance(client, (str, os.PathLike)):
        with distributed.Client(os.fspath(client)) as own:
            yield Session(own, True, True)
    elif isinstance(client, distributed.Client):
        try:
            is_default = distributed.default_client() is client
        except ValueError:
            is_default = False
        yield Session(client, False, is_default)
    else:
        raise ValueError(
            "client must be None, a dask.distributed Client or a scheduler address such as "
            f"'tcp://host:8786'; got {client!r}"
        )


# --- worker processes that do not run the caller's script again ------------------

class _MainWithoutScript(types.ModuleType):
    """The caller's ``__main__`` as multiprocessing sees it while a worker starts:
    every name of the script (pickle still finds them) but no file or module name,
    so the new process has nothing to run again."""

    def __init__(self, main: types.ModuleType) -> None:
        super().__init__("__main__", getattr(main, "__doc__", None))  # __spec__ is None
        self.__dict__["_kmix_script"] = main

    def __getattr__(self, name: str) -> Any:
        if name == "__file__":
            raise AttributeError(name)
        return getattr(self.__dict__["_kmix_script"], name)


class _ScriptHiddenFromSpawn:
    """While any worker of kmix's own cluster is starting, ``sys.modules["__main__"]``
    is a :class:`_MainWithoutScript`.

    dask starts a worker process with multiprocessing's "spawn", which runs the
    parent's ``__main__`` file (or module) again in the new process so that functions
    defined there can be unpickled. A script without an
    ``if __name__ == "__main__":`` guard then runs again, top to bottom, in every
    worker: whatever it writes is written again, and its own fit tries to start a
    cluster from a process still starting up, which fails as "Nanny failed to start".
    kmix's workers need nothing from the script (they run kmix's kernels, and dask
    pickles a function of ``__main__`` by value), so spawn is shown a ``__main__``
    without its file. Only a ``__main__`` that spawn would run (one with a file or
    a module name) is replaced, and only while a worker starts: counted, as several
    nannies start at once, the real module is put back when the last has started.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._starting = 0
        self._script: types.ModuleType | None = None

    def __enter__(self) -> None:
        with self._lock:
            self._starting += 1
            main = sys.modules.get("__main__")
            runs_again = getattr(main, "__file__", None) or getattr(main, "__spec__", None)
            if self._starting == 1 and runs_again and not isinstance(main, _MainWithoutScript):
                self._script = main
                sys.modules["__main__"] = _MainWithoutScript(main)

    def __exit__(self, *exc_info: Any) -> None:
        with self._lock:
            self._starting -= 1
            if self._starting == 0 and self._script is not None:
                if isinstance(sys.modules.get("__main__"), _MainWithoutScript):
                    sys.modules["__main__"] = self._script
                self._script = None


_script_hidden_from_spawn = _ScriptHiddenFromSpawn()


@functools.cache
def _script_safe_nanny() -> type:
    """distributed's Nanny, starting and restarting its worker process with the
    caller's script hidden from spawn (see :class:`_ScriptHiddenFromSpawn`)."""
    distributed = distributed_module()

    class ScriptSafeNanny(distributed.Nanny):
        async def instantiate(self) -> Any:
            with _script_hidden_from_spawn:
                return await super().instantiate()

    return ScriptSafeNanny


# --- building dask arrays ---------------------------------------------------------

def array_from_readers(readers: Sequence[Any], row_chunks: Sequence[tuple[int, ...]]) -> Any:
    """One dask array, chunked along rows, from lazy readers of row blocks.

    Parameters
    ----------
    readers : sequence of objects with ``shape`` (n_i, d), ``dtype``, ``ndim`` and
        ``__getitem__`` returning an ndarray (see :class:`kmix.io.NpyRows`)
    row_chunks : sequence of tuples of int
        How each reader's rows are cut into chunks (each tuple sums to n_i).

    Returns
    -------
    dask array (sum n_i, d), one chunk along the columns
    """
    _, da = dask_modules()
    parts = []
    for reader, chunks in zip(readers, row_chunks):
        parts.append(da.from_array(
            reader, chunks=(tuple(chunks), (reader.shape[1],)), asarray=True, lock=False,
            fancy=False, meta=np.empty((0, 0), dtype=reader.dtype),
        ))
    return parts[0] if len(parts) == 1 else da.concatenate(parts, axis=0)


def from_array(array: np.ndarray, chunks: Any) -> Any:
    """An in-memory array as a dask array cut along rows (``chunks``: rows per chunk,
    "auto" or a tuple of row counts)."""
    _, da = dask_modules()
    if isinstance(chunks, str):
        return da.from_array(array, chunks=(chunks, -1))
    if isinstance(chunks, (int, np.integer)):
        return da.from_array(array, chunks=(int(chunks), -1))
    return da.from_array(array, chunks=(tuple(int(c) for c in chunks), -1))


def aligned_weight(sample_weight: Any, X: Any, dtype: np.dtype) -> Any:
    """sample_weight as a dask array with X's row chunks (None stays None)."""
    _, da = dask_modules()
    if sample_weight is None:
        return None
    if is_dask_array(sample_weight):
        if sample_weight.ndim != 1:
            raise ValueError(
                f"sample_weight must be 1-D with {X.shape[0]} entries, got shape {sample_weight.shape}"
            )
        if sample_weight.shape[0] != X.shape[0]:
            raise ValueError(
                f"sample_weight has {sample_weight.shape[0]} entries but X has {X.shape[0]} samples"
            )
        return sample_weight.astype(dtype).rechunk((X.chunks[0],))
    weight = check_sample_weight(sample_weight, X.shape[0], dtype=dtype)
    return da.from_array(weight, chunks=(X.chunks[0],))
