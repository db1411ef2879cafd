"""xAPI statement ids and learner erasure on SQLAlchemy (Core statements, domain objects out)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from adapters.sqlalchemy.repositories import utc
from adapters.sqlalchemy.tables import (
    erasures,
    interactions,
    slate_items,
    slates,
    xapi_statements,
)
from application.ports import Erasure, ErasureRepository, StatementRecord, StatementRepository
from domain.model import UserId

# Well under SQLite's and PostgreSQL's bound-parameter limits.
_CHUNK = 5_000


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    items = list(set(values))
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class SqlStatementRepository(StatementRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def known(self, statement_ids: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        column = xapi_statements.c.statement_id
        for chunk in _chunks(statement_ids):
            query = select(column, xapi_statements.c.content_hash).where(column.in_(chunk))
            found.update(
                {row.statement_id: row.content_hash for row in self.session.execute(query)}
            )
        return found

    def voided(self, statement_ids: Iterable[str]) -> set[str]:
        found: set[str] = set()
        column = xapi_statements.c.voids
        for chunk in _chunks(statement_ids):
            found.update(self.session.execute(select(column).where(column.in_(chunk))).scalars())
        return found

    def add(self, records: Sequence[StatementRecord]) -> None:
        if not records:
            return
        self.session.execute(
            xapi_statements.insert(),
            [
                {
                    "statement_id": r.statement_id,
                    "content_hash": r.content_hash,
                    "user_id": r.user_id,
                    "voids": r.voids,
                    "stored_at": utc(r.stored_at),
                }
                for r in records
            ],
        )


class SqlErasureRepository(ErasureRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def erase(self, user_id: UserId) -> dict[str, int]:
        theirs = select(slates.c.recommendation_id).where(slates.c.user_id == user_id)
        impressions = self.session.execute(
            select(func.count())
            .select_from(slate_items)
            .where(slate_items.c.recommendation_id.in_(theirs))
        ).scalar_one()
        events = self.session.execute(
            delete(interactions).where(interactions.c.user_id == user_id)
        ).rowcount
        # Someone else's event credited to this learner's slate keeps the event, not the credit.
        attributions = self.session.execute(
            update(interactions)
            .where(interactions.c.recommendation_id.in_(theirs))
            .values(recommendation_id=None)
        ).rowcount
        # Explicit, not ON DELETE CASCADE: SQLite enforces foreign keys only when asked to.
        self.session.execute(delete(slate_items).where(slate_items.c.recommendation_id.in_(theirs)))
        served = self.session.execute(delete(slates).where(slates.c.user_id == user_id)).rowcount
        statements = self.session.execute(
            delete(xapi_statements).where(xapi_statements.c.user_id == user_id)
        ).rowcount
        return {
            "events": events,
            "slates": served,
            "impressions": int(impressions),
            "statements": statements,
            "attributions": attributions,
        }

    def record(self, erasure: Erasure) -> None:
        self.session.execute(
            erasures.insert().values(
                user_hash=erasure.user_hash,
                erased_at=utc(erasure.erased_at),
                counts=dict(erasure.counts),
            )
        )

    def latest(self) -> datetime | None:
        moment = self.session.execute(select(func.max(erasures.c.erased_at))).scalar_one()
        return utc(moment) if moment is not None else None
