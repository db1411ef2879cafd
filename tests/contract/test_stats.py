"""Analytics aggregates: hand-computed numbers, the same on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from application.use_cases.compute_stats import ComputeStats
from domain.model import CourseId, Recommendation, RecommendationId, Slate, UserId
from tests.conftest import CATALOG, NOW, event


def slate(rid: str, user: str, strategy: str, courses: list[str], days: float = 0) -> Slate:
    items = tuple(
        Recommendation(CourseId(c), 1.0, i, strategy) for i, c in enumerate(courses, start=1)
    )
    return Slate(RecommendationId(rid), UserId(user), strategy, items, NOW + timedelta(days=days))


@pytest.fixture
def stats(uow_factory):  # type: ignore[no-untyped-def]
    """Day 0: u1 gets 2 content slates (3 + 2 items) and 1 popularity slate (2 items), clicks twice
    on content and once on popularity, enrolls once via content; u2 gets 1 popularity slate
    (3 items) and enrolls in SQL Basics without a slate. Day 1: u2 gets 1 content slate (1 item)."""
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG)
        for s in (
            slate(
                "c1",
                "u1",
                "content",
                ["course_sql_basic", "course_ml_basic", "course_spanish_basic"],
            ),
            slate("c2", "u1", "content", ["course_ml_basic", "course_python_intermediate"]),
            slate("p1", "u1", "popularity", ["course_sql_basic", "course_spanish_basic"]),
            slate(
                "p2",
                "u2",
                "popularity",
                ["course_sql_basic", "course_ml_basic", "course_spanish_basic"],
            ),
            slate("c3", "u2", "content", ["course_ml_basic"], days=1),
        ):
            uow.slates.add(s)
        uow.interactions.add_batch(
            [
                event("u1", "course_sql_basic", "click", 10, recommendation_id="c1"),
                event("u1", "course_ml_basic", "click", 11, recommendation_id="c2"),
                event("u1", "course_ml_basic", "enroll", 12, recommendation_id="c2"),
                event("u1", "course_spanish_basic", "click", 13, recommendation_id="p1"),
                event("u1", "course_python_basic", "view", 14),
                event("u2", "course_sql_basic", "enroll", 15),
            ]
        )
        uow.commit()
    return ComputeStats(uow_factory, clock=lambda: NOW + timedelta(days=2))


def test_user_stats_by_hand(stats):
    u1 = stats.user(UserId("u1"))
    assert (u1.num_recommendations, u1.num_impressions, u1.num_clicks, u1.num_enrolls) == (
        3,
        7,
        3,
        1,
    )
    assert u1.ctr == pytest.approx(3 / 7)
    assert u1.top_categories == [("Data Science", 3), ("Languages", 1), ("Programming", 1)]


def test_an_unknown_learner_gets_zeros(stats):
    nobody = stats.user(UserId("nobody"))
    assert (nobody.num_recommendations, nobody.num_impressions, nobody.num_clicks, nobody.ctr) == (
        0,
        0,
        0,
        0.0,
    )
    assert nobody.top_categories == []


def test_courses_without_a_category_are_no_category_of_the_learners(uow_factory):
    """A learner's stats listed {"category": "", "count": 2} for their uncategorised courses."""
    loose = [replace(CATALOG[0], course_id=CourseId(f"loose{n}"), category="") for n in (1, 2)]
    with uow_factory() as uow:
        uow.courses.upsert([*CATALOG, *loose])
        uow.interactions.add_batch(
            [
                event("u1", "loose1", "view", 1),
                event("u1", "loose2", "enroll", 2),
                event("u1", "course_spanish_basic", "view", 3),
            ]
        )
        uow.commit()
    stats = ComputeStats(uow_factory, clock=lambda: NOW)
    assert stats.user(UserId("u1")).top_categories == [("Languages", 1)]


def test_global_stats_by_hand(stats):
    result = stats.global_stats(days=30)
    assert result.ctr == pytest.approx(round(3 / 11, 6))
    assert result.strategy_distribution == pytest.approx({"content": 3 / 5, "popularity": 2 / 5})
    assert result.strategy_ctr == pytest.approx(
        {"content": round(2 / 6, 6), "popularity": round(1 / 5, 6)}
    )
    day0, day1 = result.daily
    assert (day0.date, day0.recommendations, day0.impressions, day0.clicks, day0.enrolls) == (
        "2026-11-01",
        4,
        10,
        3,
        1,
    )
    assert (day1.date, day1.recommendations, day1.impressions, day1.clicks) == (
        "2026-11-02",
        1,
        1,
        0,
    )
    top = result.most_popular_courses
    assert [(c.course_id, c.enrolls, c.clicks) for c in top[:2]] == [
        ("course_ml_basic", 1, 1),
        ("course_sql_basic", 1, 1),
    ]
    assert top[0].title == "Machine Learning Basics"


