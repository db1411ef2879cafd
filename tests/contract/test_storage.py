"""One contract for the storage ports, run against memory, SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from application.ports import Shown
from application.use_cases.upsert_courses import UpsertCourses
from domain.model import CourseId, EventType, Recommendation, RecommendationId, Slate, UserId
from tests.conftest import CATALOG, NOW, course, event


def test_courses_are_upserted_and_read_back_in_id_order(uow_factory):
    with uow_factory() as uow:
        uow.courses.upsert(list(reversed(CATALOG)))
        uow.commit()
    with uow_factory() as uow:
        assert [c.course_id for c in uow.courses.all()] == sorted(c.course_id for c in CATALOG)
        assert uow.courses.get(CourseId("course_python_intermediate")) == CATALOG[1]
        assert uow.courses.get(CourseId("missing")) is None
        assert uow.courses.count() == len(CATALOG)
        assert [c.course_id for c in uow.courses.page(2, 1)] == sorted(
            c.course_id for c in CATALOG
        )[1:3]


@pytest.mark.postgres
def test_the_catalog_is_listed_in_the_same_id_order_on_every_database(sqlite_url, icu_postgres_url):
    """GET /courses pages and the catalog the trainer fits (ties go to the course listed
    first) followed the database's collation: en-US put course_a before Course_z, SQLite and
    memory after it."""
    from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

    ids = ["course_a", "course_B", "course_c", "Course_z", "course-x"]
    engines = [build_engine(sqlite_url), build_engine(icu_postgres_url)]
    memory = InMemoryStore()
    factories = [lambda: InMemoryUnitOfWork(memory)]
    factories += [lambda e=e: SqlAlchemyUnitOfWork(e) for e in engines]  # type: ignore[misc]
    found = []
    for factory in factories:
        with factory() as uow:
            uow.courses.upsert([course(c) for c in ids])
            uow.commit()
        with factory() as uow:
            found.append(([c.course_id for c in uow.courses.all()], uow.courses.page(2, 1)))
    for engine in engines:
        engine.dispose()
    assert [listed for listed, _ in found] == [sorted(ids)] * 3
    assert [[c.course_id for c in page] for _, page in found] == [sorted(ids)[1:3]] * 3


def test_an_upsert_replaces_a_course_and_changes_the_catalog_version(uow_factory):
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG)
        uow.commit()
        before = uow.courses.version()
    renamed = replace(CATALOG[0], title="Python for Everyone", active=False)
    with uow_factory() as uow:
        uow.courses.upsert([renamed])
        uow.commit()
    with uow_factory() as uow:
        assert uow.courses.get(renamed.course_id) == renamed
        assert uow.courses.count() == len(CATALOG)
        assert uow.courses.version() != before


def test_a_catalog_change_stamped_before_the_newest_still_changes_the_version(
    uow_factory, monkeypatch
):
    """Another host's clock behind this one's (or two writes committed in the other order):
    a change stamped below the newest stamp left the version as it was, so no worker loaded
    it and a deactivated course stayed recommended."""
    import adapters.sqlalchemy.courses as sql

    class Ahead(sql.datetime):  # type: ignore[misc,valid-type]
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def]
            return super().now(tz) + timedelta(minutes=1)

    monkeypatch.setattr(sql, "datetime", Ahead)
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG)
        uow.commit()
        before = uow.courses.version()
    monkeypatch.undo()
    with uow_factory() as uow:
        uow.courses.upsert([replace(CATALOG[0], active=False)])
        uow.commit()
    with uow_factory() as uow:
        assert uow.courses.version() != before


def test_a_catalog_written_again_as_it_is_stored_keeps_its_version(uow_factory):
    """An LMS that sends its whole catalog every night changed the catalog's version each time,
    so the trainer refitted every strategy and every worker reloaded the catalog for nothing;
    one course changed among them still changes it."""
    UpsertCourses(uow_factory).execute(CATALOG)

    def version() -> str:
        with uow_factory() as uow:
            return uow.courses.version()

    before = version()
    UpsertCourses(uow_factory).execute(list(reversed(CATALOG)))
    UpsertCourses(uow_factory).write_one(CATALOG[0].course_id, lambda stored: stored)
    assert version() == before
    retitled = replace(CATALOG[2], title="SQL for Everyone")
    UpsertCourses(uow_factory).execute([*CATALOG[:2], retitled])
    assert version() != before
    with uow_factory() as uow:
        assert uow.courses.get(retitled.course_id) == retitled


def test_stored_gives_the_known_courses_by_id(uow_factory):
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG[:2])
        uow.commit()
        wanted = {CATALOG[1].course_id, CourseId("nope")}
        assert uow.courses.stored(wanted) == {CATALOG[1].course_id: CATALOG[1]}
        assert uow.courses.stored(set()) == {}


def test_existing_reports_only_known_courses(uow_factory):
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG[:2])
        uow.commit()
        assert uow.courses.existing({CourseId("course_python_basic"), CourseId("nope")}) == {
            "course_python_basic"
        }
        assert uow.courses.existing(set()) == set()


def test_nothing_is_stored_without_commit(uow_factory):
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG)
        uow.interactions.add_batch([event("u1", "course_python_basic")])
    with uow_factory() as uow:
        assert uow.courses.count() == 0
        assert uow.interactions.count() == 0


def test_a_retried_batch_is_not_counted_twice(uow_factory):
    batch = [
        event("u1", "course_python_basic", "view"),
        event("u1", "course_python_basic", "enroll", 5),
    ]
    with uow_factory() as uow:
        assert uow.interactions.add_batch(batch) == 2
        uow.commit()
    with uow_factory() as uow:
        assert uow.interactions.add_batch([*batch, event("u1", "course_sql_basic", "view", 9)]) == 1
        uow.commit()
    with uow_factory() as uow:
        assert uow.interactions.count() == 3


def test_a_repeated_event_id_inside_one_batch_is_stored_once(uow_factory):
    same = event("u1", "course_python_basic", event_id="e1")
    with uow_factory() as uow:
        assert uow.interactions.add_batch([same, same]) == 1
        uow.commit()
        assert uow.interactions.count() == 1


def test_history_is_one_learners_events_oldest_first_in_utc(uow_factory):
    events = [
        event("u1", "course_sql_basic", "enroll", 30),
        event("u2", "course_python_basic", "view", 10),
        event("u1", "course_python_basic", "view", 20),
    ]
    with uow_factory() as uow:
        uow.interactions.add_batch(events)
        uow.commit()
    with uow_factory() as uow:
        history = uow.interactions.history(UserId("u1"))
    assert [e.course_id for e in history.events] == ["course_python_basic", "course_sql_basic"]
    assert history.events[0].occurred_at == NOW + timedelta(minutes=20)
    assert history.events[0].occurred_at.utcoffset() == timedelta(0)
    assert history.taken() == {"course_sql_basic"}


def test_an_unknown_learner_has_an_empty_history(uow_factory):
    with uow_factory() as uow:
        assert uow.interactions.history(UserId("ghost")).is_new


def test_stream_yields_every_event_oldest_first_across_batches(uow_factory):
    events = [event(f"u{i % 7}", "course_python_basic", "view", minutes=100 - i) for i in range(25)]
    with uow_factory() as uow:
        uow.interactions.add_batch(events)
        uow.commit()
        before = uow.interactions.version()
    with uow_factory() as uow:
        streamed = list(uow.interactions.stream(batch_size=4))
    assert sorted(e.event_id for e in streamed) == sorted(e.event_id for e in events)
    assert [e.occurred_at for e in streamed] == sorted(e.occurred_at for e in events)
    with uow_factory() as uow:
        uow.interactions.add_batch([event("u9", "course_sql_basic")])
        uow.commit()
        assert uow.interactions.version() != before


def test_the_events_streamed_share_each_learners_and_courses_id(database_url):
    """The trainer holds every event it streams: with a string per row for ids that repeat
    (50,000 learners, 5,000 courses), an event took 325 bytes; with one per id, 211
    (benchmarks/events_memory.py)."""
    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

    engine = build_engine(database_url)
    events = [event(f"u{i % 2}", "course_python_basic", "view", minutes=i) for i in range(6)]
    try:
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.interactions.add_batch(events)
            uow.commit()
        with SqlAlchemyUnitOfWork(engine) as uow:
            streamed = list(uow.interactions.stream(batch_size=4))
    finally:
        engine.dispose()
    assert len({id(e.user_id) for e in streamed}) == 2
    assert len({id(e.course_id) for e in streamed}) == 1


def test_the_stream_gives_back_each_event_as_written_in_utc_oldest_first(database_url):
    """What the trainer fits on, field by field: every type, times written in other zones
    (and two alike: the first written first), credit kept, across batch boundaries; each time
    in UTC itself, not an equal time in another zone (benchmarks/events_read.py measures the
    read against a copy of an earlier one: a faster read must still give back this)."""
    from datetime import UTC, timezone

    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

    zones = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
    events = [
        replace(
            event(f"learner{i % 3}", f"course_{i % 2}", kind.value, event_id=f"e{i}"),
            occurred_at=(NOW + timedelta(minutes=i // 2, microseconds=7 * i)).astimezone(
                zones[i % 3]
            ),
            recommendation_id=RecommendationId(f"r{i}") if i % 4 == 0 else None,
        )
        for i, kind in enumerate(list(EventType) * 2)
    ]
    events.append(replace(events[-1], event_id="e-same-time"))
    engine = build_engine(database_url)
    try:
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.interactions.add_batch(list(reversed(events[:4])) + events[4:])
            uow.commit()
        with SqlAlchemyUnitOfWork(engine) as uow:
            streamed = list(uow.interactions.stream(batch_size=3))
    finally:
        engine.dispose()
    expected = sorted(events, key=lambda e: e.occurred_at)  # stable: e-same-time stays last
    assert streamed == expected
    assert [e.occurred_at.tzinfo for e in streamed] == [UTC] * len(events)
    assert all(e.occurred_at.tzinfo is UTC for e in streamed)
    assert [e.recommendation_id for e in streamed] == [e.recommendation_id for e in expected]


def test_a_served_slate_is_recorded_with_its_items(uow_factory):
    slate = Slate(
        RecommendationId("r1"),
        UserId("u1"),
        "content",
        (
            Recommendation(
                CourseId("course_sql_basic"), 0.9, 1, "content", "Similar to Python Basics"
            ),
            Recommendation(CourseId("course_ml_basic"), 0.5, 2, "content", "Similar to SQL Basics"),
        ),
        NOW,
        model_version="v1",
        fallback_from="two_tower",
        selected_by="bandit",
    )
    with uow_factory() as uow:
        uow.slates.add(slate)
        uow.commit()
    with uow_factory() as uow:
        assert uow.slates.get(RecommendationId("r1")) == slate
        assert uow.slates.get(RecommendationId("r2")) is None
        assert uow.slates.existing({RecommendationId("r1"), RecommendationId("r2")}) == {"r1"}
        assert uow.slates.any_named("r") and not uow.slates.any_named("r2")
        assert not uow.slates.any_named("%") and not uow.slates.any_named("_1")  # not patterns


def test_served_slates_say_who_was_shown_which_courses_and_when(uow_factory):
    items = tuple(
        Recommendation(CourseId(c), 0.5, rank, "content")
        for rank, c in enumerate(("course_sql_basic", "course_ml_basic"), start=1)
    )
    with uow_factory() as uow:
        uow.slates.add(Slate(RecommendationId("r1"), UserId("u1"), "content", items, NOW))
        uow.slates.add(Slate(RecommendationId("r2"), UserId("u2"), "popularity", (), NOW))
        uow.commit()
    with uow_factory() as uow:
        shown = uow.slates.shown({RecommendationId(r) for r in ("r1", "r2", "r3")})
    assert shown == {
        "r1": Shown(UserId("u1"), frozenset({"course_sql_basic", "course_ml_basic"}), NOW),
        "r2": Shown(UserId("u2"), frozenset(), NOW),
    }


def credited_some_wrongly(uow) -> None:  # type: ignore[no-untyped-def]
    """u1's list r1 showed SQL Basics: a click and a view of it are u1's credit; u2's click,
    u1's enrolment in another course and one an hour before the list are not."""
    items = (Recommendation(CourseId("course_sql_basic"), 1.0, 1, "content"),)
    shown = RecommendationId("r1")
    uow.courses.upsert(CATALOG)
    uow.slates.add(Slate(shown, UserId("u1"), "content", items, NOW))
    uow.interactions.add_batch(
        [
            event("u1", "course_sql_basic", "click", 1, recommendation_id=shown),
            event("u2", "course_sql_basic", "click", 2, recommendation_id=shown),
            event("u1", "course_ml_basic", "enroll", 3, recommendation_id=shown),
            event("u3", "course_ml_basic", "view", 4),
            # shown with it, but an hour before the list: it did not cause this enrolment
            event("u1", "course_sql_basic", "enroll", -60, recommendation_id=shown),
            event("u1", "course_sql_basic", "view", -4, recommendation_id=shown),  # skew
        ]
    )
    uow.commit()


