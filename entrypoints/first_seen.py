"""The first row of an event file to give each event id, kept on disk as the file is read."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType

from domain.model import CourseId, EventType, Interaction, RecommendationId, UserId

#: SQLite's page cache, in KiB (negative: a size, not a page count): what the ids cost in memory
CACHE_KIB = 8192


class FirstSeen:
    """Event ids and the events first given them, in a private SQLite file deleted on close
    (an empty name): an import of tens of millions of events checks each reused id against
    the first row to give it without holding them all, in a few MB of page cache."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("", isolation_level=None)
        for pragma in (f"cache_size = -{CACHE_KIB}", "journal_mode = OFF", "synchronous = OFF"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.execute(
            "CREATE TABLE seen (event_id TEXT PRIMARY KEY, line INTEGER, user_id TEXT, "
            "course_id TEXT, event_type TEXT, occurred_at TEXT, recommendation_id TEXT) "
            "WITHOUT ROWID"
        )

    def __enter__(self) -> FirstSeen:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.db.close()

    def earlier(
        self, rows: Sequence[tuple[int, Interaction]]
    ) -> list[tuple[int, Interaction] | None]:
        """For each (line, event) of `rows`, in file order, the (line, event) that first gave its
        event_id (in an earlier call, or earlier in `rows`), None for a first; records the firsts."""
        ids = json.dumps(list({event.event_id: None for _, event in rows}))
        first = {
            found[0]: (found[1], _event(found))
            for found in self.db.execute(
                "SELECT * FROM seen WHERE event_id IN (SELECT value FROM json_each(?))", (ids,)
            )
        }
        answer: list[tuple[int, Interaction] | None] = []
        new = []
        for line, event in rows:
            answer.append(first.get(event.event_id))
            if answer[-1] is None:
                first[event.event_id] = (line, event)
                new.append(_row(line, event))
        self.db.executemany("INSERT INTO seen VALUES (?, ?, ?, ?, ?, ?, ?)", new)
        return answer


def _row(line: int, event: Interaction) -> tuple[object, ...]:
    return (
        event.event_id,
        line,
        event.user_id,
        event.course_id,
        event.event_type.value,
        event.occurred_at.isoformat(),
        event.recommendation_id,
    )


def _event(row: tuple[object, ...]) -> Interaction:
    event_id, _, user_id, course_id, event_type, occurred_at, recommendation_id = row
    return Interaction(
        event_id=str(event_id),
        user_id=UserId(str(user_id)),
        course_id=CourseId(str(course_id)),
        event_type=EventType(event_type),
        occurred_at=datetime.fromisoformat(str(occurred_at)),
        recommendation_id=RecommendationId(str(recommendation_id)) if recommendation_id else None,
    )
