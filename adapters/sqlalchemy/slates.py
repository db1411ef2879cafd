"""Served lists in SQL, and their outcomes a page of lists at a time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, and_, bindparam, case, func, select, tuple_, type_coerce

from adapters.sqlalchemy.dialects import database_now, utc
from adapters.sqlalchemy.tables import interactions, slate_items, slates
from application.ports import Shown, SlateOutcome, SlateRepository
from domain.model import CourseId, EventType, Recommendation, RecommendationId, Slate, UserId

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
        # LIKE, not a range of ids, which a collation other than C orders otherwise: it reads
        # every event (0.3 s at 2 million) only for `recsys demo-data`, once the lists are gone
        for column in (slates.c.recommendation_id, interactions.c.recommendation_id):
            named = column.startswith(prefix, autoescape=True)
            if self.connection.execute(select(column).where(named).limit(1)).first() is not None:
                return True
        return False

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
