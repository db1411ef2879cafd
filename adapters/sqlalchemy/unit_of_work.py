"""A unit of work over one SQLAlchemy Core connection: one transaction, rolled back unless committed.

Core, not an ORM session: every repository speaks Core statements, and a session's bookkeeping
(its transaction state machine, identity map, event dispatch) cost more per request than the
statements themselves (benchmarks/serving.py; docs/benchmarks.md).
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from adapters.sqlalchemy.access import SqlAdminSessionRepository, SqlCredentialFailureRepository
from adapters.sqlalchemy.breaker import Breaker
from adapters.sqlalchemy.courses import SqlCourseRepository
from adapters.sqlalchemy.interactions import SqlInteractionRepository
from adapters.sqlalchemy.jobs import SqlJobRepository
from adapters.sqlalchemy.learners import SqlErasureRepository, SqlStatementRepository
from adapters.sqlalchemy.migrate import schema_problem
from adapters.sqlalchemy.slates import SqlSlateRepository
from adapters.sqlalchemy.stats import SqlStatsRepository
from adapters.sqlalchemy.trainers import SqlTrainerRepository
from application.ports import StorageUnavailable, UnitOfWork


def _unreachable(error: BaseException | None) -> bool:
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def _refuses_writes(error: BaseException | None) -> bool:
    """PostgreSQL in a read-only transaction (a hot standby, default_transaction_read_only): a
    write refused until the database takes writes again, as SQLite's read-only file is (an
    OperationalError there). Not told to the breaker: the database answers every read."""
    return isinstance(error, DBAPIError) and type(error.orig).__name__ == "ReadOnlySqlTransaction"


def _cause(error: BaseException) -> str:
    """The driver's error in a line ("OperationalError: attempt to write a readonly database"):
    the class alone does not tell an operator what to mend."""
    cause = getattr(error, "orig", None) or error
    first = (str(cause).strip().splitlines() or [""])[0][:200]
    return f"{type(cause).__name__}: {first}" if first else type(cause).__name__


#: a write that changes nothing: refused at once by a read-only database, SQLite or PostgreSQL
_WRITE_PROBE = "UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"


class SqlAlchemyUnitOfWork(UnitOfWork):
    def __init__(
        self, engine: Engine, breaker: Breaker | None = None, read_only: bool = False
    ) -> None:
        """read_only: for reads alone, each statement on its own (autocommit). Under READ
        COMMITTED a transaction gives a series of reads nothing (each statement sees what was
        committed when it began), but costs a BEGIN and a ROLLBACK each, and psycopg forgets
        its prepared statements at a ROLLBACK (a DEALLOCATE ALL at the next): 3 of a home
        request's 19 round trips, for each of its two reads."""
        self.engine = engine
        self.breaker = breaker
        self.read_only = read_only

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        # while the database has just failed, fail at once rather than wait for it again
        self._admitted = self.breaker.admit(self.read_only) if self.breaker is not None else 0.0
        self._wrote = False
        try:
            self.connection: Connection = self.engine.connect()
            if self.read_only:  # set on the driver's connection; reset when it is returned
                self.connection.execution_options(isolation_level="AUTOCOMMIT")
        except DBAPIError as error:
            if _unreachable(error):
                raise StorageUnavailable(f"the database is unreachable: {_cause(error)}") from error
            raise
        self.courses = SqlCourseRepository(self.connection)
        self.interactions = SqlInteractionRepository(self.connection)
        self.slates = SqlSlateRepository(self.connection)
        self.stats = SqlStatsRepository(self.connection)
        self.jobs = SqlJobRepository(self.connection)
        self.trainers = SqlTrainerRepository(self.connection)
        self.admin_sessions = SqlAdminSessionRepository(self.connection)
        self.credential_failures = SqlCredentialFailureRepository(self.connection)
        self.statements = SqlStatementRepository(self.connection)
        self.erasures = SqlErasureRepository(self.connection)
        return self

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        try:
            self.rollback()
            self.connection.close()
        except DBAPIError:
            if error is None:
                raise
        if _unreachable(error) or _refuses_writes(error):
            raise StorageUnavailable(f"the database failed: {_cause(error)}") from error
        if self.breaker is not None and not isinstance(error, StorageUnavailable):
            self.breaker.succeeded(self._admitted, wrote=self._wrote)

    def commit(self) -> None:
        if self.read_only:  # its statements took effect one by one: a commit would pass for one
            raise RuntimeError("a unit of work for reads commits nothing")
        self.connection.commit()
        self._wrote = True

    def rollback(self) -> None:
        self.connection.rollback()

    def ping(self) -> None:
        self.connection.execute(text("SELECT 1"))

    def schema_problem(self) -> str | None:
        return schema_problem(self.connection)

    def write_problem(self) -> str | None:
        if self.engine.dialect.name != "sqlite":
            try:
                self.connection.exec_driver_sql(_WRITE_PROBE)
            except DBAPIError as error:  # e.g. a standby: "cannot execute UPDATE in a read-only
                if "read-only" not in str(error.orig):  # transaction"
                    raise
                return f"the database is read-only ({_cause(error)}): every write would fail"
            return None
        # the driver's own connection: a writer holding the lock is no read-only database, and
        # neither waiting for it nor an outage (which the engine's handler would declare) is due
        raw = self.connection.connection.dbapi_connection
        waits = raw.execute("PRAGMA busy_timeout").fetchone()[0]  # type: ignore[union-attr]
        raw.execute("PRAGMA busy_timeout = 0")  # type: ignore[union-attr]
        try:
            raw.execute(_WRITE_PROBE)  # type: ignore[union-attr]
        except sqlite3.OperationalError as error:
            if "readonly" in str(error):
                return f"the database is read-only ({_cause(error)}): every write would fail"
        finally:
            raw.rollback()  # type: ignore[union-attr]
            raw.execute(f"PRAGMA busy_timeout = {int(waits)}")  # type: ignore[union-attr]
        return None
