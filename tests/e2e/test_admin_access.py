"""Who reaches the admin endpoints: the token (checked, throttled, never logged), not whoever
happens to connect from loopback."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from entrypoints.config import ConfigError
from tests.e2e.conftest import make_app

TOKEN = "admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _access_lines(caplog) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.getMessage() for r in caplog.records if r.name == "recsys.access"]


def test_a_secret_sent_in_the_query_string_is_not_written_to_the_access_log(sqlite_url, caplog):
    client = make_app(sqlite_url, admin_token=TOKEN).test_client()
    sent = f"/admin/recommendations/models?token={TOKEN}&Api_Key=k3y&x=1"
    assert client.get(sent).status_code == 401
    assert client.get("/api/v1/courses?limit=5&password=pw%20secret").status_code == 400
    lines = _access_lines(caplog)
    assert lines[0].startswith("GET /admin/recommendations/models?token=***&Api_Key=***&x=1 401")
    assert lines[1].startswith("GET /api/v1/courses?limit=5&password=*** 400")
    assert not any(secret in line for line in lines for secret in (TOKEN, "k3y", "pw"))


def test_a_credential_sent_under_an_auth_like_name_is_not_written_to_the_access_log(
    sqlite_url, caplog
):
    client = make_app(sqlite_url, admin_token=TOKEN).test_client()
    sent = f"?auth={TOKEN}&Authorization=Bearer%20{TOKEN}&credentials=c1&bearer=b1&pwd=p1&q=x"
    assert client.get(f"/healthz{sent}").status_code == 200
    line = _access_lines(caplog)[0]
    assert line.startswith(
        "GET /healthz?auth=***&Authorization=***&credentials=***&bearer=***&pwd=***&q=x 200"
    )
    assert not any(secret in line for secret in (TOKEN, "c1", "b1", "p1"))


def test_a_token_read_from_a_file_with_its_newline_matches_the_bearer_header(sqlite_url):
    client = make_app(sqlite_url, admin_token=TOKEN + "\n").test_client()
    assert client.get("/admin/recommendations/bandit", headers=AUTH).status_code == 200
    assert client.post("/dashboard/login", data={"token": TOKEN}).status_code == 303


def test_a_blank_or_short_token_does_not_start_the_service_in_production(sqlite_url):
    with pytest.raises(ConfigError, match="only whitespace"):
        make_app(sqlite_url, env="prod", admin_token=" ")
    with pytest.raises(ConfigError, match="at least 16 characters"):
        make_app(sqlite_url, env="prod", admin_token="a")


def _frozen_clock(app):  # type: ignore[no-untyped-def]
    now = [datetime.now(UTC)]
    app.extensions["recsys.failed_attempts"].counted.clock = lambda: now[0]
    return now


def test_wrong_tokens_are_logged_without_the_token_and_a_guessing_address_is_held_off(
    sqlite_url, caplog
):
    app = make_app(sqlite_url, admin_token=TOKEN)
    now = _frozen_clock(app)
    client = app.test_client()
    url = "/admin/recommendations/bandit"
    wrong = [client.get(url, headers={"Authorization": f"Bearer guess{i}"}) for i in range(10)]
    assert {r.status_code for r in wrong} == {403}
    held = client.get(url, headers={"Authorization": "Bearer guess10"})
    assert held.status_code == 429 and held.headers["Retry-After"] == "60"
    assert held.json["error"]["code"] == "too_many_failures"
    assert client.get(url, headers=AUTH).status_code == 429  # not even compared
    elsewhere = client.get(url, headers=AUTH, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert elsewhere.status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.name == "recsys.auth"]
    assert len(warnings) == 10
    assert warnings[0] == f"wrong admin token from 127.0.0.1 (GET {url})"
    assert warnings[-1].endswith(": refused for 60 s")
    assert not any("guess" in r.getMessage() for r in caplog.records)
    now[0] += timedelta(seconds=60)
    assert client.get(url, headers=AUTH).status_code == 200


def test_a_refused_client_costs_no_database_read_until_its_time_is_up(database_url):
    """A flood of guesses from a refused client must not take the database's connections from
    the learners' requests."""
    from sqlalchemy import event

    app = make_app(database_url, caught_up=False, admin_token=TOKEN)
    now = _frozen_clock(app)
    client = app.test_client()
    url = "/admin/recommendations/bandit"
    for i in range(10):
        client.get(url, headers={"Authorization": f"Bearer guess{i}"})
    statements: list[str] = []
    engine = app.container.engine()
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    for i in range(5):
        held = client.get(url, headers={"Authorization": f"Bearer again{i}"})
        assert held.status_code == 429
    assert statements == []
    now[0] += timedelta(seconds=60)
    assert client.get(url, headers=AUTH).status_code == 200
    assert statements, "once its time is up the shared count is read again"
    engine.dispose()


