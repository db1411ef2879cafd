"""The HTTP API end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from entrypoints.schemas import course_json
from tests.conftest import CATALOG
from tests.e2e.conftest import make_app

HOME = "/api/v1/recommendations/home"


def log(client, *events):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/interactions", json={"events": list(events)})


def ev(user, course, kind="view", at="2026-11-01T10:00:00Z", **extra):  # type: ignore[no-untyped-def]
    """An event; one credited to a list happens now, after the list was served."""
    if "recommendation_id" in extra:
        at = datetime.now(UTC).isoformat()
    return {"user_id": user, "course_id": course, "event_type": kind, "occurred_at": at, **extra}


def test_home_recommendations_have_the_documented_shape(client):
    log(
        client,
        ev("user1", "course_python_basic", "complete"),
        ev("user2", "course_sql_basic", "enroll"),
    )
    body = client.get(f"{HOME}?user_id=user1&strategy=content&k=3&explain=true").json
    assert set(body) == {"user_id", "strategy", "recommendation_id", "items"}
    assert body["user_id"] == "user1" and body["strategy"] == "content"
    first = body["items"][0]
    assert set(first) == {"course_id", "title", "score", "rank", "reason"}
    assert first["course_id"] == "course_python_intermediate"
    assert first["reason"] == "Next step after Python Basics"


def test_reasons_are_shown_only_when_asked_for(client):
    log(client, ev("user1", "course_python_basic", "complete"))
    items = client.get(f"{HOME}?user_id=user1&strategy=popularity").json["items"]
    assert items and all("reason" not in item for item in items)


@pytest.mark.parametrize("strategy", ["popularity", "content"])
def test_a_learner_who_enrolled_never_gets_the_course_back(client, strategy):
    log(
        client,
        ev("user1", "course_python_basic", "enroll"),
        ev("user2", "course_python_basic", "enroll"),
    )
    for url in (f"{HOME}?user_id=user1&strategy={strategy}&k=100", f"{HOME}?user_id=user1&k=100"):
        ids = [i["course_id"] for i in client.get(url).json["items"]]
        assert ids and "course_python_basic" not in ids


def test_the_default_strategy_falls_back_to_popularity_and_says_so(client):
    body = client.get(f"{HOME}?user_id=user1").json
    assert body["strategy"] == "popularity" and body["fallback_from"] == "hybrid"


def test_similar_courses_fall_back_to_popularity_and_say_so(client):
    asked = client.get("/api/v1/recommendations/similar/course_sql_basic?strategy=two_tower")
    assert asked.json["strategy"] == "popularity" and asked.json["fallback_from"] == "two_tower"
    answered = client.get("/api/v1/recommendations/similar/course_sql_basic?strategy=popularity")
    assert answered.json["strategy"] == "popularity" and "fallback_from" not in answered.json


def test_an_unknown_strategy_is_rejected_with_the_valid_ones(client):
    response = client.get(f"{HOME}?user_id=user1&strategy=astrology")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_strategy"
    assert response.json["error"]["valid"] == [
        "auto",
        "content",
        "hybrid",
        "item_cf",
        "popularity",
        "sequence",
        "two_tower",
    ]


def test_similar_courses(client):
    body = client.get("/api/v1/recommendations/similar/course_python_basic?k=2&explain=true").json
    assert body["course_id"] == "course_python_basic"
    assert body["items"][0]["course_id"] == "course_python_intermediate"
    assert body["items"][0]["reason"] == "Similar to Python Basics"


def test_popularity_says_what_it_knows_of_courses_like_one_without_a_category(client):
    """ "Also in our catalog, like Misc A": every course is in the catalog, and lacking a
    category is no likeness; what popularity knows of the course is how learners took to it."""
    misc = [{"course_id": f"misc_{c}", "title": f"Misc {c.upper()}"} for c in "abc"]
    assert client.post("/api/v1/courses", json={"courses": misc}).status_code == 200
    log(
        client,
        *(ev(f"fan{i}", "misc_b", "enroll") for i in range(3)),
        ev("user1", "misc_c", "view"),
    )
    url = "/api/v1/recommendations/similar/misc_a?strategy=popularity&k=10&explain=true"
    said = {
        i["course_id"]: i["reason"].removesuffix(" lately") for i in client.get(url).json["items"]
    }
    assert said["misc_b"] == "Popular in our catalog"
    assert said["misc_c"] == "A course, which learners have tried"
    assert said["course_sql_basic"] == "A course in Data Science, which few learners have tried yet"


def test_a_course_created_through_the_api_is_similar_at_once(client):
    new = {
        "title": "Advanced Python",
        "description": "Python programming at scale",
        "tags": ["python"],
        "level": "advanced",
        "category": "Programming",
        "prerequisites": ["course_python_intermediate"],
    }
    assert client.put("/api/v1/courses/course_python_advanced", json=new).status_code == 200
    ids = [
        i["course_id"]
        for i in client.get("/api/v1/recommendations/similar/course_python_basic?k=2").json["items"]
    ]
    assert "course_python_advanced" in ids


def test_spaces_around_a_category_title_or_tag_are_the_senders_not_the_courses(client):
    """A category with spaces made another category; a title kept them, and reasons quoted it
    so ("Similar to  Rust for the Web "); a tag " rust" was another tag than "rust"."""
    course = {
        "title": " Rust for the Web ",
        "category": " Programming ",
        "tags": ["rust", " rust", "web "],
    }
    saved = client.put("/api/v1/courses/course_rust_web", json=course)
    assert saved.status_code == 200 and saved.json["category"] == "Programming"
    stored = client.get("/api/v1/courses/course_rust_web").json
    assert (stored["title"], stored["category"], stored["tags"]) == (
        "Rust for the Web",
        "Programming",
        ["rust", "web"],
    )


def test_events_are_idempotent_on_event_id(client):
    batch = [
        ev("user1", "course_sql_basic", "click", event_id="e-1"),
        ev("user1", "course_sql_basic", "enroll", event_id="e-2"),
    ]
    assert log(client, *batch).json == {"accepted": 2, "duplicates": 0, "ignored": {}}
    assert log(client, *batch).json == {"accepted": 0, "duplicates": 2, "ignored": {}}
    single = client.post("/api/v1/interactions", json=ev("user1", "course_ml_basic", "view"))
    assert single.json == {"accepted": 1, "duplicates": 0, "ignored": {}}
    again = client.post("/api/v1/interactions", json=ev("user1", "course_ml_basic", "view"))
    assert again.json == {"accepted": 0, "duplicates": 1, "ignored": {}}


def test_an_invalid_event_rejects_the_whole_batch_naming_index_and_field(client):
    response = log(
        client,
        ev("user5", "course_sql_basic", "enroll"),
        ev("user5", "course_ml_basic", "purchase"),
    )
    assert response.status_code == 400
    error = response.json["error"]
    assert error["message"].startswith("event 1: event_type")
    assert error["problems"][0]["index"] == 1 and error["problems"][0]["field"] == "event_type"
    ids = [
        i["course_id"]
        for i in client.get(f"{HOME}?user_id=user5&strategy=popularity&k=100").json["items"]
    ]
    assert "course_sql_basic" in ids  # the valid first event was not stored either


def test_a_single_event_is_not_called_event_0_in_its_error(client):
    response = client.post("/api/v1/interactions", json=ev("user5", "course_nope", "view"))
    assert response.status_code == 400
    error = response.json["error"]
    assert error["message"] == "course_id: unknown course 'course_nope'"
    assert error["problems"][0]["index"] is None


def test_events_are_attributed_to_a_served_slate(client):
    log(client, ev("user1", "course_python_basic", "complete"))
    served = client.get(f"{HOME}?user_id=user1&strategy=content").json
    click = ev(
        "user1",
        served["items"][0]["course_id"],
        "click",
        recommendation_id=served["recommendation_id"],
    )
    assert log(client, click).json["accepted"] == 1
    forged = ev("user1", "course_sql_basic", "click", recommendation_id="not-served")
    assert log(client, forged).status_code == 400


def test_an_event_is_credited_only_to_a_list_its_learner_was_shown_with_its_course(client):
    log(client, ev("user5", "course_python_basic", "complete"))
    served = client.get(f"{HOME}?user_id=user5&k=3&strategy=content").json
    shown = [item["course_id"] for item in served["items"]]
    hidden = next(c.course_id for c in CATALOG if c.course_id not in shown)
    credited = {"recommendation_id": served["recommendation_id"]}
    not_shown = log(client, ev("user5", hidden, "click", **credited))
    assert not_shown.status_code == 400
    problem = not_shown.json["error"]["problems"][0]
    assert problem["field"] == "recommendation_id"
    assert problem["message"] == f"course {hidden!r} was not in the list served with this id"
    someone_else = log(client, ev("user6", shown[0], "click", **credited))
    assert someone_else.status_code == 400
    assert someone_else.json["error"]["message"] == (
        "event 0: recommendation_id: the list served with this id was shown to another learner"
    )
    assert client.get("/api/v1/recommendations/stats/user/user5").json["num_clicks"] == 0
    assert client.get("/api/v1/recommendations/stats/user/user6").json["num_clicks"] == 0
    assert log(client, ev("user5", shown[0], "click", **credited)).status_code == 200


def test_an_event_from_before_its_list_was_served_is_not_credited_to_it(client):
    """A click dated a year before the list existed was accepted and counted in the learner's
    CTR, while the daily stats put it on a day with no lists. Within RS_MAX_CLOCK_SKEW (the
    platform's clock may be behind ours) it still counts."""
    log(client, ev("user5", "course_python_basic", "complete"))
    served = client.get(f"{HOME}?user_id=user5&k=3&strategy=content").json
    course = served["items"][0]["course_id"]

    def click(when: datetime):  # type: ignore[no-untyped-def]
        event = ev("user5", course, "click", recommendation_id=served["recommendation_id"])
        return log(client, {**event, "occurred_at": when.isoformat()})

    early = click(datetime(2025, 1, 1, tzinfo=UTC))
    assert early.status_code == 400
    problem = early.json["error"]["problems"][0]
    assert problem["field"] == "recommendation_id"
    assert problem["message"].startswith("happened before the list with this id was served (")
    assert client.get("/api/v1/recommendations/stats/user/user5").json["num_clicks"] == 0
    assert click(datetime.now(UTC) - timedelta(seconds=30)).status_code == 200
    assert client.get("/api/v1/recommendations/stats/user/user5").json["num_clicks"] == 1


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"{HOME}", "user_id"),
        (f"{HOME}?user_id=user1&k=0", "k"),
        (f"{HOME}?user_id=user1&k=101", "k"),
        (f"{HOME}?user_id=user1&k=ten", "k"),
        # int() reads these as 10; the document's integer does not
        (f"{HOME}?user_id=user1&k=1_0", "k"),
        (f"{HOME}?user_id=user1&k=%EF%BC%91%EF%BC%90", "k"),  # full-width "１０"
        (f"{HOME}?user_id=user1&k=%2010", "k"),
        ("/api/v1/recommendations/stats/global?days=3_0", "days"),
        (f"{HOME}?user_id={'x' * 129}", "user_id"),
        (f"{HOME}?user_id=user1&level=expert", "level"),
        (f"{HOME}?user_id=user1&explain=perhaps", "explain"),
        (f"{HOME}?user_id=user1&colour=blue", "colour"),
        ("/api/v1/courses?limit=0", "limit"),
        ("/api/v1/courses?offset=-1", "offset"),
        ("/api/v1/recommendations/similar/course_python_basic?k=-5", "k"),
    ],
)
def test_bad_query_parameters_are_a_400_naming_the_field(client, url, field):
    response = client.get(url)
    assert response.status_code == 400
    assert response.json["error"]["problems"][0]["field"] == field


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/recommendations/stats/user/user1"),
        ("GET", "/api/v1/courses/course_sql_basic"),
        ("PUT", "/api/v1/courses/course_sql_basic"),
        ("PATCH", "/api/v1/courses/course_sql_basic"),
        ("POST", "/api/v1/courses"),
        ("POST", "/api/v1/interactions"),
        ("DELETE", "/api/v1/learners/user1"),
        ("GET", "/admin/recommendations/models"),
        ("GET", "/admin/recommendations/bandit"),
        ("GET", "/admin/recommendations/jobs/nope"),
        ("POST", "/admin/recommendations/reindex"),
        ("POST", "/api/v1/xapi/statements"),
        ("PUT", "/api/v1/xapi/statements?statementId=fd41c918-b88b-4b20-a0a5-a4c32391aaa0&"),
        ("GET", "/api/v1/xapi/about"),
    ],
)
def test_an_unknown_query_parameter_is_a_400_naming_it_on_every_endpoint(client, method, path):
    url = f"{path}{'' if path.endswith('&') else '?'}colour=blue"
    xapi = {"X-Experience-API-Version": "1.0.3"}
    response = client.open(url, method=method, json={}, headers=xapi)
    assert response.status_code == 400
    assert response.json["error"]["problems"] == [
        {"index": None, "field": "colour", "message": "Unknown field."}
    ]


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("GET", f"{HOME}?user_id=caf%E9", "user_id"),
        ("GET", f"{HOME}?user_id=user1&category=Dat%E9", "category"),
        ("GET", "/api/v1/recommendations/stats/user/caf%E9", "user_id"),
        ("DELETE", "/api/v1/learners/caf%E9", "user_id"),
        ("GET", "/api/v1/courses/caf%E9", "course_id"),
    ],
)
def test_an_id_sent_in_bytes_that_are_no_utf8_is_a_400_not_taken_for_another_id(
    client, method, url, field
):
    # "café" sent in latin-1: werkzeug read it as "caf%E9" or "caf\ufffd", someone else
    response = client.open(url, method=method)
    assert response.status_code == 400
    assert response.json["error"]["problems"] == [
        {
            "index": None,
            "field": field,
            "message": "is not UTF-8 text (percent-encode its UTF-8 bytes)",
        }
    ]
    assert client.get(f"{HOME}?user_id=caf%C3%A9").status_code == 200


