"""kmix.load_data: every way a data file can be wrong gives a DataError naming it."""

import numpy as np
import pytest

import kmix
from kmix import DataError, load_data


def test_npy_roundtrip_is_c_contiguous_float(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.asfortranarray(np.arange(12, dtype=np.int32).reshape(4, 3)))
    X = load_data(path)
    assert X.dtype == np.float64 and X.flags.c_contiguous
    np.testing.assert_array_equal(X, np.arange(12).reshape(4, 3))
    assert load_data(path, dtype=np.float32).dtype == np.float32


def test_npz_single_array_and_key(tmp_path):
    path = tmp_path / "one.npz"
    np.savez(path, data=np.ones((3, 2)))
    assert load_data(path).shape == (3, 2)
    several = tmp_path / "two.npz"
    np.savez(several, a=np.ones((3, 2)), b=np.zeros((5, 4)))
    assert load_data(f"{several}:b").shape == (5, 4)


def test_csv_with_header_and_tsv_and_txt(tmp_path):
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n1,2\n3,4.5\n")
    np.testing.assert_array_equal(load_data(csv), [[1, 2], [3, 4.5]])
    tsv = tmp_path / "x.tsv"
    tsv.write_text("1\t2\n3\t4\n")
    assert load_data(tsv).shape == (2, 2)
    txt = tmp_path / "x.txt"
    txt.write_text("1 2 3\n4 5 6\n")
    assert load_data(txt).shape == (2, 3)


def test_bundled_dataset_by_name():
    X = load_data("samples_3")
    assert X.shape == (500, 2)
    np.testing.assert_array_equal(X, kmix.datasets.load("samples_3"))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nothere\.npy: no such file"):
        load_data(tmp_path / "nothere.npy")


