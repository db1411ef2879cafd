"""Closed days' figures stored by the trainer (migration 0013): a stats window reads them, and
whatever changes a stored day afterwards is in the figures at once, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.use_cases.compute_stats import ComputeStats
from application.use_cases.store_daily_figures import StoreDailyFigures
from domain.model import UserId
from tests.conftest import CATALOG, NOW, event
from tests.contract.test_stats import slate
from tests.processes import PATIENCE


@pytest.fixture
def engine(database_url):  # type: ignore[no-untyped-def]
    """Lists served on 2026-11-01 and 2026-11-02, a month before the database's today: u1 gets
    a content list of 2 courses and clicks one, u2 a popularity list of 2 courses, and on the
    second day u2 a content list of one course."""
    engine = build_engine(database_url)
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.courses.upsert(CATALOG)
        uow.slates.add(slate("c1", "u1", "content", ["course_sql_basic", "course_ml_basic"]))
        uow.slates.add(slate("p1", "u2", "popularity", ["course_sql_basic", "course_ml_basic"]))
        uow.slates.add(slate("c2", "u2", "content", ["course_ml_basic"], days=1))
        uow.interactions.add_batch(
            [event("u1", "course_sql_basic", "click", 10, recommendation_id="c1")]
        )
        uow.commit()
    yield engine
    engine.dispose()


def units(engine):  # type: ignore[no-untyped-def]
    return lambda: SqlAlchemyUnitOfWork(engine)


def figures(engine) -> list[tuple]:  # type: ignore[no-untyped-def,type-arg]
    """The window's (day, recommendations, impressions, clicks, enrolls), a week from 2026-11-01."""
    stats = ComputeStats(units(engine), clock=lambda: NOW + timedelta(days=6))
    return [
        (d.date, d.recommendations, d.impressions, d.clicks, d.enrolls)
        for d in stats.global_stats(days=7).daily
    ]


BEFORE = [("2026-11-01", 2, 4, 1, 0), ("2026-11-02", 1, 1, 0, 0)]


def to_store(engine) -> list[str]:  # type: ignore[no-untyped-def]
    with SqlAlchemyUnitOfWork(engine) as uow:
        return [str(d) for d in uow.stats.days_to_store()]


def test_a_window_reads_the_stored_figures_of_closed_days(engine):
    assert to_store(engine)[-2:] == ["2026-11-02", "2026-11-01"]  # newest first
    stored = StoreDailyFigures(units(engine), budget_seconds=PATIENCE).execute()
    assert (stored.left, to_store(engine)) == (0, [])
    assert figures(engine) == BEFORE
    with engine.begin() as connection:  # what the window reads is the stored row
        connection.execute(text("UPDATE daily_figures SET clicks = 42 WHERE strategy = 'content'"))
    assert figures(engine)[0] == ("2026-11-01", 2, 4, 42, 0)


def test_a_click_days_after_its_list_counts_at_once_and_the_day_is_stored_again(engine):
    StoreDailyFigures(units(engine), budget_seconds=PATIENCE).execute()
    with SqlAlchemyUnitOfWork(engine) as uow:  # three weeks later, on u2's popularity list
        late = event("u2", "course_ml_basic", "enroll", 30_000, recommendation_id="p1")
        uow.interactions.add_batch([late])
        uow.commit()
    after = [("2026-11-01", 2, 4, 2, 1), BEFORE[1]]
    assert figures(engine) == after
    assert to_store(engine) == ["2026-11-01"]
    StoreDailyFigures(units(engine), budget_seconds=PATIENCE).execute()
    assert (to_store(engine), figures(engine)) == ([], after)


def test_an_erasure_leaves_a_stored_day_at_once(engine):
    StoreDailyFigures(units(engine), budget_seconds=PATIENCE).execute()
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.erasures.erase(UserId("u1"))
        uow.commit()
    assert figures(engine) == [("2026-11-01", 1, 2, 0, 0), BEFORE[1]]


