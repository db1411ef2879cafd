"""Which courses learners took together: the evidence a reason may name.

"Because you completed X" and "Learners who took X also took this" read as "learners take X and
this course together". The models' own weights cannot say so: EASE gives weight to courses
nobody took with X (through the courses in between), two_tower to any course whose embedding
points the same way, however little data placed it there. So a reason names X only when some
learner took both: enrolled in or completed each, the service's own meaning of "took" (a view is
not taking a course).

Kept per course: the PARTNERS courses taken with it by the most learners, a sparse matrix with
sorted rows. A pair beyond them is not named (a smaller claim, never a false one), and the
evidence stays small at any catalog size (10,000 courses: at most 2.56 million pairs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from scipy import sparse

from adapters.arrays import block, csr, csr_files, ids, ids_file
from adapters.item_weights import row_tops
from domain.model import CourseId, EventType, Interaction

#: courses kept per course, those taken with it by the most learners
PARTNERS = 256
#: what "took" means in a reason: enrolled or completed, as the ranking stage counts taken
TAKEN = frozenset({EventType.ENROLL, EventType.COMPLETE})
#: what the evidence's artifact files are named by (a prefix)
EVIDENCE = "together"
#: courses × courses entries multiplied at once (bounds the memory of one block: ~100 MB)
BLOCK_ENTRIES = 8_000_000


def took(interactions: Iterable[Interaction]) -> set[tuple[str, CourseId]]:
    """(learner, course) for every course a learner enrolled in or completed."""
    return {(e.user_id, e.course_id) for e in interactions if e.event_type in TAKEN}


def taken_together(
    index: Mapping[CourseId, int], taken_by: Iterable[tuple[str, CourseId]], keep: int = PARTNERS
) -> sparse.csr_matrix:
    """Courses × courses: for each course, up to `keep` other courses and how many learners took
    both (int32), those with the most such learners kept; each row's columns sorted."""
    learners: dict[str, int] = {}
    rows: list[int] = []
    columns: list[int] = []
    for user, course in taken_by if isinstance(taken_by, set) else set(taken_by):
        column = index.get(course)
        if column is not None:
            rows.append(learners.setdefault(user, len(learners)))
            columns.append(column)
    size = len(index)
    taken = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, columns)), shape=(len(learners), size)
    )
    by_course = taken.T.tocsr()
    step = max(1, BLOCK_ENTRIES // max(size, 1))
    blocks = []
    for start in range(0, size, step):
        counts = sparse.csr_matrix(by_course[start : start + step] @ taken)
        row = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        counts.data[counts.indices == row + start] = 0  # a course is not its own partner
        counts.eliminate_zeros()
        blocks.append(row_tops(counts, keep))
    together = sparse.vstack(blocks, format="csr") if blocks else sparse.csr_matrix((size, size))
    together = sparse.csr_matrix(together, shape=(size, size), dtype=np.int32)
    together.sort_indices()
    return together


def took_both(together: sparse.csr_matrix | None, a: int, b: int) -> bool:
    """Whether some learner took courses a and b (as far as the kept partners tell). Without
    evidence (a model published before it was kept) nothing can be named."""
    return bool(took_pairs(together, [a], [b])[0, 0])


def took_pairs(
    together: sparse.csr_matrix | None, sources: Sequence[int], rows: Sequence[int]
) -> np.ndarray:
    """took_both() for every source course and every course of `rows` (bool, sources × rows),
    read straight off the kept rows: a reason per served course, on every request (scipy's
    fancy indexing cost 0.4 ms a list)."""
    if together is None or not len(sources) or not len(rows):
        return np.zeros((len(sources), len(rows)), dtype=bool)
    return (block(together, sources, rows) > 0) | (block(together, rows, sources) > 0).T


def together_files(together: sparse.csr_matrix | None, course_ids: Sequence[CourseId]) -> dict:
    """The evidence as artifact files, its rows named by course id (a reindex reorders courses)."""
    if together is None:
        return {}
    return {f"{EVIDENCE}_ids.json": ids_file(course_ids), **csr_files(EVIDENCE, together)}


def restore_together(
    files: Mapping[str, bytes], index: Mapping[CourseId, int]
) -> sparse.csr_matrix | None:
    """The published evidence over `index`'s rows (courses the model no longer has dropped), or
    None for a version published before it was kept."""
    if f"{EVIDENCE}_ids.json" not in files:
        return None
    published = csr(files, EVIDENCE).tocoo()
    rows = np.array([index.get(c, -1) for c in ids(files, f"{EVIDENCE}_ids.json")], dtype=np.int64)
    if len(rows) != published.shape[0]:
        raise ValueError(f"evidence of shape {published.shape} for {len(rows)} courses")
    row, column = rows[published.row], rows[published.col]
    known = (row >= 0) & (column >= 0)
    size = len(index)
    together = sparse.csr_matrix(
        (published.data[known], (row[known], column[known])), shape=(size, size), dtype=np.int32
    )
    together.sort_indices()
    return together
