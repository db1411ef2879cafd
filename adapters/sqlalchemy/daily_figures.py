"""The daily figures of a stats window: each closed day's stored once (migration 0013), the days
not stored or changed since counted from their lists and events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import (
    Connection,
    DateTime,
    String,
    delete,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite

from adapters.sqlalchemy.attribution import SHOWED_SOMETHING, credited, utc_day
from adapters.sqlalchemy.dialects import database_now, utc
from adapters.sqlalchemy.tables import (
    daily_figure_changes,
    daily_figures,
    daily_figures_counted,
    interactions,
    slates,
)
from application.ports import DailyStats

#: The newest day stored is this many UTC days before the database's today. Migration 0013's
#: triggers count writes to days at least two days old (nearer days take every list served and
#: would make its count a point every request waits on); a day is stored a day after that, so a
#: write that saw its day as recent, and so counted nothing, has long been committed.
STORED_FROM_DAYS_AGO = 3
DAY = timedelta(days=1)
FIGURES = ("strategy", "recommendations", "impressions", "clicks", "enrolls")


def read(connection: Connection, since: datetime) -> list[DailyStats]:
    """Per UTC day and strategy from `since` on: the stored figures of the days nothing changed
    since, and the other days counted from their lists and events."""
    since = utc(since)
    whole = since.date() if since == midnight(since.date()) else since.date() + DAY
    stored = _stored(connection, whole)
    rows = [row for day in sorted(stored) for row in stored[day]]
    for start, end in _not_stored(since, sorted(stored)):
        rows += [_figures(*row) for row in connection.execute(counted(connection, start, end))]
    return sorted(rows, key=lambda r: (r.date, r.strategy))


def _figures(day, strategy: str, *counts) -> DailyStats:  # type: ignore[no-untyped-def]
    # str() of a date is its 'YYYY-MM-DD', SQLite's day already is
    return DailyStats(str(day), strategy, *(int(c) for c in counts))


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _stored(connection: Connection, first: date) -> dict[date, list[DailyStats]]:
    """The days from `first` on stored with the count of changes they still have: each with its
    rows (none for a day without lists)."""
    per_day = changes_per_day().where(daily_figure_changes.c.day >= first).subquery()
    changes = func.coalesce(per_day.c.changes, 0)
    query = (
        select(daily_figures_counted.c.day, *daily_figures.c[1:])
        .select_from(
            daily_figures_counted.outerjoin(
                per_day, per_day.c.day == daily_figures_counted.c.day
            ).outerjoin(daily_figures, daily_figures.c.day == daily_figures_counted.c.day)
        )
        .where(
            daily_figures_counted.c.day >= first,
            (daily_figures_counted.c.changes == changes) | daily_figures_counted.c.final,
        )
    )
    stored: dict[date, list[DailyStats]] = {}
    for day, strategy, *counts in connection.execute(query):
        rows = stored.setdefault(day, [])
        if strategy is not None:
            rows.append(_figures(day, strategy, *counts))
    return stored


def changes_per_day():  # type: ignore[no-untyped-def]
    """Each day's count of changes: the sum of its rows (one a write, or a store's sum)."""
    return select(
        daily_figure_changes.c.day, func.sum(daily_figure_changes.c.changes).label("changes")
    ).group_by(daily_figure_changes.c.day)


def _not_stored(since: datetime, stored: list[date]) -> Iterator[tuple[datetime, datetime | None]]:
    """The stretches of time from `since` on outside the stored days (the last one open)."""
    start = since
    for day in stored:
        day_start = midnight(day)
        if start < day_start:
            yield start, day_start
        start = day_start + DAY
    yield start, None


def days_to_store(connection: Connection) -> list[date]:
    """The days from the first list to STORED_FROM_DAYS_AGO before today not stored, then those
    changed since they were stored (the figures of the days before the first list too: their
    lists were erased), each newest first: the windows the dashboard opens on first. A day never
    stored goes first: stored, it stays so, while a day late clicks change at every cycle would
    be changed again by the next, and stored again first it took the budget of a busy
    platform's cycles, the history after an upgrade waiting for ever. A final day (its lists
    removed, list_retention.prune()) is never stored again: nothing is left to count it from."""
    last = _today(connection) - STORED_FROM_DAYS_AGO * DAY
    first_list = connection.execute(select(func.min(slates.c.served_at))).scalar()
    counted = connection.execute(select(daily_figures_counted)).all()
    changes = {d: int(n) for d, n in connection.execute(changes_per_day())}
    changed = {d for d, n, final in counted if not final and d <= last and changes.get(d, 0) != n}
    known = {d for d, _, _ in counted}
    never = set()
    day = utc(first_list).date() if first_list is not None else last + DAY
    while day <= last:
        if day not in known:
            never.add(day)
        day += DAY
    return sorted(never, reverse=True) + sorted(changed, reverse=True)


def store(connection: Connection, day: date) -> None:
    """Count `day`'s figures from its lists and events and store them with the day's count of
    changes, read before them: a change committed in between is in the figures or not, and the
    day reads as changed either way (counted again later)."""
    changes = summed(connection, day)
    start = midnight(day)
    rows = [_figures(*row) for row in connection.execute(counted(connection, start, start + DAY))]
    if any(r.date != str(day) for r in rows):
        # a time SQLite holds with an offset ('... 23:30:00-02:00', SQL by hand) is another UTC
        # day than its text: the day stays counted from events rather than stored as another's
        return
    connection.execute(delete(daily_figures).where(daily_figures.c.day == day))
    if rows:
        figures = [{"day": day, **{f: getattr(r, f) for f in FIGURES}} for r in rows]
        connection.execute(insert(daily_figures), figures)
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(daily_figures_counted).values(day=day, changes=changes)
    connection.execute(
        upsert.on_conflict_do_update(index_elements=["day"], set_={"changes": changes})
    )


def summed(connection: Connection, day: date) -> int:
    """The day's count of changes, its rows summed into one, in one statement (writers only add
    rows: none waits)."""
    gone = connection.execute(
        delete(daily_figure_changes)
        .where(daily_figure_changes.c.day == day)
        .returning(daily_figure_changes.c.changes)
    )
    changes = sum(int(n) for (n,) in gone)
    if changes:
        connection.execute(insert(daily_figure_changes).values(day=day, changes=changes))
    return changes


def _today(connection: Connection) -> date:
    """The database's UTC day: the clock migration 0013's triggers read."""
    return utc(connection.execute(select(database_now())).scalar_one()).date()


def bound(connection: Connection, moment: datetime):  # type: ignore[no-untyped-def]
    """A window's end as the database compares it. SQLite compares the text: a midnight is
    '2026-11-02', as SQL by hand writes that day's first moment ('2026-11-02' or
    '2026-11-02 00:00:00', before the '2026-11-02 00:00:00.000000' this service writes), so
    every text of a day is within its day's range, and a day's stored figures are its own."""
    moment = utc(moment)
    if connection.dialect.name == "sqlite" and moment == midnight(moment.date()):
        return literal(moment.date().isoformat(), String)
    return literal(moment, DateTime(timezone=True))


def counted(connection: Connection, since: datetime, until: datetime | None = None):  # type: ignore[no-untyped-def]
    """The statement counting, per UTC day and strategy, the lists served from `since` (until
    `until`, if given) that showed something, their impressions, and how many of those were
    clicked and enrolled in, whenever."""
    served_at, list_time = slates.c.served_at, interactions.c.list_served_at
    low, high = bound(connection, since), until and bound(connection, until)
    window = [served_at >= low] + ([served_at < high] if high is not None else [])
    day_served = utc_day(connection, served_at)
    served = (
        select(
            day_served.label("day"),
            slates.c.strategy.label("strategy"),
            func.count().label("recommendations"),
            func.sum(slates.c.impressions).label("impressions"),
            literal(0).label("clicks"),
            literal(0).label("enrolls"),
        )
        .where(*window, SHOWED_SOMETHING)
        .group_by(day_served, slates.c.strategy)
    )
    # What a day's lists earned, whenever it came, so that a day's CTR is that of its lists.
    # found by their list's time, not by their lists: a window's credited events are a range of
    # ix_interactions_credited_by_list_time, however long the history before it (the lists' own
    # served_at, the same time, is not asked again: PostgreSQL took the two for independent,
    # expected one row, and looked each event's list up even for a year)
    in_window = [list_time >= low] + ([list_time < high] if high is not None else [])
    earned = credited().where(*in_window).subquery()
    day_credited = utc_day(connection, earned.c.served_at)
    acted = select(
        day_credited.label("day"),
        earned.c.strategy.label("strategy"),
        literal(0).label("recommendations"),
        literal(0).label("impressions"),
        func.count().label("clicks"),
        func.coalesce(func.sum(earned.c.enrolled), 0).label("enrolls"),
    ).group_by(day_credited, earned.c.strategy)
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