def test_credit_a_list_never_earned_is_found_and_cleared_and_the_events_stay(uow_factory):
    with uow_factory() as uow:
        credited_some_wrongly(uow)
    with uow_factory() as uow:
        assert uow.interactions.miscredited() == 4  # without any skew allowed
        assert uow.interactions.miscredited(max_clock_skew=timedelta(minutes=5)) == 3
        assert uow.interactions.miscredited(clear=True, max_clock_skew=timedelta(minutes=5)) == 3
        uow.commit()
    with uow_factory() as uow:
        assert uow.interactions.miscredited(max_clock_skew=timedelta(minutes=5)) == 0
        credit = {e.event_id: e.recommendation_id for e in uow.interactions.stream()}
    assert credit == {
        "u1-course_sql_basic-click-1": "r1",
        "u2-course_sql_basic-click-2": None,
        "u1-course_ml_basic-enroll-3": None,
        "u3-course_ml_basic-view-4": None,
        "u1-course_sql_basic-enroll--60": None,
        "u1-course_sql_basic-view--4": "r1",
    }


def test_credit_never_earned_is_found_and_cleared_a_range_of_events_at_a_time(
    database_url, monkeypatch
):
    """One statement checked every credited event against its list: 180,000 of them took 2.5 s
    on PostgreSQL, near the 3 s statement timeout, so `recsys repair-credit` would fail on a
    little more history. Each statement now checks a range of events, and the counts are the
    same as in one."""
    from sqlalchemy import event as sql_event

    from adapters.sqlalchemy import interactions
    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

    monkeypatch.setattr(interactions, "EVENTS_PER_STATEMENT", 2)
    engine = build_engine(database_url)
    with SqlAlchemyUnitOfWork(engine) as uow:
        credited_some_wrongly(uow)
    statements: list[str] = []
    sql_event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with SqlAlchemyUnitOfWork(engine) as uow:
        found = uow.interactions.miscredited(max_clock_skew=timedelta(minutes=5))
        counts = [s for s in statements if s.startswith("SELECT count(*)")]
        cleared = uow.interactions.miscredited(clear=True, max_clock_skew=timedelta(minutes=5))
        uow.commit()
    with SqlAlchemyUnitOfWork(engine) as uow:
        left = uow.interactions.miscredited(max_clock_skew=timedelta(minutes=5))
    engine.dispose()
    assert (found, cleared, left) == (3, 3, 0)
    assert len(counts) >= 3


