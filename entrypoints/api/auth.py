"""Admin authentication: a bearer token (scripts), compared in constant time, or a signed session
cookie set by the dashboard's login form (browsers), naming a session the database keeps; without
a token, in dev, requests made on this machine only (not those a proxy on it relays)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, g, request, session

from application.admin_sessions import SESSION_HOURS, AdminSessions
from entrypoints.api.errors import error_response
from entrypoints.api.http import validate_path_ids
from entrypoints.api.throttle import failed_attempts
from entrypoints.config import loopback

log = logging.getLogger(__name__)

NOT_THIS_MACHINE = (
    "without RS_ADMIN_TOKEN, admin endpoints answer only loopback, and no request a proxy relays"
)


#: headers a reverse proxy adds: behind one on this machine every request comes from loopback,
#: whoever sent it
FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


#: what a browser says (Fetch Metadata, Sec-Fetch-Site) of a request another site's page made;
#: "same-site" is another host of the same domain, so another origin still
FOREIGN = frozenset({"cross-site", "same-site"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def from_another_site() -> bool:
    """Whether a browser says another site's page (or another host's of this domain) sent the
    request. SameSite=Strict keeps the cookie from another site's requests, not from a sibling
    host's, and the sign-in form takes no cookie at all: any page could post wrong tokens from
    the operator's browser until the operator's address is held off. A browser that sends no
    Fetch Metadata (any, to a plain-http address other than localhost; Safari before 16.4,
    Firefox before 90) still names the posting page's origin on a form it posts: one that is no
    host this request was addressed to, or "null" (a sandboxed frame), is foreign. Scripts send
    neither header, and are not refused."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site.lower() in FOREIGN
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    addressed = _addressed()
    if _host(origin.partition("://")[2]) in addressed:
        return False
    log.warning(
        "refused a form whose Origin %r is none of the hosts this request was addressed to (%s); "
        "behind a proxy, pass the browser's Host on (nginx: proxy_set_header Host $http_host)",
        origin,
        ", ".join(sorted(addressed)),
    )
    return True


def _addressed() -> set[str]:
    """The hosts this request was addressed to: its Host, and those a proxy says it relayed it
    for (X-Forwarded-Host, Forwarded's host=). A form another site's page posts sets none of
    them: a page's script that tried would need a CORS preflight this service never allows."""
    named = [request.host, *request.headers.get("X-Forwarded-Host", "").split(",")]
    for element in request.headers.get("Forwarded", "").replace(",", ";").split(";"):
        key, _, value = element.strip().partition("=")
        if key.lower() == "host":
            named.append(value.strip('"'))
    return {_host(name.strip()) for name in named if name.strip()}


def _host(netloc: str) -> str:
    """A host and port as compared: lower case, a default port left out (a browser's Origin
    leaves it out; a Host header may name it). Only the host: behind a proxy that ends TLS this
    service sees http for an https page (no X-Forwarded-Proto is trusted)."""
    netloc = netloc.lower()
    for default in (":80", ":443"):
        netloc = netloc.removesuffix(default)
    return netloc


def _from_this_machine() -> bool:
    """A loopback caller that is not a proxy relaying someone else's request. Under
    RS_TRUSTED_PROXIES the address is the one the proxies report, which may be loopback too: the
    header that reported it is still there, and marks the request as relayed."""
    relayed = any(name in request.headers for name in FORWARDED)
    return loopback(request.remote_addr) and not relayed


def configure_sessions(app: Flask, token: str, secure: bool, sessions: AdminSessions) -> None:
    """Signed, HttpOnly, SameSite=Strict cookies holding a session id that `sessions` keeps in
    the database. The signing key derives from the token, so every worker and host that shares
    the token accepts the same cookie, and changing the token signs every browser out."""
    key = hmac.new(token.encode(), b"recsys session signing key", hashlib.sha256).digest()
    app.secret_key = key if token else None
    app.config.update(
        SESSION_COOKIE_NAME="recsys_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=SESSION_HOURS * 3600,
    )
    app.extensions["recsys.admin_sessions"] = sessions


def _sessions() -> AdminSessions:
    return current_app.extensions["recsys.admin_sessions"]  # type: ignore[no-any-return]


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
    attempts.failed(credential, given)
    return False


def is_admin_token(given: str) -> bool:
    token: str = current_app.config["RS_ADMIN_TOKEN"]
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


def sign_in() -> None:
    """A new session; the one this browser held, if any, is revoked (a copy of its cookie would
    otherwise outlive the sign-out that follows)."""
    _revoke_held()
    session.clear()
    session.permanent = True
    session["sid"] = _sessions().open()


def sign_out() -> None:
    """Revokes the session before the cookie is cleared: a copy of the cookie is refused on every
    host from then on (while the database does not answer, a 503, and the cookie stays)."""
    if not current_app.config["RS_ADMIN_TOKEN"]:  # without one there is no session to clear
        return
    _revoke_held()
    session.clear()


def _revoke_held() -> None:
    """The session the cookie names, if any, ends on every host."""
    if "sid" in session:
        _sessions().revoke(str(session["sid"]))


def signed_in() -> bool:
    """Whether the cookie names a session still open: one primary-key read, once a request, and
    none for a request without the cookie (a script). A write another site's page sent is never
    signed in."""
    if "recsys_signed_in" not in g:
        held = current_app.config["RS_ADMIN_TOKEN"] and session.get("sid")
        if request.method not in SAFE_METHODS and from_another_site():
            held = None  # another page's form does not act with the operator's session
        g.recsys_signed_in = bool(held) and _sessions().active(str(held))
    return bool(g.recsys_signed_in)


def open_without_token() -> bool:
    """No token configured: the admin pages answer this machine only."""
    return not current_app.config["RS_ADMIN_TOKEN"] and _from_this_machine()


def _refusal() -> Any:
    """The answer to a caller who may not use the admin endpoints (None: they may)."""
    token: str = current_app.config["RS_ADMIN_TOKEN"]
    if not token:
        return None if _from_this_machine() else error_response(403, "forbidden", NOT_THIS_MACHINE)
    if signed_in():
        return None
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
    return None


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        refused = _refusal()
        if refused is not None:
            return refused
        validate_path_ids()  # only now: a caller without credentials learns nothing of ids
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
