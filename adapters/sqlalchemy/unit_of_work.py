"""A unit of work over one SQLAlchemy Core connection: one transaction, rolled back unless committed.

Core, not an ORM session: every repository speaks Core statements, and a session's bookkeeping
(its transaction state machine, identity map, event dispatch) cost more per request than the
statements themselves (benchmarks/serving.py; docs/benchmarks.md).
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from adapters.sqlalchemy.breaker import Breaker
from adapters.sqlalchemy.learners import SqlErasureRepository, SqlStatementRepository
from adapters.sqlalchemy.migrate import schema_problem
from adapters.sqlalchemy.repositories import (
    SqlCourseRepository,
    SqlInteractionRepository,
    SqlJobRepository,
    SqlSlateRepository,
)
from adapters.sqlalchemy.stats import SqlStatsRepository
from adapters.sqlalchemy.trainers import SqlTrainerRepository
from application.ports import StorageUnavailable, UnitOfWork


def _unreachable(error: BaseException | None) -> bool:
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


class SqlAlchemyUnitOfWork(UnitOfWork):
    def __init__(self, engine: Engine, breaker: Breaker | None = None) -> None:
        self.engine = engine
        self.breaker = breaker

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        # while the database has just failed, fail at once rather than wait for it again
        self._admitted = self.breaker.admit() if self.breaker is not None else 0.0
        try:
            self.connection: Connection = self.engine.connect()
        except DBAPIError as error:
            if _unreachable(error):
                raise StorageUnavailable(
                    f"the database is unreachable: {type(error).__name__}"
                ) from error
            raise
        self.courses = SqlCourseRepository(self.connection)
        self.interactions = SqlInteractionRepository(self.connection)
        self.slates = SqlSlateRepository(self.connection)
        self.stats = SqlStatsRepository(self.connection)
        self.jobs = SqlJobRepository(self.connection)
        self.trainers = SqlTrainerRepository(self.connection)
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
        if _unreachable(error):
            raise StorageUnavailable(
                f"the database is unreachable: {type(error).__name__}"
            ) from error
        if self.breaker is not None and not isinstance(error, StorageUnavailable):
            self.breaker.succeeded(self._admitted)

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()

    def ping(self) -> None:
        self.connection.execute(text("SELECT 1"))

    def schema_problem(self) -> str | None:
        return schema_problem(self.connection)
