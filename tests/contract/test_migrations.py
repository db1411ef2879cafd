"""The Alembic migrations build the schema the code declares (adapters/sqlalchemy/tables.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import make_url

from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.migrate import known_revisions
from adapters.sqlalchemy.tables import metadata

(HEAD,) = known_revisions()[1]


@contextlib.contextmanager
def _scratch_database(name: str) -> Iterator[str]:
    """An empty PostgreSQL database `name` beside the tests' own, dropped afterwards; its URL.
    Named after this process too: another suite on the same server must not drop it meanwhile."""
    import os

    import psycopg

    from tests.conftest import POSTGRES_URL

    name = f"{name}_{os.getpid()}"
    server = make_url(POSTGRES_URL)
    dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_the_migrated_database_has_every_table_column_and_index_the_code_uses(database_url):
    engine = build_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_a_database_a_newer_version_migrated_is_left_as_it_is_after_a_rollback(
    database_url, caplog
):
    """The code was rolled back: the trainer's migration at start (and init-db) leave the newer
    schema, a superset, instead of failing on a revision they cannot find."""
    from sqlalchemy import text

    from adapters.sqlalchemy.migrate import schema_problem, upgrade

    engine = build_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        left = upgrade(database_url)  # what init-db shows instead of "at the latest schema"
        assert left is not None and "revision 9999, newer than this version knows" in left
        assert left in caplog.text
        with engine.connect() as connection:
            assert schema_problem(connection) is None
        with engine.begin() as connection:  # back to this version's head for the next tests
            connection.execute(text(f"UPDATE alembic_version SET version_num = '{HEAD}'"))
    finally:
        engine.dispose()


def test_the_sign_in_tables_go_with_a_downgrade_to_0007_and_come_back_with_the_upgrade(
    database_url,
):
    """A rollback of the code that added dashboard sessions and shared failure counts."""
    from sqlalchemy import inspect

    from adapters.sqlalchemy.migrate import downgrade, upgrade

    added = {"admin_sessions", "credential_failures"}
    downgrade(database_url, "0007")
    engine = build_engine(database_url)
    try:
        assert not added & set(inspect(engine).get_table_names())
        upgrade(database_url)
        assert added <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
        upgrade(database_url)


def test_events_credited_before_0012_count_in_the_daily_figures_after_the_upgrade(database_url):
    """0012 finds a window's credited events by their list's time, which events stored before
    it did not carry: the upgrade fills it in, or their days would show no clicks."""
    from datetime import timedelta

    from sqlalchemy import text

    from adapters.sqlalchemy.migrate import downgrade, upgrade
    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
    from application.use_cases.compute_stats import ComputeStats
    from tests.conftest import CATALOG, NOW
    from tests.contract.test_stats import slate

    downgrade(database_url, "0011")
    engine = build_engine(database_url)
    try:
        with SqlAlchemyUnitOfWork(engine) as uow:  # the catalog and the list: as at 0011
            uow.courses.upsert(CATALOG)
            uow.slates.add(slate("r1", "u1", "content", [c.course_id for c in CATALOG[:2]]))
            uow.commit()
        with engine.begin() as connection:  # the event as 0011 stored it: no list time
            connection.execute(
                text(
                    "INSERT INTO interactions (event_id, user_id, course_id, event_type, "
                    "occurred_at, recommendation_id) VALUES ('e1', 'u1', :c, 'click', :t, 'r1')"
                ),
                {"c": CATALOG[0].course_id, "t": NOW + timedelta(minutes=5)},
            )
        upgrade(database_url)
        stats = ComputeStats(lambda: SqlAlchemyUnitOfWork(engine), clock=lambda: NOW)
        [day] = stats.global_stats(days=1).daily
        assert (day.recommendations, day.impressions, day.clicks) == (1, 2, 1)
    finally:
        engine.dispose()
        upgrade(database_url)


def test_every_write_to_the_courses_raises_the_catalog_revision_and_it_never_goes_back(
    database_url,
):
    """The previous version's code (during a rolling upgrade) or SQL by hand writes courses
    without knowing the revision: a trigger raises it all the same. A downgrade and an upgrade
    again start it later than it was, so no earlier catalog's version comes back."""
    from sqlalchemy import text

    from adapters.sqlalchemy.migrate import downgrade, upgrade
    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
    from tests.conftest import CATALOG

    engine = build_engine(database_url)

    def version() -> str:
        with SqlAlchemyUnitOfWork(engine) as uow:
            return uow.courses.version()

    try:
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.courses.upsert(CATALOG)
            uow.commit()
        seen = [version()]
        for sql in (
            "UPDATE courses SET active = false WHERE course_id = 'course_ml_basic'",
            "DELETE FROM courses WHERE course_id = 'course_sql_basic'",
            "INSERT INTO courses (course_id, title, description, category, level, tags, "
            "prerequisites, active, updated_at) VALUES ('c_new', 'New', '', '', 'beginner', "
            "'[]', '[]', true, '2020-01-01 00:00:00+00:00')",
        ):
            with engine.begin() as connection:
                connection.execute(text(sql))
            seen.append(version())
        assert len(set(seen)) == len(seen), seen
        engine.dispose()
        downgrade(database_url, "0008")
        upgrade(database_url)
        engine = build_engine(database_url)
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.courses.upsert(CATALOG[:1])
            uow.commit()
        again = version()
        assert again not in seen and int(again[1:]) > max(int(v[1:]) for v in seen)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_course_written_while_an_import_holds_the_revision_waits_rather_than_deadlocks(
    postgres_url,
):
    """An import updates courses one statement at a time in one transaction; a writer (a host
    of the previous version, SQL by hand) changes a course the import has yet to reach. With
    the revision raised after each statement, each held what the other wanted."""
    import threading

    from sqlalchemy import text

    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
    from tests.conftest import CATALOG

    engine = build_engine(postgres_url)
    first, last = CATALOG[0].course_id, CATALOG[-1].course_id
    failures: list[Exception] = []

    def meanwhile() -> None:
        try:
            with engine.begin() as connection:
                connection.execute(
                    text("UPDATE courses SET title = 'by hand' WHERE course_id = :c"), {"c": last}
                )
        except Exception as error:  # noqa: BLE001 - what the test reports
            failures.append(error)

    try:
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.courses.upsert(CATALOG)
            uow.commit()
        with engine.connect() as importing:
            transaction = importing.begin()
            importing.execute(
                text("UPDATE courses SET title = 'import 1' WHERE course_id = :c"), {"c": first}
            )
            writer = threading.Thread(target=meanwhile)
            writer.start()
            writer.join(timeout=0.5)  # waits for the revision before touching any course
            importing.execute(
                text("UPDATE courses SET title = 'import 2' WHERE course_id = :c"), {"c": last}
            )
            transaction.commit()
        writer.join(timeout=10)
        assert not failures, failures
        with engine.connect() as connection:
            title = connection.execute(
                text("SELECT title FROM courses WHERE course_id = :c"), {"c": last}
            ).scalar()
        assert title == "by hand"  # after the import, as it waited for it
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_migrations_started_together_on_several_hosts_wait_for_one_another(postgres_engine):
    """Every host's trainer migrates as it starts (and init-db may run from each host's deploy):
    on a new or older database all but one stopped on a duplicate table."""
    import subprocess
    import sys

    from sqlalchemy import inspect

    script = "import sys; from adapters.sqlalchemy.migrate import upgrade; upgrade(sys.argv[1])"
    with _scratch_database("h_migrations_together") as url:
        started = [
            subprocess.Popen([sys.executable, "-c", script, url], stderr=subprocess.PIPE)
            for _ in range(4)
        ]
        said = [p.communicate()[1].decode() for p in started]
        failures = [words[-300:] for p, words in zip(started, said, strict=True) if p.returncode]
        assert failures == []
        engine = build_engine(url)
        try:
            with engine.connect() as connection:
                assert "courses" in inspect(connection).get_table_names()
        finally:
            engine.dispose()


