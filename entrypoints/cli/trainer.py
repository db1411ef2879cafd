"""`recsys trainer`: the fitting process, beside (never inside) the web workers."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import TYPE_CHECKING

import click
from dependency_injector import providers

from application.ports import StorageUnavailable, UnusableDatabase
from application.trainer import HOLDER
from application.use_cases.fit_strategies import EmptyCatalog
from entrypoints.cli.base import SERVER_PID, cli, container_of, unwritable

if TYPE_CHECKING:
    from entrypoints.container import Container


def without_breaker(container: Container) -> Container:
    """The trainer's container, before it builds its engine: the trainer works one unit of work
    at a time, so the breaker (which keeps a web worker's threads from piling up behind an
    outage) gains it nothing, and after two lock waits (a day's figures behind a VACUUM FULL) it
    refused the trainer's next unit on any table at once, the cycle's beat included."""
    container.breaker.override(providers.Object(None))
    return container


@cli.command("trainer")
@click.option("--once", is_flag=True, help="Run queued jobs and fit what is stale, then exit.")
@click.option(
    "--force",
    is_flag=True,
    help="Refit and republish every strategy at the first cycle, stale or not, then carry on "
    "as usual (with --once: then exit).",
)
@click.pass_context
def trainer(ctx: click.Context, once: bool, force: bool) -> None:
    """Fit every strategy when the data changes (at most every RS_FIT_INTERVAL seconds), publish
    each as a versioned artifact, and run the jobs web workers queue (reindex). Runs until
    stopped (SIGTERM, Ctrl-C) unless --once is given."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    container = without_breaker(container_of(ctx, schema=False))
    store = container.artifact_store()

    def writable() -> None:
        try:
            store.check_writable()
        except OSError as error:  # a read-only mount, a missing grant: every fit would be lost
            raise unwritable(container, error) from None

    def prepare() -> None:
        if container.backend() == "sqlalchemy":
            # upgrades a database, never makes one: a mistyped SQLite path stays a mistake
            container.migrate(create=False)
        writable()  # the database's store needs the schema, and answers only once it is up

    try:
        writable()
    except StorageUnavailable:  # the database's store: checked once the database answers
        pass
    process = container.trainer()
    if once:
        try:
            prepare()
            fitted = process.run_once_then_stop(force=force)
        except (UnusableDatabase, EmptyCatalog) as error:
            raise click.ClickException(str(error)) from None
        for item in fitted:
            if item.held:
                click.echo(f"{item.strategy}: {item.note}")
            elif not item.overtaken:
                click.echo(
                    f"{item.strategy}: "
                    + (f"published {item.version}" if item.version else "nothing published")
                    + f" in {item.seconds:.1f}s"
                    + (f" ({item.note})" if item.note else "")
                )
        if process.stood_by and force:  # a refit asked for and not done: cron must not think so
            raise click.ClickException(
                f"nothing fitted: {HOLDER} is fitting; run again once it is done"
            )
        if process.stood_by:
            click.echo(f"nothing fitted: {HOLDER} is fitting (this one stood by)")
        elif not fitted:
            click.echo("every strategy is up to date with the data")
        overtaken = [f"{item.strategy}: {item.note}" for item in fitted if item.overtaken]
        if overtaken:
            raise click.ClickException("; ".join(overtaken) + ", run again")
        failed = [item.strategy for item in fitted if item.failed]
        if failed:
            raise click.ClickException(f"{', '.join(failed)} failed (see above)")
        return
    stop = threading.Event()

    def halt(*_: object) -> None:
        stop.set()
        raise Stopped

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, halt)
    if os.environ.get(SERVER_PID, "").isdigit():
        server = int(os.environ[SERVER_PID])
        threading.Thread(
            target=_stop_without, args=(server,), name="server-watch", daemon=True
        ).start()
    try:
        # a trainer started while the database is down waits for it (a supervisor, or
        # `serve --with-trainer`, which restarts it only after a growing pause, would otherwise
        # lose it for a while)
        process.run_forever(stop, prepare=prepare, force=force)
    except UnusableDatabase as error:  # a mistyped SQLite path: waiting would not make one
        raise click.ClickException(str(error)) from None
    except Stopped:
        # a publish is a staged directory renamed into place and a pointer replaced: leaving
        # mid-fit (or mid-publish) leaves every strategy at its last whole version, and a job
        # this trainer was running is queued again (RunJobs gives it back)
        dropped = process.in_progress()
        click.echo(
            f"trainer stopped; {dropped} in progress was dropped, nothing was half-published"
            if dropped
            else "trainer stopped"
        )


def _stop_without(server: int) -> None:
    """The trainer of `serve --with-trainer` stops once its server is gone: one killed outright
    (SIGKILL, the OOM killer) cannot stop it, and it went on fitting and publishing for no server,
    beside the trainer of the server started next."""
    while os.getppid() == server:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)  # as the server would: a fit in progress is dropped


class Stopped(BaseException):
    """SIGTERM or SIGINT: the trainer leaves at once instead of finishing a fit that may take
    minutes (a BaseException, so the cycle's own error handling does not swallow it)."""
