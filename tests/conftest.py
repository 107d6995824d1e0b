import os

import matplotlib
import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
matplotlib.use("Agg")

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - hypothesis comes with the dev extra
    pass
else:
    # The same examples on every run, whatever the machine's load: no deadline, no
    # health check that times data generation, no database of earlier failures.
    settings.register_profile(
        "kmix", derandomize=True, deadline=None, database=None,
        suppress_health_check=list(HealthCheck),
    )
    settings.load_profile("kmix")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


# The threshold kmix ships with: small in-memory data goes through the numpy
# entry points (see kmix.kernels.NUMPY_MAX_VALUES).
SHIPPED_NUMPY_MAX_VALUES = None


@pytest.fixture(autouse=True)
def _compiled_passes_for_all_data(monkeypatch):
    """Most tests fit small data to test the compiled passes and the loops over
    them: every in-process test runs them whatever the data's size, as kmix does
    on larger data. The tests of the numpy path for small data ask for the shipped
    threshold back (the ``numpy_path`` fixture); command-line runs in a subprocess
    always have it."""
    import kmix.kernels

    global SHIPPED_NUMPY_MAX_VALUES
    if SHIPPED_NUMPY_MAX_VALUES is None:
        SHIPPED_NUMPY_MAX_VALUES = kmix.kernels.NUMPY_MAX_VALUES
    monkeypatch.setattr(kmix.kernels, "NUMPY_MAX_VALUES", 0)


@pytest.fixture
def numpy_path(monkeypatch):
    """Small data fitted as kmix ships: by the numpy entry points."""
    import kmix.kernels

    monkeypatch.setattr(kmix.kernels, "NUMPY_MAX_VALUES", SHIPPED_NUMPY_MAX_VALUES)
    return SHIPPED_NUMPY_MAX_VALUES
