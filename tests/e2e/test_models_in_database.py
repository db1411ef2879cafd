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
from tests.e2e.test_readiness import published_by_a_trainer
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


def test_copy_models_cut_off_mid_way_says_what_it_copied_and_copies_the_rest_when_run_again(
    database_url, tmp_path, monkeypatch
):
    """A folder that refuses one model (here a file where its folder goes; a full disk alike):
    the error alone was printed, so the operator could not tell what had been copied."""
    published_by_a_trainer(database_url, models_store="database")
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "content").write_text("not a folder")
    monkeypatch.setenv("RS_DATABASE_URL", database_url)
    monkeypatch.setenv("RS_MODELS_DIR", str(folder))
    run = CliRunner().invoke
    cut = run(cli, ["copy-models"])
    assert cut.exit_code == 1 and "Traceback" not in cut.output, cut.output
    *copied, error = cut.output.strip().splitlines()
    assert copied and all(": copied " in line for line in copied), cut.output
    assert error.startswith("Error: content could not be published"), error
    assert error.endswith(f"{len(copied)} copied above stay, and copy-models again copies the rest")
    (folder / "content").unlink()
    again = run(cli, ["copy-models"])
    assert again.exit_code == 0, again.output
    for line in copied:
        assert f"{line.split(':')[0]}: kept the version already there" in again.output
    assert "content: copied " in again.output


def test_copy_models_whose_output_fails_does_not_call_a_copied_model_unpublished(
    database_url, tmp_path, monkeypatch
):
    """`recsys copy-models | head -1`: the closed pipe was reported as the model just copied
    not being published."""
    import click

    published_by_a_trainer(database_url, models_store="database")
    monkeypatch.setenv("RS_DATABASE_URL", database_url)
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
    echo = click.echo

    def closed_after_one(message=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        if message and ": copied " in str(message) and not message.startswith("popularity"):
            raise BrokenPipeError(32, "Broken pipe")
        echo(message, *args, **kwargs)

    monkeypatch.setattr(click, "echo", closed_after_one)
    cut = CliRunner().invoke(cli, ["copy-models"])
    assert cut.exit_code != 0 and "could not be published" not in cut.output, cut.output


@pytest.mark.postgres
def test_a_trainer_whose_role_cannot_write_the_models_stops_before_fitting_saying_so(
    limited_role, postgres_url, tmp_path, monkeypatch
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
    monkeypatch.setenv("RS_DATABASE_URL", limited_role("INSERT, UPDATE, DELETE")[0])
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
    web.container.engine().dispose()


@pytest.mark.postgres
def test_a_web_host_whose_role_may_not_read_the_models_answers_and_says_what_to_grant(
    postgres_url, limited_role, caplog
):
    """A web role granted the tables before migration 0014 made the models' ones: every home
    list, /similar and the models view were a 500 with a traceback in the log, and /readyz said
    only "ProgrammingError while checking"."""
    import psycopg
    from sqlalchemy.engine import make_url

    published_by_a_trainer(postgres_url, models_store="database")
    limited_url, role = limited_role("ALL")
    web = make_app(limited_url, caught_up=False, models_store="database")
    client = web.test_client()
    answer = client.get(f"{HOME}?user_id=user1&strategy=item_cf")
    assert answer.status_code == 200, answer.json
    assert answer.json["strategy"] == "popularity" and answer.json["fallback_from"] == "item_cf"
    assert client.get("/api/v1/recommendations/similar/course_python_basic").status_code == 200
    assert client.get(f"{HOME}?user_id=user1&strategy=auto").status_code == 200
    for view in ("models", "bandit"):
        assert client.get(f"/admin/recommendations/{view}").status_code == 200, view
    ready = client.get("/readyz")
    message = ready.json["error"]["message"]
    assert ready.status_code == 503 and "GRANT SELECT ON artifact_versions" in message, message
    assert message.count("GRANT") == 1, message  # once, not once per strategy
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"

    dsn = make_url(postgres_url).set(drivername="postgresql")
    with psycopg.connect(dsn.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(
            f"GRANT SELECT ON artifact_versions, artifact_files, artifact_current TO {role}"
        )
    answer = client.get(f"{HOME}?user_id=user1&strategy=item_cf").json
    assert answer["strategy"] == "item_cf" and "fallback_from" not in answer, answer
    web.container.engine().dispose()


@pytest.mark.postgres
def test_copy_models_by_a_role_that_may_not_write_the_models_says_what_to_grant(
    postgres_url, limited_role, tmp_path, monkeypatch
):
    """It printed a traceback (ProgrammingError: permission denied for table artifact_versions)."""
    folder = str(tmp_path / "models")
    published_by_a_trainer(postgres_url, models_dir=folder)
    limited_url, _ = limited_role("ALL")
    monkeypatch.setenv("RS_DATABASE_URL", limited_url)
    monkeypatch.setenv("RS_MODELS_DIR", folder)
    monkeypatch.setenv("RS_MODELS_STORE", "database")
    copied = CliRunner().invoke(cli, ["copy-models"])
    assert copied.exit_code == 1, copied.output
    assert "Traceback" not in copied.output and copied.exception is not None
    assert "GRANT SELECT ON artifact_versions" in copied.output
    assert "INSERT, UPDATE, DELETE" in copied.output
    assert len(copied.output.strip().splitlines()) == 1, copied.output


@pytest.mark.postgres
def test_every_command_on_the_models_by_a_role_not_granted_them_says_what_to_grant(
    postgres_url, limited_role, monkeypatch
):
    """`recsys model-versions` (and `train-two-tower`, the trainer) printed a traceback."""
    from entrypoints.cli import main

    published_by_a_trainer(postgres_url, models_store="database")
    monkeypatch.setenv("RS_DATABASE_URL", limited_role("ALL")[0])
    monkeypatch.setenv("RS_MODELS_STORE", "database")
    monkeypatch.setattr("sys.argv", ["recsys", "model-versions", "item_cf"])
    with pytest.raises(SystemExit) as raised:
        main()
    said = str(raised.value.code)
    assert said.startswith("Error: the database refuses the models' reads"), said
    assert "GRANT SELECT ON artifact_versions" in said and "\n" not in said
