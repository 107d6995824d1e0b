"""kmix.load_data of files written by scipy.sparse.save_npz: CSR out, members checked, never unpickled."""

import numpy as np
import pytest
import scipy.sparse as sp

from kmix import DataError, load_data
from kmix._datafiles import read_array

DENSE = np.array([[0.0, 1.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [2.0, 0.0, -3.0, 0.0]])


def _members(fmt="csr", **changes):
    """What scipy.sparse.save_npz writes for DENSE, with some members changed (None removes one)."""
    X = sp.csr_matrix(DENSE) if fmt == "csr" else sp.csc_matrix(DENSE)
    members = {"format": np.array(fmt.encode("ascii")), "shape": np.array(X.shape),
               "data": X.data, "indices": X.indices, "indptr": X.indptr}
    for key, value in changes.items():
        if value is None:
            members.pop(key)
        else:
            members[key] = value
    return members


@pytest.mark.parametrize("kind", ["csr_matrix", "csc_matrix"])
@pytest.mark.parametrize("compressed", [True, False])
def test_save_npz_round_trips_as_csr(tmp_path, kind, compressed):
    path = tmp_path / "x.npz"
    sp.save_npz(path, getattr(sp, kind)(DENSE), compressed=compressed)
    X = load_data(path)
    assert isinstance(X, sp.csr_matrix) and X.format == "csr" and X.has_canonical_format
    assert X.dtype == np.float64
    np.testing.assert_array_equal(X.toarray(), DENSE)
    assert load_data(path, dtype=np.float32).dtype == np.float32


def test_sparse_arrays_load_as_arrays_and_integers_as_floats(tmp_path):
    path = tmp_path / "x.npz"
    integers = (DENSE * 2).astype(np.int64)
    sp.save_npz(path, sp.csr_array(integers))
    X = load_data(path)
    assert isinstance(X, sp.csr_array) and X.dtype == np.float64
    np.testing.assert_array_equal(X.toarray(), integers)


def test_duplicates_and_unsorted_indices_are_made_canonical(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, **_members(data=np.array([1.0, 2.0, 5.0]), indices=np.array([3, 3, 0], dtype=np.int32),
                              indptr=np.array([0, 3, 3, 3], dtype=np.int32)))
    X = load_data(path)
    assert X.has_canonical_format
    np.testing.assert_array_equal(X.toarray()[0], [5.0, 0.0, 0.0, 3.0])


def test_a_member_can_still_be_read_by_its_key(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, **_members(data=np.arange(3.0).reshape(3, 1)))
    assert load_data(f"{path}:data").shape == (3, 1)


@pytest.mark.parametrize("changes, where, message", [
    ({"indptr": np.array([0, 1, 3, 4], dtype=np.int32)}, "x.npz:indptr",
     r"runs from 0 to 4; it must run from 0 to the number of values \(3\)"),
    ({"indptr": np.array([0, 2, 1, 3], dtype=np.int32)}, "x.npz:indptr",
     r"decreases after entry 1 \(2 then 1\); it must never decrease"),
    ({"indptr": np.array([0, 1, 3], dtype=np.int32)}, "x.npz:indptr",
     r"has 3 entries; a CSR matrix of shape 3 x 4 needs 4"),
    ({"indptr": np.array([1, 1, 1, 3], dtype=np.int32)}, "x.npz:indptr", r"runs from 1 to 3"),
    ({"indices": np.array([1, 0, 4], dtype=np.int32)}, "x.npz:indices",
     r"holds the column index 4 \(value 2\), outside 0 to 3"),
    ({"indices": np.array([1, -1, 2], dtype=np.int32)}, "x.npz:indices", r"the column index -1"),
    ({"indices": np.array([1, 0], dtype=np.int32)}, "x.npz", r"holds 3 values but 2 indices"),
    ({"indices": np.array([1.0, 0.0, 2.0])}, "x.npz:indices", r"holds float64 values, not numbers"),
    ({"shape": np.array([3, 4, 1])}, "x.npz:shape", r"is not a shape"),
    ({"shape": np.array([3, -4])}, "x.npz:shape", r"is not a shape"),
    ({"data": np.ones((3, 1))}, "x.npz:data", r"must be 1-D"),
    ({"data": np.array([1 + 1j, 2.0, 3.0])}, "x.npz:data", r"complex128 values"),
    ({"data": np.array([1.0, np.nan, np.inf])}, "x.npz", r"contains 2 NaN or inf values \(first in row 2\)"),
    ({"indptr": None}, "x.npz", r"holds a sparse CSR matrix without its 'indptr' array"),
    ({"format": np.array(b"coo")}, "x.npz", r"holds a sparse matrix in 'coo' format; kmix reads CSR and CSC"),
    ({"format": np.array([b"csr", b"csc"])}, "x.npz:format", r"is not the name of a sparse format"),
    ({"shape": np.array([0, 4]), "indptr": np.array([0], dtype=np.int32), "data": np.ones(0),
      "indices": np.zeros(0, dtype=np.int32)}, "x.npz", r"has 0 rows"),
])
def test_malformed_sparse_files_name_the_file_and_the_problem(tmp_path, changes, where, message):
    path = tmp_path / "x.npz"
    np.savez(path, **_members(**changes))
    with pytest.raises(DataError, match=message) as error:
        load_data(path)
    assert f"{where}: " in str(error.value)


def test_csc_index_checks_name_rows(tmp_path):
    path = tmp_path / "x.npz"
    members = _members("csc")
    members["indices"] = members["indices"].copy()
    members["indices"][0] = 7
    np.savez(path, **members)
    with pytest.raises(DataError, match=r"x.npz:indices: holds the row index 7 \(value 0\), outside 0 to 2"):
        load_data(path)


def test_pickled_members_are_refused_without_unpickling(tmp_path):
    path = tmp_path / "x.npz"
    members = _members()
    members["data"] = np.array([1, 2, 3], dtype=object)  # numpy pickles object arrays
    np.savez(path, **members)
    with pytest.raises(DataError, match=r"x.npz:data: holds pickled Python objects"):
        load_data(path)


def test_sparse_files_are_in_memory_only(tmp_path):
    path = tmp_path / "x.npz"
    sp.save_npz(path, sp.csr_matrix(DENSE))
    with pytest.raises(DataError, match=r"x.npz: holds a sparse matrix, which kmix keeps in memory only.*"
                                        r"load it without chunks="):
        load_data(path, chunks=2)


def test_dense_readers_say_what_a_sparse_file_is(tmp_path):
    path = tmp_path / "x.npz"
    sp.save_npz(path, sp.csr_matrix(DENSE))
    with pytest.raises(DataError, match=r"x.npz: holds a sparse matrix \(written by scipy.sparse.save_npz\)"):
        read_array(path)