def test_course_fields_survive_a_round_trip(uow_factory):
    full = course(
        "c1",
        "Ünïcode & “quotes”",
        "Design",
        tags=("a", "b c"),
        prerequisites=("c0",),
        description="x" * 5000,
    )
    with uow_factory() as uow:
        uow.courses.upsert([full])
        uow.commit()
    with uow_factory() as uow:
        assert uow.courses.get(CourseId("c1")) == full


def _shown(strategy: str) -> tuple[Recommendation, ...]:
    return (Recommendation(CourseId("course_sql_basic"), 1.0, 1, strategy),)


def test_slate_outcomes_carry_the_strongest_attributed_event(uow_factory):
    from datetime import timedelta as td

    def slate(rid: str, strategy: str, minutes: int) -> Slate:
        return Slate(
            RecommendationId(rid),
            UserId("u1"),
            strategy,
            _shown(strategy),
            NOW + td(minutes=minutes),
        )

    with uow_factory() as uow:
        uow.courses.upsert(CATALOG)
        for s in (
            slate("r1", "content", 1),
            slate("r2", "popularity", 2),
            slate("r3", "content", 30),
        ):
            uow.slates.add(s)
        uow.interactions.add_batch(
            [
                event("u1", "course_sql_basic", "click", 3, recommendation_id="r1"),
                event("u1", "course_sql_basic", "enroll", 4, recommendation_id="r1"),
                event("u1", "course_ml_basic", "view", 5),
            ]
        )
        uow.commit()
    with uow_factory() as uow:
        found = uow.slates.outcomes(NOW, NOW + td(minutes=10))
    assert [(o.recommendation_id, o.strategy, o.best_event, o.events) for o in found] == [
        ("r1", "content", EventType.ENROLL, 2),
        ("r2", "popularity", None, 0),
    ]


