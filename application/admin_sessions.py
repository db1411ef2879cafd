"""Dashboard sessions: a random id for the browser's cookie, its hash in the shared database."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from application.ports import UnitOfWork

SESSION_HOURS = 12


def _hash(session_id: str) -> str:
    """What the database keeps: a copy of the table signs nobody in (the id has 256 random bits,
    so a plain sha256 cannot be reversed by guessing)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


class AdminSessions:
    """Sign-ins that a sign-out revokes on every worker and host, as they share the database."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        hours: float = SESSION_HOURS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.uow_factory = uow_factory
        self.lifetime = timedelta(hours=hours)
        self.clock = clock

    def open(self) -> str:
        """A new session; returns its id, for the cookie only."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        with self.uow_factory() as uow:
            uow.admin_sessions.open(_hash(session_id), now, now + self.lifetime)
            uow.commit()
        return session_id

    def active(self, session_id: str) -> bool:
        with self.uow_factory() as uow:
            return uow.admin_sessions.active(_hash(session_id), self.clock())

    def revoke(self, session_id: str) -> None:
        with self.uow_factory() as uow:
            uow.admin_sessions.revoke(_hash(session_id), self.clock())
            uow.commit()
