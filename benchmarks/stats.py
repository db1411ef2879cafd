"""Latency of the stats endpoints over 1,000,000 events in PostgreSQL, beside the same SQL run raw.

    .venv/bin/python -m benchmarks.stats [--events 1000000] [--requests 30]

Loads (with COPY) 300 courses, 100,000 served slates of 10 courses, and N events over 90 days, a
fifth of them attributed to a slate; then times GET /api/v1/recommendations/stats/global?days=30
and /stats/user/<id> through the Flask app (every layer but the network), and the statements
those endpoints run, compiled to SQL and executed directly with psycopg.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy.dialects import postgresql

from adapters.sqlalchemy import daily_figures
from adapters.sqlalchemy.stats import SqlStatsRepository
from benchmarks.common import fresh_bench_database, psycopg_dsn
from entrypoints.api import create_app

KINDS = ("view", "click", "enroll", "complete")


def load(dsn: str, events: int, now: datetime) -> None:
    slates = 100_000
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY courses (course_id, title, description, category, level, tags, prerequisites, active, updated_at) FROM STDIN"
        ) as copy:
            for i in range(300):
                copy.write_row(
                    (
                        f"course_{i}",
                        f"Course {i}",
                        "",
                        f"Category {i % 10}",
                        "beginner",
                        "[]",
                        "[]",
                        True,
                        now,
                    )
                )
        with cursor.copy(
            "COPY slates (recommendation_id, user_id, strategy, served_at, impressions) FROM STDIN"
        ) as copy:
            for i in range(slates):
                copy.write_row(
                    (
                        f"r{i}",
                        f"user{i % 20_000}",
                        ("two_tower", "hybrid", "popularity", "content")[i % 4],
                        now - timedelta(minutes=i * 90 * 24 * 60 / slates),
                        10,
                    )
                )
        with cursor.copy(
            "COPY slate_items (recommendation_id, rank, course_id, score, reason) FROM STDIN"
        ) as copy:
            for i in range(slates):
                for rank in range(1, 11):
                    copy.write_row((f"r{i}", rank, f"course_{(i + rank) % 300}", 1.0 / rank, ""))
        with cursor.copy(
            "COPY interactions (event_id, user_id, course_id, event_type, occurred_at, recommendation_id) FROM STDIN"
        ) as copy:
            for i in range(events):
                attributed = f"r{(i * 7) % slates}" if i % 5 == 0 else None
                copy.write_row(
                    (
                        f"e{i}",
                        f"user{i % 20_000}",
                        f"course_{(i * 13) % 300}",
                        KINDS[i % 4],
                        now - timedelta(seconds=i * 90 * 86_400 / events),
                        attributed,
                    )
                )
        conn.commit()
        conn.execute("ANALYZE")


def timed(action, requests: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    action()  # warm up
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def sql(statement) -> str:  # type: ignore[no-untyped-def]
    return str(
        statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    url = fresh_bench_database()
    dsn = psycopg_dsn(url)
    now = datetime.now(UTC)
    started = time.perf_counter()
    load(dsn, args.events, now)
    print(
        f"loaded {args.events:,} events, 100,000 slates, 1,000,000 impressions in {time.perf_counter() - started:.0f}s"
    )

    app = create_app({"database_url": url, "refresh_seconds": 3600})
    client = app.test_client()
    since = now - timedelta(days=30)
    with app.container.uow() as uow:
        repository = SqlStatsRepository(uow.connection)
        global_sql = [
            sql(daily_figures.counted(uow.connection, since)),
            sql(repository.popular_statement(since, 10)),
        ]
    user_sql = [sql(s) for s in SqlStatsRepository.user_statements("user42")]

    with psycopg.connect(dsn) as conn:

        def run(statements: list[str]):  # type: ignore[no-untyped-def]
            return lambda: [conn.execute(s).fetchall() for s in statements]

        rows = [
            (
                "global stats, days=30",
                lambda: client.get("/api/v1/recommendations/stats/global?days=30"),
                run(global_sql),
            ),
            (
                "user stats",
                lambda: client.get("/api/v1/recommendations/stats/user/user42"),
                run(user_sql),
            ),
        ]
        print(
            f"{'endpoint':<24} {'API median':>10} {'API p95':>9} {'raw SQL median':>14} {'raw p95':>8} {'ratio':>6}"
        )
        for name, endpoint, raw in rows:
            api_median, api_p95 = timed(endpoint, args.requests)
            raw_median, raw_p95 = timed(raw, args.requests)
            print(
                f"{name:<24} {api_median:>8.1f}ms {api_p95:>7.1f}ms {raw_median:>12.1f}ms {raw_p95:>6.1f}ms "
                f"{api_median / raw_median:>5.2f}x"
            )
    app.container.engine().dispose()


if __name__ == "__main__":
    main()
