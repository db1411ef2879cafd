"""Database, catalog and event imports, and the demo LMS."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from marshmallow import Schema

from domain.errors import DomainError
from domain.model import Interaction
from entrypoints.cli.base import BATCH, cli, container_of
from entrypoints.files import NotUtf8, Parsed, parse_file
from entrypoints.progress import Progress
from entrypoints.schemas import CourseSchema, EventSchema

if TYPE_CHECKING:
    from entrypoints.container import Container


@cli.command("init-db")
@click.pass_context
def init_db(ctx: click.Context) -> None:
    """Create or upgrade the database schema (alembic upgrade head)."""
    container = container_of(ctx, schema=False)
    if container.backend() == "memory":
        click.echo("in-memory backend: nothing to migrate")
        return
    if container.migrate() is None:  # else a newer version's schema, left as it is (logged)
        click.echo("database is at the latest schema")


def _report(errors: list[str], skip_invalid: bool, what: str) -> None:
    if not errors:
        return
    for line in errors[:50]:
        click.echo(line, err=True)
    if len(errors) > 50:
        click.echo(f"... and {len(errors) - 50} more", err=True)
    if not skip_invalid:
        raise click.ClickException(
            f"{len(errors)} invalid {what}; nothing was written (use --skip-invalid to keep the good rows)"
        )
    click.echo(f"skipping {len(errors)} invalid {what}", err=True)


def _parse(file: Path, schema: Schema) -> Parsed:
    try:
        return parse_file(file, schema)
    except NotUtf8 as error:
        raise click.ClickException(str(error)) from None


@cli.command("import-courses")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Keep the good rows when some are invalid.")
@click.pass_context
def import_courses(ctx: click.Context, file: Path, skip_invalid: bool) -> None:
    """Upsert courses from FILE (.csv, or JSON lines); tags and prerequisites are |-separated in CSV."""
    parsed = _parse(file, CourseSchema())
    # a course named twice is a bad row, as in a POST /courses batch (the later copy would win)
    first: dict[str, int] = {}
    courses = []
    for course, line in zip(parsed.items, parsed.lines, strict=True):
        if course.course_id in first:
            parsed.errors.append(
                f"line {line}: course_id: repeats course {course.course_id!r} of line "
                f"{first[course.course_id]}"
            )
        else:
            first[course.course_id] = line
            courses.append(course)
    _report(parsed.errors, skip_invalid, "course rows")
    try:
        count = container_of(ctx).upsert_courses().execute(courses)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"imported {count} courses")


@cli.command("import-interactions")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Keep the good rows when some are invalid.")
@click.pass_context
def import_interactions(ctx: click.Context, file: Path, skip_invalid: bool) -> None:
    """Log events from FILE (.csv, or JSON lines), in batches; re-importing never double counts."""
    parsed = _parse(file, EventSchema())
    use_case = container_of(ctx).log_interactions()
    errors = list(parsed.errors)
    bad: set[int] = set()
    for start in range(0, len(parsed.items), 10 * BATCH):
        chunk = parsed.items[start : start + 10 * BATCH]
        for problem in use_case.check(chunk):
            index = start + int(problem["index"])  # type: ignore[call-overload]
            bad.add(index)
            errors.append(f"line {parsed.lines[index]}: {problem['field']}: {problem['message']}")
    _report(errors, skip_invalid, "event rows")
    good = [e for i, e in enumerate(parsed.items) if i not in bad]
    accepted, duplicates = ingest(container_of(ctx), good, "importing events")
    click.echo(f"imported {accepted} events ({duplicates} already stored)")


def ingest(container: Container, events: Sequence[Interaction], label: str) -> tuple[int, int]:
    """Log events in batches of BATCH with a progress bar; returns (accepted, duplicates)."""
    log = container.log_interactions()
    accepted = duplicates = 0
    with Progress(label, len(events), unit="events") as progress:
        for start in range(0, len(events), BATCH):
            result = log.execute(events[start : start + BATCH])
            accepted += result.accepted
            duplicates += result.duplicates
            progress.advance(min(BATCH, len(events) - start))
    return accepted, duplicates


SERVED_DAYS = 30


def _not_stored(container: Container, events: list[Interaction]) -> list[Interaction]:
    """The events whose ids are not stored yet (asked a thousand at a time: one query each)."""
    stored: set[str] = set()
    with container.uow() as uow:
        for start in range(0, len(events), 1000):
            stored |= set(uow.interactions.stored(e.event_id for e in events[start : start + 1000]))
    return [e for e in events if e.event_id not in stored]


@cli.command("demo-data")
@click.option("--seed", default=42, show_default=True, help="Same seed, same learners and events.")
@click.option("--learners", default=3000, show_default=True, type=click.IntRange(min=1))
@click.option("--if-empty", is_flag=True, help="Do nothing when the catalog already has courses.")
@click.pass_context
def demo(ctx: click.Context, seed: int, learners: int, if_empty: bool) -> None:
    """Load a generated LMS catalog and learner events (ids course_python_basic, user1, ...)."""
    container = container_of(ctx)
    with container.uow() as uow:
        existing = uow.courses.count()
    if if_empty and existing:
        click.echo(f"the catalog has {existing} courses already; demo data not loaded")
        return
    data = container.demo_data()(seed=seed, learners=learners)
    container.upsert_courses().execute(data.courses)
    # The demo's times follow the day it is loaded, its event ids do not: the events of an
    # earlier run (same seed) are left as they were, not logged again at other times.
    fresh = _not_stored(container, data.interactions)
    if not fresh:
        click.echo(
            f"the demo's {len(data.interactions)} events from {learners} learners (seed {seed}) "
            "are loaded already; nothing added"
        )
        return
    accepted, _ = ingest(container, fresh, "loading demo events")
    click.echo(
        f"loaded {len(data.courses)} courses and {accepted} new events from {learners} learners"
    )
    served = container.demo_slates()(data.courses, learners, seed=seed, days=SERVED_DAYS)
    with container.uow() as uow:
        known = uow.slates.existing(s.recommendation_id for s in served.slates)
        for slate in served.slates:
            if slate.recommendation_id not in known:
                uow.slates.add(slate)
        uow.commit()
    outcomes, _ = ingest(container, served.interactions, "loading demo clicks on served lists")
    bandit = container.update_bandit().execute(24.0 * (SERVED_DAYS + 1), 1, 0.0)
    click.echo(
        f"served {len(served.slates)} demo recommendation lists over {SERVED_DAYS} days "
        f"with {outcomes} attributed clicks and enrolments; {bandit.message}"
    )
