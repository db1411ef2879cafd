"""The optional API key of /api/v1 (RS_API_KEY): with one set, the LMS backend sends it on every
request; without, the API answers anyone who reaches it, as it always did."""

from __future__ import annotations

import hmac

from flask import Flask, current_app, request

from entrypoints.api.auth import credentials, is_admin_token, signed_in
from entrypoints.api.errors import error_response
from entrypoints.api.throttle import failed_attempts

#: the blueprints behind the key; xAPI takes its LRS credentials, and health, metrics and the
#: OpenAPI document answer anyone
GATED = frozenset({"recommendations", "analytics", "interactions", "courses", "learners"})
HEADER = "X-API-Key"


def _is_key(given: str | None) -> bool:
    found = False
    for key in current_app.config["RS_API_KEYS"]:  # every key compared: no timing tells which
        found |= given is not None and hmac.compare_digest(given.encode(), key.encode())
    return found


def require_api_key():  # type: ignore[no-untyped-def]
    """Before each request: an API key (X-API-Key or Authorization: Bearer), or the admin
    token (or the dashboard's session), when RS_API_KEY is set; otherwise, and outside GATED,
    nothing to check."""
    if not current_app.config["RS_API_KEYS"] or request.blueprint not in GATED or signed_in():
        return None
    # blank is not sent: a node whose key variable is empty is told what to send, and its
    # requests count as no guess
    sent = request.headers.get(HEADER, "").strip() or None
    bearer = (credentials("Bearer") or "").strip() or None
    if sent is None and bearer is None:
        response, status = error_response(
            401,
            "unauthorized",
            f"send the API key as {HEADER}: <key> or Authorization: Bearer <key>",
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return response, status
    attempts = failed_attempts()
    attempts.check()
    if _is_key(sent) or _is_key(bearer) or (bearer is not None and is_admin_token(bearer)):
        return None
    attempts.failed("API key", repr((sent, bearer)))  # None and "None" told apart
    return error_response(403, "forbidden", "the API key is wrong")


def install(app: Flask, keys: str) -> None:
    app.config["RS_API_KEYS"] = tuple(k for k in keys.split(",") if k)
    app.before_request(require_api_key)
