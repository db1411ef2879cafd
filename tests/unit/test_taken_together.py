"""The evidence a reason may name: which courses learners took together."""

from __future__ import annotations

import numpy as np

from adapters import taken_together as evidence
from domain.model import CourseId
from tests.conftest import event


def test_a_pair_counts_the_learners_who_enrolled_in_or_completed_both_and_views_do_not():
    index = {CourseId(c): i for i, c in enumerate("abcd")}
    events = [
        event("u1", "a", "enroll"),
        event("u1", "b", "complete"),
        event("u2", "a", "complete"),
        event("u2", "b", "enroll"),
        event("u2", "c", "view"),  # looking at a course is not taking it
        event("u3", "a", "enroll"),
        event("u3", "d", "click"),
    ]
    together = evidence.taken_together(index, evidence.took(events))
    assert together.toarray().tolist() == [[0, 2, 0, 0], [2, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert evidence.took_both(together, 0, 1) and evidence.took_both(together, 1, 0)
    assert not evidence.took_both(together, 0, 2) and not evidence.took_both(together, 0, 3)
    assert not evidence.took_both(None, 0, 1)  # a model published without evidence names nothing


def test_each_course_keeps_its_most_frequent_partners_whatever_the_block_size(monkeypatch):
    rng = np.random.default_rng(7)
    index = {CourseId(f"c{i}"): i for i in range(30)}
    taken = {(f"u{rng.integers(40)}", CourseId(f"c{rng.integers(30)}")) for _ in range(400)}
    everything = evidence.taken_together(index, taken, keep=1000).toarray()
    kept = evidence.taken_together(index, taken, keep=3)
    monkeypatch.setattr(evidence, "BLOCK_ENTRIES", 31)  # one course per block
    assert (evidence.taken_together(index, taken, keep=3) != kept).nnz == 0
    dense = kept.toarray()
    for row in range(30):
        partners = everything[row] > 0
        assert (dense[row] > 0).sum() == min(3, partners.sum())
        assert ((dense[row] == 0) | (dense[row] == everything[row])).all()
        left = everything[row][partners & (dense[row] == 0)]
        assert not left.size or dense[row][dense[row] > 0].min() >= left.max()
    pairs = evidence.took_pairs(kept, [0, 5, 9], [1, 2, 5])
    assert pairs.tolist() == [
        [evidence.took_both(kept, a, b) for b in (1, 2, 5)] for a in (0, 5, 9)
    ]


def test_a_block_read_off_the_rows_equals_scipys_slice_with_repeated_rows_and_columns():
    from scipy import sparse

    from adapters.arrays import block

    matrix = sparse.csr_matrix(np.arange(1, 37, dtype=np.float32).reshape(6, 6) % 4)
    for rows, columns in [([0, 1], [2, 2, 4]), ([5, 5, 0], [0, 3]), ([], [1]), ([2], [])]:
        expected = matrix[rows][:, columns].toarray() if rows and columns else None
        got = block(matrix, rows, columns)
        assert got.shape == (len(rows), len(columns))
        assert expected is None or (got == expected).all()
