"""The operator dashboard: a login form (a signed cookie naming a session the database keeps),
and the same use cases as the JSON API drawn as charts."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, current_app, redirect, render_template, request, url_for

from application.bandit import BanditService
from application.failed_credentials import TooManyFailures
from application.pins import said
from application.ports import FitTurn, StorageUnavailable, UnitOfWork
from application.strategies import StrategyRegistry
from application.use_cases.compute_stats import ComputeStats
from entrypoints.api import charts
from entrypoints.api.admin import described, trainers_seen
from entrypoints.api.auth import (
    NOT_THIS_MACHINE,
    credentials,
    from_another_site,
    open_without_token,
    sign_in,
    sign_out,
    signed_in,
    token_matches,
)
from entrypoints.api.errors import RETRY_AFTER_SECONDS, database_unavailable, error_response
from entrypoints.api.http import body_bytes, no_query, query
from entrypoints.api.openapi import RETRY_AFTER, throttled
from entrypoints.container import Container
from entrypoints.schemas import ErrorSchema
from entrypoints.stats_schemas import DashboardQuerySchema

bp = Blueprint("dashboard", __name__, template_folder="templates")
RANGES = (7, 30, 90)
FOREIGN_FORM = "a page of another site sent this form; use the dashboard's own"
NOT_SIGNED_IN = {"description": "Not signed in: to the login form (the page is not sent)"}
UNAVAILABLE = {
    "description": "The database is unavailable (see Retry-After)",
    "headers": RETRY_AFTER,
    "content": {"application/json": {"schema": ErrorSchema}},
}


def _html(summary: str, extra: dict[str, Any] | None = None, status: str = "200") -> dict[str, Any]:
    responses = {
        status: {"description": summary, "content": {"text/html": {"schema": {"type": "string"}}}}
    }
    return {"summary": summary, "responses": {**responses, **(extra or {})}}


def _allowed() -> bool:
    bearer = credentials("Bearer")
    return open_without_token() or signed_in() or (bearer is not None and token_matches(bearer))


@bp.get("/dashboard/login")
def login_form():  # type: ignore[no-untyped-def]
    return render_template("login.html", needs_token=bool(current_app.config["RS_ADMIN_TOKEN"]))


@bp.post("/dashboard/login")
def login():  # type: ignore[no-untyped-def]
    if not current_app.config["RS_ADMIN_TOKEN"]:
        return render_template("login.html", needs_token=False, unconfigured=True), 403
    if from_another_site():  # neither signed in nor counted against the operator's address
        return render_template("login.html", needs_token=True, foreign=True), 403
    body_bytes()  # a form over RS_MAX_BODY_BYTES is a 413, chunked too, before it is parsed
    try:
        matches = token_matches(request.form.get("token", ""), "admin token (sign-in form)")
    except TooManyFailures as error:
        page = render_template("login.html", needs_token=True, wait=math.ceil(error.seconds))
        return page, 429, {"Retry-After": str(math.ceil(error.seconds))}
    if matches:
        sign_in()
        return redirect(url_for("dashboard.dashboard"), 303)
    page = render_template("login.html", needs_token=True, wrong=True)
    return page, 401


@bp.post("/dashboard/logout")
def logout():  # type: ignore[no-untyped-def]
    no_query()
    if from_another_site():
        return error_response(403, "forbidden", FOREIGN_FORM)
    sign_out()
    return redirect(url_for("dashboard.login_form"), 303)


login_form.openapi = _html("The dashboard's login form")  # type: ignore[attr-defined]
login.openapi = {  # type: ignore[attr-defined]
    "summary": "Sign in with the admin token: sets a signed HttpOnly SameSite=Strict cookie",
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": {"token": {"type": "string"}}}
            }
        },
    },
    "responses": {
        "303": {"description": "Signed in: to the dashboard"},
        "400": {
            "description": "A malformed body (a chunked encoding that cannot be read)",
            "content": {"application/json": {"schema": ErrorSchema}},
        },
        "413": {
            "description": "The body is larger than RS_MAX_BODY_BYTES",
            "content": {"application/json": {"schema": ErrorSchema}},
        },
        "401": {
            "description": "Wrong token: the form again",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        "403": {
            "description": "No admin token is configured (RS_ADMIN_TOKEN): nothing to sign in "
            "with; or a page of another site sent the form (Sec-Fetch-Site, or Origin without it), not counted",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        "429": {
            "description": "Too many wrong tokens from this address lately: the form, saying "
            "when to try again",
            "headers": RETRY_AFTER,
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        "503": UNAVAILABLE,
    },
}
logout.openapi = {  # type: ignore[attr-defined]
    "summary": "Sign out: revokes the session on every host and clears the session cookie",
    "responses": {
        "303": {"description": "Signed out: to the login form"},
        "400": {
            "description": "A query parameter it does not take: still signed in",
            "content": {"application/json": {"schema": ErrorSchema}},
        },
        "403": {
            "description": "A page of another site sent the form (Sec-Fetch-Site, or Origin without it): still signed in",
            "content": {"application/json": {"schema": ErrorSchema}},
        },
        "503": {**UNAVAILABLE, "description": "The database is unavailable: still signed in"},
    },
}


@bp.get("/dashboard")
@inject
def dashboard(  # type: ignore[no-untyped-def]
    stats_use_case: ComputeStats = Provide[Container.compute_stats],
    bandit: BanditService = Provide[Container.bandit],
    strategies: StrategyRegistry = Provide[Container.strategies],
    uow_factory: Callable[[], UnitOfWork] = Provide[Container.uow.provider],
    fit_turn: FitTurn = Provide[Container.fit_turn],
):
    if not _allowed():
        if not current_app.config["RS_ADMIN_TOKEN"]:
            return error_response(403, "forbidden", NOT_THIS_MACHINE)
        if credentials("Bearer") is not None:  # a script, told as the admin endpoints tell it
            return error_response(403, "forbidden", "the admin token is wrong")
        return redirect(url_for("dashboard.login_form"), 303)
    args = query(DashboardQuerySchema)
    days = args["days"]
    as_of = datetime.now(UTC)
    stats = stats_use_case.global_stats(days)
    snapshot = strategies.snapshot()
    arms = bandit.describe([n for n, r in snapshot.recommenders.items() if r.ready])
    drawn = _charts(stats, arms, days, as_of)
    models = described(snapshot, None)
    return render_template(
        "dashboard.html",
        stats=stats,
        totals=stats.totals,
        charts=drawn,
        bandit=arms,
        models=models,
        trainers=trainers_seen(uow_factory, fit_turn),
        days=days,
        ranges=RANGES,
        refresh=args["refresh"],
        as_of=as_of.strftime("%Y-%m-%d %H:%M:%S UTC"),
        shown=_shown,
        pins=said,
        signed_in=signed_in(),
    )


@bp.errorhandler(StorageUnavailable)
def unavailable(error: StorageUnavailable):  # type: ignore[no-untyped-def]
    """A browser opening the dashboard gets a page that says so and reloads itself once
    Retry-After has passed; a script (JSON, or any type) gets the API's JSON."""
    response, status = database_unavailable(error)
    html = request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"
    if request.endpoint != "dashboard.dashboard" or not html:
        return response, status
    page = render_template("unavailable.html", seconds=RETRY_AFTER_SECONDS)
    return page, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}


