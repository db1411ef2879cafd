"""Operator commands over a year of a large LMS in PostgreSQL: how long each takes, and its
longest statement (the service cancels one at RS_DB_TIMEOUT_SECONDS, 3 s by default).

    .venv/bin/python -m benchmarks.scale_operations --url postgresql+psycopg://.../scratch
        [--courses 5000] [--learners 50000] [--events 2500000] [--lists 400000]

Loads into the empty database at --url (migrated here): benchmarks.serving_data's catalog and
events (through the repositories), then --lists served lists of 10 courses over the year (COPY;
a few learners get most of them, as a monitor or a test account would), a third clicked through,
and every list chosen by the bandit. Then times, in this process: the bandit's recount (its read
of every list), repair-credit's check, and the erasure of the learner served most lists with an
event of another learner written meanwhile (how long that write waited for the erasure's lock).
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import Engine, event

from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.migrate import upgrade
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.use_cases.erase_learner import EraseLearner
from application.use_cases.log_interactions import LogInteractions
from application.use_cases.update_bandit import BANDIT, EVER
from benchmarks.common import psycopg_dsn
from benchmarks.serving_data import synthesise
from domain.model import CourseId, EventType, Interaction, UserId

STRATEGIES = ("hybrid", "two_tower", "popularity", "content", "item_cf", "sequence")


def load(url: str, courses: int, learners: int, events: int, lists: int, now: datetime) -> str:
    """Writes the deployment; returns the learner served most lists."""
    data = synthesise(courses, learners, events, seed=7, end=now)
    engine = build_engine(url, statement_timeout=600)
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.courses.upsert(data.courses)
        uow.commit()
    for batch in data.batches():
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.interactions.add_batch(batch)
            uow.commit()
    engine.dispose()
    rng = random.Random(11)
    ids = [c.course_id for c in data.courses]
    served = [
        (
            f"{rng.getrandbits(128):032x}",
            f"learner{int(rng.paretovariate(1.2) * 7) % learners}",
            now - timedelta(seconds=rng.uniform(0, 365 * 86_400)),
            rng.sample(ids, 10),
        )
        for _ in range(lists)
    ]
    with psycopg.connect(psycopg_dsn(url)) as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY slates (recommendation_id, user_id, strategy, served_at, impressions, "
            "selected_by) FROM STDIN"
        ) as copy:
            for n, (rid, user, at, _) in enumerate(served):
                copy.write_row((rid, user, STRATEGIES[n % 6], at, 10, BANDIT))
        with cursor.copy(
            "COPY slate_items (recommendation_id, rank, course_id, score, reason) FROM STDIN"
        ) as copy:
            for rid, _, _, shown in served:
                for rank, course in enumerate(shown, 1):
                    copy.write_row((rid, rank, course, 1.0 / rank, "Popular lately"))
        with cursor.copy(
            "COPY interactions (event_id, user_id, course_id, event_type, occurred_at, "
            "recommendation_id) FROM STDIN"
        ) as copy:
            for n, (rid, user, at, shown) in enumerate(served):
                if rng.random() < 1 / 3:
                    later = at + timedelta(minutes=rng.randint(1, 60))
                    copy.write_row((f"credit-{n}", user, rng.choice(shown), "click", later, rid))
        conn.commit()
    with psycopg.connect(psycopg_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        (heaviest,) = conn.execute(
            "SELECT user_id FROM slates GROUP BY user_id ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
    return str(heaviest)


class Longest:
    """The longest statement an engine ran while this is entered, in seconds."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.seconds, self.statements = engine, 0.0, 0
        self.started: dict[int, float] = {}

    def _before(self, conn, *_args) -> None:  # type: ignore[no-untyped-def]
        self.started[id(conn)] = time.perf_counter()

    def _after(self, conn, *_args) -> None:  # type: ignore[no-untyped-def]
        self.statements += 1
        took = time.perf_counter() - self.started.pop(id(conn), time.perf_counter())
        self.seconds = max(self.seconds, took)

    def __enter__(self) -> Longest:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


def timed(name: str, engine: Engine, action) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    with Longest(engine) as longest:
        result = action()
    print(
        f"{name:<34} {time.perf_counter() - started:>6.2f} s  longest statement "
        f"{longest.seconds:>5.2f} s of {longest.statements}  ({result})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--courses", type=int, default=5000)
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=2_500_000)
    parser.add_argument("--lists", type=int, default=400_000)
    args = parser.parse_args()
    upgrade(args.url)
    now = datetime.now(UTC)
    started = time.perf_counter()
    heaviest = load(args.url, args.courses, args.learners, args.events, args.lists, now)
    print(f"loaded in {time.perf_counter() - started:.0f} s; served most lists: {heaviest}")
    engine = build_engine(args.url, statement_timeout=600)

    def outcomes() -> str:
        with SqlAlchemyUnitOfWork(engine) as uow:
            return f"{len(uow.slates.outcomes(EVER, now, BANDIT)):,} lists"

    def miscredited() -> str:
        with SqlAlchemyUnitOfWork(engine) as uow:
            return f"{uow.interactions.miscredited():,} miscredited"

    def erase() -> str:
        writer = build_engine(args.url, statement_timeout=600)
        waited: list[str] = []

        def write() -> None:
            time.sleep(0.5)  # into the erasure
            click = Interaction(
                "scale-write", UserId("learner42"), CourseId("c000001"), EventType.CLICK, now
            )
            began = time.perf_counter()
            try:
                LogInteractions(lambda: SqlAlchemyUnitOfWork(writer)).execute([click])
                outcome = "took"
            except Exception as error:  # noqa: BLE001 - the lock timeout, said as such
                outcome = f"failed ({type(error).__name__}) after"
            waited.append(f"{outcome} {time.perf_counter() - began:.2f} s")

        thread = threading.Thread(target=write)
        thread.start()
        erasure = EraseLearner(lambda: SqlAlchemyUnitOfWork(engine)).execute(UserId(heaviest))
        thread.join()
        writer.dispose()
        return f"{erasure.counts}; an event written meanwhile {waited[0]}"

    timed("bandit recount: every list's outcome", engine, outcomes)
    timed("repair-credit: check", engine, miscredited)
    timed(f"erase {heaviest}", engine, erase)
    engine.dispose()


if __name__ == "__main__":
    main()
