"""pytest plugin that points scikit-learn's own estimator tests at kmix.

Loaded with ``-p sklearn_suite_plugin`` by ``tools/sklearn_suite.py`` (in every
pytest-xdist worker too, which is why it is a module and not an object). After
collection it

* rebinds ``KMeans``, ``MiniBatchKMeans``, ``k_means``, ``kmeans_plusplus`` and
  ``GaussianMixture`` in the namespace of each collected test module to kmix's objects, where kmix has them,
  and does the same for parametrize values that are scikit-learn's objects
  (``@pytest.mark.parametrize("Estimator", [KMeans, MiniBatchKMeans])`` captured
  scikit-learn's class when the module was imported). scikit-learn's own modules
  are left alone, so its internals keep their own classes;
* marks the tests that are out of scope (scikit-learn's private helpers, array-API
  dispatch, and MiniBatchKMeans where kmix lacks it) to be skipped without running, and records why in
  ``user_properties``, which reach the controlling process even under xdist;
* records, also in ``user_properties``, which substituted names kmix still lacks,
  so that a test which can only have exercised scikit-learn is not counted as kmix
  passing it.

The pure decisions (:func:`scope_reason`, :func:`names_used_in_body`,
:func:`private_helpers_of_module`) take plain values, so they can be tested without
running scikit-learn's suite.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Iterable

import pytest

#: The names a test module may import from scikit-learn that kmix is meant to replace.
SUBSTITUTED_NAMES = ("KMeans", "MiniBatchKMeans", "k_means", "kmeans_plusplus", "GaussianMixture")

#: The estimator that is out of scope unless kmix has it (``mini_batch_in_scope``).
MINI_BATCH_NAME = "MiniBatchKMeans"

#: scikit-learn packages whose private (underscored) functions are implementation
#: details of the estimators, not part of what a drop-in has to reproduce.
PRIVATE_HELPER_PACKAGES = ("sklearn.cluster", "sklearn.mixture")

#: Keys of the ``user_properties`` entries this plugin writes.
SCOPE_PROPERTY = "kmix_suite_out_of_scope"
LACKS_PROPERTY = "kmix_suite_kmix_lacks"

#: Prefix of the skip reason given to out-of-scope tests.
SKIP_PREFIX = "out of scope for kmix: "

# Categories of out-of-scope tests, as the report groups them.
SCOPE_MINI_BATCH = "MiniBatchKMeans"
SCOPE_PRIVATE = "scikit-learn private helper"
SCOPE_ARRAY_API = "array-API dispatch"


def names_used_in_body(source: str) -> set[str]:
    """Names and attribute names a function's body refers to, decorators excluded.

    Parameters
    ----------
    source : str
        Source of one function (or method), possibly indented.

    Returns
    -------
    set of str
        Every ``Name`` id, every attribute name and every name imported inside the
        body. Decorators are left out on purpose: ``parametrize("Estimator",
        [KMeans, MiniBatchKMeans])`` names both classes for every parametrization,
        and which one a given test uses is read from its parameters instead.
    """
    tree = ast.parse(textwrap.dedent(source))
    function = next(
        (node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))),
        None,
    )
    if function is None:
        return set()
    names: set[str] = set()
    for statement in function.body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.ImportFrom):
                names.update(alias.asname or alias.name for alias in node.names)
    return names


def _dotted_name(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attribute accesses on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def patched_targets(source: str) -> set[str]:
    """Dotted names a function's body replaces with ``setattr`` or ``mock.patch``.

    Recognises ``monkeypatch.setattr(module, "name", value)``,
    ``monkeypatch.setattr("package.module.name", value)``, ``patch("...")`` and
    ``patch.object(module, "name")``; the target is returned as written, for
    instance ``sklearn.mixture._gaussian_mixture._estimate_gaussian_parameters``.
    """
    targets: set[str] = set()
    for node in ast.walk(ast.parse(textwrap.dedent(source))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        function = node.func
        called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
        if called not in {"setattr", "patch", "object"}:
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            targets.add(first.value)
            continue
        owner = _dotted_name(first)
        if owner is None or len(node.args) < 2:
            continue
        attribute = node.args[1]
        if isinstance(attribute, ast.Constant) and isinstance(attribute.value, str):
            targets.add(f"{owner}.{attribute.value}")
    return targets


def private_helpers_of_module(source: str) -> set[str]:
    """Underscored names a test module imports from scikit-learn's estimator packages.

    Imports inside functions count too (``from sklearn.mixture._gaussian_mixture
    import _estimate_log_gaussian_prob`` in a test body). Underscored test utilities
    from elsewhere (``sklearn.utils._testing``) are not helpers of the estimators and
    are not returned.
    """
    helpers: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or node.module is None:
            continue
        if not node.module.startswith(PRIVATE_HELPER_PACKAGES):
            continue
        for alias in node.names:
            if alias.name.startswith("_"):
                helpers.add(alias.asname or alias.name)
    return helpers


def scope_reason(
    nodeid: str,
    body_names: Iterable[str],
    parameter_names: Iterable[str],
    private_helpers: Iterable[str],
    patched: Iterable[str] = (),
    mini_batch_in_scope: bool = False,
) -> str | None:
    """Why a test is out of scope, or None when it is a test kmix should pass.

    Parameters
    ----------
    nodeid : str
        pytest's node id of the test.
    body_names : iterable of str
        Names the test's body uses (:func:`names_used_in_body`).
    parameter_names : iterable of str
        Names of the scikit-learn objects among the test's parameters, for instance
        ``{"MiniBatchKMeans"}`` for ``test_dense_sparse[MiniBatchKMeans]``.
    private_helpers : iterable of str
        The private helpers its module imports (:func:`private_helpers_of_module`).
    patched : iterable of str
        Dotted names the test's body patches (:func:`patched_targets`).
    mini_batch_in_scope : bool
        kmix has its own MiniBatchKMeans: tests of it are in scope, as those of
        KMeans are (the plugin passes True when ``kmix.MiniBatchKMeans`` exists).

    Returns
    -------
    str or None
        ``"<category>"`` or ``"<category>: <detail>"``, the category being one of
        MiniBatchKMeans, scikit-learn private helper, array-API dispatch.

    Notes
    -----
    A test that uses kmix's estimator and, besides, a private helper (to compute a
    reference value, or as a mock target) stays in scope: the estimator is what it
    tests. A test that uses no estimator of kmix's is a test of the helper. A test
    that patches one of scikit-learn's private helpers checks how scikit-learn's
    estimator is built (which helper it calls, how often), not what it computes.
    """
    if "array_api" in nodeid:
        return SCOPE_ARRAY_API
    body = set(body_names)
    parameters = set(parameter_names)
    if MINI_BATCH_NAME in parameters and not mini_batch_in_scope:
        return SCOPE_MINI_BATCH
    patched_helpers = sorted(
        target.rsplit(".", 1)[-1]
        for target in patched
        if target.startswith(PRIVATE_HELPER_PACKAGES) and target.rsplit(".", 1)[-1].startswith("_")
    )
    if patched_helpers:
        return f"{SCOPE_PRIVATE}: {', '.join(patched_helpers)} (patched)"
    estimators = set(SUBSTITUTED_NAMES) - (set() if mini_batch_in_scope else {MINI_BATCH_NAME})
    uses_estimator = bool((body | parameters) & estimators)
    if uses_estimator:
        return None
    if MINI_BATCH_NAME in body and not mini_batch_in_scope:
        return SCOPE_MINI_BATCH
    helpers = sorted(body & set(private_helpers))
    if helpers:
        return f"{SCOPE_PRIVATE}: {', '.join(helpers)}"
    return None


def _kmix_objects() -> dict[str, object]:
    """kmix's replacements for :data:`SUBSTITUTED_NAMES`, for those it has."""
    import kmix

    replacements = {}
    for name in SUBSTITUTED_NAMES:
        replacement = getattr(kmix, name, None)
        if replacement is not None:
            replacements[name] = replacement
    return replacements