def test_the_sign_in_form_holds_off_an_address_that_keeps_guessing(sqlite_url, caplog):
    app = make_app(sqlite_url, admin_token=TOKEN)
    _frozen_clock(app)
    client = app.test_client()
    for i in range(10):
        assert client.post("/dashboard/login", data={"token": f"guess{i}"}).status_code == 401
    held = client.post("/dashboard/login", data={"token": TOKEN})
    assert held.status_code == 429 and held.headers["Retry-After"] == "60"
    assert "Too many wrong tokens from your address: try again in 60 seconds" in held.text
    assert "wrong admin token (sign-in form) from 127.0.0.1 (POST /dashboard/login)" in [
        r.getMessage() for r in caplog.records
    ]


@pytest.mark.parametrize(
    "relayed",
    [
        {"X-Forwarded-For": "203.0.113.5"},
        {"Forwarded": "for=203.0.113.5"},
        {"X-Real-IP": "1.2.3.4"},
    ],
)
def test_without_a_token_a_request_a_proxy_here_relays_gets_no_admin_endpoint(sqlite_url, relayed):
    """Behind a reverse proxy on the same host every request comes from 127.0.0.1."""
    client = make_app(sqlite_url, admin_token="").test_client()
    for method, path in [
        ("GET", "/admin/recommendations/models"),
        ("DELETE", "/api/v1/learners/user7"),
        ("GET", "/dashboard"),
    ]:
        assert client.open(path, method=method).status_code == 200, path
        refused = client.open(path, method=method, headers=relayed)
        assert refused.status_code == 403, path
        assert "no request a proxy relays" in refused.json["error"]["message"]


def test_serve_without_a_token_warns_that_the_admin_endpoints_answer_this_machine(serving, caplog):
    run, binds = serving
    assert run("--host", "0.0.0.0").exit_code == 0 and binds == [f"0.0.0.0:{os.environ['RS_PORT']}"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(w.startswith("RS_ADMIN_TOKEN is unset: the admin endpoints") for w in warnings)
    caplog.clear()
    assert run("--host", "0.0.0.0", RS_ADMIN_TOKEN=TOKEN).exit_code == 0
    assert not any("RS_ADMIN_TOKEN" in r.getMessage() for r in caplog.records)


def test_the_debugging_server_is_refused_in_production(serving, monkeypatch):
    from flask import Flask

    monkeypatch.setattr(Flask, "run", lambda *a, **k: pytest.fail("the debugger started"))
    run, _ = serving
    refused = run("--dev", ENV="prod", RS_ADMIN_TOKEN="sixteen-chars-xy")
    assert refused.exit_code == 2
    assert "--dev runs Flask's debugger" in refused.output and "not with ENV=prod" in refused.output


def test_admin_pages_and_answers_are_neither_framed_nor_cached_and_no_type_is_sniffed(sqlite_url):
    client = make_app(sqlite_url, admin_token=TOKEN).test_client()
    for path, headers in [
        ("/dashboard/login", {}),
        ("/dashboard", AUTH),
        ("/admin/recommendations/models", AUTH),
        ("/admin/recommendations/models", {}),  # its 401 too
    ]:
        response = client.get(path, headers=headers)
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["Cache-Control"] == "no-store", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
    assert client.get("/api/v1/courses").headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/nowhere").headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/recommendations/jobs/%00"),
        ("PUT", "/api/v1/courses/a%00"),
        ("DELETE", "/api/v1/learners/a%00"),
    ],
)
def test_a_caller_without_the_token_is_refused_before_any_id_of_the_path_is_judged(
    sqlite_url, method, path
):
    client = make_app(sqlite_url, admin_token=TOKEN).test_client()
    refused = client.open(path, method=method)
    assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"
    judged = client.open(path, method=method, headers=AUTH)
    assert judged.status_code == 400 and judged.json["error"]["code"] == "validation_error"


