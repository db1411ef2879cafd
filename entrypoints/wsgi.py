"""Gunicorn running the app factory in each worker (`recsys serve`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from gunicorn import util
from gunicorn.app.base import BaseApplication

from entrypoints import logs, metrics


def _child_exit(_server: Any, worker: Any) -> None:
    metrics.worker_exited(worker.pid)


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
        # gunicorn 25.1+ opens a control socket at one path per user ($XDG_RUNTIME_DIR or
        # ~/.gunicorn/gunicorn.ctl): a second server on the machine took it from the first, and
        # `gunicornc` then stopped or resized the wrong one. Signals (HUP, TTIN, TTOU) remain.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)
        # What gunicorn rejects itself (request line or headers too long, malformed HTTP) never
        # reaches Flask; answer it in the API's JSON error shape instead of gunicorn's HTML page.
        util.write_error = write_json_error

    def load(self) -> Any:
        if self.factory is not None:
            return self.factory()
        from entrypoints.api import create_app

        return create_app()


def write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    code = reason.lower().replace(" ", "_") or "bad_request"
    body = json.dumps({"error": {"code": code, "message": mesg or reason}}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)
