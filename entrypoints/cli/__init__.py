"""The recsys command line (`recsys --help`)."""

from __future__ import annotations

import gc
from typing import Any

import click

from application.ports import ArtifactsDenied, StorageUnavailable, UnusableDatabase
from entrypoints.cli import (  # noqa: F401 - registers the commands
    data,
    evaluate,
    imports,
    models,
    online,
    serve,
    trainer,
    versions,
    xapi,
)
from entrypoints.cli.base import cli, starting
from entrypoints.config import ConfigError


def main(command: click.Command = cli, prog_name: str = "recsys") -> Any:
    """Runs `command` (every recsys command, or one by its original name) with a database that
    is down or unusable said in one line, not a traceback."""
    # The ~300k objects imported at start live as long as the command: frozen, the collector stops
    # rescanning them on every full collection (4x faster reading of a 100k-statement export).
    gc.freeze()
    try:
        if command is not cli:
            starting()  # the group would have
        return command(prog_name=prog_name)
    except (UnusableDatabase, ArtifactsDenied, ConfigError) as error:  # it says why; retrying
        # would not help (ConfigError: an unreadable .env, read before any command's own checks)
        raise SystemExit(f"Error: {error}") from None
    except StorageUnavailable as error:
        # A clear line and exit status 1, like click's own errors, not a traceback.
        if any(said in str(error) for said in REFUSES_WRITES):  # retrying alone never helps
            raise SystemExit(
                f"Error: the database takes no writes ({error}): a read-only file, folder or "
                "mount, or a standby; run this again once it takes writes"
            ) from None
        raise SystemExit(f"Error: the database is unavailable ({error}); retry shortly") from None


#: what SQLite and PostgreSQL say of a write to a database that takes none
REFUSES_WRITES = ("readonly database", "read-only transaction")
