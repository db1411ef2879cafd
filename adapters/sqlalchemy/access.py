"""Dashboard sessions and wrong credentials, in the database every host shares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import DBAPIError

from adapters.sqlalchemy.dialects import utc
from adapters.sqlalchemy.tables import admin_sessions, credential_failures
from application.ports import (
    AdminSessionRepository,
    CredentialFailureRepository,
    StorageUnavailable,
)


@contextmanager
def _written(what: str) -> Iterator[None]:
    """A database that answers reads but refuses this write (a read-only standby, a missing
    grant) is, for the write, one that is down: StorageUnavailable, which the caller treats as
    an outage (a 503 to retry, or a count in the process). Raised as is, it was a 500."""
    try:
        yield
    except DBAPIError as error:
        raise StorageUnavailable(f"{what}: {error.orig}") from error


class SqlAdminSessionRepository(AdminSessionRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def open(self, session_hash: str, created_at: datetime, expires_at: datetime) -> None:
        with _written("the session could not be opened"):
            self.connection.execute(
                delete(admin_sessions).where(admin_sessions.c.expires_at <= utc(created_at))
            )
            self.connection.execute(
                admin_sessions.insert().values(
                    session_hash=session_hash,
                    created_at=utc(created_at),
                    expires_at=utc(expires_at),
                )
            )

    def active(self, session_hash: str, now: datetime) -> bool:
        found = self.connection.execute(
            select(admin_sessions.c.session_hash).where(
                admin_sessions.c.session_hash == session_hash,
                admin_sessions.c.revoked_at.is_(None),
                admin_sessions.c.expires_at > utc(now),
            )
        )
        return found.first() is not None

    def revoke(self, session_hash: str, now: datetime) -> None:
        with _written("the session could not be revoked"):
            self.connection.execute(
                update(admin_sessions)
                .where(
                    admin_sessions.c.session_hash == session_hash,
                    admin_sessions.c.revoked_at.is_(None),
                )
                .values(revoked_at=utc(now))
            )


class SqlCredentialFailureRepository(CredentialFailureRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def recent(self, client: str, since: datetime, limit: int) -> list[datetime]:
        moments = self.connection.scalars(
            select(credential_failures.c.failed_at)
            .where(
                credential_failures.c.client_hash == client,
                credential_failures.c.failed_at > utc(since),
            )
            .order_by(credential_failures.c.failed_at.desc())
            .limit(limit)
        )
        return [utc(moment) for moment in moments]

    def add(self, client: str, at: datetime, forget_before: datetime) -> None:
        # counted in the process instead: raised as is, every wrong guess was a 500, none counted
        with _written("the failure could not be recorded"):
            self.connection.execute(
                delete(credential_failures).where(
                    credential_failures.c.failed_at < utc(forget_before)
                )
            )
            self.connection.execute(
                credential_failures.insert().values(client_hash=client, failed_at=utc(at))
            )
