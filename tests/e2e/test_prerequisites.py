"""What a learner is told, and in what order, about courses they cannot start yet (on SQLite and
PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import text

from tests.e2e.test_api import HOME, ev, log
from tests.e2e.test_openapi import _response

EXPLAIN = "/admin/recommendations/explain"
URL_ONE = "/api/v1/courses/{course_id}"


def served(client, user, strategy="popularity", k=10):  # type: ignore[no-untyped-def]
    url = f"{HOME}?user_id={user}&strategy={strategy}&k={k}&explain=true"
    return {i["course_id"]: i for i in client.get(url).json["items"]}


def popular_intermediate_python(client):  # type: ignore[no-untyped-def]
    """Intermediate Python far more popular than Python Basics, which user1 only viewed: its
    demotion (x0.5) still left it first."""
    log(
        client,
        *(ev(f"fan{i}", "course_python_intermediate", "enroll") for i in range(4)),
        ev("user1", "course_python_basic", "view"),
    )


def test_a_course_still_needing_a_prerequisite_says_which_and_comes_after_it(client):
    popular_intermediate_python(client)
    items = served(client, "user1")
    intermediate = items["course_python_intermediate"]
    assert intermediate["reason"].endswith("; take Python Basics first")
    assert items["course_python_basic"]["rank"] < intermediate["rank"]
    assert "take" not in items["course_python_basic"]["reason"]  # nothing before it


def test_the_explanation_gives_the_rank_and_reason_the_learner_is_served(client):
    popular_intermediate_python(client)
    home = served(client, "user1")["course_python_intermediate"]
    url = f"{EXPLAIN}?user_id=user1&course_id=course_python_intermediate&strategy=popularity"
    explained = client.get(url).json["strategies"][0]
    assert (explained["final_rank"], explained["reason"]) == (home["rank"], home["reason"])
    assert "placed after Python Basics: its prerequisite, also in the list" in explained["rules"]


def test_a_learner_who_took_the_prerequisite_is_not_told_to_take_it(client):
    popular_intermediate_python(client)
    log(client, ev("user2", "course_python_basic", "enroll"))
    reason = served(client, "user2")["course_python_intermediate"]["reason"]
    assert ";" not in reason


def test_an_advanced_course_two_levels_above_the_learner_says_so(client):
    put = client.put(
        "/api/v1/courses/course_ml_advanced",
        json={
            "title": "Advanced Machine Learning",
            "category": "Data Science",
            "level": "advanced",
        },
    )
    assert put.status_code == 200
    log(
        client,
        *(ev(f"fan{i}", "course_ml_advanced", "enroll") for i in range(3)),
        ev("user2", "course_sql_basic", "enroll"),
    )
    new = served(client, "user1")["course_ml_advanced"]["reason"]
    assert new.endswith("; advanced, and you have taken no Data Science course yet")
    beginner = served(client, "user2")["course_ml_advanced"]["reason"]
    assert beginner.endswith("; advanced, and your Data Science courses so far are beginner")


def test_a_course_whose_prerequisite_was_deactivated_is_not_offered_to_who_has_not_taken_it(
    client,
):
    popular_intermediate_python(client)
    log(client, ev("user2", "course_python_basic", "complete"))
    patch = client.patch("/api/v1/courses/course_python_basic", json={"active": False})
    assert patch.status_code == 200
    for strategy in ("popularity", "content", "hybrid"):
        assert "course_python_intermediate" not in served(client, "user1", strategy)
    assert "course_python_intermediate" in served(client, "user2")  # they can go on
    url = f"{EXPLAIN}?user_id=user1&course_id=course_python_intermediate&strategy=popularity"
    rules = client.get(url).json["strategies"][0]["rules"]
    assert "removed: needs Python Basics, which is inactive and the learner has not taken" in rules


def test_deactivating_a_prerequisite_says_which_active_courses_still_require_it(client):
    patch = client.patch("/api/v1/courses/course_python_basic", json={"active": False})
    assert patch.status_code == 200
    assert patch.json["still_required_by"] == ["course_python_intermediate"]
    assert patch.json["active"] is False


def test_a_write_says_what_still_requires_a_course_only_when_it_is_inactive(client):
    patch = client.patch("/api/v1/courses/course_python_basic", json={"tags": ["python"]})
    assert patch.status_code == 200 and "still_required_by" not in patch.json
    body = {"title": "SQL Basics", "category": "Data Science", "active": False}
    put = client.put("/api/v1/courses/course_sql_basic", json=body)
    assert put.status_code == 200 and "still_required_by" not in put.json  # nothing requires it


def test_a_batch_that_retires_a_prerequisite_says_which_active_courses_still_require_it(client):
    basic = client.get("/api/v1/courses/course_python_basic").json
    sql = client.get("/api/v1/courses/course_sql_basic").json
    post = client.post(
        "/api/v1/courses",
        json={"courses": [{**basic, "active": False}, {**sql, "active": False}]},
    )
    assert post.status_code == 200
    # SQL Basics is inactive too, but no active course needs it: not named
    assert post.json == {
        "upserted": 2,
        "still_required_by": {"course_python_basic": ["course_python_intermediate"]},
        "warnings": [
            {
                "course_id": "course_python_intermediate",
                "prerequisite": "course_python_basic",
                "message": "course_python_intermediate requires course_python_basic, which is "
                "retired: only learners who took course_python_basic can be recommended "
                "course_python_intermediate",
            }
        ],
    }
    documented = _response(client.get("/openapi.json").json, "/api/v1/courses", "post", "200")
    assert documented.is_valid(post.json), list(documented.iter_errors(post.json))
    again = client.post("/api/v1/courses", json={"courses": [sql]})
    assert again.json == {"upserted": 1}


def test_a_patch_of_a_course_whose_prerequisite_was_deleted_by_hand_keeps_the_reference(client):
    """A PATCH of the title was refused as an unknown course in prerequisites, a field it did
    not send: the operator could change nothing of the course until they found out why."""
    with client.application.container.engine().begin() as connection:
        connection.execute(text("DELETE FROM courses WHERE course_id = 'course_python_basic'"))
    url = "/api/v1/courses/course_python_intermediate"
    patch = client.patch(url, json={"title": "Python, Further"})
    assert patch.status_code == 200, patch.json
    stored = client.get(url).json
    assert stored["title"] == "Python, Further"
    assert stored["prerequisites"] == ["course_python_basic"]  # left for the operator
    assert client.put(url, json={**stored, "level": "advanced"}).status_code == 200  # GET, PUT
    assert [w["message"] for w in patch.json["warnings"]] == [
        "course_python_intermediate requires course_python_basic, which the catalog does not "
        "have: only learners who took course_python_basic can be recommended "
        "course_python_intermediate"
    ]
    documented = _response(client.get("/openapi.json").json, URL_ONE, "patch", "200")
    assert documented.is_valid(patch.json), list(documented.iter_errors(patch.json))
    added = client.patch(url, json={"prerequisites": ["course_python_basic", "ghost"]})
    assert added.status_code == 400  # a prerequisite the request adds is still checked
    assert added.json["error"]["message"] == "prerequisites[1]: unknown course 'ghost'"


def test_a_course_written_to_require_a_retired_course_says_who_can_still_be_recommended_it(
    client,
):
    assert (
        client.patch("/api/v1/courses/course_sql_basic", json={"active": False}).status_code == 200
    )
    body = {"title": "SQL Joins", "category": "Data Science", "prerequisites": ["course_sql_basic"]}
    put = client.put("/api/v1/courses/course_sql_joins", json=body)
    assert put.status_code == 200
    assert put.json["warnings"] == [
        {
            "course_id": "course_sql_joins",
            "prerequisite": "course_sql_basic",
            "message": "course_sql_joins requires course_sql_basic, which is retired: only "
            "learners who took course_sql_basic can be recommended course_sql_joins",
        }
    ]
    documented = _response(client.get("/openapi.json").json, URL_ONE, "put", "200")
    assert documented.is_valid(put.json), list(documented.iter_errors(put.json))
    post = client.post("/api/v1/courses", json={"courses": [{**body, "course_id": "course_sql_2"}]})
    assert [w["course_id"] for w in post.json["warnings"]] == ["course_sql_2"]
    assert "still_required_by" not in post.json  # this batch retired nothing
    retired_too = client.put("/api/v1/courses/course_sql_joins", json={**body, "active": False})
    assert "warnings" not in retired_too.json  # nobody is recommended it anyway
    open_again = client.patch("/api/v1/courses/course_sql_2", json={"prerequisites": []})
    assert "warnings" not in open_again.json
