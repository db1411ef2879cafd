"""Two requests that store one id at the same moment: each answers as if the other had come first."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine

from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.slate_recorder import ErasedMeanwhile, SlateRecorder
from application.use_cases.erase_learner import EraseLearner
from application.use_cases.ingest_xapi import IngestStatements
from application.use_cases.log_interactions import LogInteractions
from application.use_cases.upsert_courses import UpsertCourses
from domain.errors import EventConflict, StatementConflict
from domain.model import CourseId, Recommendation, RecommendationId, Slate, UserId
from entrypoints.xapi_mapping_file import load_mapping
from tests.conftest import CATALOG, NOW, event


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    engine = build_engine(request.getfixturevalue(f"{request.param}_url"))
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.courses.upsert(CATALOG)
        uow.commit()
    yield engine
    engine.dispose()


def _racing(engine: Engine, repository: str, method: str) -> Callable[[], SqlAlchemyUnitOfWork]:
    """Units of work whose `repository.method` waits, the first time of each of two requests,
    until the other's has been called too: both have read and checked everything, neither has
    written. (A request that starts over afterwards goes on alone, and one whose writes the
    other's hold back goes on after a while.)"""
    both_checked = threading.Barrier(2, timeout=2)
    first_two = threading.Semaphore(2)

    class Racing(SqlAlchemyUnitOfWork):
        def __enter__(self) -> Racing:
            super().__enter__()
            target = getattr(self, repository)
            write = getattr(target, method)

            def after_the_other_checked(*args: Any) -> Any:
                if first_two.acquire(blocking=False):
                    with contextlib.suppress(threading.BrokenBarrierError):
                        both_checked.wait()
                return write(*args)

            setattr(target, method, after_the_other_checked)
            return self

    return lambda: Racing(engine)


def _at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Each call's result or exception, the calls made from threads of their own at once."""
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            outcomes[index] = calls[index]()
        except Exception as error:  # noqa: BLE001 - the outcome under test
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_an_event_id_stored_meanwhile_by_another_request_with_other_content_is_a_conflict(engine):
    use_case = LogInteractions(_racing(engine, "interactions", "add_batch"), clock=lambda: NOW)
    click = event("u1", "course_sql_basic", "click", event_id="e1")
    enroll = event("u1", "course_sql_basic", "enroll", event_id="e1")
    outcomes = _at_once(lambda: use_case.execute([click]), lambda: use_case.execute([enroll]))
    conflicts = [o for o in outcomes if isinstance(o, EventConflict)]
    assert len(conflicts) == 1, outcomes  # not a "duplicate": the enrolment would be lost
    assert conflicts[0].differences == ["event_type"]
    assert [o.accepted for o in outcomes if not isinstance(o, Exception)] == [1]


def test_one_event_sent_by_two_requests_at_once_is_stored_once_and_a_duplicate(engine):
    use_case = LogInteractions(_racing(engine, "interactions", "add_batch"), clock=lambda: NOW)
    click = event("u1", "course_sql_basic", "click", event_id="e1")
    outcomes = _at_once(lambda: use_case.execute([click]), lambda: use_case.execute([click]))
    assert sorted((o.accepted, o.duplicates) for o in outcomes) == [(0, 1), (1, 0)]


def _statement(verb: str, statement_id: str = "9f1c2a4e-0000-4000-8000-000000000001") -> dict:  # type: ignore[type-arg]
    return {
        "id": statement_id,
        "actor": {"account": {"homePage": "https://lms.example", "name": "u1"}},
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
        "object": {"id": "https://lms.example/courses/course_sql_basic"},
    }


def _ingest(engine: Engine) -> IngestStatements:
    racing = _racing(engine, "statements", "add")
    return IngestStatements(racing, load_mapping("configs/xapi.yaml"), clock=lambda: NOW)


def test_one_statement_sent_by_two_requests_at_once_is_stored_once_and_a_duplicate(engine):
    use_case = _ingest(engine)
    sent = [_statement("completed")]
    outcomes = _at_once(lambda: use_case.execute(sent), lambda: use_case.execute(sent))
    assert sorted((o.accepted, o.duplicates) for o in outcomes) == [(0, 1), (1, 0)], outcomes


def test_a_statement_id_stored_meanwhile_with_other_content_is_a_conflict(engine):
    use_case = _ingest(engine)
    outcomes = _at_once(
        lambda: use_case.execute([_statement("completed")]),
        lambda: use_case.execute([_statement("registered")]),
    )
    assert sum(isinstance(o, StatementConflict) for o in outcomes) == 1, outcomes
    assert [o.accepted for o in outcomes if not isinstance(o, Exception)] == [1]


def test_two_courses_made_to_require_each_other_at_once_are_no_cycle(engine):
    """Each request alone is sound; both stored, neither course could ever be started."""
    use_case = UpsertCourses(_racing(engine, "courses", "upsert"))
    basic, spanish = (
        c for c in CATALOG if c.course_id in ("course_sql_basic", "course_spanish_basic")
    )
    outcomes = _at_once(
        lambda: use_case.execute([replace(basic, prerequisites=(spanish.course_id,))]),
        lambda: use_case.execute([replace(spanish, prerequisites=(basic.course_id,))]),
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["PrerequisiteCycle", "int"], outcomes


def test_two_changes_of_one_course_at_once_are_both_kept(engine):
    """Two PATCHes at once, of the title and of the tags: each stored the course as it read it
    with its own change, and the later one undid the other's."""
    use_case = UpsertCourses(_racing(engine, "courses", "upsert"))
    sql = CourseId("course_sql_basic")
    outcomes = _at_once(
        lambda: use_case.write_one(sql, lambda stored: replace(stored, title="SQL for All")),
        lambda: use_case.write_one(sql, lambda stored: replace(stored, tags=("databases",))),
    )
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    with SqlAlchemyUnitOfWork(engine) as uow:
        stored = uow.courses.get(sql)
    assert stored is not None and (stored.title, stored.tags) == ("SQL for All", ("databases",))


def _erasing_meanwhile(
    engine: Engine, repository: str, method: str
) -> Callable[[], SqlAlchemyUnitOfWork]:
    """Units of work for a write and an erasure at once: `repository.method` (the write) waits
    until both have checked, then until the erasure has ended, or 0.75 s after it could not."""
    both_checked = threading.Barrier(2, timeout=0.75)
    erased = threading.Event()

    class Racing(SqlAlchemyUnitOfWork):
        def __enter__(self) -> Racing:
            super().__enter__()
            target = getattr(self, repository)
            write, erase = getattr(target, method), self.erasures.erase

            def after_the_erasure(*args: Any) -> Any:
                with contextlib.suppress(threading.BrokenBarrierError):
                    both_checked.wait()
                erased.wait(0.75)
                return write(*args)

            def once_both_checked(*args: Any) -> Any:
                with contextlib.suppress(threading.BrokenBarrierError):
                    both_checked.wait()
                return erase(*args)

            setattr(target, method, after_the_erasure)
            self.erasures.erase = once_both_checked  # type: ignore[method-assign]
            return self

        def __exit__(self, *exc: object) -> None:
            super().__exit__(*exc)
            erased.set()  # (the write's own unit of work ends after its write)

    return lambda: Racing(engine)


def test_an_event_logged_while_its_learner_is_erased_does_not_outlive_the_erasure(engine):
    """The event's request checked that its learner was not erased, then the erasure removed
    their events and committed, then the event was stored: the erasure said it removed
    everything, and the learner's past was back."""
    racing = _erasing_meanwhile(engine, "interactions", "add_batch")
    log = LogInteractions(racing, clock=lambda: NOW)
    erase = EraseLearner(racing, clock=lambda: NOW)
    earlier = event("u1", "course_sql_basic", "enroll", minutes=-60, event_id="e1")
    outcomes = _at_once(lambda: log.execute([earlier]), lambda: erase.execute(UserId("u1")))
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    with SqlAlchemyUnitOfWork(engine) as uow:
        assert uow.interactions.stored({"e1"}) == {}


def _home_slate(user: str) -> Slate:
    item = Recommendation(CourseId("course_sql_basic"), 1.0, 1, "popularity", "Popular")
    return Slate(RecommendationId(f"rec-{user}"), UserId(user), "popularity", (item,), NOW)


def test_a_list_made_of_a_history_read_before_an_erasure_is_not_kept_after_it(engine):
    """A home request read the learner's history, the erasure committed, then the list was
    recorded: the erasure had said the learner's lists were gone, and one named them again."""
    factory = lambda: SqlAlchemyUnitOfWork(engine)  # noqa: E731
    LogInteractions(factory, clock=lambda: NOW).execute(
        [event("u1", "course_sql_basic", "enroll", minutes=-60, event_id="e1")]
    )
    recorder = SlateRecorder(factory)
    with factory() as uow:
        mark = recorder.mark(uow)  # then the history is read
    EraseLearner(factory, clock=lambda: NOW, erased=recorder.forget_mark).execute(UserId("u1"))
    with pytest.raises(ErasedMeanwhile):
        recorder.record(_home_slate("u1"), mark)
    with factory() as uow:
        assert uow.slates.existing([RecommendationId("rec-u1")]) == set()
        again = recorder.mark(uow)
    # the learner comes back after the erasure: their new lists are theirs, and kept
    recorder.record(_home_slate("u1"), again)
    with factory() as uow:
        assert uow.slates.existing([RecommendationId("rec-u1")]) == {"rec-u1"}


def test_a_list_recorded_while_its_learner_is_erased_does_not_outlive_the_erasure(engine):
    """The recorder had checked the learner's erasures, the erasure removed their lists and
    committed, then the list was stored."""
    racing = _erasing_meanwhile(engine, "slates", "add")
    recorder = SlateRecorder(racing)
    erase = EraseLearner(racing, clock=lambda: NOW)
    outcomes = _at_once(
        lambda: recorder.record(_home_slate("u1"), 0), lambda: erase.execute(UserId("u1"))
    )
    # stored and then removed, or (the erasure first) left out
    assert not [
        o for o in outcomes if isinstance(o, Exception) and not isinstance(o, ErasedMeanwhile)
    ], outcomes
    with SqlAlchemyUnitOfWork(engine) as uow:
        assert uow.slates.existing([RecommendationId("rec-u1")]) == set()


@pytest.mark.postgres
def test_other_learners_events_are_stored_while_a_learner_served_many_lists_is_erased(
    postgres_url,
):
    """Erasing a learner served lists for a year (60,000 lists, 600,000 courses shown) took 4 s,
    all of it under the lock that every event write and every recorded list waits for: the
    LMS's events and everyone's home lists got 503s meanwhile (the lock timeout is 3 s). The
    learner's lists are removed before that lock now; under it, only what came meanwhile."""
    from sqlalchemy import event as sql_event

    eraser = build_engine(postgres_url)
    writer = build_engine(postgres_url, timeout=1)
    with SqlAlchemyUnitOfWork(eraser) as uow:
        uow.courses.upsert(CATALOG)
        uow.slates.add(_home_slate("u1"))
        uow.commit()
    logged: list[Any] = []

    def log_another_learners_event(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("DELETE FROM slate_items") and not logged:
            other = event("u2", "course_sql_basic", "click", event_id="e-u2")
            try:
                logged.append(
                    LogInteractions(lambda: SqlAlchemyUnitOfWork(writer)).execute([other])
                )
            except Exception as error:  # noqa: BLE001 - the outcome under test
                logged.append(error)

    sql_event.listen(eraser, "before_cursor_execute", log_another_learners_event)
    erasure = EraseLearner(lambda: SqlAlchemyUnitOfWork(eraser), clock=lambda: NOW).execute(
        UserId("u1")
    )
    eraser.dispose()
    writer.dispose()
    assert [getattr(o, "accepted", o) for o in logged] == [1]
    assert (erasure.counts["slates"], erasure.counts["impressions"]) == (1, 1)


@pytest.mark.postgres
def test_two_learners_erased_at_once_are_both_erased_when_one_has_credit_on_the_others_list(
    postgres_url,
):
    """An older version credited u2's click to u1's list. Erasing u1 cleared that credit (u2's
    event row locked) before it waited for the erasures' lock; erasing u2 meanwhile held that lock
    and waited to delete the same event: PostgreSQL found a deadlock and failed one erasure
    (a 503). Erasures took turns before the lists were removed ahead of the lock."""
    from sqlalchemy import event as sql_event

    from adapters.sqlalchemy.reset import delete_everything

    first, second = build_engine(postgres_url), build_engine(postgres_url)
    with first.begin() as connection:
        delete_everything(connection)
    with SqlAlchemyUnitOfWork(first) as uow:
        uow.courses.upsert(CATALOG)
        uow.slates.add(_home_slate("u1"))
        uow.interactions.add_batch(
            [
                event(
                    "u2",
                    "course_sql_basic",
                    "click",
                    1,
                    event_id="e-u2",
                    recommendation_id="rec-u1",
                )
            ]
        )
        uow.commit()
    erased: dict[str, Any] = {}

    def erase(engine: Engine, user: str) -> None:
        try:
            factory = lambda: SqlAlchemyUnitOfWork(engine)  # noqa: E731
            erased[user] = EraseLearner(factory, clock=lambda: NOW).execute(UserId(user)).counts
        except Exception as error:  # noqa: BLE001 - the outcome under test
            erased[user] = error

    other = threading.Thread(target=erase, args=(second, "u2"))

    def erase_u2_before_u1_holds_the_lock(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if "pg_advisory_xact_lock(" in statement and not other.is_alive() and "u2" not in erased:
            other.start()
            other.join(timeout=1.5)  # u2's erasure under the lock, or waiting on u1's rows

    sql_event.listen(first, "before_cursor_execute", erase_u2_before_u1_holds_the_lock)
    erase(first, "u1")
    other.join()
    first.dispose()
    second.dispose()
    assert not any(isinstance(e, Exception) for e in erased.values()), erased
    assert erased["u1"]["slates"] == 1 and erased["u2"]["events"] == 1
