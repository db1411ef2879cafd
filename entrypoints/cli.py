"""The recsys command line: database, catalog and event imports, demo data, serving."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from domain.errors import DomainError
from entrypoints.config import ConfigError, load_settings, masked
from entrypoints.container import Container
from entrypoints.files import parse_file
from entrypoints.schemas import CourseSchema, EventSchema

BATCH = 1_000


def _container(ctx: click.Context) -> Container:
    if ctx.obj is None:
        try:
            settings = load_settings()
        except ConfigError as error:
            raise click.ClickException(str(error)) from None
        container = Container()
        container.config.from_dict(settings)
        ctx.obj = container
        ctx.call_on_close(lambda: container.engine().dispose())
    return ctx.obj  # type: ignore[no-any-return]


@click.group()
def cli() -> None:
    """Course recommendation service."""


@cli.command("init-db")
@click.pass_context
def init_db(ctx: click.Context) -> None:
    """Create or upgrade the database schema (alembic upgrade head)."""
    container = _container(ctx)
    if container.backend() == "memory":
        click.echo("in-memory backend: nothing to migrate")
        return
    container.migrate()
    click.echo("database is at the latest schema")


def _report(errors: list[str], skip_invalid: bool, what: str) -> None:
    if not errors:
        return
    for line in errors[:50]:
        click.echo(line, err=True)
    if len(errors) > 50:
        click.echo(f"... and {len(errors) - 50} more", err=True)
    if not skip_invalid:
        raise click.ClickException(
            f"{len(errors)} invalid {what}; nothing was written (use --skip-invalid to keep the good rows)"
        )
    click.echo(f"skipping {len(errors)} invalid {what}", err=True)


@cli.command("import-courses")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Keep the good rows when some are invalid.")
@click.pass_context
def import_courses(ctx: click.Context, file: Path, skip_invalid: bool) -> None:
    """Upsert courses from FILE (.csv, or JSON lines); tags and prerequisites are |-separated in CSV."""
    parsed = parse_file(file, CourseSchema())
    _report(parsed.errors, skip_invalid, "course rows")
    try:
        count = _container(ctx).upsert_courses().execute(parsed.items)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"imported {count} courses")


@cli.command("import-interactions")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Keep the good rows when some are invalid.")
@click.pass_context
def import_interactions(ctx: click.Context, file: Path, skip_invalid: bool) -> None:
    """Log events from FILE (.csv, or JSON lines), in batches; re-importing never double counts."""
    parsed = parse_file(file, EventSchema())
    use_case = _container(ctx).log_interactions()
    errors = list(parsed.errors)
    bad: set[int] = set()
    for start in range(0, len(parsed.items), 10 * BATCH):
        chunk = parsed.items[start : start + 10 * BATCH]
        for problem in use_case.check(chunk):
            index = start + int(problem["index"])  # type: ignore[call-overload]
            bad.add(index)
            errors.append(f"line {parsed.lines[index]}: {problem['field']}: {problem['message']}")
    _report(errors, skip_invalid, "event rows")
    good = [e for i, e in enumerate(parsed.items) if i not in bad]
    accepted = duplicates = 0
    with click.progressbar(length=len(good), label="importing events", file=sys.stderr) as bar:
        for start in range(0, len(good), BATCH):
            result = use_case.execute(good[start : start + BATCH])
            accepted += result.accepted
            duplicates += result.duplicates
            bar.update(min(BATCH, len(good) - start))
    click.echo(f"imported {accepted} events ({duplicates} already stored)")


@cli.command("demo-data")
@click.option("--seed", default=42, show_default=True, help="Same seed, same learners and events.")
@click.option("--learners", default=3000, show_default=True)
@click.option("--if-empty", is_flag=True, help="Do nothing when the catalog already has courses.")
@click.pass_context
def demo(ctx: click.Context, seed: int, learners: int, if_empty: bool) -> None:
    """Load a generated LMS catalog and learner events (ids course_python_basic, user1, ...)."""
    container = _container(ctx)
    with container.uow() as uow:
        existing = uow.courses.count()
    if if_empty and existing:
        click.echo(f"the catalog has {existing} courses already; demo data not loaded")
        return
    data = container.demo_data()(seed=seed, learners=learners)
    container.upsert_courses().execute(data.courses)
    log = container.log_interactions()
    accepted = 0
    with click.progressbar(
        length=len(data.interactions), label="loading demo events", file=sys.stderr
    ) as bar:
        for start in range(0, len(data.interactions), BATCH):
            accepted += log.execute(data.interactions[start : start + BATCH]).accepted
            bar.update(BATCH)
    click.echo(
        f"loaded {len(data.courses)} courses and {accepted} new events from {learners} learners"
    )


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
def serve(host: str | None, port: int | None, workers: int, threads: int, dev: bool) -> None:
    """Serve the HTTP API."""
    from entrypoints.api import create_app

    settings = load_settings()
    host = host or settings["host"]
    port = port or settings["port"]
    if dev:
        create_app().run(host=host, port=port, debug=True)
        return
    from entrypoints.wsgi import GunicornServer

    GunicornServer({"bind": f"{host}:{port}", "workers": workers, "threads": threads}).run()


def main() -> Any:
    return cli(prog_name="recsys")


if __name__ == "__main__":
    main()
