"""An event file imported in two reads (two_reads): every row checked as it is read, then read
again and written, so that the import holds a chunk of rows at a time, not the file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from application.use_cases.log_interactions import LogInteractions, differences
from domain.model import CourseId, EventType, Interaction, RecommendationId, UserId
from entrypoints.cli.base import BATCH
from entrypoints.cli.two_reads import Checked, changed, checking, chunks, without_bad
from entrypoints.files import load_rows
from entrypoints.first_seen import FirstSeen
from entrypoints.schemas import EventSchema

#: rows checked together (one query per check for the chunk)
CHUNK = 10 * BATCH
#: what the first row to give an event id is kept with, on disk, to compare a later one with
COLUMNS = ("user_id", "course_id", "event_type", "occurred_at", "recommendation_id")


def check(path: Path, log: LogInteractions) -> Checked:
    """Every row of `path` checked as import-interactions writes it, CHUNK rows at a time; nothing
    written. A row giving another event an earlier row's event_id is said with the earlier line."""
    checked = Checked()
    with FirstSeen(COLUMNS) as seen:
        for chunk in checking(load_rows(path, EventSchema()), CHUNK, "checking events", "rows"):
            errors = [e for _, event, said in chunk if event is None for e in said]
            valid = [(line, event) for line, event, _ in chunk if event is not None]
            kept = []
            repeats = set()
            firsts = seen.earlier(
                [(line, event.event_id, _columns(event)) for line, event in valid]
            )
            for (line, event), first in zip(valid, firsts, strict=True):
                differ = differences(_event(event.event_id, first[1]), event) if first else []
                if first and differ:
                    errors.append(
                        f"line {line}: event_id: repeats event {event.event_id!r} of line "
                        f"{first[0]} with a different {', '.join(differ)}"
                    )
                else:
                    kept.append((line, event))
                    if first:  # the same event again: written once, not "already stored"
                        repeats.add(line)
            events, _ = uncredited(log, [event for _, event in kept])
            bad = set()
            for problem in log.check(events):
                line = kept[int(problem["index"])][0]  # type: ignore[call-overload]
                bad.add(line)
                errors.append(f"line {line}: {problem['field']}: {problem['message']}")
            checked.add(errors)
            good = [(line, event) for line, event in kept if line not in bad]
            checked.repeated.extend(line for line, _ in good if line in repeats)
            checked.keep([event for line, event in good if line not in repeats])
            checked.rows += len(chunk)
            checked.good += sum(1 for line, _ in good if line not in repeats)
    return checked


def _columns(event: Interaction) -> tuple[object, ...]:
    return (
        event.user_id,
        event.course_id,
        event.event_type.value,
        event.occurred_at.isoformat(),
        event.recommendation_id,
    )


def _event(event_id: str, columns: tuple[object, ...]) -> Interaction:
    user_id, course_id, event_type, occurred_at, recommendation_id = columns
    return Interaction(
        event_id=event_id,
        user_id=UserId(str(user_id)),
        course_id=CourseId(str(course_id)),
        event_type=EventType(event_type),
        occurred_at=datetime.fromisoformat(str(occurred_at)),
        recommendation_id=RecommendationId(str(recommendation_id)) if recommendation_id else None,
    )


def uncredited(log: LogInteractions, events: list[Interaction]) -> tuple[list[Interaction], int]:
    """`events` without the credit to lists this database does not hold (exported from another
    database, whose lists stayed there; or removed past RS_LIST_RETENTION_DAYS), and how many
    lost it. Events stored already keep theirs: imported again, they are duplicates."""
    if not any(event.recommendation_id for event in events):
        return events, 0
    unserved = log.unserved(events)
    kept = [replace(e, recommendation_id=None) if e.event_id in unserved else e for e in events]
    return kept, sum(1 for e in events if e.event_id in unserved)


def good_rows(path: Path, checked: Checked) -> Iterator[Interaction]:
    """The events of `path` read again, but the bad rows `check` found."""
    rows = ((line, event) for line, event, _ in load_rows(path, EventSchema()))
    for line, event in without_bad(rows, checked):
        if event is None:  # valid when checked
            raise changed(path, f"line {line}")
        yield event


class Batches:
    """The good rows of `path` read again, in batches of `size`, their credit to lists this
    database never served left out and counted (`uncredited`), as when they were checked."""

    def __init__(self, path: Path, checked: Checked, log: LogInteractions, size: int) -> None:
        self.path, self.checked, self.log, self.size = path, checked, log, size
        self.uncredited = 0

    def __iter__(self) -> Iterator[list[Interaction]]:
        good = self.checked.kept
        for batch in chunks(
            good_rows(self.path, self.checked) if good is None else good, self.size
        ):
            kept, lost = uncredited(self.log, batch)
            self.uncredited += lost
            yield kept
