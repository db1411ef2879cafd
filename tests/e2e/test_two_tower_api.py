"""two_tower through the API and the admin endpoints, on SQLite."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from click.testing import CliRunner

from adapters.demo_data import demo_data
from entrypoints.cli import cli
from entrypoints.config import ConfigError
from entrypoints.schemas import course_json
from tests.e2e.conftest import make_app
from tests.processes import PATIENCE
from tests.unit.test_two_tower import FAST, took_together

HOME = "/api/v1/recommendations/home"
TOKEN = "t0k3n-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def trained(sqlite_url):  # type: ignore[no-untyped-def]
    # The shipped objective and recency weighting, at a test's size.
    settings = {**FAST, "objective": "next", "recency_decay": 0.5}
    app = make_app(sqlite_url, two_tower=settings, admin_token=TOKEN)
    data = demo_data(seed=5, learners=120)
    container = app.container
    container.upsert_courses().execute(data.courses)
    container.log_interactions().execute(data.interactions[:1000])
    container.log_interactions().execute(data.interactions[1000:])
    client = app.test_client()
    untrained = client.get(f"{HOME}?user_id=user1&strategy=two_tower").json
    assert (untrained["strategy"], untrained["fallback_from"]) == ("popularity", "two_tower")
    container.train_two_tower().execute()
    yield app, client
    container.engine().dispose()


def test_two_tower_home_recommendations_explain_themselves(trained):
    _, client = trained
    body = client.get(f"{HOME}?user_id=user1&strategy=two_tower&explain=true&k=5").json
    assert body["strategy"] == "two_tower" and "fallback_from" not in body
    assert body["model_version"]
    data = demo_data(seed=5, learners=120)
    titles = {c.title: c.course_id for c in data.courses}
    assert len(body["items"]) == 5
    for item in body["items"]:
        named = re.fullmatch(
            r"Because you (viewed|looked at|enrolled in|completed) (.+)", item["reason"]
        )
        if named:  # a course of theirs that some learner took with this one
            assert took_together(data.interactions, titles[named[2]], item["course_id"])
        else:
            assert item["reason"].endswith(("this course before", "new to you"))


def test_a_similar_list_names_the_model_version_that_answered_as_a_home_list_does(trained):
    """A client comparing two_tower's answers across a publish could tell which model gave a
    home list, not which gave a similar list."""
    _, client = trained
    home = client.get(f"{HOME}?user_id=user1&strategy=two_tower").json
    similar = client.get(
        "/api/v1/recommendations/similar/course_python_basic?strategy=two_tower"
    ).json
    assert similar["strategy"] == "two_tower" and similar["model_version"] == home["model_version"]
    assert (
        "model_version"
        not in client.get(
            "/api/v1/recommendations/similar/course_python_basic?strategy=content"
        ).json
    )


def test_a_course_created_after_training_is_similar_and_recommendable_without_retraining(trained):
    app, client = trained
    new = {
        "title": "Python for Data Pipelines",
        "category": "Programming",
        "level": "beginner",
        "tags": ["python", "programming", "scripting"],
        "description": "Start from zero with Python scripting",
    }
    assert (
        client.put("/api/v1/courses/course_python_pipelines", json=new, headers=AUTH).status_code
        == 200
    )
    app.container.trainer().run_once()  # the catalog changed: the trainer re-embeds it
    similar = client.get(
        "/api/v1/recommendations/similar/course_python_basic?strategy=two_tower&k=10"
    ).json
    assert similar["strategy"] == "two_tower"
    assert "course_python_pipelines" in [i["course_id"] for i in similar["items"]]
    every = client.get(f"{HOME}?user_id=user2&strategy=two_tower&k=100").json["items"]
    assert "course_python_pipelines" in [i["course_id"] for i in every]


def test_a_held_two_tower_embeds_a_new_course_with_its_held_weights(trained):
    """An operator's rollback holds the model, not the catalog: a course added afterwards is
    embedded with the held weights, so it can be recommended, and the hold stays."""
    app, client = trained
    store = app.container.artifact_store()
    older = store.current_version("two_tower")
    app.container.train_two_tower().execute()
    run = CliRunner().invoke(cli, ["rollback", "two_tower", "--to", older], obj=app.container)
    assert run.exit_code == 0, run.output
    new = {"title": "Python for Data Pipelines", "category": "Programming", "level": "beginner"}
    assert client.put("/api/v1/courses/course_pipes", json=new, headers=AUTH).status_code == 200
    weights = store.load("two_tower", store.current_version("two_tower")).files["model.pt"]

    app.container.trainer().run_once()

    current = store.load("two_tower", store.current_version("two_tower"))
    assert current.manifest["held"] and current.manifest["restores"] == older
    assert current.files["model.pt"] == weights
    assert "course_pipes" in json.loads(current.files["item_ids.json"])["course_ids"]
    every = client.get(f"{HOME}?user_id=user2&strategy=two_tower&k=100").json
    assert every["model_version"] == current.version
    assert "course_pipes" in [i["course_id"] for i in every["items"]]


def test_admin_endpoints_need_the_token(trained):
    _, client = trained
    assert client.get("/admin/recommendations/models").status_code == 401
    wrong = client.get("/admin/recommendations/models", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and wrong.json["error"]["code"] == "forbidden"
    models = {
        m["strategy"]: m
        for m in client.get("/admin/recommendations/models", headers=AUTH).json["models"]
    }
    tower = models["two_tower"]
    assert tower["loaded"] and tower["embedding_dim"] == 16 and tower["indexed_items"] == 207
    assert (
        tower["index_type"] == "Flat,IP" and "validation_recall@10" in tower["validation_metrics"]
    )
    assert (tower["objective"], tower["recency_decay"]) == ("next", 0.5)
    assert client.put("/api/v1/courses/x", json={"title": "X"}).status_code == 401


def test_reindex_under_concurrent_home_requests_fails_no_request(trained):
    app, client = trained
    before = client.get(f"{HOME}?user_id=user3&strategy=two_tower").json["model_version"]
    statuses: list[int] = []
    versions: set[str] = set()
    stop = threading.Event()

    def browse() -> None:
        local = app.test_client()
        while not stop.is_set():
            response = local.get(f"{HOME}?user_id=user3&strategy=two_tower&k=5")
            statuses.append(response.status_code)
            versions.add(response.json.get("model_version", "none"))

    browsers = [threading.Thread(target=browse) for _ in range(3)]
    for thread in browsers:
        thread.start()
    started = client.post("/admin/recommendations/reindex", headers=AUTH)
    assert started.status_code == 202 and started.json["status"] == "queued"
    job_url = started.json["status_url"]
    trainer = threading.Thread(target=app.container.run_jobs().run_one)
    trainer.start()
    deadline = time.monotonic() + PATIENCE
    while (job := client.get(job_url, headers=AUTH).json)["status"] in (
        "queued",
        "running",
    ) and time.monotonic() < deadline:
        time.sleep(0.05)
    trainer.join()
    time.sleep(0.3)
    stop.set()
    for thread in browsers:
        thread.join()
    assert job["status"] == "succeeded", job
    assert statuses and set(statuses) == {200}
    assert job["result"]["previous"] == before
    assert (
        job["result"]["version"] in versions
        or client.get(f"{HOME}?user_id=user3&strategy=two_tower").json["model_version"]
        == job["result"]["version"]
    )


def test_a_second_reindex_while_one_runs_is_a_conflict(trained):
    app, client = trained
    first = client.post("/admin/recommendations/reindex", headers=AUTH).json
    conflict = client.post("/admin/recommendations/reindex", headers=AUTH)
    assert conflict.status_code == 409 and conflict.json["error"]["code"] == "reindex_running"
    assert app.container.run_jobs().run_one().job_id == first["job_id"]
    done = client.get(first["status_url"], headers=AUTH).json
    assert done["status"] == "succeeded" and done["attempts"] == 1
    assert client.post("/admin/recommendations/reindex", headers=AUTH).status_code == 202
    assert client.get("/admin/recommendations/jobs/nope", headers=AUTH).status_code == 404


def test_without_a_token_admin_answers_only_loopback(sqlite_url):
    app = make_app(sqlite_url, admin_token="")
    client = app.test_client()
    assert client.get("/admin/recommendations/models").status_code == 200
    remote = client.get(
        "/admin/recommendations/models", environ_base={"REMOTE_ADDR": "203.0.113.9"}
    )
    assert remote.status_code == 403


def test_production_refuses_to_start_without_a_token(sqlite_url):
    with pytest.raises(ConfigError, match="RS_ADMIN_TOKEN"):
        make_app(sqlite_url, env="prod", admin_token="")


def test_courses_in_the_readme_format_are_accepted_with_the_token(trained):
    _, client = trained
    course = course_json(demo_data(seed=5, learners=1).courses[0])
    assert (
        client.post("/api/v1/courses", json={"courses": [course]}, headers=AUTH).status_code == 200
    )


def test_show_config_the_yaml_and_the_admin_models_agree_on_every_model_size(sqlite_url, tmp_path):
    import yaml

    from entrypoints.config import load_settings

    path = tmp_path / "two_tower.yaml"
    path.write_text(yaml.safe_dump({**FAST, "members": 2, "epochs": 2}))
    configured = load_settings({"RS_TWO_TOWER_CONFIG": str(path)})
    app = make_app(sqlite_url, two_tower=configured["two_tower"], admin_token=TOKEN)
    data = demo_data(seed=5, learners=60)
    app.container.upsert_courses().execute(data.courses)
    app.container.log_interactions().execute(data.interactions)
    app.container.train_two_tower().execute()
    models = app.test_client().get("/admin/recommendations/models", headers=AUTH).json["models"]
    tower = next(m for m in models if m["strategy"] == "two_tower")
    assert tower["embedding_dim"] == configured["embedding_dim"] == FAST["embedding_dim"]
    assert tower["members"] == configured["two_tower"]["members"] == 2
    assert tower["index_dim"] == 2 * FAST["embedding_dim"]
    app.container.engine().dispose()
