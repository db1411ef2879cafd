"""`recsys update-online-model`: credit the bandit's arms with the rewards of recent slates."""

from __future__ import annotations

import click

from entrypoints.cli.base import cli, container_of


@cli.command("update-online-model")
@click.option(
    "--hours",
    default=24.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="How far back to look for served slates.",
)
@click.option(
    "--min-interactions",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    help="Change nothing unless at least this many attributed interactions arrived.",
)
@click.option(
    "--settle-minutes",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Slates younger than this wait for their clicks to arrive.",
)
@click.pass_context
def update_online_model(
    ctx: click.Context, hours: float, min_interactions: int, settle_minutes: float
) -> None:
    """Update the bandit from attributed events and save its state (bandit_state.json) atomically."""
    result = container_of(ctx).update_bandit().execute(hours, min_interactions, settle_minutes)
    click.echo(
        result.message + (f" (bandit state version {result.version})" if result.version else "")
    )
