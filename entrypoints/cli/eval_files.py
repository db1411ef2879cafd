"""An operator's own history for `recsys eval --dataset csv`, read with import-interactions' rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from application.evaluation.dataset import Dataset
from application.use_cases.log_interactions import differences
from domain.model import CourseId, Interaction
from entrypoints.cli.imports import _report, by_line, once_each, reused_ids
from entrypoints.files import Parsed, UnreadableFile, parse_file
from entrypoints.schemas import CourseSchema, EventSchema

STEMS = ("courses", "interactions", "train", "test")
REFUSED = "nothing was evaluated (use --skip-invalid to leave them out)"


def files_dataset(
    directory: Path, skip_invalid: bool = False, max_clock_skew: float = 300.0
) -> Dataset:
    """courses.csv|jsonl with interactions.csv|jsonl (split by the protocol), or with train and
    test (a split of the operator's own). A bad row stops the evaluation, as it stops an import,
    unless `skip_invalid` leaves it out: an event without a time (which would be the time of
    reading, the latest of all), of a course the catalog does not hold (which the service could
    never recommend, yet would count as missed), whose event_id names another event, or dated
    more than `max_clock_skew` seconds in the future (a mistyped year, as the import says)."""
    found = _layout(directory)
    parsed = _parse(found["courses"], CourseSchema())
    if not parsed.items and not parsed.errors:  # else every event is "of an unknown course"
        raise click.ClickException(
            f"nothing was evaluated: {found['courses'].name} holds no course rows"
        )
    errors = list(parsed.errors)
    courses, _ = once_each(parsed, errors)
    _report(_named(found["courses"], by_line(errors)), skip_invalid, "course rows", REFUSED)
    known = {c.course_id for c in courses}
    catalog = found["courses"].name
    if errors:  # left out by --skip-invalid: the file may list a course its events name
        catalog += ", or in a row of it left out as bad"
    errors, parts = [], {}
    #: event_id -> the file and line that gave it first: an event is training or test, not both
    first: dict[str, tuple[Path, int, Interaction]] = {}
    latest = (datetime.now(UTC) + timedelta(seconds=max_clock_skew), int(max_clock_skew))
    for stem in ("interactions", "train", "test"):
        if stem in found:
            parts[stem] = _events(found[stem], known, first, errors, catalog, latest)
    _report(errors, skip_invalid, "event rows", REFUSED)
    train = parts.get("interactions", parts.get("train", []))
    # in id order, as the repositories list them: courses tied in score come in catalog order,
    # and the same history must give the same figures from files as from the database
    courses = sorted(courses, key=lambda course: course.course_id)
    # resolved: `--data-dir .` (run from inside the folder) has no name of its own
    return Dataset(directory.resolve().name, courses, train, parts.get("test"))


def _layout(directory: Path) -> dict[str, Path]:
    """stem -> its file; a layout that could be read two ways is refused, as a guess would
    evaluate something other than what the operator meant."""
    found = {}
    for stem in STEMS:
        paths = [directory / f"{stem}{ext}" for ext in (".csv", ".jsonl")]
        paths = [p for p in paths if p.exists()]
        for path in paths:
            if not path.is_file():
                raise click.ClickException(f"{path} is not a file")
        if len(paths) > 1:
            raise click.ClickException(
                f"{directory} holds both {paths[0].name} and {paths[1].name}; keep the one to evaluate"
            )
        if paths:
            found[stem] = paths[0]
    own = " and ".join(found[s].name for s in ("train", "test") if s in found)
    if "interactions" in found and own:
        raise click.ClickException(
            f"{directory} holds {found['interactions'].name} and {own}: either all the events "
            "(interactions, split by --protocol) or a split of your own (train and test, "
            "--protocol fixed); move out the file(s) not meant, or rename interactions to "
            "train if it holds the training part"
        )
    if ("train" in found) != ("test" in found):
        raise click.ClickException(
            f"{directory} holds {own} alone: a split of your own is train.csv|jsonl and "
            "test.csv|jsonl"
        )
    if "courses" not in found:
        raise click.ClickException(f"{directory} needs courses.csv|jsonl")
    if "interactions" not in found and "train" not in found:
        raise click.ClickException(
            f"{directory} needs interactions.csv|jsonl (or train and test, a split of your own)"
        )
    return found


def _parse(path: Path, schema: CourseSchema | EventSchema) -> Parsed:
    # an evaluation orders events by their time: one without it is no row of it
    needed = ("occurred_at",) if isinstance(schema, EventSchema) else ()
    try:
        return parse_file(path, schema, needed)
    except UnreadableFile as error:
        raise click.ClickException(str(error)) from None


def _events(
    path: Path,
    known: set[CourseId],
    first: dict[str, tuple[Path, int, Interaction]],
    errors: list[str],
    catalog: str,
    latest: tuple[datetime, int],
) -> list[Interaction]:
    """The file's good events, each once (a row repeated as it was is a retry); its bad rows
    go to `errors`, named by file and line."""
    parsed = _parse(path, EventSchema())
    found = list(parsed.errors)
    bad = reused_ids(parsed, found)
    repeats = 0
    events = []
    for index, (event, line) in enumerate(zip(parsed.items, parsed.lines, strict=True)):
        problems = []
        if event.time_of_arrival:
            problems.append("occurred_at: missing; an evaluation orders events by their time")
        if event.occurred_at > latest[0]:
            problems.append(
                f"occurred_at: lies more than {latest[1]} s in the future (RS_MAX_CLOCK_SKEW)"
            )
        if event.course_id not in known:
            problems.append(f"course_id: unknown course {event.course_id!r} (not in {catalog})")
        earlier = first.setdefault(event.event_id, (path, line, event))
        if earlier[0] != path:
            differ = differences(earlier[2], event)
            problems.append(
                f"event_id: repeats event {event.event_id!r} of {earlier[0].name} line "
                f"{earlier[1]}" + (f" with a different {', '.join(differ)}" if differ else "")
            )
        elif earlier[1] != line and index not in bad:
            repeats += 1  # the same event again: counted once, as an import does
            continue
        found += [f"line {line}: {problem}" for problem in problems]
        if not problems and index not in bad:
            events.append(event)
    errors += _named(path, by_line(found))
    if repeats:
        click.echo(f"{path.name}: {repeats} rows repeat an earlier row and count once", err=True)
    return events


def _named(path: Path, errors: list[str]) -> list[str]:
    return [f"{path.name} {error}" for error in errors]
