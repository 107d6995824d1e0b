"""bench/run.py (what `make bench` runs) calls every bench/bench_*.py module's
``main()`` without arguments: each must accept that."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
MODULES = sorted(BENCH.glob("bench_*.py"))


def test_the_bench_modules_are_found() -> None:
    assert len(MODULES) >= 10


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.stem)
def test_main_runs_without_arguments(path: Path) -> None:
    tree = ast.parse(path.read_text())
    (main,) = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "main"]
    arguments = main.args
    positional = arguments.posonlyargs + arguments.args
    assert len(arguments.defaults) == len(positional), f"{path.name}: main() needs arguments"
    assert all(default is not None for default in arguments.kw_defaults), path.name
