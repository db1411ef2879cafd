"""The Alembic migrations build the schema the code declares (adapters/sqlalchemy/tables.py)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.tables import metadata


def test_the_migrated_database_has_every_table_column_and_index_the_code_uses(database_url):
    engine = build_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert differences == []
