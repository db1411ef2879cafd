"""Through the real gunicorn server: its own rejections are JSON, and the app's checks come first."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.processes import PATIENCE, stopped


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[int]:  # type: ignore[no-untyped-def]
    from adapters.sqlalchemy.migrate import upgrade

    folder = tmp_path_factory.mktemp("gunicorn")
    url = f"sqlite:///{folder / 'recsys.db'}"
    upgrade(url)
    port = _free_port()
    env = {
        **os.environ,
        "RS_DATABASE_URL": url,
        "RS_MODELS_DIR": str(folder / "models"),
        "RS_MAX_BODY_BYTES": "100000",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            try:
                if _send(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("gunicorn did not start")
        yield port
    finally:
        stopped(process)


def _send(port: int, raw: bytes) -> tuple[int, str, dict]:  # type: ignore[type-arg]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        try:
            conn.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before it has read everything
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
            if b"\r\n\r\n" in reply:
                head, _, body = reply.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    None,
                )
                if length is not None and len(body) >= length:
                    break
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers.get("Content-Type", ""), json.loads(body)


def test_a_long_query_string_reaches_the_app_which_names_the_field(server):
    status, _, body = _send(
        server,
        f"GET /api/v1/recommendations/home?user_id={'u' * 5000} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    )
    assert status == 400 and body["error"]["problems"][0]["field"] == "user_id"


def test_a_request_line_beyond_gunicorns_limit_is_a_json_414(server):
    status, content_type, body = _send(
        server, f"GET /{'a' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    )
    assert status == 414 and content_type == "application/json"
    assert body["error"]["code"] == "uri_too_long"


def test_a_huge_header_is_a_json_431(server):
    status, content_type, body = _send(
        server, f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {'b' * 20000}\r\n\r\n".encode()
    )
    assert status == 431 and content_type == "application/json" and body["error"]["message"]


def test_a_malformed_request_is_a_json_400(server):
    status, content_type, body = _send(server, b"NONSENSE\r\n\r\n")
    assert status == 400 and content_type == "application/json" and body["error"]["code"]


def test_a_chunked_body_over_the_limit_is_a_413_naming_the_limit(server):
    chunk = b"[" + b"1," * 50_000 + b"1]"
    raw = (
        b"POST /api/v1/interactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + f"{len(chunk):x}\r\n".encode()
        + chunk
        + b"\r\n0\r\n\r\n"
    )
    status, _, body = _send(server, raw)
    assert status == 413 and "100000 bytes" in body["error"]["message"]


@pytest.mark.parametrize(
    "chunks",
    [b"zz\r\n{}\r\n0\r\n\r\n", b"2\r\n{}XX0\r\n\r\n"],
    ids=["chunk size that is no number", "chunk without its line end"],
)
def test_a_malformed_chunked_body_is_a_json_400_not_a_server_error(server, chunks):
    """gunicorn finds a chunked body malformed only as the app reads it: the client's mistake,
    which answered 500 and logged a traceback as if the service had failed."""
    raw = (
        b"POST /api/v1/interactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunks
    )
    status, content_type, body = _send(server, raw)
    assert status == 400 and content_type == "application/json", (status, body)
    assert "chunked" in body["error"]["message"]


def test_gunicorns_own_rejections_say_nosniff_as_every_response_does():
    from entrypoints.wsgi import write_json_error

    ours, theirs = socket.socketpair()
    with ours, theirs:
        write_json_error(ours, 414, "URI Too Long", "Request Line is too large (9031 > 8190)")
        head = theirs.recv(65536).partition(b"\r\n\r\n")[0].decode("latin-1")
    assert "X-Content-Type-Options: nosniff" in head.split("\r\n")
