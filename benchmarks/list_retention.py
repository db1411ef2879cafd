"""RS_LIST_RETENTION_DAYS at a busy platform's size, in PostgreSQL: what removing a day's lists
costs the trainer, against storing that day's figures (the work it follows), in one process:

    .venv/bin/python -m benchmarks.list_retention [--days 40] [--lists-per-day 10000] [--keep 30]

Loads benchmarks.daily_stats' history (lists of 10 courses, a third clicked through, three events
of no list for each list; written in time order, as a service writes them) into the scratch
`recsys_bench` database, upgrades it, stores every closed day's figures (timed a day), then
removes the lists of the days past `--keep` a day at a time as the trainer does (timed a day,
the longest statement too, since each must end within RS_DB_TIMEOUT_SECONDS; every other day in
one statement instead of parts, the comparison), and checks that a 90-day window reads the same
figures after as before.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine

from adapters.sqlalchemy import list_retention
from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.migrate import upgrade
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from benchmarks.daily_stats import history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--lists-per-day", type=int, default=10_000)
    parser.add_argument("--keep", type=int, default=30)
    args = parser.parse_args()
    url, dsn, now = history(args.days, args.lists_per_day, in_time_order=True)
    upgrade(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    engine = build_engine(url)
    units = lambda: SqlAlchemyUnitOfWork(engine)  # noqa: E731
    try:
        with units() as uow:
            days = uow.stats.days_to_store()
        store_ms = []
        for day in days:
            started = time.perf_counter()
            with units() as uow:
                uow.stats.store_day(day)
                uow.commit()
            store_ms.append((time.perf_counter() - started) * 1000)
        print(f"stored {len(days)} days: median {statistics.median(store_ms):.0f} ms a day")
        since = now - timedelta(days=90)
        with units() as uow:
            before = uow.stats.daily(since)
        longest: list[float] = []

        @event.listens_for(Engine, "before_cursor_execute")
        def began(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            conn.info["began"] = time.perf_counter()

        @event.listens_for(Engine, "after_cursor_execute")
        def ended(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            longest.append(time.perf_counter() - conn.info.pop("began", time.perf_counter()))

        today = datetime.now(UTC).date()
        with units() as uow:
            old = uow.stats.days_to_prune(today - timedelta(days=args.keep))
        # the days alternated between the shipped parts and the whole day in one statement
        shipped = list_retention.PRUNED_A_STATEMENT
        prune_ms: dict[int, list[tuple[float, float]]] = {shipped: [], 10**9: []}
        removed = 0
        for n, day in enumerate(old):
            part = shipped if n % 2 == 0 else 10**9
            list_retention.PRUNED_A_STATEMENT = part
            longest.clear()
            started = time.perf_counter()
            with units() as uow:
                removed += uow.stats.prune_day(day)
                uow.commit()
            prune_ms[part].append(((time.perf_counter() - started) * 1000, max(longest) * 1000))
        list_retention.PRUNED_A_STATEMENT = shipped
        event.remove(Engine, "before_cursor_execute", began)
        event.remove(Engine, "after_cursor_execute", ended)
        with units() as uow:
            after = uow.stats.daily(since)
        print(f"removed {removed:,} lists of {len(old)} days")
        for part, timings in prune_ms.items():
            label = f"{part} lists a statement" if part == shipped else "a day a statement"
            whole = statistics.median(ms for ms, _ in timings)
            print(
                f"  {label}: median {whole:.0f} ms a day ({whole / statistics.median(store_ms):.1f}x "
                f"storing a day), longest statement {max(s for _, s in timings):.0f} ms"
            )
        print(f"the 90-day window {'reads the same figures' if after == before else 'CHANGED'}")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
