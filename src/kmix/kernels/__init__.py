"""Pure array math: no validation, input/output, plotting, logging or globals.

Fitting is a sum of per-block sufficient statistics followed by an update; the
statistics of two blocks merge into those of their union, which is what lets the
in-memory and chunked backends share every formula.
"""
