"""A file imported in two reads (event rows, xAPI statements): every item checked as it is read,
then the file read again and the good items written, so that an import holds a chunk of items
at a time, not the file."""

from __future__ import annotations

import heapq
import shutil
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TypeVar

import click

from entrypoints.progress import Progress

#: bad items' errors said in full; the rest are counted
SHOWN = 50
#: a file of up to this many good items is written from its first read, not read again (some 15
#: MB of events, 60 MB of xAPI statements: parsing each twice made an import 1.3-1.4x slower)
KEPT = 100_000
T = TypeVar("T")


@dataclass
class Checked:
    """What the first read keeps: counts, and the places of the bad items (line numbers, or
    positions in a JSON array: to skip them when writing) with the first SHOWN of their errors,
    in file order."""

    rows: int = 0
    good: int = 0
    errors: int = 0
    shown: list[str] = field(default_factory=list)
    bad_places: array[int] = field(default_factory=lambda: array("q"))
    #: places of good items that repeat an earlier item as it was: one event, written once
    repeated: array[int] = field(default_factory=lambda: array("q"))
    #: the good items, in file order, while there are at most KEPT (None: read the file again)
    kept: list | None = field(default_factory=list)  # type: ignore[type-arg]

    def keep(self, good: list) -> None:  # type: ignore[type-arg]
        """The good items of the chunk just checked, kept while the file is small enough."""
        if self.kept is not None and len(self.kept) + len(good) <= KEPT:
            self.kept.extend(good)
        else:
            self.kept = None

    def add(self, errors: list[str]) -> None:
        """`errors` of the items after those added so far, each starting with its place ("line
        N:", "statement N:")."""
        for error in sorted(errors, key=_place):  # stable: an item's own errors keep their order
            place = _place(error)
            if not self.bad_places or self.bad_places[-1] != place:
                self.bad_places.append(place)
            if len(self.shown) < SHOWN:
                self.shown.append(error)
            self.errors += 1


def _place(error: str) -> int:
    return int(error.split(":", 1)[0].rsplit(" ", 1)[-1])


@contextmanager
def readable_twice(file: Path) -> Iterator[Path]:
    """`file`, or for a pipe (`<(zcat events.csv.gz)`), which can be read only once, a copy of
    it in a temporary folder, under its name."""
    if file.is_file():
        yield file
        return
    with tempfile.TemporaryDirectory(prefix="recsys-import-") as folder:
        copy = Path(folder) / file.name
        with file.open("rb") as source, copy.open("wb") as target:
            shutil.copyfileobj(source, target)
        yield copy


def checking(items: Iterable[T], size: int, label: str, unit: str) -> Iterator[list[T]]:
    """`items` of the first read in chunks of `size`, with a progress bar once there is a chunk
    (a file without items is said in one line)."""
    with ExitStack() as stack:
        progress = None
        for chunk in chunks(items, size):
            if progress is None:
                progress = stack.enter_context(Progress(label, unit=unit))
            yield chunk
            progress.advance(len(chunk))


def without_bad(items: Iterable[tuple[int, T]], checked: Checked) -> Iterator[tuple[int, T]]:
    """(place, item) of the second read, but the bad items the first read found and the
    repeats of an earlier item."""
    bad = heapq.merge(checked.bad_places, checked.repeated)
    next_bad = next(bad, None)
    for place, item in items:
        while next_bad is not None and next_bad < place:
            next_bad = next(bad, None)
        if place != next_bad:
            yield place, item


def changed(file: Path, place: str) -> click.ClickException:
    """A good item of the first read that the second read finds bad."""
    return click.ClickException(
        f"{file} changed while it was imported ({place}); the batches before it were stored "
        "(importing again never counts them twice)"
    )


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
