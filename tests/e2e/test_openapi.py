"""The OpenAPI document stays in step with the routes."""

from __future__ import annotations

import re

import jsonschema_rs
import pytest

from entrypoints.schemas import course_json
from tests.conftest import CATALOG
from tests.e2e import xapi_examples
from tests.e2e.conftest import make_app
from tests.unit.test_two_tower import FAST


def test_every_route_is_documented_with_its_errors(sqlite_url):
    app = make_app(sqlite_url)
    spec = app.test_client().get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = spec["paths"][path][method.lower()]
            assert operation["responses"], (path, method)
    home = spec["paths"]["/api/v1/recommendations/home"]["get"]
    assert {p["name"] for p in home["parameters"]} >= {
        "user_id",
        "strategy",
        "k",
        "explain",
        "category",
        "level",
    }
    assert "400" in home["responses"]
    post = spec["paths"]["/api/v1/interactions"]["post"]
    assert "requestBody" in post and "413" in post["responses"]


def test_bodies_can_be_refused_and_the_database_can_be_away_on_every_operation(sqlite_url):
    spec = make_app(sqlite_url).test_client().get("/openapi.json").json
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if "requestBody" in operation:
                json_body = "application/json" in operation["requestBody"]["content"]
                assert ({"413", "415"} if json_body else {"413"}) <= codes, (method, path)
            # These never touch the database.
            if path not in (
                "/healthz",
                "/openapi.json",
                "/metrics",
                "/dashboard/login",
                "/dashboard/logout",
            ):
                assert "503" in codes, (method, path)
                assert "Retry-After" in operation["responses"]["503"]["headers"]
    errors = spec["components"]["schemas"]["ErrorBody"]["properties"]
    assert {"problems", "valid", "cycle", "event_id", "fields", "field"} <= set(errors)
    home = spec["components"]["schemas"]["HomeResponse"]["properties"]
    assert {"selected_by", "model_version", "degraded", "history_unknown"} <= set(home)


def test_every_operation_documents_what_gunicorn_refuses_before_the_app(sqlite_url):
    """A very long URL (414) or header (431) is answered in the JSON error shape."""
    spec = make_app(sqlite_url).test_client().get("/openapi.json").json
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            expected = {"414", "431"}
            assert expected <= set(operation["responses"]), (method, path)
            for code in expected:
                error = operation["responses"][code]["content"]["application/json"]["schema"]
                assert error == {"$ref": "#/components/schemas/Error"}


def _request_body(spec: dict, path: str, method: str) -> jsonschema_rs.Validator:  # type: ignore[type-arg]
    body = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return jsonschema_rs.Draft4Validator({**body, "components": spec["components"]})


@pytest.mark.parametrize(
    "name",
    [n for n in vars(xapi_examples) if n.startswith(("SPEC_", "MOODLE_"))],
)
def test_the_specifications_and_moodles_statements_match_the_documented_body(sqlite_url, name):
    statement = getattr(xapi_examples, name)
    versioned = {**statement, "version": "1.0.3", "authority": {"mbox": "mailto:lrs@example.com"}}
    spec = make_app(sqlite_url).test_client().get("/openapi.json").json
    put = _request_body(spec, "/api/v1/xapi/statements", "put")
    post = _request_body(spec, "/api/v1/xapi/statements", "post")
    for sent in (statement, versioned):
        assert put.is_valid(sent), list(put.iter_errors(sent))
        assert post.is_valid(sent) and post.is_valid([sent, sent])


