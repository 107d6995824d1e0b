"""``kmix qp``: files and inline lists in, x / λ / objective / active out, clean errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kmix.cli.main import main

M = np.array([[2.0, 0.0], [0.0, 3.0]])
h = np.array([1.0, 2.0])
b = np.array([1.0, 1.0])
# x₀ = (-1/4, -1/3); with c = 1.5 the constraint is active: λ = 5, x = (1, 1/2), objective 4.75


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["qp", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_inline_lists_text_output(capsys):
    code, out, err = run(capsys, "--M", "[[2, 0], [0, 3]]", "--h", "[1, 2]", "--b", "[1, 1]", "--c", "1.5")
    assert code == 0 and err == ""
    assert "x = [1, 0.5]" in out
    assert "objective = 4.75" in out
    lines = [line.split() for line in out.splitlines()]
    assert ["constraint", "lambda", "active"] in lines
    assert ["0", "5", "yes"] in lines
    assert "KKT residuals" in out


def test_npy_files_json_output(tmp_path, capsys):
    for name, value in {"M": M, "h": h, "b": b}.items():
        np.save(tmp_path / f"{name}.npy", value)
    code, out, err = run(
        capsys, "--M", str(tmp_path / "M.npy"), "--h", str(tmp_path / "h.npy"),
        "--b", str(tmp_path / "b.npy"), "--c", "1.5", "--json",
    )
    assert code == 0 and err == ""
    payload = json.loads(out)
    assert payload["x"] == pytest.approx([1.0, 0.5])
    assert payload["multiplier"] == pytest.approx(5.0)
    assert payload["objective"] == pytest.approx(4.75)
    assert payload["active"] is True
    assert payload["method"] == "closed form"
    assert set(payload["residuals"]) == {"stationarity", "primal_feasibility", "complementarity"}


def test_csv_and_txt_files_with_several_constraints(tmp_path, capsys):
    np.savetxt(tmp_path / "M.csv", M, delimiter=",")
    np.savetxt(tmp_path / "h.txt", h)  # one column
    np.savetxt(tmp_path / "B.csv", np.array([[1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]), delimiter=",")
    (tmp_path / "c.txt").write_text("1.5 0 -5\n")  # one row
    code, out, err = run(
        capsys, "--M", str(tmp_path / "M.csv"), "--h", str(tmp_path / "h.txt"),
        "--B", str(tmp_path / "B.csv"), "--c", str(tmp_path / "c.txt"), "--json",
    )
    assert code == 0, err
    payload = json.loads(out)
    assert payload["x"] == pytest.approx([1.0, 0.5])
    assert payload["multiplier"] == pytest.approx([5.0, 0.0, 0.0])
    assert payload["active"] == [True, False, False]
    assert payload["method"] == "dual active set"


def test_npz_key_and_equalities(tmp_path, capsys):
    np.savez(tmp_path / "data.npz", M=M, h=h)
    code, out, err = run(
        capsys, "--M", f"{tmp_path / 'data.npz'}:M", "--h", f"{tmp_path / 'data.npz'}:h",
        "--B", "[[1, 0]]", "--c", "-10", "--A-eq", "[[0, 1]]", "--b-eq", "2", "--json",
    )
    assert code == 0, err
    payload = json.loads(out)
    assert payload["x"][1] == pytest.approx(2.0)
    assert payload["equality_multiplier"] == pytest.approx([2 * 3 * 2.0 + 2.0])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--M", "[[2, 0], [0, 3]]", "--h", "[1, 2", "--b", "[1, 1]", "--c", "1"],
         r"^kmix: error: --h: cannot read '\[1, 2' as a list of numbers\n$"),
        (["--M", "[[2, 0], [0, 3]]", "--h", "missing.npy", "--b", "[1, 1]", "--c", "1"],
         r"^kmix: error: --h: 'missing.npy' is neither a number, a list .* nor an existing file\n$"),
        (["--M", "[[2, 1], [0, 3]]", "--h", "[1, 2]", "--b", "[1, 1]", "--c", "1"],
         r"^kmix: error: M is not symmetric"),
        (["--M", "[[1, 0], [0, -1]]", "--h", "[1, 2]", "--b", "[1, 1]", "--c", "1"],
         r"^kmix: error: M is not positive definite: its smallest eigenvalue is -1"),
        (["--M", "[[2, 0], [0, 3]]", "--h", "[1, 2, 3]", "--b", "[1, 1]", "--c", "1"],
         r"^kmix: error: h has 3 entries but M is 2 × 2"),
        (["--M", "[[2, 0], [0, 3]]", "--h", "[1, 2]", "--b", "[0, 0]", "--c", "1"],
         r"^kmix: error: b is zero and c = 1 > 0.*infeasible"),
        (["--M", "[[2, 0], [0, 3]]", "--h", "[1, 2]", "--b", "[1, 1]", "--c", "[1, 2]"],
         r"^kmix: error: --c '\[1, 2\]': expected a number, got an array of shape \(2,\)"),
        (["--M", "[[2, 0], [0, 3]]", "--h", "[1, NaN]", "--b", "[1, 1]", "--c", "1"],
         r"^kmix: error: h contains 1 NaN or inf value"),
        (["--M", "[[2, 0], [0, 3]]", "--h", "[1, 2]", "--B", "[[1, 0], [-1, 0]]", "--c", "[1, 1]"],
         r"^kmix: error: the constraints are infeasible"),
        (["--M", "[[2, 0], [0, 3]]", "--h", "[1, 2]", "--B", "[[1, 0]]", "--c", "1", "--A-eq", "[[1, 1]]"],
         r"^kmix: error: --A-eq and --b-eq go together"),
    ],
)
def test_bad_input_one_line_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert re.search(message, err), err


def test_bad_file_contents(tmp_path, capsys):
    (tmp_path / "M.csv").write_text("2,0\n0,abc\n")
    code, _, err = run(capsys, "--M", str(tmp_path / "M.csv"), "--h", "[1, 2]", "--b", "[1, 1]", "--c", "1")
    assert code == 2
    assert err.startswith("kmix: error: --M: ") and "line 2, column 2: cannot read 'abc'" in err
    (tmp_path / "M.dat").write_text("1 0\n0 1\n")
    code, _, err = run(capsys, "--M", str(tmp_path / "M.dat"), "--h", "[1, 2]", "--b", "[1, 1]", "--c", "1")
    assert code == 2 and "unknown extension '.dat'" in err


def exit_code(argv: list[str]) -> int:
    """main's return value, or argparse's SystemExit code where it exits."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_missing_option_is_an_argparse_error(capsys):
    assert exit_code(["qp", "--M", "[[1]]", "--h", "[1]", "--c", "1"]) == 2
    assert "one of the arguments --b --B is required" in capsys.readouterr().err


def test_help_has_an_example(capsys):
    assert exit_code(["qp", "--help"]) == 0
    assert "kmix qp --M M.npy --h h.npy --b b.npy --c 1.5" in capsys.readouterr().out


def test_installed_command_runs(tmp_path):
    executable = Path(sys.executable).with_name("kmix")
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "kmix"]
    completed = subprocess.run(
        [*command, "qp", "--M", "[[2, 0], [0, 3]]", "--h", "[1, 2]", "--b", "[1, 1]", "--c", "1.5", "--json"],
        capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["multiplier"] == pytest.approx(5.0)
    failed = subprocess.run(
        [*command, "qp", "--M", "[[1, 0], [0, -1]]", "--h", "[1, 2]", "--b", "[1, 1]", "--c", "1"],
        capture_output=True, text=True, timeout=600,
    )
    assert failed.returncode == 2
    assert failed.stderr.startswith("kmix: error: M is not positive definite")
    assert failed.stderr.count("\n") == 1
