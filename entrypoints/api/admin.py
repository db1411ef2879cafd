"""Operator endpoints: loaded models, background reindex jobs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, url_for

from application.bandit import BanditService
from application.filters import check_filters
from application.hybrid import parse_weights
from application.manifests import fitted_before
from application.ports import FitTurn, Job, LatestErasure, StorageUnavailable, UnitOfWork
from application.strategies import Snapshot, StrategyRegistry
from application.trainer import FORGET_AFTER, statuses
from application.use_cases.erase_learner import EraseLearner
from application.use_cases.explain_recommendation import ExplainQuery, ExplainRecommendation
from application.use_cases.jobs import JobRunning, SubmitJob
from domain.model import CourseId, LearnerHistory, UserId
from entrypoints.admin_schemas import (
    BanditSchema,
    ExplainQuerySchema,
    ExplainSchema,
    JobRunningSchema,
    JobSchema,
    ModelsSchema,
)
from entrypoints.api.auth import admin_required
from entrypoints.api.errors import error_response
from entrypoints.api.http import no_query, query
from entrypoints.api.openapi import documented
from entrypoints.container import Container

bp = Blueprint("admin", __name__, url_prefix="/admin/recommendations")
ADMIN_ERRORS = (400, 401, 403)  # 400: a query parameter it does not take


@bp.get("/models")
@documented("Loaded models and their versions", ModelsSchema, errors=ADMIN_ERRORS)
@admin_required
@inject
def models(  # type: ignore[no-untyped-def]
    strategies: StrategyRegistry = Provide[Container.strategies],
    erasures: EraseLearner = Provide[Container.erase_learner],
    uow_factory: Callable[[], UnitOfWork] = Provide[Container.uow.provider],
    fit_turn: FitTurn = Provide[Container.fit_turn],
):
    no_query()
    snapshot = strategies.snapshot()
    try:
        trainers = trainers_seen(uow_factory, fit_turn)
        latest, degraded = erasures.latest(), False
    except StorageUnavailable:  # the models are in memory: they are shown, the rest is unknown
        latest, trainers, degraded = None, [], True
    tuning = snapshot.tuning
    shown = described(snapshot, latest, strategies.pins)
    if degraded:
        for model in shown:  # not "false": whether a learner was erased since is unknown
            model["predates_erasure"] = None
    body = {
        "latest_erasure": latest.at.isoformat() if latest else None,
        "tuning": {
            "version": tuning["version"],
            "tuned_at": tuning.get("created_at"),
            "data_version": tuning.get("data_version"),
            "seconds": tuning.get("seconds"),
            "budget_seconds": tuning.get("budget_seconds"),
            "budget_exhausted": tuning.get("budget_exhausted"),
            "learners": tuning.get("learners"),
            "trial_learners": tuning.get("trial_learners"),
        }
        if tuning
        else None,
        "models": shown,
        "trainers": trainers,
    }
    if degraded:
        body["degraded"] = True
    return body


#: trainers listed at most (each `trainer --once`, each restart is one more)
TRAINERS_SHOWN = 20


def trainers_seen(
    uow_factory: Callable[[], UnitOfWork], fit_turn: FitTurn
) -> list[dict[str, object]]:
    """The trainers seen in the last FORGET_AFTER, on any host, the latest seen first, each with
    its state in one line."""
    with uow_factory() as uow:  # admitted first: while the database is out, the breaker
        # answers at once, where the turn's own connection would wait for it each time
        free = not fit_turn.held()  # before the trainers are read: one that takes it then is fresh
        now = datetime.now(UTC)
        seen = uow.trainers.recent(now - FORGET_AFTER)[:TRAINERS_SHOWN]
    return [
        {
            "worker": t.worker,
            "started_at": t.started_at.isoformat(),
            "seen_at": t.seen_at.isoformat(),
            "last_cycle": t.last_cycle,
            "status": said,
            "pinned": t.pins,
        }
        for t, said in zip(seen, statuses(seen, free, now), strict=True)
    ]


def described(
    snapshot: Snapshot,
    latest_erasure: LatestErasure | None,
    pins: Mapping[str, Mapping[str, object]] | None = None,
) -> list[dict[str, object]]:
    """Each strategy: what it describes of itself, the published version it answers from
    (`source`: published, or the database's fallback), what failed to load, whether it was
    fitted before the latest erasure (so may still hold an erased learner), the settings that
    version was fitted with, and apart from those what the last search chose and what this
    host's environment pins."""
    shown = []
    for name, recommender in sorted(snapshot.recommenders.items()):
        info: dict[str, object] = {"strategy": name, **recommender.describe()}
        # what answers: the hybrid, blended on this host, by its weights; a published strategy
        # by the settings its version was fitted with (none while nothing is published)
        answering: Mapping[str, object] | None = {"weights": info.get("weights")}
        if name in snapshot.loaded:
            loaded = snapshot.loaded[name]
            info["version"] = loaded.version
            info["trained_at"] = loaded.trained_at
            info["source"] = (
                "published" if loaded.version else "fallback" if recommender.ready else "none"
            )
            info["errors"] = [snapshot.errors[name]] if name in snapshot.errors else []
            info["restores"] = loaded.rollback.get("restores")
            info["held"] = bool(loaded.rollback.get("held"))
            info["predates_erasure"] = (
                None
                if not loaded.trained_at and loaded.erasure_mark is None
                else fitted_before(latest_erasure, loaded.trained_at, loaded.erasure_mark)
            )
            answering = dict(loaded.fitted) if loaded.version else None
            info["fitted_with"] = answering
        searched = _searched(snapshot.tuning, name, answering)
        if searched is not None:
            info["tuning"] = searched
        here = (pins or {}).get(name)
        if here:
            # This host's environment, which a trainer elsewhere may not share: only the
            # hybrid's weights act here (web workers blend it); the others act at a trainer.
            info["pinned_on_this_host"] = dict(here)
        shown.append(info)
    return shown


def _searched(
    tuning: Mapping[str, Any], name: str, answering: Mapping[str, object] | None
) -> dict[str, object] | None:
    """What the last search chose for `name`, the validation figure it measured for exactly
    those settings, what the trainer that searched had pinned, and whether the model answering
    was fitted with them (a pin set since, or a rollback, answers with others: the figure is
    not theirs)."""
    if name not in tuning.get("settings", {}):
        return None
    chosen = dict(tuning["settings"][name])
    if answering is None:
        in_use = False
    elif "weights" in chosen:  # the hybrid blends with its positive weights only
        in_use = {n: w for n, w in chosen["weights"].items() if w > 0} == answering["weights"]
    else:
        in_use = all(answering.get(key) == value for key, value in chosen.items())
    return {
        "settings": chosen,
        "validation": tuning.get("validation", {}).get(name),
        "pinned": tuning.get("pinned", {}).get(name, {}),
        "in_use": in_use,
    }


def _job(job: Job) -> dict[str, object]:
    def when(moment):  # type: ignore[no-untyped-def]
        return moment.isoformat() if moment else None

    shown: dict[str, object] = {
        "job_id": job.job_id,
        "kind": job.kind,
        "status": job.status,
        "status_url": url_for("admin.job", job_id=job.job_id),
        "submitted_at": when(job.submitted_at),
        "started_at": when(job.started_at),
        "finished_at": when(job.finished_at),
        "worker": job.worker,
        "attempts": job.attempts,
        "result": job.result,
    }
    if job.error:
        shown["error"] = job.error
    return shown


@bp.post("/reindex")
@documented(
    "Queue a job that re-embeds the catalog and rebuilds the index (a trainer runs it)",
    JobSchema,
    status=202,
    errors=(*ADMIN_ERRORS, 409),
    error_bodies={409: JobRunningSchema},
)
@admin_required
@inject
def reindex(use_case: SubmitJob = Provide[Container.submit_job]):  # type: ignore[no-untyped-def]
    no_query()
    try:
        job = use_case.execute("reindex")
    except JobRunning as error:  # the job in the way, for an operator on any host to follow
        running = error.job
        return error_response(
            409,
            "reindex_running",
            str(error),
            job_id=running.job_id,
            status=running.status,
            status_url=url_for("admin.job", job_id=running.job_id),
        )
    return _job(job), 202


@bp.get("/jobs/<id:job_id>")
@documented("A background job's status", JobSchema, errors=(*ADMIN_ERRORS, 404))
@admin_required
@inject
def job(job_id: str, uow_factory: Callable[[], UnitOfWork] = Provide[Container.uow.provider]):  # type: ignore[no-untyped-def]
    no_query()
    with uow_factory() as uow:
        found = uow.jobs.get(job_id)
    if found is None:
        return error_response(404, "unknown_job", f"no job {job_id!r}")
    return _job(found)


@bp.get("/explain")
@documented(
    "Why (not) this course for this learner",
    ExplainSchema,
    query=ExplainQuerySchema,
    errors=(*ADMIN_ERRORS, 404),
)
@admin_required
@inject
def explain(  # type: ignore[no-untyped-def]
    use_case: ExplainRecommendation = Provide[Container.explain_recommendation],
    strategies: StrategyRegistry = Provide[Container.strategies],
):
    args = query(ExplainQuerySchema)
    if args["category"] is not None or args["level"] is not None:
        check_filters(strategies.snapshot(), args["category"], args["level"])
    return use_case.execute(
        ExplainQuery(
            UserId(args["user_id"]),
            CourseId(args["course_id"]),
            args["strategy"],
            args["strict_prerequisites"],
            args["k"],
            args["category"],
            args["level"],
            parse_weights(args["weights"], strategies.component_names) if args["weights"] else None,
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
    no_query()
    snapshot = strategies.snapshot()
    newcomer = LearnerHistory(UserId(""))
    return service.describe(
        [n for n, r in snapshot.recommenders.items() if r.ready],
        [n for n, r in snapshot.recommenders.items() if r.answers(newcomer)],
    )