def test_a_query_parameter_given_twice_is_a_400_not_a_guess(client):
    # Taking the first would answer, and record a list, for one of two learners.
    response = client.get("/api/v1/recommendations/home?user_id=user1&k=3&user_id=user2")
    assert response.status_code == 400
    assert response.json["error"]["problems"] == [
        {"index": None, "field": "user_id", "message": "given more than once; give it once"}
    ]
    assert client.get("/api/v1/courses?limit=2&limit=3").status_code == 400


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("not json", "application/json"),
        ("[1, 2]", "application/json"),
        ('{"events": []}', "application/json"),
        ('{"events": "many"}', "application/json"),
        ('{"user_id": "u"}', "application/json"),
        (
            '{"user_id": "u", "course_id": "course_sql_basic", "event_type": "view", "occurred_at": "yesterday"}',
            "application/json",
        ),
    ],
)
def test_malformed_event_bodies_are_a_400(client, body, content_type):
    response = client.post("/api/v1/interactions", data=body, content_type=content_type)
    assert response.status_code == 400
    assert set(response.json["error"]) >= {"code", "message"}


def test_more_than_a_thousand_events_are_refused(client):
    many = [
        ev("u", "course_sql_basic", at=f"2026-11-01T10:00:{i % 60:02d}Z", event_id=f"e{i}")
        for i in range(1001)
    ]
    response = log(client, *many)
    assert response.status_code == 400
    assert "events" in response.json["error"]["message"]


