"""Events: an event_id names one event, timestamps carry a timezone and are not from the future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from entrypoints.schemas import course_json
from tests.conftest import CATALOG
from tests.e2e.conftest import make_app
from tests.e2e.test_api import ev, log


def _soon(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def test_the_same_event_id_with_a_different_payload_is_a_409_naming_the_event(client):
    assert log(client, ev("u1", "course_sql_basic", "view", event_id="e1")).status_code == 200
    response = log(client, ev("u1", "course_sql_basic", "enroll", event_id="e1"))
    assert response.status_code == 409
    error = response.json["error"]
    assert error["code"] == "event_conflict" and error["event_id"] == "e1"
    assert "'e1'" in error["message"] and error["fields"] == ["event_type"]


def test_a_retry_with_the_same_payload_is_still_a_duplicate(client):
    first = ev("u1", "course_sql_basic", "view", event_id="e1")
    log(client, first)
    assert log(client, first).json == {"accepted": 0, "duplicates": 1, "ignored": {}}


UNTIMED = {
    "event_id": "retry-1",
    "user_id": "u1",
    "course_id": "course_sql_basic",
    "event_type": "click",
}


def _stored_time(client, event_id):  # type: ignore[no-untyped-def]
    with client.application.container.uow() as uow:
        return uow.interactions.stored([event_id])[event_id].occurred_at


def test_a_retry_without_a_time_is_a_duplicate_and_keeps_the_first_time(client):
    assert log(client, UNTIMED).json == {"accepted": 1, "duplicates": 0, "ignored": {}}
    first = _stored_time(client, "retry-1")
    assert log(client, UNTIMED).json == {"accepted": 0, "duplicates": 1, "ignored": {}}
    assert _stored_time(client, "retry-1") == first


def test_an_event_without_a_time_sent_twice_in_one_batch_counts_once(client):
    assert log(client, UNTIMED, UNTIMED).json == {"accepted": 1, "duplicates": 1, "ignored": {}}


def test_a_retry_that_now_gives_a_time_the_first_did_not_is_a_conflict(client):
    log(client, UNTIMED)
    response = log(client, UNTIMED | {"occurred_at": "2026-11-01T10:00:00Z"})
    assert response.status_code == 409 and response.json["error"]["fields"] == ["occurred_at"]


def test_a_conflict_rejects_the_whole_batch(client):
    log(client, ev("u1", "course_sql_basic", "view", event_id="e1"))
    response = log(
        client,
        ev("u2", "course_sql_basic", "view", event_id="e2"),
        ev("u9", "course_sql_basic", "view", event_id="e1"),
    )
    assert response.status_code == 409 and response.json["error"]["fields"] == ["user_id"]
    assert log(client, ev("u2", "course_sql_basic", "view", event_id="e2")).json["accepted"] == 1


def test_two_different_events_with_one_id_in_one_batch_conflict(client):
    response = log(
        client,
        ev("u1", "course_sql_basic", "view", event_id="e1"),
        ev("u1", "course_ml_basic", "view", event_id="e1"),
    )
    assert response.status_code == 409 and response.json["error"]["fields"] == ["course_id"]


def test_an_event_id_repeated_within_a_batch_is_named_with_its_positions_not_as_logged_before(
    client,
):
    response = log(
        client,
        ev("u1", "course_sql_basic", "view", event_id="z0"),
        ev("u1", "course_sql_basic", "view", event_id="z1"),
        ev("u1", "course_ml_basic", "view", event_id="z2"),
        ev("u1", "course_ml_basic", "view", event_id="z1"),
    )
    assert response.status_code == 409
    error = response.json["error"]
    assert error["event_id"] == "z1" and error["indexes"] == [1, 3]
    assert "already logged" not in error["message"]
    assert "'z1' is repeated within the batch (events 1 and 3)" in error["message"]
    assert log(client, ev("u1", "course_sql_basic", "view", event_id="z0")).json["accepted"] == 1


def test_a_timestamp_without_a_timezone_is_a_400(client):
    response = log(client, ev("u1", "course_sql_basic", at="2026-11-01T10:00:00"))
    assert response.status_code == 400
    problem = response.json["error"]["problems"][0]
    assert problem["field"] == "occurred_at" and "timezone" in problem["message"]


def test_a_timestamp_in_lower_case_is_read_as_rfc_3339_allows(client):
    """An LMS that sent "2026-11-01t10:00:00z" (RFC 3339, the document's date-time) got a 400."""
    response = log(client, ev("u1", "course_sql_basic", at="2026-11-01t10:00:00z"))
    assert response.status_code == 200, response.json
    stats = client.get("/api/v1/recommendations/stats/user/u1").json
    assert stats["top_categories"] == [{"category": "Data Science", "count": 1}]


def test_an_event_more_than_five_minutes_ahead_is_a_400_a_little_ahead_is_fine(client):
    ahead = log(client, ev("u1", "course_sql_basic", at=_soon(10)))
    assert ahead.status_code == 400
    assert ahead.json["error"]["problems"][0]["field"] == "occurred_at"
    assert "RS_MAX_CLOCK_SKEW" in ahead.json["error"]["message"]
    assert log(client, ev("u1", "course_sql_basic", at=_soon(2))).status_code == 200


def test_the_clock_skew_allowance_is_configurable(sqlite_url):
    app = make_app(sqlite_url, max_clock_skew_seconds=3600)
    client = app.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    assert log(client, ev("u1", "course_sql_basic", at=_soon(30))).status_code == 200
    assert log(client, ev("u1", "course_sql_basic", at=_soon(90))).status_code == 400
