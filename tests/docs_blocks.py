"""The code blocks of README.md and docs/*.md, and how each kind is run.

Used by ``tests/test_docs_examples.py``; not a test module itself. A block is a
fenced ```python, ```console, ```bash or ```sh block; other fences (diagrams, plain
text) are not code to run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LANGUAGES = {"python": "python", "console": "shell", "bash": "shell", "sh": "shell"}

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([\w+-]*)")


class Block(NamedTuple):
    document: Path
    number: int  # 1, 2, ... among the document's python and shell blocks, in order
    language: str  # "python" or "shell"
    line: int  # of the opening fence, 1-based
    source: str

    @property
    def name(self) -> str:
        return f"{self.document.relative_to(ROOT)}, block {self.number} (line {self.line})"

    @property
    def uses_dask(self) -> bool:
        """A python block that works on a dask array: run alone, saved as a script."""
        return self.language == "python" and re.search(r"\bdask\b|\bdistributed\b|chunks=|client=", self.source) is not None


def blocks(document: Path) -> list[Block]:
    """The python and shell blocks of one markdown file, in order."""
    found: list[Block] = []
    lines = document.read_text(encoding="utf-8").splitlines()
    fence = None
    for number, text in enumerate(lines, start=1):
        match = _FENCE.match(text)
        if fence is None:
            if match:
                fence, language, start, body = match.group(1), match.group(2).lower(), number, []
        elif match and match.group(1).startswith(fence) and not match.group(2):
            if language in LANGUAGES:
                found.append(Block(document, len(found) + 1, LANGUAGES[language], start, "\n".join(body) + "\n"))
            fence = None
        else:
            body.append(text)
    return found


def all_blocks() -> list[Block]:
    return [block for document in DOCUMENTS for block in blocks(document)]


# --- shell blocks -----------------------------------------------------------------

# The first word of a line that is a command in a block without "$ " prompts; any
# other line there is output shown in the docs.
PROGRAMS = {"kmix", "make", "pip", "pip3", "python", "python3", "apt-get", "apt", "sudo", "git", "cd", "export"}


def commands(block: Block) -> list[str]:
    """The command lines of a shell block. With "$ " prompts, the prompted lines;
    without, the lines that start with a program named in PROGRAMS."""
    lines = [line.strip() for line in block.source.splitlines() if line.strip()]
    if any(line.startswith("$ ") for line in lines):
        return [line[2:].strip() for line in lines if line.startswith("$ ")]
    return [line for line in lines if line.split()[0] in PROGRAMS]


def kmix_command() -> list[str]:
    """This environment's ``kmix``: the entry point beside the interpreter, else ``python -m kmix``."""
    script = Path(sys.executable).with_name("kmix")
    return [str(script)] if script.exists() else [sys.executable, "-m", "kmix"]


def example_environment() -> dict[str, str]:
    return {**os.environ, "MPLBACKEND": "Agg"}


def run_kmix_line(line: str, folder: Path, timeout: float) -> subprocess.CompletedProcess:
    """One ``kmix ...`` line of a shell block, as a subprocess in ``folder``."""
    words = shlex.split(line, comments=True)
    return subprocess.run(kmix_command() + words[1:], cwd=folder, env=example_environment(),
                          capture_output=True, text=True, timeout=timeout)


# --- python blocks ----------------------------------------------------------------

# Runs the blocks of one file in order in one namespace, as a reader going down the
# page would, writing each block's outcome as soon as it is known. A warning other
# than a deprecation counts against the block: an example should run clean.
_DRIVER = r"""
import json, linecache, sys, traceback, warnings
blocks = json.load(open(sys.argv[1], encoding="utf-8"))
namespace = {"__name__": "__main__"}
results = []
for name, source in blocks:
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exec(compile(source, name, "exec"), namespace)
            failure = None
        except BaseException:
            failure = traceback.format_exc()
    shown = [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught
             if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
    if failure is not None:
        results.append({"status": "failed", "detail": failure})
    else:
        results.append({"status": "warned" if shown else "ok", "detail": "\n".join(shown)})
    with open(sys.argv[2], "w", encoding="utf-8") as out:
        json.dump(results, out)
    if results[-1]["status"] == "failed":
        break
"""


def run_in_one_namespace(chain: list[Block], folder: Path, timeout: float) -> tuple[list[dict], str]:
    """Run ``chain`` in order in one fresh interpreter in ``folder``. Returns one
    outcome per block that ran ({"status": "ok" | "warned" | "failed", "detail"})
    and the interpreter's output (for a crash or a timeout)."""
    listing, results = folder / ".blocks.json", folder / ".results.json"
    listing.write_text(json.dumps([[block.name, block.source] for block in chain]), encoding="utf-8")
    try:
        done = subprocess.run([sys.executable, "-c", _DRIVER, str(listing), str(results)], cwd=folder,
                              env=example_environment(), capture_output=True, text=True, timeout=timeout)
        output = done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        output = f"timed out after {timeout:.0f} s\n{expired.stdout or ''}{expired.stderr or ''}"
    outcomes = json.loads(results.read_text(encoding="utf-8")) if results.exists() else []
    return outcomes, output


def run_as_script(block: Block, folder: Path, timeout: float) -> subprocess.CompletedProcess:
    """A python block saved as ``example.py`` and run with ``python example.py``."""
    script = folder / "example.py"
    script.write_text(block.source, encoding="utf-8")
    return subprocess.run([sys.executable, script.name], cwd=folder, env=example_environment(),
                          capture_output=True, text=True, timeout=timeout)
