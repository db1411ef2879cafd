"""The xAPI statement and erasure ports, run against memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from application.ports import Erasure, LatestErasure, StatementRecord
from domain.model import Recommendation, RecommendationId, Slate, UserId
from tests.conftest import CATALOG, NOW, event

A = "0b5d1a6e-8a44-4a4e-9a4c-1d0e6f7a8b90"
B = "1c6e2b7f-9b55-4b5f-8b5d-2e1f7a8b9c01"
C = "2d7f3c80-ac66-4c60-9c6e-3f2a8b9cad12"


def test_statement_ids_are_known_with_their_content_hash_after_commit(uow_factory):
    with uow_factory() as uow:
        uow.statements.add([StatementRecord(A, "h1", UserId("u1"), None, NOW)])
        uow.commit()
    with uow_factory() as uow:
        assert uow.statements.known([A, B]) == {A: "h1"}
        assert uow.statements.known([]) == {}


def test_a_statement_stored_already_is_left_as_it_is_and_not_counted(uow_factory):
    """What a request finds when another stored the statement since it looked (it starts over)."""
    with uow_factory() as uow:
        assert uow.statements.add([StatementRecord(A, "h1", UserId("u1"), None, NOW)]) == 1
        uow.commit()
    with uow_factory() as uow:
        again = [StatementRecord(A, "h2", UserId("u1"), None, NOW)]
        assert uow.statements.add([*again, StatementRecord(B, "h3", UserId("u1"), None, NOW)]) == 1
        uow.commit()
    with uow_factory() as uow:
        assert uow.statements.known([A, B]) == {A: "h1", B: "h3"}


def test_a_voiding_statement_names_the_statement_it_voids(uow_factory):
    with uow_factory() as uow:
        uow.statements.add(
            [
                StatementRecord(A, "h1", UserId("u1"), None, NOW),
                StatementRecord(B, "h2", UserId("u1"), A, NOW),
            ]
        )
        uow.commit()
    with uow_factory() as uow:
        assert uow.statements.voided([A, B, C]) == {A}


def test_removing_events_by_id_reports_how_many_existed(uow_factory):
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG)
        uow.interactions.add_batch([event("u1", "course_sql_basic", event_id="xapi:1")])
        uow.commit()
        before = uow.interactions.version()
    with uow_factory() as uow:
        assert uow.interactions.remove(["xapi:1", "xapi:missing"]) == 1
        assert uow.interactions.remove([]) == 0
        uow.statements.add([StatementRecord(A, "h", UserId("admin"), "1", NOW)])
        uow.commit()
    with uow_factory() as uow:
        assert uow.interactions.count() == 0
        assert uow.interactions.version() != before


def _slate(rec: str, user: str) -> Slate:
    items = tuple(
        Recommendation(c.course_id, 1.0 / (i + 1), i + 1, "popularity")
        for i, c in enumerate(CATALOG[:3])
    )
    return Slate(RecommendationId(rec), UserId(user), "popularity", items, NOW)


def test_erasing_a_learner_removes_their_rows_and_only_theirs(uow_factory):
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG)
        uow.slates.add(_slate("r-ana", "ana"))
        uow.slates.add(_slate("r-bo", "bo"))
        uow.interactions.add_batch(
            [
                event("ana", "course_sql_basic", "click", recommendation_id="r-ana"),
                event("ana", "course_ml_basic", "enroll", 1),
                event("bo", "course_sql_basic", "click", 2, recommendation_id="r-bo"),
                # someone else's event credited to ana's slate keeps the event, not the credit
                event("cy", "course_python_basic", "click", 3, recommendation_id="r-ana"),
            ]
        )
        uow.statements.add(
            [
                StatementRecord(A, "h", UserId("ana"), None, NOW),
                StatementRecord(B, "h", UserId("bo"), None, NOW),
            ]
        )
        uow.commit()
        before = uow.interactions.version()
    with uow_factory() as uow:
        counts = uow.erasures.erase(UserId("ana"))
        uow.erasures.record(Erasure("a" * 64, NOW, counts))
        uow.commit()
    assert counts == {
        "events": 2,
        "slates": 1,
        "impressions": 3,
        "statements": 1,
        "attributions": 1,
    }
    with uow_factory() as uow:
        assert uow.interactions.version() != before  # so fitted models know to refit
        assert uow.interactions.history(UserId("ana")).is_new
        assert uow.slates.get(RecommendationId("r-ana")) is None
        assert uow.slates.get(RecommendationId("r-bo")) is not None
        assert uow.statements.known([A, B]) == {B: "h"}
        (cy,) = uow.interactions.history(UserId("cy")).events
        assert cy.recommendation_id is None
        assert uow.stats.user(UserId("ana")).num_recommendations == 0
        assert uow.stats.user(UserId("bo")).num_clicks == 1


def test_a_learner_served_many_lists_has_them_removed_a_batch_at_a_time(database_url, monkeypatch):
    """One statement removed a learner's 45,000 lists with their 450,000 courses in 2.3 s on
    PostgreSQL: a learner served a list every five minutes for a year would pass the 3 s
    statement timeout, and could never be erased. Each statement now removes a batch of lists,
    and the erasure still removes them all, with everyone else's credit to them."""
    from sqlalchemy import event as sql_event

    from adapters.sqlalchemy import learners
    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

    monkeypatch.setattr(learners, "LISTS_PER_STATEMENT", 2, raising=False)
    engine = build_engine(database_url)
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.courses.upsert(CATALOG)
        for n in range(5):
            uow.slates.add(_slate(f"r-ana-{n}", "ana"))
        uow.slates.add(_slate("r-bo", "bo"))
        uow.interactions.add_batch(
            [event("cy", "course_sql_basic", "click", 3, recommendation_id="r-ana-4")]
        )
        uow.commit()
    statements: list[str] = []
    sql_event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with SqlAlchemyUnitOfWork(engine) as uow:
        counts = uow.erasures.erase(UserId("ana"))
        uow.commit()
    with SqlAlchemyUnitOfWork(engine) as uow:
        left = uow.slates.existing([RecommendationId(f"r-ana-{n}") for n in range(5)])
        (cy,) = uow.interactions.history(UserId("cy")).events
        bo = uow.slates.get(RecommendationId("r-bo"))
    engine.dispose()
    assert (counts["slates"], counts["impressions"], counts["attributions"]) == (5, 15, 1)
    assert left == set() and cy.recommendation_id is None and bo is not None
    assert len([s for s in statements if s.startswith("DELETE FROM slate_items")]) >= 3


