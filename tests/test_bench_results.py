"""bench/RESULTS.md: `make bench` rewrites only the text between a section's
markers, so hand-kept notes must lie outside them."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"


def _sections(text: str) -> list[tuple[str, str]]:
    return re.findall(r"<!-- begin (.+?) -->\n(.*?)<!-- end \1 -->", text, re.S)


def test_every_marked_section_holds_only_what_its_module_writes() -> None:
    text = RESULTS.read_text()
    sections = _sections(text)
    assert len(sections) == text.count("<!-- begin ") == text.count("<!-- end ")
    for name, body in sections:
        assert body.startswith("## "), name
        assert "\n### " not in body, name


def _common():
    spec = importlib.util.spec_from_file_location("bench_common", ROOT / "bench" / "_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_writing_a_section_keeps_the_text_around_it(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text("# B\n\nnotes\n\n<!-- begin a -->\n## A\nold\n<!-- end a -->\n\n### kept\ntext\n")
    _common().write_section("a", "## A\nnew", path)
    assert path.read_text() == "# B\n\nnotes\n\n<!-- begin a -->\n## A\nnew\n<!-- end a -->\n### kept\ntext\n"


def test_writing_refuses_a_section_that_holds_hand_kept_text(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    before = "<!-- begin a -->\n### notes\nkept\n## A\nold\n<!-- end a -->\n"
    path.write_text(before)
    with pytest.raises(RuntimeError, match="section 'a' holds text"):
        _common().write_section("a", "## A\nnew", path)
    assert path.read_text() == before