def test_writes_by_hand_to_a_stored_day_count_too(engine):
    """A host still on the previous version during a rolling upgrade, or SQL by hand: a list
    recorded late (as the demo's are), its credit, and credit cleared on another list."""
    StoreDailyFigures(units(engine), budget_seconds=PATIENCE).execute()
    at = NOW + timedelta(days=1, hours=1)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO slates (recommendation_id, user_id, strategy, served_at, impressions) "
                "VALUES ('h1', 'u3', 'hybrid', :at, 1)"
            ),
            {"at": at},
        )
        connection.execute(
            text(
                "INSERT INTO slate_items (recommendation_id, rank, course_id, score, reason) "
                "VALUES ('h1', 1, 'course_sql_basic', 1.0, '')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO interactions (event_id, user_id, course_id, event_type, "
                "occurred_at, recommendation_id) VALUES "
                "('by-hand', 'u3', 'course_sql_basic', 'click', :at, 'h1')"
            ),
            {"at": at},
        )
        connection.execute(
            text("UPDATE interactions SET recommendation_id = NULL WHERE user_id = 'u1'")
        )
    assert figures(engine) == [("2026-11-01", 2, 4, 0, 0), ("2026-11-02", 2, 2, 1, 0)]


def test_the_latest_days_are_never_stored_and_are_counted_from_events(database_url):
    """Writes to the last two days are not counted as changes (each list served would wait on
    its day's count): a day is stored only once it is three days old by the database's clock."""
    engine = build_engine(database_url)
    now = datetime.now(UTC)
    try:
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.courses.upsert(CATALOG)
            for n in range(5):
                served = replace_time(
                    slate(f"r{n}", "u1", "content", ["course_sql_basic"]), now - timedelta(days=n)
                )
                uow.slates.add(served)
            uow.commit()
        days = to_store(engine)
        assert days[0] == str((now - timedelta(days=3)).date())
        StoreDailyFigures(lambda: SqlAlchemyUnitOfWork(engine), budget_seconds=PATIENCE).execute()
        with SqlAlchemyUnitOfWork(engine) as uow:  # a list served today, after the store
            uow.slates.add(replace_time(slate("r9", "u2", "content", ["course_sql_basic"]), now))
            uow.commit()
        stats = ComputeStats(lambda: SqlAlchemyUnitOfWork(engine), clock=lambda: now)
        assert [d.recommendations for d in stats.global_stats(days=5).daily] == [1, 1, 1, 1, 2]
    finally:
        engine.dispose()


def replace_time(served, at):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(served, served_at=at)


def test_a_budget_spent_leaves_the_oldest_days_for_the_next_cycle(engine):
    days = to_store(engine)
    ticks = iter([0.0, 0.0, 10.0])  # the start, then one day stored before the budget is out
    stored = StoreDailyFigures(units(engine), budget_seconds=5, clock=lambda: next(ticks)).execute()
    assert (stored.days, stored.left, to_store(engine)) == (1, len(days) - 1, days[1:])
    assert figures(engine) == BEFORE


