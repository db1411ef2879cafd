"""A command pointed at the wrong database (a mistyped SQLite path, an empty database) changes
nothing: it makes no file, and a trainer publishes no model of no courses over the real ones."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from entrypoints.cli import cli
from tests.e2e.conftest import demo_service, make_app
from tests.processes import PATIENCE

HOME = "/api/v1/recommendations/home?user_id=user1&strategy=popularity"

COMMANDS = [
    ["trainer", "--once"],
    ["demo-data", "--learners", "2"],
    ["import-courses", "courses.csv"],
    ["prepare-training-data", "--output", "out.csv"],
    ["erase-learner", "--yes", "user1"],
    ["update-online-model"],
    ["repair-credit"],
    ["export-embeddings"],
    ["serve", "--port", "18201"],  # refused before it binds
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_command_on_a_sqlite_path_without_a_database_makes_none_and_says_so(
    command, tmp_path, monkeypatch
):
    missing = tmp_path / "mistyped" / "dir" / "recsys.db"
    monkeypatch.setenv("RS_DATABASE_URL", f"sqlite:///{missing}")
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # serve would set its own
    (tmp_path / "courses.csv").write_text("course_id,title\nc1,One\n")
    result = CliRunner().invoke(cli, command, catch_exceptions=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1] == (
        f"Error: there is no SQLite database at {missing}: `recsys init-db` creates one "
        "(or correct RS_DATABASE_URL)"
    )
    assert not (tmp_path / "mistyped").exists()


def test_init_db_makes_the_database_and_its_folder(tmp_path, monkeypatch):
    """What `make run` starts with on a fresh machine."""
    path = tmp_path / "var" / "recsys.db"
    monkeypatch.setenv("RS_DATABASE_URL", f"sqlite:///{path}")
    assert CliRunner().invoke(cli, ["init-db"], catch_exceptions=False).exit_code == 0
    assert path.is_file()
    result = CliRunner().invoke(cli, ["demo-data", "--learners", "3"], catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "what, write", [("a text file", "root:x:0:0:root:/root:/bin/bash\n"), ("a folder", None)]
)
def test_a_sqlite_path_that_is_no_database_is_one_line_for_every_command(
    what, write, tmp_path, monkeypatch
):
    path = tmp_path / "passwd"
    if write is None:
        path.mkdir()
    else:
        path.write_text(write)
    monkeypatch.setenv("RS_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
    said = "is a directory, not" if write is None else "is not"
    for command in (["init-db"], ["trainer", "--once"], ["update-online-model"]):
        result = CliRunner().invoke(cli, command, catch_exceptions=False)
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert result.output == f"Error: {path} {said} an SQLite database\n", command
    if write is not None:
        assert path.read_text() == write


@pytest.fixture
def served(sqlite_url, tmp_path):  # type: ignore[no-untyped-def]
    """A server on a catalog with events, with every strategy published."""
    models = str(tmp_path / "models")
    app, _ = demo_service(sqlite_url, models, learners=40)
    yield app, models
    app.container.engine().dispose()


def _current(app) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    store = app.container.artifact_store()
    return {name: store.current_version(name) for name in app.container.published_strategies()}


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_trainer_on_a_database_without_courses_publishes_nothing_over_the_catalogs_models(
    served, backend, request, tmp_path, monkeypatch
):
    app, models = served
    before = _current(app)
    if backend == "sqlite":
        empty = f"sqlite:///{tmp_path / 'empty.db'}"
        assert CliRunner().invoke(cli, ["init-db"], env={"RS_DATABASE_URL": empty}).exit_code == 0
        shown = empty
    else:  # with a password, which the line must not show
        url = make_url(request.getfixturevalue("postgres_url")).set(password="s3cret-pw")
        empty = url.render_as_string(hide_password=False)
        shown = url.render_as_string(hide_password=True)
    monkeypatch.setenv("RS_DATABASE_URL", empty)
    monkeypatch.setenv("RS_MODELS_DIR", models)
    for command in (["trainer", "--once"], ["trainer", "--once", "--force"]):
        result = CliRunner().invoke(cli, command, catch_exceptions=False)
        assert result.exit_code == 1 and "s3cret" not in result.output
        assert result.output.strip().splitlines()[-1] == (
            f"Error: nothing was fitted: the database {shown} holds no courses; "
            "the published versions stay"
        )
    result = CliRunner().invoke(cli, ["export-embeddings"], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: the database holds no courses: nothing to embed; two_tower "
        f"{before['two_tower']} stays\n"
    )
    assert _current(app) == before
    assert len(app.test_client().get(HOME).json["items"]) == 10


def test_readiness_says_a_catalog_without_courses_is_not_ready(sqlite_url):
    app = make_app(sqlite_url)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.json["error"]["message"] == (
        "the catalog has no courses: import them (`recsys import-courses`, POST /api/v1/courses)"
    )
    app.container.engine().dispose()


def test_readiness_at_a_mistyped_sqlite_path_logs_that_there_is_no_database_there(tmp_path, caplog):
    missing = tmp_path / "mistyped" / "recsys.db"
    app = make_app(f"sqlite:///{missing}", caught_up=False)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["error"]["message"] == "database unreachable (the server's log says why)"
    logged = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(f"there is no SQLite database at {missing}: " in line for line in logged), logged
    assert not missing.parent.exists()
    app.container.engine().dispose()


def test_a_running_trainer_without_courses_says_so_each_cycle_and_publishes_nothing(
    sqlite_url, tmp_path, caplog
):
    import logging
    import threading

    app = make_app(sqlite_url, caught_up=False, models_dir=str(tmp_path / "models"))
    trainer = app.container.trainer()
    trainer.fit_interval, trainer.poll_seconds = 0, 0.05
    stop = threading.Event()
    running = threading.Thread(target=trainer.run_forever, args=(stop,))
    with caplog.at_level(logging.INFO):
        running.start()
        time.sleep(1)
        cycle = app.test_client().get("/admin/recommendations/models").json["trainers"][0]
        stop.set()
        running.join(10)
    said = [r for r in caplog.records if "nothing was fitted" in r.getMessage()]
    assert said and all(r.levelno == logging.WARNING and not r.exc_info for r in said)
    assert said[0].getMessage() == (
        f"nothing was fitted: the database {sqlite_url} holds no courses; "
        "the published versions stay"
    )
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())
    assert cycle["last_cycle"].startswith("nothing was fitted: the database ")
    stopped = app.test_client().get("/admin/recommendations/models").json["trainers"][0]
    assert stopped["last_cycle"] == "stopped: no longer fitting"
    app.container.engine().dispose()


def _trainer_run(database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`recsys trainer` (for good, not --once) started on `database_url`, to its end."""
    env = {
        **os.environ,
        "RS_DATABASE_URL": database_url,
        "RS_MODELS_DIR": str(tmp_path / "models"),
        "RS_LOG_FORMAT": "json",
    }
    command = [sys.executable, "-m", "entrypoints.cli", "trainer"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=PATIENCE)


