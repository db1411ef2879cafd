"""Gunicorn running the app factory in each worker (`recsys serve`)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from gunicorn import util
from gunicorn.app.base import BaseApplication

from application.ports import StorageUnavailable
from entrypoints import logs, metrics

log = logging.getLogger(__name__)


def _child_exit(_server: Any, worker: Any) -> None:
    metrics.worker_exited(worker.pid)


def _on_starting(_server: Any) -> None:
    metrics.server_starting()


#: gunicorn's largest request line; above its default (4094) so that a long query string reaches
#: the app, which names the parameter at fault instead of answering a bare 414.
REQUEST_LINE_LIMIT = 8190
HEADER_FIELD_LIMIT = 16384


class GunicornServer(BaseApplication):  # type: ignore[misc]
    def __init__(
        self,
        options: dict[str, Any],
        log_format: str = "auto",
        log_level: str = "INFO",
        factory: Callable[[], Any] | None = None,
    ):
        self.options = options
        self.log_format, self.log_level = log_format, log_level
        #: the app each worker builds (default: the service; the benchmark's bare baseline)
        self.factory = factory
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("limit_request_line", REQUEST_LINE_LIMIT)
        self.cfg.set("limit_request_field_size", HEADER_FIELD_LIMIT)
        for key, value in self.options.items():
            self.cfg.set(key, value)
        # The app writes one access line per request, with its latency and request id.
        self.cfg.set("accesslog", None)
        self.cfg.set("logconfig_dict", logs.gunicorn_logconfig(self.log_format, self.log_level))
        self.cfg.set("child_exit", _child_exit)
        self.cfg.set("on_starting", _on_starting)
        # gunicorn 25.1+ opens a control socket at one path per user ($XDG_RUNTIME_DIR or
        # ~/.gunicorn/gunicorn.ctl): a second server on the machine took it from the first, and
        # `gunicornc` then stopped or resized the wrong one. Signals (HUP, TTIN, TTOU) remain.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)
        # What gunicorn rejects itself (request line or headers too long, malformed HTTP) never
        # reaches Flask; answer it in the API's JSON error shape instead of gunicorn's HTML page.
        util.write_error = write_json_error

    def load(self) -> Any:
        """The worker's app, which starts loading the published models at once (in a thread:
        the worker answers meanwhile, and a request that needs them waits for that load)."""
        if self.factory is not None:
            return self.factory()
        from entrypoints.api import create_app

        app = create_app()
        threading.Thread(target=_warm, args=(app,), name="warm-up", daemon=True).start()
        return app


def _warm(app: Any) -> None:
    """Load the published models before the first request: one that comes after the load does
    not wait for it, and a worker that served nothing before the database went away still
    answers from them."""
    try:
        app.container.strategies().snapshot()
    except Exception as error:  # noqa: BLE001 - the first request tries again
        # the driver's reason as the other outage lines give it; anything else with its type
        reason = error if isinstance(error, StorageUnavailable) else repr(error)
        log.warning(
            "could not load the published models at start (%s); the first request tries again",
            reason,
        )


def write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    code = reason.lower().replace(" ", "_") or "bad_request"
    body = json.dumps({"error": {"code": code, "message": mesg or reason}}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "X-Content-Type-Options: nosniff\r\n\r\n"  # as the app's own answers say (auth.py)
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)
