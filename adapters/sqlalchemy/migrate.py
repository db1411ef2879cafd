"""Run the Alembic migrations programmatically (what `recsys init-db` does)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

import migrations


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


@cache
def _revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(every revision this version knows, its heads): read once, the scripts do not change."""
    script = ScriptDirectory(str(Path(migrations.__file__).parent))
    return frozenset(r.revision for r in script.walk_revisions()), frozenset(script.get_heads())


def schema_problem(connection: Connection) -> str | None:
    """What keeps this version from using the database's schema, or None. A revision this
    version does not know is a newer one (a rollback of the code): its tables are a superset."""
    # not MigrationContext: it logs two info lines each time, and /readyz is polled
    current = (
        {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}
        if inspect(connection).has_table("alembic_version")
        else set()
    )
    known, heads = _revisions()
    if not current:
        return "the database has no schema: run `recsys init-db`"
    if current <= known and current != heads:
        return (
            f"the database schema is at revision {', '.join(sorted(current))}, this version "
            f"needs {', '.join(sorted(heads))}: run `recsys init-db`"
        )
    return None
