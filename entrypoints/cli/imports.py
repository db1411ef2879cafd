"""Catalog and event imports from files (CSV or JSON lines), bad rows named by line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click
from marshmallow import Schema

from application.use_cases.log_interactions import differences
from application.use_cases.upsert_courses import UpsertCourses
from domain.errors import DomainError
from domain.model import Course
from entrypoints.cli.base import BATCH, cli, container_of
from entrypoints.cli.data import ingest, said_ignored
from entrypoints.files import NotUtf8, Parsed, parse_file
from entrypoints.schemas import CourseSchema, EventSchema


def _report(
    errors: list[str],
    skip_invalid: bool,
    what: str,
    refused: str = "nothing was written (use --skip-invalid to keep the good rows)",
) -> None:
    """Each error starts with its row's place ("line 4: ..."); a row with two errors is one
    bad row."""
    if not errors:
        return
    for line in errors[:50]:
        click.echo(line, err=True)
    if len(errors) > 50:
        click.echo(f"... and {len(errors) - 50} more", err=True)
    rows = len({error.split(":", 1)[0] for error in errors})
    if not skip_invalid:
        raise click.ClickException(f"{rows} invalid {what}; {refused}")
    click.echo(f"skipping {rows} invalid {what}", err=True)


def _parse(file: Path, schema: Schema, what: str) -> Parsed:
    try:
        parsed = parse_file(file, schema)
    except NotUtf8 as error:
        raise click.ClickException(str(error)) from None
    if not parsed.items and not parsed.errors:  # "imported 0" would pass for a success
        raise click.ClickException(f"nothing was imported: {file} holds no {what}")
    return parsed


@cli.command("import-courses")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Keep the good rows when some are invalid.")
@click.pass_context
def import_courses(ctx: click.Context, file: Path, skip_invalid: bool) -> None:
    """Upsert courses from FILE (.csv, or JSON lines); tags and prerequisites are |-separated in CSV."""
    parsed = _parse(file, CourseSchema(), "course rows")
    errors = list(parsed.errors)
    courses, lines = once_each(parsed, errors)
    use_case = container_of(ctx).upsert_courses()
    courses = _with_prerequisites(use_case, courses, lines, errors, skip_invalid)
    _report(by_line(errors), skip_invalid, "course rows")
    try:
        count = use_case.execute(courses)
    except DomainError as error:  # the catalog changed since the check
        raise click.ClickException(str(error)) from None
    click.echo(f"imported {count} courses")
    for retired, needed_by in use_case.still_required_by(courses).items():
        click.echo(
            f"course {retired} is inactive, but active courses still require it: "
            f"{', '.join(needed_by)} (no longer recommended to learners who have not taken it)",
            err=True,
        )


def once_each(parsed: Parsed, errors: list[str]) -> tuple[list[Course], list[int]]:
    """The courses and their lines, a course named twice being a bad row (added to `errors`),
    as in a POST /courses batch: the later copy would win."""
    first: dict[str, int] = {}
    courses, lines = [], []
    for course, line in zip(parsed.items, parsed.lines, strict=True):
        if course.course_id in first:
            errors.append(
                f"line {line}: course_id: repeats course {course.course_id!r} of line "
                f"{first[course.course_id]}"
            )
        else:
            first[course.course_id] = line
            courses.append(course)
            lines.append(line)
    return courses, lines


def _with_prerequisites(
    use_case: UpsertCourses,
    courses: list[Course],
    lines: list[int],
    errors: list[str],
    skip_invalid: bool,
) -> list[Course]:
    """The courses whose prerequisites exist and lead to no cycle; the others go to `errors`.
    Skipping a course can leave another row's prerequisite unknown: with `skip_invalid`, check
    again until nothing changes."""
    later = ""
    while problems := use_case.check(courses):
        bad = set()
        for problem in problems:
            index = int(problem["index"])  # type: ignore[call-overload]
            bad.add(index)
            errors.append(f"line {lines[index]}: {problem['field']}: {problem['message']}{later}")
        courses = [c for i, c in enumerate(courses) if i not in bad]
        lines = [n for i, n in enumerate(lines) if i not in bad]
        if not skip_invalid:
            break
        later = " once the bad rows are skipped"
    return courses


@cli.command("import-interactions")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Keep the good rows when some are invalid.")
@click.pass_context
def import_interactions(ctx: click.Context, file: Path, skip_invalid: bool) -> None:
    """Log events from FILE (.csv, or JSON lines), in batches; re-importing never double counts.
    An event credited to a list this database never served (exported from another one) is
    logged without that credit, and the count said."""
    parsed = _parse(file, EventSchema(), "event rows")
    use_case = container_of(ctx).log_interactions()
    errors = list(parsed.errors)
    bad = reused_ids(parsed, errors)
    rows = [i for i in range(len(parsed.items)) if i not in bad]
    uncredited: set[int] = set()
    for start in range(0, len(rows), 10 * BATCH):
        chunk = rows[start : start + 10 * BATCH]
        unserved = use_case.unserved([parsed.items[i] for i in chunk])
        for i in chunk:
            if parsed.items[i].recommendation_id in unserved:
                parsed.items[i] = replace(parsed.items[i], recommendation_id=None)
                uncredited.add(i)
        for problem in use_case.check([parsed.items[i] for i in chunk]):
            index = chunk[int(problem["index"])]  # type: ignore[call-overload]
            bad.add(index)
            errors.append(f"line {parsed.lines[index]}: {problem['field']}: {problem['message']}")
    _report(by_line(errors), skip_invalid, "event rows")
    good = [e for i, e in enumerate(parsed.items) if i not in bad]
    uncredited -= bad
    try:
        result = ingest(container_of(ctx), good, "importing events")
    except DomainError as error:  # someone else logged a conflicting event since the check
        raise click.ClickException(
            f"{error}; the batches before it were stored (importing again never counts them twice)"
        ) from None
    click.echo(
        f"imported {result.accepted} events ({result.duplicates} already stored)"
        + said_ignored(result)
        + (
            f"; {len(uncredited)} named a list this database never served, logged without "
            "that credit"
            if uncredited
            else ""
        )
    )


def reused_ids(parsed: Parsed, errors: list[str]) -> set[int]:
    """Rows whose event_id an earlier row of the file gave to a different event (a row repeated
    as it was is a retry, counted once); said by line, which a check per chunk could not do."""
    first: dict[str, int] = {}
    bad = set()
    for index, event in enumerate(parsed.items):
        earlier = first.setdefault(event.event_id, index)
        differ = differences(parsed.items[earlier], event)
        if differ:
            bad.add(index)
            errors.append(
                f"line {parsed.lines[index]}: event_id: repeats event {event.event_id!r} of line "
                f"{parsed.lines[earlier]} with a different {', '.join(differ)}"
            )
    return bad


def by_line(errors: list[str]) -> list[str]:
    """Errors in file order; each starts with "line N:", and a line's own errors keep theirs."""
    return sorted(errors, key=lambda error: int(error.split(":", 1)[0].removeprefix("line ")))
