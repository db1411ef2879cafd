"""Erasing a learner: nothing about them is left, and the next model never saw them."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import MetaData, create_engine, select

from adapters.fs_artifacts import FilesystemArtifactStore
from adapters.sqlalchemy.interactions import SqlInteractionRepository
from entrypoints.cli import cli
from entrypoints.schemas import course_json
from tests.conftest import CATALOG
from tests.e2e.conftest import catch_up, make_app
from tests.e2e.test_openapi import _response
from tests.e2e.test_xapi_api import XAPI

LEARNER = "learner-4711"
STRANGER = "never-seen-learner"
TOKEN = "t0k3n"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOME = "/api/v1/recommendations/home"
_LATER = {"user_id": LEARNER, "course_id": "course_sql_basic", "event_type": "enroll"}


def rows_mentioning(url: str, needle: str) -> list[tuple[str, tuple]]:  # type: ignore[type-arg]
    """Every row of every table whose text contains `needle`."""
    engine = create_engine(url)
    tables = MetaData()
    tables.reflect(engine)
    found = []
    with engine.connect() as connection:
        for table in tables.sorted_tables:
            for row in connection.execute(select(table)):
                if any(needle in json.dumps(value, default=str) for value in row):
                    found.append((table.name, tuple(row)))
    engine.dispose()
    return found


def _learner_activity(client) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    events = [
        {"user_id": LEARNER, "course_id": c, "event_type": t, "occurred_at": now}
        for c, t in (("course_python_basic", "complete"), ("course_sql_basic", "view"))
    ]
    events += [
        {"user_id": f"other{i}", "course_id": "course_ml_basic", "event_type": "enroll"}
        for i in range(3)
    ]
    assert client.post("/api/v1/interactions", json={"events": events}).status_code == 200
    served = client.get(f"{HOME}?user_id={LEARNER}&strategy=popularity&k=3").json
    click = {
        "user_id": LEARNER,
        "course_id": served["items"][0]["course_id"],
        "event_type": "click",
        "recommendation_id": served["recommendation_id"],
    }
    assert client.post("/api/v1/interactions", json=click).status_code == 200
    statement = {
        "actor": {"account": {"homePage": "https://lms.example", "name": LEARNER}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/registered"},
        "object": {"id": "https://lms.example/courses/course_spanish_basic"},
    }
    xapi = client.post("/api/v1/xapi/statements", json=statement, headers=XAPI | AUTH)
    assert xapi.status_code == 200


def _served(client, user: str, strategy: str) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    body = client.get(f"{HOME}?user_id={user}&strategy={strategy}&k=5").json
    return [(item["course_id"], item["score"]) for item in body["items"]]


def test_after_an_erasure_no_row_mentions_the_learner_and_they_are_a_new_learner(database_url):
    app = make_app(database_url, admin_token=TOKEN)
    client = app.test_client()
    catalog = {"courses": [course_json(c) for c in CATALOG]}
    assert client.post("/api/v1/courses", json=catalog, headers=AUTH).status_code == 200
    _learner_activity(client)
    before = client.get("/api/v1/recommendations/stats/global").json
    assert rows_mentioning(database_url, LEARNER)

    response = client.delete(f"/api/v1/learners/{LEARNER}", headers=AUTH)

    assert response.status_code == 200
    assert response.json["removed"] == {
        "events": 4,
        "slates": 1,
        "impressions": 3,
        "statements": 1,
        "attributions": 0,
    }
    assert rows_mentioning(database_url, LEARNER) == []
    erasures = rows_mentioning(database_url, hashlib.sha256(LEARNER.encode()).hexdigest())
    assert [table for table, _ in erasures] == ["erasures"]
    after = client.get("/api/v1/recommendations/stats/global").json
    assert sum(d["recommendations"] for d in after["daily"]) == (
        sum(d["recommendations"] for d in before["daily"]) - 1
    )
    assert sum(d["clicks"] for d in after["daily"]) == sum(d["clicks"] for d in before["daily"]) - 1
    for strategy in ("popularity", "content", "item_cf", "sequence"):
        assert _served(client, LEARNER, strategy) == _served(client, STRANGER, strategy)
    mine = client.get(f"/api/v1/recommendations/stats/user/{LEARNER}").json
    new = client.get(f"/api/v1/recommendations/stats/user/{STRANGER}").json
    assert mine | {"user_id": STRANGER} == new
    app.container.engine().dispose()


def test_erasing_needs_the_admin_token_and_a_valid_id(sqlite_url):
    app = make_app(sqlite_url, admin_token=TOKEN)
    client = app.test_client()
    assert client.delete(f"/api/v1/learners/{LEARNER}").status_code == 401
    assert client.delete(f"/api/v1/learners/{'x' * 200}", headers=AUTH).status_code == 400
    unknown = client.delete(f"/api/v1/learners/{STRANGER}", headers=AUTH)
    assert unknown.status_code == 200 and set(unknown.json["removed"].values()) == {0}
    app.container.engine().dispose()


def _trained_users(models: str) -> set[str]:
    store = FilesystemArtifactStore(models)
    artifact = store.load("two_tower", store.current_version("two_tower") or "")
    return set(json.loads(artifact.files["trained_users.json"]))


def _predates(database_url: str, models: str) -> bool | None:
    app = make_app(database_url, models_dir=models)
    listed = app.test_client().get("/admin/recommendations/models").json["models"]
    app.container.engine().dispose()
    return next(m["predates_erasure"] for m in listed if m["strategy"] == "two_tower")


def test_the_next_published_model_does_not_contain_an_erased_learner(
    sqlite_url, tmp_path, monkeypatch
):
    models = str(tmp_path / "models")
    monkeypatch.setenv("RS_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("RS_MODELS_DIR", models)
    config = tmp_path / "two_tower.yaml"
    config.write_text(
        "epochs: 2\nbatch_size: 64\nbuckets: 4096\nuser_buckets: 1024\nembedding_dim: 16\nhidden_dims: [32]\n"
    )
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    run("demo-data", "--learners", "60")
    run("train-two-tower", "--config", str(config))
    first = _trained_users(models)
    erased = sorted(first)[0]
    assert _predates(sqlite_url, models) is False

    output = run("erase-learner", erased, "--yes").output
    assert f"erased {erased}" in output and "events" in output
    assert _predates(sqlite_url, models) is True

    run("train-two-tower", "--config", str(config))
    second = _trained_users(models)
    assert erased not in second and second == first - {erased}
    assert _predates(sqlite_url, models) is False


INTERACTIONS = "/api/v1/interactions"
REPLAY = "happened before the learner was erased"


def _erased_after_a_view_and_a_click(client) -> tuple[dict, dict]:  # type: ignore[type-arg,no-untyped-def]
    """LEARNER viewed a course and clicked one in a list they were shown, then was erased: the
    two events, as an LMS would replay them."""
    catalog = {"courses": [course_json(c) for c in CATALOG]}
    assert client.post("/api/v1/courses", json=catalog, headers=AUTH).status_code == 200
    served = client.get(f"{HOME}?user_id={LEARNER}&strategy=popularity&k=3").json
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    view = {"event_id": "e1", "user_id": LEARNER, "course_id": "course_ml_basic",
            "event_type": "view", "occurred_at": now}  # fmt: skip
    click = view | {
        "event_id": "e2",
        "course_id": served["items"][0]["course_id"],
        "event_type": "click",
        "recommendation_id": served["recommendation_id"],
    }
    assert client.post(INTERACTIONS, json={"events": [view, click]}).json["accepted"] == 2
    assert client.delete(f"/api/v1/learners/{LEARNER}", headers=AUTH).status_code == 200
    return view, click


def test_events_replayed_after_an_erasure_are_ignored_and_said_so(database_url):
    app = make_app(database_url, admin_token=TOKEN)
    client = app.test_client()
    view, click = _erased_after_a_view_and_a_click(client)
    # erased before anything of theirs arrived: their backlog is still what was erased
    assert client.delete(f"/api/v1/learners/{STRANGER}", headers=AUTH).status_code == 200
    backlog = view | {"event_id": "e3", "user_id": STRANGER}

    replayed = client.post(INTERACTIONS, json=view)
    both = client.post(INTERACTIONS, json={"events": [click, backlog]})

    assert replayed.status_code == 200
    assert replayed.json == {"accepted": 0, "duplicates": 0, "ignored": {REPLAY: 1}}
    assert both.json == {"accepted": 0, "duplicates": 0, "ignored": {REPLAY: 2}}
    documented = _response(client.get("/openapi.json").json, INTERACTIONS, "post", "200")
    assert documented.is_valid(replayed.json) and documented.is_valid(both.json)
    assert rows_mentioning(database_url, LEARNER) == []
    assert rows_mentioning(database_url, STRANGER) == []
    app.container.engine().dispose()


def test_what_an_erased_learner_does_afterwards_is_theirs_again(database_url):
    app = make_app(database_url, admin_token=TOKEN)
    client = app.test_client()
    _, click = _erased_after_a_view_and_a_click(client)
    later = {"user_id": LEARNER, "course_id": "course_sql_basic", "event_type": "enroll"}

    logged = client.post(INTERACTIONS, json={"events": [later, click]})

    assert logged.json == {"accepted": 1, "duplicates": 0, "ignored": {REPLAY: 1}}
    assert [table for table, _ in rows_mentioning(database_url, LEARNER)] == ["interactions"]
    assert client.post(INTERACTIONS, json=later | {"event_id": "e4"}).json == {
        "accepted": 1,
        "duplicates": 0,
        "ignored": {},
    }
    app.container.engine().dispose()


def test_a_list_made_while_its_learner_was_erased_is_answered_but_not_kept(
    database_url, monkeypatch
):
    """The erasure commits after the home request read the learner's history and before it
    recorded the list: the list is answered (as if sent a moment earlier) without an id to
    credit, and no row of it names the learner, as the erasure said."""
    app = make_app(database_url, admin_token=TOKEN)
    client = app.test_client()
    _erased_after_a_view_and_a_click(client)
    assert client.post(INTERACTIONS, json=_LATER).status_code == 200  # theirs again
    read = SqlInteractionRepository.history

    def then_erased(self, user_id):  # type: ignore[no-untyped-def]
        history = read(self, user_id)
        if user_id == LEARNER:
            assert client.delete(f"/api/v1/learners/{LEARNER}", headers=AUTH).status_code == 200
        return history

    monkeypatch.setattr(SqlInteractionRepository, "history", then_erased)
    served = client.get(f"{HOME}?user_id={LEARNER}&strategy=popularity&k=3")
    assert served.status_code == 200 and served.json["items"]
    assert "recommendation_id" not in served.json
    assert rows_mentioning(database_url, LEARNER) == []
    monkeypatch.setattr(SqlInteractionRepository, "history", read)
    again = client.get(f"{HOME}?user_id={LEARNER}&strategy=popularity&k=3").json
    assert [t for t, _ in rows_mentioning(database_url, LEARNER)] == ["slates"]  # after: kept
    assert again["recommendation_id"]
    app.container.engine().dispose()


def _cli(database_url: str, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RS_DATABASE_URL", database_url)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_importing_an_erased_learners_old_events_again_stores_none_of_them(
    database_url, tmp_path, monkeypatch
):
    run = _cli(database_url, monkeypatch)
    (tmp_path / "courses.jsonl").write_text("\n".join(json.dumps(course_json(c)) for c in CATALOG))
    run("import-courses", str(tmp_path / "courses.jsonl"))
    old = "2026-01-01T00:00:00Z"
    rows = [
        (f"e{i}", LEARNER, "course_python_basic", kind, old)
        for i, kind in enumerate(("view", "enroll"))
    ]
    rows.append(("e9", "other", "course_sql_basic", "view", old))
    events = tmp_path / "events.csv"
    events.write_text(
        "event_id,user_id,course_id,event_type,occurred_at\n"
        + "".join(",".join(row) + "\n" for row in rows)
    )
    assert "imported 3 events" in run("import-interactions", str(events))
    run("erase-learner", LEARNER, "--yes")

    again = run("import-interactions", str(events))

    assert f"imported 0 events (1 already stored); 2 ignored ({REPLAY}: 2)" in again
    assert rows_mentioning(database_url, LEARNER) == []


def test_loading_the_demo_again_does_not_bring_an_erased_demo_learner_back(
    database_url, monkeypatch
):
    run = _cli(database_url, monkeypatch)
    run("demo-data", "--learners", "30", "--seed", "7")
    learner = json.dumps("user3")  # quoted: not user30
    assert rows_mentioning(database_url, learner)
    run("erase-learner", "user3", "--yes")

    again = run("demo-data", "--learners", "30", "--seed", "7")

    assert "nothing added" in again and "(erased learners left out: 1)" in again
    assert rows_mentioning(database_url, learner) == []


def test_erasing_a_learner_never_seen_does_not_mark_the_models_as_holding_erased_data(
    database_url,
):
    app = make_app(database_url, caught_up=False, admin_token=TOKEN)
    client = app.test_client()
    catalog = {"courses": [course_json(c) for c in CATALOG]}
    assert client.post("/api/v1/courses", json=catalog, headers=AUTH).status_code == 200
    _learner_activity(client)
    catch_up(app)

    def predates() -> set[bool | None]:
        models = client.get("/admin/recommendations/models", headers=AUTH).json["models"]
        return {m["predates_erasure"] for m in models if m.get("trained_at")}

    assert client.delete(f"/api/v1/learners/{STRANGER}", headers=AUTH).status_code == 200
    assert predates() == {False}
    assert client.get("/admin/recommendations/models", headers=AUTH).json["latest_erasure"] is None
    client.delete(f"/api/v1/learners/{LEARNER}", headers=AUTH)
    assert predates() == {True}  # until the trainer fits the models again
    app.container.engine().dispose()


def test_a_learner_whose_id_holds_slashes_can_be_read_and_erased_over_http(database_url):
    """xAPI learners qualified by their LMS ("user7@https://lms.example", RS_XAPI_MAPPING's
    qualify_accounts) have "/" in their ids, sent as %2F: their stats and their erasure were a
    404, so a deletion request could not be carried out over the API."""
    from urllib.parse import quote

    app = make_app(database_url, admin_token=TOKEN)
    client = app.test_client()
    courses = {"courses": [course_json(c) for c in CATALOG]}
    assert client.post("/api/v1/courses", json=courses, headers=AUTH).status_code == 200
    qualified = "user7@https://lms.example"
    event = {"user_id": qualified, "course_id": "course_python_basic", "event_type": "enroll"}
    assert client.post(INTERACTIONS, json=event).status_code == 200
    path = quote(qualified, safe="")
    assert client.get(f"/api/v1/recommendations/home?user_id={path}").status_code == 200
    stats = client.get(f"/api/v1/recommendations/stats/user/{path}")
    assert stats.status_code == 200 and stats.json["user_id"] == qualified
    assert stats.json["num_recommendations"] == 1
    erased = client.delete(f"/api/v1/learners/{path}", headers=AUTH)
    assert erased.status_code == 200 and erased.json["removed"]["events"] == 1
    assert rows_mentioning(database_url, qualified) == []
    app.container.engine().dispose()


def test_a_trailing_slash_does_not_erase_a_learner_named_with_it(sqlite_url):
    """ "DELETE /learners/user7/" is a typo for user7: a 404, not the erasure of "user7/" (which
    would answer 200 and leave user7's data)."""
    app = make_app(sqlite_url, admin_token=TOKEN)
    client = app.test_client()
    assert client.delete("/api/v1/learners/user7/", headers=AUTH).status_code == 404
    app.container.engine().dispose()


def _erasing_during_the_fit(sqlite_url, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """An app whose learner is erased by item_cf's next fit, once it has read them; and the
    fit as it was, to put back."""
    from adapters.item_cf import ItemCFRecommender
    from domain.model import UserId

    app = make_app(sqlite_url, caught_up=False, admin_token=TOKEN, models_dir=tmp_path / "models")
    client = app.test_client()
    catalog = {"courses": [course_json(c) for c in CATALOG]}
    assert client.post("/api/v1/courses", json=catalog, headers=AUTH).status_code == 200
    _learner_activity(client)
    fit = ItemCFRecommender.fit

    def fit_then_erase(self, courses, events):  # type: ignore[no-untyped-def]
        fit(self, courses, events)
        if any(e.user_id == LEARNER for e in events):
            app.container.erase_learner().execute(UserId(LEARNER))

    monkeypatch.setattr(ItemCFRecommender, "fit", fit_then_erase)
    return app, client, fit


def test_a_learner_erased_while_the_trainer_fits_counts_as_still_in_those_models(
    sqlite_url, tmp_path, monkeypatch
):
    """The models know what the trainer read, and it read the learner before the erasure: a
    version published after it must not pass for one fitted without them (the admin listing, a
    rollback to it, two_tower's retraining all go by the erasure mark read with its data)."""
    from adapters.item_cf import ItemCFRecommender

    app, client, fit = _erasing_during_the_fit(sqlite_url, tmp_path, monkeypatch)
    app.container.fit_strategies(train_two_tower=None).execute()
    listed = client.get("/admin/recommendations/models", headers=AUTH).json["models"]
    item_cf = next(m for m in listed if m["strategy"] == "item_cf")
    assert item_cf["source"] == "published" and item_cf["predates_erasure"] is True, item_cf
    popularity = next(m for m in listed if m["strategy"] == "popularity")
    assert popularity["predates_erasure"] is True  # fitted on the same read, before item_cf
    monkeypatch.setattr(ItemCFRecommender, "fit", fit)
    app.container.fit_strategies(train_two_tower=None).execute()  # the erasure changed the data
    listed = client.get("/admin/recommendations/models", headers=AUTH).json["models"]
    assert all(m["predates_erasure"] is False for m in listed if m.get("source") == "published")
    app.container.engine().dispose()


def test_a_trainer_whose_clock_is_ahead_still_counts_a_learner_erased_during_its_fit(
    sqlite_url, tmp_path, monkeypatch
):
    """The trainer's host an hour ahead of the web host that erased the learner: by the clocks
    the model was fitted after the erasure, so it passed for one without the learner (no
    retraining of two_tower, a rollback to it allowed). The erasure's mark, read before the data,
    says otherwise on any clock."""
    from datetime import timedelta

    from adapters.item_cf import ItemCFRecommender
    from application.use_cases.roll_back_model import RollbackRefused

    app, client, fit = _erasing_during_the_fit(sqlite_url, tmp_path, monkeypatch)
    ahead = lambda: datetime.now(UTC) + timedelta(hours=1)  # noqa: E731
    app.container.fit_strategies(train_two_tower=None, clock=ahead).execute()
    shown = client.get("/admin/recommendations/models", headers=AUTH).json
    item_cf = next(m for m in shown["models"] if m["strategy"] == "item_cf")
    assert item_cf["trained_at"] > shown["latest_erasure"]  # by the clocks, after it
    assert item_cf["predates_erasure"] is True, item_cf
    monkeypatch.setattr(ItemCFRecommender, "fit", fit)
    app.container.fit_strategies(train_two_tower=None, clock=ahead).execute()
    with pytest.raises(RollbackRefused, match="was fitted before a learner was erased"):
        app.container.roll_back_model().execute("item_cf", to=item_cf["version"])
    app.container.engine().dispose()
