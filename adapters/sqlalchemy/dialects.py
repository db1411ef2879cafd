"""Where SQLite and PostgreSQL differ, spelt once for every repository."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, DateTime, Float, String, any_, bindparam, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


def utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; everything we store is UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _insert(connection: Connection, table):  # type: ignore[no-untyped-def]
    dialect = connection.dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def among(connection: Connection, column, values: Iterable[str]):  # type: ignore[no-untyped-def]
    """`column IN values` with one bound parameter (a PostgreSQL array, a JSON text for SQLite)
    instead of one per value: binding a thousand ids per batch cost more than the lookup."""
    wanted = sorted(set(values))
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, wanted, type_=postgresql.ARRAY(String)))
    listed = func.json_each(bindparam(None, json.dumps(wanted), type_=String)).table_valued("value")
    return column.in_(select(listed.c.value))


class bytewise(FunctionElement):  # noqa: N801 - used like a SQL function
    """Its text ordered byte by byte on every database, as the in-memory store orders: a tie at a
    limit, a page of the catalog and the catalog's order (which a fit breaks ties by) are then
    the same on SQLite as on a PostgreSQL created with a language's collation (en-US orders
    "course_a" before "Course_z")."""

    type = String()
    inherit_cache = True


@compiles(bytewise)
def _bytewise(element: bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return f'{compiler.process(element.clauses, **kw)} COLLATE "C"'


@compiles(bytewise, "sqlite")
def _bytewise_sqlite(element: bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))  # BINARY, SQLite's own


class database_now(FunctionElement):  # noqa: N801 - used like a SQL function
    """The database's clock, less `ago` (a timedelta; none by default): the one clock all hosts
    share, for times that hosts compare with times other hosts wrote (a job's heartbeats)."""

    type = DateTime(timezone=True)
    inherit_cache = True

    def __init__(self, ago: timedelta = timedelta(0)) -> None:
        super().__init__(literal(ago.total_seconds(), Float()))


@compiles(database_now)
def _database_now(element: database_now, compiler: SQLCompiler, **kw: Any) -> str:
    # the transaction's start: one moment for every statement of a unit of work
    return f"now() - make_interval(secs => {compiler.process(element.clauses, **kw)})"


@compiles(database_now, "sqlite")
def _database_now_sqlite(element: database_now, compiler: SQLCompiler, **kw: Any) -> str:
    # UTC, as SQLAlchemy stores our times, and in its text form (microseconds: 000 after %f's
    # milliseconds): stored times compare as text. CURRENT_TIMESTAMP has whole seconds only.
    ago = compiler.process(element.clauses, **kw)
    return f"strftime('%Y-%m-%d %H:%M:%f000', 'now', '-' || {ago} || ' seconds')"
