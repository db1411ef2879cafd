"""The click group and the container every command shares."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from application.ports import UnusableDatabase
from entrypoints import logs
from entrypoints.config import ConfigError, load_settings, read_environment, unknown_variables

if TYPE_CHECKING:
    from entrypoints.container import Container

BATCH = 1_000
T = TypeVar("T")


@click.group()
def cli() -> None:
    """Course recommendation service."""
    starting()


def starting() -> None:
    """What every command does first (also one run by its original name, outside the group)."""
    # Before the settings are validated (a command reports a bad value): fall back to "auto".
    kind = os.environ.get("RS_LOG_FORMAT", "auto")
    logs.configure(kind if kind in ("json", "console") else "auto")
    if os.environ.get(SETTINGS_SAID):
        return
    for line in unknown_variables(read_environment()):
        logging.getLogger("recsys.config").warning("%s", line)


#: set in the environment of a command started by another that has warned of its settings
#: (`serve --with-trainer`'s trainer), so that a misspelt one is not warned of twice
SETTINGS_SAID = "RECSYS_SETTINGS_SAID"
#: set in the environment of `serve --with-trainer`'s trainer: the server's pid, so that the
#: trainer stops with the server even when the server is killed outright and cannot stop it
SERVER_PID = "RECSYS_SERVER_PID"


def container_of(ctx: click.Context, schema: bool = True, lasting: bool = False) -> Container:
    """The container for this invocation, built once from the environment. With `schema`, a
    command stops first, saying what to do, on a database whose schema was never created or not
    upgraded: its statements would fail on each missing table, as a traceback (PostgreSQL) or as
    an outage that retrying never ends (SQLite). init-db, the trainer (it migrates), eval (it
    reads files) and serve (it starts when the database is down) pass False. `lasting`: the
    command stores what it is for (an import, the demo, an erasure), which memory:// would
    throw away as the command ends: refused, rather than "imported 2 courses" of nothing."""
    root = ctx.find_root()
    if root.obj is None:
        try:
            settings = load_settings()
        except ConfigError as error:
            raise click.ClickException(str(error)) from None
        # RS_LOG_LEVEL (also from .env) before faiss loads and alembic migrates: both log at info.
        logs.configure(settings["log_format"], settings["log_level"])
        from entrypoints.container import Container  # torch and the adapters: only when needed

        container = Container()
        container.config.from_dict(settings)
        root.obj = container
        if container.backend() == "sqlalchemy":
            root.call_on_close(lambda: container.engine().dispose())
        if schema:
            schema_checked(container)
    if lasting and root.obj.backend() == "memory":
        raise click.ClickException(
            f"RS_DATABASE_URL=memory:// keeps nothing past this command: what `recsys "
            f"{ctx.info_name}` stores would be gone as it ends; set RS_DATABASE_URL to a SQLite "
            "or PostgreSQL database"
        )
    return root.obj  # type: ignore[no-any-return]


def unpublished(what: str, error: OSError) -> click.ClickException:
    """The artifact directory refused a publish (a full disk, an unwritable RS_MODELS_DIR): one
    line, as the trainer says it. The store removed what it had staged; the last version stays."""
    where = f" ({error.filename})" if error.filename else ""
    return click.ClickException(
        f"{what} could not be published: {error.strerror or error}{where}; "
        "its published version stays"
    )


def unwritable(container: Container, error: OSError, then: str = "") -> click.ClickException:
    """The models' store refuses writes (an unwritable RS_MODELS_DIR, a role without grants on
    the database's artifact tables): one line naming the setting, before a fit is thrown away."""
    where = (
        "RS_MODELS_STORE=database"
        if container.config.models_store() == "database"
        else f"RS_MODELS_DIR={container.config.models_dir()!r}"
    )
    return click.ClickException(f"{where} is not writable: {error.strerror or error}{then}")


def replaced_whole(path: Path, write: Callable[[Path], T]) -> T:
    """`write(file)` into a file beside `path`, renamed over it once whole: a write that fails or
    is interrupted (a full disk, Ctrl-C, the database gone) leaves what was there, or nothing,
    never a cut-off file passing for a whole one. What is no regular file (/dev/stdout, a pipe)
    is written as it is."""
    if path.exists() and not path.is_file():
        return write(path)
    target = path.resolve()  # a link's file, not the link, is replaced
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        result = write(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return result


def schema_checked(container: Container) -> None:
    """A one-line error when the schema is not this version's (schema_problem) or there is no
    database at all (a SQLite path that holds none); a database that does not answer raises
    StorageUnavailable, which each caller treats its own way."""
    try:
        with container.uow() as uow:
            problem = uow.schema_problem()
    except UnusableDatabase as error:
        raise click.ClickException(str(error)) from None
    if problem:
        raise click.ClickException(problem)
