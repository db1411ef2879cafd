"""Memory an event file's rows take once read (what `recsys import-interactions` held until
every row was checked, and `parse_file` still holds): bytes per event by tracemalloc, learner
and course ids shared as one string each (sys.intern) against a string per event, in the same
process; and the peak of the import's first read now (it checks the rows a chunk at a time,
holding none), for the whole file and for half of it, against an in-memory catalog.

    .venv/bin/python -m benchmarks.import_memory [--events 200000] [--learners 50000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from application.use_cases.log_interactions import LogInteractions
from domain.model import Course, CourseId
from entrypoints.cli.event_passes import check
from entrypoints.files import parse_file
from entrypoints.schemas import EventSchema


def write_events(path: Path, events: int, learners: int) -> None:
    rng = random.Random(1)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    kinds = ("view", "click", "enroll", "complete")
    with path.open("w") as handle:
        handle.write("event_id,user_id,course_id,event_type,occurred_at\n")
        for i in range(events):
            when = (start + timedelta(seconds=7 * i)).isoformat()
            handle.write(
                f"e{i},learner{rng.randrange(learners)},course_{rng.randrange(200):03d},"
                f"{rng.choice(kinds)},{when}\n"
            )


def bytes_per_event(path: Path) -> float:
    tracemalloc.start()
    parsed = parse_file(path, EventSchema())
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return held / len(parsed.items)


def check_peak(path: Path) -> int:
    """Peak bytes traced while the import's first read checks `path` (courses course_000 to
    course_199 in the catalog)."""
    store = InMemoryStore()
    with InMemoryUnitOfWork(store) as uow:
        uow.courses.upsert([Course(CourseId(f"course_{i:03d}"), f"C{i}") for i in range(200)])
        uow.commit()
    log = LogInteractions(lambda: InMemoryUnitOfWork(store))
    tracemalloc.start()
    checked = check(path, log)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert checked.good == checked.rows
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--learners", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.csv"
        write_events(path, args.events, args.learners)
        with mock.patch("entrypoints.schemas.sys.intern", lambda text: text):
            apart = bytes_per_event(path)
        shared = bytes_per_event(path)
        peak = check_peak(path)
        write_events(path, args.events // 2, args.learners)
        half = check_peak(path)
    print(
        f"{args.events} events of {args.learners} learners: {shared:.0f} B an event with shared "
        f"ids, {apart:.0f} B with a string per event (ratio {shared / apart:.2f}); the import's "
        f"first read peaks at {peak / 2**20:.1f} MiB ({half / 2**20:.1f} MiB for half the events)"
    )


if __name__ == "__main__":
    main()
