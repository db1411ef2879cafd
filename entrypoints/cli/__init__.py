"""The recsys command line (`recsys --help`)."""

from __future__ import annotations

from typing import Any

from entrypoints.cli import data, evaluate, models, online, serve, xapi  # noqa: F401 - registers the commands
from entrypoints.cli.base import cli


def main() -> Any:
    return cli(prog_name="recsys")
