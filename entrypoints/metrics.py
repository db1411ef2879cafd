"""Every Prometheus metric the service exports, and the small functions that record them.

Web views call the functions below; nothing else names prometheus_client but
entrypoints/stored_metrics.py (what trainers did, read from the database at scrape time). Under gunicorn, `recsys serve` points PROMETHEUS_MULTIPROC_DIR at a fresh folder
before the workers start, so each worker writes its own files and GET /metrics adds them up
(entrypoints/metric_files.py).
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from entrypoints import metric_files

log = logging.getLogger(__name__)
metric_files.reserve_space()

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "recsys_http_requests", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "recsys_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
RECOMMENDATIONS = Counter(
    "recsys_recommendations_served",
    "Recommendation lists served with at least one course, by endpoint and answering strategy",
    ["endpoint", "strategy"],
)
EMPTY = Counter(
    "recsys_recommendations_empty",
    "Requests answered with an empty list (nothing left to recommend), by endpoint and strategy",
    ["endpoint", "strategy"],
)
FALLBACKS = Counter(
    "recsys_recommendation_fallbacks",
    "Lists answered by another strategy than the one asked for",
    ["requested", "served"],
)
EVENTS = Counter(
    "recsys_events",
    "Learner events received, by outcome (accepted, duplicate, ignored)",
    ["outcome"],
)
DATABASE_ERRORS = Counter(
    "recsys_database_errors", "Errors raised by the database driver", ["error"]
)
LIVE_VERSION = Gauge(
    "recsys_live_model_version_timestamp_seconds",
    "Creation time of the artifact version a strategy serves (its version id as a Unix time)",
    ["strategy"],
    multiprocess_mode="livemostrecent",
)
_VERSION_TIME = re.compile(r"^(\d{8}T\d{6})(\d{6})?Z")


#: the process that said its counts are being lost (a forked worker says so again)
_said_lost_in: int | None = None


def _best_effort(record: Callable[..., None]) -> Callable[..., None]:
    """A count that cannot be written is lost, not the request that made it, nor the load of new
    models: the metrics folder may have no space left (a full /tmp). Said once per process."""

    @functools.wraps(record)
    def recording(*args: object, **kwargs: object) -> None:
        global _said_lost_in
        try:
            record(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - any: a count is never worth an answer
            if _said_lost_in != os.getpid():
                _said_lost_in = os.getpid()
                log.warning(
                    "metrics are not being counted (%s: %s); answering as usual",
                    type(error).__name__,
                    error,
                )

    return recording


@_best_effort
def request_answered(method: str, route: str, status: str, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, status).inc()
    HTTP_LATENCY.labels(method, route, status).observe(seconds)


@_best_effort
def served(endpoint: str, strategy: str, courses: int, requested: str | None = None) -> None:
    """One list of `courses` served by `strategy`; `requested` names the strategy it fell back
    from. An empty list shows nothing: it is counted apart, as the analytics do not count it."""
    if not courses:
        EMPTY.labels(endpoint, strategy).inc()
        return
    RECOMMENDATIONS.labels(endpoint, strategy).inc()
    if requested and requested != strategy:
        FALLBACKS.labels(requested, strategy).inc()


@_best_effort
def events_received(accepted: int, duplicates: int, ignored: int) -> None:
    EVENTS.labels("accepted").inc(accepted)
    EVENTS.labels("duplicate").inc(duplicates)
    EVENTS.labels("ignored").inc(ignored)


@_best_effort
def database_error(error: BaseException) -> None:
    DATABASE_ERRORS.labels(type(error).__name__).inc()


@_best_effort
def live_version(strategy: str, version: str | None) -> None:
    """The version a strategy now serves, e.g. "20261128T203912123456Z-ab12cd"."""
    LIVE_VERSION.labels(strategy).set(version_timestamp(version) if version else 0.0)


def version_timestamp(version: str) -> float:
    """An artifact version id as Unix seconds (0 when it carries no time)."""
    found = _VERSION_TIME.match(version)
    if not found:
        return 0.0
    moment = datetime.strptime(found.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return moment.timestamp() + int(found.group(2) or 0) / 1e6


def exposition() -> tuple[bytes, str]:
    """(body, content type) of every metric, added up over the worker processes."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return (
        metric_files.scraped(folder) if folder else generate_latest(REGISTRY)
    ), CONTENT_TYPE_LATEST


def worker_exited(pid: int) -> None:
    """gunicorn's child_exit hook: the dead worker's counts join the dead's, its gauges go; what
    cannot be folded keeps its files, still counted, and a warning says why."""
    _fold_in_folder(
        lambda folder: metric_files.fold_dead(folder, pid), f"the metrics of worker {pid}"
    )


def server_starting() -> None:
    """gunicorn's on_starting hook: the counts a server gone left in the folder are folded, so
    they stay counted but are no longer read file by file at every scrape."""
    _fold_in_folder(metric_files.fold_gone, "the metrics a server gone left")


def _fold_in_folder(fold: Callable[[str], None], what: str) -> None:
    """`fold` on the metrics folder, if there is one. It runs in gunicorn's master, where an
    error would stop the server: any error is a warning, and the files stay, counted."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    try:
        fold(folder)
    except Exception as error:
        log.warning("could not fold %s in %s (%r): its files stay, counted", what, folder, error)


def count_database_errors() -> None:
    """Count every error any SQLAlchemy engine raises (connect, statement, disconnect)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "handle_error", _on_database_error):
        event.listen(Engine, "handle_error", _on_database_error)


def _on_database_error(context) -> None:  # type: ignore[no-untyped-def]
    database_error(context.original_exception)
