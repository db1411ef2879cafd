"""Admin authentication: a bearer token compared in constant time, or loopback only in dev."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, request

from entrypoints.api.errors import error_response


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        token: str = current_app.config["RS_ADMIN_TOKEN"]
        if not token:
            if _loopback(request.remote_addr):
                return view(*args, **kwargs)
            return error_response(
                403, "forbidden", "without RS_ADMIN_TOKEN, admin endpoints answer only loopback"
            )
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            response, status = error_response(
                401, "unauthorized", "send Authorization: Bearer <RS_ADMIN_TOKEN>"
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            return response, status
        if not hmac.compare_digest(header[len("Bearer ") :].encode(), token.encode()):
            return error_response(403, "forbidden", "the admin token is wrong")
        return view(*args, **kwargs)

    return guarded
