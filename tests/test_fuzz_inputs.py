"""Malformed input, generated: hundreds of broken files, arguments and arrays fed to
the four commands (``kmeans``, ``gmm``, ``qp``, ``data``) and to the library.

Every case must end one of two ways:

- an error: from the command line, exit status 2 and exactly one line on stderr,
  ``kmix...: error: ...``, no traceback; from the library, a ValueError (kmix's
  DataError and friends are ValueErrors) raised by kmix's own code, not from deep
  inside numpy;
- for the few cases marked "either", a result instead: every number printed or
  fitted is finite.

And either way nothing is left behind in the working folder and no input changes
(the folder's files and their bytes are compared before and after).

The cases are generated from a fixed seed, so the same ones run every time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest

import kmix
from kmix.cli.main import main

from .fuzz_files import BASE, FILE_MAKERS, SEED, npy_bytes, zip_file


class Case(NamedTuple):
    name: str
    kind: str  # "cli" or "lib"
    # cli: argv built from the folder; lib: a call made in the folder
    make: Callable[[Path], Any]
    expect: str = "error"  # or "either"


CASES: list[Case] = []


def cli(name: str, make: Callable[[Path], list[str]], expect: str = "error") -> None:
    CASES.append(Case(name, "cli", make, expect))


def lib(name: str, call: Callable[[Path], Any], expect: str = "error") -> None:
    CASES.append(Case(name, "lib", call, expect))


# --- malformed data files (tests/fuzz_files.py writes them) ------------------------------

# Each malformed file goes to the commands that read data and to load_data.
_READERS = [
    ("kmeans", lambda name: ["kmeans", name, "-k", "2", "--seed", "0"]),
    ("gmm", lambda name: ["gmm", name, "-k", "2", "--seed", "0"]),
    ("data", lambda name: ["data", "info", name]),
    ("qp", lambda name: ["qp", "--M", name, "--h", "[1, 1]", "--b", "[1, 1]", "--c", "1"]),
]
for label, maker, expect in FILE_MAKERS:
    for command, argv in _READERS:
        if command == "qp" and not (label.startswith("npy") or label.startswith("npz")):
            continue
        # A 42 x 2 table is not a square M: every qp case is an error.
        cli(f"file/{label}/{command}", lambda folder, maker=maker, argv=argv: argv(maker(folder)),
            "error" if command == "qp" else expect)
    lib(f"file/{label}/load_data", lambda folder, maker=maker: kmix.load_data(maker(folder)), expect)


# --- command-line arguments ---------------------------------------------------------------

def _points(folder: Path) -> str:
    np.save(folder / "points.npy", BASE)
    return "points.npy"


BAD_OPTIONS = {
    "kmeans": [
        ["-k", "0"], ["-k", "-1"], ["-k", "x"], ["-k", "2.5"], ["-k", "1000"], ["-k", ""],
        ["--max-iter", "0"], ["--max-iter", "-5"], ["--tol", "-1"], ["--tol", "nan"], ["--tol", "x"],
        ["--tol", "inf"], ["--seed", "-1"], ["--seed", "1.5"], ["--init", "bogus"], ["--n-init", "0"],
        ["--fps", "0", "--animate", "a.gif"], ["--fps", "-1", "--animate", "a.gif"],
        ["--fps", "0.0001", "--animate", "a.gif"], ["--fps", "1e9", "--animate", "a.gif"],
        ["--fps", "nan", "--animate", "a.gif"], ["--max-frames", "0", "--animate", "a.gif"],
        ["--animate", "a.txt"], ["--plot", "a.txt"], ["--plot", "missing/a.png"],
        ["--ssd-plot", "a.bmp"], ["--out", "missing/r.npz"], ["--plot", "points.npy"],
        ["--plot", "same.png", "--ssd-plot", "same.png"], ["--chunks", "10"], ["--scheduler", "tcp://x:1"],
        ["--bogus"], ["--algorithm", "fast"], ["--plot", "x" * 300 + ".png"],
        ["--out", "/".join(["d" * 200] * 25) + "/r.npz"], ["--dask", "--plot", "a.png"],
        ["--out", "result.npz", "--plot", "dir.png"],
    ],
    "gmm": [
        ["-k", "0"], ["-k", "1000"], ["--covariance-type", "bogus"], ["--reg-covar", "-1"],
        ["--reg-covar", "nan"], ["--init", "bogus"], ["--n-init", "-2"], ["--max-iter", "x"],
        ["--tol", "-0.5"], ["--animate-style", "lines"], ["--plot", "a.gif"], ["--density-plot", "q/a.png"],
        ["--ll-plot", "ll.doc"], ["--density-plot", "points.npy"], ["--fps", "0.00001", "--animate", "e.gif"],
        ["--animate", "e.gif", "--dask"], ["--out", "r.npz", "--ll-plot", "dir.png"], ["--seed", "x"],
    ],
}
for command, option_lists in BAD_OPTIONS.items():
    for i, options in enumerate(option_lists):
        def make(folder: Path, command=command, options=options) -> list[str]:
            (folder / "dir.png").mkdir(exist_ok=True)  # an output that cannot be replaced
            return [command, _points(folder), *options]

        cli(f"args/{command}/{i}-{'_'.join(options)[:40]}", make)

# The same output twice, an output over the input, a missing input.
cli("args/kmeans/out-is-input-npz-key", lambda folder: [
    "kmeans", str(zip_file(folder, "in.npz", {"X.npy": npy_bytes(BASE)})) + ":X", "-k", "2", "--out", "in.npz"])
cli("args/gmm/out-is-input-without-suffix", lambda folder: [
    "gmm", str(zip_file(folder, "in.npz", {"X.npy": npy_bytes(BASE)})), "-k", "2", "--out", "in"])
cli("args/kmeans/no-data", lambda folder: ["kmeans", "-k", "2"])
cli("args/gmm/missing-data", lambda folder: ["gmm", "nothing-here.npy"])
cli("args/data/unknown-action", lambda folder: ["data", "bogus"])
cli("args/unknown-command", lambda folder: ["cluster", "x"])
cli("args/data/info-no-file", lambda folder: ["data", "info"])

# qp operands: inline text that is not a number, vector or matrix of the right shape.
QP_VALID = {"--M": "[[2, 0], [0, 3]]", "--h": "[1, 2]", "--b": "[1, 1]", "--c": "1.5"}
QP_BAD = {
    "--M": ["[[1, 2], [3]]", "[1, 2]", "[[2, 1], [1, -3]]", "[[1, 2], [0, 1]]", "[[nan, 0], [0, 1]]",
            "[[inf, 0], [0, 1]]", "[[1, 0], [0, 1e-18]]", "[[0, 0], [0, 0]]", "[]", "[[]]", "abc",
            "[" * 60 + "1" + "]" * 60, "[" * 50000 + "]" * 50000, "[[1, 0, 0], [0, 1, 0], [0, 0, 1]]",
            "[[1e300, 0], [0, 1e300]]", "[[1, 0], [0, 1]", "{1: 2}", "[[1, 0], [0, '1']]", "[[True, 0], [0, 1]]x",
            "[[1, 0], [0, 1]] [[1]]", "1e999", "[[1, 0], [0, None]]"],
    "--h": ["[1]", "[1, 2, 3]", "[nan, 1]", "[[1, 2], [3, 4]]", "x", "[1, 'a']", "[1e400, 0]"],
    "--b": ["[1]", "[0, 0]", "[inf, 1]", "[[1, 1], [1]]", "[]"],
    "--c": ["[1, 2]", "nan", "inf", "x", "[[1, 2]]", "1e999"],
}
for option, values in QP_BAD.items():
    for i, value in enumerate(values):
        def make(folder: Path, option=option, value=value) -> list[str]:
            operands = dict(QP_VALID, **{option: value})
            return ["qp", *[part for pair in operands.items() for part in pair]]

        cli(f"args/qp/{option}/{i}-{value[:30]}", make)

QP_SHAPES = [
    ["--B", "[[1, 0], [-1, 0]]", "--c", "[1, 0]"],  # infeasible
    ["--B", "[[1, 0], [0, 1]]", "--c", "[1]"],
    ["--B", "[[1, 0]]", "--c", "[1, 2, 3]"],
    ["--b", "[1, 1]", "--c", "1", "--A-eq", "[[1, 1]]"],
    ["--b", "[1, 1]", "--c", "1", "--b-eq", "1"],
    ["--b", "[1, 1]", "--c", "1", "--A-eq", "[[1, 1], [1, 1]]", "--b-eq", "[1, 2]"],  # inconsistent
    ["--b", "[1, 1]", "--c", "1", "--A-eq", "[[1, 1, 1]]", "--b-eq", "1"],
    ["--b", "[1, 1]", "--B", "[[1, 1]]", "--c", "1"],
    ["--b", "[1, 1]"],
    ["--c", "1"],
    ["--b", "missing.npy", "--c", "1"],
    ["--b", "[1, 1]", "--c", "missing.txt"],
]
for i, tail in enumerate(QP_SHAPES):
    cli(f"args/qp/shape-{i}", lambda folder, tail=tail: ["qp", "--M", QP_VALID["--M"], "--h", QP_VALID["--h"], *tail])
for i, value in enumerate(["-1e5", "-1E+5", "-.5", "-5.", "-1.5e-3"]):
    cli(f"args/qp/negative-c-{i}", lambda folder, value=value: [
        "qp", "--M", QP_VALID["--M"], "--h", QP_VALID["--h"], "--b", "[1, 1]", "--c", value], "either")


# --- the library ----------------------------------------------------------------------------

def _array_cases(rng: np.random.Generator) -> dict[str, tuple[Any, str]]:
    cases: dict[str, tuple[Any, str]] = {}
    for i in range(8):
        X = BASE.copy()
        X.flat[int(rng.integers(0, X.size))] = [np.nan, np.inf, -np.inf][i % 3]
        cases[f"nonfinite-{i}"] = (X, "error")
    cases.update({
        "one-d": (BASE[:, 0], "error"), "three-d": (BASE[None], "error"), "no-rows": (np.empty((0, 2)), "error"),
        "no-columns": (np.empty((5, 0)), "error"), "strings": (np.array([["a", "b"], ["c", "d"]]), "error"),
        "objects": (np.array([[1.0, None], [2.0, 3.0]], dtype=object), "error"), "complex": (BASE + 1j, "error"),
        "huge": (BASE * 1e200, "error"), "huge-offset": (BASE + 1e300, "error"), "tiny": (BASE * 1e-300, "error"),
        "max-float": (np.full((5, 2), np.finfo(np.float64).max), "error"), "list-ragged": ([[1, 2], [3]], "error"),
        "none": (None, "error"), "scalar": (3.0, "error"), "dict": ({"a": 1}, "error"),
        "huge-float32": ((BASE * 1e20).astype(np.float32), "either"),
        "float32-offset": ((BASE + 1e30).astype(np.float32), "either"),
        "large-within-range": (BASE * 1e150, "either"), "int": ((BASE * 100).astype(np.int64), "either"),
        "bool": (BASE > 1, "either"), "list": (BASE.tolist(), "either"),
    })
    return cases


ARRAYS = _array_cases(np.random.default_rng(SEED + 1))


def _fit(estimator: str, X: Any, **kwargs: Any) -> Any:
    from kmix import GaussianMixture, KMeans

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate data warns; only the outcome counts here
        if estimator == "KMeans":
            return KMeans(2, n_init=1, random_state=0, **kwargs).fit(X)
        return GaussianMixture(2, random_state=0, **kwargs).fit(X)


for estimator in ("KMeans", "GaussianMixture"):
    for label, (X, expect) in ARRAYS.items():
        lib(f"lib/{estimator}/X-{label}", lambda folder, estimator=estimator, X=X: _fit(estimator, X), expect)
    weights = {
        "negative": np.where(np.arange(len(BASE)) == 5, -1.0, 1.0), "nan": np.where(np.arange(len(BASE)) == 2, np.nan, 1.0),
        "inf": np.full(len(BASE), np.inf), "short": np.ones(5), "zeros": np.zeros(len(BASE)),
        "two-d": np.ones((len(BASE), 2)), "huge": np.full(len(BASE), 1e305), "strings": np.array(["1"] * len(BASE)),
    }
    for label, weight in weights.items():
        lib(f"lib/{estimator}/weight-{label}",
            lambda folder, estimator=estimator, weight=weight: _fit_weighted(estimator, weight))

KMEANS_PARAMETERS = [
    {"n_clusters": 0}, {"n_clusters": -1}, {"n_clusters": 1.5}, {"n_clusters": "3"}, {"n_clusters": 100},
    {"max_iter": 0}, {"max_iter": -1}, {"tol": -1.0}, {"tol": np.nan}, {"init": "bogus"}, {"n_init": 0},
    {"init": np.zeros((3, 2))}, {"init": np.full((2, 2), np.nan)}, {"init": np.zeros((2, 3))},
    {"algorithm": "bogus"}, {"random_state": -1}, {"random_state": "seed"}, {"callback": 3},
]
GMM_PARAMETERS = [
    {"n_components": 0}, {"n_components": 100}, {"covariance_type": "bogus"}, {"reg_covar": -1.0},
    {"reg_covar": np.nan}, {"tol": -1.0}, {"max_iter": -1}, {"init_params": "bogus"}, {"n_init": 0},
    {"weights_init": np.array([0.5, 0.6])}, {"weights_init": np.array([1.0, 0.0, 0.0])},
    {"means_init": np.zeros((3, 2))}, {"means_init": np.full((2, 2), np.inf)},
    {"precisions_init": np.tile(-np.eye(2), (2, 1, 1))}, {"precisions_init": np.ones((2, 2, 2))},
    {"precisions_init": np.eye(2)},
]


def _build(estimator: str, parameters: dict[str, Any]) -> Any:
    from kmix import GaussianMixture, KMeans

    if estimator == "KMeans":
        defaults = {"n_clusters": 2, "n_init": 1, "random_state": 0}
        return KMeans(**{**defaults, **parameters})
    return GaussianMixture(**{**{"n_components": 2, "random_state": 0}, **parameters})


def _fit_weighted(estimator: str, weight: np.ndarray) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _build(estimator, {}).fit(BASE, sample_weight=weight)


for estimator, parameter_list in (("KMeans", KMEANS_PARAMETERS), ("GaussianMixture", GMM_PARAMETERS)):
    for i, parameters in enumerate(parameter_list):
        def call(folder: Path, estimator=estimator, parameters=parameters) -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return _build(estimator, parameters).fit(BASE)

        lib(f"lib/{estimator}/param-{i}-{list(parameters)[0]}", call)
    for method in ("predict", "score", "transform" if estimator == "KMeans" else "predict_proba"):
        lib(f"lib/{estimator}/{method}-unfitted", lambda folder, estimator=estimator, method=method:
            getattr(_build(estimator, {}), method)(BASE))
        for label in ("wrong-width", "nan", "far"):
            def call(folder: Path, estimator=estimator, method=method, label=label) -> Any:
                model = _fit(estimator, BASE)
                X = {"wrong-width": BASE[:, :1], "nan": np.where(BASE > 4, np.nan, BASE), "far": BASE * 1e200}[label]
                return getattr(model, method)(X)

            lib(f"lib/{estimator}/{method}-{label}", call)

QP_LIBRARY = {
    "non-square": (np.ones((2, 3)), np.ones(2), np.ones(2), 1.0),
    "asymmetric": (np.array([[1.0, 2.0], [0.0, 1.0]]), np.ones(2), np.ones(2), 1.0),
    "indefinite": (np.array([[1.0, 0.0], [0.0, -1.0]]), np.ones(2), np.ones(2), 1.0),
    "singular": (np.zeros((2, 2)), np.ones(2), np.ones(2), 1.0),
    "ill-conditioned": (np.diag([1.0, 1e-18]), np.ones(2), np.ones(2), 1.0),
    "nan": (np.eye(2), np.array([np.nan, 1.0]), np.ones(2), 1.0),
    "inf-c": (np.eye(2), np.ones(2), np.ones(2), np.inf),
    "h-length": (np.eye(2), np.ones(3), np.ones(2), 1.0),
    "b-length": (np.eye(2), np.ones(2), np.ones(3), 1.0),
    "b-zero": (np.eye(2), np.ones(2), np.zeros(2), 1.0),
    "infeasible": (np.eye(2), np.ones(2), np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([1.0, 0.0])),
    "c-shape": (np.eye(2), np.ones(2), np.array([[1.0, 0.0], [0.0, 1.0]]), np.ones(3)),
    "strings": (np.array([["a", "b"], ["c", "d"]]), np.ones(2), np.ones(2), 1.0),
    "huge": (np.eye(2) * 1e300, np.ones(2) * 1e300, np.ones(2), 1e300),
}
for label, operands in QP_LIBRARY.items():
    lib(f"lib/solve_qp/{label}", lambda folder, operands=operands: kmix.solve_qp(*operands))


def _model_file(folder: Path, meta: Any, extra: dict[str, np.ndarray] | None = None) -> str:
    arrays = dict(extra or {})
    if meta is not None:
        arrays["__meta__"] = meta
    with open(folder / "model.npz", "wb") as stream:
        np.savez(stream, **arrays)
    return "model.npz"


def _meta(**changes: Any) -> np.ndarray:
    meta = {"format": "kmix-model", "version": 1, "class": "KMeans", "params": {"n_clusters": 2},
            "fitted": {}, "history": None}
    meta.update(changes)
    return np.array(json.dumps(meta))


MODEL_FILES = {
    "no-meta": lambda folder: _model_file(folder, None, {"x": np.ones(2)}),
    "meta-not-json": lambda folder: _model_file(folder, np.array("{not json")),
    "meta-number": lambda folder: _model_file(folder, np.array(3.0)),
    "meta-list": lambda folder: _model_file(folder, np.array("[1, 2]")),
    "meta-objects": lambda folder: _npz_with_object_meta(folder),
    "wrong-format": lambda folder: _model_file(folder, _meta(format="other")),
    "unknown-class": lambda folder: _model_file(folder, _meta(**{"class": "Spectral"})),
    "unknown-parameter": lambda folder: _model_file(folder, _meta(params={"n_clusterz": 2})),
    "bad-parameter-value": lambda folder: _model_file(folder, _meta(params={"n_clusters": "two"})),
    "params-not-dict": lambda folder: _model_file(folder, _meta(params=[1, 2])),
    "no-class": lambda folder: _model_file(folder, np.array(json.dumps({"format": "kmix-model"}))),
    "future-version": lambda folder: _model_file(folder, _meta(version=99)),
    "bad-history": lambda folder: _model_file(folder, _meta(history={"kind": "x"})),
    "not-a-zip": lambda folder: (folder / "model.npz").write_bytes(b"hello") and "model.npz",
    "data-file": lambda folder: zip_file(folder, "model.npz", {"X.npy": npy_bytes(BASE)}).name,
    "missing": lambda folder: "absent.npz",
}


def _npz_with_object_meta(folder: Path) -> str:
    return zip_file(folder, "model.npz", {"__meta__.npy": npy_bytes(np.array([{"a": 1}], dtype=object), True)}).name


for label, make in MODEL_FILES.items():
    lib(f"lib/load_model/{label}", lambda folder, make=make: kmix.load_model(make(folder)))


# --- running a case -------------------------------------------------------------------------

def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones included) with a hash of its bytes."""
    files = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            files[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


NONFINITE = re.compile(r"(?<![\w.])[-+]?(nan|inf)(?![\w])", re.IGNORECASE)


def _finite(value: Any) -> bool:
    if isinstance(value, (float, np.floating, np.ndarray)):
        return bool(np.all(np.isfinite(value)))
    if hasattr(value, "x") and hasattr(value, "residuals"):  # a QP result
        return _finite(np.asarray(value.x)) and _finite(float(value.objective))
    if hasattr(value, "get_params"):  # a fitted estimator
        fitted = [v for k, v in vars(value).items() if k.endswith("_") and not k.startswith("_")]
        return all(_finite(np.asarray(v, dtype=float)) for v in fitted
                   if isinstance(v, (float, np.ndarray)) and np.asarray(v).dtype.kind == "f")
    return True


def _raised_by_kmix(exc: BaseException) -> bool:
    """The innermost frame that raised is kmix's own code (or argparse's, for options)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and f"{os.sep}kmix{os.sep}" in frames[-1].filename


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_malformed_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    if case.kind == "cli":
        argv = case.make(folder)
        before = _snapshot(folder)
        code = main(argv)
        out, err = capsys.readouterr()
        after = _snapshot(folder)
        if case.expect == "either" and code == 0:
            assert not NONFINITE.search(out), out
        else:
            lines = err.splitlines()
            assert code == 2, (code, err[-2000:])
            assert len(lines) == 1 and lines[0].startswith("kmix: error: ") and len(lines[0]) > 14, err[-2000:]
            assert "Traceback" not in err
        assert after == before or (case.expect == "either" and code == 0 and set(before) <= set(after)), (
            sorted(set(after) ^ set(before)))
        return
    try:
        result = case.make(folder)
    except ValueError as exc:
        assert _raised_by_kmix(exc), "".join(traceback.format_exception(exc))[-3000:]
        assert str(exc).strip(), type(exc)
    except Exception as exc:  # not a ValueError: a defect
        pytest.fail("".join(traceback.format_exception(exc))[-3000:])
    else:
        assert case.expect == "either", f"no error for {case.name}: got {type(result).__name__}"
        assert _finite(result)


def test_the_fuzz_covers_every_command_and_the_library():
    kinds = {}
    for case in CASES:
        group = case.name.split("/")[2] if case.name.startswith("file/") else case.name.split("/")[1]
        kinds[group] = kinds.get(group, 0) + 1
    assert len(CASES) >= 300
    for command in ("kmeans", "gmm", "qp", "data", "load_data", "KMeans", "GaussianMixture", "solve_qp",
                    "load_model"):
        assert kinds.get(command, 0) >= 5, (command, kinds)
