"""Analytics as SQL aggregates, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, case, func, select

from adapters.sqlalchemy import daily_figures, list_retention
from adapters.sqlalchemy.attribution import SHOWED_SOMETHING, credited
from adapters.sqlalchemy.dialects import bytewise, utc
from adapters.sqlalchemy.tables import courses, interactions, slates
from application.ports import CoursePopularity, DailyStats, StatsRepository, UserStats
from domain.model import CourseId, UserId


def _count_if(condition):  # type: ignore[no-untyped-def]
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class SqlStatsRepository(StatsRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @staticmethod
    def user_statements(user_id: UserId):  # type: ignore[no-untyped-def]
        """The three queries behind user(): slates and impressions, the courses of those slates
        clicked and enrolled in, categories."""
        theirs = credited().where(interactions.c.user_id == user_id).subquery()
        return (
            select(func.count(), func.coalesce(func.sum(slates.c.impressions), 0)).where(
                slates.c.user_id == user_id, SHOWED_SOMETHING
            ),
            select(func.count(), func.coalesce(func.sum(theirs.c.enrolled), 0)),
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
        return daily_figures.read(self.connection, since)

    def days_to_store(self) -> list[date]:
        return daily_figures.days_to_store(self.connection)

    def store_day(self, day: date) -> None:
        daily_figures.store(self.connection, day)

    def days_to_prune(self, before: date) -> list[date]:
        return list_retention.days_to_prune(self.connection, before)

    def prune_day(self, day: date) -> int:
        return list_retention.prune(self.connection, day)

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
