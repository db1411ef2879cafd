"""Catalog and event imports from files (CSV or JSON lines), bad rows named by line."""

from __future__ import annotations

from pathlib import Path

import click
from marshmallow import Schema

from domain.errors import DomainError
from entrypoints.cli.base import BATCH, cli, container_of
from entrypoints.cli.data import ingest
from entrypoints.files import NotUtf8, Parsed, parse_file
from entrypoints.schemas import CourseSchema, EventSchema


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