def test_an_oversized_body_is_a_413(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/api/v1/interactions", data="x" * 2000, content_type="application/json")
    assert response.status_code == 413
    assert response.json["error"]["code"] == "request_entity_too_large"


def test_catalog_listing_paging_and_lookup(client):
    page = client.get("/api/v1/courses?limit=2&offset=1").json
    assert page["total"] == 6 and [c["course_id"] for c in page["items"]] == [
        "course_old_cobol",
        "course_python_basic",
    ]
    assert client.get("/api/v1/courses/course_sql_basic").json["title"] == "SQL Basics"
    missing = client.get("/api/v1/courses/nope")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "unknown_course"


def test_course_writes_validate_their_input(client):
    assert client.put("/api/v1/courses/c1", json={"title": ""}).status_code == 400
    assert client.put("/api/v1/courses/c1", json={"title": "T", "level": "guru"}).status_code == 400
    assert (
        client.put("/api/v1/courses/c1", json={"title": "T", "course_id": "c2"}).status_code == 400
    )
    mismatch = client.put("/api/v1/courses/c1", json={"title": "T", "prerequisites": ["ghost"]})
    assert mismatch.status_code == 400 and mismatch.json["error"]["code"] == "invalid_courses"
    assert (
        client.post("/api/v1/courses", json={"courses": [{"course_id": "c1"}]}).status_code == 400
    )
    assert client.get("/api/v1/courses/c1").status_code == 404


def test_unknown_routes_and_methods_are_json_errors(client):
    assert client.get("/api/v1/nothing").json["error"]["code"] == "not_found"
    wrong = client.delete("/api/v1/courses/course_sql_basic")
    assert wrong.status_code == 405 and wrong.json["error"]["code"] == "method_not_allowed"


def test_a_method_not_allowed_names_the_allowed_ones_in_allow(client):
    trace = client.open("/readyz", method="TRACE")
    assert trace.status_code == 405 and trace.json["error"]["code"] == "method_not_allowed"
    assert set(trace.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    delete = client.delete("/api/v1/courses/course_sql_basic")
    assert {"GET", "PUT", "PATCH"} <= set(delete.headers["Allow"].split(", "))


@pytest.mark.parametrize("active", [0, 1, "no", "yes", "false", "", None])
def test_a_json_boolean_is_true_or_false_only(client, active):
    patch = client.patch("/api/v1/courses/course_sql_basic", json={"active": active})
    assert patch.status_code == 400 and patch.json["error"]["problems"][0]["field"] == "active"
    put = client.put("/api/v1/courses/c9", json={"title": "T", "active": active})
    assert put.status_code == 400
    assert client.get("/api/v1/courses/course_sql_basic").json["active"] is True


def test_query_string_booleans_keep_reading_true_and_false(client):
    home = "/api/v1/recommendations/home?user_id=u1&strategy=popularity"
    for yes in ("true", "True", "TRUE", "1"):  # Python's requests sends True as "True"
        items = client.get(f"{home}&explain={yes}").json["items"]
        assert items and all("reason" in item for item in items), yes
    for no in ("false", "False", "0"):
        items = client.get(f"{home}&explain={no}").json["items"]
        assert items and all("reason" not in item for item in items), no
    assert client.get(f"{home}&strict_prerequisites=true").status_code == 200


def test_every_boolean_query_parameter_refuses_other_spellings_naming_itself(client):
    """marshmallow's Boolean also took yes, on, t, n ...: spellings the document does not name,
    which a typo can match. Each boolean parameter the document lists takes the same ones."""
    spec = client.get("/openapi.json").json
    booleans = [
        (path, parameters, parameter["name"])
        for path, operations in spec["paths"].items()
        for parameters in [operations.get("get", {}).get("parameters", [])]
        for parameter in parameters
        if parameter["in"] == "query" and parameter["schema"].get("type") == "boolean"
    ]
    assert {(path, name) for path, _, name in booleans} == {
        ("/api/v1/recommendations/home", "explain"),
        ("/api/v1/recommendations/home", "strict_prerequisites"),
        ("/api/v1/recommendations/similar/{course_id}", "explain"),
        ("/admin/recommendations/explain", "strict_prerequisites"),
    }
    given = {"user_id": "user1", "course_id": "course_python_basic"}
    for path, parameters, name in booleans:
        assert "true or false, in any case, or 1 or 0" in next(
            p["description"] for p in parameters if p["name"] == name
        )
        required = "&".join(
            f"{p['name']}={given[p['name']]}"
            for p in parameters
            if p["in"] == "query" and p.get("required")
        )
        url = f"{path.replace('{course_id}', given['course_id'])}?{required}&{name}="
        for spelled in ("true", "TRUE", "1", "false", "False", "0"):
            assert client.get(url + spelled).status_code == 200, (url, spelled)
        for spelled in ("yes", "on", "t", "no", "off", "2", "maybe", ""):
            refused = client.get(url + spelled)
            assert refused.status_code == 400, (url, spelled)
            assert refused.json["error"]["message"] == (
                f"{name}: must be true or false, in any case, or 1 or 0"
            )
            assert refused.json["error"]["problems"][0]["field"] == name


def test_readiness_waits_for_a_published_version_of_every_strategy(database_url):
    from tests.unit.test_two_tower import FAST

    app = make_app(database_url, caught_up=False, two_tower=FAST)
    client = app.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    log(client, ev("user1", "course_python_basic", "complete"))
    assert client.get("/healthz").json == {"status": "ok"}
    waiting = client.get("/readyz")
    assert waiting.status_code == 503 and waiting.headers["Retry-After"]
    assert waiting.json["error"]["missing"] == [
        "content",
        "item_cf",
        "popularity",
        "sequence",
        "two_tower",
    ]
    # Meanwhile learners get popular courses, counted by the database.
    served = client.get(f"{HOME}?user_id=someone").json
    assert (
        served["strategy"] == "popularity"
        and served["items"][0]["course_id"] == "course_python_basic"
    )
    app.container.trainer().run_once()
    assert client.get("/readyz").json == {"status": "ready"}
    app.container.engine().dispose()


def test_hybrid_takes_weights_per_request_and_refuses_bad_ones(client):
    log(
        client,
        ev("user1", "course_python_basic", "complete"),
        ev("user2", "course_sql_basic", "enroll"),
    )
    body = client.get(
        f"{HOME}?user_id=user1&strategy=hybrid&weights=content:0.7,popularity:0.3&explain=true"
    ).json
    assert (
        body["strategy"] == "hybrid" and body["items"] and all(i["reason"] for i in body["items"])
    )
    bad = client.get(f"{HOME}?user_id=user1&strategy=hybrid&weights=content:heaps")
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_weights"
    spaced = client.get(f"{HOME}?user_id=user1&strategy=hybrid&weights= content : 1 ,popularity:1")
    assert spaced.status_code == 200 and spaced.json["strategy"] == "hybrid"
    twice = client.get(f"{HOME}?user_id=user1&strategy=hybrid&weights=content:1,content:2")
    assert twice.status_code == 400 and "weighted twice" in twice.json["error"]["message"]
    other = client.get(f"{HOME}?user_id=user1&strategy=popularity&weights=content:1")
    assert other.status_code == 400 and other.json["error"]["code"] == "invalid_weights"
    assert "hybrid strategy only" in other.json["error"]["message"]


def test_explain_takes_the_weights_a_home_list_was_served_with(client):
    """An operator asked why a course stood where it did in a list served with its own hybrid
    weights: the explanation ranks with those weights, as the list was ranked."""
    log(
        client,
        ev("user1", "course_python_basic", "complete"),
        *(ev(f"u{i}", "course_sql_basic", "enroll") for i in range(3)),
        ev("u9", "course_ml_basic", "enroll"),
    )
    explain = "/admin/recommendations/explain?user_id=user1&strategy=hybrid&k=4&course_id="
    lists = {}
    for weights in ("content:1", "popularity:1"):
        served = client.get(f"{HOME}?user_id=user1&strategy=hybrid&k=4&weights={weights}").json
        lists[weights] = [item["course_id"] for item in served["items"]]
        for rank, course in enumerate(lists[weights], start=1):
            [entry] = client.get(f"{explain}{course}&weights={weights}").json["strategies"]
            assert entry["final_rank"] == rank, (weights, course, entry)
    assert lists["content:1"] != lists["popularity:1"]  # the weights make a difference
    every = explain.replace("strategy=hybrid&", "") + lists["popularity:1"][0]
    entries = client.get(f"{every}&weights=popularity:1").json["strategies"]
    assert [e["final_rank"] for e in entries if e["strategy"] == "hybrid"] == [1]  # none named
    other = client.get(
        f"{explain.replace('hybrid', 'popularity')}course_sql_basic&weights=content:1"
    )
    assert other.status_code == 400 and other.json["error"]["code"] == "invalid_weights"
    bad = client.get(f"{explain}course_sql_basic&weights=content:heaps")
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_weights"


def test_strict_prerequisites_remove_courses_the_learner_cannot_start(client):
    log(client, ev("user2", "course_python_intermediate", "enroll"))
    relaxed = [
        i["course_id"]
        for i in client.get(f"{HOME}?user_id=user1&strategy=popularity&k=10").json["items"]
    ]
    strict = [
        i["course_id"]
        for i in client.get(
            f"{HOME}?user_id=user1&strategy=popularity&k=10&strict_prerequisites=true"
        ).json["items"]
    ]
    assert "course_python_intermediate" in relaxed and "course_python_intermediate" not in strict


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("get", "/api/v1/courses?offset=100000000000000000000", None, "offset"),
        (
            "post",
            "/api/v1/interactions",
            {
                "user_id": "u",
                "course_id": "course_sql_basic",
                "event_type": "view",
                "occurred_at": "9999-12-31T23:00:00-05:00",
            },
            "occurred_at",
        ),
        (
            "post",
            "/api/v1/interactions",
            {
                "user_id": "u",
                "course_id": "course_sql_basic",
                "event_type": "view",
                "occurred_at": "0001-01-01T00:30:00+05:00",
            },
            "occurred_at",
        ),
        ("put", "/api/v1/courses/c_nul", {"title": "Null\x00byte"}, "title"),
        ("put", "/api/v1/courses/c_nul", {"title": "T", "tags": ["a\x00b"]}, "tags[0]"),
    ],
)
def test_extreme_values_are_a_400_not_a_500(client, method, url, body, field):
    response = getattr(client, method)(url, json=body) if body is not None else client.get(url)
    assert response.status_code == 400, response.json
    assert response.json["error"]["problems"][0]["field"] == field


