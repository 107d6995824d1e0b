"""Time kmix.solve_qp against quadprog, scipy's SLSQP, OSQP and cvxpy.

Run as ``python bench/bench_qp.py`` (``--no-write`` leaves bench/RESULTS.md alone);
``bench/run.py qp`` calls :func:`main`. Every solver gets the same instances in
the same run, in its own native input format prepared beforehand, and is timed
in turn within each repetition so that all of them see the same machine load.
Reported: the median over repetitions of the time per solve, and ratios.

Workload (one constraint): min xᵀMx + xᵀh s.t. bᵀx >= c, M random SPD with
cond(M) = 100, h = -2Mx₀ for a random x₀, b a random unit vector and c = bᵀx₀ ± a
margin: half the instances active, half inactive. A second table times several
constraints (the dual active-set method) against quadprog and OSQP.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402  (the folder's shared helpers)

from kmix import solve_qp  # noqa: E402

SIZES = (2, 5, 50, 200)
INSTANCES = 6  # per size: 3 active, 3 inactive
REPEATS = 7
BATCH_SECONDS = 0.02  # each timed batch runs at least this long
GENERAL_SIZES = ((10, 30), (50, 150), (100, 300))
GENERAL_INSTANCES = 3
GENERAL_REPEATS = 5
TOLERANCE = 1e-10  # OSQP's eps_abs and eps_rel


def spd(rng: np.random.Generator, n: int, cond: float) -> np.ndarray:
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    M = (Q * np.logspace(0, -np.log10(cond), n)) @ Q.T
    return 0.5 * (M + M.T)


def single_instances(n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    rng = np.random.default_rng(seed + n)
    out = []
    for i in range(INSTANCES):
        M = spd(rng, n, 100.0)
        x0 = rng.standard_normal(n)
        h = -2.0 * M @ x0
        b = rng.standard_normal(n)
        b /= np.linalg.norm(b)
        margin = rng.uniform(0.1, 1.0)
        c = float(b @ x0 + (margin if i % 2 == 0 else -margin))
        out.append((M, h, b, c))
    return out


def general_instances(n: int, m: int, seed: int = 0):
    rng = np.random.default_rng(seed + 1000 * n + m)
    out = []
    for _ in range(GENERAL_INSTANCES):
        M = spd(rng, n, 100.0)
        h = rng.standard_normal(n)
        B = rng.standard_normal((m, n))
        c = B @ rng.standard_normal(n) - rng.exponential(size=m)
        out.append((M, h, B, c))
    return out


# --- one solver call per instance, each in its own native format ------------------------


def kmix_call(M, h, B, c, check: bool = True) -> Callable[[], np.ndarray]:
    return lambda: solve_qp(M, h, B, c, check=check).x


def quadprog_call(M, h, B, c) -> Callable[[], np.ndarray]:
    import quadprog

    # quadprog: min ½xᵀGx - aᵀx s.t. Cᵀx >= b; ours has no ½, so G = 2M, a = -h
    G, a = 2.0 * M, -h
    C = np.ascontiguousarray(np.atleast_2d(B).T)
    rhs = np.atleast_1d(np.asarray(c, dtype=float))
    return lambda: quadprog.solve_qp(G, a, C, rhs, 0)[0]


def slsqp_call(M, h, B, c) -> Callable[[], np.ndarray]:
    from scipy.optimize import minimize

    B2 = np.atleast_2d(B)
    rhs = np.atleast_1d(np.asarray(c, dtype=float))
    constraint = {"type": "ineq", "fun": lambda x: B2 @ x - rhs, "jac": lambda x: B2}
    options = {"ftol": 1e-15, "maxiter": 1000}

    def call():
        return minimize(lambda x: x @ M @ x + x @ h, np.zeros(len(h)), jac=lambda x: 2.0 * M @ x + h,
                        method="SLSQP", constraints=[constraint], options=options).x

    return call


def osqp_call(M, h, B, c) -> Callable[[], np.ndarray]:
    import osqp
    from scipy import sparse

    # OSQP: min ½xᵀPx + qᵀx s.t. l <= Ax <= u; setup (its factorisation) is part of
    # every solve, as each instance is a new problem
    P = sparse.triu(sparse.csc_matrix(2.0 * M), format="csc")
    A = sparse.csc_matrix(np.atleast_2d(B))
    lower = np.atleast_1d(np.asarray(c, dtype=float))
    upper = np.full_like(lower, np.inf)
    settings = dict(eps_abs=TOLERANCE, eps_rel=TOLERANCE, polishing=True, verbose=False,
                    max_iter=100_000)

    def call():
        problem = osqp.OSQP()
        problem.setup(P, h, A, lower, upper, **settings)
        return problem.solve().x

    return call


def cvxpy_call(M, h, B, c) -> Callable[[], np.ndarray]:
    import cvxpy as cp

    B2 = np.atleast_2d(B)
    rhs = np.atleast_1d(np.asarray(c, dtype=float))

    def call():
        x = cp.Variable(len(h))
        problem = cp.Problem(cp.Minimize(cp.quad_form(x, cp.psd_wrap(M)) + h @ x), [B2 @ x >= rhs])
        problem.solve()
        call.solver = problem.solver_stats.solver_name
        return x.value

    call.solver = "?"
    return call


def available(module: str) -> str | None:
    """None when importable, else why not."""
    try:
        __import__(module)
    except Exception as exc:  # noqa: BLE001 - reported in the table
        return f"{type(exc).__name__}: {exc}"
    return None


# --- timing ----------------------------------------------------------------------------


def time_solvers(factories: dict[str, Callable], instances: list, repeats: int) -> dict[str, Any]:
    """Median seconds per solve of each solver, and its largest relative distance
    from kmix's x over the instances."""
    calls = {name: [factory(*instance) for instance in instances] for name, factory in factories.items()}
    results = {name: [call() for call in solver_calls] for name, solver_calls in calls.items()}  # warm-up
    reference = results["kmix"]
    loops = {}
    for name, solver_calls in calls.items():
        start = time.perf_counter()
        for call in solver_calls:
            call()
        once = (time.perf_counter() - start) or 1e-9
        loops[name] = max(1, math.ceil(BATCH_SECONDS / once))
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, solver_calls in calls.items():  # interleaved: same load for all
            start = time.perf_counter()
            for _ in range(loops[name]):
                for call in solver_calls:
                    call()
            samples[name].append((time.perf_counter() - start) / (loops[name] * len(solver_calls)))
    out = {}
    for name in calls:
        distance = max(
            float(np.linalg.norm(x - x_ref) / max(1.0, np.linalg.norm(x_ref)))
            for x, x_ref in zip(results[name], reference)
        )
        extra = getattr(calls[name][0], "solver", None)
        out[name] = {"seconds": median(samples[name]), "distance": distance, "solver": extra}
    return out


