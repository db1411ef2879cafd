"""Every error leaves as JSON {"error": {"code", "message", ...}}; nothing leaks a stack trace."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from application.ports import StorageUnavailable
from domain.errors import (
    DomainError,
    InvalidBatch,
    InvalidStrategy,
    StrategyUnavailable,
    UnknownCourse,
)
from entrypoints.schemas import problems

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, **details: Any):  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(details)
    return jsonify({"error": body}), status


class BadRequest(Exception):
    """Raised by views for input marshmallow cannot express (e.g. a body that is not an object)."""

    def __init__(self, message: str, code: str = "bad_request") -> None:
        super().__init__(message)
        self.code = code


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ValidationError)
    def invalid(error: ValidationError):  # type: ignore[no-untyped-def]
        messages = error.messages if isinstance(error.messages, dict) else {}
        batch = next((key for key in ("events", "courses") if key in messages), "")
        found = problems(error.messages, batch)
        first = (
            found[0] if found else {"field": "_schema", "message": "invalid input", "index": None}
        )
        item = {"events": "event", "courses": "course"}.get(batch, "item")
        where = f"{item} {first['index']}: " if first["index"] is not None else ""
        return error_response(
            400, "validation_error", f"{where}{first['field']}: {first['message']}", problems=found
        )

    @app.errorhandler(BadRequest)
    def bad_request(error: BadRequest):  # type: ignore[no-untyped-def]
        return error_response(400, error.code, str(error))

    @app.errorhandler(InvalidBatch)
    def invalid_batch(error: InvalidBatch):  # type: ignore[no-untyped-def]
        return error_response(400, error.code, str(error), problems=error.problems)

    @app.errorhandler(InvalidStrategy)
    def invalid_strategy(error: InvalidStrategy):  # type: ignore[no-untyped-def]
        return error_response(400, error.code, str(error), valid=error.valid)

    @app.errorhandler(UnknownCourse)
    def unknown_course(error: UnknownCourse):  # type: ignore[no-untyped-def]
        return error_response(404, error.code, str(error))

    @app.errorhandler(StrategyUnavailable)
    def unavailable(error: StrategyUnavailable):  # type: ignore[no-untyped-def]
        return error_response(409, error.code, str(error))

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):  # type: ignore[no-untyped-def]
        return error_response(400, error.code, str(error))

    outage = {"logged_at": 0.0}

    @app.errorhandler(StorageUnavailable)
    def storage_unavailable(error: StorageUnavailable):  # type: ignore[no-untyped-def]
        # One line per burst: a down database is one event, not one per request.
        if time.monotonic() - outage["logged_at"] > 30:
            outage["logged_at"] = time.monotonic()
            log.warning("answering 503: %s", error)
        response = error_response(
            503, "storage_unavailable", "the database is unavailable; try again shortly"
        )
        response[0].headers["Retry-After"] = "5"
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        code = (error.name or "error").lower().replace(" ", "_")
        return error_response(error.code or 500, code, error.description or error.name)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error")
        return error_response(500, "internal_error", "the server could not answer this request")
