"""Lists past RS_LIST_RETENTION_DAYS: a day's removed once its figures are stored and current,
which then stay final (migration 0016)."""

from __future__ import annotations

import math
from datetime import date, datetime

from sqlalchemy import Connection, delete, func, select, update

from adapters.sqlalchemy.daily_figures import DAY, bound, changes_per_day, midnight, summed
from adapters.sqlalchemy.tables import (
    daily_figure_changes,
    daily_figures_counted,
    slate_items,
    slates,
)

#: lists removed a statement, about (with their courses, ten times as many rows)
PRUNED_A_STATEMENT = 500


def days_to_prune(connection: Connection, before: date) -> list[date]:
    """The days before `before` whose figures are stored and current, not yet final, oldest
    first: their lists may go (a day without lists, too, is then final at once)."""
    per_day = changes_per_day().where(daily_figure_changes.c.day < before).subquery()
    changes = func.coalesce(per_day.c.changes, 0)
    query = (
        select(daily_figures_counted.c.day)
        .select_from(
            daily_figures_counted.outerjoin(per_day, per_day.c.day == daily_figures_counted.c.day)
        )
        .where(
            daily_figures_counted.c.day < before,
            ~daily_figures_counted.c.final,
            daily_figures_counted.c.changes == changes,
        )
        .order_by(daily_figures_counted.c.day)
    )
    return list(connection.execute(query).scalars())


def prune(connection: Connection, day: date) -> int:
    """Removes `day`'s lists (their courses first) and makes its stored figures final, if they
    are stored and current (a late click since: stored again by the next cycle, then removed);
    the number of lists removed. A click committed in the instant between the check and the
    deletes is left out of the figures: it names a list that is gone."""
    row = connection.execute(
        select(daily_figures_counted.c.changes, daily_figures_counted.c.final)
        .where(daily_figures_counted.c.day == day)
        .with_for_update()
    ).first()
    of_day = changes_per_day().where(daily_figure_changes.c.day == day)
    current = connection.execute(of_day).first()
    if row is None or row.final or int(row.changes) != (int(current.changes) if current else 0):
        return 0
    start = midnight(day)
    lists = connection.execute(
        select(func.count()).where(*_served_within(connection, start, start + DAY))
    ).scalar_one()
    # a stretch of the day at a time, about PRUNED_A_STATEMENT lists: each statement finds its
    # lists' courses by their index, so its cost follows its lists, not the table (a day of
    # 10,000 lists at once, PostgreSQL read every list's courses ever served, 4 million rows
    # in 0.75 s, a year's in seconds past the statement timeout)
    parts = max(1, math.ceil(lists / PRUNED_A_STATEMENT))
    for part in range(parts):
        within = _served_within(
            connection, start + DAY * part / parts, start + DAY * (part + 1) / parts
        )
        ids = select(slates.c.recommendation_id).where(*within)
        connection.execute(delete(slate_items).where(slate_items.c.recommendation_id.in_(ids)))
        connection.execute(delete(slates).where(*within))
    # the count the deletes moved on, too: a version before 0016 (rolled back to) reads the day
    # as stored and current, not as changed and counted from the lists no longer there. Summed
    # into one row: SQLite's triggers add one a row deleted, and a final day is never stored
    # again to sum them (10,000 lists a day left 40 million rows a year for every window to add)
    connection.execute(
        update(daily_figures_counted)
        .where(daily_figures_counted.c.day == day)
        .values(final=True, changes=summed(connection, day))
    )
    return int(lists)


def _served_within(connection: Connection, start: datetime, end: datetime) -> list:  # type: ignore[type-arg]
    return [
        slates.c.served_at >= bound(connection, start),
        slates.c.served_at < bound(connection, end),
    ]
