"""Run scikit-learn's own KMeans and GaussianMixture tests against kmix's estimators.

The test files are the ones shipped inside the installed scikit-learn
(``sklearn/cluster/tests/test_k_means.py`` and
``sklearn/mixture/tests/test_gaussian_mixture.py``); they are run where they are,
unchanged, with ``sklearn_suite_plugin`` rebinding the estimator names inside the
test modules to kmix's. Every test ends up in one of four groups:

* passed;
* failed, with a short cause taken from its exception;
* skipped (by scikit-learn's own marks and conditions);
* out of scope (scikit-learn's private helpers, array-API dispatch, and
  MiniBatchKMeans where kmix lacks it): skipped by the plugin without running,
  and counted apart.

Usage::

    python tools/sklearn_suite.py                 # the whole comparison, a table of causes
    python tools/sklearn_suite.py NODEID [...]    # rerun some tests, with pytest's output
    python tools/sklearn_suite.py --jobs 2        # on two pytest-xdist workers

scikit-learn's float32 variants are run (``SKLEARN_RUN_FLOAT32_TESTS=1`` unless
the variable is already set).

Exit status: 0 when every applicable test passes, 1 when some fail, 2 when the
suite could not be run (kmix not importable, a collection error, no tests).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shlex
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TOOLS_DIR = Path(__file__).resolve().parent
if str(TOOLS_DIR) not in sys.path:
    sys.path.insert(0, str(TOOLS_DIR))

import sklearn_suite_plugin as plugin  # noqa: E402 - found through the path set just above

#: scikit-learn's test files, relative to the installed ``sklearn`` package.
SUITE_FILES = ("cluster/tests/test_k_means.py", "mixture/tests/test_gaussian_mixture.py")

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"
OUT_OF_SCOPE = "out of scope"

#: How many example test ids the table shows per cause.
EXAMPLES_PER_CAUSE = 3
#: Longest cause the table prints; longer ones are cut with an ellipsis.
MAX_CAUSE_LENGTH = 110

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_CLASS_REPR = re.compile(r"<class '(?:[\w]+\.)*(\w+)'>")
# A number not glued to a name (float32, n_features_in_ and x1 keep their digits).
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w])")
_QUALIFIED_TYPE = re.compile(r"^(?:[A-Za-z_][\w]*\.)+([A-Za-z_]\w*)(?=:|$)")
_WHITESPACE = re.compile(r"\s+")


# ----------------------------------------------------------------------------- causes


def normalise_text(text: str, numbers: bool = True) -> str:
    """Strip what differs between occurrences of one cause: numbers, addresses, spacing.

    ``numbers=False`` keeps numbers (skip reasons such as ``set X=1 to run`` are
    fixed texts whose numbers mean something).
    """
    text = _CLASS_REPR.sub(r"\1", text)
    text = _ADDRESS.sub("0x…", text)
    if numbers:
        text = _NUMBER.sub("#", text)
    text = _WHITESPACE.sub(" ", text).strip()
    if len(text) > MAX_CAUSE_LENGTH:
        text = text[: MAX_CAUSE_LENGTH - 1].rstrip() + "…"
    return text


def cause_from_message(message: str) -> str:
    """A short, normalised cause from an exception as pytest prints it.

    Parameters
    ----------
    message : str
        ``ExceptionType: message`` as in pytest's crash line (``reprcrash.message``),
        possibly spanning several lines, the type possibly module-qualified.

    Returns
    -------
    str
        The unqualified type and the first non-empty line of the message, with
        numbers and memory addresses replaced; the failures of ``pytest.raises`` and
        ``pytest.warns`` are named as such (``Failed: DID NOT RAISE ValueError``,
        ``AssertionError (message match)``).
    """
    lines = [line.strip() for line in message.strip().splitlines()]
    if not lines or not lines[0]:
        return "unknown error"
    head = lines[0]
    type_name, separator, first = head.partition(":")
    type_name = _QUALIFIED_TYPE.sub(r"\1", type_name.strip())
    if not separator:
        return type_name
    rest = [first.strip()] + lines[1:]
    text = next((line for line in rest if line), "")

    if text.startswith("Regex pattern did not match") or text.startswith("Pattern did not match"):
        # pytest.raises(match=...) fails with an AssertionError, pytest.warns(match=...)
        # with Failed: the exception or warning came, its message did not match.
        if type_name == "Failed" or "warnings emitted" in text:
            return "Failed (warning message match)"
        return f"{type_name} (message match)"
    if type_name == "Failed" and text.startswith("DID NOT RAISE"):
        return "Failed: " + normalise_text(text.rstrip("."))
    if type_name == "Failed" and text.startswith("DID NOT WARN"):
        expected = _CLASS_REPR.findall(text)
        names = " or ".join(expected) if expected else "the expected warning"
        suffix = " (message match)" if "matching" in text else ""
        return f"Failed: DID NOT WARN {names}{suffix}"
    if not text:
        return type_name
    return normalise_text(f"{type_name}: {text}")


def crash_message(longrepr: object) -> str:
    """The ``Type: message`` text of a failure report's ``longrepr``, however it is shaped."""
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return crash.message
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    text = str(longrepr)
    # pytest marks the exception lines of a traceback with "E   ".
    error_lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    if error_lines:
        return "\n".join(error_lines)
    return text