def test_a_bad_course_in_a_batch_is_named_as_a_course(client):
    response = client.post(
        "/api/v1/courses",
        json={"courses": [{"course_id": "ok", "title": "Fine"}, {"course_id": "x"}]},
    )
    assert response.status_code == 400
    assert response.json["error"]["message"].startswith("course 1: title")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "T", "category": " \t "}, "category"),
        ({"title": "T", "tags": ["python", "  "]}, "tags[1]"),
    ],
)
def test_a_blank_title_category_or_tag_is_refused_not_stored(client, body, field):
    response = client.put("/api/v1/courses/c1", json=body)
    assert response.status_code == 400
    assert response.json["error"]["message"] == f"{field}: must not be blank (only spaces)"
    assert client.get("/api/v1/courses/c1").status_code == 404


def test_a_tag_or_prerequisite_named_twice_is_stored_once_in_its_first_place(client):
    body = {
        "title": "T",
        "tags": ["sql", "data", "sql"],
        "prerequisites": ["course_sql_basic", "course_python_basic", "course_sql_basic"],
    }
    assert client.put("/api/v1/courses/c1", json=body).status_code == 200
    stored = client.get("/api/v1/courses/c1").json
    assert stored["tags"] == ["sql", "data"]
    assert stored["prerequisites"] == ["course_sql_basic", "course_python_basic"]