def _sklearn_objects() -> dict[int, tuple[str, object]]:
    """scikit-learn's public cluster and mixture objects, by identity."""
    import sklearn.cluster
    import sklearn.mixture

    objects: dict[int, tuple[str, object]] = {}
    for package in (sklearn.cluster, sklearn.mixture):
        for name in getattr(package, "__all__", dir(package)):
            value = getattr(package, name, None)
            if value is not None:
                objects[id(value)] = (name, value)
    return objects


@functools.lru_cache(maxsize=None)
def _module_private_helpers(module_file: str) -> frozenset[str]:
    with open(module_file, encoding="utf-8") as handle:
        return frozenset(private_helpers_of_module(handle.read()))


@functools.lru_cache(maxsize=None)
def _function_facts(function: object) -> tuple[frozenset[str], frozenset[str]]:
    """The names a test function's body uses and the targets it patches."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return frozenset(), frozenset()
    return frozenset(names_used_in_body(source)), frozenset(patched_targets(source))


def pytest_configure(config: pytest.Config) -> None:
    try:
        _kmix_objects()
    except Exception as error:  # noqa: BLE001 - any import failure stops the run the same way
        raise pytest.UsageError(f"kmix could not be imported: {type(error).__name__}: {error}") from error


def _patch_module(module: object, replacements: dict[str, object], sklearn_objects: dict[int, tuple[str, object]]) -> None:
    namespace = vars(module)
    for name, replacement in replacements.items():
        current = namespace.get(name)
        # Only a name that is scikit-learn's object is rebound: a module collected
        # twice, or one that defines its own KMeans, is left as it is.
        if current is not None and id(current) in sklearn_objects:
            namespace[name] = replacement


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    replacements = _kmix_objects()
    sklearn_objects = _sklearn_objects()
    patched_modules: set[int] = set()
    for item in items:
        module = getattr(item, "module", None)
        function = getattr(item, "function", None)
        if module is None or function is None:
            continue
        if id(module) not in patched_modules:
            _patch_module(module, replacements, sklearn_objects)
            patched_modules.add(id(module))

        parameter_names = set()
        callspec = getattr(item, "callspec", None)
        if callspec is not None:
            for argname, value in list(callspec.params.items()):
                known = sklearn_objects.get(id(value))
                if known is None:
                    continue
                name = known[0]
                parameter_names.add(name)
                if name in replacements:
                    callspec.params[argname] = replacements[name]

        body_names, patched = _function_facts(function)
        helpers = _module_private_helpers(module.__file__) if getattr(module, "__file__", None) else frozenset()
        reason = scope_reason(item.nodeid, body_names, parameter_names, helpers, patched,
                              mini_batch_in_scope=MINI_BATCH_NAME in replacements)
        if reason is not None:
            item.user_properties.append((SCOPE_PROPERTY, reason))
            item.add_marker(pytest.mark.skip(reason=SKIP_PREFIX + reason))
            continue
        lacking = sorted(
            name for name in (set(body_names) | parameter_names) & set(SUBSTITUTED_NAMES) if name not in replacements
        )
        if lacking:
            item.user_properties.append((LACKS_PROPERTY, ", ".join(lacking)))