def test_the_window_leaves_older_days_out(stats):
    result = stats.global_stats(days=2)
    assert [d.date for d in result.daily] == ["2026-11-02"]
    assert result.most_popular_courses == []


def test_a_course_clicked_again_in_the_same_list_is_one_click_so_ctr_stays_within_one(
    uow_factory,
):
    """u1 is shown one course and clicks it three times and enrols twice: one impression
    clicked and enrolled in. Popular courses still count every event."""
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG)
        uow.slates.add(slate("r1", "u1", "content", ["course_sql_basic"]))
        uow.interactions.add_batch(
            [event("u1", "course_sql_basic", "click", m, recommendation_id="r1") for m in (1, 2, 3)]
            + [event("u1", "course_sql_basic", "enroll", m, recommendation_id="r1") for m in (4, 5)]
        )
        uow.commit()
    stats = ComputeStats(uow_factory, clock=lambda: NOW)
    u1 = stats.user(UserId("u1"))
    assert (u1.num_impressions, u1.num_clicks, u1.num_enrolls, u1.ctr) == (1, 1, 1, 1.0)
    result = stats.global_stats(days=1)
    assert (result.ctr, result.strategy_ctr) == (1.0, {"content": 1.0})
    [day] = result.daily
    assert (day.impressions, day.clicks, day.enrolls, day.ctr) == (1, 1, 1, 1.0)
    assert result.daily_by_strategy["2026-11-01"]["content"].ctr == 1.0
    [popular] = result.most_popular_courses
    assert (popular.enrolls, popular.clicks) == (2, 3)


def test_an_enrolment_from_a_list_without_a_click_event_is_a_click_through(uow_factory):
    """An LMS whose recommendation cards enrol in one step sends no click: u1 enrols in the
    first course of a two-course list, and that list's CTR is 1/2, not 0."""
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG)
        uow.slates.add(slate("r1", "u1", "content", ["course_sql_basic", "course_ml_basic"]))
        uow.interactions.add_batch(
            [event("u1", "course_sql_basic", "enroll", 1, recommendation_id="r1")]
        )
        uow.commit()
    stats = ComputeStats(uow_factory, clock=lambda: NOW)
    u1 = stats.user(UserId("u1"))
    assert (u1.num_impressions, u1.num_clicks, u1.num_enrolls, u1.ctr) == (2, 1, 1, 0.5)
    result = stats.global_stats(days=1)
    assert (result.ctr, result.strategy_ctr) == (0.5, {"content": 0.5})
    [day] = result.daily
    assert (day.clicks, day.enrolls, day.ctr) == (1, 1, 0.5)


def test_clicks_count_on_the_day_their_list_was_served(uow_factory):
    """Two one-course lists served on day 0 are clicked on day 1, when one more is served and
    not clicked: day 0's lists earned the clicks, day 1's none."""
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG)
        uow.slates.add(slate("a", "u1", "popularity", ["course_sql_basic"]))
        uow.slates.add(slate("b", "u2", "popularity", ["course_sql_basic"]))
        uow.slates.add(slate("c", "u3", "popularity", ["course_sql_basic"], days=1))
        uow.interactions.add_batch(
            [
                event("u1", "course_sql_basic", "click", 24 * 60, recommendation_id="a"),
                event("u2", "course_sql_basic", "click", 24 * 60, recommendation_id="b"),
            ]
        )
        uow.commit()
    stats = ComputeStats(uow_factory, clock=lambda: NOW + timedelta(days=1))
    today = stats.global_stats(days=1)
    assert (today.ctr, today.strategy_ctr) == (0.0, {"popularity": 0.0})
    assert [(d.date, d.impressions, d.clicks) for d in today.daily] == [("2026-11-02", 1, 0)]
    both = stats.global_stats(days=2)
    assert [(d.date, d.clicks, d.ctr) for d in both.daily] == [
        ("2026-11-01", 2, 1.0),
        ("2026-11-02", 0, 0.0),
    ]
    assert both.ctr == pytest.approx(round(2 / 3, 6))