def test_a_batch_naming_a_course_twice_is_refused_naming_it_and_stores_nothing(client):
    response = client.post(
        "/api/v1/courses",
        json={
            "courses": [
                {"course_id": "c1", "title": "First"},
                {"course_id": "c2", "title": "Other"},
                {"course_id": "c1", "title": "Second"},
            ]
        },
    )
    assert response.status_code == 400
    assert (
        response.json["error"]["message"] == "course 2: course_id: repeats course 'c1' of course 0"
    )
    assert client.get("/api/v1/courses/c2").status_code == 404


def test_a_bad_tag_is_named_by_its_own_position_not_as_a_batch_index(client):
    one = client.put("/api/v1/courses/c1", json={"title": "T", "tags": ["a", ""]}).json["error"]
    assert one["message"] == "tags[1]: Length must be between 1 and 64."
    assert one["problems"][0]["index"] is None
    batch = client.post(
        "/api/v1/courses",
        json={
            "courses": [
                {"course_id": "c1", "title": "T"},
                {"course_id": "c2", "title": "T", "prerequisites": ["c1", " c1"]},
            ]
        },
    ).json["error"]
    assert batch["message"].startswith("course 1: prerequisites[1]: must be")
    assert batch["problems"][0]["index"] == 1


def test_similar_and_explain_refuse_auto_listing_the_strategies_they_take(client):
    takes = ["content", "hybrid", "item_cf", "popularity", "sequence", "two_tower"]
    for url, task in [
        ("/api/v1/recommendations/similar/course_sql_basic?strategy=auto", "similar courses"),
        (
            "/admin/recommendations/explain?user_id=u&course_id=course_sql_basic&strategy=auto",
            "explanations",
        ),
    ]:
        error = client.get(url).json["error"]
        assert error["valid"] == takes
        assert error["message"] == (
            f"strategy 'auto' does not apply to {task}; valid strategies: {', '.join(takes)}"
        )


