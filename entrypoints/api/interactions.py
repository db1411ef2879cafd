"""Learner events: one object or a batch, all or nothing, idempotent on event_id; an erased
learner's replayed events are ignored and counted."""

from __future__ import annotations

from dependency_injector.wiring import Provide, inject
from flask import Blueprint

from application.use_cases.log_interactions import LogInteractions
from domain.errors import InvalidEvents
from entrypoints import metrics
from entrypoints.api.errors import BadRequest
from entrypoints.api.http import json_body, no_query
from entrypoints.api.openapi import documented
from entrypoints.container import Container
from entrypoints.schemas import EventBatchSchema, EventSchema, LogResultSchema

bp = Blueprint("interactions", __name__, url_prefix="/api/v1")


@bp.post("/interactions")
@documented(
    "Log learner events", LogResultSchema, body=EventBatchSchema, errors=(400, 409, 413, 415)
)
@inject
def log_events(use_case: LogInteractions = Provide[Container.log_interactions]):  # type: ignore[no-untyped-def]
    no_query()
    body = json_body()
    if not isinstance(body, dict):
        raise BadRequest('the body must be one event object or {"events": [...]}')
    if "events" in body:
        result = use_case.execute(EventBatchSchema().load(body)["events"])
    else:
        try:
            result = use_case.execute([EventSchema().load(body)])
        except InvalidEvents as error:
            raise error.of_one() from None
    metrics.events_received(result.accepted, result.duplicates, sum(result.ignored.values()))
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "ignored": dict(result.ignored),
    }
