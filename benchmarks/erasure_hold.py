"""What the erasure lock costs an event write on PostgreSQL: LogInteractions with every write
holding the lock erasures take alone (`ErasureRepository.hold`), against the same writes with the
hold made a no-op, in interleaved rounds of the same process; medians and their ratio.

    .venv/bin/python -m benchmarks.erasure_hold [--rounds 10]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.learners import SqlErasureRepository
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.use_cases.log_interactions import LogInteractions
from application.use_cases.upsert_courses import UpsertCourses
from benchmarks.common import fresh_bench_database
from domain.model import Course, CourseId, EventType, Interaction, UserId


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    engine = build_engine(fresh_bench_database())
    uow = lambda: SqlAlchemyUnitOfWork(engine)  # noqa: E731
    UpsertCourses(uow).execute([Course(CourseId(f"course_{i}"), f"Course {i}") for i in range(50)])
    log = LogInteractions(uow)
    ids = itertools.count()

    def events(n: int) -> list[Interaction]:
        moment = datetime.now(UTC) - timedelta(seconds=1)
        return [
            Interaction(f"e{i}", UserId(f"u{i % 500}"), CourseId(f"course_{i % 50}"),
                        EventType.CLICK, moment)
            for i in itertools.islice(ids, n)
        ]  # fmt: skip

    held = SqlErasureRepository.hold
    skipped: Callable[..., None] = lambda self, exclusive=False: None  # noqa: E731
    for size, writes in ((1, 300), (1000, 10)):
        ms: dict[str, list[float]] = {"held": [], "not held": []}
        for _ in range(args.rounds):
            for label, hold in (("held", held), ("not held", skipped)):
                SqlErasureRepository.hold = hold  # type: ignore[method-assign]
                started = time.perf_counter()
                for _ in range(writes):
                    log.execute(events(size))
                ms[label].append((time.perf_counter() - started) / writes * 1000)
        SqlErasureRepository.hold = held  # type: ignore[method-assign]
        medians = {label: statistics.median(v) for label, v in ms.items()}
        print(
            f"{size:>5} event(s) a write: held {medians['held']:.2f} ms, not held "
            f"{medians['not held']:.2f} ms, ratio {medians['held'] / medians['not held']:.3f}"
        )
    engine.dispose()


if __name__ == "__main__":
    main()