def test_the_history_is_stored_while_late_clicks_change_the_newest_stored_days_every_cycle(
    engine,
):
    """A busy platform after the upgrade: clicks on lists a few days old change the newest
    stored days at every cycle. Stored again first, they took the whole budget and the days
    never stored waited for ever, so long windows were still counted from every event."""
    with SqlAlchemyUnitOfWork(engine) as uow:  # lists of 2026-11-25 and 2026-11-26
        uow.slates.add(slate("r1", "u1", "content", ["course_sql_basic"], days=24))
        uow.slates.add(slate("r2", "u2", "content", ["course_ml_basic"], days=25))
        uow.commit()

    def cycle(days: int) -> None:
        """A trainer's cycle whose budget stores `days` days."""
        ticks = iter(range(days + 2))
        StoreDailyFigures(
            units(engine), budget_seconds=days + 1, clock=lambda: next(ticks)
        ).execute()

    cycle(4)  # the four newest days, 2026-11-25 among them
    never = [d for d in to_store(engine) if d < "2026-11-25"]
    assert "2026-11-01" in never
    for n in range(len(never) // 2 + 1):
        with SqlAlchemyUnitOfWork(engine) as uow:  # a click on each list, days later
            uow.interactions.add_batch(
                [
                    event("u1", "course_sql_basic", "click", 24 * 1440 + 60 + n, f"a{n}", "r1"),
                    event("u2", "course_ml_basic", "click", 25 * 1440 + 60 + n, f"b{n}", "r2"),
                ]
            )
            uow.commit()
        cycle(2)
    assert not set(never) & set(to_store(engine))
    assert figures(engine) == [*BEFORE, ("2026-11-25", 1, 1, 1, 0), ("2026-11-26", 1, 1, 1, 0)]


def test_the_in_memory_store_counts_every_window_from_its_lists(uow_factory):
    with uow_factory() as uow:
        if not isinstance(uow, SqlAlchemyUnitOfWork):
            assert uow.stats.days_to_store() == []


@pytest.mark.postgres
def test_a_change_committed_while_a_day_is_stored_leaves_it_to_be_stored_again(postgres_url):
    """The day's count of changes is read before its figures: a click committed in between is in
    the figures or not, and the day reads as changed either way, so no window misses it."""
    from sqlalchemy import event as sa_event

    from adapters.sqlalchemy import daily_figures

    engine = build_engine(postgres_url)
    try:
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.courses.upsert(CATALOG)
            uow.slates.add(slate("p1", "u2", "popularity", ["course_ml_basic"]))
            uow.commit()
        StoreDailyFigures(units(engine), budget_seconds=PATIENCE).execute()
        with engine.begin() as connection:  # the first click makes the day changed
            connection.execute(
                text(
                    "INSERT INTO interactions (event_id, user_id, course_id, event_type, "
                    "occurred_at, recommendation_id) VALUES "
                    "('first', 'u2', 'course_ml_basic', 'view', :at, 'p1')"
                ),
                {"at": NOW},
            )
        clicked = []

        def click_meanwhile(conn, cursor, statement, *_):  # type: ignore[no-untyped-def]
            if "daily_figure_changes" in statement and not clicked:
                clicked.append(True)
                with SqlAlchemyUnitOfWork(engine) as uow:
                    late = event("u2", "course_ml_basic", "click", 60, recommendation_id="p1")
                    uow.interactions.add_batch([late])
                    uow.commit()

        sa_event.listen(engine, "after_cursor_execute", click_meanwhile)
        try:
            with SqlAlchemyUnitOfWork(engine) as uow:
                daily_figures.store(uow.connection, NOW.date())
                uow.commit()
        finally:
            sa_event.remove(engine, "after_cursor_execute", click_meanwhile)
        assert clicked
        assert to_store(engine) == ["2026-11-01"]
        assert figures(engine)[0][:4] == ("2026-11-01", 1, 1, 1)
    finally:
        engine.dispose()


def test_a_trainer_stores_the_closed_days_after_its_fit_cycle_and_says_so(engine):
    days = len(to_store(engine))
    assert a_trainer_cycle(engine) == [f"stats: stored the figures of {days} days"]
    assert to_store(engine) == []


def a_trainer_cycle(engine, store=None) -> list[str]:  # type: ignore[no-untyped-def]
    """What a trainer storing the closed days (with `store`, if given) says in a fit cycle (with
    nothing to fit)."""
    from application.trainer import Trainer
    from tests.unit.test_trainer_beats import Fit
    from tests.unit.test_trainer_outages import Jobs

    said: list[str] = []
    trainer = Trainer(
        lambda: Fit([[]]),
        Jobs,
        fit_interval=0,
        say=said.append,
        store_figures=store or (lambda: StoreDailyFigures(units(engine), budget_seconds=PATIENCE)),
    )
    trainer.run_once()
    return said


def counted_from_events(engine) -> list[tuple]:  # type: ignore[no-untyped-def,type-arg]
    """The reference: the same window's figures counted from every list and event."""
    from adapters.sqlalchemy import daily_figures

    since = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.connect() as connection:
        rows = connection.execute(daily_figures.counted(connection, since)).all()
    totals: dict[str, list[int]] = {}
    for day, _strategy, *counts in rows:
        day_totals = totals.setdefault(str(day), [0, 0, 0, 0])
        for i, value in enumerate(counts):
            day_totals[i] += int(value)
    return [(day, *t) for day, t in sorted(totals.items())]


def test_lists_written_by_hand_at_midnight_count_on_their_day_once_stored(engine):
    """SQL by hand writes a time as '2026-11-02' or '2026-11-02 00:00:00' (SQLite keeps the
    text as given, and it sorts before the '2026-11-02 00:00:00.000000' this service writes):
    such a list still counts on its own day, and the trainer stores every day."""
    with engine.begin() as connection:
        for rid, at in (("m1", "2026-11-02"), ("m2", "2026-11-02 00:00:00")):
            connection.execute(
                text(
                    "INSERT INTO slates (recommendation_id, user_id, strategy, served_at, "
                    "impressions) VALUES (:rid, 'u3', 'content', :at, 1)"
                ),
                {"rid": rid, "at": at},
            )
    reference = counted_from_events(engine)
    if engine.dialect.name == "sqlite":  # PostgreSQL reads the text in the session's time zone
        assert reference[1] == ("2026-11-02", 3, 3, 0, 0)
    stored = StoreDailyFigures(units(engine), budget_seconds=PATIENCE).execute()
    assert (stored.left, to_store(engine)) == (0, [])
    assert figures(engine) == reference


def test_a_list_written_by_hand_with_an_offset_counts_on_its_utc_day(engine):
    """'2026-11-01 23:30:00-02:00' is 2026-11-02 in UTC, though SQLite's text says the 1st: the
    trainer's store does not fail on it, and the window counts it on the 2nd."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO slates (recommendation_id, user_id, strategy, served_at, "
                "impressions) VALUES ('o1', 'u3', 'content', '2026-11-01 23:30:00-02:00', 1)"
            )
        )
    reference = counted_from_events(engine)
    assert reference[1] == ("2026-11-02", 2, 2, 0, 0)
    StoreDailyFigures(units(engine), budget_seconds=PATIENCE).execute()
    assert figures(engine) == reference


def test_a_store_that_fails_leaves_the_fit_cycle_done_and_says_so(engine):
    """Storing is a saving, not the cycle's work: a store that fails (the database busy, a
    day it cannot store) leaves the windows counting from events, and the cycle's fits stand."""
    from application.trainer import Trainer
    from tests.unit.test_trainer_beats import Fit
    from tests.unit.test_trainer_outages import Jobs

    class Failing:
        def execute(self, last=()):  # type: ignore[no-untyped-def]
            raise RuntimeError("duplicate key")

    said: list[str] = []
    trainer = Trainer(
        lambda: Fit([[]]),
        Jobs,
        fit_interval=0,
        say=said.append,
        store_figures=Failing,
        uow_factory=units(engine),
        worker="w:1",
    )
    assert trainer.run_once() == []
    assert said == ["stats: the closed days' figures were not stored (RuntimeError: duplicate key)"]
    with SqlAlchemyUnitOfWork(engine) as uow:  # counted, for an alert on failures to see
        (beat,) = uow.trainers.recent(NOW - timedelta(days=365))
    assert beat.tally.stats == {"failed": 1}


