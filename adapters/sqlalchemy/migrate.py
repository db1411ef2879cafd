"""Run the Alembic migrations programmatically (what `recsys init-db` does)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, make_url, text

import migrations
from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.tables import metadata
from application.ports import LockWaitTimedOut, UnusableDatabase

log = logging.getLogger(__name__)

#: the advisory lock key of migrations (any number no other lock uses)
MIGRATION_LOCK = 0x7265637379730009
LOCK = text("SELECT pg_try_advisory_lock(:key)")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head", create: bool = True) -> str | None:
    """To `revision`; None, or why the database was left as it is. A database already at a
    revision this version does not know is: a newer version migrated it and this one was rolled
    back (its tables are a superset of these; Alembic cannot upgrade from a revision it cannot
    find, and the trainer would stop). Without `create`, a SQLite file that does not exist is
    UnusableDatabase, not a new empty database (the trainer migrates, but never creates)."""
    with _alone(url):
        if revision == "head":
            newer = _unknown_revisions(url, create)
            if newer is None:
                _refuse_foreign_tables(url)
            if newer:
                left = (
                    f"the database schema is at revision {', '.join(sorted(newer))}, newer than "
                    f"this version knows ({', '.join(sorted(known_revisions()[1]))}): left as it is"
                )
                log.warning(left)
                return left
        _patiently(lambda: command.upgrade(alembic_config(url), revision))
    return None


#: how long a migration keeps trying while other sessions keep a table it changes in use, and
#: how long it waits between tries
LOCK_PATIENCE_SECONDS = 1800.0
LOCK_RETRY_SECONDS = 5.0
pause = time.sleep


def _patiently(migrate: Callable[[], None]) -> None:
    """Runs `migrate` again while a lock it needs is held past the lock timeout: a trainer reads
    every event in one transaction at each cycle's start (seconds to minutes), and an ALTER TABLE
    must wait for it. It waits no longer than a request at a time (requests queue behind a
    waiting ALTER TABLE), and each try that fails changes nothing (one transaction); between the
    trainer's reads it gets in."""
    started = time.monotonic()
    while True:
        try:
            migrate()
            return
        except LockWaitTimedOut as error:
            if time.monotonic() + LOCK_RETRY_SECONDS > started + LOCK_PATIENCE_SECONDS:
                tried = time.monotonic() - started
                raise LockWaitTimedOut(f"{error}; tried for {tried:.0f} s") from error
            log.info(
                "another session keeps a table the migration changes in use (%s): a trainer "
                "reading the events, or a long query; trying again in %.0f s",
                error,
                LOCK_RETRY_SECONDS,
            )
            pause(LOCK_RETRY_SECONDS)


@contextlib.contextmanager
def _alone(url: str) -> Iterator[None]:
    """Holds PostgreSQL's migration lock: trainers starting together on every host (each
    migrates) or init-db run from two places would otherwise each create the same tables, and all
    but one stop on a duplicate. Taken by polling: every statement has the connection's timeout,
    and another host's migration may take longer. SQLite writers wait for one another anyway."""
    if make_url(url).get_backend_name() != "postgresql":
        yield
        return
    engine = build_engine(url)
    try:
        with engine.connect() as connection:
            said = False
            while not connection.execute(LOCK, {"key": MIGRATION_LOCK}).scalar_one():
                # no transaction left open while waiting: a migration building an index
                # CONCURRENTLY waits for every open transaction, so it would wait for ever
                connection.rollback()
                if not said:
                    log.info("waiting for another process's migration to end")
                    said = True
                time.sleep(0.5)
            connection.commit()  # the lock is the session's: no transaction left open meanwhile
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
    finally:
        engine.dispose()


def _unknown_revisions(url: str, create: bool) -> set[str] | None:
    """The database's revisions this version does not know; None when it has none at all."""
    engine = build_engine(url, create=create)
    try:
        with engine.connect() as connection:
            current = _current(connection)
            return current - known_revisions()[0] if current else None
    finally:
        engine.dispose()


def _refuse_foreign_tables(url: str) -> None:
    """A database without this service's schema that holds a table of one of its names is
    someone else's (RS_DB_NAME's default, `lms`, is the LMS's own, whose catalog is `courses`
    too): creating the schema would fail on it, halfway on SQLite, in a traceback."""
    engine = build_engine(url)
    try:
        with engine.connect() as connection:
            taken = sorted(set(inspect(connection).get_table_names()) & set(metadata.tables))
    finally:
        engine.dispose()
    if taken:
        raise UnusableDatabase(
            f"the database {make_url(url).database!r} already holds a table named as one of "
            f"this service's ({', '.join(taken)}) but no schema of this service: it is another "
            "application's database (or this service's, restored without its alembic_version "
            "table or left by a first `recsys init-db` cut short); point "
            "RS_DATABASE_URL at a database of the service's own (`createdb recsys`, then "
            "`recsys init-db`)"
        )


def _current(connection: Connection) -> set[str]:
    """The database's revisions (none before the first migration)."""
    if not inspect(connection).has_table("alembic_version"):
        return set()
    return {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


@cache
def known_revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(every revision this version knows, its heads): read once, the scripts do not change."""
    script = ScriptDirectory(str(Path(migrations.__file__).parent))
    return frozenset(r.revision for r in script.walk_revisions()), frozenset(script.get_heads())


def schema_problem(connection: Connection) -> str | None:
    """What keeps this version from using the database's schema, or None. A revision this
    version does not know is a newer one (a rollback of the code): its tables are a superset."""
    # not MigrationContext: it logs two info lines each time, and /readyz is polled
    current = _current(connection)
    known, heads = known_revisions()
    if not current:
        return "the database has no schema: run `recsys init-db`"
    if current <= known and current != heads:
        return (
            f"the database schema is at revision {', '.join(sorted(current))}, this version "
            f"needs {', '.join(sorted(heads))}: run `recsys init-db`"
        )
    return None
