"""Serving and configuration."""

from __future__ import annotations

import atexit
import errno
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
from typing import Any

import click

from entrypoints.child_process import KeptRunning
from entrypoints.cli.base import SERVER_PID, SETTINGS_SAID, cli, container_of, schema_checked
from entrypoints.config import (
    HOST,
    ConfigError,
    flatten,
    load_settings,
    loopback,
    masked,
    read_sourced_environment,
    sources,
)
from entrypoints.xapi_mapping_file import load_mapping

log = logging.getLogger(__name__)


def _validated(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The settings and the files they name, or a one-line error and exit 1: before anything is
    bound or loaded (a gunicorn worker failing on them would print a traceback after the bind)."""
    try:
        settings = load_settings(env)
        load_mapping(settings["xapi_mapping"])
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    return settings


@cli.command("show-config")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: settings and sources.")
def show_config(as_json: bool) -> None:
    """Print the effective configuration (secrets masked) and where each setting came from."""
    env, origin = read_sourced_environment()
    settings = _validated(env)  # what serve would refuse, refused in the same words
    came_from = sources(settings, env, origin)
    shown = flatten(masked(settings))
    if as_json:
        click.echo(json.dumps({"settings": masked(settings), "sources": came_from}, indent=2))
        return
    width = max(map(len, shown))
    for key, value in shown.items():
        text = json.dumps(value) if not isinstance(value, str) else value
        click.echo(f"{key.ljust(width)}  {text:<32}  {came_from[key]}")


def _a_host(_ctx: click.Context, _param: click.Parameter, host: str | None) -> str | None:
    """--host by RS_HOST's rule: gunicorn would take 'evil host' and fail after the bind."""
    if host is not None and not HOST.fullmatch(host):
        raise click.BadParameter(f"{host!r}: expected a host name or IP address")
    return host


@cli.command("serve")
@click.option("--host", default=None, callback=_a_host, help="Default: RS_HOST or 127.0.0.1.")
@click.option(
    "--port", default=None, type=click.IntRange(1, 65535), help="Default: RS_PORT or 8002."
)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--dev", is_flag=True, help="Flask's reloading development server instead of gunicorn."
)
@click.option(
    "--with-trainer",
    is_flag=True,
    help="Also start `recsys trainer` (one host setups such as `make run`); stopped with the server.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    workers: int,
    threads: int,
    dev: bool,
    with_trainer: bool,
) -> None:
    """Serve the HTTP API. Web workers only load what a trainer publishes."""
    settings = _validated()
    if dev and settings["env"] == "prod":
        raise click.UsageError(
            "--dev runs Flask's debugger, which runs any code its page is sent: not with ENV=prod"
        )
    host = host or settings["host"]
    if dev and not loopback(host):  # before a trainer starts beside it
        raise click.UsageError(
            "--dev runs Flask's debugger: serve it on a loopback address (127.0.0.1, ::1) only"
        )
    # before anything imports prometheus_client (the schema check builds the container, which
    # does): it picks the multi-process mode at import; the trainer beside writes there too
    _metrics_folder()
    _schema_checked(ctx)
    port = settings["port"] if port is None else port
    # --dev: Flask's reloader runs this command again in a child that serves on the socket the
    # first process bound, so the port is taken by then, and the first process's trainer runs
    reloaded = dev and os.environ.get("WERKZEUG_RUN_MAIN") == "true"
    if not reloaded:
        _can_listen(host, port)
        _warn_of_exposure(settings, host)
    trainer = (
        KeptRunning(
            [sys.executable, "-m", "entrypoints.cli", "trainer"],
            "trainer",
            log=logging.getLogger("gunicorn.error"),  # the master's log, formatted as the rest
            # its misspelt settings: said once, here; and it stops when this process is gone
            env={**os.environ, SETTINGS_SAID: "1", SERVER_PID: str(os.getpid())},
        )
        if with_trainer and not reloaded
        else None
    )
    server = os.getpid()
    try:
        if dev:
            from entrypoints.api import create_app
            from entrypoints.api.observability import DevRequestHandler

            # werkzeug takes an IPv6 address without the brackets gunicorn's bind wants
            create_app().run(
                host=host.strip("[]"), port=port, debug=True, request_handler=DevRequestHandler
            )
            return
        from entrypoints.wsgi import GunicornServer

        GunicornServer(
            {"bind": f"{host}:{port}", "workers": workers, "threads": threads},
            settings["log_format"],
            settings["log_level"],
        ).run()
    finally:
        # gunicorn's forked workers leave through here too: only the server stops the trainer.
        if trainer is not None and os.getpid() == server:
            trainer.stop()


def _can_listen(host: str, port: int) -> None:
    """One line and exit 1 at once on an address in use (gunicorn would try five times over
    five seconds, a line each); gunicorn's own SO_REUSEADDR, so a port in TIME_WAIT is free."""
    address = host.removeprefix("[").removesuffix("]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((address, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"cannot listen on {host}:{port}: something listens there already "
                "(another `recsys serve`?); choose another --port or RS_PORT"
            ) from None
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {error.strerror or error}"
        ) from None


def _warn_of_exposure(settings: dict[str, Any], host: str) -> None:
    """What is open to whoever reaches the server, said before it listens."""
    if not settings["api_key"] and not loopback(host):
        log.warning(
            "RS_API_KEY is unset and the server listens on %s: whoever reaches its port can "
            "read any learner's activity, record events and be served lists (/api/v1); set "
            "RS_API_KEY and send it from the course platform's backend",
            host,
        )
    if not settings["admin_token"]:
        log.warning(
            "RS_ADMIN_TOKEN is unset: the admin endpoints, the dashboard, catalog writes and "
            "erasures answer any request made on this machine (a reverse proxy here must send "
            "X-Forwarded-For or Forwarded, or they answer whoever it relays); set RS_ADMIN_TOKEN"
        )


def _schema_checked(ctx: click.Context) -> None:
    """A schema never created or not upgraded stops the server before it binds, saying what to
    do (every request would fail otherwise). A database that does not answer does not: the
    server starts and answers 503 until it is back."""
    from application.ports import StorageUnavailable

    container = container_of(ctx, schema=False)
    try:
        schema_checked(container)
    except StorageUnavailable:
        pass
    finally:
        if container.backend() == "sqlalchemy":
            container.engine().dispose()  # no connection of this process is shared by a fork


def _metrics_folder() -> None:
    """A fresh folder where each gunicorn worker writes its metrics (before any worker starts,
    and before prometheus_client is imported); an operator's PROMETHEUS_MULTIPROC_DIR is kept."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    folder = tempfile.mkdtemp(prefix="recsys-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    server = os.getpid()

    def remove() -> None:
        if os.getpid() == server:  # forked workers run exit handlers too
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)
