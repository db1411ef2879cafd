"""SQLAlchemy implementations of the storage ports (Core statements, domain objects out)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from sys import intern
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Float,
    String,
    and_,
    any_,
    bindparam,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    true,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from adapters.sqlalchemy.tables import (
    catalog_revision,
    courses,
    daily_figure_changes,
    erasures,
    interactions,
    jobs,
    metadata,
    slate_items,
    slates,
    xapi_statements,
)
from application.ports import (
    CourseRepository,
    InteractionRepository,
    Job,
    JobRepository,
    Shown,
    SlateOutcome,
    SlateRepository,
)
from domain.model import (
    Course,
    CourseId,
    EventType,
    Interaction,
    LearnerHistory,
    Level,
    Recommendation,
    RecommendationId,
    Slate,
    UserId,
)


def utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; everything we store is UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _insert(connection: Connection, table):  # type: ignore[no-untyped-def]
    dialect = connection.dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def among(connection: Connection, column, values: Iterable[str]):  # type: ignore[no-untyped-def]
    """`column IN values` with one bound parameter (a PostgreSQL array, a JSON text for SQLite)
    instead of one per value: binding a thousand ids per batch cost more than the lookup."""
    wanted = sorted(set(values))
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, wanted, type_=postgresql.ARRAY(String)))
    listed = func.json_each(bindparam(None, json.dumps(wanted), type_=String)).table_valued("value")
    return column.in_(select(listed.c.value))


class bytewise(FunctionElement):  # noqa: N801 - used like a SQL function
    """Its text ordered byte by byte on every database, as the in-memory store orders: a tie at a
    limit, a page of the catalog and the catalog's order (which a fit breaks ties by) are then
    the same on SQLite as on a PostgreSQL created with a language's collation (en-US orders
    "course_a" before "Course_z")."""

    type = String()
    inherit_cache = True


@compiles(bytewise)
def _bytewise(element: bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return f'{compiler.process(element.clauses, **kw)} COLLATE "C"'


@compiles(bytewise, "sqlite")
def _bytewise_sqlite(element: bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))  # BINARY, SQLite's own


class database_now(FunctionElement):  # noqa: N801 - used like a SQL function
    """The database's clock, less `ago` (a timedelta; none by default): the one clock all hosts
    share, for times that hosts compare with times other hosts wrote (a job's heartbeats)."""

    type = DateTime(timezone=True)
    inherit_cache = True

    def __init__(self, ago: timedelta = timedelta(0)) -> None:
        super().__init__(literal(ago.total_seconds(), Float()))


@compiles(database_now)
def _database_now(element: database_now, compiler: SQLCompiler, **kw: Any) -> str:
    # the transaction's start: one moment for every statement of a unit of work
    return f"now() - make_interval(secs => {compiler.process(element.clauses, **kw)})"


@compiles(database_now, "sqlite")
def _database_now_sqlite(element: database_now, compiler: SQLCompiler, **kw: Any) -> str:
    # UTC, as SQLAlchemy stores our times, and in its text form (microseconds: 000 after %f's
    # milliseconds): stored times compare as text. CURRENT_TIMESTAMP has whole seconds only.
    ago = compiler.process(element.clauses, **kw)
    return f"strftime('%Y-%m-%d %H:%M:%f000', 'now', '-' || {ago} || ' seconds')"


def _course(row) -> Course:  # type: ignore[no-untyped-def]
    return Course(
        course_id=CourseId(row.course_id),
        title=row.title,
        description=row.description,
        category=row.category,
        level=Level(row.level),
        tags=tuple(row.tags),
        prerequisites=tuple(CourseId(p) for p in row.prerequisites),
        active=row.active,
    )


class SqlCourseRepository(CourseRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get(self, course_id: CourseId) -> Course | None:
        row = self.connection.execute(
            select(courses).where(courses.c.course_id == course_id)
        ).first()
        return _course(row) if row else None

    def page(self, limit: int, offset: int) -> list[Course]:
        query = select(courses).order_by(bytewise(courses.c.course_id)).limit(limit).offset(offset)
        return [_course(r) for r in self.connection.execute(query)]

    def count(self) -> int:
        return self.connection.execute(select(func.count()).select_from(courses)).scalar_one()

    def all(self) -> list[Course]:
        return [
            _course(r)
            for r in self.connection.execute(
                select(courses).order_by(bytewise(courses.c.course_id))
            )
        ]

    def upsert(self, items: Sequence[Course]) -> None:
        if not items:
            return
        now = datetime.now(UTC)
        rows = [
            {
                "course_id": c.course_id,
                "title": c.title,
                "description": c.description,
                "category": c.category,
                "level": c.level.value,
                "tags": list(c.tags),
                "prerequisites": list(c.prerequisites),
                "active": c.active,
                "updated_at": now,
            }
            for c in {c.course_id: c for c in items}.values()
        ]
        # the row a trigger raises on every write to courses (migration 0009), should it be gone
        self.connection.execute(
            _insert(self.connection, catalog_revision)
            .values(id=1, revision=time.time_ns() // 1000)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        stmt = _insert(self.connection, courses)
        replace = {name: stmt.excluded[name] for name in rows[0] if name != "course_id"}
        self.connection.execute(
            stmt.on_conflict_do_update(index_elements=["course_id"], set_=replace), rows
        )

    def hold(self) -> None:
        # A write to the revision row, which changes nothing: PostgreSQL locks the row, SQLite
        # the database, until the transaction ends (the trigger of every write to courses writes
        # the row too, so writers that do not hold the catalog first wait for it as well).
        stmt = _insert(self.connection, catalog_revision).values(
            id=1, revision=time.time_ns() // 1000
        )
        self.connection.execute(
            stmt.on_conflict_do_update(
                index_elements=["id"], set_={"revision": catalog_revision.c.revision}
            )
        )

    def existing(self, course_ids: Iterable[CourseId]) -> set[CourseId]:
        wanted = set(course_ids)
        if not wanted:
            return set()
        query = select(courses.c.course_id).where(courses.c.course_id.in_(wanted))
        return set(self.connection.execute(query).scalars())

    def stored(self, course_ids: Iterable[CourseId]) -> dict[CourseId, Course]:
        query = select(courses).where(among(self.connection, courses.c.course_id, course_ids))
        return {CourseId(r.course_id): _course(r) for r in self.connection.execute(query)}

    def required_by(self, course_ids: Iterable[CourseId]) -> dict[CourseId, list[CourseId]]:
        # one row per active course and prerequisite named, the JSON list unnested by the database
        unnest = (
            func.json_array_elements_text
            if self.connection.dialect.name == "postgresql"
            else func.json_each
        )
        named = unnest(courses.c.prerequisites).table_valued("value")
        query = (
            select(named.c.value, courses.c.course_id)
            .select_from(courses.join(named, true()))
            .where(courses.c.active, among(self.connection, named.c.value, course_ids))
            .order_by(bytewise(courses.c.course_id))
        )
        found: dict[CourseId, list[CourseId]] = {}
        for prerequisite, course_id in self.connection.execute(query):
            found.setdefault(CourseId(prerequisite), []).append(CourseId(course_id))
        return found

    def version(self) -> str:
        revision = self.connection.execute(
            select(catalog_revision.c.revision).where(catalog_revision.c.id == 1)
        ).scalar()
        return f"r{revision or 0}"


_EVENT_TYPES = {t.value: t for t in EventType}


def _interaction(row) -> Interaction:  # type: ignore[no-untyped-def]
    # Positional and without NewType calls: the trainer turns millions of rows into events and
    # holds them all, each learner's and course's id one string however many events name it
    # (the driver makes a string per row: interned, an event held takes a third less memory).
    event_id, user_id, course_id, event_type, occurred_at, recommendation_id = row
    return Interaction(
        event_id,
        intern(user_id),
        intern(course_id),
        _EVENT_TYPES[event_type],
        utc(occurred_at),
        recommendation_id or None,
    )


_EVENT_COLUMNS = (
    interactions.c.event_id,
    interactions.c.user_id,
    interactions.c.course_id,
    interactions.c.event_type,
    interactions.c.occurred_at,
    interactions.c.recommendation_id,
)


#: built once: building and hashing the statement cost more than running it (every request)
_HISTORY = (
    select(*_EVENT_COLUMNS)
    .where(interactions.c.user_id == bindparam("user_id"))
    .order_by(interactions.c.occurred_at, interactions.c.id)
)

_UNNEST_INSERT = text(
    """
    INSERT INTO interactions (event_id, user_id, course_id, event_type, occurred_at, recommendation_id)
    SELECT * FROM unnest(
        CAST(:event_id AS text[]), CAST(:user_id AS text[]), CAST(:course_id AS text[]),
        CAST(:event_type AS text[]), CAST(:occurred_at AS timestamptz[]), CAST(:recommendation_id AS text[])
    )
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
    """
)


class SqlInteractionRepository(InteractionRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add_batch(self, events: Sequence[Interaction]) -> int:
        unique: dict[str, Interaction] = {}
        for event in events:
            unique.setdefault(event.event_id, event)  # the first of a repeated id wins
        if not unique:
            return 0
        rows = [
            {
                "event_id": e.event_id,
                "user_id": e.user_id,
                "course_id": e.course_id,
                "event_type": e.event_type.value,
                "occurred_at": utc(e.occurred_at),
                "recommendation_id": e.recommendation_id,
            }
            for e in unique.values()
        ]
        if self.connection.dialect.name == "postgresql":
            # Six array parameters parse in microseconds; a 6,000-placeholder VALUES list does not.
            columns = {name: [row[name] for row in rows] for name in rows[0]}
            return len(self.connection.execute(_UNNEST_INSERT, columns).all())
        stmt = (
            _insert(self.connection, interactions)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(interactions.c.event_id)
        )
        return len(self.connection.execute(stmt, rows).all())

    def stored(self, event_ids: Iterable[str]) -> dict[str, Interaction]:
        wanted = set(event_ids)
        if not wanted:
            return {}
        query = select(*_EVENT_COLUMNS).where(interactions.c.event_id.in_(wanted))
        return {row.event_id: _interaction(row) for row in self.connection.execute(query)}

    def history(self, user_id: UserId) -> LearnerHistory:
        rows = self.connection.execute(_HISTORY, {"user_id": user_id})
        return LearnerHistory(user_id, tuple(map(_interaction, rows)))

    def stream(self, batch_size: int = 10_000) -> Iterator[Interaction]:
        query = (
            select(*_EVENT_COLUMNS)
            .order_by(interactions.c.occurred_at, interactions.c.id)
            .execution_options(yield_per=batch_size)
        )
        for row in self.connection.execute(query):
            yield _interaction(row)

    def count(self) -> int:
        return self.connection.execute(select(func.count()).select_from(interactions)).scalar_one()

    def version(self) -> str:
        # Events only leave through erasures and voiding statements: counting those (a small
        # table, a partial index) makes removals change the fingerprint too. An erasure that
        # removed no events (a learner we never saw) leaves the models as they are.
        removals = (
            select(func.count())
            .select_from(erasures)
            .where(erasures.c.counts["events"].as_integer() > 0)
            .scalar_subquery(),
            select(func.count())
            .select_from(xapi_statements)
            .where(xapi_statements.c.voids.is_not(None))
            .scalar_subquery(),
        )
        latest, erased, voided = self.connection.execute(
            select(func.max(interactions.c.id), *removals)
        ).one()
        return f"{latest}:{erased}:{voided}"

    def remove(self, event_ids: Iterable[str]) -> int:
        wanted = list(set(event_ids))
        if not wanted:
            return 0
        stmt = delete(interactions).where(interactions.c.event_id.in_(wanted))
        return int(self.connection.execute(stmt).rowcount)

    def miscredited(self, clear: bool = False, max_clock_skew: timedelta = timedelta(0)) -> int:
        oldest, newest = self.connection.execute(
            select(func.min(interactions.c.id), func.max(interactions.c.id))
        ).one()
        return sum(
            self._miscredited(
                # written into the statement: psycopg prepares a statement run five times, and
                # the plan PostgreSQL then keeps for any range read 190,000 index rows each time
                interactions.c.id.between(
                    bindparam(None, low, literal_execute=True),
                    bindparam(None, low + EVENTS_PER_STATEMENT - 1, literal_execute=True),
                ),
                clear,
                max_clock_skew,
            )
            for low in range(oldest or 1, (newest or 0) + 1, EVENTS_PER_STATEMENT)
        )

    def _miscredited(self, among_ids, clear: bool, max_clock_skew: timedelta) -> int:  # type: ignore[no-untyped-def]
        """`miscredited` of the events `among_ids` (a range of ids)."""
        credited = interactions.c.recommendation_id
        to_them = (
            select(1)
            .where(
                slates.c.recommendation_id == credited, slates.c.user_id == interactions.c.user_id
            )
            .exists()
        )
        in_it = (
            select(1)
            .where(
                slate_items.c.recommendation_id == credited,
                slate_items.c.course_id == interactions.c.course_id,
            )
            .exists()
        )
        wrong = and_(among_ids, credited.is_not(None), or_(~to_them, ~in_it))
        # Dated before their list, among those it was shown with: the few dated before it at
        # all, compared in Python (date arithmetic is spelt differently by each dialect).
        shown_with = select(interactions.c.id, interactions.c.occurred_at, slates.c.served_at).join(
            slates,
            and_(
                slates.c.recommendation_id == credited, slates.c.user_id == interactions.c.user_id
            ),
        )
        early = [
            row_id
            for row_id, occurred, served in self.connection.execute(
                shown_with.where(
                    # said, though the join implies it: PostgreSQL then expects the range's few
                    # credited events, not all its events, and looks their lists up by key
                    among_ids,
                    credited.is_not(None),
                    in_it,
                    slates.c.served_at > interactions.c.occurred_at,
                )
            )
            if utc(occurred) < utc(served) - max_clock_skew
        ]
        if not clear:
            count = select(func.count()).select_from(interactions).where(wrong)
            return int(self.connection.execute(count).scalar_one()) + len(early)
        cleared = self.connection.execute(
            update(interactions).where(wrong).values(recommendation_id=None)
        ).rowcount
        for start in range(0, len(early), 1000):
            chunk = early[start : start + 1000]
            cleared += self.connection.execute(
                update(interactions)
                .where(interactions.c.id.in_(chunk))
                .values(recommendation_id=None)
            ).rowcount
        return int(cleared)

    def popularity(self, weights: Mapping[EventType, float]) -> dict[CourseId, float]:
        weight = case({t.value: w for t, w in weights.items()}, value=interactions.c.event_type)
        query = select(interactions.c.course_id, func.sum(weight)).group_by(
            interactions.c.course_id
        )
        return {CourseId(c): float(total or 0) for c, total in self.connection.execute(query)}


#: events `miscredited` checks per statement, a range of ids: every credited event (180,000)
#: checked in one took 2.5 s, near the 3 s statement timeout; 50,000 ids take well under one
EVENTS_PER_STATEMENT = 50_000

_ADD_SLATE, _ADD_ITEMS = slates.insert(), slate_items.insert()


class SqlSlateRepository(SlateRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, slate: Slate) -> None:
        # Parameters, not .values(): the statement is compiled once and cached (hot path).
        self.connection.execute(
            _ADD_SLATE,
            {
                "recommendation_id": slate.recommendation_id,
                "user_id": slate.user_id,
                "strategy": slate.strategy,
                "fallback_from": slate.fallback_from,
                "model_version": slate.model_version,
                "served_at": utc(slate.served_at),
                "impressions": len(slate.items),
                "selected_by": slate.selected_by,
            },
        )
        if slate.items:
            self.connection.execute(
                _ADD_ITEMS,
                [
                    {
                        "recommendation_id": slate.recommendation_id,
                        "rank": item.rank,
                        "course_id": item.course_id,
                        "score": item.score,
                        "reason": item.reason,
                    }
                    for item in slate.items
                ],
            )

    def get(self, recommendation_id: RecommendationId) -> Slate | None:
        head = self.connection.execute(
            select(slates).where(slates.c.recommendation_id == recommendation_id)
        ).first()
        if head is None:
            return None
        rows = self.connection.execute(
            select(slate_items)
            .where(slate_items.c.recommendation_id == recommendation_id)
            .order_by(slate_items.c.rank)
        )
        items = tuple(
            Recommendation(CourseId(r.course_id), r.score, r.rank, head.strategy, r.reason)
            for r in rows
        )
        return Slate(
            RecommendationId(head.recommendation_id),
            UserId(head.user_id),
            head.strategy,
            items,
            utc(head.served_at),
            head.model_version,
            head.fallback_from,
            head.selected_by,
        )

    def existing(self, ids: Iterable[RecommendationId]) -> set[RecommendationId]:
        wanted = set(ids)
        if not wanted:
            return set()
        query = select(slates.c.recommendation_id).where(slates.c.recommendation_id.in_(wanted))
        return set(self.connection.execute(query).scalars())

    def any_named(self, prefix: str) -> bool:
        named = slates.c.recommendation_id.startswith(prefix, autoescape=True)
        return (
            self.connection.execute(
                select(slates.c.recommendation_id).where(named).limit(1)
            ).first()
            is not None
        )

    def shown(self, ids: Iterable[RecommendationId]) -> dict[RecommendationId, Shown]:
        wanted = set(ids)
        if not wanted:
            return {}
        query = (
            select(
                slates.c.recommendation_id,
                slates.c.user_id,
                slates.c.served_at,
                slate_items.c.course_id,
            )
            .select_from(
                slates.outerjoin(
                    slate_items, slate_items.c.recommendation_id == slates.c.recommendation_id
                )
            )
            .where(slates.c.recommendation_id.in_(wanted))
        )
        served: dict[RecommendationId, tuple[UserId, datetime]] = {}
        courses_of: dict[RecommendationId, set[CourseId]] = {}
        for recommendation_id, user_id, served_at, course_id in self.connection.execute(query):
            served[recommendation_id] = (UserId(user_id), utc(served_at))
            found = courses_of.setdefault(recommendation_id, set())
            if course_id is not None:  # a slate with no items: nothing was shown
                found.add(CourseId(course_id))
        return {r: Shown(u, frozenset(courses_of[r]), at) for r, (u, at) in served.items()}

    def outcomes(
        self, after: datetime, until: datetime, selected_by: str | None = None
    ) -> list[SlateOutcome]:
        kinds = list(EventType)
        found: list[SlateOutcome] = []
        # where the last page ended: its list's time as stored (SQLite's text, which SQL by hand
        # may spell without the fraction the service writes: spelt again, it would compare
        # after that second's other lists) and id
        since: tuple[Any, str] | None = None
        text_times = self.connection.dialect.name == "sqlite"
        while True:
            query = _outcomes_query(after, until, selected_by, since, text_times)
            rows = self.connection.execute(query).all()
            found += (
                SlateOutcome(
                    RecommendationId(row.recommendation_id),
                    row.strategy,
                    utc(row.served_at),
                    kinds[row.best] if row.best is not None else None,
                    row.events,
                    row.selected_by,
                    row.fallback_from,
                )
                for row in rows
            )
            if len(rows) < OUTCOMES_PAGE:
                return found
            since = (rows[-1].served_as_stored, rows[-1].recommendation_id)

    def now(self) -> datetime:
        return utc(self.connection.execute(select(database_now())).scalar_one())


_STRENGTH = case({t.value: t.strength for t in EventType}, value=interactions.c.event_type)


#: lists read by one statement of `outcomes`: a year of the bandit's lists (400,000) in one took
#: 10 s, past the statement timeout. A page of 2,000 took 0.1 s, looking each list's events up
#: by index; at 10,000 PostgreSQL read the whole index of credited events for each page instead.
OUTCOMES_PAGE = 2_000


def _outcomes_query(  # type: ignore[no-untyped-def]
    after: datetime,
    until: datetime,
    selected_by: str | None,
    since: tuple[Any, str] | None = None,
    text_times: bool = False,
):
    """A page of the window's lists, from after the list `since` (served_at as stored, id) on;
    text_times: served_at is stored as text (SQLite), and `since` holds that text."""
    stored_as = String() if text_times else slates.c.served_at.type
    page = select(slates).where(
        slates.c.served_at > utc(after),
        slates.c.served_at <= utc(until),
        slates.c.impressions > 0,  # an empty list older versions recorded is no pull
    )
    # before the joins: the lists of one kind, not every list of the window with its events
    if selected_by is not None:
        page = page.where(slates.c.selected_by == selected_by)
    if since is not None:
        page = page.where(
            tuple_(slates.c.served_at, slates.c.recommendation_id)
            > tuple_(bindparam(None, since[0], type_=stored_as), since[1])
        )
    chosen = (
        page.order_by(slates.c.served_at, slates.c.recommendation_id)
        .limit(OUTCOMES_PAGE)
        .subquery()
    )
    return (
        select(
            chosen.c.recommendation_id,
            chosen.c.strategy,
            chosen.c.served_at,
            chosen.c.selected_by,
            chosen.c.fallback_from,
            type_coerce(chosen.c.served_at, stored_as).label("served_as_stored"),
            func.max(_STRENGTH).label("best"),
            func.count(interactions.c.id.distinct()).label("events"),
        )
        .select_from(
            # Only what the list showed its learner earns it a reward, as only that counts in
            # CTR: credit older versions accepted for another learner or course does not.
            chosen.outerjoin(
                slate_items, slate_items.c.recommendation_id == chosen.c.recommendation_id
            ).outerjoin(
                interactions,
                and_(
                    interactions.c.recommendation_id == slate_items.c.recommendation_id,
                    interactions.c.course_id == slate_items.c.course_id,
                    interactions.c.user_id == chosen.c.user_id,
                ),
            )
        )
        .group_by(
            chosen.c.recommendation_id,
            chosen.c.strategy,
            chosen.c.served_at,
            chosen.c.selected_by,
            chosen.c.fallback_from,
        )
        .order_by(chosen.c.served_at, chosen.c.recommendation_id)
    )


def _job(row: Any) -> Job:
    return Job(
        row.job_id,
        row.kind,
        row.status,
        utc(row.submitted_at),
        utc(row.started_at) if row.started_at else None,
        utc(row.finished_at) if row.finished_at else None,
        utc(row.heartbeat_at) if row.heartbeat_at else None,
        row.worker,
        row.attempts,
        row.result,
        row.error,
    )


class SqlJobRepository(JobRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def submit(self, job: Job) -> bool:
        # uq_jobs_active_kind refuses a second queued or running job of a kind. Skipped, not
        # raised: a refusal is an operator clicking twice, not a database error (/metrics counts
        # every error the driver raises). Job ids are fresh, so that index is the only conflict.
        added = self.connection.execute(
            _insert(self.connection, jobs)
            .values(
                job_id=job.job_id,
                kind=job.kind,
                status="queued",
                submitted_at=utc(job.submitted_at),
            )
            .on_conflict_do_nothing()
            .returning(jobs.c.job_id)
        )
        return added.first() is not None

    def claim(self, kinds: Sequence[str], worker: str) -> Job | None:
        oldest = self.connection.execute(
            select(jobs.c.job_id)
            .where(jobs.c.status == "queued", jobs.c.kind.in_(list(kinds)))
            .order_by(jobs.c.submitted_at)
            .limit(1)
        ).scalar_one_or_none()
        if oldest is None:
            return None
        # Only the worker whose update finds the job still queued gets it.
        claimed = self.connection.execute(
            update(jobs)
            .where(jobs.c.job_id == oldest, jobs.c.status == "queued")
            .values(
                status="running",
                started_at=database_now(),
                heartbeat_at=database_now(),
                worker=worker,
                attempts=jobs.c.attempts + 1,
            )
        ).rowcount
        return self.get(oldest) if claimed == 1 else None

    def heartbeat(self, run: Job) -> bool:
        return self._update_run(run, None, heartbeat_at=database_now())

    def finish(
        self,
        run: Job,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
        silent_for: timedelta | None = None,
    ) -> bool:
        return self._update_run(
            run,
            silent_for,
            status="failed" if error else "succeeded",
            finished_at=database_now(),
            result=dict(result) if result else None,
            error=error,
        )

    def _update_run(self, run: Job, silent_for: timedelta | None, **values: Any) -> bool:
        """`values` written if the job is still `run`'s (and silent for `silent_for`): a trainer
        taken for dead must not overwrite the job another one claimed since."""
        still = [
            jobs.c.job_id == run.job_id,
            jobs.c.status == "running",
            jobs.c.worker == run.worker,
            jobs.c.attempts == run.attempts,
        ]
        if silent_for is not None:
            still.append(jobs.c.heartbeat_at < database_now(silent_for))
        return self.connection.execute(update(jobs).where(*still).values(**values)).rowcount == 1

    def get(self, job_id: str) -> Job | None:
        row = self.connection.execute(select(jobs).where(jobs.c.job_id == job_id)).first()
        return _job(row) if row else None

    def abandoned(self, silent_for: timedelta) -> list[Job]:
        query = select(jobs).where(
            jobs.c.status == "running", jobs.c.heartbeat_at < database_now(silent_for)
        )
        return [_job(r) for r in self.connection.execute(query)]

    def requeue(self, run: Job, silent_for: timedelta | None = None) -> bool:
        return self._update_run(
            run, silent_for, status="queued", started_at=None, heartbeat_at=None, worker=None
        )

    def active(self) -> list[Job]:
        # the partial index uq_jobs_active_kind holds exactly these rows
        query = select(jobs).where(jobs.c.status.in_(("queued", "running")))
        return [_job(r) for r in self.connection.execute(query)]


def delete_everything(connection: Connection) -> None:
    """Empty every table (tests and demo resets); the catalog's revision only goes on (reset, an
    earlier catalog's version would come back with another catalog)."""
    for table in reversed(metadata.sorted_tables):  # each table before those it refers to
        if table is not catalog_revision:
            connection.execute(delete(table))
    connection.execute(delete(daily_figure_changes))  # what deleting the lists and events counted
