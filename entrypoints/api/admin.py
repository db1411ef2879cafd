"""Operator endpoints: loaded models, background reindex jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, url_for

from application.bandit import BanditService
from application.ports import JobStore
from application.strategies import StrategyRegistry
from application.use_cases.erase_learner import EraseLearner
from application.use_cases.explain_recommendation import ExplainQuery, ExplainRecommendation
from application.use_cases.start_reindex import ReindexRunning, StartReindex
from domain.model import CourseId, UserId
from entrypoints.api.auth import admin_required
from entrypoints.api.errors import error_response
from entrypoints.api.http import query
from entrypoints.api.openapi import documented
from entrypoints.container import Container
from entrypoints.schemas import BanditSchema, ExplainQuerySchema, JobSchema, ModelsSchema

bp = Blueprint("admin", __name__, url_prefix="/admin/recommendations")
ADMIN_ERRORS = (401, 403)


@bp.get("/models")
@documented("Loaded models and their versions", ModelsSchema, errors=ADMIN_ERRORS)
@admin_required
@inject
def models(  # type: ignore[no-untyped-def]
    strategies: StrategyRegistry = Provide[Container.strategies],
    erasures: EraseLearner = Provide[Container.erase_learner],
):
    snapshot = strategies.snapshot()
    latest = erasures.latest()
    return {
        "latest_erasure": latest.isoformat() if latest else None,
        "models": [
            predates({"strategy": name, **r.describe()}, latest)
            for name, r in sorted(snapshot.recommenders.items())
        ],
    }


def predates(model: dict[str, Any], latest: datetime | None) -> dict[str, Any]:
    """predates_erasure: trained before the latest erasure, so it may still hold an erased
    learner (None when the model does not say when it was trained)."""
    trained = model.get("trained_at")
    model["predates_erasure"] = (
        None if not trained else latest is not None and datetime.fromisoformat(trained) < latest
    )
    return model


@bp.post("/reindex")
@documented(
    "Re-embed the catalog and rebuild the index in the background",
    JobSchema,
    status=202,
    errors=(*ADMIN_ERRORS, 409),
)
@admin_required
@inject
def reindex(use_case: StartReindex = Provide[Container.start_reindex]):  # type: ignore[no-untyped-def]
    try:
        job_id = use_case.execute()
    except ReindexRunning as error:
        return error_response(409, "reindex_running", str(error))
    return {
        "job_id": job_id,
        "status": "running",
        "status_url": url_for("admin.job", job_id=job_id),
    }, 202


@bp.get("/jobs/<job_id>")
@documented("A background job's status", JobSchema, errors=(*ADMIN_ERRORS, 404))
@admin_required
@inject
def job(job_id: str, jobs: JobStore = Provide[Container.jobs]):  # type: ignore[no-untyped-def]
    found = jobs.get(job_id)
    if found is None:
        return error_response(404, "unknown_job", f"no job {job_id!r}")
    return found


@bp.get("/explain")
@documented(
    "Why (not) this course for this learner",
    query=ExplainQuerySchema,
    errors=(400, *ADMIN_ERRORS, 404),
)
@admin_required
@inject
def explain(use_case: ExplainRecommendation = Provide[Container.explain_recommendation]):  # type: ignore[no-untyped-def]
    args = query(ExplainQuerySchema())
    return use_case.execute(
        ExplainQuery(
            UserId(args["user_id"]),
            CourseId(args["course_id"]),
            args["strategy"],
            args["strict_prerequisites"],
        )
    )


@bp.get("/bandit")
@documented(
    "The bandit's arms: pulls, rewards, selection probabilities", BanditSchema, errors=ADMIN_ERRORS
)
@admin_required
@inject
def bandit(  # type: ignore[no-untyped-def]
    service: BanditService = Provide[Container.bandit],
    strategies: StrategyRegistry = Provide[Container.strategies],
):
    snapshot = strategies.snapshot()
    return service.describe([n for n, r in snapshot.recommenders.items() if r.ready])
