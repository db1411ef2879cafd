"""An event file imported in two reads: every row checked as it is read, then read again and
written, so that the import holds a chunk of rows at a time, not the file."""

from __future__ import annotations

import shutil
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import TypeVar

import click

from application.use_cases.log_interactions import LogInteractions, differences
from domain.model import Interaction
from entrypoints.cli.base import BATCH
from entrypoints.files import load_rows
from entrypoints.first_seen import FirstSeen
from entrypoints.progress import Progress
from entrypoints.schemas import EventSchema

#: rows checked together (one query per check for the chunk)
CHUNK = 10 * BATCH
#: bad rows' errors said in full; the rest are counted
SHOWN = 50
T = TypeVar("T")


@dataclass
class Checked:
    """What the first read keeps: counts, and the lines of the bad rows (to skip them when
    writing) with the first SHOWN of their errors, in file order."""

    rows: int = 0
    good: int = 0
    errors: int = 0
    shown: list[str] = field(default_factory=list)
    bad_lines: array[int] = field(default_factory=lambda: array("q"))

    def add(self, errors: list[str]) -> None:
        """`errors` of the rows after those added so far, each starting "line N:"."""
        for error in sorted(errors, key=_line):  # stable: a line's own errors keep their order
            line = _line(error)
            if not self.bad_lines or self.bad_lines[-1] != line:
                self.bad_lines.append(line)
            if len(self.shown) < SHOWN:
                self.shown.append(error)
            self.errors += 1


def _line(error: str) -> int:
    return int(error.split(":", 1)[0].removeprefix("line "))


@contextmanager
def readable_twice(file: Path) -> Iterator[Path]:
    """`file`, or for a pipe (`<(zcat events.csv.gz)`), which can be read only once, a copy of
    it in a temporary folder, under its name (whose suffix says the format)."""
    if file.is_file():
        yield file
        return
    with tempfile.TemporaryDirectory(prefix="recsys-import-") as folder:
        copy = Path(folder) / file.name
        with file.open("rb") as source, copy.open("wb") as target:
            shutil.copyfileobj(source, target)
        yield copy


def check(path: Path, log: LogInteractions) -> Checked:
    """Every row of `path` checked as import-interactions writes it, CHUNK rows at a time; nothing
    written. A row giving another event an earlier row's event_id is said with the earlier line."""
    checked = Checked()
    with FirstSeen() as seen, ExitStack() as stack:
        for chunk in chunks(load_rows(path, EventSchema()), CHUNK):
            if not checked.rows:  # a file without rows is said in one line, as before
                progress = stack.enter_context(Progress("checking events", unit="rows"))
            errors = [e for _, event, said in chunk if event is None for e in said]
            valid = [(line, event) for line, event, _ in chunk if event is not None]
            kept = []
            for (line, event), first in zip(valid, seen.earlier(valid), strict=True):
                differ = differences(first[1], event) if first else []
                if first and differ:
                    errors.append(
                        f"line {line}: event_id: repeats event {event.event_id!r} of line "
                        f"{first[0]} with a different {', '.join(differ)}"
                    )
                else:
                    kept.append((line, event))
            events, _ = uncredited(log, [event for _, event in kept])
            bad = set()
            for problem in log.check(events):
                line = kept[int(problem["index"])][0]  # type: ignore[call-overload]
                bad.add(line)
                errors.append(f"line {line}: {problem['field']}: {problem['message']}")
            checked.add(errors)
            checked.rows += len(chunk)
            checked.good += len(kept) - len(bad)
            progress.advance(len(chunk))
    return checked


def uncredited(log: LogInteractions, events: list[Interaction]) -> tuple[list[Interaction], int]:
    """`events` without the credit to lists this database never served (exported from another
    database, whose lists stayed there), and how many lost it."""
    if not any(event.recommendation_id for event in events):
        return events, 0
    unserved = log.unserved(events)
    kept = [
        replace(e, recommendation_id=None) if e.recommendation_id in unserved else e for e in events
    ]
    return kept, sum(1 for e in events if e.recommendation_id in unserved)


def good_rows(path: Path, checked: Checked) -> Iterator[Interaction]:
    """The events of `path` read again, but the bad rows `check` found."""
    bad = iter(checked.bad_lines)
    next_bad = next(bad, None)
    for line, event, _ in load_rows(path, EventSchema()):
        while next_bad is not None and next_bad < line:
            next_bad = next(bad, None)
        if line == next_bad:
            continue
        if event is None:  # valid when checked
            raise click.ClickException(
                f"{path} changed while it was imported (line {line}); the batches before it "
                "were stored (importing again never counts them twice)"
            )
        yield event


class Batches:
    """The good rows of `path` read again, in batches of `size`, their credit to lists this
    database never served left out and counted (`uncredited`), as when they were checked."""

    def __init__(self, path: Path, checked: Checked, log: LogInteractions, size: int) -> None:
        self.path, self.checked, self.log, self.size = path, checked, log, size
        self.uncredited = 0

    def __iter__(self) -> Iterator[list[Interaction]]:
        for batch in chunks(good_rows(self.path, self.checked), self.size):
            kept, lost = uncredited(self.log, batch)
            self.uncredited += lost
            yield kept


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