def test_an_unknown_strategy_for_similar_courses_lists_only_the_ones_it_takes(client):
    response = client.get("/api/v1/recommendations/similar/course_sql_basic?strategy=astrology")
    assert response.status_code == 400
    assert "unknown strategy 'astrology'" in response.json["error"]["message"]
    assert "auto" not in response.json["error"]["valid"]


def test_an_unknown_category_is_a_400_listing_the_valid_ones_not_an_empty_fallback(client):
    response = client.get(f"{HOME}?user_id=user1&category=Cooking")
    assert response.status_code == 400
    error = response.json["error"]
    assert error["code"] == "invalid_filter" and error["field"] == "category"
    assert error["valid"] == ["Data Science", "Languages", "Programming"]
    assert "Cooking" in error["message"]


def test_a_level_no_course_of_the_category_has_is_a_400_listing_the_levels_there(client):
    response = client.get(f"{HOME}?user_id=user1&category=languages&level=advanced")
    assert response.status_code == 400
    assert response.json["error"]["field"] == "level"
    assert response.json["error"]["valid"] == ["beginner"]


def test_a_known_category_in_any_case_filters(client):
    body = client.get(f"{HOME}?user_id=user1&category=data science&strategy=content").json
    assert body["items"] and {i["course_id"] for i in body["items"]} <= {
        "course_sql_basic",
        "course_ml_basic",
    }


