"""Option values that start with "-": negative numbers in every form float() reads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kmix import solve_qp
from kmix.cli.main import build_parser, main

QP = ["qp", "--M", "[[2,0],[0,3]]", "--h", "[1,2]", "--b", "[1,1]"]

NEGATIVE_NUMBERS = [
    ("-1e5", -1e5),
    ("-1E+5", -1e5),
    ("-1.5e-3", -1.5e-3),
    ("-.5", -0.5),
    ("-5.", -5.0),
    ("-5", -5.0),
    ("-2.5", -2.5),
    ("-1_000", -1000.0),
]


def run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("text, value", NEGATIVE_NUMBERS)
def test_negative_number_is_a_value_of_the_qp_options(text, value, capsys):
    status, out, err = run(QP + ["--c", text, "--json"], capsys)
    assert (status, err) == (0, "")
    expected = solve_qp(np.diag([2.0, 3.0]), [1.0, 2.0], [1.0, 1.0], value)
    result = json.loads(out)
    np.testing.assert_allclose(result["x"], expected.x, rtol=1e-15)
    assert result["multiplier"] == expected.multiplier


@pytest.mark.parametrize("text", ["-inf", "-Infinity", "-INF", "-nan"])
def test_infinite_and_nan_values_reach_the_check_that_refuses_them(text, capsys):
    status, out, err = run(QP + ["--c", text], capsys)
    assert status == 2 and out == ""
    assert err.startswith("kmix: error: c must be finite")
    assert "expected one argument" not in err


def test_a_vector_operand_may_start_with_a_negative_number(capsys):
    status, out, err = run(
        ["qp", "--M", "[[2,0],[0,3]]", "--h", "-1,2", "--b", "[1,1]", "--c", "-1e5"], capsys
    )
    assert (status, err) == (0, "")
    expected = solve_qp(np.diag([2.0, 3.0]), [-1.0, 2.0], [1.0, 1.0], -1e5)
    assert out.startswith(f"x = [{expected.x[0]:.10g}, {expected.x[1]:.10g}]")


@pytest.mark.parametrize("text, value", NEGATIVE_NUMBERS + [("-inf", -np.inf)])
def test_the_parser_and_its_subparsers_read_every_form(text, value):
    parser = build_parser()
    args = parser.parse_args(QP + ["--c", text, "--A-eq", "[[1,1]]", "--b-eq", text])
    assert args.c == text and args.b_eq == text and float(text) == value


def test_negative_cluster_count_names_the_allowed_range(capsys):
    status, out, err = run(["kmeans", "samples_3", "-k", "-3"], capsys)
    assert status == 2 and out == ""
    assert "expected a number >= 1, got -3" in err
    assert "expected one argument" not in err


def test_negative_cluster_count_in_exponent_form_is_a_value_too(capsys):
    status, _, err = run(["kmeans", "samples_3", "-k", "-3e0"], capsys)
    assert status == 2
    assert "expected a whole number, got '-3e0'" in err


@pytest.mark.parametrize("text", ["-x", "-e5", "--c", "-1e", "-1e5x", "-.e5"])
def test_tokens_that_are_not_numbers_are_still_options(text, capsys):
    status, _, err = run(QP + ["--c", text], capsys)
    assert status == 2
    assert err.startswith("kmix: error: qp: ")
