"""The xAPI statements resource end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import copy
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from tests.e2e.conftest import make_app
from tests.e2e.xapi_examples import (
    MOODLE_COURSE_VIEWED,
    MOODLE_MODULE_COMPLETED,
    MOODLE_USER_ENROLLED,
    SPEC_COMPLETED,
    SPEC_LONG,
    SPEC_SIMPLE,
    SPEC_VOIDING,
)

XAPI = {"X-Experience-API-Version": "1.0.3"}
URL = "/api/v1/xapi/statements"
EXTRA_COURSES = [
    {"course_id": "simpleCBT", "title": "Simple CBT"},
    {"course_id": "simplestatement", "title": "Simple statement"},
    {"course_id": "42", "title": "Statistics (Moodle course 42)"},
]


@pytest.fixture
def lms(client):  # type: ignore[no-untyped-def]
    assert client.post("/api/v1/courses", json={"courses": EXTRA_COURSES}).status_code == 200
    return client


def events(client) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    with client.application.container.uow() as uow:
        return sorted(
            (e.user_id, e.course_id, e.event_type.value) for e in uow.interactions.stream()
        )


def sha1_of(mbox: str) -> str:
    return "sha1:" + hashlib.sha1(mbox.encode()).hexdigest()


def test_the_specifications_examples_become_events_and_ids_come_back(lms):
    response = lms.post(URL, json=[SPEC_SIMPLE, SPEC_LONG, SPEC_COMPLETED], headers=XAPI)
    assert response.status_code == 200
    assert response.headers["X-Experience-API-Version"] == "1.0.3"
    assert response.json == [SPEC_SIMPLE["id"], SPEC_LONG["id"], SPEC_COMPLETED["id"]]
    assert events(lms) == sorted(
        [
            (sha1_of("mailto:xapi@adlnet.gov"), "simpleCBT", "click"),
            (sha1_of("mailto:user@example.com"), "simplestatement", "complete"),
        ]
    )  # the long example's actor is a group: acknowledged, not a learner


def test_no_email_address_is_stored(lms):
    lms.post(URL, json=SPEC_COMPLETED, headers=XAPI)
    with lms.application.container.uow() as uow:
        (event,) = list(uow.interactions.stream())
        assert "@" not in event.user_id and "example.com" not in event.user_id


def test_moodle_course_viewed_enrolled_and_module_completed_become_view_enroll_view(lms):
    sent = [MOODLE_COURSE_VIEWED, MOODLE_USER_ENROLLED, MOODLE_MODULE_COMPLETED]
    assert lms.post(URL, json=sent, headers=XAPI).status_code == 200
    # a completed module counts for its course, but only as much as a view
    assert events(lms) == [("7", "42", "enroll"), ("7", "42", "view"), ("7", "42", "view")]
    history = lms.get("/api/v1/recommendations/home?user_id=7&strategy=popularity&k=10").json
    assert "42" not in [item["course_id"] for item in history["items"]]


def test_a_statement_sent_again_is_a_no_op_and_different_content_is_a_conflict(lms):
    statement_id = str(uuid.uuid4())
    url = f"{URL}?statementId={statement_id}"
    assert lms.put(url, json=SPEC_COMPLETED | {"id": statement_id}, headers=XAPI).status_code == 204
    assert lms.put(url, json=SPEC_COMPLETED | {"id": statement_id}, headers=XAPI).status_code == 204
    changed = copy.deepcopy(SPEC_COMPLETED) | {"id": statement_id}
    changed["verb"]["id"] = "http://adlnet.gov/expapi/verbs/passed"
    response = lms.put(url, json=changed, headers=XAPI)
    assert response.status_code == 409
    assert response.json["error"]["statement_ids"] == [statement_id]
    assert len(events(lms)) == 1


def _events_counted() -> dict[str, float]:
    return {
        outcome: REGISTRY.get_sample_value("recsys_events_total", {"outcome": outcome}) or 0.0
        for outcome in ("accepted", "duplicate", "ignored")
    }


def test_events_from_statements_are_counted_in_the_events_metric(lms):
    before = _events_counted()
    assert lms.post(URL, json=[SPEC_COMPLETED, SPEC_SIMPLE], headers=XAPI).status_code == 200
    statement_id = str(uuid.uuid4())
    url = f"{URL}?statementId={statement_id}"
    assert lms.put(url, json=SPEC_COMPLETED | {"id": statement_id}, headers=XAPI).status_code == 204
    assert lms.post(URL, json=SPEC_COMPLETED, headers=XAPI).status_code == 200
    after = _events_counted()
    assert after["accepted"] - before["accepted"] == 3
    assert after["duplicate"] - before["duplicate"] == 1


def test_a_statement_put_answers_204_with_no_body_and_no_content_type(lms):
    statement_id = str(uuid.uuid4())
    url = f"{URL}?statementId={statement_id}"
    response = lms.put(url, json=SPEC_COMPLETED | {"id": statement_id}, headers=XAPI)
    assert response.status_code == 204 and response.data == b""
    assert "Content-Type" not in response.headers


def test_a_voiding_statement_removes_the_event_of_the_statement_it_voids(lms):
    lms.post(URL, json=SPEC_COMPLETED, headers=XAPI)
    assert len(events(lms)) == 1
    assert lms.post(URL, json=SPEC_VOIDING, headers=XAPI).status_code == 200
    assert events(lms) == []
    lms.post(URL, json=SPEC_COMPLETED, headers=XAPI)  # a late retry does not bring it back
    assert events(lms) == []


def test_unmapped_verbs_and_activities_are_acknowledged_not_errors(lms):
    unknown_verb = copy.deepcopy(SPEC_SIMPLE) | {"id": str(uuid.uuid4())}
    unknown_verb["verb"]["id"] = "http://adlnet.gov/expapi/verbs/created"
    unknown_activity = copy.deepcopy(SPEC_SIMPLE) | {"id": str(uuid.uuid4())}
    unknown_activity["object"]["id"] = "http://example.adlnet.gov/xapi/example/nothing-we-teach"
    response = lms.post(URL, json=[unknown_verb, unknown_activity], headers=XAPI)
    assert response.status_code == 200 and len(response.json) == 2
    assert events(lms) == []


def test_a_course_iri_sent_percent_encoded_counts_for_the_course(lms):
    # An IRI and its URI form (RFC 3987: non-ASCII as UTF-8 percent-escapes) name one activity;
    # an LMS that sends the URI form must not have its learners' completions dropped as unknown.
    lms.post("/api/v1/courses", json={"courses": [{"course_id": "café_101", "title": "Café"}]})
    statement = copy.deepcopy(SPEC_COMPLETED) | {"id": str(uuid.uuid4())}
    statement["object"]["id"] = "https://lms.example/courses/caf%C3%A9_101"
    assert lms.post(URL, json=statement, headers=XAPI).status_code == 200
    assert events(lms) == [(sha1_of("mailto:user@example.com"), "café_101", "complete")]
    statement["id"], statement["object"]["id"] = str(uuid.uuid4()), "https://lms.example/c/a%00b"
    assert lms.post(URL, json=statement, headers=XAPI).status_code == 200  # no course: ignored


def _broken(**change) -> dict:  # type: ignore[no-untyped-def,type-arg]
    statement = copy.deepcopy(SPEC_COMPLETED)
    statement.pop("id")
    for path, value in change.items():
        *parents, leaf = path.split("__")
        node = statement
        for key in parents:
            node = node[key]
        node[leaf] = value
    return statement


@pytest.mark.parametrize(
    ("statement", "field"),
    [
        (_broken(actor={"name": "Nobody"}), "actor"),
        (_broken(actor={"mbox": "mailto:a@b.org", "openid": "http://openid.example/a"}), "actor"),
        (_broken(verb={"id": "not an iri"}), "verb.id"),
        (_broken(object={"id": "www.example.com/no-scheme"}), "object.id"),
        # no IRI holds a control character; PostgreSQL refused the NUL's course lookup with a 500
        (_broken(object={"id": "https://lms.example/courses/a\u0000b"}), "object.id"),
        (
            _broken(
                context={"contextActivities": {"parent": [{"id": "https://lms.example/\x07"}]}}
            ),
            "context.contextActivities.parent.id",
        ),
        (_broken(timestamp="2026-11-01T10:00:00"), "timestamp"),
        (_broken(id="not-a-uuid"), "id"),
        (_broken(actor__mbox="ana@example.com"), "actor.mbox"),
    ],
)
def test_a_malformed_statement_in_a_batch_rejects_the_whole_batch(lms, statement, field):
    good = copy.deepcopy(SPEC_COMPLETED)
    response = lms.post(URL, json=[good, statement], headers=XAPI)
    assert response.status_code == 400
    problem = response.json["error"]["problems"][0]
    assert (problem["index"], problem["field"]) == (1, field)
    assert response.json["error"]["message"].startswith(f"statement 1: {field}:")
    assert events(lms) == []
    with lms.application.container.uow() as uow:
        assert uow.statements.known([good["id"]]) == {}


def test_a_body_that_is_not_json_or_lacks_the_version_header_is_refused(lms):
    not_json = lms.post(URL, data="{nope", content_type="application/json", headers=XAPI)
    assert not_json.status_code == 400 and not_json.json["error"]["code"] == "invalid_json"
    no_version = lms.post(URL, json=SPEC_COMPLETED)
    assert no_version.status_code == 400 and no_version.json["error"]["code"] == "xapi_version"
    bad_id = lms.put(f"{URL}?statementId=42", json=SPEC_COMPLETED, headers=XAPI)
    assert bad_id.status_code == 400


def test_every_answer_under_the_xapi_paths_says_the_version_the_router_refused_too(lms):
    """A 405 (GET on a path that takes PUT only, DELETE on statements) or a 404 under the
    xAPI paths came from the router, before the blueprint that adds the header saw it."""
    for response in (
        lms.delete(URL, headers=XAPI),
        lms.get("/api/v1/xapi/nothing-here", headers=XAPI),
        lms.post(URL, json=SPEC_COMPLETED, headers=XAPI),
    ):
        assert response.headers.get("X-Experience-API-Version") == "1.0.3", response.status
    assert "X-Experience-API-Version" not in lms.get("/healthz").headers


def _basic(key: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", **XAPI}


@pytest.mark.parametrize("version", ["1.01", "1.0x", "1.0.3-rc", "1.0.", "2.0.0"])
def test_a_version_header_naming_no_1_0_x_version_is_refused(lms, version):
    response = lms.post(URL, json=SPEC_COMPLETED, headers={"X-Experience-API-Version": version})
    assert response.status_code == 400 and response.json["error"]["code"] == "xapi_version"
    assert events(lms) == []


@pytest.mark.parametrize("version", ["1.0", "1.0.0", "1.0.3"])
def test_every_1_0_x_version_header_is_taken(lms, version):
    response = lms.post(URL, json=SPEC_COMPLETED, headers={"X-Experience-API-Version": version})
    assert response.status_code == 200


def test_lrs_clients_authenticate_with_basic_and_operators_with_bearer(database_url):
    app = make_app(database_url, admin_token="admin-secret", xapi_key="lms", xapi_secret="s3cret")
    client = app.test_client()
    bearer = {"Authorization": "Bearer admin-secret"}
    client.post("/api/v1/courses", json={"courses": EXTRA_COURSES}, headers=bearer)
    assert client.post(URL, json=SPEC_SIMPLE, headers=_basic("lms", "s3cret")).status_code == 200
    assert client.post(URL, json=SPEC_SIMPLE, headers=bearer | XAPI).status_code == 200
    assert client.post(URL, json=SPEC_SIMPLE, headers=_basic("lms", "wrong")).status_code == 403
    unauthenticated = client.post(URL, json=SPEC_SIMPLE, headers=XAPI)
    assert unauthenticated.status_code == 401
    app.container.engine().dispose()


@pytest.mark.parametrize(("key", "status"), [("lms", 403), ("", 401)])
def test_basic_credentials_that_are_no_base64_text_are_refused_not_a_500(sqlite_url, key, status):
    app = make_app(sqlite_url, admin_token="admin-secret", xapi_key=key, xapi_secret=key and "s")
    garbled = {"Authorization": "Basic \xff\xfe", **XAPI}  # bytes beyond ASCII
    response = app.test_client().post(URL, json=SPEC_SIMPLE, headers=garbled)
    assert response.status_code == status
    app.container.engine().dispose()


def test_authorization_schemes_are_taken_in_any_case_as_http_says(sqlite_url):
    app = make_app(sqlite_url, admin_token="admin-secret", xapi_key="lms", xapi_secret="s3cret")
    client = app.test_client()
    bearer = {"Authorization": "bearer admin-secret"}
    assert client.put("/api/v1/courses/c1", json={"title": "T"}, headers=bearer).status_code == 200
    assert (
        client.get("/dashboard", headers={"Authorization": "BEARER admin-secret"}).status_code
        == 200
    )
    basic = {"Authorization": _basic("lms", "s3cret")["Authorization"].replace("Basic", "basic")}
    assert client.post(URL, json=SPEC_SIMPLE, headers=basic | XAPI).status_code == 200
    assert client.post(URL, json=SPEC_SIMPLE, headers=bearer | XAPI).status_code == 200
    app.container.engine().dispose()


def test_statements_take_the_configured_clock_skew_like_events(sqlite_url):
    app = make_app(sqlite_url, max_clock_skew_seconds=3600)
    client = app.test_client()
    client.post("/api/v1/courses", json={"courses": EXTRA_COURSES})
    soon = datetime.now(UTC) + timedelta(minutes=30)
    late = datetime.now(UTC) + timedelta(minutes=90)
    fine = copy.deepcopy(SPEC_COMPLETED) | {"timestamp": soon.isoformat()}
    assert client.post(URL, json=fine, headers=XAPI).status_code == 200
    ahead = copy.deepcopy(SPEC_COMPLETED) | {"id": str(uuid.uuid4()), "timestamp": late.isoformat()}
    refused = client.post(URL, json=ahead, headers=XAPI)
    assert refused.status_code == 400
    too_late = "timestamp: lies more than 3600 s in the future (RS_MAX_CLOCK_SKEW)"
    assert refused.json["error"]["message"] == too_late  # one statement: no index to name
    in_array = client.post(URL, json=[fine, ahead], headers=XAPI)
    assert in_array.json["error"]["message"] == f"statement 1: {too_late}"
    app.container.engine().dispose()


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_timestamp_past_the_calendars_ends_is_refused_as_one_naming_it(lms, moment):
    sent = copy.deepcopy(SPEC_COMPLETED) | {"timestamp": moment}
    refused = lms.post(URL, json=sent, headers=XAPI)
    assert refused.status_code == 400
    assert refused.json["error"]["message"] == "timestamp: is not a representable date and time"
    assert events(lms) == []


def test_an_lrs_client_without_credentials_is_told_to_send_the_xapi_key_with_basic(sqlite_url):
    app = make_app(sqlite_url, admin_token="admin-secret", xapi_key="lms", xapi_secret="s3cret")
    client = app.test_client()
    posted = client.post(URL, json=SPEC_SIMPLE, headers=XAPI)
    put = client.put(f"{URL}?statementId={SPEC_SIMPLE['id']}", json=SPEC_SIMPLE, headers=XAPI)
    for response in (posted, put):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Basic realm="xAPI"'
        message = response.json["error"]["message"]
        assert "Basic" in message and "RS_XAPI_KEY" in message and "dashboard" not in message
    app.container.engine().dispose()


def test_a_replayed_statement_does_not_bring_an_erased_learner_back(lms):
    assert lms.post(URL, json=SPEC_COMPLETED, headers=XAPI).status_code == 200
    learner = events(lms)[0][0]
    assert lms.delete(f"/api/v1/learners/{learner}").json["removed"]["events"] == 1
    lms.post(URL, json=SPEC_COMPLETED, headers=XAPI)  # the LMS re-sends its backlog
    assert events(lms) == []
    later = copy.deepcopy(SPEC_COMPLETED) | {"id": str(uuid.uuid4())}
    later["timestamp"] = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    lms.post(URL, json=later, headers=XAPI)  # what they do after the erasure is theirs again
    assert events(lms) == [(learner, "simplestatement", "complete")]


def test_a_replayed_statement_keeps_no_record_naming_the_erased_learner(lms):
    assert lms.post(URL, json=SPEC_COMPLETED, headers=XAPI).status_code == 200
    learner = events(lms)[0][0]
    lms.delete(f"/api/v1/learners/{learner}")
    unmapped = copy.deepcopy(SPEC_COMPLETED) | {"id": str(uuid.uuid4())}
    unmapped["verb"]["id"] = "https://example.com/verbs/bookmarked"
    lms.post(URL, json=[SPEC_COMPLETED, unmapped], headers=XAPI)  # the LMS re-sends its backlog
    # nothing of theirs came back: a second erasure finds nothing to remove
    removed = lms.delete(f"/api/v1/learners/{learner}").json["removed"]
    assert removed["statements"] == 0
    assert lms.post(URL, json=SPEC_COMPLETED, headers=XAPI).status_code == 200  # still a no-op
    assert events(lms) == []


def test_a_score_beyond_a_floats_range_is_refused_not_read_as_null(lms):
    """json read 1e400 as infinity, which orjson writes back as null: the statement stored had
    the hash of one saying null, and a retry of the same id with null passed as a duplicate."""
    import json

    statement = SPEC_COMPLETED | {"id": str(uuid.uuid4()), "result": {"score": {"raw": 0.5}}}
    body = json.dumps(statement).replace('"raw": 0.5', '"raw": 1e400')
    response = lms.post(URL, data=body, content_type="application/json", headers=XAPI)
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"
    assert "1e400 is beyond the range of a number" in response.json["error"]["message"]
    assert events(lms) == []
