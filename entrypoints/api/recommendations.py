"""Home and similar-course recommendations."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, request

from application.filters import check_filters
from application.hybrid import parse_weights
from application.strategies import StrategyRegistry
from application.use_cases.find_similar import FindSimilar, FindSimilarQuery
from application.use_cases.recommend_home import RecommendHome, RecommendHomeQuery, ServedItem
from domain.model import CourseId, UserId
from entrypoints import metrics
from entrypoints.api.http import query
from entrypoints.api.openapi import documented
from entrypoints.container import Container
from entrypoints.schemas import (
    HomeQuerySchema,
    HomeResponseSchema,
    KQuerySchema,
    SimilarResponseSchema,
)

bp = Blueprint("recommendations", __name__, url_prefix="/api/v1/recommendations")


def _items(items: tuple[ServedItem, ...], explain: bool) -> list[dict[str, Any]]:
    shown = []
    for item in items:
        row: dict[str, Any] = {
            "course_id": item.course.course_id,
            "title": item.course.title,
            "score": round(item.recommendation.score, 6),
            "rank": item.recommendation.rank,
        }
        if explain:
            row["reason"] = item.recommendation.reason
        shown.append(row)
    return shown


@bp.get("/home")
@documented(
    "Personalised home-page recommendations",
    HomeResponseSchema,
    query=HomeQuerySchema,
    errors=(400,),
)
@inject
def home(  # type: ignore[no-untyped-def]
    use_case: RecommendHome = Provide[Container.recommend_home],
    strategies: StrategyRegistry = Provide[Container.strategies],
):
    args = query(HomeQuerySchema)
    if args["category"] is not None or args["level"] is not None:
        check_filters(strategies.snapshot(), args["category"], args["level"])
    weights = (
        parse_weights(args["weights"], strategies.component_names) if args["weights"] else None
    )
    result = use_case.execute(
        RecommendHomeQuery(
            user_id=UserId(args["user_id"]),
            k=args["k"],
            strategy=args["strategy"],
            category=args["category"],
            level=args["level"],
            strict_prerequisites=args["strict_prerequisites"],
            weights=weights,
            record=_shown(),
        )
    )
    body: dict[str, Any] = {"user_id": result.slate.user_id, "strategy": result.slate.strategy}
    if result.slate.fallback_from:
        body["fallback_from"] = result.slate.fallback_from
    if result.slate.selected_by == "bandit":
        body["selected_by"] = "bandit"
    if result.slate.model_version:
        body["model_version"] = result.slate.model_version
    if result.degraded:
        body["degraded"] = True  # no history read, nothing recorded: no id to attribute to
    if result.history_unknown:  # the LMS knows what they took: it can leave it out
        body["history_unknown"] = True
    if result.recorded:  # an id names a stored list: one events may credit
        body["recommendation_id"] = result.slate.recommendation_id
    body["items"] = _items(result.items, args["explain"])
    if _shown():
        metrics.served("home", result.slate.strategy, len(result.items), result.slate.fallback_from)
    return body


@bp.get("/similar/<id:course_id>")
@documented(
    "Courses similar to a course", SimilarResponseSchema, query=KQuerySchema, errors=(400, 404)
)
@inject
def similar(course_id: str, use_case: FindSimilar = Provide[Container.find_similar]):  # type: ignore[no-untyped-def]
    args = query(KQuerySchema)
    result = use_case.execute(FindSimilarQuery(CourseId(course_id), args["k"], args["strategy"]))
    if _shown():
        metrics.served("similar", result.strategy, len(result.items), result.fallback_from)
    body: dict[str, Any] = {"course_id": result.course_id, "strategy": result.strategy}
    if result.fallback_from:
        body["fallback_from"] = result.fallback_from
    if result.model_version:
        body["model_version"] = result.model_version
    return {**body, "items": _items(result.items, args["explain"])}


def _shown() -> bool:
    """Whether a person sees this list: a HEAD (link checkers, monitors) shows nobody one, so it
    is neither recorded nor counted as served."""
    return request.method != "HEAD"