@pytest.mark.postgres
def test_a_migration_rewriting_a_large_table_may_take_longer_than_a_request(
    postgres_engine, monkeypatch
):
    """0002 counts every served slate's items: on a deployment with millions it ran past the
    request timeout (3 s) and init-db said, at every try, that the database was unavailable.
    Here the request timeout is cut to 20 ms against a few thousand slates."""
    import psycopg
    from sqlalchemy import text

    import adapters.sqlalchemy.engine
    from adapters.sqlalchemy.migrate import upgrade

    with _scratch_database("h_migrations_long") as url:
        upgrade(url, "0001")
        own = make_url(url).set(drivername="postgresql")
        with psycopg.connect(own.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(
                "INSERT INTO slates (recommendation_id, user_id, strategy, served_at) "
                "SELECT 'r' || g, 'u', 'hybrid', now() FROM generate_series(1, 100000) g"
            )
            conn.execute(
                "INSERT INTO slate_items (recommendation_id, rank, course_id, score, reason) "
                "SELECT 'r' || g, 1, 'c', 1.0, '' FROM generate_series(1, 100000) g"
            )
        monkeypatch.setattr(adapters.sqlalchemy.engine, "DEFAULT_TIMEOUT_SECONDS", 0.02)

        assert upgrade(url) is None

        engine = build_engine(url, timeout=3)
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SELECT sum(impressions) FROM slates")).scalar() == (
                    100000
                )
        finally:
            engine.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_database_holding_another_applications_tables_is_refused_and_left_as_it_is(
    backend, tmp_path
):
    """RS_DB_NAME's default is `lms`: pointed at the LMS's own database, whose catalog table is
    called courses too, init-db (and every trainer starting) failed with a 120-line traceback
    ending in 'relation "courses" already exists', while serve told the operator to run init-db."""
    from sqlalchemy import text

    from adapters.sqlalchemy.migrate import upgrade
    from application.ports import UnusableDatabase

    database = (
        _scratch_database("recsys_lms")
        if backend == "postgres"
        else contextlib.nullcontext(f"sqlite:///{tmp_path / 'lms.db'}")
    )
    with database as url:
        engine = build_engine(url, create=True)
        try:
            with engine.begin() as connection:
                connection.execute(text("CREATE TABLE courses (id INTEGER PRIMARY KEY)"))
                connection.execute(text("INSERT INTO courses VALUES (7)"))
            with pytest.raises(UnusableDatabase) as refused:
                upgrade(url)
            assert str(refused.value).startswith(
                f"the database {make_url(url).database!r} already holds a table named as one "
                "of this service's (courses) but no schema of this service:"
            )
            with engine.connect() as connection:
                assert connection.execute(text("SELECT id FROM courses")).scalars().all() == [7]
                assert not build_engine(url).dialect.has_table(connection, "alembic_version")
        finally:
            engine.dispose()


