"""Memory the trainer's read of every event holds (`InteractionRepository.stream`, listed whole
at each fit cycle): bytes per event by tracemalloc, learner and course ids interned as the
stream now does against a string per event (interning switched off), in the same process,
alternated; and the read's time.

    .venv/bin/python -m benchmarks.events_memory [--events 500000] [--learners 50000]
        [--courses 5000] [--url sqlite:///var/events_memory.db] [--runs 3]

The events are written once through the repository (a learner, a course, a type and a time
each, a tenth credited to no list that exists), to a SQLite file by default or to the URL given.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from unittest import mock

from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.migrate import upgrade
from adapters.sqlalchemy.reset import delete_everything
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from domain.model import CourseId, EventType, Interaction, RecommendationId, UserId


def write(engine, events: int, learners: int, courses: int, credited: float = 0.0) -> None:  # type: ignore[no-untyped-def]
    """`events` random events through the repository, replacing what the database held;
    `credited`: the share credited to a served list, timed to the microsecond as clicks are."""
    rng = random.Random(3)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    kinds = list(EventType)
    with SqlAlchemyUnitOfWork(engine) as uow:
        delete_everything(uow.connection)
        uow.commit()
    for first in range(0, events, 10_000):
        batch = [
            Interaction(
                f"e{i:09d}",
                UserId(f"learner{rng.randrange(learners)}"),
                CourseId(f"course_{rng.randrange(courses):05d}"),
                rng.choice(kinds),
                start
                + timedelta(seconds=31 * i, microseconds=rng.randrange(10**6) if credited else 0),
                RecommendationId(f"r{rng.randrange(10**8):08d}")
                if credited and rng.random() < credited
                else None,
            )
            for i in range(first, min(first + 10_000, events))
        ]
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.interactions.add_batch(batch)
            uow.commit()


def held(engine) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(bytes per event, seconds) of a whole read, as the trainer lists it."""
    tracemalloc.start()
    started = time.perf_counter()
    with SqlAlchemyUnitOfWork(engine) as uow:
        events = list(uow.interactions.stream())
    seconds = time.perf_counter() - started
    current = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return current / len(events), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--courses", type=int, default=5_000)
    parser.add_argument("--url", default="sqlite:///var/events_memory.db")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    upgrade(args.url)
    engine = build_engine(args.url)
    try:
        started = time.perf_counter()
        write(engine, args.events, args.learners, args.courses)
        print(f"wrote {args.events:,} events in {time.perf_counter() - started:.0f}s")
        each: dict[str, list[tuple[float, float]]] = {"one string a row": [], "interned": []}
        for _ in range(args.runs):
            with mock.patch("adapters.sqlalchemy.interactions.intern", lambda s: s):
                each["one string a row"].append(held(engine))
            each["interned"].append(held(engine))
        print(f"{'ids':>17} {'bytes/event':>12} {'read s':>7}")
        for name, runs in each.items():
            size = statistics.median(b for b, _ in runs)
            seconds = statistics.median(s for _, s in runs)
            print(f"{name:>17} {size:>12.0f} {seconds:>7.2f}")
        before, after = (statistics.median(b for b, _ in runs) for runs in each.values())
        print(f"interned / one string a row: {after / before:.2f}x the memory")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
