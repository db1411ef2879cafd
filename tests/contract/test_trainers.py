"""The trainers at work, as every host sees them: memory, SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from application.ports import LastFit, TrainerBeat, TrainerTally
from tests.conftest import NOW


def beat(uow_factory, worker: str, minutes: float, line: str) -> None:  # type: ignore[no-untyped-def]
    seen = NOW + timedelta(minutes=minutes)
    with uow_factory() as uow:
        uow.trainers.beat(TrainerBeat(worker, NOW, seen, line), forget_before=seen - timedelta(1))
        uow.commit()


def test_each_trainer_is_listed_once_with_its_latest_cycle_the_latest_seen_first(uow_factory):
    beat(uow_factory, "host-a:1", 0, "started: fitting")
    beat(uow_factory, "host-b:2", 1, "published popularity")
    beat(uow_factory, "host-a:1", 2, "up to date: nothing to refit")
    with uow_factory() as uow:
        listed = uow.trainers.recent(NOW)
    assert [(t.worker, t.last_cycle) for t in listed] == [
        ("host-a:1", "up to date: nothing to refit"),
        ("host-b:2", "published popularity"),
    ]
    assert listed[0].seen_at == NOW + timedelta(minutes=2) and listed[0].started_at == NOW
    with uow_factory() as uow:
        assert [t.worker for t in uow.trainers.recent(NOW + timedelta(minutes=1.5))] == ["host-a:1"]


def test_a_trainer_gone_for_longer_than_the_forget_horizon_is_dropped(uow_factory):
    beat(uow_factory, "gone:1", 0, "published popularity")
    beat(uow_factory, "alive:2", 60 * 24 * 2, "up to date: nothing to refit")  # two days later
    with uow_factory() as uow:
        assert [t.worker for t in uow.trainers.recent(NOW - timedelta(days=30))] == ["alive:2"]


def test_a_beat_not_committed_is_not_seen(uow_factory):
    with uow_factory() as uow:
        uow.trainers.beat(TrainerBeat("w:1", NOW, NOW, "x"), forget_before=NOW)
    with uow_factory() as uow:
        assert uow.trainers.recent(NOW - timedelta(days=1)) == []


def test_what_a_trainer_did_is_kept_with_its_latest_cycle_for_every_host_to_report(uow_factory):
    tally = TrainerTally(
        fits={("item_cf", "published"): 2, ("two_tower", "failed"): 1},
        jobs={("reindex", "succeeded"): 1},
        last_fits={"item_cf": LastFit("published", 1.25, 0.5)},
        stats={"stored": 30, "failed": 1, "lists_removed": 9000},
    )
    with uow_factory() as uow:
        uow.trainers.beat(TrainerBeat("w:1", NOW, NOW, "x", tally), forget_before=NOW)
        uow.trainers.beat(
            TrainerBeat("w:2", NOW, NOW - timedelta(minutes=1), "y"),
            forget_before=NOW - timedelta(1),
        )
        uow.commit()
    with uow_factory() as uow:
        (latest,) = uow.trainers.recent(NOW - timedelta(days=1), limit=1)
    assert latest.worker == "w:1" and latest.tally == tally


def test_the_settings_a_trainer_pins_are_kept_with_its_cycle_and_none_when_it_did_not_say(
    uow_factory,
):
    pins = {"item_cf": {"regularization": 100.0}, "hybrid": {"weights": {"item_cf": 1.0}}}
    with uow_factory() as uow:
        uow.trainers.beat(TrainerBeat("new:1", NOW, NOW, "x", pins=pins), forget_before=NOW)
        uow.trainers.beat(TrainerBeat("old:2", NOW, NOW, "y"), forget_before=NOW)
        uow.commit()
    with uow_factory() as uow:
        listed = {t.worker: t.pins for t in uow.trainers.recent(NOW - timedelta(days=1))}
    assert listed == {"new:1": pins, "old:2": None}


@pytest.mark.parametrize("pins", [["item_cf"], {"item_cf": 100}, "x"])
def test_pins_that_are_not_pins_read_as_not_said(database_url, pins):  # type: ignore[no-untyped-def]
    """A row edited by hand (or a later release's) must not fail the other trainers' cycles."""
    from sqlalchemy import text

    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

    engine = build_engine(database_url)
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.trainers.beat(TrainerBeat("w:1", NOW, NOW, "x", pins={}), forget_before=NOW)
        uow.connection.execute(
            text("UPDATE trainers SET tally = :tally"), {"tally": json.dumps({"pins": pins})}
        )
        uow.commit()
    with SqlAlchemyUnitOfWork(engine) as uow:
        (listed,) = uow.trainers.recent(NOW - timedelta(days=1))
    engine.dispose()
    assert listed.pins is None


def test_one_trainer_fits_at_a_time_and_one_that_dies_lets_go_of_the_turn(database_url):
    """Trainers on several hosts each ran the whole settings search and training of the same
    data. The turn is one for every host of the database, and a trainer killed while it fits
    (SIGKILL: nothing of it runs) must not keep it from the others."""
    import subprocess
    import sys

    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.fit_turn import SqlFitTurn

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from adapters.sqlalchemy.engine import build_engine\n"
            "from adapters.sqlalchemy.fit_turn import SqlFitTurn\n"
            f"with SqlFitTurn(build_engine({database_url!r})).taken() as ours:\n"
            "    print(ours, flush=True)\n"
            "    time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    engine = build_engine(database_url)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
        turn = SqlFitTurn(engine)
        with turn.taken() as ours:
            assert ours is False  # another host's trainer is fitting
        holder.kill()
        holder.wait(timeout=30)
        other_host = build_engine(database_url)
        with turn.taken() as ours:
            assert ours is True
            with SqlFitTurn(other_host).taken() as theirs:
                assert theirs is False
        other_host.dispose()
        with turn.taken() as ours:
            assert ours is True  # given back when the fit ended
    finally:
        holder.kill()
        holder.communicate()
        engine.dispose()


def test_a_turn_whose_unlock_fails_is_not_kept_on_a_pooled_session(postgres_url):
    """The lock is the session's: had the connection gone back to the pool with it after an
    unlock that failed (a cancelled statement, a timeout), every trainer would stand by for as
    long as the pooled session lived."""
    import psycopg
    from sqlalchemy import event

    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.fit_turn import SqlFitTurn

    engine, other_host = build_engine(postgres_url), build_engine(postgres_url)

    def unlock_cancelled(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if "pg_advisory_unlock" in statement:
            raise psycopg.errors.QueryCanceled("canceling statement due to user request")

    event.listen(engine, "before_cursor_execute", unlock_cancelled)
    try:
        with SqlFitTurn(engine).taken() as ours:
            assert ours
        event.remove(engine, "before_cursor_execute", unlock_cancelled)
        with engine.connect():  # the pool's session is another one, holding nothing
            with SqlFitTurn(other_host).taken() as theirs:
                assert theirs
    finally:
        engine.dispose()
        other_host.dispose()


def test_the_turn_of_a_trainer_whose_host_is_gone_is_given_back_within_a_minute(postgres_url):
    """A trainer host that loses power or its network leaves no process to close the connection:
    the server only finds it gone by probing it, after 2 h idle by default (2 h 11 min in all,
    every other trainer standing by). The server's socket of the holder's connection must be
    probed after 30 s."""
    import shutil
    import subprocess
    import time

    from sqlalchemy import text

    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.fit_turn import SqlFitTurn

    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) is not installed")
    engine, observer = build_engine(postgres_url), build_engine(postgres_url)
    try:
        with SqlFitTurn(engine).taken() as ours, observer.connect() as connection:
            assert ours
            port = connection.execute(
                text(
                    "SELECT client_port FROM pg_stat_activity WHERE pid = (SELECT pid FROM "
                    "pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid "
                    "FROM pg_database WHERE datname = current_database()))"
                )
            ).scalar_one()
            assert port is not None, "the test server must be reached over TCP"
            timers: list[tuple[str, str]] = []
            for _ in range(100):  # the keepalive timer shows once the session's reply is sent
                sockets = subprocess.run(
                    [
                        "ss",
                        "-tno",
                        "state",
                        "established",
                        f"( sport = :5432 and dport = :{port} )",
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                timers = re.findall(r"timer:\(keepalive,([\d.]+)(min|sec|ms)", sockets)
                if timers:
                    break
                time.sleep(0.1)
        [timer] = timers
        seconds = float(timer[0]) * {"min": 60, "sec": 1, "ms": 0.001}[timer[1]]
        assert seconds <= 30
    finally:
        engine.dispose()
        observer.dispose()


@pytest.mark.parametrize(
    "backend", ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_whether_the_turn_is_held_is_told_without_taking_it(backend, request):
    """The dashboard asks, to tell a trainer killed while it fitted from one fitting."""
    from adapters.in_memory import InMemoryFitTurn, InMemoryStore
    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.fit_turn import SqlFitTurn

    if backend == "memory":
        store = InMemoryStore()
        turn, other_host, engines = InMemoryFitTurn(store), InMemoryFitTurn(store), []
    else:
        url = request.getfixturevalue(f"{backend}_url")
        engines = [build_engine(url), build_engine(url)]
        turn, other_host = SqlFitTurn(engines[0]), SqlFitTurn(engines[1])
    try:
        assert not other_host.held()
        with turn.taken() as ours:
            assert ours and other_host.held() and other_host.held()
            with turn.taken() as again:  # asking took nothing
                assert not again
        assert not other_host.held()
        with other_host.taken() as theirs:  # nor does it keep anyone from taking it
            assert theirs
    finally:
        for engine in engines:
            engine.dispose()
