"""Helpers shared by the benchmark modules: timing, peak memory, GEMM rate, the
machine's description and the writer of one section of bench/RESULTS.md.

Every figure is a median over repetitions, and every comparison is between
numbers measured in the same run: on a shared two-core machine, absolute times
move with whatever else runs, ratios much less.
"""

from __future__ import annotations

import datetime as _datetime
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import median
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "RESULTS.md"


def median_time(func: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> tuple[float, list[float]]:
    """Median wall time of ``func()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return median(times), times


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB.

    On Linux this is VmHWM from /proc/self/status: ru_maxrss survives execve, so a
    child started by a big parent would report at least the parent's peak.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def run_child(script: Path, args: Sequence[str], env: dict[str, str] | None = None,
              timeout: float = 1800) -> dict[str, Any]:
    """Run ``python script args`` in a fresh process; it prints one JSON object as
    its last line of output, which is returned. A separate process per workload
    keeps each library's peak RSS its own."""
    completed = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True,
        env=env, timeout=timeout, check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{script.name} {' '.join(args)} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_interleaved(script: Path, jobs: dict[str, Sequence[str]], rounds: int) -> dict[str, dict[str, Any]]:
    """Run each job's child ``rounds`` times, the jobs taking turns (A B C, A B C, ...).

    On a shared machine the load drifts over minutes; taking turns spreads that
    drift over every library alike, so the ratios between them move less than
    when one library's repeats all run before the next one's. Each child prints
    ``seconds_per_iteration`` and ``all`` (its per-repeat figures); the result per
    job pools ``all`` over the rounds, its median is the figure, and its peak RSS
    is the smallest of the rounds (a child that found the compiled code's cache out
    of date compiles it, and its peak then counts the compiler).
    """
    pooled: dict[str, dict[str, Any]] = {}
    for _ in range(rounds):
        for name, args in jobs.items():
            result = run_child(script, args)
            if name in pooled:
                result["all"] = pooled[name]["all"] + result["all"]
                result["peak_rss_mib"] = min(pooled[name]["peak_rss_mib"], result["peak_rss_mib"])
            pooled[name] = result
    for result in pooled.values():
        result["seconds_per_iteration"] = median(result["all"])
        result["rounds"] = rounds
    return pooled


def gemm_rate(dtype: str = "float64", size: int = 2048, repeats: int = 5) -> float:
    """The machine's matrix-product rate in GFLOP/s: median over ``repeats`` square
    products of side ``size``, with numpy's BLAS and its default threads."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    out = np.empty((size, size), dtype=dtype)
    seconds, _ = median_time(lambda: np.matmul(a, b, out=out), repeats=repeats, warmup=1)
    return 2.0 * size**3 / seconds / 1e9


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else "unknown"


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - a missing package is reported, not fatal
        return "not installed"


def _blas() -> str:
    try:
        import numpy  # noqa: F401
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    for info in threadpool_info():
        if info.get("user_api") == "blas" and "numpy" in info.get("filepath", ""):
            # The kernels OpenBLAS picked for this processor (their vector width
            # sets its GEMM rate, the reference of the GEMM fractions).
            kernels = f", {info['architecture']} kernels" if info.get("architecture") else ""
            return f"{info['internal_api']} {info['version']} ({info['num_threads']} threads{kernels})"
    return "unknown"


def machine_description(packages: Sequence[str] = ()) -> dict[str, str]:
    """What the figures were measured on: CPU, cores, load, Python, BLAS and versions."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    description = {
        "date": _datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": _cpu_model(),
        "logical CPUs": str(os.cpu_count()),
        "load average (1, 5, 15 min) at start": ", ".join(f"{x:.2f}" for x in load),
        "python": platform.python_version(),
        "BLAS (numpy)": _blas(),
    }
    limits = {name: os.environ[name] for name in
              ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
              if name in os.environ}
    if limits:
        description["thread limits (environment)"] = ", ".join(f"{k}={v}" for k, v in limits.items())
    for package in ("numpy", "scipy", *packages):
        description[package] = _version(package)
    return description


def load_average() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return ", ".join(f"{x:.2f}" for x in load)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table."""
    def cell(value: Any) -> str:
        return value if isinstance(value, str) else f"{value}"

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(name: str, body: str, path: Path = RESULTS) -> None:
    """Replace the section ``name`` of RESULTS.md (between its markers), or append
    it; the other sections are left as they are. Written to a temporary file in the
    same folder, then renamed: an interrupted run leaves the old file whole."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{body.strip()}\n{end}\n"
    text = path.read_text() if path.exists() else (
        "# Benchmarks\n\nWritten by `make bench` (bench/run.py); each section by its own module.\n\n"
    )
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        old, tail = rest.split(end, 1)
        # A section holds one "## " heading and what its module wrote; anything else
        # between its markers is hand-kept text that would be lost.
        if not old.lstrip("\n").startswith("## ") or "\n### " in old:
            raise RuntimeError(
                f"RESULTS.md: the section {name!r} holds text its module did not write "
                "(it must start with its '## ' heading and hold no '### ' heading); "
                "move that text out of the markers first")
        text = head + block + tail.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write(text)
        temporary = handle.name
    os.replace(temporary, path)
