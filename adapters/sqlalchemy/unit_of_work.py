"""A unit of work over one SQLAlchemy session: one transaction, rolled back unless committed."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from adapters.sqlalchemy.learners import SqlErasureRepository, SqlStatementRepository
from adapters.sqlalchemy.repositories import (
    SqlCourseRepository,
    SqlInteractionRepository,
    SqlSlateRepository,
)
from adapters.sqlalchemy.stats import SqlStatsRepository
from application.ports import UnitOfWork


class SqlAlchemyUnitOfWork(UnitOfWork):
    def __init__(self, engine: Engine) -> None:
        self.session_factory = sessionmaker(bind=engine, expire_on_commit=False)

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        self.session: Session = self.session_factory()
        self.courses = SqlCourseRepository(self.session)
        self.interactions = SqlInteractionRepository(self.session)
        self.slates = SqlSlateRepository(self.session)
        self.stats = SqlStatsRepository(self.session)
        self.statements = SqlStatementRepository(self.session)
        self.erasures = SqlErasureRepository(self.session)
        return self

    def __exit__(self, *args: object) -> None:
        self.rollback()
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def ping(self) -> None:
        self.session.execute(text("SELECT 1"))
