"""RS_MODELS_STORE=database: trainers publish into the database and web workers load from it, so
hosts share PostgreSQL alone, no volume beside it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from entrypoints.cli import cli
from entrypoints.schemas import course_json
from tests.conftest import CATALOG
from tests.e2e.conftest import make_app
from tests.e2e.test_serving import HOME, events


def test_hosts_that_share_only_the_database_serve_and_roll_back_what_a_trainer_published(
    database_url, tmp_path, monkeypatch
):
    web = make_app(
        database_url, caught_up=False, models_store="database", models_dir=str(tmp_path / "web")
    )
    client = web.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    client.post("/api/v1/interactions", json={"events": events(0, 60)})
    # the trainer's host: another folder, which it never needs
    monkeypatch.setenv("RS_DATABASE_URL", database_url)
    monkeypatch.setenv("RS_MODELS_STORE", "database")
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "trainer"))
    run = CliRunner().invoke
    first = run(cli, ["trainer", "--once"])
    assert first.exit_code == 0 and "failed" not in first.output, first.output
    assert not (tmp_path / "trainer").exists() and not (tmp_path / "web").exists()
    answer = client.get(f"{HOME}?user_id=user1&strategy=item_cf").json
    assert answer["strategy"] == "item_cf" and "fallback_from" not in answer, answer
    listed = client.get("/admin/recommendations/models").json
    (older,) = [m["version"] for m in listed["models"] if m["strategy"] == "item_cf"]

    assert run(cli, ["trainer", "--once", "--force"]).exit_code == 0
    rolled = run(cli, ["rollback", "item_cf"])
    assert rolled.exit_code == 0 and f"rolled item_cf back to {older}" in rolled.output
    versions = run(cli, ["model-versions", "item_cf"])
    assert versions.exit_code == 0 and older in versions.output, versions.output
    served = client.get("/admin/recommendations/models").json
    (item_cf,) = [m for m in served["models"] if m["strategy"] == "item_cf"]
    assert item_cf["restores"] == older, item_cf
    web.container.engine().dispose()


def test_models_in_the_database_need_a_sql_database(monkeypatch):
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    monkeypatch.setenv("RS_MODELS_STORE", "database")
    result = CliRunner().invoke(cli, ["show-config"])
    assert result.exit_code == 1
    assert "RS_MODELS_STORE='database'" in result.output and "Traceback" not in result.output


def test_copy_models_moves_a_deployment_into_the_database_without_fitting_again(
    database_url, tmp_path, monkeypatch
):
    """Models published in a folder, then RS_MODELS_STORE=database: `recsys copy-models` brings
    the current versions over, web workers answer from them at once, and the trainer finds every
    strategy up to date (a two_tower training takes hours at scale)."""
    folder = str(tmp_path / "models")
    web = make_app(database_url, caught_up=False, models_dir=folder)
    client = web.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    client.post("/api/v1/interactions", json={"events": events(0, 60)})
    monkeypatch.setenv("RS_DATABASE_URL", database_url)
    monkeypatch.setenv("RS_MODELS_DIR", folder)
    run = CliRunner().invoke
    assert run(cli, ["trainer", "--once"]).exit_code == 0
    before = {m["strategy"]: m for m in client.get("/admin/recommendations/models").json["models"]}

    monkeypatch.setenv("RS_MODELS_STORE", "database")
    copied = run(cli, ["copy-models"])
    assert copied.exit_code == 0, copied.output
    assert (
        "item_cf: copied " in copied.output and "models copied into the database" in copied.output
    )
    moved = make_app(database_url, caught_up=False, models_store="database", models_dir="/nowhere")
    after = {
        m["strategy"]: m
        for m in moved.test_client().get("/admin/recommendations/models").json["models"]
    }
    for strategy in ("popularity", "content", "item_cf", "sequence"):
        assert after[strategy]["version"] != before[strategy]["version"]
        assert after[strategy]["trained_at"] == before[strategy]["trained_at"], strategy
    cycle = run(cli, ["trainer", "--once"])
    assert cycle.exit_code == 0 and "published" not in cycle.output, cycle.output
    again = run(cli, ["copy-models"])  # what is there already is kept
    assert "item_cf: kept the version already there" in again.output
    assert "0 models copied" in again.output
    for app in (web, moved):
        app.container.engine().dispose()


@pytest.mark.postgres
def test_a_trainer_whose_role_cannot_write_the_models_stops_before_fitting_saying_so(
    models_ungranted_url, postgres_url, tmp_path, monkeypatch
):
    """Tables migration 0014 made under another role, never granted to the trainer's: it stops
    once it has migrated, in one line naming the grants, rather than after a whole fit (hours,
    for two_tower at scale) whose publish the database refuses. Run once, and run for good;
    `train-two-tower` refuses at once alike."""
    web = make_app(postgres_url, caught_up=False)
    client = web.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    client.post("/api/v1/interactions", json={"events": events(0, 60)})
    web.container.engine().dispose()
    monkeypatch.setenv("RS_DATABASE_URL", models_ungranted_url)
    monkeypatch.setenv("RS_MODELS_STORE", "database")
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "unused"))
    for command in (["trainer", "--once"], ["trainer"], ["train-two-tower"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 1, result.output
        last = result.output.strip().splitlines()[-1]
        assert last.startswith(
            "Error: RS_MODELS_STORE=database is not writable: the database refuses the models' "
            "writes (permission denied for table artifact_versions); this role needs SELECT, "
        ), result.output
        assert "published" not in result.output and "Traceback" not in result.output
    with web.container.engine().connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM artifact_versions")).scalar() == 0
