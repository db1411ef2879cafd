"""xAPI statement ids and learner erasure on SQLAlchemy (Core statements, domain objects out)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, case, delete, func, select, text, update

from adapters.sqlalchemy.dialects import among, utc
from adapters.sqlalchemy.tables import (
    erasures,
    interactions,
    slate_items,
    slates,
    xapi_statements,
)
from application.ports import (
    Erasure,
    ErasureRepository,
    LatestErasure,
    StatementRecord,
    StatementRepository,
    erased_counts,
)
from domain.model import UserId


class SqlStatementRepository(StatementRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def known(self, statement_ids: Iterable[str]) -> dict[str, str]:
        column = xapi_statements.c.statement_id
        query = select(column, xapi_statements.c.content_hash).where(
            among(self.connection, column, statement_ids)
        )
        return {row.statement_id: row.content_hash for row in self.connection.execute(query)}

    def voided(self, statement_ids: Iterable[str]) -> set[str]:
        column = xapi_statements.c.voids
        query = select(column).where(
            column.is_not(None), among(self.connection, column, statement_ids)
        )
        return set(self.connection.execute(query).scalars())

    def add(self, records: Sequence[StatementRecord]) -> int:
        if not records:
            return 0
        # stored_at is the database's transaction time. SQLAlchemy's per-row parameter processing
        # cost more than the insert itself: four arrays for PostgreSQL, DB-API executemany else.
        rows = [(r.statement_id, r.content_hash, r.user_id, r.voids) for r in records]
        if self.connection.dialect.name == "postgresql":
            columns = {name: [row[i] for row in rows] for i, name in enumerate(_COLUMNS)}
            return self.connection.execute(_UNNEST_INSERT, columns).rowcount
        return self.connection.exec_driver_sql(
            f"INSERT INTO xapi_statements ({', '.join(_COLUMNS)}) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (statement_id) DO NOTHING",
            rows,
        ).rowcount


#: a learner's lists removed by one statement: 45,000 lists of 10 courses in one took 2.3 s on
#: PostgreSQL, so a learner served a list every five minutes for a year passed the statement
#: timeout; 5,000 take a quarter of a second
LISTS_PER_STATEMENT = 5_000


def _batches(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), LISTS_PER_STATEMENT):
        yield ids[start : start + LISTS_PER_STATEMENT]


#: the advisory lock key of erasures against event writes (any number no other lock uses)
_ERASURE_LOCK = 0x5245_4353_5953_4552

_COLUMNS = ("statement_id", "content_hash", "user_id", "voids")
_UNNEST_INSERT = text(
    """
    INSERT INTO xapi_statements (statement_id, content_hash, user_id, voids)
    SELECT * FROM unnest(
        CAST(:statement_id AS text[]), CAST(:content_hash AS text[]),
        CAST(:user_id AS text[]), CAST(:voids AS text[])
    )
    ON CONFLICT (statement_id) DO NOTHING
    """
)


_MARK = select(func.coalesce(func.max(erasures.c.id), 0))
_ERASED_AFTER_ONE = (
    select(erasures.c.user_hash, func.max(erasures.c.id))
    .where(erasures.c.user_hash == bindparam("user_hash"), erasures.c.id > bindparam("mark"))
    .group_by(erasures.c.user_hash)
)
_HOLD = {
    exclusive: text(f"SELECT {lock}(:key)").bindparams(key=_ERASURE_LOCK)
    for exclusive, lock in (
        (True, "pg_advisory_xact_lock"),
        (False, "pg_advisory_xact_lock_shared"),
    )
}
_HOLD_SQLITE = text("UPDATE erasures SET user_hash = user_hash WHERE 0")


class SqlErasureRepository(ErasureRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        #: the lists `erase_lists` removed, whose credit to others' events `erase` clears
        self._removed: list[str] = []

    def hold(self, exclusive: bool = False) -> None:
        if self.connection.dialect.name == "postgresql":
            # a transaction-level advisory lock: event writes share it, an erasure waits for
            # those under way and holds off new ones until it commits (erasures are rare)
            self.connection.execute(_HOLD[exclusive])
            return
        # SQLite: a write that changes nothing takes the database's write lock now, before the
        # reads (erasures are checked outside a transaction until its first write otherwise)
        self.connection.execute(_HOLD_SQLITE)

    def erase_lists(self, user_id: UserId) -> dict[str, int]:
        counts = {"slates": 0, "impressions": 0, "attributions": 0}
        theirs = select(slates.c.recommendation_id).where(slates.c.user_id == user_id)
        # read once: looked up again after each batch, the index would step over the rows
        # removed so far every time
        ids = list(self.connection.execute(theirs).scalars())
        for batch in _batches(ids):
            # Explicit rather than ON DELETE CASCADE, so the erasure does not depend on the backend.
            counts["impressions"] += self.connection.execute(
                delete(slate_items).where(
                    among(self.connection, slate_items.c.recommendation_id, batch)
                )
            ).rowcount
            counts["slates"] += self.connection.execute(
                delete(slates).where(among(self.connection, slates.c.recommendation_id, batch))
            ).rowcount
        # Someone else's event credited to these lists keeps the event, not the credit: cleared
        # by `erase`, under the hold. Its row locked before it, another erasure holding the hold
        # and deleting that learner's events waited for this one, which waited for the hold.
        self._removed += ids
        return counts

    def erase(self, user_id: UserId) -> dict[str, int]:
        events = self.connection.execute(
            delete(interactions).where(interactions.c.user_id == user_id)
        ).rowcount
        statements = self.connection.execute(
            delete(xapi_statements).where(xapi_statements.c.user_id == user_id)
        ).rowcount
        lists = self.erase_lists(user_id)
        for batch in _batches(self._removed):
            lists["attributions"] += self.connection.execute(
                update(interactions)
                .where(among(self.connection, interactions.c.recommendation_id, batch))
                .values(recommendation_id=None)
            ).rowcount
        self._removed = []
        return erased_counts(events, lists, statements)

    def record(self, erasure: Erasure) -> None:
        self.connection.execute(
            erasures.insert().values(
                user_hash=erasure.user_hash,
                erased_at=utc(erasure.erased_at),
                counts=dict(erasure.counts),
            )
        )

    def latest(self) -> LatestErasure | None:
        # as in the events' fingerprint (SqlInteractionRepository.version)
        removed = erasures.c.counts["events"].as_integer() > 0
        moment, mark, newest = self.connection.execute(
            select(
                func.max(case((removed, erasures.c.erased_at))),
                func.max(case((removed, erasures.c.id))),
                func.max(erasures.c.id),
            )
        ).one()
        return LatestErasure(utc(moment), int(mark), int(newest)) if mark is not None else None

    def any(self) -> bool:
        return self.connection.execute(select(erasures.c.id).limit(1)).first() is not None

    def mark(self) -> int:
        # erasures hold the erasure lock alone until they commit: ids follow commit order
        return int(self.connection.execute(_MARK).scalar_one())

    def erased_after(self, user_hashes: Iterable[str], mark: int) -> dict[str, int]:
        wanted = set(user_hashes)
        if len(wanted) == 1:  # one learner's slate, as a home request records it: built once
            (only,) = wanted
            found = self.connection.execute(_ERASED_AFTER_ONE, {"user_hash": only, "mark": mark})
        else:
            found = self.connection.execute(
                select(erasures.c.user_hash, func.max(erasures.c.id))
                .where(among(self.connection, erasures.c.user_hash, wanted), erasures.c.id > mark)
                .group_by(erasures.c.user_hash)
            )
        return {user: int(latest) for user, latest in found}

    def erased(self, user_hashes: Iterable[str]) -> dict[str, datetime]:
        query = (
            select(erasures.c.user_hash, func.max(erasures.c.erased_at))
            .where(among(self.connection, erasures.c.user_hash, user_hashes))
            .group_by(erasures.c.user_hash)
        )
        return {user: utc(moment) for user, moment in self.connection.execute(query)}
