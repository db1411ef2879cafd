"""A PostgreSQL URL's own connection settings (libpq's options, connect_timeout) hold beside the
service's timeouts, instead of being replaced by them."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import text

from tests.e2e.conftest import make_app

pytestmark = pytest.mark.postgres


def _with(url: str, **query: str) -> str:
    return url + "?" + "&".join(f"{key}={quote(value, safe='')}" for key, value in query.items())


def _shown(app, *names: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """What a connection of the app's engine says of each setting."""
    engine = app.container.engine()
    try:
        with engine.connect() as connection:
            return {name: connection.execute(text(f"SHOW {name}")).scalar() for name in names}
    finally:
        engine.dispose()


def test_the_urls_own_options_hold_and_the_services_timeouts_still_apply(postgres_url):
    url = _with(postgres_url, options="-c search_path=public,lms -c application_name=lms-recsys")
    app = make_app(url, db_timeout_seconds=5)
    assert _shown(app, "search_path", "application_name", "statement_timeout", "lock_timeout") == {
        "search_path": "public,lms",
        "application_name": "lms-recsys",
        "statement_timeout": "5s",
        "lock_timeout": "4500ms",  # under it: a wait for a lock is told from a slow statement
    }


def test_a_lock_timeout_in_the_urls_options_wins_over_the_services(postgres_url):
    app = make_app(_with(postgres_url, options="--lock-timeout=1500"), db_timeout_seconds=5)
    assert _shown(app, "lock_timeout", "statement_timeout") == {
        "lock_timeout": "1500ms",
        "statement_timeout": "5s",
    }


def test_a_connect_timeout_in_the_url_wins_over_the_services(postgres_url):
    app = make_app(_with(postgres_url, connect_timeout="17"), db_timeout_seconds=5)
    engine = app.container.engine()
    with engine.connect() as connection:
        parameters = connection.connection.dbapi_connection.info.get_parameters()
    engine.dispose()
    assert parameters["connect_timeout"] == "17"


def _connect_parameters(app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """What the app's engine passes psycopg when it connects (beside the URL's own)."""
    from sqlalchemy import event

    engine = app.container.engine()
    seen: dict[str, str] = {}
    event.listen(engine, "do_connect", lambda _d, _r, _a, params: seen.update(params))
    try:
        engine.connect().close()
    finally:
        engine.dispose()
    return seen


def test_pgoptions_hold_when_the_url_has_no_options(postgres_url, monkeypatch):
    """libpq reads PGOPTIONS only when a connection is given no options, and the service always
    gives its timeouts: an operator's search_path in PGOPTIONS was dropped, so the service
    looked for its tables in another schema."""
    monkeypatch.setenv("PGOPTIONS", "-c search_path=public,lms -c application_name=from-env")
    app = make_app(postgres_url, db_timeout_seconds=5)
    assert _shown(app, "search_path", "application_name", "statement_timeout") == {
        "search_path": "public,lms",
        "application_name": "from-env",
        "statement_timeout": "5s",
    }
    # the URL's own options win over PGOPTIONS, as libpq has it
    app = make_app(_with(postgres_url, options="-c application_name=from-url"))
    assert _shown(app, "application_name", "search_path")["application_name"] == "from-url"


def test_pgconnect_timeout_holds_when_the_url_has_none(postgres_url, monkeypatch):
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    assert _connect_parameters(make_app(postgres_url, db_timeout_seconds=5))["connect_timeout"] == 4
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "17")
    assert "connect_timeout" not in _connect_parameters(make_app(postgres_url))  # libpq's 17
    # 0 is no timeout at all: the service's own stands
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "0")
    assert _connect_parameters(make_app(postgres_url, db_timeout_seconds=5))["connect_timeout"] == 4