def skip_reason(longrepr: object) -> str:
    """The reason of a skipped report, without pytest's ``Skipped:`` prefix."""
    if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(longrepr)
    if reason.startswith("Skipped: "):
        reason = reason[len("Skipped: "):]
    return reason


# ----------------------------------------------------------------------------- outcomes


@dataclass
class TestRecord:
    """What the setup, call and teardown reports of one test said."""

    __test__ = False  # not a test class, whatever pytest's collection thinks

    nodeid: str
    outcome: str = PASSED
    cause: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    _settled: bool = False

    def add(self, report: object) -> None:
        """Fold in one ``TestReport`` (or anything with its attributes)."""
        for key, value in getattr(report, "user_properties", ()) or ():
            self.properties[str(key)] = str(value)
        if self._settled:
            return
        when = getattr(report, "when", "call")
        longrepr = getattr(report, "longrepr", None)
        wasxfail = getattr(report, "wasxfail", None)
        if getattr(report, "failed", False):
            cause = cause_from_message(crash_message(longrepr))
            if when != "call":
                cause = f"error in {when}: {cause}"
            self.outcome, self.cause, self._settled = FAILED, cause, True
        elif getattr(report, "skipped", False):
            if wasxfail is not None:
                reason = f"xfail: {wasxfail}" if wasxfail else "xfail"
            else:
                reason = skip_reason(longrepr)
            self.outcome, self.cause, self._settled = SKIPPED, reason, True


def classify(record: TestRecord) -> tuple[str, str]:
    """The group of a finished test and its cause (empty for a pass).

    Returns
    -------
    (group, cause) : tuple of str
        group is passed, failed, skipped or out of scope. A test that uses a name kmix
        does not provide ran with scikit-learn's object: unless it was skipped it is
        counted as failed, under ``kmix lacks <name>``.
    """
    scope = record.properties.get(plugin.SCOPE_PROPERTY)
    if scope is not None:
        return OUT_OF_SCOPE, scope
    if record.outcome == SKIPPED:
        return SKIPPED, normalise_text(record.cause, numbers=False)
    lacking = record.properties.get(plugin.LACKS_PROPERTY)
    if lacking:
        return FAILED, f"kmix lacks {lacking}"
    if record.outcome == FAILED:
        return FAILED, record.cause
    return PASSED, ""


class OutcomeCollector:
    """pytest plugin object that keeps one :class:`TestRecord` per test id."""

    def __init__(self) -> None:
        self.records: dict[str, TestRecord] = {}
        self.collection_errors: list[tuple[str, str]] = []

    def pytest_runtest_logreport(self, report: object) -> None:
        nodeid = report.nodeid
        record = self.records.get(nodeid)
        if record is None:
            record = self.records[nodeid] = TestRecord(nodeid)
        record.add(report)

    def pytest_collectreport(self, report: object) -> None:
        if report.failed:
            self.collection_errors.append((report.nodeid, str(report.longrepr)))


# ----------------------------------------------------------------------------- report