def test_a_slate_earns_only_what_it_showed_its_learner(uow_factory):
    """Credit older versions accepted (another learner's completion, an enrolment in a course the
    list did not show) counts for nothing in CTR, so it earns the bandit's arm nothing either."""
    shown = Slate(RecommendationId("r1"), UserId("u1"), "content", _shown("content"), NOW)
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG)
        uow.slates.add(shown)
        uow.interactions.add_batch(
            [
                event("u2", "course_sql_basic", "complete", 1, recommendation_id="r1"),
                event("u1", "course_python_basic", "enroll", 2, recommendation_id="r1"),
                event("u1", "course_sql_basic", "click", 3, recommendation_id="r1"),
            ]
        )
        uow.commit()
    with uow_factory() as uow:
        [found] = uow.slates.outcomes(NOW - timedelta(minutes=1), NOW)
    assert (found.best_event, found.events) == (EventType.CLICK, 1)


def test_slate_outcomes_say_who_chose_the_strategy_and_whether_it_fell_back(uow_factory):
    content, popular = _shown("content"), _shown("popularity")
    chosen = Slate(
        RecommendationId("r1"), UserId("u1"), "content", content, NOW, None, None, "bandit"
    )
    asked = Slate(
        RecommendationId("r2"), UserId("u1"), "content", content, NOW, None, None, "request"
    )
    fell = Slate(
        RecommendationId("r3"), UserId("u1"), "popularity", popular, NOW, None, "item_cf", "bandit"
    )
    with uow_factory() as uow:
        for slate in (chosen, asked, fell):
            uow.slates.add(slate)
        uow.commit()
    with uow_factory() as uow:
        found = uow.slates.outcomes(NOW - timedelta(minutes=1), NOW)
    assert sorted((o.recommendation_id, o.selected_by, o.fallback_from) for o in found) == [
        ("r1", "bandit", None),
        ("r2", "request", None),
        ("r3", "bandit", "item_cf"),
    ]


