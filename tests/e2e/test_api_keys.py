"""RS_API_KEY: with keys set, /api/v1 answers only the course platform's backend that sends one;
without, it answers anyone, as before."""

from __future__ import annotations

import base64

import pytest

from entrypoints.schemas import course_json
from tests.conftest import CATALOG
from tests.e2e.conftest import make_app

OLD, NEW = "old-key-0123456789", "new-key-9876543210"
TOKEN = "admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
HOME = "/api/v1/recommendations/home?user_id=user7"
STATS = "/api/v1/recommendations/stats/user/user7"
EVENT = {"user_id": "user7", "course_id": "course_sql_basic", "event_type": "complete"}


@pytest.fixture
def keyed(sqlite_url):  # type: ignore[no-untyped-def]
    """A service with two keys (one being rotated out) and an admin token, its catalog loaded."""
    app = make_app(sqlite_url, api_key=f" {OLD}, {NEW}\n", admin_token=TOKEN)
    client = app.test_client()
    courses = {"courses": [course_json(c) for c in CATALOG]}
    assert client.post("/api/v1/courses", json=courses, headers=ADMIN).status_code == 200
    yield client
    app.container.engine().dispose()


def test_without_a_key_nothing_is_read_written_or_served(keyed):
    for method, path, body in [
        ("GET", HOME, None),
        ("GET", STATS, None),
        ("POST", "/api/v1/interactions", EVENT),
        ("GET", "/api/v1/recommendations/similar/course_sql_basic", None),
        ("GET", "/api/v1/recommendations/stats/global", None),
        ("GET", "/api/v1/courses", None),
    ]:
        refused = keyed.open(path, method=method, json=body)
        assert refused.status_code == 401, path
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="api"'
        assert "X-API-Key" in refused.json["error"]["message"]
    stats = keyed.get(STATS, headers={"X-API-Key": NEW}).json
    assert stats["num_recommendations"] == stats["num_clicks"] == 0  # no slate was recorded
    assert keyed.get(STATS, headers={"X-API-Key": NEW}).json == stats


def test_any_configured_key_or_the_admin_token_is_taken_in_either_header(keyed):
    for headers in (
        {"X-API-Key": OLD},
        {"X-API-Key": NEW},
        {"Authorization": f"Bearer {OLD}"},
        {"Authorization": f"bearer {NEW}"},
        ADMIN,
    ):
        assert keyed.get(HOME, headers=headers).status_code == 200, headers
    logged = keyed.post("/api/v1/interactions", json=EVENT, headers={"X-API-Key": OLD})
    assert logged.status_code == 200 and logged.json["accepted"] == 1


def test_an_empty_key_is_a_missing_key_not_a_wrong_one(keyed, caplog):
    """A node whose key variable is empty sends `X-API-Key:` with nothing: it was told the key
    is wrong, and each such request counted as a guess towards refusing its address."""
    for headers in ({"X-API-Key": ""}, {"Authorization": "Bearer"}, {"Authorization": "Bearer  "}):
        for _ in range(12):
            refused = keyed.get(STATS, headers=headers)
            assert refused.status_code == 401, headers
            assert "send the API key as X-API-Key" in refused.json["error"]["message"]
    assert not [r for r in caplog.records if r.name == "recsys.auth"]
    assert keyed.get(STATS, headers={"X-API-Key": NEW}).status_code == 200


def test_a_wrong_key_is_a_403_logged_without_the_key(keyed, caplog):
    for headers in ({"X-API-Key": "guess-1"}, {"Authorization": "Bearer guess-2"}):
        refused = keyed.get(STATS, headers=headers)
        assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    warnings = [r.getMessage() for r in caplog.records if r.name == "recsys.auth"]
    assert warnings == [f"wrong API key from 127.0.0.1 (GET {STATS})"] * 2
    assert not any("guess" in r.getMessage() for r in caplog.records)


def test_a_node_still_sending_a_retired_key_does_not_get_the_backend_refused(keyed, caplog):
    """After a rotation, one LMS node kept the key taken out: its requests, from the address
    every learner's request comes from, got that address refused after 10, the right key
    included, again every minute. The same wrong key counts once; guesses count each."""
    for _ in range(15):
        assert keyed.get(HOME, headers={"X-API-Key": "retired-key-000000"}).status_code == 403
    assert keyed.get(HOME, headers={"X-API-Key": NEW}).status_code == 200
    assert len([r for r in caplog.records if r.name == "recsys.auth"]) == 15  # each still said
    for i in range(9):
        assert keyed.get(HOME, headers={"X-API-Key": f"guess-{i}"}).status_code == 403
    held = keyed.get(HOME, headers={"X-API-Key": NEW})
    assert held.status_code == 429 and held.json["error"]["code"] == "too_many_failures"