def test_a_trainer_started_on_a_sqlite_path_without_a_database_stops_instead_of_waiting(
    tmp_path,
):
    """A database that does not answer is waited for; one that is not there never comes."""
    missing = tmp_path / "mistyped" / "recsys.db"
    done = _trainer_run(f"sqlite:///{missing}", tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"Error: there is no SQLite database at {missing}: `recsys init-db` creates one "
        "(or correct RS_DATABASE_URL)"
    )
    assert not missing.parent.exists()


@pytest.mark.postgres
@pytest.mark.parametrize("command", [["import-courses", "courses.csv"], ["trainer", "--once"]])
@pytest.mark.parametrize("missing", ["database", "role"])
def test_a_postgresql_database_or_role_the_server_lacks_is_said_so_not_to_retry(
    postgres_engine, command, missing, tmp_path, monkeypatch
):
    """An operator who mistyped the database name was told it was unavailable and to retry
    shortly, which never helps."""
    server = make_url(str(postgres_engine.url))
    wrong = (
        server.set(database="recsys_no_such_database")
        if missing == "database"
        else server.set(username="recsys_no_such_role")
    )
    monkeypatch.setenv("RS_DATABASE_URL", wrong.render_as_string(hide_password=False))
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "courses.csv").write_text("course_id,title\nc1,One\n")
    result = CliRunner().invoke(cli, command, catch_exceptions=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    said = result.output.strip().splitlines()[-1]
    name = "recsys_no_such_database" if missing == "database" else "recsys_no_such_role"
    assert said.startswith(f"Error: the PostgreSQL server has no {missing} '{name}': make it")
    assert "retry" not in said


@pytest.mark.postgres
@pytest.mark.parametrize(
    "command",
    [["import-courses", "courses.csv"], ["trainer", "--once"], ["serve", "--port", "18201"]],
    ids=lambda c: c[0],
)
@pytest.mark.parametrize(
    ("option", "invalid"),
    [
        ("sslmode=bogus", 'invalid sslmode value: "bogus"'),
        ("target_session_attrs=any&foo=bar", 'invalid connection option "foo"'),
        ("keepalives=x", 'invalid integer value "x" for connection option "keepalives"'),
    ],
)
def test_a_connection_option_postgresql_cannot_use_is_said_so_not_to_retry(
    postgres_engine, command, option, invalid, tmp_path, monkeypatch
):
    """?sslmode=bogus was "the database is unavailable (...); retry shortly", which never helps
    (and ?foo=bar a traceback); serve refuses it before it binds."""
    server = make_url(str(postgres_engine.url)).render_as_string(hide_password=False)
    result = _run_on(f"{server}?{option}", command, tmp_path, monkeypatch)
    assert result.exit_code == 1 and "Traceback" not in result.output
    said = result.output.strip().splitlines()[-1]
    assert said.startswith("Error: a PostgreSQL connection option is invalid ("), said
    assert invalid in said and said.endswith("): correct RS_DATABASE_URL"), said


def _run_on(database_url, command, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """`command` run through click's runner on `database_url`, beside a courses.csv."""
    monkeypatch.setenv("RS_DATABASE_URL", database_url)
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # serve would set its own
    monkeypatch.chdir(tmp_path)
    (tmp_path / "courses.csv").write_text("course_id,title\nc1,One\n")
    return CliRunner().invoke(cli, command, catch_exceptions=False)


@pytest.fixture
def server_without_ssl(postgres_engine):  # type: ignore[no-untyped-def]
    """The test server's URL, when that server has no SSL (as a local one often has not)."""
    from sqlalchemy import text

    with postgres_engine.connect() as connection:
        if connection.execute(text("SHOW ssl")).scalar() == "on":
            pytest.skip("the test server supports SSL")
    return make_url(str(postgres_engine.url)).render_as_string(hide_password=False)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "command",
    [["import-courses", "courses.csv"], ["trainer", "--once"], ["serve", "--port", "18101"]],
    ids=lambda c: c[0],
)
@pytest.mark.parametrize("mode", ["require", "verify-full"])
def test_sslmode_require_on_a_server_without_ssl_is_said_so_not_to_retry(
    server_without_ssl, command, mode, tmp_path, monkeypatch
):
    """It was "the database is unavailable (...); retry shortly", and a trainer retried every
    2 s for ever: the server will never offer SSL because we wait."""
    result = _run_on(f"{server_without_ssl}?sslmode={mode}", command, tmp_path, monkeypatch)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1] == (
        f"Error: the PostgreSQL server does not support SSL, and sslmode={mode} asks for it: "
        "correct RS_DATABASE_URL (sslmode=prefer uses SSL where the server has it) "
        "or enable SSL on the server"
    )


