"""Where the trainer's read of every event (`InteractionRepository.stream`, listed whole each
fit cycle) spends its time: the rows alone (SQLAlchemy over the driver, nothing made of them),
the stream as the trainer lists it, and the same with the garbage collector paused. Alternated,
each first in turn, median of `--runs`; wall and this process's CPU seconds.

    .venv/bin/python -m benchmarks.events_read --url sqlite:///var/events_read.db
        [--events 1000000] [--learners 50000] [--courses 5000] [--runs 3] [--keep]

The events are written once through the repository (a learner, a course, a type and a time
each, a tenth credited to a list), unless `--keep` and the database already holds `--events`.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from sqlalchemy import select

from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.interactions import _EVENT_COLUMNS
from adapters.sqlalchemy.migrate import upgrade
from adapters.sqlalchemy.tables import interactions
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from benchmarks.events_memory import write

_STREAM = select(*_EVENT_COLUMNS).order_by(interactions.c.occurred_at, interactions.c.id)


def read(engine, how: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(seconds, this process's CPU seconds) of a whole read, `how`: a key of READS."""
    gc.collect()
    paused = how == "stream, collector paused"
    started, cpu = time.perf_counter(), time.process_time()
    if paused:
        gc.disable()
    try:
        with SqlAlchemyUnitOfWork(engine) as uow:
            if how == "rows alone":
                query = _STREAM.execution_options(yield_per=10_000)
                held = sum(1 for _ in uow.connection.execute(query))
            else:
                held = len(list(uow.interactions.stream()))
    finally:
        gc.enable()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert held  # read something
    return seconds, cpu


READS = ("rows alone", "stream", "stream, collector paused")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--courses", type=int, default=5_000)
    parser.add_argument("--url", default="sqlite:///var/events_read.db")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="reuse the events already written")
    args = parser.parse_args()
    upgrade(args.url)
    engine = build_engine(args.url)
    try:
        with SqlAlchemyUnitOfWork(engine) as uow:
            stored = uow.interactions.count()
        if not (args.keep and stored == args.events):
            started = time.perf_counter()
            write(engine, args.events, args.learners, args.courses, credited=0.1)
            print(f"wrote {args.events:,} events in {time.perf_counter() - started:.0f}s")
        runs: dict[str, list[tuple[float, float]]] = {how: [] for how in READS}
        for run in range(args.runs):
            for how in READS if run % 2 == 0 else reversed(READS):
                runs[how].append(read(engine, how))
        stream = statistics.median(wall for wall, _ in runs["stream"])
        print(f"{'read':>25} {'median s':>9} {'CPU s':>6} {'/ stream':>9}  runs (wall/CPU)")
        for how, each in runs.items():
            wall = statistics.median(w for w, _ in each)
            cpu = statistics.median(c for _, c in each)
            listed = ", ".join(f"{w:.1f}/{c:.1f}" for w, c in each)
            print(f"{how:>25} {wall:>9.2f} {cpu:>6.2f} {wall / stream:>8.2f}x  {listed}")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
