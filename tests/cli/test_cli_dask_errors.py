"""With --dask an error still ends as one line: the local cluster the command
starts logs nothing of its own (no worker "Compute Failed" around the message)."""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys

import numpy as np
import pytest

from kmix.cli import _dask

# Seconds the command may take: starting a local cluster is a few seconds on an idle
# machine, much more on a loaded one; the limit only keeps a hang from lasting forever.
PATIENCE = 300


def test_nan_in_a_chunk_is_one_line_on_stderr(tmp_path):
    pytest.importorskip("distributed")
    X = np.random.default_rng(0).normal(size=(200, 3))
    X[57, 1] = np.nan  # in the second chunk of 50 rows: found on a worker
    path = tmp_path / "with_nan.npy"
    np.save(path, X)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-m", "kmix", "kmeans", str(path), "-k", "2", "--dask", "--chunks", "50"],
        capture_output=True, text=True, timeout=PATIENCE, env=env, check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kmix: error: ")
    assert "with_nan.npy" in lines[0] and "NaN" in lines[0] and "row 57" in lines[0]
    assert result.stdout == ""


def _recorded_session(monkeypatch):
    """Replace client_session by a recorder (no cluster is started)."""
    from kmix.backends import dask_session

    calls = []

    @contextlib.contextmanager
    def record(client=None, **kwargs):
        calls.append((client, kwargs))
        yield dask_session.Session(object(), True, True)

    monkeypatch.setattr(dask_session, "client_session", record)
    return calls


@pytest.mark.parametrize(
    "debug, scheduler, quiet",
    [(False, None, True), (True, None, False), (False, "tcp://127.0.0.1:8786", True)],
)
def test_the_cluster_is_quiet_unless_debugging(monkeypatch, debug, scheduler, quiet):
    calls = _recorded_session(monkeypatch)
    args = argparse.Namespace(dask=True, scheduler=scheduler, debug=debug)
    with _dask.dask_client(args) as client:
        assert client is not None
    # quiet only ever applies to a cluster kmix starts; an address is passed as given
    assert calls == [(scheduler, {"quiet": quiet})]


def test_without_dask_no_client_is_made(monkeypatch):
    calls = _recorded_session(monkeypatch)
    with _dask.dask_client(argparse.Namespace(dask=False, scheduler=None, debug=False)) as client:
        assert client is None
    assert calls == []
