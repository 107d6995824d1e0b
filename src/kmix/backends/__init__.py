"""Where the data lives: in memory (numpy) or in chunks (dask). Both call the same kernels."""
