"""RS_LIST_RETENTION_DAYS: the trainer removes the lists of the days past it once their figures
are stored, and every stats window keeps those figures, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.use_cases.log_interactions import LogInteractions
from application.use_cases.store_daily_figures import StoreDailyFigures
from domain.errors import InvalidEvents
from domain.model import UserId
from tests.conftest import NOW, event
from tests.contract import test_daily_figures as stored_days
from tests.processes import PATIENCE

engine = stored_days.engine
figures, to_store, units = stored_days.figures, stored_days.to_store, stored_days.units

#: the first day's lists (c1, p1) are past a 30-day retention on this date, the second's (c2) not
TODAY = date(2026, 12, 2)


def keeping(engine, days: int = 30) -> StoreDailyFigures:  # type: ignore[no-untyped-def]
    return StoreDailyFigures(
        units(engine), budget_seconds=PATIENCE, retention_days=days, today=lambda: TODAY
    )


def lists(engine) -> tuple[list[str], int]:  # type: ignore[no-untyped-def]
    """The lists kept, and how many courses they hold."""
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT recommendation_id FROM slates")).scalars()
        courses = connection.execute(text("SELECT count(*) FROM slate_items")).scalar_one()
    return sorted(kept), courses


def test_lists_past_the_retention_go_once_stored_and_every_window_keeps_their_figures(engine):
    done = keeping(engine).execute()  # every closed day stored, the first day's lists removed
    assert (done.left, done.pruned_days, done.pruned_lists) == (0, 1, 2)
    assert lists(engine) == (["c2"], 1)
    assert figures(engine) == stored_days.BEFORE
    assert to_store(engine) == []
    again = keeping(engine).execute()  # nothing is removed twice, nothing stored again
    assert (again.days, again.pruned_days, again.pruned_lists) == (0, 0, 0)


def test_nothing_goes_without_a_retention_or_within_it(engine):
    kept = (["c1", "c2", "p1"], 5)
    StoreDailyFigures(units(engine), budget_seconds=PATIENCE).execute()
    assert lists(engine) == kept
    assert keeping(engine, days=365).execute().pruned_lists == 0
    assert lists(engine) == kept


def test_a_day_whose_lists_went_keeps_its_figures_when_a_learner_it_credited_is_erased(engine):
    """Nothing is left to count the day from: its stored figures are final. (A learner's erasure
    removes their lists and events; the day's totals name nobody.)"""
    keeping(engine).execute()
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.erasures.erase(UserId("u1"))
        uow.commit()
    assert figures(engine) == stored_days.BEFORE
    assert to_store(engine) == []


def test_a_day_changed_since_it_was_stored_keeps_its_lists_until_stored_again(engine):
    """A late click changes the day: its stored figures miss it, so the lists stay until the day
    is stored with it (the figures are what the lists then said, click included)."""
    StoreDailyFigures(units(engine), budget_seconds=PATIENCE).execute()
    with SqlAlchemyUnitOfWork(engine) as uow:
        late = event("u2", "course_ml_basic", "enroll", 30_000, recommendation_id="p1")
        uow.interactions.add_batch([late])
        uow.commit()
    with SqlAlchemyUnitOfWork(engine) as uow:
        changed, kept = date(2026, 11, 1), date(2026, 11, 2)
        assert changed not in uow.stats.days_to_prune(TODAY) and kept in uow.stats.days_to_prune(
            TODAY
        )
        assert uow.stats.prune_day(changed) == 0
        uow.commit()
    assert lists(engine)[0] == ["c1", "c2", "p1"]
    keeping(engine).execute()
    after = [("2026-11-01", 2, 4, 2, 1), stored_days.BEFORE[1]]
    assert (lists(engine)[0], figures(engine)) == (["c2"], after)


def test_a_removed_day_reads_as_stored_to_a_version_that_knows_no_final_days(engine):
    """Rolled back to a version before 0016, whose windows read a day stored while its count
    of changes holds: the deletes of its lists moved the count on, and it would count the day
    from the lists no longer there (nothing)."""
    keeping(engine).execute()
    with engine.connect() as connection:
        stored, now = connection.execute(
            text(
                "SELECT c.changes, (SELECT coalesce(sum(x.changes), 0) FROM daily_figure_changes x "
                "WHERE x.day = c.day) FROM daily_figures_counted c WHERE c.final"
            )
        ).one()
    assert stored == now


def test_a_click_on_a_removed_list_is_refused_saying_the_list_may_have_been_removed(engine):
    keeping(engine).execute()
    log = LogInteractions(units(engine), clock=lambda: NOW.replace(month=12))
    with pytest.raises(InvalidEvents) as refused:
        log.execute([event("u1", "course_ml_basic", "click", 600, recommendation_id="c1")])
    (problem,) = refused.value.problems
    assert problem["field"] == "recommendation_id"
    assert "removed past RS_LIST_RETENTION_DAYS" in str(problem["message"])


def test_a_trainer_says_what_it_removed(engine):
    from tests.contract.test_daily_figures import a_trainer_cycle

    said = a_trainer_cycle(engine, store=lambda: keeping(engine))
    assert said[-1] == (
        "stats: removed the 2 lists of 1 days past RS_LIST_RETENTION_DAYS; their figures stay"
    ), said


def test_a_day_whose_lists_cannot_be_removed_keeps_them_and_its_figures_and_is_said(
    engine, monkeypatch
):
    """A day of a busy platform whose deletes outlast the statement timeout, say: the trainer
    said nothing of it (the error read as the figures not stored) and the cycle's later days
    waited on it for ever. It is said, and the next cycle tries again."""
    from adapters.sqlalchemy import list_retention
    from application.ports import StorageUnavailable
    from tests.contract.test_daily_figures import a_trainer_cycle

    prune = list_retention.prune

    def timing_out(connection, day):  # type: ignore[no-untyped-def]
        raise StorageUnavailable("the database did not answer within 3s\nDELETE ...")

    monkeypatch.setattr(list_retention, "prune", timing_out)
    said = a_trainer_cycle(engine, store=lambda: keeping(engine))
    assert said[-1] == (
        "stats: the lists of 2026-11-01 were not removed (StorageUnavailable: the database did "
        "not answer within 3s); the next cycle tries again"
    ), said
    assert lists(engine)[0] == ["c1", "c2", "p1"]
    assert figures(engine) == stored_days.BEFORE
    monkeypatch.setattr(list_retention, "prune", prune)
    assert keeping(engine).execute().pruned_lists == 2


def test_a_day_of_more_lists_than_a_statement_removes_goes_whole_part_by_part(engine, monkeypatch):
    from adapters.sqlalchemy import list_retention

    monkeypatch.setattr(list_retention, "PRUNED_A_STATEMENT", 1)
    assert keeping(engine).execute().pruned_lists == 2
    assert lists(engine) == (["c2"], 1)
    assert figures(engine) == stored_days.BEFORE


def test_repairing_credit_leaves_the_events_credited_to_removed_lists(engine):
    """`recsys repair-credit` clears credit to a list its learner was not shown: a removed list
    read as one, so --apply took the credit of every click on the removed days' lists."""
    keeping(engine).execute()
    with engine.begin() as connection:  # credit no list ever had (written by hand)
        connection.execute(
            text(
                "INSERT INTO interactions (event_id, user_id, course_id, event_type, "
                "occurred_at, recommendation_id) VALUES "
                "('by-hand', 'u2', 'course_ml_basic', 'click', :at, 'never-served')"
            ),
            {"at": NOW},
        )
    with SqlAlchemyUnitOfWork(engine) as uow:
        assert uow.interactions.miscredited(clear=True) == 1
        uow.commit()
    with engine.connect() as connection:
        credited = connection.execute(
            text("SELECT recommendation_id FROM interactions WHERE recommendation_id IS NOT NULL")
        ).scalars()
        assert list(credited) == ["c1"]


def test_an_event_sent_again_as_it_was_stays_a_duplicate_after_its_list_is_removed(engine):
    """Checked for its credit before being found stored, it was refused, and without its
    credit (as the refusal advised) it conflicted with the stored one: a backlog holding it
    could never be delivered, nor an export imported again."""
    keeping(engine).execute()
    log = LogInteractions(units(engine), clock=lambda: NOW.replace(month=12))
    again = event("u1", "course_sql_basic", "click", 10, recommendation_id="c1")
    assert log.execute([again]).duplicates == 1
    assert log.unserved([again]) == set()  # an import keeps its credit: a duplicate again
    stripped = event("u2", "course_ml_basic", "click", 20)  # stored without credit, then
    log.execute([stripped])
    credited = event("u2", "course_ml_basic", "click", 20, recommendation_id="p1")
    assert log.unserved([credited]) == {credited.event_id}  # sent with it: dropped again


def test_removing_a_days_lists_leaves_one_row_of_its_changes(engine):
    """SQLite's triggers add a row of changes a row deleted, and a final day is never stored
    again to sum them: every window would add up ten rows for every course a list showed."""
    keeping(engine).execute()
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT count(*) FROM daily_figure_changes WHERE day = :day"),
            {"day": date(2026, 11, 1)},
        ).scalar_one()
    assert rows == 1