def test_a_prerequisite_cycle_is_a_409_naming_the_cycle(client):
    put = client.put
    assert put("/api/v1/courses/basic", json={"title": "Basic"}).status_code == 200
    assert (
        put("/api/v1/courses/advanced", json={"title": "A", "prerequisites": ["basic"]}).status_code
        == 200
    )
    assert (
        put(
            "/api/v1/courses/intermediate", json={"title": "I", "prerequisites": ["advanced"]}
        ).status_code
        == 200
    )
    response = put("/api/v1/courses/basic", json={"title": "B", "prerequisites": ["intermediate"]})
    assert response.status_code == 409
    assert response.json["error"]["cycle"] == ["basic", "intermediate", "advanced", "basic"]
    assert "basic -> intermediate -> advanced -> basic" in response.json["error"]["message"]
    itself = put("/api/v1/courses/solo", json={"title": "S", "prerequisites": ["solo"]})
    assert itself.status_code == 409 and itself.json["error"]["cycle"] == ["solo", "solo"]


def test_put_replaces_the_whole_course_and_patch_changes_only_what_it_names(client):
    full = {"title": "T", "description": "Long text", "tags": ["a", "b"], "category": "Data"}
    client.put("/api/v1/courses/c1", json=full)
    patched = client.patch("/api/v1/courses/c1", json={"title": "New title"})
    assert patched.status_code == 200
    stored = client.get("/api/v1/courses/c1").json
    assert stored["title"] == "New title" and stored["description"] == "Long text"
    assert stored["tags"] == ["a", "b"] and stored["category"] == "Data"
    client.put("/api/v1/courses/c1", json={"title": "Only a title"})
    replaced = client.get("/api/v1/courses/c1").json
    assert replaced["description"] == "" and replaced["tags"] == []


def test_an_unknown_prerequisite_is_named_by_its_place_in_the_list(client):
    """It read as the field prerequisites, not the item at fault, as tags[1] is named."""
    needs = ["course_python_basic", "ghost"]
    put = client.put("/api/v1/courses/c1", json={"title": "T", "prerequisites": needs})
    client.put("/api/v1/courses/c2", json={"title": "T"})
    patch = client.patch("/api/v1/courses/c2", json={"prerequisites": needs})
    for response in (put, patch):
        error = response.json["error"]
        assert error["message"] == "prerequisites[1]: unknown course 'ghost'"
        assert error["problems"] == [
            {"index": None, "field": "prerequisites[1]", "message": "unknown course 'ghost'"}
        ]
    batch = client.post(
        "/api/v1/courses",
        json={
            "courses": [
                {"course_id": "c3", "title": "T"},
                {"course_id": "c4", "title": "T", "prerequisites": needs},
            ]
        },
    ).json["error"]
    assert batch["message"] == "course 1: prerequisites[1]: unknown course 'ghost'"
    assert batch["problems"][0]["field"] == "prerequisites[1]"


