"""The operator dashboard: the same use cases as the JSON API, drawn as server-side SVG."""

from __future__ import annotations

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, render_template

from application.bandit import BanditService
from application.strategies import StrategyRegistry
from application.use_cases.compute_stats import ComputeStats
from entrypoints.api import charts
from entrypoints.api.auth import admin_required
from entrypoints.api.http import query
from entrypoints.api.openapi import documented
from entrypoints.container import Container
from entrypoints.schemas import DaysQuerySchema

bp = Blueprint("dashboard", __name__, template_folder="templates")


@bp.get("/dashboard")
@documented("The operator dashboard (HTML)", query=DaysQuerySchema, errors=(400, 401, 403))
@admin_required
@inject
def dashboard(  # type: ignore[no-untyped-def]
    stats_use_case: ComputeStats = Provide[Container.compute_stats],
    bandit: BanditService = Provide[Container.bandit],
    strategies: StrategyRegistry = Provide[Container.strategies],
):
    stats = stats_use_case.global_stats(query(DaysQuerySchema())["days"])
    snapshot = strategies.snapshot()
    arms = bandit.describe([n for n, r in snapshot.recommenders.items() if r.ready])
    series: dict[str, list[tuple[str, float]]] = {}
    for day, per_strategy in stats.daily_strategy_ctr.items():
        for strategy, ctr in per_strategy.items():
            series.setdefault(strategy, []).append((day, ctr))
    pulled = [a for a in arms["arms"] if a["pulls"]]
    drawn = {
        "ctr": charts.line_chart(
            "daily-ctr", series, "No recommendations were served in this period."
        ),
        "share": charts.bar_chart(
            "strategy-share",
            [(name, {"share": share}) for name, share in stats.strategy_distribution.items()],
            "No recommendations were served in this period.",
        ),
        "bandit": charts.bar_chart(
            "bandit-arms",
            [
                (
                    a["strategy"],
                    {
                        "mean reward": a["mean_reward"],
                        "selection probability": a["selection_probability"],
                    },
                )
                for a in arms["arms"]
            ]
            if pulled
            else [],
            "The bandit has no rewards yet: run recsys update-online-model.",
        ),
        "courses": charts.bar_chart(
            "top-courses",
            [(c.title, {"enrolls": float(c.enrolls)}) for c in stats.most_popular_courses],
            "No enrolments in this period.",
        ),
    }
    models = [
        {"strategy": name, **r.describe()} for name, r in sorted(snapshot.recommenders.items())
    ]
    return render_template(
        "dashboard.html", stats=stats, totals=stats.totals, charts=drawn, bandit=arms, models=models
    )