def test_an_empty_slate_an_older_version_recorded_is_no_outcome(uow_factory):
    """It showed nothing, so it is no pull for the bandit, which would count it as earning 0."""
    with uow_factory() as uow:
        uow.slates.add(
            Slate(RecommendationId("r1"), UserId("u1"), "content", (), NOW, selected_by="bandit")
        )
        uow.commit()
    with uow_factory() as uow:
        assert uow.slates.outcomes(NOW - timedelta(minutes=1), NOW) == []


def test_the_outcomes_of_a_long_window_are_read_a_page_of_lists_at_a_time(
    database_url, monkeypatch
):
    """Read in one statement, a year of lists the bandit chose (400,000) took 10 s, past the
    statement timeout: `recsys update-online-model --recount` failed every time, and so would an
    update of a busy week. Each statement now reads a page of lists, and none is lost or
    repeated between pages, lists served at the same moment included."""
    from sqlalchemy import event as sql_event

    from adapters.sqlalchemy import slates
    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

    monkeypatch.setattr(slates, "OUTCOMES_PAGE", 2)
    engine = build_engine(database_url)
    served = [0, 1, 1, 1, 2]  # minutes after NOW: three lists at one moment span a page's end
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.courses.upsert(CATALOG)
        for n, minutes in enumerate(served):
            uow.slates.add(
                Slate(
                    RecommendationId(f"r{n}"),
                    UserId("u1"),
                    "content",
                    _shown("content"),
                    NOW + timedelta(minutes=minutes),
                    selected_by="bandit",
                )
            )
        uow.interactions.add_batch(
            [event("u1", "course_sql_basic", "click", 90, recommendation_id="r3")]
        )
        uow.commit()
    statements: list[str] = []
    sql_event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with SqlAlchemyUnitOfWork(engine) as uow:
        found = uow.slates.outcomes(NOW - timedelta(minutes=1), NOW + timedelta(hours=1), "bandit")
    engine.dispose()
    assert sorted(o.recommendation_id for o in found) == [f"r{n}" for n in range(5)]
    assert [o.served_at for o in found] == sorted(o.served_at for o in found)
    assert [o.events for o in found if o.recommendation_id == "r3"] == [1]
    assert len([s for s in statements if "FROM slates" in s]) >= 3


