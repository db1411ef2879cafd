"""Writes from an LMS: HTTP Basic with the xAPI key/secret (what LRS clients send), or admin."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app

from entrypoints.api.auth import admin_required, credentials, open_without_token, signed_in
from entrypoints.api.errors import error_response
from entrypoints.api.throttle import failed_attempts

CREDENTIALS = (
    "send the xAPI key and secret as HTTP Basic credentials (RS_XAPI_KEY:RS_XAPI_SECRET), "
    "or Authorization: Bearer <RS_ADMIN_TOKEN>"
)


def _basic_credentials() -> tuple[str, str] | None:
    basic = credentials("Basic")
    if basic is None:
        return None
    try:
        decoded = base64.b64decode(basic, validate=True).decode()
    except ValueError:  # not base64 (binascii.Error), not ASCII ("\xff"), not UTF-8
        return ("", "")
    key, _, secret = decoded.partition(":")
    return key, secret


def ingest_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Basic key:secret when RS_XAPI_KEY/RS_XAPI_SECRET are set; otherwise (and for a Bearer
    header) exactly what the admin endpoints accept."""
    admin_view = admin_required(view)

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        basic = _basic_credentials()
        key: str = current_app.config["RS_XAPI_KEY"]
        secret: str = current_app.config["RS_XAPI_SECRET"]
        if not (key and secret):
            return admin_view(*args, **kwargs)
        if basic is None:
            bearer = credentials("Bearer") is not None
            if bearer or signed_in() or open_without_token():
                return admin_view(*args, **kwargs)
            return _challenge(401, "unauthorized", CREDENTIALS)
        attempts = failed_attempts()
        attempts.check()
        if hmac.compare_digest(basic[0].encode(), key.encode()) & hmac.compare_digest(
            basic[1].encode(), secret.encode()
        ):
            return view(*args, **kwargs)
        attempts.failed("xAPI key or secret", repr(tuple(basic)))
        return _challenge(403, "forbidden", "the xAPI key or secret is wrong")

    guarded.credentials = "xapi"  # type: ignore[attr-defined] # for the OpenAPI document
    return guarded


def _challenge(status: int, code: str, message: str):  # type: ignore[no-untyped-def]
    """LRS clients answer a Basic challenge with their key and secret (xAPI 1.0.3, part 3)."""
    response, status = error_response(status, code, message)
    response.headers["WWW-Authenticate"] = 'Basic realm="xAPI"'
    return response, status
