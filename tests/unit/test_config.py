"""Settings: which database, and what may be printed."""

from __future__ import annotations

from entrypoints.config import DEFAULT_SQLITE_URL, database_url, load_settings, masked


def test_the_embedded_sqlite_file_is_the_default():
    assert database_url({}) == DEFAULT_SQLITE_URL


def test_the_seed_variables_point_at_postgres():
    env = {
        "RS_DB_HOST": "db",
        "RS_DB_PORT": "6543",
        "RS_DB_NAME": "lms",
        "RS_DB_USER": "app",
        "RS_DB_PASSWORD": "p@ss",
    }
    assert database_url(env) == "postgresql+psycopg://app:p%40ss@db:6543/lms"


def test_rs_database_url_wins():
    assert (
        database_url({"RS_DATABASE_URL": "sqlite:///x.db", "RS_DB_HOST": "db"}) == "sqlite:///x.db"
    )


def test_secrets_are_masked():
    settings = load_settings(
        {"RS_ADMIN_TOKEN": "t0k3n", "RS_DB_HOST": "db", "RS_DB_PASSWORD": "pw"}
    )
    shown = masked(settings)
    assert shown["admin_token"] == "***" and "pw" not in shown["database_url"]
