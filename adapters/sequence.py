"""What learners take next: course-to-course transitions counted from learners' sequences.

Each learner's distinct courses, in the order they last touched them, count each of the WINDOW
courses b after a course a with weight 1 / (courses apart): the course right after counts 1, the
next 1/2, and so on. Each row is then divided by its total, so T[a, b] is the share of what followed a that
was b. A learner is scored like item_cf scores them, by adding up the rows of their courses, each
step back in time counting `recency_decay` times less: what tends to come after what they took
lately. On data where learners move on through a catalog (CNPC) it ranks a later term better than
EASE or two_tower do alone; on order-free data (MovieLens' random split) the hybrid's search gives
it no weight. A course nothing in the learner's history led to is not recommended.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

from adapters.item_cf import ItemCFRecommender, _latest_last
from adapters.taken_together import taken_together, took
from domain.model import Course, CourseId, Interaction, LearnerHistory

#: how many later courses each course counts as what followed it
WINDOW = 10


class SequenceRecommender(ItemCFRecommender):
    name = "sequence"

    def __init__(self, recency_decay: float = 0.5) -> None:
        super().__init__(regularization=0.0, recency_decay=recency_decay)

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        self.index_catalog(courses)
        self.chosen = None
        self.weights = transitions(self.index, interactions)
        self.together = taken_together(self.index, took(interactions))

    def fitted_settings(self) -> dict[str, Any]:
        return {"kind": "transitions", "regularization": None, "recency_decay": self.recency_decay}


def transitions(
    index: dict[CourseId, int], interactions: Sequence[Interaction]
) -> sparse.csr_matrix:
    """Row-normalised courses × courses matrix of what followed what (float32). Sparse: each
    learner adds at most WINDOW entries per course, where a dense copy took 400 MB at 10,000."""
    events: dict[str, list[Interaction]] = defaultdict(list)
    for event in sorted(interactions, key=lambda e: e.occurred_at):
        if event.course_id in index:
            events[event.user_id].append(event)
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    for user, history in events.items():
        order = [index[c] for c in _latest_last(LearnerHistory(user, tuple(history)))]
        for i, a in enumerate(order):
            later = order[i + 1 : i + 1 + WINDOW]
            rows.extend([a] * len(later))
            cols.extend(later)
            values.extend(1.0 / np.arange(1, len(later) + 1))
    size = len(index)
    counts = sparse.csr_matrix(
        (np.asarray(values, dtype=np.float64), (rows, cols)), shape=(size, size)
    )  # duplicates add up
    totals = np.asarray(counts.sum(axis=1)).ravel()
    shares = (sparse.diags(1.0 / np.maximum(totals, 1e-12)) @ counts).astype(np.float32).tocsr()
    return shares
