"""Every example in README.md and docs/*.md runs as written.

How each block runs (``tests/docs_blocks.py`` finds them; one test per block, named
by its file, number and line):

- ```python blocks of one file run in order in one namespace, in one fresh
  interpreter in a temporary folder with MPLBACKEND=Agg, as a reader going down the
  page would: a block may use what an earlier block of its file defined (README's
  Gaussian-mixture section uses the ``kmix`` its k-means section imported). A block
  fails on an exception or on a warning other than a deprecation; the blocks after
  a failed one are skipped, naming it.
- A python block that works on a dask array runs alone, saved as ``example.py`` and
  run with ``python example.py``, as a user would. kmix starts its own dask cluster
  there; README's example has no ``if __name__ == "__main__":`` guard, so it also
  checks that the cluster's worker processes do not run the script again.
- ```console, ```bash and ```sh blocks: every ``kmix`` command line runs as a
  subprocess of this environment's ``kmix`` in a temporary folder (one per block)
  and must exit with status 0. Lines that are not commands are output shown in the
  docs and are ignored. A command that cannot run in a test is skipped only by a rule
  of SKIPPED_COMMANDS, which gives the reason; any other command fails the test.

``test_readme_options_match_help`` checks that the README names every option of
every command, and the same choices, as the command's ``--help``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time

import pytest

from .docs_blocks import ROOT, Block, all_blocks, commands, run_as_script, run_in_one_namespace, run_kmix_line

# Generous: the first run after installing compiles kmix's passes.
TIMEOUT = 600

# (pattern of a command line, why it is not run here)
SKIPPED_COMMANDS = [
    (r"^make demo\b", "creates .venv and installs kmix into it (pip, network); the fitting it does is "
                      "`kmix demo`, which README's command-line block runs"),
    (r"^make test\b", "runs the whole test suite, this test included"),
    (r"^(pip|pip3|python3? -m pip) install\b", "changes the environment and needs the network"),
    (r"^(sudo )?apt(-get)? ", "installs system packages: needs root and the network"),
]

BLOCKS = all_blocks()


def _block_id(block: Block) -> str:
    return f"{block.document.relative_to(ROOT)}-{block.number}-{block.language}-L{block.line}"


def _blocks(language: str) -> list:
    return [pytest.param(block, id=_block_id(block)) for block in BLOCKS if block.language == language]


# --- python ------------------------------------------------------------------------

_outcomes: dict = {}  # document -> (blocks run in one namespace, their outcomes, output)


def _namespace_run(document, tmp_path_factory):
    """The python blocks of ``document`` that share a namespace, run once per test
    run: with pytest-xdist, the first worker to need them runs them in a folder all
    workers share, and the others wait for its outcomes."""
    if document not in _outcomes:
        chain = [block for block in BLOCKS
                 if block.document == document and block.language == "python" and not block.uses_dask]
        if "PYTEST_XDIST_WORKER" not in os.environ:
            run = run_in_one_namespace(chain, tmp_path_factory.mktemp(document.stem), TIMEOUT)
        else:
            folder = tmp_path_factory.getbasetemp().parent / f"docs-{document.stem}"
            report = folder.with_suffix(".json")
            try:
                folder.mkdir()  # atomic: only one worker gets past it
            except FileExistsError:
                waited = time.monotonic()
                while not report.exists() and time.monotonic() - waited < TIMEOUT:
                    time.sleep(0.2)
            else:
                written = folder.with_suffix(".partial")
                written.write_text(json.dumps(run_in_one_namespace(chain, folder, TIMEOUT)), encoding="utf-8")
                os.replace(written, report)
            run = json.loads(report.read_text(encoding="utf-8")) if report.exists() else ([], "not run: timed out")
        _outcomes[document] = (chain, *run)
    return _outcomes[document]


@pytest.mark.parametrize("block", _blocks("python"))
def test_python_block(block, tmp_path, tmp_path_factory):
    if block.uses_dask:
        pytest.importorskip("distributed", reason="the dask examples need kmix[dask]")
        done = run_as_script(block, tmp_path, TIMEOUT)
        assert done.returncode == 0, (
            f"{block.name}, run as a script, exited with status {done.returncode}:\n{done.stdout}{done.stderr}"
        )
        return
    chain, outcomes, output = _namespace_run(block.document, tmp_path_factory)
    position = chain.index(block)
    if position >= len(outcomes):
        failed = [chain[i].name for i, outcome in enumerate(outcomes) if outcome["status"] == "failed"]
        if failed:
            pytest.skip(f"not run: {failed[0]} failed first, and this block continues it")
        pytest.fail(f"{block.name} did not finish:\n{output}")
    outcome = outcomes[position]
    assert outcome["status"] == "ok", f"{block.name} {outcome['status']}:\n{outcome['detail']}"


# --- shell -------------------------------------------------------------------------

def _skip_reason(line: str) -> str | None:
    for pattern, reason in SKIPPED_COMMANDS:
        if re.search(pattern, line):
            return reason
    return None


@pytest.mark.parametrize("block", _blocks("shell"))
def test_shell_block(block, tmp_path):
    lines = commands(block)
    assert lines, f"{block.name} has no command line"
    skipped = [(line.split("#")[0].strip(), _skip_reason(line)) for line in lines if _skip_reason(line)]
    for line in lines:
        if _skip_reason(line):
            continue
        assert line.split()[0] == "kmix", (
            f"{block.name}: no rule runs `{line}`; run it here or add a rule to SKIPPED_COMMANDS with its reason"
        )
        done = run_kmix_line(line, tmp_path, TIMEOUT)
        assert done.returncode == 0, (
            f"{block.name}: `{line}` exited with status {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    for line, reason in skipped:
        print(f"not run: `{line}`: {reason}")
    if len(skipped) == len(lines):
        pytest.skip("; ".join(f"`{line}`: {reason}" for line, reason in skipped))


# --- the dask trap -----------------------------------------------------------------

def test_unguarded_script_runs_once_on_kmix_cluster(tmp_path):
    """A script without the ``__main__`` guard that fits on a dask array runs its top
    level once: the workers of the cluster kmix starts do not run it again (spawn
    would, and each worker's own fit would then fail as "Nanny failed to start")."""
    pytest.importorskip("distributed", reason="the dask cluster needs kmix[dask]")
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent("""\
        import dask.array as da
        import numpy as np
        import kmix

        with open("runs.txt", "a") as log:
            print("ran", file=log)
        X = da.from_array(np.random.default_rng(0).normal(size=(2_000, 2)), chunks=500)
        kmix.KMeans(3, random_state=0, max_iter=3).fit(X)
    """))
    done = subprocess.run([sys.executable, script.name], cwd=tmp_path, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "runs.txt").read_text() == "ran\n"


