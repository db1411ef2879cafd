"""Admin authentication: a bearer token (scripts) or a signed session cookie set by the dashboard's
login form (browsers), both compared in constant time; without a token, in dev, requests made on
this machine only (not those a proxy on it relays)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, request, session

from entrypoints.api.errors import error_response
from entrypoints.api.throttle import failed_attempts
from entrypoints.config import loopback

SESSION_HOURS = 12
NOT_THIS_MACHINE = (
    "without RS_ADMIN_TOKEN, admin endpoints answer only loopback, and no request a proxy relays"
)


#: headers a reverse proxy adds: behind one on this machine every request comes from loopback,
#: whoever sent it
FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def _from_this_machine() -> bool:
    """A loopback caller that is not a proxy relaying someone else's request."""
    relayed = any(name in request.headers for name in FORWARDED)
    return loopback(request.remote_addr) and not relayed


def _fingerprint(token: str) -> str:
    """What the cookie holds: changing RS_ADMIN_TOKEN signs every browser out."""
    return hmac.new(token.encode(), b"recsys dashboard session", hashlib.sha256).hexdigest()


def configure_sessions(app: Flask, token: str, secure: bool) -> None:
    """Signed, HttpOnly, SameSite=Strict cookies; the key derives from the token, so every worker
    and host that shares the token accepts the same cookie."""
    key = hmac.new(token.encode(), b"recsys session signing key", hashlib.sha256).digest()
    app.secret_key = key if token else None
    app.config.update(
        SESSION_COOKIE_NAME="recsys_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=SESSION_HOURS * 3600,
    )


def credentials(scheme: str) -> str | None:
    """What follows `scheme` in the Authorization header, or None for another scheme or none.
    Schemes are case-insensitive (RFC 7235): "bearer" and "BASIC" are what they say."""
    given, _, rest = request.headers.get("Authorization", "").partition(" ")
    return rest.lstrip(" ") if given.lower() == scheme.lower() else None


def token_matches(given: str, credential: str = "admin token") -> bool:
    """Whether `given` is the admin token. A wrong one is logged and counts against the caller's
    address, which after too many gets 429s (TooManyFailures) without any being compared."""
    if not current_app.config["RS_ADMIN_TOKEN"]:
        return False
    attempts = failed_attempts()
    attempts.check()
    if is_admin_token(given):
        return True
    attempts.failed(credential)
    return False


def is_admin_token(given: str) -> bool:
    token: str = current_app.config["RS_ADMIN_TOKEN"]
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


def sign_in() -> None:
    session.clear()
    session.permanent = True
    session["admin"] = _fingerprint(current_app.config["RS_ADMIN_TOKEN"])


def sign_out() -> None:
    if current_app.config["RS_ADMIN_TOKEN"]:  # without one there is no session to clear
        session.clear()


def signed_in() -> bool:
    token: str = current_app.config["RS_ADMIN_TOKEN"]
    held = session.get("admin", "") if token else ""
    return bool(held) and hmac.compare_digest(str(held), _fingerprint(token))


def open_without_token() -> bool:
    """No token configured: the admin pages answer this machine only."""
    return not current_app.config["RS_ADMIN_TOKEN"] and _from_this_machine()


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        token: str = current_app.config["RS_ADMIN_TOKEN"]
        if not token:
            if _from_this_machine():
                return view(*args, **kwargs)
            return error_response(403, "forbidden", NOT_THIS_MACHINE)
        if signed_in():
            return view(*args, **kwargs)
        bearer = credentials("Bearer")
        if bearer is None:
            response, status = error_response(
                401,
                "unauthorized",
                "send Authorization: Bearer <RS_ADMIN_TOKEN>, or sign in at /dashboard/login",
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            return response, status
        if not token_matches(bearer):
            return error_response(403, "forbidden", "the admin token is wrong")
        return view(*args, **kwargs)

    guarded.credentials = "admin"  # type: ignore[attr-defined] # for the OpenAPI document
    return guarded


def protect(response: Response) -> Response:
    """After every request: no browser guesses a type the response does not say (nosniff); the
    dashboard and admin answers are never framed by another site (clickjacking its sign-out or
    buttons) nor kept by a cache the next person to use the browser or proxy reads."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    view = current_app.view_functions.get(request.endpoint or "")
    if request.blueprint == "dashboard" or getattr(view, "credentials", None) == "admin":
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cache-Control"] = "no-store"
    return response
