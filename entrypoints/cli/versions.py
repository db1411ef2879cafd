"""Model versions: list what is kept, roll a strategy back to one, release the hold, copy them
from one store to the other."""

from __future__ import annotations

import dataclasses
import json

import click

from application.bandit import ARTIFACT as BANDIT
from application.ports import StaleBase
from application.use_cases.copy_models import Copied, CopyModels
from application.use_cases.fit_strategies import TUNING
from application.use_cases.list_model_versions import StrategyVersions, VersionInfo
from application.use_cases.roll_back_model import RollbackRefused
from domain.errors import InvalidStrategy
from entrypoints.cli.base import cli, container_of, unpublished


@cli.command("model-versions")
@click.argument("strategies", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of lines.")
@click.pass_context
def model_versions(ctx: click.Context, strategies: tuple[str, ...], as_json: bool) -> None:
    """Every kept version of each strategy (default: all), newest first, the current one marked."""
    # schema=False: only the artifact directory is read, and a rollback is wanted most when
    # something else is wrong
    try:
        found = container_of(ctx, schema=False).list_model_versions().execute(strategies)
    except InvalidStrategy as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(s) for s in found], indent=2))
        return
    for listed in found:
        click.echo(_heading(listed))
        for info in listed.versions:
            click.echo(_line(info))


def _heading(listed: StrategyVersions) -> str:
    if not listed.versions:
        return f"{listed.strategy}: no version published"
    return f"{listed.strategy} (current {listed.current or 'none'}):"


def _line(info: VersionInfo) -> str:
    said = [f"{'*' if info.current else ' '} {info.version}"]
    if info.error:
        return f"{said[0]}  damaged: {info.error}"
    said.append(f"trained {info.trained_at or '?'}")
    said.append(f"data {info.data_version or '?'}")
    if info.fitted_with:  # what tells two versions of one strategy apart, besides their data
        said.append(" ".join(f"{k}={_setting(v)}" for k, v in info.fitted_with.items()))
    said += [f"{k} {_figure(v)}" for k, v in info.metrics.items()]
    if info.restores:
        said.append(f"{'held, ' if info.held else ''}restores {info.restores}")
    return "  " + "  ".join(said)


def _figure(value: object) -> str:
    """0.6733, 3, or per ensemble member 48/28/49."""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list):
        return "/".join(map(str, value))
    return str(value)


def _setting(value: object) -> str:
    """250 for 250.0, 0.3, next."""
    return f"{value:g}" if isinstance(value, float) else str(value)


@cli.command("rollback")
@click.argument("strategy")
@click.option("--to", "version", default=None, help="The version (default: the newest older one).")
@click.option("--release", is_flag=True, help="End the hold: the trainer fits the strategy again.")
@click.pass_context
def rollback(ctx: click.Context, strategy: str, version: str | None, release: bool) -> None:
    """Make an older version of STRATEGY current again, held until --release."""
    if release and version:
        raise click.UsageError("--release takes no --to")
    container = container_of(ctx, schema=False)
    try:
        if release:
            published = container.release_model().execute(strategy)
            click.echo(
                f"released {strategy} (published {published}): the trainer fits it at its next "
                "cycle if the data or settings changed"
            )
            return
        done = container.roll_back_model().execute(strategy, version)
    except (InvalidStrategy, RollbackRefused) as error:
        raise click.ClickException(str(error)) from None
    except StaleBase as error:
        raise click.ClickException(f"{error}; run again") from None
    except OSError as error:
        raise unpublished(strategy, error) from None
    replacing = done.replaced or "a missing or damaged current pointer"
    click.echo(
        f"rolled {strategy} back to {done.restores}: published {done.version} (replacing "
        f"{replacing}), held; web workers load it within RS_REFRESH_SECONDS; "
        f"`recsys rollback {strategy} --release` lets the trainer fit it again"
    )


@cli.command("copy-models")
@click.pass_context
def copy_models(ctx: click.Context) -> None:
    """Copy the current version of each model into the store RS_MODELS_STORE names, from the
    other one (RS_MODELS_DIR for the database, the database for a folder): switching stores
    then fits nothing again. A model already published there is kept."""
    container = container_of(ctx)
    if container.backend() != "sqlalchemy":
        raise click.ClickException(
            "models are copied between RS_MODELS_DIR and a SQL database; "
            f"RS_DATABASE_URL={container.config.database_url()!r} is none"
        )
    into_database = container.config.models_store() == "database"
    source = container.folder_store() if into_database else container.database_store()
    target = container.artifact_store()
    if into_database and source.absent():
        raise click.ClickException(
            f"RS_MODELS_DIR={container.config.models_dir()!r} does not exist: nothing to copy"
        )
    names = [*container.published_strategies.kwargs, TUNING, BANDIT]
    where = "the database" if into_database else f"RS_MODELS_DIR={container.config.models_dir()!r}"
    copied: list[Copied] = []
    copying = CopyModels(source, target).execute(names)
    while True:
        try:  # the copy alone: an output that fails (a closed pipe) is no model unpublished
            item = next(copying, None)
        except OSError as error:
            done = sum(c.version is not None for c in copied)
            cut = unpublished(names[len(copied)], error)
            cut.message += f"; {done} copied above stay, and copy-models again copies the rest"
            raise cut from None
        if item is None:
            break
        click.echo(f"{item.name}: {item.note}" + (f", now {item.version}" if item.version else ""))
        copied.append(item)
    click.echo(f"{sum(c.version is not None for c in copied)} models copied into {where}")