def test_a_day_that_cannot_be_stored_leaves_the_older_days_stored(engine, monkeypatch):
    """One day beyond storing (say its lists outgrow the statement timeout) is passed over and
    said: the days older than it are stored all the same (newest first, it held them back for
    ever), and it is counted from events, so every window stays exact."""
    from adapters.sqlalchemy import daily_figures
    from application.ports import StorageUnavailable

    store = daily_figures.store

    def timing_out(connection, day):  # type: ignore[no-untyped-def]
        if str(day) == "2026-11-02":
            raise StorageUnavailable("the database did not answer within 3s\nSELECT ...")
        store(connection, day)

    monkeypatch.setattr(daily_figures, "store", timing_out)
    days = to_store(engine)
    said = a_trainer_cycle(engine)
    assert to_store(engine) == ["2026-11-02"]
    assert said == [
        f"stats: stored the figures of {len(days) - 1} days",
        "stats: the figures of 2026-11-02 were not stored (StorageUnavailable: the database did "
        "not answer within 3s); its windows count it from events, and the next cycle tries again",
    ]
    assert figures(engine) == BEFORE


def test_days_that_cannot_be_stored_within_the_timeout_leave_the_older_days_stored(
    engine, monkeypatch
):
    """Two days whose lists outgrow the statement timeout (3 s each) took the whole budget of
    every cycle, tried first every time: no older day was ever stored. Tried after the others
    from the next cycle on, they no longer hold them back."""
    from adapters.sqlalchemy import daily_figures
    from application.ports import StorageUnavailable
    from application.trainer import Trainer
    from tests.unit.test_trainer_beats import Fit
    from tests.unit.test_trainer_outages import Jobs

    store, now = daily_figures.store, [0.0]
    days = to_store(engine)
    too_big = days[:2]

    def timing_out(connection, day):  # type: ignore[no-untyped-def]
        if str(day) in too_big:
            now[0] += 3.0  # RS_DB_TIMEOUT_SECONDS
            raise StorageUnavailable("canceling statement due to statement timeout")
        store(connection, day)

    monkeypatch.setattr(daily_figures, "store", timing_out)
    trainer = Trainer(
        lambda: Fit([[]]),
        Jobs,
        fit_interval=0,
        say=lambda _: None,
        store_figures=lambda: StoreDailyFigures(units(engine), clock=lambda: now[0]),
    )
    for _ in range(3):
        trainer.run_once()
    assert to_store(engine) == too_big and len(days) > 2


