"""xAPI backfill from an LRS export, and learner erasure."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from marshmallow import ValidationError

from application.use_cases.ingest_xapi import XapiResult
from application.xapi_statements import Statement
from domain.model import UserId
from entrypoints.cli.base import BATCH, cli, container_of
from entrypoints.cli.imports import _report
from entrypoints.files import NotJsonArray, NotUtf8, read_json_values
from entrypoints.schemas import path_id


def read_statements(file: Path, size: int) -> Iterator[tuple[list[Any], list[str], list[str]]]:
    """Chunks of (statements, where each came from, unreadable ones) from a JSON array or JSON
    lines, read as they go: the file's text and its nested dicts never all live at once (the
    garbage collector rescans live containers, and 100k statements' dicts made reading 4x
    slower)."""
    statements: list[Any] = []
    places: list[str] = []
    errors: list[str] = []
    try:
        for place, value in read_json_values(file, item="statement"):
            if isinstance(value, ValueError):
                errors.append(f"{place}: {value}")
                continue
            statements.append(value)
            places.append(place)
            if len(statements) == size:
                yield statements, places, errors
                statements, places, errors = [], [], []
    except NotUtf8 as error:
        raise click.ClickException(str(error)) from None
    except NotJsonArray as error:
        raise click.ClickException(f"{file}: {error}") from None
    yield statements, places, errors


def summary(result: XapiResult, statements: int) -> str:
    ignored = sum(result.ignored.values())
    reasons = ", ".join(f"{r}: {n}" for r, n in result.ignored.most_common())
    return (
        f"{statements} statements: {result.accepted} events stored, "
        f"{result.duplicates} duplicates, {result.voided} events voided, "
        f"{len(result.conflicts)} conflicts, {ignored} ignored"
        + (f" ({reasons})" if reasons else "")
    )


@cli.command("import-xapi")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Keep the valid statements when some are not.")
@click.option("--batch-size", type=click.IntRange(1, 50_000), default=BATCH, show_default=True)
@click.pass_context
def import_xapi(ctx: click.Context, file: Path, skip_invalid: bool, batch_size: int) -> None:
    """Backfill xAPI statements from an LRS export (a JSON array, or JSON lines), in batches.

    A statement id stored already is a duplicate (same content) or a conflict (different
    content, skipped); statements whose verb or activity is not mapped are counted as ignored."""
    use_case = container_of(ctx).ingest_statements()
    batches: list[list[Statement]] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for raws, places, unreadable in read_statements(file, batch_size):
        # Statements without an id get one derived from their content: importing twice is a no-op.
        statements, problems = use_case.parse(raws, derive_ids=True, seen=seen)
        errors += unreadable
        errors += [f"{places[int(p['index'])]}: {p['field']}: {p['message']}" for p in problems]  # type: ignore[call-overload]
        batches.append(statements)
    count = sum(len(b) for b in batches)
    if not count and not errors:  # "0 statements: 0 events stored" would pass for a success
        raise click.ClickException(f"nothing was imported: {file} holds no statements")
    _report(errors, skip_invalid, "statements")
    total = XapiResult()
    with click.progressbar(length=count, label="importing statements", file=sys.stderr) as bar:
        for batch in batches:
            total.add(use_case.store(batch, skip_conflicts=True))
            bar.update(len(batch))
    for statement_id in total.conflicts[:20]:
        click.echo(f"conflict: {statement_id} was stored with different content; skipped", err=True)
    click.echo(summary(total, count))


@cli.command("erase-learner")
@click.argument("user_id")
@click.confirmation_option(prompt="Erase every event, slate and statement of this learner?")
@click.pass_context
def erase_learner(ctx: click.Context, user_id: str) -> None:
    """Forget USER_ID: events, served slates, impressions, xAPI statements and attributions, in one
    transaction; the erasure (a hash of the id, the time, the counts) is recorded."""
    try:
        learner = UserId(path_id(user_id))
    except ValidationError as error:
        (problem,) = error.normalized_messages()["user_id"]
        raise click.ClickException(f"invalid learner id: {problem}") from None
    erasure = container_of(ctx).erase_learner().execute(learner)
    removed = ", ".join(f"{n} {what}" for what, n in erasure.counts.items())
    click.echo(f"erased {user_id} at {erasure.erased_at.isoformat()}: removed {removed}")
