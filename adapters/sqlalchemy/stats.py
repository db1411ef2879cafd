"""Analytics as SQL aggregates, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Date, and_, case, cast, func, literal, select, union_all

from adapters.sqlalchemy.repositories import bytewise, utc
from adapters.sqlalchemy.tables import courses, interactions, slate_items, slates
from application.ports import CoursePopularity, DailyStats, StatsRepository, UserStats
from domain.model import CourseId, UserId


def _day(connection: Connection, column):  # type: ignore[no-untyped-def]
    """The UTC calendar day of a timestamp: 'YYYY-MM-DD' on SQLite, a date on PostgreSQL (which
    formats a day's text slowly: grouping a year's 300,000 lists by it took a quarter longer)."""
    if connection.dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.strftime("%Y-%m-%d", column)


#: Older versions recorded empty lists too: they showed nothing, so they count for nothing.
_SHOWED_SOMETHING = slates.c.impressions > 0


def _count_if(condition):  # type: ignore[no-untyped-def]
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _credited():  # type: ignore[no-untyped-def]
    """Each course of a served list its learner clicked or enrolled in (a click-through), once,
    with whether they enrolled: a course clicked three times was still one impression clicked,
    so CTR stays within 0..1, and one enrolled in without a click event (an LMS whose cards enrol
    in one step) was clicked through too. Credit only counts for a course the list showed to
    that learner (as ingestion checks)."""
    return (
        select(
            slates.c.recommendation_id,
            slates.c.strategy,
            slates.c.served_at,
            interactions.c.course_id,
            func.max(case((interactions.c.event_type == "enroll", 1), else_=0)).label("enrolled"),
        )
        .select_from(
            interactions.join(
                slates,
                and_(
                    slates.c.recommendation_id == interactions.c.recommendation_id,
                    slates.c.user_id == interactions.c.user_id,
                ),
            ).join(
                slate_items,
                and_(
                    slate_items.c.recommendation_id == interactions.c.recommendation_id,
                    slate_items.c.course_id == interactions.c.course_id,
                ),
            )
        )
        .where(interactions.c.event_type.in_(("click", "enroll")))
        .group_by(
            slates.c.recommendation_id,
            slates.c.strategy,
            slates.c.served_at,
            interactions.c.course_id,
        )
    )


class SqlStatsRepository(StatsRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @staticmethod
    def user_statements(user_id: UserId):  # type: ignore[no-untyped-def]
        """The three queries behind user(): slates and impressions, the courses of those slates
        clicked and enrolled in, categories."""
        credited = _credited().where(interactions.c.user_id == user_id).subquery()
        return (
            select(func.count(), func.coalesce(func.sum(slates.c.impressions), 0)).where(
                slates.c.user_id == user_id, _SHOWED_SOMETHING
            ),
            select(func.count(), func.coalesce(func.sum(credited.c.enrolled), 0)),
            select(courses.c.category, func.count())
            .select_from(
                interactions.join(courses, courses.c.course_id == interactions.c.course_id)
            )
            .where(interactions.c.user_id == user_id, courses.c.category != "")
            .group_by(courses.c.category)
            .order_by(func.count().desc(), bytewise(courses.c.category))
            .limit(5),
        )

    def user(self, user_id: UserId) -> UserStats:
        served_query, events_query, categories_query = self.user_statements(user_id)
        slate_count, impressions = self.connection.execute(served_query).one()
        clicks, enrolls = self.connection.execute(events_query).one()
        categories = self.connection.execute(categories_query).all()
        return UserStats(
            user_id,
            int(slate_count),
            int(impressions),
            int(clicks),
            int(enrolls),
            [(c, n) for c, n in categories],
        )

    def daily(self, since: datetime) -> list[DailyStats]:
        rows = self.connection.execute(self.daily_statement(since)).all()
        # str() of a date is its 'YYYY-MM-DD'
        return [DailyStats(str(d), s, int(r), int(i), int(c), int(e)) for d, s, r, i, c, e in rows]

    def daily_statement(self, since: datetime):  # type: ignore[no-untyped-def]
        day_served = _day(self.connection, slates.c.served_at)
        served = (
            select(
                day_served.label("day"),
                slates.c.strategy.label("strategy"),
                func.count().label("recommendations"),
                func.sum(slates.c.impressions).label("impressions"),
                literal(0).label("clicks"),
                literal(0).label("enrolls"),
            )
            .where(slates.c.served_at >= utc(since), _SHOWED_SOMETHING)
            .group_by(day_served, slates.c.strategy)
        )
        # What a day's lists earned, whenever it came, so that a day's CTR is that of its lists.
        # found by their list's time, not by their lists: a window's credited events are a range
        # of ix_interactions_credited_by_list_time, however long the history before it (the
        # lists' own served_at, the same time, is not asked again: PostgreSQL took the two for
        # independent, expected one row, and looked each event's list up even for a year)
        credited = _credited().where(interactions.c.list_served_at >= utc(since)).subquery()
        day_credited = _day(self.connection, credited.c.served_at)
        acted = select(
            day_credited.label("day"),
            credited.c.strategy.label("strategy"),
            literal(0).label("recommendations"),
            literal(0).label("impressions"),
            func.count().label("clicks"),
            func.coalesce(func.sum(credited.c.enrolled), 0).label("enrolls"),
        ).group_by(day_credited, credited.c.strategy)
        both = union_all(served, acted).subquery()
        return (
            select(
                both.c.day,
                both.c.strategy,
                func.sum(both.c.recommendations),
                func.sum(both.c.impressions),
                func.sum(both.c.clicks),
                func.sum(both.c.enrolls),
            )
            .group_by(both.c.day, both.c.strategy)
            .order_by(both.c.day, both.c.strategy)
        )

    def popular_courses(self, since: datetime, limit: int) -> list[CoursePopularity]:
        rows = self.connection.execute(self.popular_statement(since, limit)).all()
        return [CoursePopularity(CourseId(c), t, int(e), int(k)) for c, t, e, k in rows]

    @staticmethod
    def popular_statement(since: datetime, limit: int):  # type: ignore[no-untyped-def]
        enrolls = _count_if(interactions.c.event_type == "enroll")
        clicks = _count_if(interactions.c.event_type == "click")
        return (
            select(
                interactions.c.course_id,
                courses.c.title,
                enrolls.label("enrolls"),
                clicks.label("clicks"),
            )
            .select_from(
                interactions.join(courses, courses.c.course_id == interactions.c.course_id)
            )
            .where(
                interactions.c.occurred_at >= utc(since),
                interactions.c.event_type.in_(("enroll", "click")),
            )
            .group_by(interactions.c.course_id, courses.c.title)
            .order_by(enrolls.desc(), clicks.desc(), bytewise(interactions.c.course_id))
            .limit(limit)
        )