dashboard.openapi = _html(  # type: ignore[attr-defined]
    "The operator dashboard (HTML); a browser signs in at /dashboard/login",
    {
        "303": NOT_SIGNED_IN,
        "400": {
            "description": "Invalid input",
            "content": {"application/json": {"schema": ErrorSchema}},
        },
        "403": {
            "description": "Without RS_ADMIN_TOKEN: a request not made on the server's machine, "
            "or one a proxy relays; with it, a wrong bearer token",
            "content": {"application/json": {"schema": ErrorSchema}},
        },
        "429": throttled(),
        "503": {
            **UNAVAILABLE,
            "description": "The database is unavailable (see Retry-After): to a browser (an "
            "Accept preferring text/html), a page saying so that reloads itself after "
            "Retry-After seconds",
            "content": {
                **UNAVAILABLE["content"],
                "text/html": {"schema": {"type": "string"}},
            },
        },
    },
)
dashboard.openapi["parameters"] = [{"in": "query", "schema": DashboardQuerySchema}]  # type: ignore[attr-defined]
dashboard.credentials = "admin"  # type: ignore[attr-defined] # the session cookie or the token


#: courses a strategy showed in a day below which its CTR that day is not drawn: one click of 2
#: shown drew a 50% spike beside days of 4% (the data table still lists the day)
MIN_SHOWN = 20
DAILY_COLUMNS = ("day", "strategy", "lists", "courses shown", "clicked", "drawn", "CTR (%)")


