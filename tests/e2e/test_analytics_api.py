"""The stats endpoints over HTTP: documented shapes and validated input."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import CATALOG

STATS = "/api/v1/recommendations/stats"


def test_user_stats_have_the_documented_shape(client):
    served = client.get("/api/v1/recommendations/home?user_id=user1&strategy=popularity&k=4").json
    client.post(
        "/api/v1/interactions",
        json={
            "user_id": "user1",
            "course_id": served["items"][0]["course_id"],
            "event_type": "click",
            "recommendation_id": served["recommendation_id"],
        },
    )
    body = client.get(f"{STATS}/user/user1").json
    assert set(body) == {
        "user_id",
        "num_recommendations",
        "num_impressions",
        "num_clicks",
        "num_enrolls",
        "ctr",
        "top_categories",
    }
    assert (body["num_recommendations"], body["num_impressions"], body["num_clicks"]) == (1, 4, 1)
    assert body["ctr"] == 0.25 and body["top_categories"][0]["count"] == 1


def test_clicking_one_served_course_again_and_again_is_one_click_through(client):
    """A list of one course clicked three times and enrolled in twice: the learner's, the
    platform's, the strategy's and the day's CTR are 1.0, not 3.0; popular courses, which count
    every event, still count them all."""
    served = client.get("/api/v1/recommendations/home?user_id=user1&strategy=popularity&k=1").json
    course = served["items"][0]["course_id"]
    events = [
        {
            "event_id": f"{kind}-{n}",
            "user_id": "user1",
            "course_id": course,
            "event_type": kind,
            "recommendation_id": served["recommendation_id"],
        }
        for kind, times in (("click", 3), ("enroll", 2))
        for n in range(times)
    ]
    assert client.post("/api/v1/interactions", json={"events": events}).json["accepted"] == 5
    user = client.get(f"{STATS}/user/user1").json
    assert (user["num_impressions"], user["num_clicks"], user["num_enrolls"], user["ctr"]) == (
        1,
        1,
        1,
        1.0,
    )
    platform = client.get(f"{STATS}/global?days=1").json
    assert (platform["ctr"], platform["strategy_ctr"]) == (1.0, {"popularity": 1.0})
    [day] = platform["daily"]
    assert (day["clicks"], day["enrolls"], day["ctr"]) == (1, 1, 1.0)
    [popular] = platform["most_popular_courses"]
    assert (popular["course_id"], popular["enrolls"], popular["clicks"]) == (course, 2, 3)


def test_an_empty_list_is_answered_but_not_counted_as_a_recommendation(client):
    """A learner who took every active course gets an empty list, without an id to credit:
    it shows nothing, so it is no recommendation and no share of any strategy."""
    _took_every_course(client, "user1")
    for strategy in ("popularity", "content", "hybrid"):
        response = client.get(f"/api/v1/recommendations/home?user_id=user1&strategy={strategy}")
        assert response.status_code == 200
        assert response.json["items"] == [] and "recommendation_id" not in response.json
    user = client.get(f"{STATS}/user/user1").json
    assert (user["num_recommendations"], user["num_impressions"]) == (0, 0)
    platform = client.get(f"{STATS}/global?days=1").json
    assert (platform["strategy_distribution"], platform["daily"]) == ({}, [])


def test_an_empty_list_is_counted_in_the_metrics_as_empty_not_as_served(client):
    """recsys_recommendations_served_total counts lists that showed something, as the analytics
    do; an operator sees how many learners got nothing in recsys_recommendations_empty_total."""
    _took_every_course(client, "took_all")

    def count(name: str) -> float:
        families = text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))
        labels = {"endpoint": "home", "strategy": "popularity"}
        found = [
            s.value for f in families for s in f.samples if (s.name, s.labels) == (name, labels)
        ]
        return sum(found)

    served, empty = "recsys_recommendations_served_total", "recsys_recommendations_empty_total"
    before = count(served), count(empty)
    response = client.get("/api/v1/recommendations/home?user_id=took_all&strategy=popularity")
    assert response.json["items"] == []
    assert (count(served), count(empty)) == (before[0], before[1] + 1)
    client.get("/api/v1/recommendations/home?user_id=user3&strategy=popularity")
    assert (count(served), count(empty)) == (before[0] + 1, before[1] + 1)


def _took_every_course(client, user: str) -> None:  # type: ignore[no-untyped-def]
    events = [
        {"user_id": user, "course_id": c.course_id, "event_type": "enroll"}
        for c in CATALOG
        if c.active
    ]
    assert client.post("/api/v1/interactions", json={"events": events}).status_code == 200


def test_an_unknown_learner_has_zeros_not_an_error(client):
    body = client.get(f"{STATS}/user/stranger").json
    assert body["num_recommendations"] == 0 and body["ctr"] == 0 and body["top_categories"] == []


def test_global_stats_have_the_documented_shape(client):
    client.get("/api/v1/recommendations/home?user_id=user1&strategy=popularity")
    body = client.get(f"{STATS}/global?days=7").json
    assert set(body) == {
        "days",
        "ctr",
        "most_popular_courses",
        "strategy_distribution",
        "strategy_ctr",
        "daily",
    }
    assert body["strategy_distribution"] == {"popularity": 1.0}
    assert set(body["daily"][0]) == {
        "date",
        "recommendations",
        "impressions",
        "clicks",
        "enrolls",
        "ctr",
    }


@pytest.mark.parametrize("days", ["0", "366", "week", "-3"])
def test_days_must_be_between_1_and_365(client, days):
    response = client.get(f"{STATS}/global?days={days}")
    assert response.status_code == 400 and response.json["error"]["problems"][0]["field"] == "days"


def test_a_bad_learner_id_is_a_400(client):
    response = client.get(f"{STATS}/user/{'x' * 129}")
    assert response.status_code == 400


def test_a_head_request_for_recommendations_is_answered_but_not_counted_as_served(client):
    from prometheus_client import REGISTRY

    def served() -> float:  # lists served, over every endpoint and strategy
        return sum(
            sample.value
            for metric in REGISTRY.collect()
            for sample in metric.samples
            if sample.name == "recsys_recommendations_served_total"
        )

    before = served()
    home = "/api/v1/recommendations/home?user_id=user1&strategy=popularity"
    assert client.head(home).status_code == 200
    assert client.head("/api/v1/recommendations/similar/course_sql_basic").status_code == 200
    body = client.get(f"{STATS}/user/user1").json
    assert (body["num_recommendations"], body["num_impressions"]) == (0, 0)
    assert served() == before