@pytest.fixture
def two_hosts(database_url):  # type: ignore[no-untyped-def]
    apps = [make_app(database_url, admin_token=TOKEN) for _ in range(2)]
    yield [app.test_client() for app in apps]
    for app in apps:
        app.container.engine().dispose()


def test_wrong_tokens_sent_to_any_host_count_together(two_hosts):
    """Each host (and each worker) counted its own before: LIMIT guesses a worker per host."""
    host_a, host_b = two_hosts
    url = "/admin/recommendations/bandit"
    for i in range(10):
        host = (host_a, host_b)[i % 2]
        assert host.get(url, headers={"Authorization": f"Bearer guess{i}"}).status_code == 403
    for host in (host_a, host_b):
        held = host.get(url, headers=AUTH)
        assert held.status_code == 429 and held.json["error"]["code"] == "too_many_failures"
    assert host_b.post("/dashboard/login", data={"token": TOKEN}).status_code == 429


def test_the_addresses_of_one_ipv6_network_are_counted_as_one_client(sqlite_url):
    """One subscriber or server gets a whole /64: guessing from a new address each time would
    never be held off."""
    client = make_app(sqlite_url, admin_token=TOKEN).test_client()
    url = "/admin/recommendations/bandit"

    def sent(address: str, headers: dict[str, str]) -> int:
        return client.get(url, headers=headers, environ_base={"REMOTE_ADDR": address}).status_code

    guesses = [
        sent(f"2001:db8:0:7::{i + 1:x}", {"Authorization": f"Bearer guess{i}"}) for i in range(10)
    ]
    assert set(guesses) == {403}
    assert sent("2001:db8:0:7:ffff::1", AUTH) == 429
    assert sent("2001:db8:0:8::1", AUTH) == 200  # the next network is someone else


def test_wrong_tokens_are_still_counted_while_the_database_is_down(sqlite_url):
    """In each process then, as before: the degraded answers stay, and guessing is held off."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{port}/gone", admin_token=TOKEN)
    client = app.test_client()
    url = "/dashboard/login"
    assert {client.post(url, data={"token": f"guess{i}"}).status_code for i in range(10)} == {401}
    assert client.post(url, data={"token": TOKEN}).status_code == 429


@pytest.mark.postgres
def test_wrong_tokens_are_counted_while_the_database_refuses_writes(postgres_url, caplog):
    """A read-only PostgreSQL (a standby) answers reads and refuses writes: the failures are
    then counted in the process, not each a 500 that a guesser could send without end."""
    app = make_app(postgres_url, admin_token=TOKEN)
    engine = app.container.engine()
    engine.dispose()

    @event.listens_for(engine, "connect")
    def read_only(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        dbapi_connection.commit()

    client = app.test_client()
    url = "/admin/recommendations/bandit"
    guesses = [client.get(url, headers={"Authorization": f"Bearer guess{i}"}) for i in range(10)]
    assert [g.status_code for g in guesses] == [403] * 10
    held = client.get(url, headers=AUTH)
    assert held.status_code == 429 and held.headers["Retry-After"]
    warned = [r for r in caplog.records if r.name == "recsys.auth"]
    assert len(warned) == 10 and all("guess" not in r.getMessage() for r in warned)
    engine.dispose()
