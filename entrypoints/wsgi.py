"""Gunicorn running the app factory in each worker (`recsys serve`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from entrypoints import logs, metrics


def _child_exit(_server: Any, worker: Any) -> None:
    metrics.worker_exited(worker.pid)


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
        for key, value in self.options.items():
            self.cfg.set(key, value)
        # The app writes one access line per request, with its latency and request id.
        self.cfg.set("accesslog", None)
        self.cfg.set("logconfig_dict", logs.gunicorn_logconfig(self.log_format, self.log_level))
        self.cfg.set("child_exit", _child_exit)

    def load(self) -> Any:
        if self.factory is not None:
            return self.factory()
        from entrypoints.api import create_app

        return create_app()
