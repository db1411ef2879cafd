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
from itertools import chain
from typing import Any

import numpy as np
from scipy import sparse

from adapters.item_cf import ItemCFRecommender
from adapters.taken_together import taken_together, took
from domain.model import Course, CourseId, Interaction

#: how many later courses each course counts as what followed it
WINDOW = 10
#: a learner's courses turned into transitions at once (each a row of WINDOW)
CHUNK = 65_536


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
    orders: dict[str, dict[int, None]] = defaultdict(dict)
    for event in sorted(interactions, key=lambda e: e.occurred_at):
        row = index.get(event.course_id)
        if row is not None:
            order = orders[event.user_id]
            order.pop(row, None)  # a course touched again moves to its latest place
            order[row] = None
    lengths = np.fromiter(map(len, orders.values()), np.int64, len(orders))
    courses = np.fromiter(chain.from_iterable(orders.values()), np.int32, int(lengths.sum()))
    del orders
    # As arrays, in the order a loop over learners, their courses and the WINDOW after each
    # would list them (so duplicates add up as they did): at 2.5 million events a Python number
    # per transition took 585 MB more than the events.
    ends = np.repeat(np.cumsum(lengths), lengths)
    after = np.minimum(WINDOW, ends - np.arange(len(courses)) - 1)
    total = int(after.sum())
    rows = np.empty(total, np.int32)
    cols = np.empty(total, np.int32)
    values = np.empty(total, np.float64)
    steps = np.arange(1, WINDOW + 1)
    weights = 1.0 / steps  # the course right after counts 1, the next 1/2, ...
    filled = 0
    for start in range(0, len(courses), CHUNK):
        at = np.arange(start, min(len(courses), start + CHUNK))
        kept = steps <= after[at, None]  # position × steps, row-major: the loop's order
        taken = int(after[at].sum())
        part = slice(filled, filled + taken)
        rows[part] = np.broadcast_to(courses[at, None], kept.shape)[kept]
        cols[part] = courses[(at[:, None] + steps)[kept]]
        values[part] = np.broadcast_to(weights, kept.shape)[kept]
        filled += taken
    size = len(index)
    counts = sparse.csr_matrix((values, (rows, cols)), shape=(size, size))  # duplicates add up
    totals = np.asarray(counts.sum(axis=1)).ravel()
    shares = (sparse.diags(1.0 / np.maximum(totals, 1e-12)) @ counts).astype(np.float32).tocsr()
    return shares