def test_credit_for_a_course_the_list_did_not_show_that_learner_is_not_counted(uow_factory):
    """Credit an older version accepted (a course not in the list, another learner's click)
    never raises a CTR above what the list's own learner did."""
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG)
        uow.slates.add(slate("r1", "u1", "content", ["course_sql_basic"]))
        uow.interactions.add_batch(
            [
                event("u1", "course_ml_basic", "click", 1, recommendation_id="r1"),
                event("u2", "course_sql_basic", "click", 2, recommendation_id="r1"),
            ]
        )
        uow.commit()
    stats = ComputeStats(uow_factory, clock=lambda: NOW)
    assert (stats.user(UserId("u1")).num_clicks, stats.user(UserId("u2")).num_clicks) == (0, 0)
    assert stats.global_stats(days=1).ctr == 0.0


def test_an_empty_list_an_older_version_recorded_is_no_recommendation(uow_factory):
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG)
        uow.slates.add(slate("empty", "u1", "content", []))
        uow.slates.add(slate("r1", "u1", "content", ["course_sql_basic"]))
        uow.commit()
    stats = ComputeStats(uow_factory, clock=lambda: NOW)
    assert stats.user(UserId("u1")).num_recommendations == 1
    [day] = stats.global_stats(days=1).daily
    assert (day.recommendations, day.impressions) == (1, 1)


@pytest.mark.postgres
def test_ties_at_a_limit_keep_the_same_courses_and_categories_on_every_database(
    sqlite_url, icu_postgres_url
):
    """Six courses enrolled in once each, three shown: which three, and in which order two
    categories tied, was the database's collation's choice (en-US: course_a, course_B ...;
    SQLite: Course_z, course-x ...). Every store now orders ties byte by byte, as memory does."""
    from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
    from tests.conftest import course

    ids = ["course_a", "course_B", "course_c", "course_D", "Course_z", "course-x"]
    catalog = [course(c, category=("ai", "Azure")[i % 2]) for i, c in enumerate(ids)]
    events = [event("u1", c, "enroll") for c in ids]
    memory = InMemoryStore()
    engines = [build_engine(sqlite_url), build_engine(icu_postgres_url)]
    factories = [lambda: InMemoryUnitOfWork(memory)]
    factories += [lambda e=e: SqlAlchemyUnitOfWork(e) for e in engines]  # type: ignore[misc]
    found = []
    for factory in factories:
        with factory() as uow:
            uow.courses.upsert(catalog)
            uow.interactions.add_batch(events)
            uow.commit()
        stats = ComputeStats(factory, clock=lambda: NOW)
        popular = [c.course_id for c in stats.global_stats(days=1, top=3).most_popular_courses]
        found.append((popular, stats.user(UserId("u1")).top_categories))
    for engine in engines:
        engine.dispose()
    assert found[0] == (["Course_z", "course-x", "course_B"], [("Azure", 3), ("ai", 3)])
    assert found[1] == found[0] and found[2] == found[0]


