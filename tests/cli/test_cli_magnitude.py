"""The command line on data whose squares would overflow: one clear line, or a
finite report; never nan or inf."""

import re

import numpy as np
import pytest

from kmix.cli.main import main

NONFINITE = re.compile(r"(?<![\w.])[-+]?(nan|inf)(?![\w])", re.IGNORECASE)


@pytest.fixture
def points(tmp_path):
    rng = np.random.default_rng(3)
    return np.concatenate([c + rng.normal(size=(30, 2)) for c in ([0, 0], [8, 0], [0, 8])])


@pytest.mark.parametrize("command", ["kmeans", "gmm"])
def test_float64_data_too_large_is_one_line_saying_how_to_rescale(capsys, tmp_path, points, command):
    path = tmp_path / "huge.npy"
    np.save(path, points * 1e200)
    code = main([command, str(path), "-k", "3", "--seed", "0", "--out", str(tmp_path / "r.npz")])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"kmix: error: {path}: has values as large as 1.02e+201")
    assert "Divide the data by a constant (for example 1e202)" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.npy"]


@pytest.mark.parametrize("command", ["kmeans", "gmm"])
def test_float32_data_beyond_float32_squares_is_fitted(capsys, tmp_path, points, command):
    path = tmp_path / "large.npy"
    np.save(path, (points * 1e20).astype(np.float32))
    code = main([command, str(path), "-k", "3", "--seed", "0", "--float32"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert not NONFINITE.search(out), out
    assert "e+20" in out  # the centres or means, at the data's scale


def test_data_info_describes_huge_values_with_finite_numbers(capsys, tmp_path, points):
    path = tmp_path / "huge.npy"
    X = points * 1e306
    np.save(path, X)
    assert main(["data", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert not NONFINITE.search(out), out
    std = float(out.splitlines()[3].split()[2])
    assert std == pytest.approx(float(np.std(X[:, 0] / 1e300) * 1e300), rel=1e-5)
