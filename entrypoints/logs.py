"""Log lines as JSON (one object a line) for machines, or a readable line on a terminal.

Every record made while a request is answered carries its request id.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

#: the id of the request being answered in this thread/context ("" outside a request)
request_id: ContextVar[str] = ContextVar("request_id", default="")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", "request_id"?, ...extra fields, "exception"?}"""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "request_id", ""):
            line["request_id"] = record.request_id  # type: ignore[attr-defined]
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class ConsoleFormatter(logging.Formatter):
    """`12:03:04 INFO  recsys.access GET /healthz 200 1.2ms [id]`, extras as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extras = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD)
        rid = getattr(record, "request_id", "")
        text = f"{moment} {record.levelname:<5} {record.name}: {record.getMessage()}"
        text += f" {extras}" if extras else ""
        text += f" [{rid}]" if rid else ""
        # One event, one line: a path or id sent with %0a would otherwise write a line that looks
        # like another event, and %1b would drive the operator's terminal (JSON escapes both).
        text = _CONTROL.sub(lambda found: ascii(found[0])[1:-1], text)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a line is logged (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def formatter(kind: str = "auto", stream: Any = None) -> logging.Formatter:
    """ "json", "console", or "auto": console on a terminal, JSON otherwise."""
    if kind == "auto":
        isatty = getattr(stream or sys.stderr, "isatty", lambda: False)
        kind = "console" if isatty() else "json"
    return ConsoleFormatter() if kind == "console" else JsonFormatter()


#: libraries whose INFO lines say nothing an operator acts on, on every command: alembic's
#: "setup plugin ..." (three a migration) and faiss's loader ("Could not load library with AVX2
#: support", then "Successfully loaded faiss"); their warnings still show
QUIETED = ("alembic.runtime.plugins", "faiss.loader")


def configure(kind: str = "auto", level: str = "INFO") -> None:
    """One handler on the root logger (replacing the one an earlier call installed)."""
    for name in QUIETED:
        logging.getLogger(name).setLevel(logging.WARNING)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "recsys", False)]:
        root.removeHandler(handler)
    handler = _Stderr()
    handler.recsys = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter(kind, sys.stderr))
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)


def gunicorn_logconfig(kind: str, level: str) -> dict[str, Any]:
    """gunicorn's own lines (start, worker exits) in the same format as the app's."""
    chosen = type(formatter(kind, sys.stderr))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"recsys": {"()": f"{chosen.__module__}.{chosen.__name__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "recsys",
                "stream": "ext://sys.stderr",
            }
        },
        # the app's own handler goes on the root logger when a worker builds the app
        "root": {"level": level, "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
        },
    }
