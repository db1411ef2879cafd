"""The recsys command line (`recsys --help`)."""

from __future__ import annotations

from typing import Any

from application.ports import StorageUnavailable
from entrypoints.cli import data, evaluate, models, online, serve  # noqa: F401 - registers the commands
from entrypoints.cli.base import cli


def main() -> Any:
    try:
        return cli(prog_name="recsys")
    except StorageUnavailable as error:
        # A clear line and exit status 1, like click's own errors, not a traceback.
        raise SystemExit(f"Error: the database is unavailable ({error}); retry shortly") from None
