"""kmix.load_data(chunks=...): memory-mapped .npy files and folders as dask arrays.

Every bad file gives the same DataError with ``chunks`` as without. Nothing here
needs a cluster: dask's local scheduler computes the chunks.
"""

import pickle
import re

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

import kmix  # noqa: E402
from kmix import DataError, load_data  # noqa: E402


def _same_error(path, chunks=100):
    """The DataError message loading ``path`` in memory, and the one with chunks."""
    with pytest.raises(DataError) as in_memory:
        load_data(path)
    with pytest.raises(DataError) as chunked:
        X = load_data(path, chunks=chunks)
        X.compute()
    return str(in_memory.value), str(chunked.value)


def test_npy_is_memory_mapped_by_chunks(tmp_path):
    X = np.random.default_rng(0).normal(size=(1000, 4))
    path = tmp_path / "x.npy"
    np.save(path, X)
    lazy = load_data(path, chunks=300)
    assert isinstance(lazy, da.Array)
    assert lazy.chunks == ((300, 300, 300, 100), (4,))
    np.testing.assert_array_equal(lazy.compute(), X)
    # The graph holds the file's name, not its data: what travels to workers is small.
    assert len(pickle.dumps(lazy)) < X.nbytes / 4
    np.testing.assert_array_equal(lazy[250:650].compute(), X[250:650])


def test_auto_and_tuple_chunks_dtype_and_integers(tmp_path):
    path = tmp_path / "ints.npy"
    np.save(path, np.asfortranarray(np.arange(30, dtype=np.int32).reshape(10, 3)))
    auto = load_data(path, chunks="auto")
    assert auto.chunks == ((10,), (3,)) and auto.dtype == np.float64
    uneven = load_data(path, chunks=(4, 0, 6), dtype=np.float32)
    assert uneven.chunks[0] == (4, 0, 6) and uneven.dtype == np.float32
    np.testing.assert_array_equal(uneven.compute(), np.arange(30).reshape(10, 3))
    with pytest.raises(ValueError, match=r"chunks \(4, 4\) add up to 8 rows, but .*ints\.npy has 10"):
        load_data(path, chunks=(4, 4))


@pytest.mark.parametrize("chunks", [0, -3, 2.5, "big", (), (1, -1), True])
def test_bad_chunks_name_the_parameter(tmp_path, chunks):
    path = tmp_path / "x.npy"
    np.save(path, np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"chunks must be None, 'auto', a positive number"):
        load_data(path, chunks=chunks)


def test_other_files_and_datasets_are_read_then_cut(tmp_path):
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n1,2\n3,4\n5,6\n")
    lazy = load_data(csv, chunks=2)
    assert lazy.chunks == ((2, 1), (2,))
    np.testing.assert_array_equal(lazy.compute(), load_data(csv))
    samples = load_data("samples_3", chunks=128)
    np.testing.assert_array_equal(samples.compute(), kmix.datasets.load("samples_3"))


def test_nan_gives_the_in_memory_message_with_count_and_first_row(tmp_path):
    X = np.ones((500, 3))
    X[[7, 260, 261], [0, 1, 2]] = [np.nan, np.inf, np.nan]
    path = tmp_path / "nan.npy"
    np.save(path, X)
    in_memory, chunked = _same_error(path)
    assert in_memory == chunked
    assert re.search(r"nan\.npy: contains 3 NaN or inf values \(first in row 7\)", chunked)
    # Whichever chunk meets a bad value first, the message covers the whole file.
    with pytest.raises(DataError, match=re.escape(in_memory)):
        load_data(path, chunks=100)[200:].compute()
    # Only the chunks that are read are checked: a clean chunk computes.
    assert load_data(path, chunks=100)[100:200].compute().shape == (100, 3)


def _write(path, array, allow_pickle=False):
    np.save(path, array, allow_pickle=allow_pickle)


