"""What the stats count: the UTC day of a time, lists that showed something, credited courses."""

from __future__ import annotations

from sqlalchemy import Connection, Date, and_, case, cast, func, select

from adapters.sqlalchemy.tables import interactions, slate_items, slates


def utc_day(connection: Connection, column):  # type: ignore[no-untyped-def]
    """The UTC calendar day of a timestamp: 'YYYY-MM-DD' on SQLite, a date on PostgreSQL (which
    formats a day's text slowly: grouping a year's 300,000 lists by it took a quarter longer)."""
    if connection.dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.strftime("%Y-%m-%d", column)


#: Older versions recorded empty lists too: they showed nothing, so they count for nothing.
SHOWED_SOMETHING = slates.c.impressions > 0


def credited():  # type: ignore[no-untyped-def]
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
