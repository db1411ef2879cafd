"""Memory a trainer's fits take above the events it holds: sequence's count of what followed what
and item_cf's publish (each course's strongest weights), as they were before 2026-12-01 (a
Python number per transition; the whole weight matrix cut at once) against now, alternated in
one process. tracemalloc's peak above what was held before each fit and publish, its time, and
whether the published files are the same bytes.

    .venv/bin/python -m benchmarks.trainer_memory [--courses 5000] [--learners 50000]
        [--events 2500000] [--runs 3]

The events are benchmarks.serving_data's LMS, generated in memory (nothing is written).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable, Sequence
from unittest import mock

import numpy as np
from scipy import sparse

from adapters.item_cf import ItemCFRecommender, _latest_last
from adapters.sequence import WINDOW, SequenceRecommender
from benchmarks.serving_data import synthesise
from domain.model import Course, CourseId, Interaction, LearnerHistory


def previous_transitions(
    index: dict[CourseId, int], interactions: Sequence[Interaction]
) -> sparse.csr_matrix:
    """adapters.sequence.transitions before 2026-12-01: a list entry per transition."""
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
    )
    totals = np.asarray(counts.sum(axis=1)).ravel()
    return (sparse.diags(1.0 / np.maximum(totals, 1e-12)) @ counts).astype(np.float32).tocsr()


def previous_strongest(weights: np.ndarray, keep: int) -> sparse.csr_matrix:
    """adapters.item_weights.strongest of a dense matrix before 2026-12-01: cut at once."""
    dense = np.asarray(weights, dtype=np.float32).copy()
    if dense.shape[1] > keep:
        cut = np.argpartition(-np.abs(dense), keep - 1, axis=1)[:, keep:]
        np.put_along_axis(dense, cut, 0.0, axis=1)
    return sparse.csr_matrix(dense)


def measured(work: Callable[[], dict[str, bytes]]) -> tuple[float, float, dict[str, bytes]]:
    """(MB above what was held before, seconds, the files) of one call."""
    gc.collect()
    tracemalloc.start()
    held = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    files = work()
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - held) / 2**20, seconds, files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--courses", type=int, default=5_000)
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=2_500_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    generated = synthesise(args.courses, args.learners, args.events)
    courses: list[Course] = generated.courses
    events = [e for batch in generated.batches() for e in batch]
    print(f"{len(courses):,} courses, {len(events):,} events")
    fitted = ItemCFRecommender(regularization=100.0)
    fitted.fit(courses, events)  # its weights, held as a trainer holds them when it publishes

    def sequence() -> dict[str, bytes]:
        model = SequenceRecommender()
        model.fit(courses, events)
        return model.dump()[0]

    work = {"sequence fit and publish": sequence, "item_cf publish": lambda: fitted.dump()[0]}
    before = {
        "sequence fit and publish": mock.patch(
            "adapters.sequence.transitions", previous_transitions
        ),
        "item_cf publish": mock.patch("adapters.item_weights.strongest", previous_strongest),
    }
    print(f"{'':>25} {'before MB':>10} {'after MB':>9} {'ratio':>6} {'before s':>9} {'after s':>8}")
    for name, call in work.items():
        runs: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
        same = True
        for _ in range(args.runs):
            with before[name]:
                *figures, old = measured(call)
            runs["before"].append(tuple(figures))  # type: ignore[arg-type]
            *figures, new = measured(call)
            runs["after"].append(tuple(figures))  # type: ignore[arg-type]
            same = same and old == new
        mb = [statistics.median(m for m, _ in runs[k]) for k in ("before", "after")]
        s = [statistics.median(s for _, s in runs[k]) for k in ("before", "after")]
        print(
            f"{name:>25} {mb[0]:>10.0f} {mb[1]:>9.0f} {mb[1] / mb[0]:>5.2f}x {s[0]:>9.1f} "
            f"{s[1]:>8.1f}  {'same files' if same else 'FILES DIFFER'}"
        )


if __name__ == "__main__":
    main()
