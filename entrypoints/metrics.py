"""Every Prometheus metric the service exports, and the small functions that record them.

Web views, the job store and the trainer call the functions below; nothing else names
prometheus_client. Under gunicorn, `recsys serve` points PROMETHEUS_MULTIPROC_DIR at a fresh folder
before the workers start, so each worker writes its own files and GET /metrics adds them up.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from time import perf_counter

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FIT_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)

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
    "Recommendation lists served, by endpoint and the strategy that answered",
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
JOBS = Counter("recsys_jobs", "Finished jobs, by kind and outcome", ["kind", "outcome"])
FIT_SECONDS = Histogram(
    "recsys_fit_duration_seconds", "Time to fit one strategy", ["strategy"], buckets=FIT_BUCKETS
)
PUBLISH_SECONDS = Histogram(
    "recsys_publish_duration_seconds",
    "Time to publish one strategy's artifact",
    ["strategy"],
    buckets=LATENCY_BUCKETS + (30.0, 60.0),
)
LIVE_VERSION = Gauge(
    "recsys_live_model_version_timestamp_seconds",
    "Creation time of the artifact version a strategy serves (its version id as a Unix time)",
    ["strategy"],
    multiprocess_mode="mostrecent",
)
_VERSION_TIME = re.compile(r"^(\d{8}T\d{6})(\d{6})?Z")


def served(endpoint: str, strategy: str, requested: str | None = None) -> None:
    """One list served by `strategy`; `requested` names the strategy it fell back from."""
    RECOMMENDATIONS.labels(endpoint, strategy).inc()
    if requested and requested != strategy:
        FALLBACKS.labels(requested, strategy).inc()


def events_received(accepted: int, duplicates: int, ignored: int) -> None:
    EVENTS.labels("accepted").inc(accepted)
    EVENTS.labels("duplicate").inc(duplicates)
    EVENTS.labels("ignored").inc(ignored)


def database_error(error: BaseException) -> None:
    DATABASE_ERRORS.labels(type(error).__name__).inc()


def job_finished(kind: str, outcome: str) -> None:
    """`outcome`: succeeded, failed, or another short word (e.g. rebased, skipped)."""
    JOBS.labels(kind, outcome).inc()


def fit_finished(strategy: str, seconds: float) -> None:
    FIT_SECONDS.labels(strategy).observe(seconds)


def publish_finished(strategy: str, seconds: float) -> None:
    PUBLISH_SECONDS.labels(strategy).observe(seconds)


@contextmanager
def timed_fit(strategy: str) -> Iterator[None]:
    """`with timed_fit("item_cf"): ...` records the fit's duration (also when it fails)."""
    start = perf_counter()
    try:
        yield
    finally:
        fit_finished(strategy, perf_counter() - start)


@contextmanager
def timed_publish(strategy: str) -> Iterator[None]:
    start = perf_counter()
    try:
        yield
    finally:
        publish_finished(strategy, perf_counter() - start)


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
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def worker_exited(pid: int) -> None:
    """gunicorn's child_exit hook: drop the dead worker's live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def count_database_errors() -> None:
    """Count every error any SQLAlchemy engine raises (connect, statement, disconnect)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "handle_error", _on_database_error):
        event.listen(Engine, "handle_error", _on_database_error)


def _on_database_error(context) -> None:  # type: ignore[no-untyped-def]
    database_error(context.original_exception)
