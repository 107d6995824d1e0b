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
