"""xAPI backfill from an LRS export, and learner erasure."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from marshmallow import ValidationError

from application.use_cases.ingest_xapi import XapiResult
from domain.model import UserId
from entrypoints.cli.base import BATCH, cli, container_of
from entrypoints.cli.imports import _say
from entrypoints.cli.two_reads import readable_twice
from entrypoints.cli.xapi_passes import batches, check
from entrypoints.config import ConfigError
from entrypoints.schemas import path_id


def summary(result: XapiResult, statements: int, conflicts: int) -> str:
    ignored = sum(result.ignored.values())
    reasons = ", ".join(f"{r}: {n}" for r, n in result.ignored.most_common())
    return (
        f"{statements} statements: {result.accepted} events stored, "
        f"{result.duplicates} duplicates, {result.voided} events voided, "
        f"{conflicts} conflicts, {ignored} ignored" + (f" ({reasons})" if reasons else "")
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
    try:
        use_case = container_of(ctx, lasting=True).ingest_statements()
    except ConfigError as error:  # the mapping file (RS_XAPI_MAPPING), read only now
        raise click.ClickException(str(error)) from None
    # Read twice, every statement checked before any is stored (a bad one refuses the export
    # whole), so that what is held is a chunk of statements, not the export: about 1 KB a
    # statement held did not fit an LRS's 10 million.
    with readable_twice(file) as path:
        checked = check(path, file, use_case)
        if not checked.rows:  # "0 statements: 0 events stored" would pass for a success
            raise click.ClickException(f"nothing was imported: {file} holds no statements")
        bad = len(checked.bad_places)
        _say(checked.shown, checked.errors, bad, skip_invalid, "statements", good=checked.good)
        total, conflicts = XapiResult(), 0
        with click.progressbar(
            length=checked.good, label="importing statements", file=sys.stderr
        ) as bar:
            for batch in batches(path, file, checked, use_case, batch_size):
                result = use_case.store(batch, skip_conflicts=True)
                conflicts += len(result.conflicts)
                # every id, or every conflict's, would grow with the export again
                result.ids, result.conflicts = [], result.conflicts[: 20 - len(total.conflicts)]
                total.add(result)
                bar.update(len(batch))
    for statement_id in total.conflicts:
        click.echo(f"conflict: {statement_id} was stored with different content; skipped", err=True)
    click.echo(summary(total, checked.good, conflicts))


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
    erasure = container_of(ctx, lasting=True).erase_learner().execute(learner)
    removed = ", ".join(f"{n} {what}" for what, n in erasure.counts.items())
    click.echo(f"erased {user_id} at {erasure.erased_at.isoformat()}: removed {removed}")
