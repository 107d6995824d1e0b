"""The compiled (numba) loops behind the fast passes of :mod:`kmix.kernels`.

Everything in this package's modules is machine code built by numba:

- :mod:`.kmeans_lloyd`: the plain Lloyd pass (assignment and statistics in one go);
- :mod:`.kmeans_tiles`: the ``x·c`` products of a tile of rows, for few features;
- :mod:`.kmeans_bounded`: the Lloyd pass with Hamerly's bounds, and
  :mod:`.kmeans_settle`: which of its rows must be scanned in full;
- :mod:`.kmeans_prep`: centring and the k-means++ potentials;
- :mod:`.kmeans_sparse`: the same passes (plain and bounded), distances and
  k-means++ potentials for sparse rows in CSR form;
- :mod:`.gmm_em`: the EM pass for few features and the full pass's helpers;
- :mod:`.dots`: the full pass's two products for many features;
- :mod:`.gmm_mstep`, :mod:`.gmm_orientation`, :mod:`.gmm_model_step`: the
  M-step of mclust's fourteen covariance models, one compiled function per model
  (compiled when first used);
- :mod:`.gmm_em_loop`: every EM iteration in one call, for data in memory with
  few features (model selection's thousands of short runs);
- :mod:`.hierarchical`: every merge of mclust's model-based hierarchical
  clustering (EII and VVV) in one call (the start of model selection);
- :mod:`.elementary`: the E-step's exponential, written so that a loop of it
  compiles to SIMD instructions;
- :mod:`.function_argument`: compiled functions passed to compiled functions (a
  width's kernel to the k-means passes, a model's M-step to the EM loop).

They live apart from the numpy kernels so that numba is imported on first use
only: ``import kmix.kernels`` (and this package itself) never imports it, and a
run that needs no compiled pass never pays for it. Every function is compiled with
``cache=True``: a short command-line run loads the machine code from disk instead
of compiling it again. The parallel loops keep partial sums per fixed chunk of
rows, added in chunk order, so no result depends on the number of threads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["prange_only", "threads"]

# Fast-math flag sets:
# - CONTRACT, for the nearest-centre products and the log-densities: a multiply-add
#   may become one fused instruction (one rounding);
# - REASSOCIATE, for two sums only: ``kmeans_settle._direct_distance`` and
#   ``kmeans_prep._update_rows`` (see there).
#
# Sums are otherwise not compiled with "reassoc": the optimiser then chooses their
# order for each compiled copy of a function, and the copy a caller holds (numba
# builds every callee into each caller) can round differently from the function's
# own, so a result would depend on which of them a process loaded first (a fresh
# compile against a cached one). Sums that should not wait on one chain of
# additions write their lanes out instead (:mod:`.sums`): element r goes to running
# sum r % 8 (or r % 4), the sums added pairwise at the end, the same order in
# every copy.
CONTRACT = {"contract"}
REASSOCIATE = {"reassoc", "nsz"}


def prange_only() -> dict:
    """Numba's ``parallel`` option for the passes: their ``prange`` loops run on the
    threads, and nothing else does.

    With ``parallel=True`` numba also runs array expressions (the ``np.zeros`` of
    the chunks' partial sums, a ``.sum()``) as parallel loops of their own, each
    one more wake-up of the threads (they wait passively between parallel
    regions: see :func:`kmix.backends.threads.start_compiled_threads`): five or
    six regions a call, most for arrays of a few kilobytes. A new dict each time:
    numba takes the options out of the dict it is given.
    """
    return {"prange": True, "comprehension": False, "reduction": False, "inplace_binop": False,
            "setitem": False, "numpy": False, "stencil": False, "fusion": False}


def as_read_only(array):
    """A read-only view of ``array``. Numba compiles a function once per argument
    type, and a read-only array (a memory-mapped file, a chunk handed over by dask)
    has a type of its own: rows passed as read-only views always give writable
    and read-only data one compiled function."""
    view = array.view()
    view.flags.writeable = False
    return view


def as_writable(array):
    """``array``, or a copy of it if it is read-only: for the small arrays passed
    beside the rows (parameters, weights), so that their types, too, do not depend
    on where they came from."""
    return array if array.flags.writeable else array.copy()


@contextlib.contextmanager
def threads(n_threads: int, n_chunks: int) -> Iterator[None]:
    """Run the compiled code inside on max(1, min(n_threads, n_chunks, numba's pool
    size)) threads, restoring numba's count afterwards (skip the setter when the
    count would not change).

    A small X (one chunk) then runs on the calling thread alone. The thread pool
    is started by the backends (:mod:`kmix.backends`), which choose how its
    threads wait; if it is not started yet, numba starts it here with its defaults.
    """
    import numba  # imported on first use only

    current = numba.get_num_threads()
    wanted = max(1, min(int(n_threads), int(n_chunks), numba.config.NUMBA_NUM_THREADS))
    if wanted == current:  # numba's setter is not free: skip it when nothing changes
        yield
        return
    numba.set_num_threads(wanted)
    try:
        yield
    finally:
        numba.set_num_threads(current)
