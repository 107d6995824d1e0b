"""Pure array math: no validation, input/output, plotting, logging or globals.

Fitting is a sum of per-block sufficient statistics followed by an update; the
statistics of two blocks merge into those of their union, which is what lets the
in-memory and chunked backends share every formula.

Each operation has one numpy entry point (:mod:`.kmeans`, :mod:`.gmm`); the passes
that run it fast (:mod:`.kmeans_passes`, :mod:`.gmm_passes`) are tested against it
and call compiled loops (:mod:`.compiled`, numba, imported on first use only) on
the number of threads their caller passes in.
"""

__all__ = ["NUMPY_MAX_VALUES", "compiled_pays"]

# In-memory data of at most this many values (n_samples x n_features) is fitted by
# the numpy entry points themselves (:mod:`.kmeans`, :mod:`.gmm`) rather than by the
# compiled passes: compiling those on a process's first use costs far more than the
# whole fit of such data in numpy, and a short command-line run on a small file then
# never imports numba. The results are the numpy references', which the tests hold
# the compiled passes to.
NUMPY_MAX_VALUES = 2**14


def compiled_pays(n_samples: int, n_features: int) -> bool:
    """Whether passes over in-memory data of this shape run compiled (see
    :data:`NUMPY_MAX_VALUES`)."""
    return n_samples * n_features > NUMPY_MAX_VALUES
