"""Emptying the database (tests, benchmarks and demo resets)."""

from __future__ import annotations

from sqlalchemy import Connection, delete

from adapters.sqlalchemy.tables import catalog_revision, daily_figure_changes, metadata


def delete_everything(connection: Connection) -> None:
    """Empty every table (tests and demo resets); the catalog's revision only goes on (reset, an
    earlier catalog's version would come back with another catalog)."""
    for table in reversed(metadata.sorted_tables):  # each table before those it refers to
        if table is not catalog_revision:
            connection.execute(delete(table))
    connection.execute(delete(daily_figure_changes))  # what deleting the lists and events counted
