"""Serving and configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click

from entrypoints.cli.base import cli
from entrypoints.config import ConfigError, load_settings, masked


@cli.command("show-config")
def show_config() -> None:
    """Print the effective configuration, secrets masked."""
    try:
        settings = load_settings()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(masked(settings), indent=2, sort_keys=True))


@cli.command("serve")
@click.option("--host", default=None, help="Default: RS_HOST or 127.0.0.1.")
@click.option("--port", default=None, type=int, help="Default: RS_PORT or 8002.")
@click.option("--workers", default=2, show_default=True)
@click.option("--threads", default=4, show_default=True)
@click.option(
    "--dev", is_flag=True, help="Flask's reloading development server instead of gunicorn."
)
@click.option(
    "--with-trainer",
    is_flag=True,
    help="Also start `recsys trainer` (one host setups such as `make run`); stopped with the server.",
)
def serve(
    host: str | None, port: int | None, workers: int, threads: int, dev: bool, with_trainer: bool
) -> None:
    """Serve the HTTP API. Web workers only load what a trainer publishes."""
    from entrypoints.api import create_app

    settings = load_settings()
    host = host or settings["host"]
    port = port or settings["port"]
    trainer = (
        subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "trainer"])
        if with_trainer
        else None
    )
    server = os.getpid()
    try:
        if dev:
            if host not in ("127.0.0.1", "localhost", "::1"):
                raise click.UsageError("--dev runs Flask's debugger: serve it on 127.0.0.1 only")
            create_app().run(host=host, port=port, debug=True)
            return
        from entrypoints.wsgi import GunicornServer

        GunicornServer({"bind": f"{host}:{port}", "workers": workers, "threads": threads}).run()
    finally:
        # gunicorn's forked workers leave through here too: only the server stops the trainer.
        if trainer is not None and os.getpid() == server:
            trainer.terminate()
            trainer.wait(timeout=30)