@pytest.mark.postgres
def test_a_trainer_started_with_sslmode_require_on_a_server_without_ssl_stops(
    server_without_ssl, tmp_path
):
    done = _trainer_run(f"{server_without_ssl}?sslmode=require", tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: the PostgreSQL server does not support SSL"), last
    assert "tries again" not in done.stderr


@pytest.mark.parametrize("command", [["init-db"], ["trainer", "--once"]])
def test_init_db_on_another_applications_database_says_so_in_one_line(
    command, tmp_path, monkeypatch
):
    import sqlite3

    path = tmp_path / "lms.db"
    with sqlite3.connect(path) as lms:  # the LMS's own catalog table
        lms.execute("CREATE TABLE courses (id INTEGER PRIMARY KEY, name TEXT)")
    monkeypatch.setenv("RS_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
    result = CliRunner().invoke(cli, command, catch_exceptions=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    said = result.output.strip().splitlines()
    assert len(said) == 1 and "another application's database" in said[0], result.output


def test_init_db_where_a_file_stands_in_for_the_folder_says_so_in_one_line(tmp_path, monkeypatch):
    (tmp_path / "c.csv").write_text("course_id,title\n")
    monkeypatch.setenv("RS_DATABASE_URL", f"sqlite:///{tmp_path / 'c.csv' / 'recsys.db'}")
    result = CliRunner().invoke(cli, ["init-db"], catch_exceptions=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1] == (
        f"Error: cannot create the folder of the SQLite database {tmp_path / 'c.csv' / 'recsys.db'}"
        ": File exists"
    )


def test_a_write_to_a_read_only_sqlite_file_says_so_not_retry_shortly(sqlite_url, tmp_path):
    """It said "the database is unavailable (...); retry shortly", which never helps."""
    path = sqlite_url.removeprefix("sqlite:///")
    (tmp_path / "courses.csv").write_text("course_id,title\nc1,One\n")
    env = {**os.environ, "RS_DATABASE_URL": f"sqlite:///file:{path}?mode=ro&uri=true"}
    command = [sys.executable, "-m", "entrypoints.cli", "import-courses", "courses.csv"]
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=PATIENCE
    )
    assert done.returncode == 1
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: the database takes no writes (") and line.endswith(
        "a read-only file, folder or mount, or a standby; run this again once it takes writes"
    ), line
