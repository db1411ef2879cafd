"""An LRS export imported in two reads (two_reads), as an event file is: every statement checked
as it is read, then read again and stored in batches, so that the import holds a chunk of
statements at a time, not the export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from application.use_cases.ingest_xapi import IngestStatements
from application.xapi_statements import Statement
from entrypoints.cli.base import BATCH
from entrypoints.cli.two_reads import Checked, changed, checking, chunks, without_bad
from entrypoints.files import NotJsonArray, NotUtf8, read_json_values
from entrypoints.first_seen import FirstSeen


def read_statements(path: Path, file: Path) -> Iterator[tuple[int, str, Any]]:
    """(number, place, statement or why it is unreadable) of each JSON value in `path`, a JSON
    array ("statement 0", ...) or JSON lines ("line 1", ...), read as it goes: the text and its
    nested dicts never all live at once. The file is named `file` (a pipe's copy is read)."""
    try:
        for place, value in read_json_values(path, item="statement"):
            yield int(place.rsplit(" ", 1)[1]), place, value
    except NotUtf8 as error:
        raise click.ClickException(str(error).replace(str(path), str(file))) from None
    except NotJsonArray as error:
        raise click.ClickException(f"{file}: {error}") from None


def check(path: Path, file: Path, ingest: IngestStatements) -> Checked:
    """Every statement of `path` checked as import-xapi stores it, BATCH at a time (their dicts
    are held until parsed: a few KB each); nothing stored. A statement id given by an earlier
    statement is a bad statement, whatever its content."""
    checked = Checked()
    with FirstSeen() as seen:
        reading = read_statements(path, file)
        for chunk in checking(reading, BATCH, "checking statements", "statements"):
            errors = [f"{place}: {v}" for _, place, v in chunk if isinstance(v, ValueError)]
            read = [(n, place, v) for n, place, v in chunk if not isinstance(v, ValueError)]
            # Statements without an id get one derived from their content: importing twice is a no-op.
            statements, problems = ingest.parse([v for _, _, v in read], derive_ids=True)
            at = [int(p["index"]) for p in problems]  # type: ignore[call-overload]
            errors += [
                f"{read[i][1]}: {p['field']}: {p['message']}"
                for i, p in zip(at, problems, strict=True)
            ]
            invalid = set(at)
            valid = [(n, place) for i, (n, place, _) in enumerate(read) if i not in invalid]
            ids = [(n, s.id, ()) for (n, _), s in zip(valid, statements, strict=True)]
            firsts = seen.earlier(ids)
            repeats = [place for (_, place), first in zip(valid, firsts, strict=True) if first]
            errors += [f"{place}: id: repeats the id of an earlier statement" for place in repeats]
            checked.add(errors)
            checked.keep([s for s, first in zip(statements, firsts, strict=True) if not first])
            checked.rows += len(chunk)
            checked.good += len(valid) - len(repeats)
    return checked


def batches(
    path: Path, file: Path, checked: Checked, ingest: IngestStatements, size: int
) -> Iterator[list[Statement]]:
    """The good statements of `path` read again and parsed, in batches of `size` (those the
    first read kept, when it kept them)."""
    if checked.kept is not None:
        yield from chunks(checked.kept, size)
        return
    read = ((n, (place, value)) for n, place, value in read_statements(path, file))
    for batch in chunks(without_bad(read, checked), size):
        statements, problems = ingest.parse([value for _, (_, value) in batch], derive_ids=True)
        if problems:  # valid when checked
            raise changed(file, batch[int(problems[0]["index"])][1][0])  # type: ignore[call-overload]
        yield statements
