"""The database schema, and the demo LMS."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import click

from application.ports import LockWaitTimedOut, UnusableDatabase
from application.use_cases.erase_learner import last_erased
from application.use_cases.log_interactions import LogResult, log_within
from application.use_cases.update_bandit import UpdateResult
from domain.model import Interaction
from entrypoints.cli.base import BATCH, cli, container_of, unpublished
from entrypoints.progress import Progress

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
    try:
        left = container.migrate()
    except UnusableDatabase as error:  # e.g. a SQLite path naming a file that is no database
        raise click.ClickException(str(error)) from None
    except LockWaitTimedOut as error:
        # The database is up: another session kept a table the migration changes in use through
        # every try (a trainer reads every event in one transaction at each cycle's start, for
        # seconds to minutes). Each try changed nothing (one transaction).
        raise click.ClickException(
            "the schema was left as it was: another session kept a table it changes in use "
            f"through every try ({error}), a trainer reading the events or a long query; stop "
            "the trainers, or run `recsys init-db` again"
        ) from None
    if left is None:  # else a newer version's schema, left as it is (logged)
        click.echo("database is at the latest schema")


def ingest(container: Container, events: Sequence[Interaction], label: str) -> LogResult:
    """Log events in batches of BATCH with a progress bar; returns the batches' results added."""
    batches = (events[start : start + BATCH] for start in range(0, len(events), BATCH))
    return ingest_batches(container, batches, len(events), label)


def ingest_batches(
    container: Container, batches: Iterable[Sequence[Interaction]], total: int, label: str
) -> LogResult:
    """Log each batch in a transaction of its own, with a progress bar of `total` events."""
    log = container.log_interactions()
    accepted = duplicates = 0
    ignored: Counter[str] = Counter()
    with Progress(label, total, unit="events") as progress:
        for batch in batches:
            result = log.execute(batch)
            accepted += result.accepted
            duplicates += result.duplicates
            ignored.update(result.ignored)
            progress.advance(len(batch))
    return LogResult(accepted, duplicates, ignored)


def said_ignored(result: LogResult) -> str:
    """The events ignored and why, as import-xapi says it ("" when none were)."""
    reasons = ", ".join(f"{reason}: {n}" for reason, n in result.ignored.items())
    return f"; {sum(result.ignored.values())} ignored ({reasons})" if reasons else ""


SERVED_DAYS = 30


def _not_stored(container: Container, events: list[Interaction]) -> list[Interaction]:
    """The events whose ids are not stored yet (asked a thousand at a time: one query each)."""
    stored: set[str] = set()
    with container.uow() as uow:
        for start in range(0, len(events), 1000):
            stored |= set(uow.interactions.stored(e.event_id for e in events[start : start + 1000]))
    return [e for e in events if e.event_id not in stored]


def _any_events(container: Container) -> bool:
    with container.uow() as uow:
        return uow.interactions.count() > 0


def _credit(container: Container) -> UpdateResult:
    """The bandit credited with the demo's served lists (every one: none is left to settle).
    A store that refuses it (a full disk, a role without grants on the database's artifact
    tables) is one line; the lists stay stored, and the next run credits them."""
    try:
        return container.update_bandit().execute(24.0 * (SERVED_DAYS + 1), 1, 0.0)
    except OSError as error:
        raise unpublished("bandit", error) from None


def _erased(container: Container, users: Iterable[str]) -> set[str]:
    with container.uow() as uow:
        return set(last_erased(uow, users))


@cli.command("demo-data")
@click.option("--seed", default=42, show_default=True, help="Same seed, same learners and events.")
@click.option("--learners", default=3000, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--if-empty",
    is_flag=True,
    help="Do nothing when the catalog already has courses, unless they are this demo's and a "
    "run of it stopped midway (some of its events stored, or no events at all): then finish it.",
)
@click.pass_context
def demo(ctx: click.Context, seed: int, learners: int, if_empty: bool) -> None:
    """Load a generated LMS catalog and learner events (ids course_python_basic, user1, ...)."""
    container = container_of(ctx, lasting=True)
    with container.uow() as uow:
        existing = uow.courses.count()
    data = container.demo_data()(seed=seed, learners=learners)
    # A demo course stored already stays as it is (an operator may have edited or retired it):
    # loading the demo again adds what is missing and writes over nothing.
    with container.uow() as uow:
        stored = uow.courses.existing(c.course_id for c in data.courses)
    # --if-empty leaves a catalog alone, unless it is this demo's and a run of it stopped midway
    # (`make run` stopped while it loaded: the next one finishes it)
    unless = f"the catalog has {existing} courses already; demo data not loaded"
    if if_empty and existing and not existing == len(stored) == len(data.courses):
        click.echo(unless)
        return
    # The demo's times follow the day it is loaded, its event ids do not: the events of an
    # earlier run (same seed) are left as they were, not logged again at other times. For the
    # same reason an erased demo learner is left out whole: all of theirs is what was erased,
    # though the times of this run may put some of it after the erasure.
    erased = _erased(container, {e.user_id for e in data.interactions})
    left_out = f" (erased learners left out: {len(erased)})" if erased else ""
    kept = [e for e in data.interactions if e.user_id not in erased]
    fresh = _not_stored(container, kept)
    if if_empty and existing and len(fresh) == len(kept) and _any_events(container):
        click.echo(unless)  # the demo's courses, and events of another demo or of learners
        return
    container.upsert_courses().execute([c for c in data.courses if c.course_id not in stored])
    loaded = f"the demo's {len(data.interactions)} events from {learners} learners (seed {seed})"
    if fresh:
        accepted = ingest(container, fresh, "loading demo events").accepted
        click.echo(
            f"loaded {len(data.courses)} courses and {accepted} new events from {learners} "
            f"learners{left_out}"
        )
    # Served once: a run after them (more learners, or the demo's events loaded since they
    # were) serving them again would add another 30 days of lists at other times.
    if container.demo_lists_served()(container.uow):
        if not fresh:
            click.echo(f"{loaded} are loaded already; nothing added{left_out}")
        if container.bandit().current()[1].counted_until is None:  # stopped before this
            click.echo(f"the demo's served lists: {_credit(container).message}")
        return
    if not fresh:  # an earlier run stopped after its events: its lists were never served
        click.echo(f"{loaded} are loaded already; its served lists are not{left_out}")
    served = container.demo_slates()(data.courses, learners, seed=seed, days=SERVED_DAYS)
    erased = _erased(container, {s.user_id for s in served.slates})
    clicks = [e for e in served.interactions if e.user_id not in erased]
    # The lists and their clicks together: their ids follow the time of the run, so clicks a
    # stopped run left out could never be made again for the lists it stored.
    with container.uow() as uow:
        known = uow.slates.existing(s.recommendation_id for s in served.slates)
        for slate in served.slates:
            if slate.recommendation_id not in known and slate.user_id not in erased:
                uow.slates.add(slate)
        outcomes = log_within(uow, clicks).accepted
        uow.commit()
    bandit = _credit(container)
    click.echo(
        f"served {len(served.slates)} demo recommendation lists over {SERVED_DAYS} days "
        f"with {outcomes} attributed clicks and enrolments; {bandit.message}"
    )