@dataclass
class Summary:
    """Counts and causes of one run, grouped for printing."""

    counts: Counter
    causes: dict[str, dict[str, list[str]]]

    @property
    def applicable(self) -> int:
        return self.counts[PASSED] + self.counts[FAILED]


def summarise(records: Iterable[TestRecord]) -> Summary:
    """Group finished tests: counts per group, and test ids per cause within a group."""
    counts: Counter = Counter()
    causes: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    # Sorted by id, so that the examples do not depend on the order xdist workers
    # happened to report in.
    for record in sorted(records, key=lambda record: record.nodeid):
        group, cause = classify(record)
        counts[group] += 1
        if group == OUT_OF_SCOPE:
            category, _, detail = cause.partition(": ")
            causes[group][category].append(record.nodeid if not detail else f"{record.nodeid} ({detail})")
        elif group != PASSED:
            causes[group][cause].append(record.nodeid)
    return Summary(counts, {group: dict(by_cause) for group, by_cause in causes.items()})


def short_id(nodeid: str) -> str:
    """A node id without the folders: ``test_k_means.py::test_x[...]``."""
    path, separator, rest = nodeid.partition("::")
    return f"{path.rsplit('/', 1)[-1]}{separator}{rest}"


def format_table(title: str, by_cause: dict[str, list[str]], examples: int = EXAMPLES_PER_CAUSE) -> list[str]:
    """Lines of a table of causes, the most frequent first, with example test ids."""
    if not by_cause:
        return []
    lines = [title, f"{'count':>6}  cause  (examples)"]
    for cause, nodeids in sorted(by_cause.items(), key=lambda entry: (-len(entry[1]), entry[0])):
        lines.append(f"{len(nodeids):>6}  {cause}")
        for nodeid in nodeids[:examples]:
            lines.append(f"{'':>8}  {short_id(nodeid)}")
    return lines


def format_summary(summary: Summary) -> list[str]:
    """The whole report: failures by cause, skips by reason, out of scope, totals."""
    lines: list[str] = []
    for title, group in (
        ("Failed, by cause", FAILED),
        ("Skipped, by reason", SKIPPED),
        ("Out of scope (skipped without running), by category", OUT_OF_SCOPE),
    ):
        table = format_table(title, summary.causes.get(group, {}))
        if table:
            lines.extend(table + [""])
    counts = summary.counts
    lacking = sum(len(ids) for cause, ids in summary.causes.get(FAILED, {}).items() if cause.startswith("kmix lacks"))
    if lacking:
        lines.append(
            f"({lacking} failed under 'kmix lacks ...' ran with scikit-learn's function in its place, "
            "so pytest's own count above may call them passed)"
        )
    lines.append(
        f"applicable {summary.applicable} = passed {counts[PASSED]} + failed {counts[FAILED]}; "
        f"out of scope {counts[OUT_OF_SCOPE]}; skipped {counts[SKIPPED]}"
    )
    return lines


# ----------------------------------------------------------------------------- running


def sklearn_package_dir() -> Path:
    """The folder of the installed scikit-learn package."""
    import sklearn

    return Path(sklearn.__file__).resolve().parent


def _display_path(path: str) -> str:
    """A path relative to the working folder when it lies below it, else absolute."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def rerun_command(nodeid: str) -> str:
    """The shell command that reruns one test of this suite with pytest's full output."""
    return f"{_display_path(sys.executable)} {_display_path(__file__)} {shlex.quote(nodeid)}"


def _substitution_line() -> str:
    import kmix
    import sklearn

    from_kmix = [name for name in plugin.SUBSTITUTED_NAMES if getattr(kmix, name, None) is not None]
    from_sklearn = [name for name in plugin.SUBSTITUTED_NAMES if name not in from_kmix]
    line = f"scikit-learn {sklearn.__version__}'s tests, with {', '.join(from_kmix) or 'nothing'} from kmix"
    if from_sklearn:
        line += f" ({', '.join(from_sklearn)}: scikit-learn's, kmix lacks them)"
    return line