@pytest.mark.parametrize(
    "name, make, message",
    [
        ("dims1.npy", lambda p: _write(p, np.ones(5)), r"must be a 2-D array .* got 1-D"),
        ("dims3.npy", lambda p: _write(p, np.ones((2, 3, 4))), r"must be a 2-D array .* got 3-D"),
        ("rows.npy", lambda p: _write(p, np.ones((0, 3))), r"has 0 rows"),
        ("cols.npy", lambda p: _write(p, np.ones((4, 0))), r"has 0 columns"),
        ("obj.npy", lambda p: _write(p, np.array([{"a": 1}, None], dtype=object), True),
         r"holds pickled Python objects"),
        ("text.npy", lambda p: _write(p, np.array([["a", "b"]])), r"holds <U1 values, not numbers"),
        ("complex.npy", lambda p: _write(p, np.ones((2, 2), dtype=complex)), r"not numbers"),
        ("junk.npy", lambda p: p.write_bytes(b"not a numpy file at all"), r"not a valid \.npy file"),
        ("empty.npy", lambda p: p.write_bytes(b""), r"the file is empty"),
        ("nothere.npy", lambda p: None, r"no such file"),
        ("x.xlsx", lambda p: p.write_text("1,2\n"), r"unknown extension"),
    ],
)
def test_bad_files_same_error_as_in_memory(tmp_path, name, make, message):
    path = tmp_path / name
    make(path)
    in_memory, chunked = _same_error(path)
    assert in_memory == chunked
    assert re.search(message, chunked)


def test_truncated_npy_is_a_data_error(tmp_path):
    path = tmp_path / "cut.npy"
    np.save(path, np.ones((100, 3)))
    with open(path, "r+b") as handle:
        handle.truncate(200)
    with pytest.raises(DataError, match=r"cut\.npy: not a valid \.npy file"):
        load_data(path, chunks=10)


def test_folder_is_one_array_in_natural_order_one_chunk_per_file(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    rng = np.random.default_rng(1)
    pieces = [rng.normal(size=(rows, 3)) for rows in (40, 0, 25, 60)]
    for index, piece in zip((1, 2, 3, 10), pieces):
        np.save(folder / f"part{index}.npy", piece)
    (folder / "notes.txt").write_text("ignored")
    X = load_data(folder, chunks="auto")
    np.testing.assert_array_equal(X.compute(), np.concatenate(pieces))
    assert X.shape == (125, 3)
    cut = load_data(folder, chunks=30)
    assert max(cut.chunks[0]) == 30
    np.testing.assert_array_equal(cut.compute(), np.concatenate(pieces))


def test_bad_folders(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    with pytest.raises(DataError, match=r"parts: the folder holds no \.npy files"):
        load_data(folder, chunks="auto")
    with pytest.raises(DataError, match=r"parts: is a folder, not a data file .*pass chunks="):
        load_data(folder)
    np.save(folder / "a.npy", np.ones((3, 2)))
    np.save(folder / "b.npy", np.ones((3, 4)))
    with pytest.raises(DataError, match=r"b\.npy: has 4 columns, but a\.npy has 2"):
        load_data(folder, chunks="auto")
    (folder / "b.npy").unlink()
    np.save(folder / "b.npy", np.array([[1.0, np.nan]]))
    with pytest.raises(DataError, match=r"b\.npy: contains 1 NaN or inf value \(first in row 0\)"):
        load_data(folder, chunks="auto").compute()
    with pytest.raises(ValueError, match=r"a tuple of row counts applies to one \.npy file"):
        load_data(folder, chunks=(3, 1))
    empty = tmp_path / "zero"
    empty.mkdir()
    np.save(empty / "a.npy", np.ones((0, 2)))
    with pytest.raises(DataError, match=r"zero: has 0 rows"):
        load_data(empty, chunks="auto")


def test_saving_a_model_fitted_on_dask_input_stores_plain_arrays(tmp_path):
    X = kmix.datasets.load("samples_1")
    model = kmix.KMeans(3, random_state=0).fit(X)
    model.labels_ = da.from_array(model.labels_, chunks=100)  # as a dask fit leaves it
    path = tmp_path / "model.npz"
    kmix.save_model(model, path)
    loaded = kmix.load_model(path)
    assert isinstance(loaded.labels_, np.ndarray)
    np.testing.assert_array_equal(loaded.labels_, model.labels_.compute())
