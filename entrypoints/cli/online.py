"""`recsys update-online-model`: credit the bandit's arms with the rewards of recent slates."""

from __future__ import annotations

import math
from datetime import timedelta

import click

from entrypoints.cli.base import cli, container_of, unpublished

#: A century: far enough back for any slate, near enough for the date it reaches to exist
#: (`--hours 1e9` ran past year 1, a traceback).
CENTURY_HOURS = 24 * 366 * 100


def _a_number(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if math.isnan(value):  # passes every range: no comparison with NaN is true
        raise click.BadParameter("nan is not a number")
    return value


@cli.command("update-online-model")
@click.option(
    "--hours",
    default=24.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True, max=CENTURY_HOURS),
    callback=_a_number,
    help="How far back the first update looks for served slates; later ones count every "
    "slate since the last one counted, up to 7 days back (or --hours, if longer).",
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
    type=click.FloatRange(min=0, max=CENTURY_HOURS * 60),
    callback=_a_number,
    help="Slates younger than this wait for their clicks to arrive.",
)
@click.option(
    "--recount",
    is_flag=True,
    help="Count the arms afresh from every settled slate the bandit chose, forgetting what "
    "was credited before (after `recsys repair-credit --apply`); --hours and "
    "--min-interactions do not apply.",
)
@click.pass_context
def update_online_model(
    ctx: click.Context, hours: float, min_interactions: int, settle_minutes: float, recount: bool
) -> None:
    """Update the bandit from attributed events and save its state (bandit_state.json) atomically."""
    update = container_of(ctx).update_bandit()
    try:
        if recount:
            result = update.recount(settle_minutes)
        else:
            result = update.execute(hours, min_interactions, settle_minutes)
    except OSError as error:
        raise unpublished("bandit", error) from None
    click.echo(
        result.message + (f" (bandit state version {result.version})" if result.version else "")
    )


@cli.command("repair-credit")
@click.option("--apply", is_flag=True, help="Clear the credit found (without it: only count it).")
@click.pass_context
def repair_credit(ctx: click.Context, apply: bool) -> None:
    """Find events credited to a list their learner was not shown, for a course not in it, or
    dated before it was served (by more than RS_MAX_CLOCK_SKEW; accepted before such credit was
    refused), and with --apply clear that credit; the events stay. CTR and the bandit's next
    updates then count only what lists caused."""
    container = container_of(ctx)
    skew = timedelta(seconds=container.config.max_clock_skew_seconds())
    with container.uow() as uow:
        found = uow.interactions.miscredited(clear=apply, max_clock_skew=skew)
        if apply:
            uow.commit()
    if not found:
        click.echo(
            "every credited event names a list its learner was shown, with its course, and "
            "happened after it was served"
        )
    elif not apply:
        click.echo(
            f"{found} events credited to a list their learner was not shown, for a course not "
            "in it, or dated before it was served; run with --apply to clear that credit (the "
            "events stay)"
        )
    else:
        click.echo(
            f"cleared the credit of {found} events (the events stay); the bandit's arms keep "
            "what they were credited: `recsys update-online-model --recount` counts them afresh"
        )
