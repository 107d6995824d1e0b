"""Where the chunks a dask fit keeps on the workers live, and which task runs them.

A pass over persisted chunks runs one task per worker thread, over the chunks that
thread's worker holds (:func:`worker_groups`), and an iteration waits for its
slowest task. So the centred chunks a fit keeps are spread over the workers in
proportion to their threads (:func:`chunk_placement`): each chunk is centred
where dask places the task (by its source), and only the chunks beyond a
worker's share then move, to the workers short of theirs. dask's placement
follows where the source lies (``X.persist()``, say) and is often uneven: 18
chunks on one worker and 14 on the other, an iteration then as slow as 18 chunks
on one thread.

distributed is imported inside the functions that need it, as in
:mod:`kmix.backends.dask`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .dask_session import distributed_module

__all__ = ["chunk_placement", "holders", "worker_groups"]


def chunk_placement(holders: Sequence[str | None], rows: Sequence[int],
                    nthreads: Mapping[str, int]) -> list[str]:
    """A worker for each chunk, the rows spread over the workers in proportion to
    their threads.

    Parameters
    ----------
    holders : the worker that holds each chunk now, or None (held nowhere, or by
        a worker not in ``nthreads``)
    rows : each chunk's number of rows
    nthreads : the workers (in the order they are filled) and their threads

    A worker's share is the total rows times its part of the threads. Each chunk
    stays with its holder, in chunk order, while the holder's load stays within
    half the chunk of its share; the other chunks go, in chunk order, to the first
    worker with that much room, or if none has, to the one with the most room per
    thread. A chunk that moves is read once by another worker; one that stays is
    not read again.
    """
    workers = [worker for worker, threads in nthreads.items() if threads > 0]
    if not workers:
        raise ValueError("no worker with threads to place the chunks on")
    total_threads = sum(nthreads[worker] for worker in workers)
    share = {worker: sum(rows) * nthreads[worker] / total_threads for worker in workers}
    load = dict.fromkeys(workers, 0.0)
    targets: list[str | None] = [None] * len(rows)

    def fits(worker: str, n_rows: int) -> bool:
        return load[worker] + n_rows / 2 <= share[worker]

    for index, (holder, n_rows) in enumerate(zip(holders, rows)):
        if holder in load and fits(holder, n_rows):
            targets[index] = holder
            load[holder] += n_rows
    for index, n_rows in enumerate(rows):
        if targets[index] is not None:
            continue
        roomy = [worker for worker in workers if fits(worker, n_rows)]
        worker = roomy[0] if roomy else max(
            workers, key=lambda w: (share[w] - load[w]) / nthreads[w])
        targets[index] = worker
        load[worker] += n_rows
    return [str(target) for target in targets]


def holders(client: Any, futures: Sequence[Any]) -> list[str | None]:
    """The worker that holds each future's data (the first, if several do), or
    None (not held: lost, or not computed yet)."""
    with client.as_current():  # wait() waits through the current client
        distributed_module().wait(list(futures))
    who = client.who_has(list(futures))
    return [(list(who.get(future.key) or ()) or [None])[0] for future in futures]


def worker_groups(client: Any, futures: list) -> list[tuple[str | None, list[int]]]:
    """The persisted chunks (their futures, in order) grouped by where they are run:
    the chunks a worker holds, cut into as many runs of consecutive chunks as it has
    threads. Each group is ``(worker address or None, chunk indices)``, the groups
    in the order of their first chunk."""
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    by_worker: dict[str | None, list[int]] = {}
    for index, holder in enumerate(holders(client, futures)):
        by_worker.setdefault(holder, []).append(index)
    groups = []
    for worker, indices in by_worker.items():
        n_threads = int(workers.get(worker, {}).get("nthreads", 1) or 1)
        for run in np.array_split(np.asarray(indices), max(1, min(n_threads, len(indices)))):
            groups.append((worker, [int(i) for i in run]))
    return sorted(groups, key=lambda group: group[1][0])