def test_lists_sql_by_hand_recorded_in_one_second_are_all_outcomes_across_a_page_end(
    database_url, monkeypatch
):
    """SQL by hand writes a moment without its fraction ('2026-11-02 10:00:00', SQLite's own
    datetime()), which SQLite compares as text: the next page started after the service's
    spelling of the last list's time ('... 10:00:00.000000'), after every list of that second,
    and those past the page's end were never counted by the bandit."""
    from sqlalchemy import text

    from adapters.sqlalchemy import slates
    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

    monkeypatch.setattr(slates, "OUTCOMES_PAGE", 2)
    engine = build_engine(database_url)
    moments = ["2026-11-02 10:00:00"] * 3 + ["2026-11-02 10:00:01"]
    with engine.begin() as connection:
        for n, moment in enumerate(moments):
            connection.execute(
                text(
                    "INSERT INTO slates (recommendation_id, user_id, strategy, served_at, "
                    "impressions, selected_by) VALUES (:r, 'u1', 'content', :at, 1, 'bandit')"
                ),
                {"r": f"r{n}", "at": moment},
            )
    with SqlAlchemyUnitOfWork(engine) as uow:
        found = uow.slates.outcomes(NOW.replace(2026, 11, 1), NOW.replace(2026, 11, 3), "bandit")
    engine.dispose()
    assert sorted(o.recommendation_id for o in found) == ["r0", "r1", "r2", "r3"]


def test_storage_at_the_latest_schema_reports_no_schema_problem(uow_factory):
    with uow_factory() as uow:
        assert uow.schema_problem() is None


def test_required_by_names_the_active_courses_that_need_each_course(uow_factory):
    with uow_factory() as uow:
        uow.courses.upsert(
            [
                course("basic"),
                course("other"),
                course("z_next", prerequisites=("other", "basic")),
                course("a_next", prerequisites=("basic",)),
                course("retired", prerequisites=("basic",), active=False),
                course("unrelated", prerequisites=("other",)),
            ]
        )
        uow.commit()
    with uow_factory() as uow:
        assert uow.courses.required_by([CourseId("basic"), CourseId("a_next")]) == {
            "basic": ["a_next", "z_next"]  # id order; the inactive course needs nothing
        }
        assert uow.courses.required_by([CourseId("nothing")]) == {}
        assert uow.courses.required_by([]) == {}