def _nullable(schema: object) -> object:
    """OpenAPI 3.0's `nullable: true` as JSON Schema's null type, for jsonschema_rs."""
    if isinstance(schema, list):
        return [_nullable(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _nullable(v) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable") and "type" in schema:
        out["type"] = [schema["type"], "null"]
    return out


def _response(spec: dict, path: str, method: str, status: str) -> jsonschema_rs.Validator:  # type: ignore[type-arg]
    body = spec["paths"][path][method]["responses"][status]["content"]["application/json"]
    return jsonschema_rs.Draft4Validator(
        _nullable({**body["schema"], "components": spec["components"]})
    )


def test_admin_explain_answers_as_documented_for_every_strategy_and_case(sqlite_url):
    """Ranked, taken, filtered out and outside the candidates: each answer matches its schema."""
    app = make_app(sqlite_url, two_tower=FAST)
    client = app.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    for user, course in [("u1", "course_python_basic"), ("u2", "course_python_basic")]:
        client.post(
            "/api/v1/interactions",
            json={"user_id": user, "course_id": course, "event_type": "complete"},
        )
    client.post(
        "/api/v1/interactions",
        json={"user_id": "u2", "course_id": "course_sql_basic", "event_type": "enroll"},
    )
    app.container.trainer().run_once()
    explain = _response(
        client.get("/openapi.json").json, "/admin/recommendations/explain", "get", "200"
    )
    url = "/admin/recommendations/explain?user_id={}&course_id={}"
    answers = [
        client.get(url.format(user, course) + extra).json
        for user in ("u1", "nobody")
        for course in ("course_python_basic", "course_sql_basic")
        for extra in ("", "&k=1", "&category=Languages")
    ]
    for answer in answers:
        assert explain.is_valid(answer), list(explain.iter_errors(answer))
    shown = [s for a in answers for s in a["strategies"]]
    assert {s["strategy"] for s in shown} >= {
        "popularity",
        "content",
        "item_cf",
        "two_tower",
        "hybrid",
    }
    assert any(s.get("final_rank") for s in shown) and any(s.get("note") for s in shown)
    assert any(a["removed_by"] for a in answers)
    assert not explain.is_valid({**answers[0], "strategies": [{"strategy": "x"}]})


def test_readiness_fails_clearly_when_the_database_is_gone(tmp_path):
    (tmp_path / "db.sqlite").mkdir()  # a folder where the database file should be
    app = make_app(f"sqlite:///{tmp_path}/db.sqlite")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["error"]["code"] == "not_ready"


def _operation(spec: dict, path: str, method: str) -> dict:  # type: ignore[type-arg]
    return spec["paths"][path][method]


def _parameter(operation: dict, name: str) -> dict:  # type: ignore[type-arg]
    return next(p for p in operation["parameters"] if p["name"] == name)


def test_the_document_names_the_strategies_each_endpoint_takes(sqlite_url):
    app = make_app(sqlite_url)
    spec = app.test_client().get("/openapi.json").json
    names = app.container.strategies().names
    enums = {
        path: _parameter(_operation(spec, path, "get"), "strategy")["schema"]["enum"]
        for path in (
            "/api/v1/recommendations/home",
            "/api/v1/recommendations/similar/{course_id}",
            "/admin/recommendations/explain",
        )
    }
    assert sorted(enums.pop("/api/v1/recommendations/home")) == names
    for path, enum in enums.items():  # "auto" chooses per learner: home pages only
        assert sorted(enum) == [n for n in names if n != "auto"], path


def test_the_document_states_the_id_rule_wherever_an_id_is_read(sqlite_url):
    spec = make_app(sqlite_url).test_client().get("/openapi.json").json
    schemas = spec["components"]["schemas"]
    ids = [
        _parameter(_operation(spec, "/api/v1/recommendations/home", "get"), "user_id")["schema"],
        _parameter(
            _operation(spec, "/api/v1/recommendations/stats/user/{user_id}", "get"), "user_id"
        )["schema"],
        _parameter(_operation(spec, "/api/v1/learners/{user_id}", "delete"), "user_id")["schema"],
        _parameter(_operation(spec, "/api/v1/courses/{course_id}", "put"), "course_id")["schema"],
        schemas["Event"]["properties"]["event_id"],
        schemas["Event"]["properties"]["user_id"],
        schemas["Event"]["properties"]["course_id"],
        schemas["Course"]["properties"]["course_id"],
    ]
    for schema in ids:
        assert (schema["minLength"], schema["maxLength"]) == (1, 128)
        rule = re.compile(schema["pattern"])
        assert rule.search("user7@https://lms.example") and rule.search("é 日本")
        for hidden in (" a", "a ", "a\tb", "a\u200bb", "a\u00a0b", "a\U000e0001"):
            assert not rule.search(hidden), repr(hidden)
        jsonschema_rs.validator_for(schema)  # a pattern other engines compile too


def test_statements_declare_the_xapi_version_header_they_require(sqlite_url):
    spec = make_app(sqlite_url).test_client().get("/openapi.json").json
    for method in ("post", "put"):
        header = _parameter(
            _operation(spec, "/api/v1/xapi/statements", method), "X-Experience-API-Version"
        )
        assert header["in"] == "header" and header["required"] is True
        assert re.search(header["schema"]["pattern"], "1.0.3")
        assert not re.search(header["schema"]["pattern"], "0.95")


def test_an_unknown_learner_is_no_404_in_the_document(sqlite_url):
    """A learner never seen has zero stats, and erasing one records the erasure; an id holding
    "/" (%2F) reaches them too."""
    spec = make_app(sqlite_url).test_client().get("/openapi.json").json
    for path, method in (
        ("/api/v1/recommendations/stats/user/{user_id}", "get"),
        ("/api/v1/learners/{user_id}", "delete"),
    ):
        # only a typo: a plain "/" ending the id (tests/e2e/test_path_ids.py)
        said = _operation(spec, path, method)["responses"]["404"]["description"]
        assert said.startswith('Only for an id ending in a plain "/"'), said


def test_every_error_the_document_lists_says_what_body_it_carries(sqlite_url):
    """An error is JSON (the README's API section): a client built from the document must be
    told so for each one, or it reads the dashboard's 400 as having no body."""
    spec = make_app(sqlite_url).test_client().get("/openapi.json").json
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response.get("content"), (method, path, status)


def test_every_operation_taking_a_body_documents_the_400_of_a_malformed_one(sqlite_url):
    """A chunked body gunicorn cannot parse is a 400 whatever reads it, the sign-in form too."""
    spec = make_app(sqlite_url).test_client().get("/openapi.json").json
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert "400" in operation["responses"], (method, path)


def test_every_answer_with_a_body_says_what_body_it_carries(sqlite_url):
    """A client built from the document read /openapi.json's own 200 as empty."""
    spec = make_app(sqlite_url).test_client().get("/openapi.json").json
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith("2") and status != "204":
                    assert response.get("content"), (method, path, status)
