"""Web workers only load what the trainer publishes: they never fit, never read every event."""

from __future__ import annotations

from click.testing import CliRunner

from adapters.item_cf import ItemCFRecommender
from adapters.popularity import PopularityRecommender
from adapters.sequence import SequenceRecommender
from adapters.sqlalchemy.interactions import SqlInteractionRepository
from adapters.tfidf import ContentRecommender
from adapters.two_tower.recommender import TwoTowerRecommender
from entrypoints.cli import cli
from entrypoints.schemas import course_json
from tests.conftest import CATALOG
from tests.e2e.conftest import make_app

HOME = "/api/v1/recommendations/home"


def events(first: int, count: int) -> list[dict]:  # type: ignore[type-arg]
    courses = [c.course_id for c in CATALOG if c.active]
    return [
        {
            "event_id": f"e{n}",
            "user_id": f"user{n % 7}",
            "course_id": courses[(n * 3) % len(courses)],
            "event_type": ["view", "click"][n % 2],
            "occurred_at": f"2026-11-01T10:{n % 60:02d}:00Z",
        }
        for n in range(first, first + count)
    ]


def test_a_worker_serves_with_the_trainer_stopped_and_the_events_table_growing(
    database_url, monkeypatch
):
    app = make_app(database_url, caught_up=False)
    client = app.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    client.post("/api/v1/interactions", json={"events": events(0, 60)})
    app.container.fit_strategies(train_two_tower=None).execute()  # the trainer, then it stops
    published = {
        m["strategy"]: m["version"]
        for m in client.get("/admin/recommendations/models").json["models"]
        if m.get("source") == "published"
    }
    assert set(published) == {"popularity", "content", "item_cf", "sequence"}

    def forbidden(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("a web worker fitted a model or read the whole events table")

    monkeypatch.setattr(SqlInteractionRepository, "stream", forbidden)
    for recommender in (
        PopularityRecommender,
        ContentRecommender,
        ItemCFRecommender,
        SequenceRecommender,
        TwoTowerRecommender,
    ):
        monkeypatch.setattr(recommender, "fit", forbidden)
    for batch in range(3):
        accepted = client.post("/api/v1/interactions", json={"events": events(60 + 40 * batch, 40)})
        assert accepted.status_code == 200 and accepted.json["accepted"] == 40
        for strategy in ("popularity", "content", "item_cf", "sequence", "hybrid"):
            body = client.get(f"{HOME}?user_id=user1&strategy={strategy}&explain=true").json
            assert body["strategy"] == strategy and body["items"], body
            assert all(item["reason"] for item in body["items"])
    still = {
        m["strategy"]: m["version"]
        for m in client.get("/admin/recommendations/models").json["models"]
        if m.get("source") == "published"
    }
    assert still == published
    app.container.engine().dispose()


def test_while_the_database_is_down_home_answers_from_memory_and_writes_get_503(sqlite_url):
    from adapters.sqlalchemy.engine import build_engine

    app = make_app(sqlite_url, caught_up=False, refresh_seconds=3600)
    client = app.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    client.post("/api/v1/interactions", json={"events": events(0, 30)})
    app.container.fit_strategies(train_two_tower=None).execute()
    assert client.get(f"{HOME}?user_id=user1").json["recommendation_id"]  # loaded, recorded
    down = build_engine("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    app.container.engine.override(down)
    served = client.get(f"{HOME}?user_id=user2&strategy=item_cf&explain=true")
    assert served.status_code == 200
    body = served.json
    assert body["degraded"] is True and "recommendation_id" not in body
    assert body["strategy"] == "popularity" and body["items"]  # no history: popular courses
    # ... which may hold what they took: said, so that the LMS leaves those out
    assert body["history_unknown"] is True
    # a learner this worker served before the outage: answered with the history it read then
    served = client.get(f"{HOME}?user_id=user1&strategy=item_cf&explain=true").json
    assert served["degraded"] is True and served["strategy"] == "item_cf", served
    assert "history_unknown" not in served
    for response in (
        client.post("/api/v1/interactions", json={"events": events(100, 1)}),
        client.get("/readyz"),
    ):
        assert response.status_code == 503 and response.headers["Retry-After"]
    assert (
        client.post("/api/v1/interactions", json={"events": events(100, 1)}).json["error"]["code"]
        == "database_unavailable"
    )
    app.container.engine.reset_override()
    down.dispose()
    back = client.get(f"{HOME}?user_id=user2").json
    assert "degraded" not in back and "history_unknown" not in back
    app.container.engine().dispose()


def test_the_trainer_retrains_at_once_after_an_erasure_so_no_model_keeps_the_learner(sqlite_url):
    import json

    from adapters.demo_data import demo_data
    from tests.unit.test_two_tower import FAST

    app = make_app(sqlite_url, caught_up=False, two_tower=FAST, train_interval_seconds=3600)
    data = demo_data(seed=4, learners=40)
    app.container.upsert_courses().execute(data.courses)
    app.container.log_interactions().execute(data.interactions)
    trainer = app.container.trainer(fit_interval=0)
    trainer.run_once()
    store = app.container.artifact_store()

    def trained_users() -> set[str]:
        version = store.current_version("two_tower")
        files = store.load("two_tower", version, only=["trained_users.json"]).files
        return set(json.loads(files["trained_users.json"]))

    assert "user1" in trained_users()
    client = app.test_client()
    assert client.delete("/api/v1/learners/user1").status_code == 200
    published = [f.strategy for f in trainer.run_once() if f.version]
    # every strategy refitted, and the settings chosen again on the data without the learner
    assert {"popularity", "content", "item_cf", "sequence", "tuning", "two_tower"} <= set(published)
    assert published[-1] == "two_tower"
    assert "user1" not in trained_users() and "user2" in trained_users()
    models = client.get("/admin/recommendations/models").json["models"]
    assert not any(m.get("predates_erasure") for m in models)
    app.container.engine().dispose()


def test_a_version_of_the_demo_model_is_under_ten_megabytes(sqlite_url):
    from adapters.demo_data import demo_data

    # the shipped two_tower config, as make run trains it (the settings search is test_tuning's)
    app = make_app(sqlite_url, caught_up=False, tuning_budget_seconds=0)
    data = demo_data()
    app.container.upsert_courses().execute(data.courses)
    app.container.log_interactions().execute(data.interactions)
    app.container.fit_strategies().execute()
    store = app.container.artifact_store()
    version = store.current_version("two_tower")
    manifest = store.load("two_tower", version, only=()).manifest
    size = sum(entry["bytes"] for entry in manifest["files"].values())
    assert manifest["tower"]["members"] == 3 and size < 10 * 1024 * 1024, size
    app.container.engine().dispose()


def test_the_models_page_lists_each_trainer_with_what_its_last_fit_cycle_did(database_url):
    app = make_app(database_url, caught_up=False)
    client = app.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    client.post("/api/v1/interactions", json={"events": events(0, 60)})
    assert client.get("/admin/recommendations/models").json["trainers"] == []
    assert "No trainer seen in the last 7 days" in client.get("/dashboard").text
    trainer = app.container.trainer()
    trainer.fit = lambda: app.container.fit_strategies(train_two_tower=None)  # no torch here
    trainer.run_once()
    (listed,) = client.get("/admin/recommendations/models").json["trainers"]
    assert listed["worker"] == trainer.worker
    assert listed["last_cycle"] == "published popularity, content, item_cf, sequence"
    page = client.get("/dashboard").text
    assert trainer.worker in page and "published popularity, content, item_cf, sequence" in page
    trainer.run_once(force=False)  # within the fit interval: nothing is due, nothing is said
    trainer.fit_interval = 0
    trainer.run_once()
    (again,) = client.get("/admin/recommendations/models").json["trainers"]
    assert again["last_cycle"] == "up to date: nothing to refit"
    assert again["seen_at"] > listed["seen_at"] and again["started_at"] == listed["started_at"]
    app.container.engine().dispose()


def test_the_dashboards_charts_follow_new_lists_and_stay_put_without_them(database_url):
    """Charts are drawn once per set of figures they show (a refresh with nothing new draws
    nothing), so what matters is that new figures are never shown with an old chart."""
    app = make_app(database_url)
    client = app.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    client.post("/api/v1/interactions", json={"events": events(0, 60)})

    def share_chart() -> str:
        page = client.get("/dashboard").text
        (svg,) = [s for s in page.split("<svg")[1:] if 'id="strategy-share' in s.split("</svg>")[0]]
        return svg.split("</svg>")[0]

    client.get("/api/v1/recommendations/home?user_id=user1&strategy=popularity")
    only_popularity = share_chart()
    assert share_chart() == only_popularity
    served = client.get("/api/v1/recommendations/home?user_id=user1&strategy=content").json
    assert served["strategy"] == "content"
    both = share_chart()
    assert both != only_popularity and ">content<" in both
    app.container.engine().dispose()


STRATEGIES = ("popularity", "content", "item_cf", "sequence", "two_tower", "hybrid", "auto")


def test_a_trainer_before_there_are_events_fits_without_failing_and_home_still_answers(
    database_url, tmp_path, monkeypatch
):
    """(Before there are courses it fits nothing: tests/e2e/test_wrong_database.py.)"""
    models = str(tmp_path / "models")
    app = make_app(database_url, caught_up=False, models_dir=models)
    body = {"courses": [course_json(c) for c in CATALOG]}
    assert app.test_client().post("/api/v1/courses", json=body).status_code == 200
    monkeypatch.setenv("RS_DATABASE_URL", database_url)
    monkeypatch.setenv("RS_MODELS_DIR", models)
    result = CliRunner().invoke(cli, ["trainer", "--once"])
    assert result.exit_code == 0, result.output
    assert "failed" not in result.output
    assert "two_tower: nothing published" in result.output and "yet" in result.output
    client = app.test_client()
    for strategy in STRATEGIES:
        response = client.get(f"{HOME}?user_id=x&strategy={strategy}")
        assert response.status_code == 200, (strategy, response.json)
        assert len(response.json["items"]) == 5, strategy
    app.container.engine().dispose()


def test_a_damaged_current_pointer_leaves_a_new_worker_answering(sqlite_url, tmp_path):
    """A pointer that is a directory or not text (a bad restore, a full disk) was a 500 for
    every request of a worker started after it; the strategy now counts as unpublished."""
    models = tmp_path / "models"
    app = make_app(sqlite_url, caught_up=False, models_dir=models)
    client = app.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    client.post("/api/v1/interactions", json={"events": events(0, 30)})
    app.container.fit_strategies(train_two_tower=None).execute()
    (models / "popularity" / "current").unlink()
    (models / "popularity" / "current").mkdir()
    (models / "item_cf" / "current").write_bytes(b"\xff\xfe")
    fresh = make_app(sqlite_url, caught_up=False, models_dir=models).test_client()
    for strategy in ("popularity", "item_cf", "hybrid"):
        answer = fresh.get(f"{HOME}?user_id=user1&strategy={strategy}")
        assert answer.status_code == 200 and answer.json["items"], answer.json
    listed = fresh.get("/admin/recommendations/models")
    assert listed.status_code == 200
    app.container.engine().dispose()