def test_a_database_that_fails_every_day_stops_the_store_after_a_few(engine, monkeypatch):
    """Several days failing in a row are the database's trouble, not theirs: the cycle stops
    trying (each try may wait out a timeout) and the trainer says why, as for any failure."""
    from adapters.sqlalchemy import daily_figures
    from application.ports import StorageUnavailable
    from application.use_cases.store_daily_figures import FAILURES_PER_CYCLE

    tried: list[str] = []

    def failing(connection, day):  # type: ignore[no-untyped-def]
        tried.append(str(day))
        raise StorageUnavailable("the database is unreachable")

    monkeypatch.setattr(daily_figures, "store", failing)
    days = to_store(engine)
    with pytest.raises(StorageUnavailable):
        StoreDailyFigures(units(engine), budget_seconds=PATIENCE).execute()
    assert tried == days[:FAILURES_PER_CYCLE] and len(days) > FAILURES_PER_CYCLE


@pytest.mark.postgres
def test_concurrent_batches_of_late_clicks_on_the_same_old_days_are_all_stored(postgres_url):
    """Two clients send late clicks on lists of the same two old days, in opposite orders: both
    batches are stored (counting them as changes to their days must not make them wait on each
    other, nor deadlock, which failed one of them)."""
    import threading

    engine = build_engine(postgres_url)
    try:
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.courses.upsert(CATALOG)
            for user in ("u1", "u2"):
                for day in (0, 1):
                    uow.slates.add(
                        slate(f"{user}-{day}", user, "content", ["course_ml_basic"], day)
                    )
            uow.commit()
        with engine.begin() as connection:  # each event a moment apart, so the two interleave
            connection.execute(
                text(
                    "CREATE FUNCTION test_pause() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER interactions_zz_pause AFTER INSERT ON interactions "
                    "FOR EACH ROW EXECUTE FUNCTION test_pause()"
                )
            )
        failed: list[str] = []

        def send(user: str, days: tuple[int, int]) -> None:
            try:
                with SqlAlchemyUnitOfWork(engine) as uow:
                    uow.interactions.add_batch(
                        [
                            event(
                                user,
                                "course_ml_basic",
                                kind,
                                30_000,
                                recommendation_id=f"{user}-{d}",
                            )
                            for kind, d in zip(("click", "enroll"), days, strict=True)
                        ]
                    )
                    uow.commit()
            except Exception as error:  # noqa: BLE001
                failed.append(f"{type(error).__name__}: {error}")

        senders = [
            threading.Thread(target=send, args=("u1", (0, 1))),
            threading.Thread(target=send, args=("u2", (1, 0))),
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        assert failed == []
        assert [day[3] for day in figures(engine)] == [2, 2]
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP TRIGGER IF EXISTS interactions_zz_pause ON interactions"))
            connection.execute(text("DROP FUNCTION IF EXISTS test_pause()"))
        engine.dispose()


def test_a_course_taken_off_a_stored_days_list_by_hand_takes_its_click_with_it(engine):
    """Credit counts only for a course the list showed: SQL by hand deleting a shown course
    from an old list (a course purged, say) takes the click on it out of the window at once."""
    StoreDailyFigures(units(engine), budget_seconds=PATIENCE).execute()
    with engine.begin() as connection:
        connection.execute(
            text(
                "DELETE FROM slate_items WHERE recommendation_id = 'c1' "
                "AND course_id = 'course_sql_basic'"
            )
        )
    assert counted_from_events(engine)[0] == ("2026-11-01", 2, 4, 0, 0)
    assert figures(engine) == counted_from_events(engine)


@pytest.mark.parametrize("seed", range(3))
def test_any_window_reads_what_counting_from_events_gives_whatever_is_stored(database_url, seed):
    """Lists at any time of ten days (midnights too), some days stored, then late clicks and an
    erasure: every window, from midnight or not, reads the figures counted from events."""
    import random
    from dataclasses import replace

    from adapters.sqlalchemy import daily_figures

    rnd, engine = random.Random(seed), build_engine(database_url)
    courses = [c.course_id for c in CATALOG[:5]]
    start = datetime(2026, 11, 1, tzinfo=UTC)

    def moment() -> datetime:
        minutes = rnd.choice([rnd.randrange(10 * 1440), 1440 * rnd.randrange(10)])
        return start + timedelta(minutes=minutes)

    try:
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.courses.upsert(CATALOG)
            for n in range(40):
                user, shown = f"u{rnd.randrange(4)}", rnd.sample(courses, rnd.randrange(4))
                served = replace(
                    slate(f"s{n}", user, rnd.choice(["a", "b"]), shown), served_at=moment()
                )
                uow.slates.add(served)
                clicked = [
                    replace(
                        event(user, c, rnd.choice(["click", "enroll"]), recommendation_id=f"s{n}"),
                        occurred_at=served.served_at,
                    )
                    for c in shown[: rnd.randrange(3)]
                ]
                uow.interactions.add_batch(clicked)
            uow.commit()
        with SqlAlchemyUnitOfWork(engine) as uow:
            days = uow.stats.days_to_store()
        for day in rnd.sample(days, len(days) * 2 // 3):
            with SqlAlchemyUnitOfWork(engine) as uow:
                uow.stats.store_day(day)
                uow.commit()
        with SqlAlchemyUnitOfWork(engine) as uow:
            for n in rnd.sample(range(40), 8):
                served = uow.slates.get(f"s{n}")
                if served is not None and served.items:
                    late = event(
                        served.user_id,
                        served.items[-1].course_id,
                        "enroll",
                        50_000,
                        recommendation_id=f"s{n}",
                    )
                    uow.interactions.add_batch([late])
            uow.erasures.erase(UserId(f"u{rnd.randrange(4)}"))
            uow.commit()
        for since in [moment() - timedelta(days=1) for _ in range(5)]:
            with engine.connect() as connection:
                reference = connection.execute(daily_figures.counted(connection, since)).all()
                read = daily_figures.read(connection, since)
            assert summed((str(r[0]), r[1], *r[2:]) for r in reference) == summed(
                (r.date, r.strategy, r.recommendations, r.impressions, r.clicks, r.enrolls)
                for r in read
            )
    finally:
        engine.dispose()


def summed(rows) -> dict[tuple[str, str], list[int]]:  # type: ignore[no-untyped-def]
    totals: dict[tuple[str, str], list[int]] = {}
    for day, strategy, *counts in rows:
        row = totals.setdefault((day, strategy), [0, 0, 0, 0])
        for i, value in enumerate(counts):
            row[i] += int(value)
    return totals


def test_lists_and_events_emptied_by_hand_leave_no_stored_figures(engine):
    """An operator empties the lists and events by hand (TRUNCATE on PostgreSQL, which fires no
    row's trigger; DELETE on SQLite): the stored days go with them."""
    StoreDailyFigures(units(engine), budget_seconds=PATIENCE).execute()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("TRUNCATE interactions, slate_items, slates"))
        else:
            for table in ("interactions", "slate_items", "slates"):
                connection.execute(text(f"DELETE FROM {table}"))
    assert figures(engine) == []


def test_stored_figures_deleted_by_hand_are_counted_from_events_again(engine):
    """Deleted by hand (or truncated, on PostgreSQL), the stored figures left their days read as
    stored with nothing in them (zero lists) until something changed them: now those days are
    counted from their lists and events, and stored again at the next cycle."""
    postgresql = engine.dialect.name == "postgresql"
    for how in ["DELETE FROM daily_figures"] + (["TRUNCATE daily_figures"] if postgresql else []):
        StoreDailyFigures(units(engine), budget_seconds=PATIENCE).execute()
        with engine.begin() as connection:
            connection.execute(text(how))
        assert figures(engine) == BEFORE, how
        assert {"2026-11-01", "2026-11-02"} <= set(to_store(engine)), how
    StoreDailyFigures(units(engine), budget_seconds=PATIENCE).execute()
    assert figures(engine) == BEFORE and to_store(engine) == []
