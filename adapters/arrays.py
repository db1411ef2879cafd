"""Fitted arrays as artifact files and back: .npy without pickle, sparse matrices as their parts."""

from __future__ import annotations

import io
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import sparse

from domain.model import Course, CourseId


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def array(files: Mapping[str, bytes], name: str) -> np.ndarray:
    if name not in files:
        raise ValueError(f"the artifact lacks {name}")
    return np.load(io.BytesIO(files[name]), allow_pickle=False)


def csr_files(prefix: str, matrix: sparse.csr_matrix) -> dict[str, bytes]:
    matrix = sparse.csr_matrix(matrix)
    return {
        f"{prefix}.data.npy": npy(matrix.data),
        f"{prefix}.indices.npy": npy(matrix.indices),
        f"{prefix}.indptr.npy": npy(matrix.indptr),
        f"{prefix}.shape.npy": npy(np.asarray(matrix.shape, dtype=np.int64)),
    }


def csr(files: Mapping[str, bytes], prefix: str) -> sparse.csr_matrix:
    """The matrix, checked whole (ValueError otherwise): scipy builds one from its parts without
    looking, and an entry past its end read memory outside it (a 500 on every request, or a
    worker killed by SIGSEGV as it loaded). The check reads each entry once."""
    shape = tuple(int(n) for n in array(files, f"{prefix}.shape.npy"))
    matrix = sparse.csr_matrix(
        (
            array(files, f"{prefix}.data.npy"),
            array(files, f"{prefix}.indices.npy"),
            array(files, f"{prefix}.indptr.npy"),
        ),
        shape=shape,
    )
    matrix.check_format(full_check=True)
    return matrix


def block(matrix: sparse.csr_matrix, rows: Sequence[int], columns: Sequence[int]) -> np.ndarray:
    """matrix[rows][:, columns] as a dense array, read straight off the rows' entries: scipy's
    fancy indexing costs a few hundred µs a call, and reasons take a block on every request.
    The work is in the entries read, not the catalog's size."""
    rows = np.asarray(rows, dtype=np.int64)
    wanted, where = np.unique(np.asarray(columns, dtype=np.int64), return_inverse=True)
    found = np.zeros((len(rows), len(wanted)), dtype=matrix.dtype)
    starts = matrix.indptr[rows]
    lengths = matrix.indptr[rows + 1] - starts
    if len(rows) and len(wanted) and lengths.sum():
        take = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        entries = matrix.indices[take]
        column = np.minimum(np.searchsorted(wanted, entries), len(wanted) - 1)
        hit = wanted[column] == entries
        owner = np.repeat(np.arange(len(rows)), lengths)
        found[owner[hit], column[hit]] = matrix.data[take][hit]
    return found[:, where.ravel()]


def ids_file(course_ids: Sequence[str]) -> bytes:
    return json.dumps(list(course_ids)).encode()


def ids(files: Mapping[str, bytes], name: str = "course_ids.json") -> list[CourseId]:
    if name not in files:
        raise ValueError(f"the artifact lacks {name}")
    loaded: Any = json.loads(files[name])
    if not isinstance(loaded, list) or not all(isinstance(c, str) for c in loaded):
        raise ValueError(f"{name} must be a list of course ids")
    return [CourseId(c) for c in loaded]


def courses_of(course_ids: Sequence[CourseId], catalog: Mapping[CourseId, Course]) -> list[Course]:
    """The fitted courses as the catalog has them now (a course gone from it keeps its id)."""
    return [catalog.get(c) or Course(c, title=c) for c in course_ids]


def rows_of(index: Mapping[CourseId, int], course_ids: Iterable[CourseId]) -> np.ndarray:
    """The rows `index` gives the courses of `course_ids` it holds."""
    return np.fromiter((index[c] for c in course_ids if c in index), dtype=np.int64)


def rows_in(course_ids: Sequence[CourseId], catalog: Collection[CourseId]) -> np.ndarray:
    """The rows (places in `course_ids`) of the courses `catalog` holds."""
    return np.fromiter((i for i, c in enumerate(course_ids) if c in catalog), dtype=np.int64)


def left_out(size: int, in_catalog: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """What a filter leaves out (domain.model.Outside) as a mask of `size` rows: the rows of the
    catalog's courses (`in_catalog`) but the ones it keeps (`kept`)."""
    mask = np.zeros(size, dtype=bool)
    mask[in_catalog] = True
    mask[kept] = False
    return mask
