"""Memory an event file's rows take once read (what `recsys import-interactions` holds until
every row is checked): bytes per event by tracemalloc, learner and course ids shared as one
string each (sys.intern) against a string per event as before, in the same process.

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
    print(
        f"{args.events} events of {args.learners} learners: {shared:.0f} B an event with shared "
        f"ids, {apart:.0f} B with a string per event (ratio {shared / apart:.2f})"
    )


if __name__ == "__main__":
    main()
