"""The LMS integration features: xAPI statements in, learner erasure out."""

from __future__ import annotations

import hashlib
import uuid

from pytest_bdd import given, parsers, scenarios, then, when

from tests.acceptance.conftest import course_id
from tests.e2e.test_erasure import rows_mentioning

scenarios("xapi_statements.feature")
scenarios("learner_erasure.feature")

XAPI = {"X-Experience-API-Version": "1.0.3"}
STATEMENTS = "/api/v1/xapi/statements"
VERBS = {"completed": "http://adlnet.gov/expapi/verbs/completed"}


def statement(user: str, verb: str, title: str) -> dict:  # type: ignore[type-arg]
    return {
        "id": str(uuid.uuid4()),
        "actor": {"account": {"homePage": "https://lms.example", "name": user}},
        "verb": {"id": VERBS[verb], "display": {"en-US": verb}},
        "object": {"id": f"https://lms.example/courses/{course_id(title)}"},
        "timestamp": "2026-11-01T10:00:00+01:00",
    }


def send(world, statements):  # type: ignore[no-untyped-def]
    world["response"] = world["client"].post(STATEMENTS, json=statements, headers=XAPI)
    return world["response"]


@when(parsers.parse('the LMS reports in xAPI that "{user}" {verb} "{title}"'))
def report_xapi(world, user, verb, title):  # type: ignore[no-untyped-def]
    world["statement"] = statement(user, verb, title)
    assert send(world, world["statement"]).status_code == 200


@when("the LMS sends the same statement again")
def send_again(world):  # type: ignore[no-untyped-def]
    assert send(world, world["statement"]).status_code == 200


@when("the LMS voids that statement")
def void(world):  # type: ignore[no-untyped-def]
    voiding = {
        "actor": {"account": {"homePage": "https://lms.example", "name": "admin"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": world["statement"]["id"]},
    }
    assert send(world, voiding).status_code == 200


@when("the LMS reports a batch whose second statement names no learner")
def bad_batch(world):  # type: ignore[no-untyped-def]
    nameless = statement("ana", "completed", "SQL Basics")
    nameless["actor"] = {"name": "Ana"}
    send(world, [statement("ana", "completed", "Python Basics"), nameless])


@then("the LMS is told the statement was received")
def received(world):  # type: ignore[no-untyped-def]
    assert world["response"].status_code == 200
    assert world["response"].json == [world["statement"]["id"]]


@then(
    parsers.parse('the statements are refused, naming statement {index:d} and the field "{field}"')
)
def refused(world, index, field):  # type: ignore[no-untyped-def]
    assert world["response"].status_code == 400
    problem = world["response"].json["error"]["problems"][0]
    assert (problem["index"], problem["field"]) == (index, field)


@then(parsers.re(r'"(?P<user>[^"]+)" has (?P<n>\d+) recorded activit(y|ies)'))
def recorded(world, user, n):  # type: ignore[no-untyped-def]
    with world["client"].application.container.uow() as uow:
        assert len(uow.interactions.history(user).events) == int(n)


@given(parsers.parse('"{user}" was shown {k:d} recommendations and clicked the first'))
def shown_and_clicked(world, user, k):  # type: ignore[no-untyped-def]
    served = world["client"].get(f"/api/v1/recommendations/home?user_id={user}&k={k}").json
    click = {
        "user_id": user,
        "course_id": served["items"][0]["course_id"],
        "event_type": "click",
        "recommendation_id": served["recommendation_id"],
    }
    assert world["client"].post("/api/v1/interactions", json=click).status_code == 200


@when(parsers.parse('an operator erases "{user}"'))
def erase(world, user):  # type: ignore[no-untyped-def]
    world["erased"] = world["client"].delete(f"/api/v1/learners/{user}")
    assert world["erased"].status_code == 200


def _url(world) -> str:  # type: ignore[no-untyped-def]
    return world["client"].application.container.config.database_url()  # type: ignore[no-any-return]


@then(parsers.parse('nothing about "{user}" is kept'))
def nothing_kept(world, user):  # type: ignore[no-untyped-def]
    assert rows_mentioning(_url(world), user) == []


@then("the erasure is on record without the learner's name")
def on_record(world):  # type: ignore[no-untyped-def]
    hashed = hashlib.sha256(b"ana").hexdigest()
    assert [table for table, _ in rows_mentioning(_url(world), hashed)] == ["erasures"]


def _items(world, user: str) -> list[str]:  # type: ignore[no-untyped-def]
    url = f"/api/v1/recommendations/home?user_id={user}&k=3&strategy=popularity"
    return [item["course_id"] for item in world["client"].get(url).json["items"]]


@then(parsers.parse('"{user}" gets the recommendations a new learner gets'))
def like_new(world, user):  # type: ignore[no-untyped-def]
    assert _items(world, user) == _items(world, "someone-new")


@then(parsers.parse('the statistics of "{user}" are those of a new learner'))
def stats_like_new(world, user):  # type: ignore[no-untyped-def]
    stats = world["client"].get(f"/api/v1/recommendations/stats/user/{user}").json
    new = world["client"].get("/api/v1/recommendations/stats/user/someone-new").json
    assert stats | {"user_id": "someone-new"} == new


@then(parsers.re(r"the operator is told (?P<n>\d+) activit(y|ies) (was|were) removed"))
def told_removed(world, n):  # type: ignore[no-untyped-def]
    assert world["erased"].json["removed"]["events"] == int(n)
