"""schemathesis against the app in process: no 5xx, every response as the OpenAPI document
describes it (status code, content type, headers, body schema), requests the document allows
accepted and those it forbids refused, 405 with Allow for other methods. Fixed seed, so a
failure reproduces."""

from __future__ import annotations

import copy
import os
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from entrypoints.schemas import course_json
from tests.conftest import CATALOG
from tests.e2e.conftest import make_app
from tests.e2e.xapi_examples import SPEC_COMPLETED
from tests.unit.test_two_tower import FAST

#: Cases per operation; benchmarks/schemathesis_run.py runs many more.
CASES = int(os.environ.get("RS_FUZZ_CASES", "200"))
#: The in-process client is not loopback, so admin endpoints would all be 403 without a token.
TOKEN = "fuzz-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    missing_required_header,
    unsupported_method,
]
#: Operations whose valid requests also depend on stored data or on rules between fields that
#: OpenAPI cannot state (a category that exists, prerequisites that exist, a body's course_id
#: equal to the path's, a served recommendation_id, xAPI's statement rules): a 400 for those is
#: no contract defect, so only their other checks run.
BEYOND_THE_DOCUMENT = {
    "GET /api/v1/recommendations/home",
    "GET /admin/recommendations/explain",
    "POST /api/v1/courses",
    "PUT /api/v1/courses/{course_id}",
    "PATCH /api/v1/courses/{course_id}",
    "POST /api/v1/interactions",
    "POST /api/v1/xapi/statements",
    "PUT /api/v1/xapi/statements",
}


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory):  # type: ignore[no-untyped-def]
    from adapters.sqlalchemy.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'recsys.db'}"
    upgrade(url)
    app = make_app(url, refresh_seconds=3600, admin_token=TOKEN, two_tower=FAST)
    client = app.test_client()
    client.post(
        "/api/v1/courses",
        json={"courses": [course_json(c) for c in CATALOG]},
        headers=ADMIN,
    )
    client.post(
        "/api/v1/interactions",
        json={"user_id": "user1", "course_id": "course_python_basic", "event_type": "enroll"},
    )
    app.container.trainer().run_once()  # every strategy published: /readyz is 200
    yield app
    app.container.engine().dispose()


# The document is read at collection from an app over the in-memory backend (schemathesis' lazy
# fixture loader does not work under pytest 9); the cases run against `fuzzed_app` on SQLite.
schema = schemathesis.openapi.from_wsgi("/openapi.json", make_app("memory://"))


# The reindex starts a background training run per call: its contract is tested in test_api.
@schema.exclude(path="/admin/recommendations/reindex").parametrize()
@settings(
    max_examples=CASES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_response_obeys_the_openapi_document(case, fuzzed_app):  # type: ignore[no-untyped-def]
    excluded = [positive_data_acceptance] if case.operation.label in BEYOND_THE_DOCUMENT else []
    case.call_and_validate(checks=CHECKS, excluded_checks=excluded, headers=ADMIN, app=fuzzed_app)


def _sent(fuzzed_app, path, method, **parts):  # type: ignore[no-untyped-def]
    """One request the fuzzer is unlikely to build, checked against the document like its cases.
    The fuzzer's sign-ins with random tokens held its address off (429): a fresh count."""
    from sqlalchemy import delete

    from adapters.sqlalchemy.tables import credential_failures
    from application.failed_credentials import FailedCredentials
    from entrypoints.api.throttle import FailedAttempts

    with fuzzed_app.container.engine().begin() as connection:
        connection.execute(delete(credential_failures))
    fresh = FailedCredentials(fuzzed_app.container.uow)  # nor what this process remembers
    fuzzed_app.extensions["recsys.failed_attempts"] = FailedAttempts(fresh)
    case = schema[path][method].Case(media_type="application/json", **parts)
    response = case.call(app=fuzzed_app, headers=ADMIN)
    case.validate_response(response, checks=CHECKS)
    return response


def test_a_statement_put_again_with_another_verb_is_a_conflict_the_document_describes(fuzzed_app):  # type: ignore[no-untyped-def]
    statement_id = str(uuid.uuid4())
    statement = copy.deepcopy(SPEC_COMPLETED) | {"id": statement_id}
    put = {"query": {"statementId": statement_id}, "headers": {"X-Experience-API-Version": "1.0.3"}}
    first = _sent(fuzzed_app, "/api/v1/xapi/statements", "PUT", body=statement, **put)
    assert first.status_code == 204
    statement["verb"]["id"] = "http://adlnet.gov/expapi/verbs/passed"
    again = _sent(fuzzed_app, "/api/v1/xapi/statements", "PUT", body=statement, **put)
    assert again.status_code == 409 and again.json()["error"]["statement_ids"] == [statement_id]


def test_a_course_id_holding_a_slash_is_one_course_as_the_document_says(fuzzed_app):  # type: ignore[no-untyped-def]
    """ "/" (sent as %2F) is allowed by the id rule, so it names one course on every route."""
    path = {"course_id": "lms.example/course/7"}
    body = {"title": "T", "category": "Programming"}
    created = _sent(
        fuzzed_app, "/api/v1/courses/{course_id}", "PUT", path_parameters=path, body=body
    )
    assert created.status_code == 200, created.json()
    for method, parts in (("PATCH", {"body": {"title": "U"}}), ("GET", {})):
        sent = _sent(
            fuzzed_app, "/api/v1/courses/{course_id}", method, path_parameters=path, **parts
        )
        assert sent.status_code == 200 and sent.json()["course_id"] == "lms.example/course/7", (
            sent.json()
        )