def test_a_key_is_no_admin_token(keyed):
    course = {"title": "Rust", "category": "Programming"}
    put = keyed.put("/api/v1/courses/course_rust", json=course, headers={"X-API-Key": NEW})
    assert put.status_code == 401
    assert keyed.delete("/api/v1/learners/user7", headers={"X-API-Key": NEW}).status_code == 401
    assert keyed.get("/admin/recommendations/models", headers={"X-API-Key": NEW}).status_code == 401
    assert keyed.put("/api/v1/courses/course_rust", json=course, headers=ADMIN).status_code == 200


def test_health_metrics_the_document_and_xapi_answer_as_without_a_key(keyed):
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/api/v1/xapi/about"):
        assert keyed.get(path).status_code not in (401, 403), path


def test_the_document_declares_who_may_call_each_operation(sqlite_url):
    schemes = {"apiKey", "apiKeyBearer", "adminToken", "adminSession", "xapiBasic"}
    keyed = make_app(sqlite_url, api_key=NEW).test_client().get("/openapi.json").json
    open_ = make_app(sqlite_url).test_client().get("/openapi.json").json
    for spec in (keyed, open_):
        assert set(spec["components"]["securitySchemes"]) == schemes
        assert spec["components"]["securitySchemes"]["apiKey"]["name"] == "X-API-Key"
    home = keyed["paths"]["/api/v1/recommendations/home"]["get"]
    assert {"apiKey": []} in home["security"] and {} not in home["security"]
    assert {"401", "403", "429"} <= set(home["responses"])
    assert {} in open_["paths"]["/api/v1/recommendations/home"]["get"]["security"]
    put = keyed["paths"]["/api/v1/xapi/statements"]["put"]["security"]
    assert put == [{"xapiBasic": []}, {"adminToken": []}, {"adminSession": []}]
    models = keyed["paths"]["/admin/recommendations/models"]["get"]["security"]
    assert models == [{"adminToken": []}, {"adminSession": []}]
    assert keyed["paths"]["/healthz"]["get"]["security"] == [{}]


def test_a_key_that_is_blank_or_short_in_production_does_not_start_the_service(sqlite_url):
    from entrypoints.config import ConfigError

    with pytest.raises(ConfigError, match="RS_API_KEY='\\*\\*\\*': no key in it"):
        make_app(sqlite_url, api_key=" , ")
    with pytest.raises(ConfigError, match="at least 16 characters"):
        make_app(sqlite_url, env="prod", admin_token=TOKEN, api_key=f"{NEW},short")


def test_serve_on_a_public_address_without_a_key_warns_that_the_api_is_open(serving, caplog):
    run, _ = serving

    def warned() -> bool:
        return any(r.getMessage().startswith("RS_API_KEY is unset") for r in caplog.records)

    assert run("--host", "127.0.0.1").exit_code == 0 and not warned()
    assert run("--host", "0.0.0.0").exit_code == 0 and warned()
    caplog.clear()
    assert run("--host", "0.0.0.0", RS_API_KEY=NEW).exit_code == 0 and not warned()


def test_a_guess_sent_as_an_api_key_is_not_a_free_guess_at_the_xapi_secret(sqlite_url):
    """A guesser who sends X-API-Key a, Bearer b, then Basic a:b to xAPI has compared four
    values with two secrets each: both count, or the limit of 10 lets through twice as many."""
    app = make_app(sqlite_url, api_key=NEW, admin_token=TOKEN, xapi_key="lms", xapi_secret="s")
    client = app.test_client()
    xapi = "/api/v1/xapi/statements"
    for i in range(5):
        key, secret = f"guess-key-{i}", f"guess-secret-{i}"
        api = {"X-API-Key": key, "Authorization": f"Bearer {secret}"}
        assert client.get(HOME, headers=api).status_code == 403
        basic = base64.b64encode(f"{key}:{secret}".encode()).decode()
        lrs = {"Authorization": f"Basic {basic}", "X-Experience-API-Version": "1.0.3"}
        assert client.post(xapi, json={}, headers=lrs).status_code == 403
    held = client.get(HOME, headers={"X-API-Key": NEW})
    assert held.status_code == 429 and held.json["error"]["code"] == "too_many_failures"
    app.container.engine().dispose()