def _credited_events_at_0011(url: str, events: int) -> None:
    """A database at 0011 holding a list and `events` clicks credited to it, stored as 0011
    stored them: without their list's time."""
    import psycopg

    from adapters.sqlalchemy.migrate import upgrade

    upgrade(url, "0011")
    own = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(own, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO slates (recommendation_id, user_id, strategy, served_at, impressions) "
            "VALUES ('r1', 'u1', 'content', '2026-11-30 10:00+00', 1)"
        )
        conn.execute(
            "INSERT INTO slate_items (recommendation_id, rank, course_id, score, reason) "
            "VALUES ('r1', 1, 'c1', 1.0, '')"
        )
        conn.execute(
            "INSERT INTO interactions (event_id, user_id, course_id, event_type, occurred_at, "
            "recommendation_id) SELECT 'e' || g, 'u1', 'c1', 'click', "
            "'2026-11-30 10:05+00', 'r1' FROM generate_series(1, %s) g",
            (events,),
        )


@pytest.mark.postgres
def test_events_are_written_while_0012_fills_in_the_events_stored_before_it(postgres_engine):
    """0012 filled in every stored credited event's list time in the transaction that added
    the column, so every read and write of events waited for the whole upgrade (34 s at 2.5
    million events). Here the fill-in is held up: meanwhile, an event is
    written as usual, and gets its list's time from the trigger."""
    import threading
    import time

    import psycopg

    from adapters.sqlalchemy.migrate import upgrade

    with _scratch_database("h_migrations_online") as url:
        _credited_events_at_0011(url, 3)
        own = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        holder = psycopg.connect(own, autocommit=True)
        # the fill-in waits for the test: each row it updates waits for an advisory lock the
        # test holds (it holds no lock on the events table, as a slow request's row would)
        holder.execute(
            "CREATE FUNCTION wait_for_the_test() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NEW; END $$"
        )
        holder.execute(
            "CREATE TRIGGER wait_for_the_test BEFORE UPDATE ON interactions FOR EACH ROW "
            "EXECUTE FUNCTION wait_for_the_test()"
        )
        holder.execute("SELECT pg_advisory_lock(4242)")
        upgrading = threading.Thread(target=upgrade, args=(url, "0012"))
        upgrading.start()
        try:
            with psycopg.connect(own, autocommit=True) as writer:
                for _ in range(300):  # until the fill-in waits on the held row
                    waiting = writer.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database() "  # not another worker's upgrade
                        "AND query LIKE 'UPDATE interactions SET list_served_at%%'"
                    ).fetchone()[0]
                    if waiting:
                        break
                    time.sleep(0.1)
                assert waiting, "the upgrade never reached the fill-in"
                writer.execute("SET lock_timeout = '1s'")  # a request's wait, not the upgrade's
                writer.execute(
                    "INSERT INTO interactions (event_id, user_id, course_id, event_type, "
                    "occurred_at, recommendation_id) "
                    "VALUES ('e9', 'u1', 'c1', 'enroll', '2026-11-30 10:09+00', 'r1')"
                )
                written = writer.execute(
                    "SELECT list_served_at IS NOT NULL FROM interactions WHERE event_id = 'e9'"
                ).fetchone()
                assert written == (True,)
        finally:
            holder.execute("SELECT pg_advisory_unlock(4242)")  # the upgrade goes on
            holder.close()
            upgrading.join(60)
        assert not upgrading.is_alive()
        with psycopg.connect(own, autocommit=True) as conn:
            assert conn.execute(
                "SELECT count(*) FROM interactions WHERE list_served_at IS NULL"
            ).fetchone() == (0,)
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0012",)