def _daily_ctr(stats: Any) -> tuple[dict[str, list[tuple[str, float]]], list[tuple[str, ...]]]:
    """Each strategy's line (the days it showed MIN_SHOWN courses or more) and the table of
    every day it served lists, with how many."""
    series: dict[str, list[tuple[str, float]]] = {}
    rows = []
    for day, per_strategy in sorted(stats.daily_by_strategy.items()):
        for strategy, t in per_strategy.items():
            if not t.impressions:
                continue
            drawn = t.impressions >= MIN_SHOWN
            if drawn:
                series.setdefault(strategy, []).append((day, t.ctr))
            counts = (t.recommendations, t.impressions, t.clicks)
            said = "yes" if drawn else f"no: fewer than {MIN_SHOWN} shown"
            rows.append((day, strategy, *map(str, counts), said, f"{100 * t.ctr:.2f}"))
    return series, rows


def _charts(stats: Any, arms: dict[str, Any], days: int, as_of: datetime) -> list[charts.Chart]:
    series, rows = _daily_ctr(stats)
    last = as_of.date()
    pulled = [a for a in arms["arms"] if a["pulls"]]
    none_served = "No recommendations were served in this period."
    popular = stats.most_popular_courses
    no_rewards = "The bandit has no rewards yet: run recsys update-online-model."
    return [
        charts.daily_lines(
            "daily-ctr",
            "Click-through rate per strategy, by day",
            series,
            last - timedelta(days=days - 1),
            last,
            "CTR (%)",
            f"No strategy showed {MIN_SHOWN} courses or more in a day: too few to draw a "
            "CTR that means anything (the table has the figures)."
            if rows
            else none_served,
            percent=True,
            table=(DAILY_COLUMNS, rows),
            note=f"A day a strategy showed fewer than {MIN_SHOWN} courses is not drawn: one "
            "click more or less would swing its CTR by more than 5 points. The table lists every "
            "day, with its lists, courses shown and clicks.",
        ),
        charts.bars(
            "strategy-share",
            "Share of recommendation lists served, per strategy",
            sorted(stats.strategy_distribution.items()),
            "Strategy",
            "Share of lists (%)",
            none_served,
            percent=True,
        ),
        charts.bars(
            "bandit-reward",
            f"Bandit ({arms['policy']}): mean reward per list, per strategy, "
            "over every list it has counted (not the range above)",
            [(a["strategy"], a["mean_reward"]) for a in pulled],
            "Strategy",
            "Mean reward (points per list)",
            no_rewards,
        ),
        charts.bars(
            "bandit-probability",
            f"Bandit ({arms['policy']}): chance of choosing each strategy now",
            [(a["strategy"], a["selection_probability"]) for a in arms["arms"]] if pulled else [],
            "Strategy",
            "Selection probability (%)",
            no_rewards,
            percent=True,
        ),
        charts.bars(
            "top-courses",
            "Most enrolled courses",
            [(n, float(c.enrolls)) for n, c in zip(_course_labels(popular), popular, strict=True)],
            "Course",
            "Enrolments (count)",
            "No enrolments in this period.",
            horizontal=True,
            integer=True,
        ),
    ]


def _course_labels(courses: Any) -> list[str]:
    """Each course's title, with its id where another course listed has the same title: bars
    are placed by label, and two courses of one title shared a place, one bar over the other."""
    repeated = {t for t, n in Counter(c.title for c in courses).items() if n > 1}
    return [f"{c.title} ({c.course_id})" if c.title in repeated else c.title for c in courses]


def _shown(value: Any) -> str:
    """Numbers as people read them: counts without decimals, rates to four significant digits."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}"
