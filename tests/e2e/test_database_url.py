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
        "lock_timeout": "5s",
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
