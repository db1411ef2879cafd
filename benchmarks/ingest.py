"""Events/second of batched ingestion (LogInteractions, 1,000 events a request) into PostgreSQL,
beside a plain COPY of the same rows into the same table on the same server.

    .venv/bin/python -m benchmarks.ingest [--events 200000]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import psycopg

from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.use_cases.log_interactions import LogInteractions
from application.use_cases.upsert_courses import UpsertCourses
from benchmarks.common import fresh_bench_database, psycopg_dsn
from domain.model import Course, CourseId, EventType, Interaction, UserId

BATCH = 1_000


def make_events(n: int) -> list[Interaction]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    kinds = list(EventType)
    return [
        Interaction(
            f"bench-{i}",
            UserId(f"user{i % 5000}"),
            CourseId(f"course_{i % 300}"),
            kinds[i % 4],
            start + timedelta(seconds=i),
        )
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()

    url = fresh_bench_database()
    engine = build_engine(url)
    uow = lambda: SqlAlchemyUnitOfWork(engine)  # noqa: E731
    UpsertCourses(uow).execute([Course(CourseId(f"course_{i}"), f"Course {i}") for i in range(300)])
    events = make_events(args.events)

    log = LogInteractions(uow)
    started = time.perf_counter()
    for i in range(0, len(events), BATCH):
        log.execute(events[i : i + BATCH])
    ours = time.perf_counter() - started

    retried = time.perf_counter()
    duplicates = sum(
        log.execute(events[i : i + BATCH]).duplicates for i in range(0, 50 * BATCH, BATCH)
    )
    retry_seconds = time.perf_counter() - retried

    with psycopg.connect(psycopg_dsn(url)) as conn:
        conn.execute("TRUNCATE interactions")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor:
            with cursor.copy(
                "COPY interactions (event_id, user_id, course_id, event_type, occurred_at, recommendation_id) FROM STDIN"
            ) as copy:
                for e in events:
                    copy.write_row(
                        (
                            e.event_id,
                            e.user_id,
                            e.course_id,
                            e.event_type.value,
                            e.occurred_at,
                            None,
                        )
                    )
        conn.commit()
        plain = time.perf_counter() - started
    engine.dispose()

    print(f"events: {args.events:,} in batches of {BATCH:,}")
    print(
        f"LogInteractions (validate + INSERT .. ON CONFLICT DO NOTHING RETURNING): {args.events / ours:,.0f} events/s"
    )
    print(
        f"plain COPY of the same rows:                                       {args.events / plain:,.0f} events/s"
    )
    print(f"ratio ours / COPY: {plain / ours:.2f}")
    print(
        f"retrying 50 batches already stored: {50 * BATCH / retry_seconds:,.0f} events/s, {duplicates:,} duplicates detected"
    )


if __name__ == "__main__":
    main()
