"""Every error leaves as JSON {"error": {"code", "message", ...}}; nothing leaks a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from application.ports import StorageUnavailable
from domain.errors import (
    DomainError,
    EventConflict,
    InvalidBatch,
    InvalidFilter,
    InvalidStrategy,
    PrerequisiteCycle,
    StrategyUnavailable,
    UnknownCourse,
)
from entrypoints.api.outages import OutageLog
from entrypoints.schemas import problems

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, /, **details: Any):  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(details)
    return jsonify({"error": body}), status


class BadRequest(Exception):
    """Raised by views for input marshmallow cannot express (e.g. a body that is not an object)."""

    status = 400

    def __init__(self, message: str, code: str = "bad_request") -> None:
        super().__init__(message)
        self.code = code


class UnsupportedMediaType(BadRequest):
    status = 415

    def __init__(self, message: str) -> None:
        super().__init__(message, "unsupported_media_type")


class PayloadTooLarge(BadRequest):
    status = 413

    def __init__(self, limit: int | None) -> None:
        super().__init__(too_large_message(limit), "request_entity_too_large")


def too_large_message(limit: int | None) -> str:
    return f"the body is larger than the limit of {limit} bytes (RS_MAX_BODY_BYTES)"


#: Seconds a client should wait before retrying while the database is unavailable.
RETRY_AFTER_SECONDS = 5


def database_unavailable(error: StorageUnavailable):  # type: ignore[no-untyped-def]
    """503 with Retry-After, and the outage log told (one line per outage, not per request)."""
    current_app.extensions["recsys.outages"].failed(str(error))
    response, status = error_response(
        503, "database_unavailable", "the database is unavailable; retry shortly"
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response, status


def register_error_handlers(app: Flask) -> OutageLog:
    """The JSON error answers; returns the outage log, to be told when the database answers."""
    outages = app.extensions["recsys.outages"] = OutageLog(log)

    @app.errorhandler(ValidationError)
    def invalid(error: ValidationError):  # type: ignore[no-untyped-def]
        messages = error.messages if isinstance(error.messages, dict) else {}
        batch = next((key for key in ("events", "courses") if key in messages), "")
        found = problems(error.messages, batch)
        first = found[0] if found else {"field": "", "message": "invalid input", "index": None}
        item = {"events": "event", "courses": "course"}.get(batch, "item")
        where = f"{item} {first['index']}: " if first["index"] is not None else ""
        # a problem of a batch's item as a whole (its field: the batch) is said of the item alone
        whole = first["field"] == "" or (where and first["field"] == batch)
        field = "" if whole else f"{first['field']}: "
        return error_response(
            400, "validation_error", f"{where}{field}{first['message']}", problems=found
        )

    @app.errorhandler(BadRequest)
    def bad_request(error: BadRequest):  # type: ignore[no-untyped-def]
        return error_response(error.status, error.code, str(error))

    app.register_error_handler(StorageUnavailable, database_unavailable)

    @app.errorhandler(InvalidBatch)
    def invalid_batch(error: InvalidBatch):  # type: ignore[no-untyped-def]
        return error_response(400, error.code, str(error), problems=error.problems)

    @app.errorhandler(InvalidStrategy)
    def invalid_strategy(error: InvalidStrategy):  # type: ignore[no-untyped-def]
        return error_response(400, error.code, str(error), valid=error.valid)

    @app.errorhandler(UnknownCourse)
    def unknown_course(error: UnknownCourse):  # type: ignore[no-untyped-def]
        return error_response(404, error.code, str(error))

    @app.errorhandler(PrerequisiteCycle)
    def prerequisite_cycle(error: PrerequisiteCycle):  # type: ignore[no-untyped-def]
        return error_response(409, error.code, str(error), cycle=error.cycle)

    @app.errorhandler(InvalidFilter)
    def invalid_filter(error: InvalidFilter):  # type: ignore[no-untyped-def]
        return error_response(400, error.code, str(error), field=error.field, valid=error.valid)

    @app.errorhandler(EventConflict)
    def event_conflict(error: EventConflict):  # type: ignore[no-untyped-def]
        within = {"indexes": error.indexes} if error.indexes else {}
        return error_response(
            409, error.code, str(error), event_id=error.event_id, fields=error.differences, **within
        )

    @app.errorhandler(StrategyUnavailable)
    def unavailable(error: StrategyUnavailable):  # type: ignore[no-untyped-def]
        return error_response(409, error.code, str(error))

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):  # type: ignore[no-untyped-def]
        return error_response(400, error.code, str(error))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        code = (error.name or "error").lower().replace(" ", "_")
        if error.code == 413:
            limit = current_app.config["MAX_CONTENT_LENGTH"]
            return error_response(413, "request_entity_too_large", too_large_message(limit))
        response, status = error_response(error.code or 500, code, error.description or error.name)
        # What HTTP asks of the status, e.g. the Allow header of a 405; the body stays JSON.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(Exception)
    def unexpected(error: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error")
        return error_response(500, "internal_error", "the server could not answer this request")

    return outages