def pytest_arguments(
    package_dir: Path, config_file: Path, nodeids: Sequence[str], jobs: int, extra: Sequence[str]
) -> list[str]:
    """The command line given to ``pytest.main``."""
    root = package_dir.parent
    if nodeids:
        targets = [str(root / nodeid) for nodeid in nodeids]
        output = ["-v", "--tb=long", "-rfE"]
    else:
        targets = [str(package_dir / relative) for relative in SUITE_FILES]
        output = ["-q", "--tb=no", "-rN", "--disable-warnings"]
    arguments = [
        # An empty configuration of our own: neither kmix's pytest settings nor any
        # other file found above site-packages applies to scikit-learn's tests.
        "-c", str(config_file),
        "--rootdir", str(root),
        "--confcutdir", str(root),
        "-p", "no:cacheprovider",
        "-p", "sklearn_suite_plugin",
        *output,
    ]
    if jobs > 1:
        arguments += ["-n", str(jobs)]
    return arguments + list(extra) + targets


def xdist_available() -> bool:
    return importlib.util.find_spec("xdist") is not None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run scikit-learn's KMeans and GaussianMixture tests with kmix's estimators "
        "in their place, and count what passes and why the rest fails.",
    )
    parser.add_argument(
        "nodeids", nargs="*",
        help="tests to rerun with pytest's full output, as node ids relative to site-packages "
        "(the ids this tool prints)",
    )
    parser.add_argument(
        "--jobs", type=int, default=None,
        help="pytest-xdist workers (default 1: serial)",
    )
    parser.add_argument("--pytest-args", default="", help="further pytest arguments, one string (for instance '-x')")
    options = parser.parse_args(argv)

    try:
        substitution = _substitution_line()
    except Exception as error:  # noqa: BLE001 - kmix or scikit-learn failing to import stops the run
        print(f"sklearn-suite: cannot import kmix or scikit-learn: {type(error).__name__}: {error}", file=sys.stderr)
        return 2

    import pytest

    jobs = options.jobs
    if jobs is None:
        # Two files of mostly quick tests: starting xdist workers (each importing
        # scikit-learn and compiling kmix's kernels) costs more than splitting saves.
        jobs = 1
    if jobs > 1 and not xdist_available():
        print("sklearn-suite: --jobs needs pytest-xdist; running serially", file=sys.stderr)
        jobs = 1

    # scikit-learn runs its float32 variants (the global_dtype fixture) only on
    # request; kmix keeps float32 data in float32, so they are part of the comparison.
    # Setting the variable to 0 leaves them out.
    os.environ.setdefault("SKLEARN_RUN_FLOAT32_TESTS", "1")
    # xdist workers are new interpreters: they find the plugin through PYTHONPATH.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TOOLS_DIR), os.environ.get("PYTHONPATH")]))

    package_dir = sklearn_package_dir()
    collector = OutcomeCollector()
    print(substitution, flush=True)
    with tempfile.TemporaryDirectory(prefix="kmix-sklearn-suite-") as scratch:
        config_file = Path(scratch) / "pytest.ini"
        config_file.write_text("[pytest]\n", encoding="utf-8")
        arguments = pytest_arguments(package_dir, config_file, options.nodeids, jobs, shlex.split(options.pytest_args))
        # The plugin module is handed over already imported (its `-p` then finds it
        # registered); xdist workers import it through `-p` themselves.
        exit_code = pytest.main(arguments, plugins=[collector, plugin])

    print()
    for nodeid, text in collector.collection_errors:
        print(f"collection error in {nodeid}:\n{text}\n")
    if collector.collection_errors or not collector.records or int(exit_code) not in (0, 1):
        print(f"sklearn-suite: the suite did not run through (pytest exit status {int(exit_code)})", file=sys.stderr)
        return 2

    summary = summarise(collector.records.values())
    for line in format_summary(summary):
        print(line)
    failed = summary.causes.get(FAILED, {})
    if failed:
        first = next(iter(sorted(failed.items(), key=lambda entry: (-len(entry[1]), entry[0]))))[1][0]
        print("\nRerun one failing test, with its traceback:")
        print(f"  {rerun_command(first)}")
    return 1 if summary.counts[FAILED] else 0


if __name__ == "__main__":
    sys.exit(main())
