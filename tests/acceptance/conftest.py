"""Step definitions shared by the feature files; they drive the real app on SQLite."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from pytest_bdd import given, parsers, then, when

from tests.e2e.conftest import make_app

TOPICS = {
    "Python": ("Programming", ["python", "programming"]),
    "SQL": ("Data Science", ["sql", "databases"]),
    "Spanish": ("Languages", ["spanish", "conversation"]),
}
LEVELS = {"Intermediate": "intermediate", "Advanced": "advanced", "Conversation": "intermediate"}
VERBS = {"enrolled in": "enroll", "completed": "complete", "viewed": "view", "clicked": "click"}


#: events happen yesterday: recent enough for "popular lately", never in the future
DAY = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()


def course_id(title: str) -> str:
    return "course_" + re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


@pytest.fixture
def world(sqlite_url):  # type: ignore[no-untyped-def]
    app = make_app(sqlite_url)
    state = {"client": app.test_client(), "taken": {}, "touched": {}, "clock": 0}
    yield state
    app.container.engine().dispose()


def post_events(world, events):  # type: ignore[no-untyped-def]
    return world["client"].post("/api/v1/interactions", json={"events": events})


def an_event(world, user: str, title: str, kind: str, **extra):  # type: ignore[no-untyped-def]
    world["clock"] += 1
    return {
        "user_id": user,
        "course_id": course_id(title),
        "event_type": kind,
        "occurred_at": f"{DAY}T10:{world['clock']:02d}:00Z",
        **extra,
    }


@given(parsers.parse("the catalog has the courses {titles}"))
def catalog(world, titles):  # type: ignore[no-untyped-def]
    courses = []
    for title in re.findall(r'"([^"]+)"', titles):
        topic = next((t for t in TOPICS if t in title), None)
        category, tags = TOPICS.get(topic, ("General", []))  # type: ignore[arg-type]
        courses.append(
            {
                "course_id": course_id(title),
                "title": title,
                "category": category,
                "tags": tags,
                "description": f"{title}: a course about {topic or title}",
            }
        )
    assert world["client"].post("/api/v1/courses", json={"courses": courses}).status_code == 200


@given(parsers.parse('"{course}" requires "{prerequisite}"'))
def requires(world, course, prerequisite):  # type: ignore[no-untyped-def]
    current = world["client"].get(f"/api/v1/courses/{course_id(course)}").json
    current["prerequisites"] = [course_id(prerequisite)]
    assert (
        world["client"].put(f"/api/v1/courses/{course_id(course)}", json=current).status_code == 200
    )


@given(
    parsers.re(
        r'learner "(?P<user>[^"]+)" (?P<verb>enrolled in|completed|viewed|clicked) "(?P<title>[^"]+)"'
    )
)
def learner_did(world, user, verb, title):  # type: ignore[no-untyped-def]
    assert post_events(world, [an_event(world, user, title, VERBS[verb])]).status_code == 200
    world["touched"].setdefault(user, set()).add(title)
    if VERBS[verb] in ("enroll", "complete"):
        world["taken"].setdefault(user, set()).add(course_id(title))


@when(
    parsers.re(
        r'"(?P<user>[^"]+)" asks for (?P<k>\d+) recommendations? by (?P<strategy>\w+)'
        r"(?P<explain> with reasons)?(?P<strict> with strict prerequisites)?"
    )
)
def ask(world, user, k, strategy, explain, strict):  # type: ignore[no-untyped-def]
    url = f"/api/v1/recommendations/home?user_id={user}&k={k}&strategy={strategy}"
    url += "&explain=true" if explain else ""
    url += "&strict_prerequisites=true" if strict else ""
    world["response"] = world["client"].get(url)
    world["user"] = user


@when(parsers.parse('a learner looks at courses similar to "{title}"'))
def look_similar(world, title):  # type: ignore[no-untyped-def]
    world["response"] = world["client"].get(f"/api/v1/recommendations/similar/{course_id(title)}")


@when(parsers.parse('the platform reports that "{user}" viewed and then enrolled in "{title}"'))
def report_view_and_enroll(world, user, title):  # type: ignore[no-untyped-def]
    world["batch"] = [an_event(world, user, title, "view"), an_event(world, user, title, "enroll")]
    world["first"] = post_events(world, world["batch"]).json


@when("the platform sends the same report again")
def report_again(world):  # type: ignore[no-untyped-def]
    world["second"] = post_events(world, world["batch"]).json


@when(parsers.parse('"{user}" clicks the first recommendation'))
def click_first(world, user):  # type: ignore[no-untyped-def]
    served = world["response"].json
    title = served["items"][0]["title"]
    click = an_event(world, user, title, "click", recommendation_id=served["recommendation_id"])
    del click["occurred_at"]  # it happens as it arrives, after the list was served
    world["response"] = post_events(world, [click])


@when(parsers.parse('the platform reports a batch whose second event is a "{kind}" of "{title}"'))
def report_bad_batch(world, kind, title):  # type: ignore[no-untyped-def]
    batch = [an_event(world, "ana", title, "enroll"), an_event(world, "ana", title, kind)]
    world["response"] = post_events(world, batch)


def served_ids(world) -> list[str]:  # type: ignore[no-untyped-def]
    return [item["course_id"] for item in world["response"].json["items"]]


@then(parsers.parse('"{title}" is not among them'))
def not_among(world, title):  # type: ignore[no-untyped-def]
    assert served_ids(world) and course_id(title) not in served_ids(world)


@then(parsers.parse('every course is one "{user}" has not taken'))
def none_taken(world, user):  # type: ignore[no-untyped-def]
    assert not set(served_ids(world)) & world["taken"].get(user, set())


@then(parsers.parse('the first recommendation is "{title}"'))
def first_is(world, title):  # type: ignore[no-untyped-def]
    assert served_ids(world)[0] == course_id(title)


@then(parsers.parse('its reason reads "{reason}"'))
def reason_reads(world, reason):  # type: ignore[no-untyped-def]
    assert world["response"].json["items"][0]["reason"] == reason


@then(parsers.parse("there are {n:d} recommendations from {strategy}"))
def there_are(world, n, strategy):  # type: ignore[no-untyped-def]
    body = world["response"].json
    assert (len(body["items"]), body["strategy"], body.get("fallback_from")) == (n, strategy, None)


@then(parsers.parse('the reason for "{title}" reads "{reason}"'))
def reason_for(world, title, reason):  # type: ignore[no-untyped-def]
    reasons = {i["course_id"]: i["reason"] for i in world["response"].json["items"]}
    assert reasons[course_id(title)] == reason


@then(parsers.parse("the answer comes from {actual} instead of {asked}"))
def fell_back(world, actual, asked):  # type: ignore[no-untyped-def]
    body = world["response"].json
    assert (body["strategy"], body["fallback_from"]) == (actual, asked)


@then(parsers.parse('the first similar course is "{title}"'))
def first_similar(world, title):  # type: ignore[no-untyped-def]
    assert served_ids(world)[0] == course_id(title)


@then(parsers.parse('"{title}" itself is not among them'))
def not_itself(world, title):  # type: ignore[no-untyped-def]
    assert course_id(title) not in served_ids(world)


@then("they are told the course does not exist")
def told_missing(world):  # type: ignore[no-untyped-def]
    assert world["response"].status_code == 404
    assert "does not exist" in world["response"].json["error"]["message"]


@then(parsers.parse("{n:d} events were accepted the first time"))
def accepted_first(world, n):  # type: ignore[no-untyped-def]
    assert world["first"] == {"accepted": n, "duplicates": 0, "ignored": {}}


@then(parsers.parse("{n:d} were recognised as duplicates the second time"))
def duplicates_second(world, n):  # type: ignore[no-untyped-def]
    assert world["second"] == {"accepted": 0, "duplicates": n, "ignored": {}}


@then("the click is accepted")
def click_accepted(world):  # type: ignore[no-untyped-def]
    assert world["response"].json == {"accepted": 1, "duplicates": 0, "ignored": {}}


@then(parsers.parse('the batch is refused, naming event {index:d} and the field "{field}"'))
def batch_refused(world, index, field):  # type: ignore[no-untyped-def]
    assert world["response"].status_code == 400
    problem = world["response"].json["error"]["problems"][0]
    assert (problem["index"], problem["field"]) == (index, field)


@then("nothing from the batch was recorded")
def nothing_recorded(world):  # type: ignore[no-untyped-def]
    url = "/api/v1/recommendations/home?user_id=ana&strategy=popularity&k=10"
    body = world["client"].get(url).json
    assert course_id("SQL Basics") in [
        item["course_id"] for item in body["items"]
    ]  # the enrolment was not kept


@then(parsers.parse('the request is refused, naming the field "{field}"'))
def request_refused(world, field):  # type: ignore[no-untyped-def]
    assert world["response"].status_code == 400
    assert world["response"].json["error"]["problems"][0]["field"] == field


@then("the request is refused and the valid strategies are listed")
def refused_with_valid(world):  # type: ignore[no-untyped-def]
    assert world["response"].status_code == 400
    assert "popularity" in world["response"].json["error"]["valid"]


@then(parsers.parse('"{later}" comes after "{earlier}"'))
def comes_after(world, later, earlier):  # type: ignore[no-untyped-def]
    ids = served_ids(world)
    assert ids.index(course_id(earlier)) < ids.index(course_id(later))


@then(parsers.parse("they cover at least {n:d} subjects"))
def variety(world, n):  # type: ignore[no-untyped-def]
    categories = {
        world["client"].get(f"/api/v1/courses/{c}").json["category"] for c in served_ids(world)
    }
    assert len(categories) >= n, categories


@then("every recommendation has a reason")
def every_reason(world):  # type: ignore[no-untyped-def]
    assert all(item["reason"] for item in world["response"].json["items"])


@then(parsers.parse('no reason names a course "{user}" never touched'))
def reasons_are_true(world, user):  # type: ignore[no-untyped-def]
    """...but for the prerequisites still to take, which a reason names after "; take"."""
    touched = world["touched"].get(user, set())
    courses = world["client"].get("/api/v1/courses?limit=100").json["items"]
    titles = {c["course_id"]: c["title"] for c in courses}
    needs = {c["course_id"]: {titles[p] for p in c["prerequisites"]} for c in courses}
    for item in world["response"].json["items"]:
        said, _, first = item["reason"].partition("; take ")
        named = {t for t in titles.values() if t in said and t != item["title"]}
        assert named <= touched, (item["reason"], touched)
        assert {t for t in titles.values() if t in first} <= needs[item["course_id"]]