@pytest.mark.postgres
def test_a_0012_upgrade_cut_short_is_finished_by_the_next_one(postgres_engine):
    """The fill-in and the index commit on their own: an upgrade stopped after them but before
    its revision was recorded (Ctrl-C, a lost connection) leaves the column, the triggers and
    perhaps an unusable index behind, and running `recsys init-db` again must finish it."""
    import psycopg

    from adapters.sqlalchemy.migrate import schema_problem, upgrade

    with _scratch_database("h_migrations_cut_short") as url:
        _credited_events_at_0011(url, 2)
        upgrade(url, "0012")
        own = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(own, autocommit=True) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '0011'")
            conn.execute("UPDATE interactions SET list_served_at = NULL WHERE event_id = 'e1'")
            conn.execute(  # what a CREATE INDEX CONCURRENTLY cut short leaves
                "UPDATE pg_index SET indisvalid = false WHERE indexrelid = "
                "'ix_interactions_credited_by_list_time'::regclass"
            )
        assert upgrade(url) is None
        with psycopg.connect(own, autocommit=True) as conn:
            assert conn.execute(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = 'ix_interactions_credited_by_list_time'"
            ).fetchall() == [(True,)]
            assert conn.execute(
                "SELECT count(*) FROM interactions WHERE list_served_at IS NULL"
            ).fetchone() == (0,)
            assert conn.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'interactions_%_list_time'"
            ).fetchone() == (2,)
        engine = build_engine(url)
        try:
            with engine.connect() as connection:
                assert schema_problem(connection) is None
        finally:
            engine.dispose()


@pytest.mark.postgres
def test_a_migration_tried_again_while_a_reader_holds_the_events_keeps_no_session_open(
    postgres_engine, monkeypatch
):
    """Each try of a migration a trainer's read held up left its database session open: tried
    every 5 s for up to 30 minutes, it filled the server's max_connections (100 by default)
    within minutes, and every host's requests were then refused with 'too many clients'."""
    import time

    import psycopg

    import adapters.sqlalchemy.migrate as migrate

    with _scratch_database("h_migrations_retried") as url:
        _credited_events_at_0011(url, 1)
        own = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        reader = psycopg.connect(own)  # a trainer reading every event: a transaction left open
        reader.execute("SELECT count(*) FROM interactions")
        sessions: list[int] = []

        def pause(seconds: float) -> None:
            with psycopg.connect(own, autocommit=True) as conn:
                for _ in range(40):  # a closed session's server process ends a moment later
                    count = conn.execute(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    ).fetchone()[0]
                    if count <= 2:
                        break
                    time.sleep(0.05)
                sessions.append(count)
            if len(sessions) == 5:
                reader.rollback()  # the trainer's read ends

        monkeypatch.setattr(migrate, "pause", pause)
        try:
            assert migrate.upgrade(url) is None
        finally:
            reader.close()
        # the reader and the migration lock's own session; the tries' are closed
        assert sessions == [2] * 5


@pytest.mark.postgres
def test_the_migrations_after_0012_wait_for_a_lock_as_briefly_as_those_before(
    postgres_engine, monkeypatch
):
    """0012 lifts the lock timeout for its fill-in and index build, then put back not the
    migration's second but the session's default (a request's RS_DB_TIMEOUT_SECONDS, or none at
    all with PGOPTIONS='-c lock_timeout=0'): what follows it in the same run (its own revision
    stamp, any later migration) held requests up behind a waiting ALTER TABLE that long."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from adapters.sqlalchemy.migrate import upgrade

    seen: list[str] = []

    def stamped(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.startswith("UPDATE alembic_version"):
            seen.append(cursor.connection.execute("SHOW lock_timeout").fetchone()[0])

    with _scratch_database("h_migrations_lock_wait") as url:
        upgrade(url, "0011")
        event.listen(Engine, "after_cursor_execute", stamped)
        try:
            upgrade(url)
        finally:
            event.remove(Engine, "after_cursor_execute", stamped)
    assert seen == ["1s"] * 5  # the stamps of 0012, and of 0013 to 0016 after it


@pytest.mark.postgres
def test_a_migration_tried_again_and_again_leaves_no_thread_behind(postgres_url):
    """A trainer waiting for a database that takes no writes (a standby during a failover)
    migrates again at each attempt, every 2 s: each attempt's engines left their watchdog thread,
    waking ten times a second, for good (thousands within an hour of waiting)."""
    import threading

    from adapters.sqlalchemy.migrate import upgrade

    upgrade(postgres_url)  # the process's watchdog, started if no test has yet
    before = threading.active_count()
    for _ in range(5):
        upgrade(postgres_url)
    # at most: a thread of another test's may end meanwhile (the old code added 15)
    assert threading.active_count() <= before
