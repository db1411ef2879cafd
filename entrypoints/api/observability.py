"""Per request: a request id (X-Request-ID in, or a new one; echoed), one access log line with
the latency, the HTTP metrics; and GET /metrics."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from time import perf_counter
from typing import Any
from urllib.parse import unquote_plus

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.serving import WSGIRequestHandler

from application.ports import StorageUnavailable, UnitOfWork
from application.trainer import FORGET_AFTER
from entrypoints import logs, metrics
from entrypoints.container import Container
from entrypoints.stored_metrics import TRAINERS_REPORTED, stored_exposition

bp = Blueprint("observability", __name__)
access = logging.getLogger("recsys.access")
log = logging.getLogger(__name__)
#: an id a client or proxy sends is kept when it is short and plain, so it cannot forge log lines
ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
#: query parameters whose value the access log does not keep (api_key, access_token, ... too)
SECRET_PARAMETER = re.compile(r"token|key|secret|passw|pwd|auth|credential|bearer", re.IGNORECASE)
#: the methods the metrics name; gunicorn passes any upper-case token ("AAAB", "AAAC", ...), and
#: each would otherwise add a counter and a histogram to every scrape, unbounded
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@bp.get("/metrics")
@inject
def scrape(  # type: ignore[no-untyped-def]
    uow_factory: Callable[[], UnitOfWork] = Provide[Container.uow.provider],
):
    body, content_type = metrics.exposition()
    return Response(body + _stored(uow_factory), content_type=content_type)


def _stored(uow_factory: Callable[[], UnitOfWork]) -> bytes:
    """The trainers' and jobs' metrics, from two small indexed queries; none while the database
    does not answer (recsys_database_errors_total and /readyz say so), the rest still served."""
    try:
        with uow_factory() as uow:
            since = datetime.now(UTC) - FORGET_AFTER
            trainers = uow.trainers.recent(since, limit=TRAINERS_REPORTED)
            active = uow.jobs.active()
    except StorageUnavailable:
        return b""
    except Exception:  # noqa: BLE001 - e.g. a schema not upgraded yet: the rest still answers
        log.exception("could not read the trainers' metrics from the database")
        return b""
    return stored_exposition(trainers, active)


scrape.openapi = {  # type: ignore[attr-defined]
    "summary": "Prometheus metrics, added up over every worker process",
    "responses": {
        "200": {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
}


def _start() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if ACCEPTED_ID.match(given) else uuid.uuid4().hex
    g.request_token = logs.request_id.set(g.request_id)
    g.request_started = perf_counter()


def _finish(response: Response) -> Response:
    seconds = perf_counter() - g.get("request_started", perf_counter())
    route = _route()
    status = str(response.status_code)
    response.headers["X-Request-ID"] = g.get("request_id", "")
    if route != "/metrics":
        method = request.method if request.method in KNOWN_METHODS else "other"
        metrics.request_answered(method, route, status, seconds)
    access.info(
        "%s %s %s %.1fms",
        request.method,
        _redacted(request.full_path.rstrip("?")),
        status,
        seconds * 1000,
        extra={
            "method": request.method,
            "path": request.path,
            "route": route,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 3),
            "remote_addr": request.remote_addr,
        },
    )
    return response


def _route() -> str:
    """The rule the request matched; for a method its path does not take (a 405), the rule the
    path matches with a method it takes; "unmatched" for a path no rule takes (a 404)."""
    if request.url_rule is not None:
        return request.url_rule.rule
    refused = request.routing_exception
    if isinstance(refused, MethodNotAllowed) and refused.valid_methods:
        try:
            adapter = current_app.url_map.bind_to_environ(request.environ)
            rule, _ = adapter.match(method=sorted(refused.valid_methods)[0], return_rule=True)
        except HTTPException:
            return "unmatched"
        return rule.rule
    return "unmatched"


def _redacted(path: str) -> str:
    """The path as the log may keep it: a query parameter that may hold a secret (a token sent
    as ?token=, which is refused, but would otherwise sit in every log reader's view) is ***."""
    route, mark, query = path.partition("?")
    kept = [
        f"{name}=***" if SECRET_PARAMETER.search(unquote_plus(name)) else f"{name}{eq}{value}"
        for name, eq, value in (part.partition("=") for part in query.split("&"))
    ]
    return route + mark + "&".join(kept) if mark else route


#: a name=value pair of a query string, as it appears in a line werkzeug writes: anywhere in
#: it, as a space in the query (what makes werkzeug refuse the request) splits the query in
#: two; the value up to a space or &, a quote closing the line included (it may be the value's)
_PARAMETER = re.compile(r"""([^\s?&='"]+)=[^\s&]*""")


class DevRequestHandler(WSGIRequestHandler):
    """Werkzeug's development server (`recsys serve --dev`) logging as the service does. Its own
    line per request kept the query string as sent (?token=..., ?api_key=...): the app's access
    line, masked, is the only one, as under gunicorn. The line werkzeug still writes for a
    request it refuses itself (a malformed request line, which quotes it) is masked too."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_error(self, format: str, *args: Any) -> None:
        masked = [_PARAMETER.sub(_masked, a) if isinstance(a, str) else a for a in args]
        super().log_error(format, *masked)


def _masked(pair: re.Match[str]) -> str:
    return f"{pair[1]}=***" if SECRET_PARAMETER.search(unquote_plus(pair[1])) else pair[0]


def _reset(_: BaseException | None) -> None:
    token = g.pop("request_token", None)
    if token is not None:
        logs.request_id.reset(token)


def install(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_reset)
    app.register_blueprint(bp)
    metrics.count_database_errors()