def test_erasing_a_learner_with_no_events_leaves_the_fingerprint_so_nothing_refits(uow_factory):
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG)
        uow.interactions.add_batch([event("ana", "course_sql_basic")])
        uow.commit()
        before = uow.interactions.version()
    for who in ("nobody", "ana"):
        with uow_factory() as uow:
            uow.erasures.record(Erasure(who * 8, NOW, uow.erasures.erase(UserId(who))))
            uow.commit()
        with uow_factory() as uow:
            if who == "nobody":
                assert uow.interactions.version() == before  # recorded, but nothing to refit
            else:
                assert uow.interactions.version() != before


def test_an_erasure_not_committed_removes_nothing(uow_factory):
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG)
        uow.interactions.add_batch([event("ana", "course_sql_basic")])
        uow.commit()
    with uow_factory() as uow:
        uow.erasures.erase(UserId("ana"))
    with uow_factory() as uow:
        assert uow.interactions.count() == 1


def test_the_latest_erasure_time_is_remembered(uow_factory):
    with uow_factory() as uow:
        assert uow.erasures.latest() is None
        later = NOW + timedelta(hours=1)
        uow.erasures.record(Erasure("a" * 64, later, {"events": 2}))
        uow.erasures.record(Erasure("b" * 64, NOW, {"events": 0}))
        uow.commit()
    with uow_factory() as uow:
        first = uow.erasures.mark() - 1  # the first of the two (an id on the databases)
        # the latest that removed events, by its mark; and the mark of the newest of all
        assert uow.erasures.latest() == LatestErasure(later, first, first + 1)
        assert uow.erasures.erased(["a" * 64, "c" * 64]) == {"a" * 64: later}
        assert uow.erasures.erased([]) == {}


def test_the_latest_erasure_is_the_latest_that_removed_events(uow_factory):
    later = NOW + timedelta(hours=1)
    with uow_factory() as uow:
        uow.erasures.record(Erasure("b" * 64, later, {"events": 0, "slates": 0}))
        uow.commit()
    with uow_factory() as uow:
        assert uow.erasures.latest() is None  # a learner never seen: no model held them
        uow.erasures.record(Erasure("a" * 64, NOW, {"events": 2, "slates": 1}))
        uow.commit()
    with uow_factory() as uow:
        mark = uow.erasures.mark()
        assert uow.erasures.latest() == LatestErasure(NOW, mark, mark)
        assert uow.erasures.erased(["b" * 64]) == {"b" * 64: later}  # still on record


def test_whether_anyone_was_ever_erased_is_known_without_naming_them(uow_factory):
    with uow_factory() as uow:
        assert not uow.erasures.any()
        uow.erasures.record(Erasure("a" * 64, NOW, uow.erasures.erase(UserId("nobody"))))
        uow.commit()
    with uow_factory() as uow:
        assert uow.erasures.any()
