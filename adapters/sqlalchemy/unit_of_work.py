"""A unit of work over one SQLAlchemy session: one transaction, rolled back unless committed."""

from __future__ import annotations

import weakref

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from adapters.sqlalchemy.learners import SqlErasureRepository, SqlStatementRepository
from adapters.sqlalchemy.repositories import (
    SqlCourseRepository,
    SqlInteractionRepository,
    SqlJobRepository,
    SqlSlateRepository,
)
from adapters.sqlalchemy.stats import SqlStatsRepository
from application.ports import StorageUnavailable, UnitOfWork


def _unreachable(error: BaseException | None) -> bool:
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


_FACTORIES: weakref.WeakKeyDictionary[Engine, sessionmaker[Session]] = weakref.WeakKeyDictionary()


def _sessions(engine: Engine) -> sessionmaker[Session]:
    """One session factory per engine: each sessionmaker makes a Session subclass whose event
    dispatch SQLAlchemy sets up anew, a cost a unit of work per request must not pay."""
    factory = _FACTORIES.get(engine)
    if factory is None:
        factory = _FACTORIES[engine] = sessionmaker(bind=engine, expire_on_commit=False)
    return factory


class SqlAlchemyUnitOfWork(UnitOfWork):
    def __init__(self, engine: Engine) -> None:
        self.session_factory = _sessions(engine)

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        self.session: Session = self.session_factory()
        self.courses = SqlCourseRepository(self.session)
        self.interactions = SqlInteractionRepository(self.session)
        self.slates = SqlSlateRepository(self.session)
        self.stats = SqlStatsRepository(self.session)
        self.jobs = SqlJobRepository(self.session)
        self.statements = SqlStatementRepository(self.session)
        self.erasures = SqlErasureRepository(self.session)
        return self

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        try:
            self.rollback()
            self.session.close()
        except DBAPIError:
            if error is None:
                raise
        if _unreachable(error):
            raise StorageUnavailable(f"the database is unreachable: {type(error).__name__}") from error

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def ping(self) -> None:
        self.session.execute(text("SELECT 1"))
