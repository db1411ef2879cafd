"""Analytics over HTTP: a learner's stats and the platform's."""

from __future__ import annotations

from dependency_injector.wiring import Provide, inject
from flask import Blueprint

from application.use_cases.compute_stats import ComputeStats
from domain.model import UserId
from entrypoints.api.http import no_query, query
from entrypoints.api.openapi import documented
from entrypoints.container import Container
from entrypoints.stats_schemas import DaysQuerySchema, GlobalStatsSchema, UserStatsSchema

bp = Blueprint("analytics", __name__, url_prefix="/api/v1/recommendations/stats")


@bp.get("/user/<id:user_id>")
@documented(
    "A learner's recommendations, impressions, clicks, enrolments and CTR",
    UserStatsSchema,
    errors=(400,),
)
@inject
def user_stats(user_id: str, use_case: ComputeStats = Provide[Container.compute_stats]):  # type: ignore[no-untyped-def]
    no_query()
    stats = use_case.user(UserId(user_id))
    return {
        "user_id": stats.user_id,
        "num_recommendations": stats.num_recommendations,
        "num_impressions": stats.num_impressions,
        "num_clicks": stats.num_clicks,
        "num_enrolls": stats.num_enrolls,
        "ctr": round(stats.ctr, 6),
        "top_categories": [{"category": c, "count": n} for c, n in stats.top_categories],
    }


@bp.get("/global")
@documented(
    "Platform CTR, popular courses, strategy shares and daily figures",
    GlobalStatsSchema,
    query=DaysQuerySchema,
    errors=(400,),
)
@inject
def global_stats(use_case: ComputeStats = Provide[Container.compute_stats]):  # type: ignore[no-untyped-def]
    stats = use_case.global_stats(query(DaysQuerySchema)["days"])
    return {
        "days": stats.days,
        "ctr": stats.ctr,
        "most_popular_courses": [
            {"course_id": c.course_id, "title": c.title, "enrolls": c.enrolls, "clicks": c.clicks}
            for c in stats.most_popular_courses
        ],
        "strategy_distribution": stats.strategy_distribution,
        "strategy_ctr": stats.strategy_ctr,
        "daily": [
            {
                "date": d.date,
                "recommendations": d.recommendations,
                "impressions": d.impressions,
                "clicks": d.clicks,
                "enrolls": d.enrolls,
                "ctr": d.ctr,
            }
            for d in stats.daily
        ],
    }
