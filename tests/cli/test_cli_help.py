"""What ``--help`` says: defaults stated, options in their groups, descriptions
wrapped to the terminal, the truth about --float32; and ``kmix data list``'s
table."""

from __future__ import annotations

import pytest

from kmix import datasets
from kmix.cli.main import main


def help_of(capsys, monkeypatch, *command: str, columns: int = 80) -> str:
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main([*command, "--help"]) == 0
    return capsys.readouterr().out


def flat(text: str) -> str:
    """The help as one line: argparse wraps option texts where it likes."""
    return " ".join(text.split())


def section(text: str, title: str) -> str:
    """The lines of one argument group of a help text, its title line first."""
    lines = text.splitlines()
    start = lines.index(f"{title}:")
    end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i][0].isspace()),
               len(lines))
    return "\n".join(lines[start:end])


@pytest.mark.parametrize("command", [["kmeans"], ["gmm"], ["select"]])
def test_seed_help_states_the_default(capsys, monkeypatch, command):
    text = flat(help_of(capsys, monkeypatch, *command))
    assert "--seed SEED" in text
    assert "(default: none, a different start each run)" in text or \
        "(default: none, different starts each run; --init hc with one start draws nothing)" in text


@pytest.mark.parametrize("command, own", [("kmeans", "--half-steps"), ("gmm", "--animate-style")])
def test_animation_options_are_in_the_animation_group(capsys, monkeypatch, command, own):
    text = help_of(capsys, monkeypatch, command, columns=120)
    animation = section(text, "animation")
    for option in ("--animate GIF", "--fps FPS", "--max-frames N", own):
        assert option in animation
    assert own not in section(text, "options")
    assert "(N >= 2)" in flat(animation)


@pytest.mark.parametrize("command", [["qp"], ["demo"], ["select"], ["kmeans"]])
@pytest.mark.parametrize("columns", [60, 80])
def test_descriptions_are_wrapped_to_the_terminal(capsys, monkeypatch, command, columns):
    text = help_of(capsys, monkeypatch, *command, columns=columns)
    description = text.split("\n\n")[1]
    if command[0] in ("qp", "demo"):  # each more than a line long
        assert len(description.splitlines()) > 1
    assert all(len(line) <= columns - 2 for line in description.splitlines()), description


def test_example_commands_are_kept_whole_in_a_narrow_terminal(capsys, monkeypatch):
    text = help_of(capsys, monkeypatch, "qp", columns=40)
    assert '  kmix qp --M "[[2, 0], [0, 3]]" --h "[1, 2]" --b "[1, 1]" --c 1.5 --json\n' in text
    # The prose after the examples is wrapped all the same.
    assert all(len(line) <= 38 for line in text.split("examples:")[1].split("\n\n", 1)[1].splitlines())


@pytest.mark.parametrize("command, stored", [("kmeans", "the centres"), ("gmm", "the fitted parameters")])
def test_float32_help_says_what_is_float32_and_what_float64(capsys, monkeypatch, command, stored):
    text = flat(help_of(capsys, monkeypatch, command))
    assert "single precision" not in text
    assert f"--float32 store the data and {stored} as float32 (half the memory)" in text
    assert "in float64" in text


def test_data_list_aligns_the_descriptions_left(capsys):
    assert main(["data", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, rows = lines[0], lines[2:]
    column = header.index("description")
    assert header.startswith("name")
    assert [row[:column].rstrip() for row in rows] == list(datasets.names())
    assert [row[column:] for row in rows] == list(datasets.names().values())
