"""Dashboard sessions and wrong credentials, as every host sees them: memory, SQLite and
PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import NOW

HOUR = timedelta(hours=1)


def test_a_session_is_active_until_it_is_revoked_or_expires(uow_factory):
    with uow_factory() as uow:
        uow.admin_sessions.open("a" * 64, NOW, NOW + 12 * HOUR)
        uow.admin_sessions.open("b" * 64, NOW, NOW + 12 * HOUR)
        uow.commit()
    with uow_factory() as uow:
        uow.admin_sessions.revoke("a" * 64, NOW + HOUR)
        uow.commit()
    with uow_factory() as uow:
        assert not uow.admin_sessions.active("a" * 64, NOW + HOUR)
        assert uow.admin_sessions.active("b" * 64, NOW + HOUR)
        assert not uow.admin_sessions.active("b" * 64, NOW + 12 * HOUR)
        assert not uow.admin_sessions.active("c" * 64, NOW)


def test_signing_in_drops_the_sessions_expired_by_then(uow_factory):
    with uow_factory() as uow:
        uow.admin_sessions.open("old", NOW, NOW + HOUR)
        uow.admin_sessions.open("new", NOW + 2 * HOUR, NOW + 14 * HOUR)
        uow.commit()
    with uow_factory() as uow:  # asked at a moment within its lifetime: gone, not expired
        assert not uow.admin_sessions.active("old", NOW)
        assert uow.admin_sessions.active("new", NOW + 2 * HOUR)


def test_failures_are_counted_per_client_in_the_window_and_older_ones_dropped(uow_factory):
    with uow_factory() as uow:
        for seconds in (0, 10, 20, 30):
            uow.credential_failures.add("x", NOW + timedelta(seconds=seconds), NOW)
        uow.credential_failures.add("y", NOW + timedelta(seconds=30), NOW)
        uow.commit()
    with uow_factory() as uow:
        recent = uow.credential_failures.recent("x", NOW + timedelta(seconds=5), limit=2)
        assert recent == [NOW + timedelta(seconds=30), NOW + timedelta(seconds=20)]
        uow.credential_failures.add("y", NOW + timedelta(seconds=90), NOW + timedelta(seconds=25))
        uow.commit()
    with uow_factory() as uow:
        assert uow.credential_failures.recent("x", NOW - HOUR, limit=10) == [
            NOW + timedelta(seconds=30)
        ]
        assert len(uow.credential_failures.recent("y", NOW - HOUR, limit=10)) == 2