def microseconds(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args([] if argv is None and __name__ != "__main__" else argv)

    description = _common.machine_description(("quadprog", "osqp", "cvxpy", "clarabel", "threadpoolctl"))
    try:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(limits=1, user_api="blas")
        threads = "BLAS held to 1 thread for every solver (threadpoolctl)"
    except ImportError:
        limits, threads = None, "BLAS threads as configured"
    missing = {name: available(name) for name in ("quadprog", "osqp", "cvxpy")}
    factories: dict[str, Callable] = {"kmix": kmix_call, "kmix, check=False": lambda *a: kmix_call(*a, check=False)}
    if missing["quadprog"] is None:
        factories["quadprog"] = quadprog_call
    factories["scipy SLSQP"] = slsqp_call
    if missing["osqp"] is None:
        factories["OSQP"] = osqp_call
    if missing["cvxpy"] is None:
        factories["cvxpy"] = cvxpy_call

    rows = []
    verdicts = []
    cvxpy_solver = "?"
    for n in SIZES:
        timing = time_solvers(factories, single_instances(n), REPEATS)
        ours = timing["kmix"]["seconds"]
        row = [str(n)]
        for name in ("kmix", "kmix, check=False", "quadprog", "scipy SLSQP", "OSQP", "cvxpy"):
            row.append(microseconds(timing[name]["seconds"]) if name in timing else "skipped")
        for name in ("quadprog", "scipy SLSQP", "OSQP", "cvxpy"):
            row.append(f"{timing[name]['seconds'] / ours:.2f}" if name in timing else "-")
        row.append(", ".join(
            f"{name} {timing[name]['distance']:.0e}" for name in timing if name != "kmix"
        ))
        rows.append(row)
        if "cvxpy" in timing:
            cvxpy_solver = timing["cvxpy"]["solver"]
        checks = []
        if n <= 50 and "quadprog" in timing:
            ratio = ours / timing["quadprog"]["seconds"]
            checks.append(f"kmix/quadprog {ratio:.2f} (target <= 1: {'met' if ratio <= 1 else 'not met'})")
        for name in ("OSQP", "cvxpy"):
            if name in timing:
                speedup = timing[name]["seconds"] / ours
                checks.append(f"{name}/kmix {speedup:.0f}x (target >= 10x: {'met' if speedup >= 10 else 'not met'})")
        verdicts.append(f"- n = {n}: " + "; ".join(checks))
        print(f"n = {n}: " + "  ".join(f"{k} {microseconds(v['seconds'])} us" for k, v in timing.items()), flush=True)

    general_rows = []
    general_factories = {"kmix": kmix_call}
    if missing["quadprog"] is None:
        general_factories["quadprog"] = quadprog_call
    if missing["osqp"] is None:
        general_factories["OSQP"] = osqp_call
    for n, m in GENERAL_SIZES:
        timing = time_solvers(general_factories, general_instances(n, m), GENERAL_REPEATS)
        ours = timing["kmix"]["seconds"]
        general_rows.append([
            f"{n} x {m}",
            *(f"{timing[name]['seconds'] * 1e3:,.2f}" if name in timing else "skipped"
              for name in ("kmix", "quadprog", "OSQP")),
            *(f"{timing[name]['seconds'] / ours:.2f}" if name in timing else "-"
              for name in ("quadprog", "OSQP")),
            ", ".join(f"{name} {timing[name]['distance']:.0e}" for name in timing if name != "kmix"),
        ])
        print(f"general {n}x{m}: " + "  ".join(f"{k} {v['seconds'] * 1e3:.2f} ms" for k, v in timing.items()), flush=True)
    if limits is not None:
        limits.restore_original_limits()
    description["load average (1, 5, 15 min) at the end"] = _common.load_average()

    skipped = [f"{name} ({why})" for name, why in missing.items() if why]
    single_table = _common.markdown_table(
        ["n", "kmix µs", "kmix check=False µs", "quadprog µs", "SLSQP µs", "OSQP µs", "cvxpy µs",
         "quadprog / kmix", "SLSQP / kmix", "OSQP / kmix", "cvxpy / kmix", "max ‖x - x_kmix‖ / max(1, ‖x_kmix‖)"],
        rows,
    )
    general_table = _common.markdown_table(
        ["n x m", "kmix ms", "quadprog ms", "OSQP ms", "quadprog / kmix", "OSQP / kmix",
         "max ‖x - x_kmix‖ / max(1, ‖x_kmix‖)"],
        general_rows,
    )
    body = f"""## QP

One constraint, min xᵀMx + xᵀh s.t. bᵀx >= c: time per solve (median of {REPEATS} repetitions,
each a batch of at least {BATCH_SECONDS * 1e3:.0f} ms over the same {INSTANCES} instances per n, half of
them active; cond(M) = 100). Columns "peer / kmix" are how many times longer the peer takes
than `kmix.solve_qp` with its default input checks (above 1: kmix is faster). Every solver
gets its own input format, prepared outside the timing: quadprog `solve_qp(2M, -h, b[:, None],
[c])`; SLSQP with analytic gradients, ftol 1e-15, from x = 0; OSQP setup + solve per instance
(eps_abs = eps_rel = {TOLERANCE:g}, polishing on); cvxpy builds and solves the problem per instance
(its default solver, {cvxpy_solver}). `check=False` skips input validation (the caller vouches
for finite float64 input and a symmetric M). {threads}.

{single_table}

Targets (closed form against quadprog for n <= 50, and at least 10x faster than OSQP and cvxpy):

{chr(10).join(verdicts)}

Several constraints (the dual active-set method: Lawson–Hanson NNLS, then the solution
finished in x), random feasible instances with m > n, median of {GENERAL_REPEATS} repetitions over
{GENERAL_INSTANCES} instances, milliseconds per solve:

{general_table}

Skipped: {', '.join(skipped) if skipped else 'none'}.

Machine: {'; '.join(f'{k} {v}' for k, v in description.items())}
"""
    print()
    print(body)
    if not args.no_write:
        _common.write_section("qp", body)
        print(f"written to {_common.RESULTS}")
    return body


if __name__ == "__main__":
    main(sys.argv[1:])
