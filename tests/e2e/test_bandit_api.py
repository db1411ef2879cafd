"""strategy=auto, update-online-model and the admin views of the bandit and of a recommendation."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from entrypoints.cli import cli
from tests.e2e.conftest import make_app

HOME = "/api/v1/recommendations/home"


@pytest.fixture
def served(database_url, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    models = str(tmp_path / "models")
    monkeypatch.setenv("RS_DATABASE_URL", database_url)
    monkeypatch.setenv("RS_MODELS_DIR", models)
    app = make_app(database_url, models_dir=models)
    client = app.test_client()
    from entrypoints.schemas import course_json
    from tests.conftest import CATALOG

    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    client.post(
        "/api/v1/interactions",
        json={
            "user_id": "u1",
            "course_id": "course_python_basic",
            "event_type": "complete",
            "occurred_at": "2026-11-01T10:00:00Z",
        },
    )
    yield app, client
    app.container.engine().dispose()


def update(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["update-online-model", *args], catch_exceptions=False)


def test_auto_lets_the_bandit_choose_and_says_which(served):
    _, client = served
    body = client.get(f"{HOME}?user_id=u1&strategy=auto").json
    assert body["selected_by"] == "bandit"
    assert body["strategy"] in {"content", "item_cf", "hybrid", "popularity", "two_tower"}


def test_rewards_flow_from_clicks_to_the_arms_once(served):
    app, client = served
    clicks = []
    for _ in range(4):
        body = client.get(f"{HOME}?user_id=u1&strategy=content").json
        clicks.append(
            {
                "user_id": "u1",
                "course_id": body["items"][0]["course_id"],
                "event_type": "click",
                "recommendation_id": body["recommendation_id"],
            }
        )
    client.get(f"{HOME}?user_id=u1&strategy=popularity")
    assert client.post("/api/v1/interactions", json={"events": clicks}).json["accepted"] == 4

    too_few = update("--min-interactions", "10", "--settle-minutes", "0")
    assert "fewer than 10; nothing changed" in too_few.output
    first = update("--min-interactions", "1", "--settle-minutes", "0")
    assert "credited 5 slates and 4 interactions" in first.output
    again = update("--min-interactions", "1", "--settle-minutes", "0")
    assert "nothing changed" in again.output

    arms = {a["strategy"]: a for a in client.get("/admin/recommendations/bandit").json["arms"]}
    assert arms["content"]["pulls"] == 4 and arms["content"]["reward_sum"] == pytest.approx(4 * 0.3)
    assert arms["popularity"]["pulls"] == 1 and arms["popularity"]["mean_reward"] == 0
    assert sum(a["selection_probability"] for a in arms.values()) == pytest.approx(1.0)
    assert arms["content"]["selection_probability"] > arms["popularity"]["selection_probability"]


def test_explain_says_why_a_course_is_not_recommended(served):
    _, client = served
    body = client.get(
        "/admin/recommendations/explain?user_id=u1&course_id=course_python_basic"
    ).json
    assert body["removed_by"] == ["removed: the learner completed it"]
    nxt = client.get(
        "/admin/recommendations/explain?user_id=u9&course_id=course_python_intermediate&strategy=popularity"
    ).json
    popularity = nxt["strategies"][0]
    assert popularity["strategy"] == "popularity" and popularity["rank"] is not None
    assert any(
        rule.startswith("demoted: prerequisites not taken (Python Basics)")
        for rule in popularity["rules"]
    )
    boosted = client.get(
        "/admin/recommendations/explain?user_id=u1&course_id=course_python_intermediate&strategy=content"
    ).json
    assert any(
        rule.startswith("boosted: next step after Python Basics")
        for rule in boosted["strategies"][0]["rules"]
    )
    assert client.get("/admin/recommendations/explain?user_id=u1&course_id=nope").status_code == 404


def test_auto_keeps_answering_after_the_bandit_learned(served):
    _, client = served
    body = client.get(f"{HOME}?user_id=u1&strategy=content").json
    client.post(
        "/api/v1/interactions",
        json={
            "user_id": "u1",
            "course_id": body["items"][0]["course_id"],
            "event_type": "enroll",
            "recommendation_id": body["recommendation_id"],
        },
    )
    assert "credited" in update("--min-interactions", "1", "--settle-minutes", "0").output
    for _ in range(3):
        assert client.get(f"{HOME}?user_id=u1&strategy=auto").json["selected_by"] == "bandit"
