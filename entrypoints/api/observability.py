"""Per request: a request id (X-Request-ID in, or a new one; echoed), one access log line with
the latency, the HTTP metrics; and GET /metrics."""

from __future__ import annotations

import logging
import re
import uuid
from time import perf_counter

from flask import Blueprint, Flask, Response, g, request

from entrypoints import logs, metrics

bp = Blueprint("observability", __name__)
access = logging.getLogger("recsys.access")
#: an id a client or proxy sends is kept when it is short and plain, so it cannot forge log lines
ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


@bp.get("/metrics")
def scrape():  # type: ignore[no-untyped-def]
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)


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
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    status = str(response.status_code)
    response.headers["X-Request-ID"] = g.get("request_id", "")
    if route != "/metrics":
        metrics.HTTP_REQUESTS.labels(request.method, route, status).inc()
        metrics.HTTP_LATENCY.labels(request.method, route, status).observe(seconds)
    access.info(
        "%s %s %s %.1fms",
        request.method,
        request.full_path.rstrip("?"),
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
