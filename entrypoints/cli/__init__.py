"""The recsys command line (`recsys --help`)."""

from __future__ import annotations

from typing import Any

from entrypoints.cli import (  # noqa: F401 - registers the commands
    data,
    evaluate,
    models,
    online,
    serve,
    trainer,
)
from entrypoints.cli.base import cli


def main() -> Any:
    return cli(prog_name="recsys")
