"""Pure array math: no validation, input/output, plotting, logging or globals.

Fitting is a sum of per-block sufficient statistics followed by an update; the
statistics of two blocks merge into those of their union, which is what lets the
in-memory and chunked backends share every formula.

Each operation has one numpy entry point (:mod:`.kmeans`, :mod:`.gmm`); the passes
that run it fast (:mod:`.kmeans_passes`, :mod:`.gmm_passes`) are tested against it
and call compiled loops (:mod:`.compiled`, numba, imported on first use only) on
the number of threads their caller passes in.
"""
