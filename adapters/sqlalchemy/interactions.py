"""Learners' events in SQL: written in batches, read as histories and streams, credit checked."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from sys import intern

from sqlalchemy import Connection, and_, bindparam, case, delete, func, or_, select, text, update

from adapters.sqlalchemy.attribution import utc_day
from adapters.sqlalchemy.dialects import _insert, utc
from adapters.sqlalchemy.tables import (
    daily_figures_counted,
    erasures,
    interactions,
    slate_items,
    slates,
    xapi_statements,
)
from application.ports import InteractionRepository
from domain.model import CourseId, EventType, Interaction, LearnerHistory, UserId

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
        # a list removed past RS_LIST_RETENTION_DAYS (its day's figures final) was checked when
        # the event was logged: gone, it is no sign of credit given wrongly
        removed = (
            select(1)
            .where(
                daily_figures_counted.c.final,
                daily_figures_counted.c.day
                == utc_day(self.connection, interactions.c.list_served_at),
            )
            .exists()
        )
        wrong = and_(
            among_ids,
            credited.is_not(None),
            or_(and_(~to_them, ~removed), and_(to_them, ~in_it)),
        )
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
