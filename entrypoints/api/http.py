"""Small helpers the views share: JSON bodies and query strings through marshmallow."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema

from entrypoints.api.errors import BadRequest


def json_body() -> Any:
    body = request.get_json(silent=True)
    if body is None:
        raise BadRequest("the body must be JSON (Content-Type: application/json)", "invalid_json")
    return body


def query(schema: Schema) -> dict[str, Any]:
    return schema.load(request.args.to_dict())  # type: ignore[return-value]