def test_unknown_extension(tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_text("1,2\n")
    with pytest.raises(DataError, match=r"x\.xlsx: unknown extension '\.xlsx'"):
        load_data(path)


def test_pickled_object_npy_is_refused(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"obj\.npy: holds pickled Python objects"):
        load_data(path)


def test_npz_with_several_arrays_and_no_key(tmp_path):
    path = tmp_path / "many.npz"
    np.savez(path, a=np.ones((2, 2)), b=np.ones((2, 2)))
    with pytest.raises(DataError, match=r"many\.npz: holds 2 arrays \(a, b\); choose one"):
        load_data(path)
    with pytest.raises(DataError, match=r"has no array 'c'"):
        load_data(f"{path}:c")


def test_non_numeric_cell_names_row_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("x,y\n1,2\n3,oops\n5,6\n")
    with pytest.raises(DataError, match=r"bad\.csv: line 3, column 2: cannot read 'oops' as a number"):
        load_data(path)


def test_empty_cell_is_reported(tmp_path):
    path = tmp_path / "gap.csv"
    path.write_text("1,2\n3,\n")
    with pytest.raises(DataError, match=r"line 2, column 2: cannot read '\(empty\)'"):
        load_data(path)


def test_single_line_with_a_bad_cell_is_a_row_not_a_header(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("1.5,x7,3\n")
    with pytest.raises(DataError, match=r"one\.csv: line 1, column 2: cannot read 'x7' as a number"):
        load_data(path)


def test_ragged_rows(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("1,2\n3,4,5\n")
    with pytest.raises(DataError, match=r"line 2 has 3 columns, expected 2"):
        load_data(path)


def test_nan_and_inf_counted_with_first_row(tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text("1,2\n3,4\nnan,inf\n5,nan\n")
    with pytest.raises(DataError, match=r"nan\.csv: contains 3 NaN or inf values \(first in row 2\)"):
        load_data(path)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)])
def test_wrong_number_of_dimensions(tmp_path, shape):
    path = tmp_path / "dims.npy"
    np.save(path, np.ones(shape))
    with pytest.raises(DataError, match=rf"dims\.npy: must be a 2-D array .* got {len(shape)}-D"):
        load_data(path)


def test_zero_rows(tmp_path):
    path = tmp_path / "rows.npy"
    np.save(path, np.ones((0, 3)))
    with pytest.raises(DataError, match=r"rows\.npy: has 0 rows"):
        load_data(path)
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b\n")
    with pytest.raises(DataError, match=r"header\.csv: has 0 rows"):
        load_data(header_only)


def test_zero_columns(tmp_path):
    path = tmp_path / "cols.npy"
    np.save(path, np.ones((4, 0)))
    with pytest.raises(DataError, match=r"cols\.npy: has 0 columns"):
        load_data(path)


def test_empty_file(tmp_path):
    for name in ("empty.csv", "empty.npy"):
        path = tmp_path / name
        path.write_bytes(b"")
        with pytest.raises(DataError, match=rf"{name.replace('.', '[.]')}: the file is empty"):
            load_data(path)
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n")
    with pytest.raises(DataError, match=r"blank\.txt: the file is empty"):
        load_data(blank)


def test_corrupt_npy(tmp_path):
    path = tmp_path / "junk.npy"
    path.write_bytes(b"not a numpy file at all")
    with pytest.raises(DataError, match=r"junk\.npy: not a valid \.npy file"):
        load_data(path)


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with kmix.io.atomic_write(target) as stream:
            stream.write(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_model_roundtrip_without_pickle(tmp_path):
    X = kmix.datasets.load("samples_1")
    model = kmix.KMeans(3, random_state=0).fit(X)
    path = tmp_path / "model.npz"
    kmix.save_model(model, path)
    with np.load(path, allow_pickle=False) as archive:  # readable with pickling off
        assert "__meta__" in archive.files
    loaded = kmix.load_model(path)
    np.testing.assert_array_equal(loaded.cluster_centers_, model.cluster_centers_)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.history_.ssd, model.history_.ssd)
    assert loaded.inertia_ == model.inertia_ and loaded.n_iter_ == model.n_iter_
    assert loaded.get_params() == model.get_params()


def test_load_model_rejects_other_files(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, a=np.ones(3))
    with pytest.raises(DataError, match="not a kmix model file"):
        kmix.load_model(path)


def test_atomic_write_gives_ordinary_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        with kmix.io.atomic_write(tmp_path / "f.bin") as stream:
            stream.write(b"x")
    finally:
        os.umask(umask)
    assert (tmp_path / "f.bin").stat().st_mode & 0o777 == 0o644


# --- messages that name the file ---------------------------------------------------


def test_empty_source_says_so():
    with pytest.raises(DataError, match=r"^source is empty: give a data file or a bundled dataset name$"):
        load_data("")


def test_atomic_write_errors_name_the_target_not_the_temporary(tmp_path):
    import errno
    import os

    from kmix.io import atomic_write

    target = tmp_path / "x.bin"
    with pytest.raises(OSError) as info:
        with atomic_write(target) as stream:
            stream.write(b"half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert "No space left on device" in str(info.value) and ".tmp" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_an_error_about_another_file(tmp_path):
    from kmix.io import atomic_write

    with pytest.raises(FileNotFoundError) as info:
        with atomic_write(tmp_path / "x.bin"):
            open(tmp_path / "font.ttf", "rb")
    assert info.value.filename == str(tmp_path / "font.ttf")


def test_atomic_write_where_chmod_is_refused(tmp_path, monkeypatch):
    import errno
    import os

    from kmix.io import atomic_write

    def chmod(path, mode, **kwargs):
        raise PermissionError(errno.EPERM, "Operation not permitted", path)

    monkeypatch.setattr(os, "chmod", chmod)
    with atomic_write(tmp_path / "x.bin") as stream:
        stream.write(b"all of it")
    assert (tmp_path / "x.bin").read_bytes() == b"all of it"


def test_npy_changed_after_its_header_was_read_is_named_not_called_pickled(tmp_path):
    from kmix.io import NpyRows

    path = tmp_path / "x.npy"
    np.save(path, np.arange(20.0).reshape(10, 2))
    rows = NpyRows(str(path), "x.npy: ", (10, 2), np.float64)
    np.testing.assert_array_equal(rows[2:4], [[4.0, 5.0], [6.0, 7.0]])
    message = r"^x\.npy: not a valid \.npy file \(corrupt or truncated\): it no longer holds the 10 x 2 array"
    for damaged in (bytes(range(256)), path.read_bytes()[:100]):
        path.write_bytes(damaged)
        with pytest.raises(DataError, match=message) as info:
            rows[0:2]
        assert "pickled" not in str(info.value)
    np.save(path, np.arange(30.0).reshape(10, 3))  # another array under the same name
    with pytest.raises(DataError, match=message):
        rows[0:2]


def test_folder_of_npy_files_with_a_looping_link_names_it(tmp_path):
    pytest.importorskip("dask.array")
    np.save(tmp_path / "part1.npy", np.ones((4, 2)))
    try:
        (tmp_path / "part2.npy").symlink_to(tmp_path / "part2.npy")
    except (OSError, NotImplementedError):
        pytest.skip("no symbolic links here")
    with pytest.raises(DataError, match=r"part2\.npy: too many levels of symbolic links"):
        load_data(tmp_path, chunks=2)
