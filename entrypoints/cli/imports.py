"""Catalog and event imports from files (CSV or JSON lines), bad rows named by line."""

from __future__ import annotations

from pathlib import Path

import click
from marshmallow import Schema

from application.closed_prerequisites import ClosedPrerequisite
from application.use_cases.log_interactions import differences
from application.use_cases.upsert_courses import UpsertCourses
from domain.errors import DomainError
from domain.model import Course
from entrypoints.cli.base import BATCH, cli, container_of
from entrypoints.cli.data import ingest_batches, said_ignored
from entrypoints.cli.event_passes import Batches, check
from entrypoints.cli.two_reads import SHOWN, readable_twice
from entrypoints.files import Parsed, UnreadableFile, parse_file
from entrypoints.schemas import CourseSchema

#: closed prerequisites said one by one; a file's others are counted
WARNED = 20
REFUSED = "nothing was written (use --skip-invalid to keep the good rows)"


def _report(
    errors: list[str],
    skip_invalid: bool,
    what: str,
    refused: str = REFUSED,
    good: int | None = None,
) -> None:
    """Each error starts with its row's place ("line 4: ..."); a row with two errors is one
    bad row."""
    rows = len({error.split(":", 1)[0] for error in errors})
    _say(errors[:SHOWN], len(errors), rows, skip_invalid, what, refused, good)


def _say(
    shown: list[str],
    errors: int,
    rows: int,
    skip_invalid: bool,
    what: str,
    refused: str = REFUSED,
    good: int | None = None,
) -> None:
    """The first of `errors` (`shown`) and how many rows they are: refused, or skipped (unless
    none of the `good` rows is left: "imported 0" would pass for a success)."""
    if not errors:
        return
    for line in shown:
        click.echo(line, err=True)
    if errors > len(shown):
        click.echo(f"... and {errors - len(shown)} more", err=True)
    if not skip_invalid:
        raise click.ClickException(f"{rows} invalid {what}; {refused}")
    if good == 0:
        raise click.ClickException(f"nothing was imported: all {rows} {what} are invalid")
    click.echo(f"skipping {rows} invalid {what}", err=True)


def _parse(file: Path, schema: Schema, what: str) -> Parsed:
    try:
        parsed = parse_file(file, schema)
    except UnreadableFile as error:
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
    use_case = container_of(ctx, lasting=True).upsert_courses()
    courses = _with_prerequisites(use_case, courses, lines, errors, skip_invalid)
    _report(by_line(errors), skip_invalid, "course rows", good=len(courses))
    try:
        count = use_case.execute(courses)
    except DomainError as error:  # the catalog changed since the check
        raise click.ClickException(str(error)) from None
    click.echo(f"imported {count} courses")
    _warn(use_case.closed_prerequisites(courses))


def _warn(closed: list[ClosedPrerequisite]) -> None:
    """A line for each course requiring a retired one (or one the catalog does not have), the
    first WARNED of a large file and how many in all."""
    for warning in closed[:WARNED]:
        click.echo(warning.message, err=True)
    if len(closed) > WARNED:
        courses = len({c.course_id for c in closed})
        click.echo(
            f"... and {len(closed) - WARNED} more; {courses} courses in all require a retired "
            "course or one the catalog does not have",
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
@click.option("--batch-size", type=click.IntRange(1, 50_000), default=BATCH, show_default=True)
@click.pass_context
def import_interactions(
    ctx: click.Context, file: Path, skip_invalid: bool, batch_size: int
) -> None:
    """Log events from FILE (.csv, or JSON lines), in batches; re-importing never double counts
    a row with an event_id or occurred_at (one with neither is stamped on arrival). An event
    credited to a list this database never served (exported from another one) is logged
    without that credit, and the count said."""
    container = container_of(ctx, lasting=True)
    log = container.log_interactions()
    # Read twice, every row checked before any is written (a bad row refuses the file whole),
    # so that what is held is a chunk of rows, not the file: 330 B an event held did not fit
    # an LMS's 50 million.
    with readable_twice(file) as path:
        try:
            checked = check(path, log)
        except UnreadableFile as error:  # a pipe's copy is named as the pipe
            raise click.ClickException(str(error).replace(str(path), str(file))) from None
        if not checked.rows:  # "imported 0" would pass for a success
            raise click.ClickException(f"nothing was imported: {file} holds no event rows")
        bad = len(checked.bad_places)
        _say(checked.shown, checked.errors, bad, skip_invalid, "event rows", good=checked.good)
        batches = Batches(path, checked, log, batch_size)
        try:
            result = ingest_batches(container, batches, checked.good, "importing events")
        except DomainError as error:  # someone else logged a conflicting event since the check
            raise click.ClickException(
                f"{error}; the batches before it were stored (importing again never counts them "
                "twice)"
            ) from None
    click.echo(
        f"imported {result.accepted} events ({result.duplicates} already stored)"
        + said_ignored(result)
        + (
            f"; {batches.uncredited} named a list this database never served, logged without "
            "that credit"
            if batches.uncredited
            else ""
        )
        + (
            f"; {len(checked.repeated)} rows repeat an earlier row and count once"
            if checked.repeated
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
