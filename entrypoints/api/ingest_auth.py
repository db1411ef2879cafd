"""Writes from an LMS: HTTP Basic with the xAPI key/secret (what LRS clients send), or admin."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, request

from entrypoints.api.auth import admin_required
from entrypoints.api.errors import error_response


def _basic_credentials() -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[len("Basic ") :], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    key, _, secret = decoded.partition(":")
    return key, secret


def ingest_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Basic key:secret when RS_XAPI_KEY/RS_XAPI_SECRET are set; otherwise (and for a Bearer
    header) exactly what the admin endpoints accept."""
    admin_view = admin_required(view)

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        credentials = _basic_credentials()
        key: str = current_app.config["RS_XAPI_KEY"]
        secret: str = current_app.config["RS_XAPI_SECRET"]
        if credentials is None or not (key and secret):
            return admin_view(*args, **kwargs)
        if hmac.compare_digest(credentials[0].encode(), key.encode()) & hmac.compare_digest(
            credentials[1].encode(), secret.encode()
        ):
            return view(*args, **kwargs)
        response, status = error_response(403, "forbidden", "the xAPI key or secret is wrong")
        response.headers["WWW-Authenticate"] = 'Basic realm="xAPI"'
        return response, status

    return guarded
