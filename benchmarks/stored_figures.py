"""Stats windows read from the closed days' stored figures (migration 0013) against the same
windows counted from their lists and events, in one process on PostgreSQL, alternated:

    .venv/bin/python -m benchmarks.stored_figures [--days 730] [--lists-per-day 1000] [--runs 7]

Loads the history of benchmarks.daily_stats (lists of 10 courses, a third clicked through) into
the scratch `recsys_bench` database at 0011 and upgrades it, then: each window of 1 to 365 days
counted from events (the statement every window ran before 0013) and read as the service reads
it now (SqlStatsRepository.daily), once before the days are stored (all counted) and after;
how long the trainer takes to store the whole history, and one day; and what the triggers cost a
list recorded (its day is today: not counted) and a late click (its list's day is counted), each
with the triggers on and off, alternated.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import psycopg

from adapters.sqlalchemy import daily_figures
from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.migrate import upgrade
from adapters.sqlalchemy.stats import SqlStatsRepository
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.use_cases.store_daily_figures import StoreDailyFigures
from benchmarks.daily_stats import history

WINDOWS = (1, 7, 30, 90, 365)


def median_ms(work: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def alternated(a: Callable[[], object], b: Callable[[], object], runs: int) -> tuple[float, float]:
    a(), b()  # warm
    first, second = [], []
    for _ in range(runs):
        first.append(median_ms(a, 1))
        second.append(median_ms(b, 1))
    return statistics.median(first), statistics.median(second)


def windows(engine, now: datetime, runs: int, label: str) -> None:  # type: ignore[no-untyped-def]
    print(f"\n{label}")
    print(f"{'window':>7} {'counted ms':>11} {'read ms':>9} {'ratio':>7}")
    with engine.connect() as connection:
        for days in WINDOWS:
            since = (now - timedelta(days=days - 1)).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
            statement = daily_figures.counted(connection, since)
            counted, read = alternated(
                lambda statement=statement: connection.execute(statement).all(),
                lambda since=since: SqlStatsRepository(connection).daily(since),
                runs,
            )
            print(f"{days:>6}d {counted:>11.1f} {read:>9.1f} {counted / read:>6.1f}x")


def writes(dsn: str, runs: int) -> None:
    """A list recorded now, and a click on a list three days old, each in its own transaction."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        (old_list,) = conn.execute(
            "SELECT recommendation_id FROM slates WHERE served_at < now() - interval '3 days' "
            "ORDER BY served_at DESC LIMIT 1"
        ).fetchone()
        n = iter(range(10**9))

        def record() -> None:
            with conn.transaction():
                rid = f"bench-{next(n)}"
                conn.execute(
                    "INSERT INTO slates (recommendation_id, user_id, strategy, served_at, "
                    "impressions) VALUES (%s, 'u-bench', 'hybrid', now(), 1)",
                    (rid,),
                )

        def late_click() -> None:
            with conn.transaction():
                conn.execute(
                    "INSERT INTO interactions (event_id, user_id, course_id, event_type, "
                    "occurred_at, recommendation_id) VALUES (%s, 'u-bench', 'c1', 'click', now(), %s)",
                    (f"bench-e{next(n)}", old_list),
                )

        def toggled(on: bool) -> None:
            mode = "ENABLE" if on else "DISABLE"
            conn.execute(f"ALTER TABLE slates {mode} TRIGGER slates_insert_change_a_day")
            conn.execute(
                f"ALTER TABLE interactions {mode} TRIGGER interactions_insert_change_a_day"
            )

        print(f"\n{'one write':>28} {'triggers on ms':>15} {'off ms':>7} {'ratio':>6}")
        for name, write in (
            ("a list recorded (today)", record),
            ("a late click (counted)", late_click),
        ):
            on, off = [], []
            for _ in range(runs):
                toggled(True)
                on.append(median_ms(write, 200))
                toggled(False)
                off.append(median_ms(write, 200))
            toggled(True)
            a, b = statistics.median(on), statistics.median(off)
            print(f"{name:>28} {a:>15.3f} {b:>7.3f} {a / b:>5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--lists-per-day", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    url, dsn, now = history(args.days, args.lists_per_day)
    upgrade(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # as autovacuum keeps large tables
    engine = build_engine(url)
    try:
        windows(engine, now, args.runs, "nothing stored yet (every day counted)")
        units = lambda: SqlAlchemyUnitOfWork(engine)  # noqa: E731
        started = time.perf_counter()
        stored = StoreDailyFigures(units, budget_seconds=3600).execute()
        took = time.perf_counter() - started
        print(
            f"\nstored {stored.days} days in {took:.1f}s ({took / stored.days * 1000:.1f} ms a day)"
        )
        windows(engine, now, args.runs, "closed days stored (the last 3 days counted)")
        with units() as uow:
            day = uow.stats.days_to_store() or [(now - timedelta(days=3)).date()]
        print(
            f"storing one day again: {median_ms(lambda: _store(units, day[0]), args.runs):.1f} ms"
        )
        writes(dsn, args.runs)
    finally:
        engine.dispose()


def _store(units, day) -> None:  # type: ignore[no-untyped-def]
    with units() as uow:
        uow.stats.store_day(day)
        uow.commit()


if __name__ == "__main__":
    main()
