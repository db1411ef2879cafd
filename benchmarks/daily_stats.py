"""The daily figures of a stats window (global stats, the dashboard) over a long history in
PostgreSQL: does their cost follow the window, or everything ever credited?

    .venv/bin/python -m benchmarks.daily_stats [--days 730] [--lists-per-day 1000] [--runs 5]

Loads with COPY, into the scratch `recsys_bench` database at migration 0011 (the schema before
credited events carried their list's time), then upgrades to the newest schema (timed: the
migration fills what it adds, while another connection writes an event every 50 ms: how long
each waited): 300 courses; `days` of served lists of 10 courses each, with
uuid-like ids, a third of them clicked through (1 to 60 minutes after the list, on a course it
showed; a third of those also enrolled in), and three events of no list for each list. Then runs
daily_figures.counted for windows of 1 to 365 days, compiled to SQL and run with
psycopg: the median of `runs` in ms, and the shared buffers EXPLAIN (ANALYZE, BUFFERS) reports.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy.dialects import postgresql

from adapters.sqlalchemy import daily_figures
from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.migrate import downgrade, upgrade
from benchmarks.common import fresh_bench_database, psycopg_dsn

COURSES = 300
STRATEGIES = ("hybrid", "two_tower", "popularity", "content")


def load(
    dsn: str, days: int, per_day: int, now: datetime, in_time_order: bool = False
) -> tuple[int, int]:
    """(lists, credited events) written; `in_time_order`: as a service writes them, each day's
    rows together on disk (otherwise in random order, every day's rows scattered)."""
    rng = random.Random(7)
    lists = days * per_day
    credited = 0
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY courses (course_id, title, description, category, level, tags, prerequisites, "
            "active, updated_at) FROM STDIN"
        ) as copy:
            for i in range(COURSES):
                row = (f"c{i}", f"Course {i}", "", f"Cat {i % 10}", "beginner", "[]", "[]")
                copy.write_row((*row, True, now))
        served = []
        for n in range(lists):
            at = now - timedelta(seconds=rng.uniform(0, days * 86_400))
            shown = rng.sample(range(COURSES), 10)
            served.append((f"{rng.getrandbits(128):032x}", f"u{n % 50_000}", at, shown))
        if in_time_order:
            served.sort(key=lambda row: row[2])
        with cursor.copy(
            "COPY slates (recommendation_id, user_id, strategy, served_at, impressions) FROM STDIN"
        ) as copy:
            for n, (rid, user, at, _) in enumerate(served):
                copy.write_row((rid, user, STRATEGIES[n % 4], at, 10))
        with cursor.copy(
            "COPY slate_items (recommendation_id, rank, course_id, score, reason) FROM STDIN"
        ) as copy:
            for rid, _, _, shown in served:
                for rank, course in enumerate(shown, 1):
                    copy.write_row((rid, rank, f"c{course}", 1.0 / rank, ""))
        with cursor.copy(
            "COPY interactions (event_id, user_id, course_id, event_type, occurred_at, "
            "recommendation_id) FROM STDIN"
        ) as copy:
            events = 0
            for rid, user, at, shown in served:
                if rng.random() < 1 / 3:
                    course, later = (
                        f"c{rng.choice(shown)}",
                        at + timedelta(minutes=rng.randint(1, 60)),
                    )
                    kinds = ("click", "enroll") if rng.random() < 1 / 3 else ("click",)
                    for kind in kinds:
                        events += 1
                        credited += 1
                        copy.write_row((f"e{events:09d}", user, course, kind, later, rid))
                for _ in range(3):
                    events += 1
                    when = now - timedelta(seconds=rng.uniform(0, days * 86_400))
                    course = f"c{rng.randrange(COURSES)}"
                    copy.write_row((f"e{events:09d}", user, course, "view", when, None))
        conn.commit()
    return lists, credited


#: a request's event write while the upgrade runs: its pace, and the wait it is allowed
WRITE_EVERY = 0.05
LOCK_TIMEOUT = "3s"


class Writer(threading.Thread):
    """Writes an event of no list every WRITE_EVERY seconds, as web workers do while an
    operator upgrades, and records how long each waited (a refused one waited LOCK_TIMEOUT)."""

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn
        self.waits: list[float] = []
        self.refused = 0
        self.done = threading.Event()

    def __enter__(self) -> Writer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.join()

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            n = 0
            while not self.done.wait(WRITE_EVERY):
                n += 1
                started = time.perf_counter()
                try:
                    conn.execute(
                        "INSERT INTO interactions (event_id, user_id, course_id, event_type, "
                        "occurred_at) VALUES (%s, 'u-live', 'c1', 'view', now())",
                        (f"live-{n}",),
                    )
                except psycopg.errors.LockNotAvailable:
                    self.refused += 1
                self.waits.append(time.perf_counter() - started)


def timed(conn: psycopg.Connection, sql: str, runs: int) -> float:
    conn.execute(sql).fetchall()  # warm
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        conn.execute(sql).fetchall()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def buffers(conn: psycopg.Connection, sql: str) -> int:
    (plan,) = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql).fetchone()[0]
    top = plan["Plan"]
    return int(top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0))


def history(days: int, per_day: int, in_time_order: bool = False) -> tuple[str, str, datetime]:
    """The scratch database at 0011 with `days` of lists loaded (said): its URL, DSN, and the
    moment the history ends."""
    url = fresh_bench_database()
    downgrade(url)
    upgrade(url, "0011")
    dsn = psycopg_dsn(url)
    now = datetime.now(UTC)
    started = time.perf_counter()
    lists, credited = load(dsn, days, per_day, now, in_time_order)
    print(
        f"loaded {lists:,} lists and {credited:,} credited events in {time.perf_counter() - started:.0f}s"
    )
    return url, dsn, now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--lists-per-day", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    url, dsn, now = history(args.days, args.lists_per_day)
    started = time.perf_counter()
    with Writer(dsn) as writer:
        upgrade(url)
    print(f"upgraded to the newest schema in {time.perf_counter() - started:.1f}s")
    print(
        f"meanwhile {len(writer.waits)} event writes, one every {WRITE_EVERY * 1000:.0f} ms: "
        f"{writer.refused} refused at the requests' lock_timeout ({LOCK_TIMEOUT}), the longest "
        f"wait {max(writer.waits, default=0) * 1000:.0f} ms, median "
        f"{statistics.median(writer.waits or [0]) * 1000:.1f} ms"
    )
    engine = build_engine(url)
    with engine.connect() as connection:
        windows = {
            days: str(
                daily_figures.counted(connection, now - timedelta(days=days)).compile(
                    dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
                )
            )
            for days in (1, 7, 30, 90, 365)
        }
    engine.dispose()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # as autovacuum keeps large tables
        print(f"{'window':>8} {'median ms':>10} {'buffers':>9} {'rows':>6}")
        for days, sql in windows.items():
            rows = len(conn.execute(sql).fetchall())
            print(
                f"{days:>7}d {timed(conn, sql, args.runs):>10.0f} {buffers(conn, sql):>9,} {rows:>6}"
            )


if __name__ == "__main__":
    main()