def test_lists_removed_past_the_retention_still_count_as_served_once_for_the_demo(engine):
    """`make run` serves the demo's lists unless some were stored: once all were removed, each
    run served another 30 days of them, with their clicks."""
    keeping(engine).execute()
    with SqlAlchemyUnitOfWork(engine) as uow:
        assert uow.slates.any_named("c1")  # removed, and a click names it
        assert uow.slates.any_named("c2")  # kept
        assert not uow.slates.any_named("p1")  # removed, and nothing names it


def test_a_cycle_whose_budget_storing_took_still_removes_a_days_lists(engine):
    """Late clicks re-changing the newest days at every cycle may take the whole budget to
    store: the lists waited for a cycle with time left, which might never come."""
    StoreDailyFigures(units(engine), budget_seconds=PATIENCE).execute()
    with SqlAlchemyUnitOfWork(engine) as uow:  # the newer day changed: a day left to store
        uow.interactions.add_batch(
            [event("u2", "course_ml_basic", "click", 30_000, recommendation_id="c2")]
        )
        uow.commit()
    spent = StoreDailyFigures(
        units(engine), budget_seconds=0, retention_days=30, today=lambda: TODAY
    ).execute()
    assert (spent.days, spent.left, spent.pruned_days, spent.pruned_lists) == (0, 1, 1, 2)
    assert lists(engine)[0] == ["c2"]


def test_what_a_trainer_stored_and_removed_is_counted_for_every_hosts_metrics(engine):
    from datetime import timedelta

    from application.trainer import Trainer
    from tests.unit.test_trainer_beats import Fit
    from tests.unit.test_trainer_outages import Jobs

    days = len(to_store(engine))
    trainer = Trainer(
        lambda: Fit([[]]),
        Jobs,
        fit_interval=0,
        say=lambda line: None,
        uow_factory=units(engine),
        worker="host-a:7",
        store_figures=lambda: keeping(engine),
    )
    trainer.run_once()
    with SqlAlchemyUnitOfWork(engine) as uow:
        (beat,) = uow.trainers.recent(NOW - timedelta(days=365))
    assert beat.tally.stats == {"stored": days, "lists_removed": 2}
