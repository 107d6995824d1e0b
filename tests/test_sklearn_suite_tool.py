"""The helpers of tools/sklearn_suite.py, on synthetic reports.

scikit-learn's own suite is not run here (that is `make sklearn-suite`); these tests
check how outcomes are classified and how causes are shortened.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def _load(name):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


plugin = _load("sklearn_suite_plugin")
suite = _load("sklearn_suite")


def _failure_repr(error):
    try:
        raise error
    except type(error):
        return pytest.ExceptionInfo.from_current().getrepr()


def _report(nodeid="pkg/tests/test_a.py::test_x", when="call", outcome="passed", longrepr=None,
            user_properties=(), wasxfail=None):
    report = pytest.TestReport(
        nodeid=nodeid,
        location=("pkg/tests/test_a.py", 0, "test_x"),
        keywords={},
        outcome=outcome,
        longrepr=longrepr,
        when=when,
        user_properties=list(user_properties),
    )
    if wasxfail is not None:
        report.wasxfail = wasxfail
    return report


def _record(*reports, nodeid="pkg/tests/test_a.py::test_x"):
    record = suite.TestRecord(nodeid)
    for report in reports:
        record.add(report)
    return record


# --------------------------------------------------------------------------- causes


@pytest.mark.parametrize(
    ("message", "cause"),
    [
        ("TypeError: sparse input is not supported", "TypeError: sparse input is not supported"),
        ("AttributeError: 'KMeans' object has no attribute 'verbose'",
         "AttributeError: 'KMeans' object has no attribute 'verbose'"),
        ("kmix.exceptions.DataError: row 12 of X at 0x7f3a2b1c9d10 is NaN",
         "DataError: row # of X at 0x… is NaN"),
        ("ValueError: n_samples=3 should be >= n_clusters=4.", "ValueError: n_samples=# should be >= n_clusters=#."),
        ("ValueError: expected float32 or float64, got 1.5e-07", "ValueError: expected float32 or float64, got #"),
        ("Failed: DID NOT RAISE <class 'ValueError'>", "Failed: DID NOT RAISE ValueError"),
        ("AssertionError: Regex pattern did not match.\n  Expected regex: 'a'\n  Actual message: 'b'",
         "AssertionError (message match)"),
        ("Failed: Regex pattern did not match any of the 1 warnings emitted.\n Regex: 'x'\n Emitted warnings: []",
         "Failed (warning message match)"),
        ("Failed: DID NOT WARN. No warnings of type (<class 'sklearn.exceptions.ConvergenceWarning'>,) were "
         "emitted.\n Emitted warnings: [].", "Failed: DID NOT WARN ConvergenceWarning"),
        ("Failed: DID NOT WARN. No warnings of type (<class 'RuntimeWarning'>,) matching the regex were emitted.",
         "Failed: DID NOT WARN RuntimeWarning (message match)"),
        ("AssertionError: \nNot equal to tolerance rtol=1e-07, atol=0\n\nMismatched elements: 1 / 4 (25%)",
         "AssertionError: Not equal to tolerance rtol=#, atol=#"),
        ("AssertionError: assert 3 == 2\n +  where 3 = len([1, 2, 3])", "AssertionError: assert # == #"),
        ("KeyboardInterrupt", "KeyboardInterrupt"),
        ("", "unknown error"),
    ],
)
def test_cause_from_message(message, cause):
    assert suite.cause_from_message(message) == cause


def test_long_cause_is_cut_with_an_ellipsis():
    cause = suite.cause_from_message("ValueError: " + "word " * 100)
    assert len(cause) == suite.MAX_CAUSE_LENGTH
    assert cause.endswith("…")


def test_crash_message_from_text_traceback():
    text = "def test():\n>       raise ValueError('x')\nE       ValueError: bad k\n\nfile.py:3: ValueError"
    assert suite.crash_message(text) == "ValueError: bad k"


# --------------------------------------------------------------------------- outcomes


def test_failure_in_call_is_classified_by_its_exception():
    longrepr = _failure_repr(ValueError("n_clusters=5 is larger than n_samples=3"))
    record = _record(
        _report(when="setup"),
        _report(when="call", outcome="failed", longrepr=longrepr),
        _report(when="teardown"),
    )
    assert suite.classify(record) == (suite.FAILED, "ValueError: n_clusters=# is larger than n_samples=#")


def test_error_in_setup_and_teardown_name_the_phase():
    longrepr = _failure_repr(RuntimeError("fixture broke"))
    setup = _record(_report(when="setup", outcome="failed", longrepr=longrepr), _report(when="teardown"))
    assert suite.classify(setup) == (suite.FAILED, "error in setup: RuntimeError: fixture broke")
    teardown = _record(
        _report(when="setup"), _report(when="call"),
        _report(when="teardown", outcome="failed", longrepr=longrepr),
    )
    assert suite.classify(teardown) == (suite.FAILED, "error in teardown: RuntimeError: fixture broke")


def test_pass_skip_and_xfail():
    passed = _record(_report(when="setup"), _report(when="call"), _report(when="teardown"))
    assert suite.classify(passed) == (suite.PASSED, "")
    skipped = _record(
        _report(when="setup", outcome="skipped", longrepr=("f.py", 3, "Skipped: Set SKLEARN_X=1 to run")),
        _report(when="teardown"),
    )
    assert suite.classify(skipped) == (suite.SKIPPED, "Set SKLEARN_X=1 to run")
    xfailed = _record(
        _report(when="setup"),
        _report(when="call", outcome="skipped", longrepr=("f.py", 3, "xfail"), wasxfail="known bug"),
    )
    assert suite.classify(xfailed) == (suite.SKIPPED, "xfail: known bug")


def test_out_of_scope_wins_over_the_skip_that_carries_it():
    properties = [(plugin.SCOPE_PROPERTY, "MiniBatchKMeans")]
    record = _record(
        _report(when="setup", outcome="skipped", longrepr=("f.py", 3, "Skipped: out of scope for kmix: MiniBatchKMeans"),
                user_properties=properties),
        _report(when="teardown", user_properties=properties),
    )
    assert suite.classify(record) == (suite.OUT_OF_SCOPE, "MiniBatchKMeans")


def test_a_test_of_a_name_kmix_lacks_fails_even_when_it_passed():
    properties = [(plugin.LACKS_PROPERTY, "k_means")]
    record = _record(_report(when="setup", user_properties=properties), _report(when="call", user_properties=properties))
    assert suite.classify(record) == (suite.FAILED, "kmix lacks k_means")
    skipped = _record(
        _report(when="setup", outcome="skipped", longrepr=("f.py", 1, "Skipped: no"), user_properties=properties)
    )
    assert suite.classify(skipped)[0] == suite.SKIPPED


def test_summary_counts_and_table():
    sparse = _failure_repr(TypeError("sparse input is not supported"))
    verbose = _failure_repr(AttributeError("'KMeans' object has no attribute 'verbose'"))
    records = [
        _record(_report(outcome="failed", longrepr=sparse), nodeid=f"a/tests/test_k.py::test_sparse[{i}]")
        for i in range(4)
    ]
    records.append(_record(_report(outcome="failed", longrepr=verbose), nodeid="a/tests/test_k.py::test_verbose"))
    records.append(_record(_report(), nodeid="a/tests/test_k.py::test_ok"))
    records.append(_record(
        _report(outcome="skipped", longrepr=("f", 1, "Skipped: out"),
                user_properties=[(plugin.SCOPE_PROPERTY, f"{plugin.SCOPE_PRIVATE}: _labels_inertia")]),
        nodeid="a/tests/test_k.py::test_helper",
    ))
    summary = suite.summarise(records)
    assert summary.counts[suite.PASSED] == 1
    assert summary.counts[suite.FAILED] == 5
    assert summary.counts[suite.OUT_OF_SCOPE] == 1
    assert summary.applicable == 6
    assert summary.causes[suite.OUT_OF_SCOPE] == {
        plugin.SCOPE_PRIVATE: ["a/tests/test_k.py::test_helper (_labels_inertia)"]
    }

    lines = suite.format_summary(summary)
    text = "\n".join(lines)
    # Most frequent cause first, at most three examples each, ids without folders.
    assert text.index("TypeError: sparse input") < text.index("AttributeError")
    assert "test_k.py::test_sparse[2]" in text
    assert "test_k.py::test_sparse[3]" not in text
    assert "a/tests/" not in text
    assert lines[-1] == "applicable 6 = passed 1 + failed 5; out of scope 1; skipped 0"


# --------------------------------------------------------------------------- scope


SOURCE = '''
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.cluster._kmeans import _labels_inertia
from sklearn.utils._testing import assert_allclose

@pytest.mark.parametrize("Estimator", [KMeans, MiniBatchKMeans])
def test_dense(Estimator):
    if Estimator is MiniBatchKMeans:
        pass
    Estimator(n_clusters=2).fit(X)

def test_helper():
    from sklearn.mixture._gaussian_mixture import _estimate_log_gaussian_prob
    _labels_inertia(X, None, centers)

def test_mock(monkeypatch):
    monkeypatch.setattr(sklearn.mixture._gaussian_mixture, "_estimate_gaussian_parameters", mock)
    monkeypatch.setattr("sklearn.cluster._kmeans._labels_inertia", mock)
    GaussianMixture().fit(X)
'''


def _function_source(name):
    start = SOURCE.index(f"def {name}")
    end = SOURCE.find("\ndef ", start + 1)
    return SOURCE[start:] if end < 0 else SOURCE[start:end]


def test_names_used_in_body_leave_out_decorators():
    names = plugin.names_used_in_body('@mark.parametrize("E", [KMeans, MiniBatchKMeans])\n' + _function_source("test_dense"))
    assert {"Estimator", "MiniBatchKMeans", "fit"} <= names
    assert "KMeans" not in names
    assert "_estimate_log_gaussian_prob" in plugin.names_used_in_body(_function_source("test_helper"))


def test_private_helpers_of_module_are_estimator_helpers_only():
    assert plugin.private_helpers_of_module(SOURCE) == {"_labels_inertia", "_estimate_log_gaussian_prob"}


def test_patched_targets():
    assert plugin.patched_targets(_function_source("test_mock")) == {
        "sklearn.mixture._gaussian_mixture._estimate_gaussian_parameters",
        "sklearn.cluster._kmeans._labels_inertia",
    }


def test_scope_reason():
    helpers = plugin.private_helpers_of_module(SOURCE)
    dense = plugin.names_used_in_body(_function_source("test_dense"))
    assert plugin.scope_reason("t.py::test_dense[KMeans]", dense, {"KMeans"}, helpers) is None
    assert plugin.scope_reason("t.py::test_dense[MiniBatchKMeans]", dense, {"MiniBatchKMeans"}, helpers) == "MiniBatchKMeans"
    assert plugin.scope_reason("t.py::test_minibatch", {"MiniBatchKMeans", "fit"}, set(), helpers) == "MiniBatchKMeans"

    # Once kmix has its own MiniBatchKMeans, its tests are in scope as KMeans's are.
    assert plugin.scope_reason("t.py::test_dense[MiniBatchKMeans]", dense, {"MiniBatchKMeans"}, helpers,
                               mini_batch_in_scope=True) is None
    assert plugin.scope_reason("t.py::test_minibatch", {"MiniBatchKMeans", "fit"}, set(), helpers,
                               mini_batch_in_scope=True) is None
    assert plugin.scope_reason("t.py::test_step", {"_mini_batch_step"}, set(), {"_mini_batch_step"},
                               mini_batch_in_scope=True) == f"{plugin.SCOPE_PRIVATE}: _mini_batch_step"

    helper = plugin.names_used_in_body(_function_source("test_helper"))
    assert plugin.scope_reason("t.py::test_helper", helper, set(), helpers) == (
        f"{plugin.SCOPE_PRIVATE}: _estimate_log_gaussian_prob, _labels_inertia"
    )
    # A helper that computes a reference for kmix's estimator leaves the test in scope.
    assert plugin.scope_reason("t.py::test_ref", helper | {"GaussianMixture"}, set(), helpers) is None

    mock = _function_source("test_mock")
    reason = plugin.scope_reason(
        "t.py::test_mock", plugin.names_used_in_body(mock), set(), helpers, plugin.patched_targets(mock)
    )
    assert reason == f"{plugin.SCOPE_PRIVATE}: _estimate_gaussian_parameters, _labels_inertia (patched)"

    assert plugin.scope_reason("t.py::test_gmm_array_api_compliance[numpy]", {"GaussianMixture"}, set(), helpers) == (
        plugin.SCOPE_ARRAY_API
    )


# --------------------------------------------------------------------------- running


def test_pytest_arguments_isolate_the_configuration(tmp_path):
    package = tmp_path / "site-packages" / "sklearn"
    arguments = suite.pytest_arguments(package, tmp_path / "pytest.ini", [], 1, [])
    assert arguments[arguments.index("-c") + 1] == str(tmp_path / "pytest.ini")
    assert arguments[arguments.index("--rootdir") + 1] == str(package.parent)
    assert arguments[arguments.index("--confcutdir") + 1] == str(package.parent)
    assert "sklearn_suite_plugin" in arguments
    assert "-n" not in arguments
    assert arguments[-2:] == [str(package / relative) for relative in suite.SUITE_FILES]

    nodeid = "sklearn/cluster/tests/test_k_means.py::test_x[a-b]"
    rerun = suite.pytest_arguments(package, tmp_path / "pytest.ini", [nodeid], 2, ["-x"])
    assert rerun[-1] == str(package.parent / nodeid)
    assert rerun[rerun.index("-n") + 1] == "2"
    assert "-x" in rerun and "-v" in rerun


def test_rerun_command_quotes_the_node_id():
    command = suite.rerun_command("sklearn/cluster/tests/test_k_means.py::test_x[a b]")
    assert command.endswith("'sklearn/cluster/tests/test_k_means.py::test_x[a b]'")
    assert "sklearn_suite.py" in command