def test_patch_validates_and_needs_an_existing_course(client):
    assert client.patch("/api/v1/courses/ghost", json={"title": "T"}).status_code == 404
    client.put("/api/v1/courses/c1", json={"title": "T"})
    bad = client.patch("/api/v1/courses/c1", json={"level": "guru"})
    assert bad.status_code == 400 and bad.json["error"]["problems"][0]["field"] == "level"
    cycle = client.patch("/api/v1/courses/c1", json={"prerequisites": ["c1"]})
    assert cycle.status_code == 409


def test_explain_takes_the_home_lists_filters_and_refuses_one_no_course_has(client):
    log(client, ev("user1", "course_python_basic", "complete"))
    url = "/admin/recommendations/explain?user_id=user1&course_id=course_sql_basic"
    answer = client.get(f"{url}&strategy=popularity&category=Languages").json
    assert answer["removed_by"] == ["removed: outside the filters (category 'Languages')"]
    unknown = client.get(f"{url}&category=Astrology")
    assert unknown.status_code == 400
    assert unknown.json["error"]["code"] == "invalid_filter"


def test_explain_gives_no_final_rank_outside_the_list_and_none_for_a_course_taken(client):
    """The course served second in a list of 3 is outside a list of 1: no final_rank, and a
    rule saying so; a course the learner enrolled in has no rank or reason at all, only a note
    that it is never shown to them."""
    log(
        client,
        ev("user1", "course_python_basic", "enroll"),
        ev("user2", "course_sql_basic", "enroll"),
        ev("user3", "course_ml_basic", "enroll"),
    )
    served = client.get(f"{HOME}?user_id=user1&strategy=popularity&k=3").json["items"]
    second = served[1]["course_id"]
    explain = "/admin/recommendations/explain?user_id=user1&strategy=popularity&course_id="
    [outside] = client.get(f"{explain}{second}&k=1").json["strategies"]
    assert outside["final_rank"] is None
    assert outside["rules"][0].startswith("outside the list of 1: the ranking stage put it at")
    [inside] = client.get(f"{explain}{second}&k=3").json["strategies"]
    assert inside["final_rank"] == 2
    taken = client.get(f"{explain}course_python_basic").json
    assert taken["removed_by"] == ["removed: the learner enrolled in it"]
    [entry] = taken["strategies"]
    assert (entry["rank"], entry["score"], entry["reason"], entry["final_rank"]) == (
        None,
        None,
        None,
        None,
    )
    assert entry["note"] == "never shown to this learner: the learner enrolled in it"


def database_errors(client) -> float:  # type: ignore[no-untyped-def]
    """recsys_database_errors_total, every error label added up."""
    lines = client.get("/metrics").get_data(as_text=True).splitlines()
    return sum(
        float(line.split()[-1]) for line in lines if line.startswith("recsys_database_errors_total")
    )


def test_a_reindex_refused_as_already_queued_is_no_database_error(client):
    before = database_errors(client)
    assert client.post("/admin/recommendations/reindex").status_code == 202
    assert client.post("/admin/recommendations/reindex").status_code == 409
    assert client.post("/admin/recommendations/reindex").status_code == 409
    assert database_errors(client) == before


def test_a_second_reindex_names_the_job_queued_or_running_so_any_host_can_follow_it(app, client):
    """The 409 said only `reindex_running`: an operator on another host could not follow the
    job it met, as the 202 answer lets the one who queued it."""
    queued = client.post("/admin/recommendations/reindex").json
    conflict = client.post("/admin/recommendations/reindex")
    assert conflict.status_code == 409
    error = conflict.json["error"]
    assert error["code"] == "reindex_running"
    assert (error["job_id"], error["status"]) == (queued["job_id"], "queued")
    assert error["status_url"] == queued["status_url"]
    with app.container.uow() as uow:  # a trainer on another host takes it
        uow.jobs.claim(["reindex"], "other-host:7")
        uow.commit()
    error = client.post("/admin/recommendations/reindex").json["error"]
    assert (error["job_id"], error["status"]) == (queued["job_id"], "running")
    assert "running" in error["message"]
    followed = client.get(error["status_url"]).json
    assert (followed["job_id"], followed["worker"]) == (queued["job_id"], "other-host:7")


def test_a_database_that_does_not_answer_counts_as_a_database_error():
    app = make_app("postgresql+psycopg://postgres@127.0.0.1:1/nothing", caught_up=False)
    client = app.test_client()
    before = database_errors(client)
    assert client.get("/api/v1/courses/course_sql_basic").status_code == 503
    assert database_errors(client) > before
    app.container.engine().dispose()
