"""Alembic environment: the URL comes from the caller's config (recsys init-db) or RS_DATABASE_URL."""

from __future__ import annotations

import os

from alembic import context

from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.tables import metadata

#: how long one migration statement may run (a frozen server is noticed after this, too)
MIGRATION_STATEMENT_SECONDS = 6 * 3600.0
#: how long one migration statement waits for a lock before the migration is tried again
MIGRATION_LOCK_WAIT_MS = 1000

config = context.config
url = config.get_main_option("sqlalchemy.url") or os.environ.get("RS_DATABASE_URL", "")

if context.is_offline_mode():
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    # Migrating is what makes a new database. Its statements may rewrite a large table (0002
    # counts every slate's items), far beyond a request's timeout; its lock waits may not: a
    # waiting ALTER TABLE holds up every request behind it.
    engine = build_engine(url, create=True, statement_timeout=MIGRATION_STATEMENT_SECONDS)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # requests queue behind an ALTER TABLE waiting for a lock: it waits a second at
                # a time, and migrate.upgrade tries again a few seconds later (a trainer reading
                # every event holds the events table for seconds to minutes)
                connection.exec_driver_sql(f"SET lock_timeout = '{MIGRATION_LOCK_WAIT_MS}ms'")
                connection.commit()  # the session keeps it; the migrations begin their own
            context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        # a try that failed too: migrate.upgrade tries again every few seconds for up to 30
        # minutes, and each engine left would keep its session open (max_connections)
        engine.dispose()