@pytest.mark.postgres
def test_the_most_popular_courses_are_counted_from_the_windows_clicks_and_enrolments_alone(
    postgres_url,
):
    """The dashboard's 90-day range read every event ever stored (a Seq Scan of the events
    table: 2,000,000 rows for 331,000 in the window, docs/benchmarks.md). The count must reach
    the window's clicks and enrolments through an index and read no event's row. Sequential
    scans are switched off to plan as for a table too large to read whole."""
    import psycopg
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.engine import make_url

    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.stats import SqlStatsRepository
    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

    engine = build_engine(postgres_url)
    try:
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.courses.upsert(CATALOG)
            uow.interactions.add_batch(
                [
                    event(f"u{n}", CATALOG[n % len(CATALOG)].course_id, kind, -n * 60)
                    for n in range(2000)
                    for kind in ("view", "click", "enroll")
                ]
            )
            uow.commit()
    finally:
        engine.dispose()
    statement = SqlStatsRepository.popular_statement(NOW - timedelta(days=7), 10)
    sql = str(
        statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        # indexes as fresh as the table: earlier tests' rows, inserted and deleted, leave them
        # bloated, which a table this small feels (the plan changed) and a large one does not
        conn.execute("REINDEX TABLE interactions")
        # as autovacuum keeps large tables; the courses too (their statistics, left by earlier
        # tests, changed the join and with it the scan)
        conn.execute("VACUUM ANALYZE")
        conn.execute("SET enable_seqscan = off")
        (plan,) = conn.execute("EXPLAIN (FORMAT JSON) " + sql).fetchone()[0]

    def scans(node):  # type: ignore[no-untyped-def]
        if node.get("Relation Name") == "interactions":
            yield node["Node Type"], node.get("Index Name")
        for child in node.get("Plans", []):
            yield from scans(child)

    assert list(scans(plan["Plan"])) == [("Index Only Scan", "ix_interactions_type_time_course")]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_credit_written_without_its_list_time_still_counts_and_credit_cleared_is_gone(
    backend, request
):
    """The daily figures find credited events by their list's time (migration 0012). A host
    still on the previous version during a rolling upgrade (or SQL by hand) writes events
    without it; an erasure of the list's learner clears the credit: the figures follow both."""
    from sqlalchemy import text

    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

    engine = build_engine(request.getfixturevalue(f"{backend}_url"))
    try:
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.courses.upsert(CATALOG)
            uow.slates.add(slate("r1", "u1", "content", ["course_sql_basic"]))
            uow.commit()
        with engine.begin() as connection:  # as the previous version wrote them
            for event_id, user in (("e1", "u1"), ("e2", "u2")):  # u2's: credited to no count
                connection.execute(
                    text(
                        "INSERT INTO interactions (event_id, user_id, course_id, event_type, "
                        "occurred_at, recommendation_id) VALUES "
                        "(:e, :u, 'course_sql_basic', 'click', :t, 'r1')"
                    ),
                    {"e": event_id, "u": user, "t": NOW + timedelta(minutes=5)},
                )
        stats = ComputeStats(lambda: SqlAlchemyUnitOfWork(engine), clock=lambda: NOW)
        [day] = stats.global_stats(days=1).daily
        assert day.clicks == 1
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.erasures.erase(UserId("u1"))  # the list's learner: u2's event loses its credit
            uow.commit()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT list_served_at FROM interactions")).all() == [
                (None,)
            ]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_daily_figures_read_credited_events_and_shown_courses_from_indexes_alone(
    postgres_url,
):
    """Global stats and the dashboard read the table row of every event ever credited to a
    list, whatever the window, and each list's shown courses row by row (1,100,000 buffers and
    4-5 s for a year's window at 2,000,000 events, over the request timeout; docs/benchmarks.md).
    The credited events must come from an index holding them alone, and whether the list showed
    the course from an index too: no event's or shown course's row is read. Sequential scans
    are switched off to plan as for tables too large to read whole."""
    import psycopg
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.engine import make_url

    from adapters.sqlalchemy import daily_figures
    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

    engine = build_engine(postgres_url)
    try:
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.courses.upsert(CATALOG)
            events = []
            for n in range(1000):  # ten lists a day for 100 days, each clicked
                shown = CATALOG[n % len(CATALOG)].course_id
                uow.slates.add(slate(f"r{n}", f"u{n}", "content", [shown], days=-n / 10))
                minutes = -n * 144 + 5
                events.append(event(f"u{n}", shown, "click", minutes, recommendation_id=f"r{n}"))
                other = CATALOG[(n + 1) % len(CATALOG)].course_id  # events of no list
                events += [event(f"u{n}", other, kind, minutes) for kind in ("view", "click")]
            uow.interactions.add_batch(events)
            uow.commit()
        with engine.connect() as connection:
            statement = daily_figures.counted(connection, NOW - timedelta(days=7))
            sql = str(
                statement.compile(
                    dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
                )
            )
            [last_day] = [r for r in connection.execute(statement) if str(r[0]) == "2026-11-01"]
    finally:
        engine.dispose()
    assert last_day[2:] == (6, 6, 6, 0)  # the six lists of the last day, each clicked
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("REINDEX TABLE interactions")  # fresh indexes, as above
        conn.execute("REINDEX TABLE slate_items")
        conn.execute("VACUUM ANALYZE")  # as autovacuum keeps large tables
        conn.execute("SET enable_seqscan = off")
        (plan,) = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql).fetchone()[0]

    def scans(node, table):  # type: ignore[no-untyped-def]
        if node.get("Relation Name") == table:
            yield node["Node Type"], node.get("Index Name"), node.get("Heap Fetches")
        for child in node.get("Plans", []):
            yield from scans(child, table)

    def rows_read(node, table):  # type: ignore[no-untyped-def]
        own = (
            node["Actual Rows"] * node["Actual Loops"] if node.get("Relation Name") == table else 0
        )
        return own + sum(rows_read(child, table) for child in node.get("Plans", []))

    assert list(scans(plan["Plan"], "interactions")) == [
        ("Index Only Scan", "ix_interactions_credited_by_list_time", 0)
    ]
    # the window's credited events alone (its 71 lists, each clicked once), not the 1,000 of the
    # history: the whole credited index was read whatever the window
    assert rows_read(plan["Plan"], "interactions") == 71
    assert list(scans(plan["Plan"], "slate_items")) == [
        ("Index Only Scan", "ix_slate_items_course", 0)
    ]
