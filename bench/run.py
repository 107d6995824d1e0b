"""Run every benchmark module bench/bench_*.py (what `make bench` does).

Each module exposes ``main()`` and writes its own section of bench/RESULTS.md.
``python bench/run.py kmeans qp`` runs only the modules whose names contain one of
the words given.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))  # so that modules can `import _common`
    modules = sorted(BENCH_DIR.glob("bench_*.py"))
    if words:
        modules = [m for m in modules if any(w in m.stem for w in words)]
    failed = []
    for path in modules:
        print(f"== {path.name}", flush=True)
        start = time.perf_counter()
        try:
            _load(path).main()
        except Exception:  # noqa: BLE001 - one failing benchmark does not stop the others
            traceback.print_exc()
            failed.append(path.name)
        print(f"== {path.name}: {time.perf_counter() - start:.0f} s", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
