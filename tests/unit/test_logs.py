"""Log lines: JSON off a terminal (with the request id), readable text on one."""

from __future__ import annotations

import io
import json
import logging

from entrypoints import logs


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def record(message: str = "GET /healthz 200") -> logging.LogRecord:
    made = logging.makeLogRecord(
        {"name": "recsys.access", "levelname": "INFO", "msg": message, "duration_ms": 1.5}
    )
    logs.RequestIdFilter().filter(made)
    return made


def test_off_a_terminal_each_line_is_one_json_object_with_the_request_id():
    token = logs.request_id.set("req-7")
    try:
        line = logs.formatter("auto", io.StringIO()).format(record())
    finally:
        logs.request_id.reset(token)
    parsed = json.loads(line)
    assert parsed["request_id"] == "req-7" and parsed["duration_ms"] == 1.5
    assert (parsed["logger"], parsed["message"]) == ("recsys.access", "GET /healthz 200")


def test_on_a_terminal_lines_are_readable_text():
    line = logs.formatter("auto", Terminal()).format(record())
    assert "INFO  recsys.access: GET /healthz 200 duration_ms=1.5" in line
    assert not line.startswith("{")


def test_on_a_terminal_a_path_cannot_forge_a_line_or_drive_the_terminal():
    """GET /x%0a12:00:00 INFO ... decoded: one event stays one line, escapes stay text."""
    forged = "GET /x\n12:00:00 INFO  recsys.access: GET /admin 200\r \x1b[2J\u2028 404"
    line = logs.formatter("console").format(record(forged))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\u2028" not in line
    assert "GET /x\\n12:00:00 INFO  recsys.access: GET /admin 200\\r \\x1b[2J\\u2028 404" in line
    assert "café" in logs.formatter("console").format(record("GET /café"))  # text is text
