"""The suite's own PostgreSQL databases, one per pytest-xdist worker (tests/conftest.py)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy.engine import make_url

from tests import conftest


@pytest.mark.postgres
def test_a_database_whose_name_needs_quoting_is_made_and_dropped(postgres_engine):
    """RS_TEST_DATABASE_URL naming `recsys-test` (a hyphen) or `RecsysTest`: under `make test`
    each worker's CREATE DATABASE was a syntax error (or made another name), and every
    PostgreSQL test was skipped as if the server were unreachable."""
    import psycopg

    name = f"Recsys-Test_{os.getpid()}"
    url = make_url(conftest.SERVER_URL).set(database=name)
    conftest._create_empty(url.render_as_string(hide_password=False))
    try:
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (name,)
    finally:
        conftest._drop(url.render_as_string(hide_password=False))
    with psycopg.connect(conftest._server_dsn(), connect_timeout=10) as conn:
        left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall()
    assert left == []


@pytest.mark.postgres
def test_a_database_a_test_left_taken_down_is_migrated_again_for_the_next(postgres_engine):
    """A test that takes the worker's database down to an older revision brings it back in its
    teardown; one such teardown timed out on a busy machine, and every later PostgreSQL test of
    that worker failed on tables missing."""
    from adapters.sqlalchemy.migrate import downgrade, schema_problem

    downgrade(conftest.POSTGRES_URL, "0003")
    conftest._clean(postgres_engine)  # as the next test's postgres_url does
    with postgres_engine.connect() as connection:
        assert schema_problem(connection) is None
