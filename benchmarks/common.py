"""Helpers shared by the benchmarks: a scratch PostgreSQL database of their own."""

from __future__ import annotations

import os

import psycopg
from sqlalchemy.engine import make_url

from adapters.sqlalchemy.migrate import downgrade, upgrade

SERVER_URL = os.environ.get(
    "RS_BENCH_SERVER_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BENCH_DB = "recsys_bench"


def fresh_bench_database() -> str:
    """An empty, migrated `recsys_bench` database on the test server; returns its URL."""
    server = make_url(SERVER_URL)
    with psycopg.connect(
        server.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,)
        ).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {BENCH_DB}")
    url = server.set(database=BENCH_DB).render_as_string(hide_password=False)
    downgrade(url)
    upgrade(url)
    return url


def psycopg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