# --- README's option lists -----------------------------------------------------------

_FLAG = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")
_CHOICES = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)\s+\{([^}]*)\}")


def _help(*words: str) -> str:
    from kmix.cli.main import build_parser

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        build_parser().parse_args([*words, "--help"])
    return out.getvalue()


def _commands() -> list[str]:
    """Every command, with the actions of a command that has them ("data info")."""
    from kmix.cli.main import COMMANDS

    found = []
    for name in COMMANDS:
        text = _help(name)
        actions = re.search(r"^  ACTION\n((?:    \S.*\n)+)", text, re.MULTILINE)
        if actions:
            found += [f"{name} {line.split()[0]}" for line in actions.group(1).splitlines()]
        else:
            found.append(name)
    return found


def _readme_mentions(command: str) -> str:
    """README's inline code and command lines that start with ``kmix COMMAND``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    inline = re.findall(r"`([^`]+)`", re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE))
    lines = [line.strip().removeprefix("$ ") for body in fenced for line in body.splitlines()]
    spans = [" ".join(span.split()) for span in inline] + lines
    return "\n".join(span for span in spans if re.match(rf"kmix {re.escape(command)}(\s|$)", span))


@pytest.mark.parametrize("command", _commands())
def test_readme_options_match_help(command):
    usage = _help(*command.split()).split("\n\n")[0]
    mentions = _readme_mentions(command)
    assert mentions, f"README.md never shows `kmix {command}`"
    options = set(_FLAG.findall(usage)) - {"-h", "--help"}
    shown = set(_FLAG.findall(mentions)) - {"-h", "--help"}
    assert options <= shown, f"README.md does not show these options of `kmix {command}`: {sorted(options - shown)}"
    assert shown <= options, f"README.md shows options `kmix {command}` does not have: {sorted(shown - options)}"
    for flag, choices in _CHOICES.findall(usage):
        listed = [set(found.split(",")) for name, found in _CHOICES.findall(mentions) if name == flag]
        assert listed, f"README.md does not list the choices of `kmix {command} {flag}`: {{{choices}}}"
        for found in listed:
            assert found == set(choices.split(",")), (
                f"README.md lists {sorted(found)} for `kmix {command} {flag}`; --help offers {{{choices}}}"
            )
