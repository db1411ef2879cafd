"""Commands given something they cannot use say so in one line and exit 1, without a
traceback, and without making what they were not asked to make."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from entrypoints.cli import cli
from tests.e2e.test_readme import free_port
from tests.processes import PATIENCE


@pytest.mark.parametrize("host", ["127.0.0.1:5432", "db.internal:6432"])
def test_a_database_host_given_with_its_port_is_refused_at_configuration(host, monkeypatch):
    monkeypatch.setenv("RS_DB_HOST", host)
    for command in (["show-config"], ["update-online-model"]):
        result = CliRunner().invoke(cli, command, catch_exceptions=False)
        assert result.exit_code == 1, command
        assert result.output == (
            f"Error: invalid setting RS_DB_HOST={host!r}: expected a host name or IP address "
            "without a port (the port is RS_DB_PORT)\n"
        )


@pytest.mark.parametrize("host", ["::1", "[::1]"])
def test_an_ipv6_database_host_is_an_address_in_brackets(host, monkeypatch):
    monkeypatch.setenv("RS_DB_HOST", host)
    monkeypatch.setenv("RS_DB_PORT", "6543")
    shown = json.loads(CliRunner().invoke(cli, ["show-config", "--json"]).output)
    assert shown["settings"]["database_url"] == "postgresql+psycopg://postgres@[::1]:6543/lms"


@pytest.fixture
def database(sqlite_url, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RS_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
    assert CliRunner().invoke(cli, ["demo-data", "--learners", "5"]).exit_code == 0
    return sqlite_url


@pytest.mark.parametrize(
    ("option", "value"),
    [("--hours", "1e9"), ("--hours", "inf"), ("--hours", "nan"), ("--settle-minutes", "1e12")],
)
def test_an_update_window_no_calendar_holds_is_refused_in_one_line(database, option, value):
    result = CliRunner().invoke(cli, ["update-online-model", option, value])
    assert result.exit_code == 2, result.exception  # a usage error, not a traceback
    assert f"Error: Invalid value for '{option}'" in result.output


def test_exporting_into_a_folder_that_does_not_exist_makes_none_and_says_so(database, tmp_path):
    output = tmp_path / "mistyped" / "events.csv"
    result = CliRunner().invoke(cli, ["prepare-training-data", "--output", str(output)])
    assert result.exit_code == 1
    assert result.output == (f"Error: cannot write {output}: there is no folder {output.parent}\n")
    assert not output.parent.exists()


def test_exporting_onto_a_full_disk_is_one_line(database):
    result = CliRunner().invoke(cli, ["prepare-training-data", "--output", "/dev/full"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: cannot write /dev/full: No space left on device; nothing was exported\n"
    )


@pytest.mark.parametrize(
    ("command", "what"),
    [
        ("import-courses", "course rows"),
        ("import-interactions", "event rows"),
        ("import-xapi", "statements"),
    ],
)
@pytest.mark.parametrize("content", ["", "course_id,title\n"], ids=["empty", "header only"])
def test_importing_a_file_without_rows_says_nothing_was_imported(
    command, what, content, database, tmp_path
):
    if command == "import-xapi" and content:
        content = "[]"  # an export of no statements
    if command == "import-interactions" and content:
        content = "user_id,course_id,event_type\n"
    file = tmp_path / "export.csv"
    file.write_text(content)
    result = CliRunner().invoke(cli, [command, str(file)])
    assert result.exit_code == 1
    assert result.output == f"Error: nothing was imported: {file} holds no {what}\n"


def test_a_catalog_given_as_events_is_said_to_be_the_wrong_file(database, tmp_path):
    file = tmp_path / "courses.csv"
    file.write_text("course_id,title\n")
    result = CliRunner().invoke(cli, ["import-interactions", str(file)])
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Error: {file}: the header lacks user_id, event_type; names title (its columns: "
    )


@pytest.mark.parametrize(
    ("mapping", "said"),
    [
        ("missing.yaml", "invalid setting RS_XAPI_MAPPING={path!r}: no mapping file there"),
        ("broken.yaml", "{path}: 'verbs' must map verb IRIs to event types"),
    ],
)
def test_import_xapi_with_a_mapping_it_cannot_use_says_so_in_one_line(
    mapping, said, database, tmp_path, monkeypatch
):
    path = str(tmp_path / mapping)
    (tmp_path / "broken.yaml").write_text("verbs: [view]\n")
    monkeypatch.setenv("RS_XAPI_MAPPING", path)
    export = tmp_path / "lrs.json"
    export.write_text("[]")
    result = CliRunner().invoke(cli, ["import-xapi", str(export)], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output == f"Error: {said.format(path=path)}\n"


def test_serve_refuses_a_host_rs_host_would_refuse():
    result = CliRunner().invoke(cli, ["serve", "--host", "evil host"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "Invalid value for '--host': 'evil host': expected a host name or IP address" in (
        result.output
    )


def test_serve_on_a_port_in_use_says_so_in_one_line_at_once(sqlite_url, tmp_path):
    """Before, gunicorn tried five times over five seconds, twelve lines (one line now is what
    says it did not: each retry logged one; a time limit would fail on a busy machine)."""
    port = free_port()
    env = {"RS_DATABASE_URL": sqlite_url, "RS_MODELS_DIR": str(tmp_path / "models")}
    with socket.create_server(("127.0.0.1", port)):
        done = subprocess.run(
            [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=PATIENCE,
        )
    assert done.returncode == 1
    assert (done.stdout + done.stderr).strip().splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: something listens there already "
        "(another `recsys serve`?); choose another --port or RS_PORT"
    ]


def test_the_development_server_serves_on_the_port_its_reloader_bound(serving, monkeypatch):
    """Flask's reloader runs `serve --dev` again in a child, which serves on the socket the
    first process bound: the child found the port taken and stopped, so --dev never served."""
    from flask import Flask

    import entrypoints.cli.serve as serve_module

    served: list[int] = []
    monkeypatch.setattr(Flask, "run", lambda self, host, port, **_: served.append(port))
    monkeypatch.setattr(
        serve_module, "KeptRunning", lambda *a, **k: pytest.fail("a second trainer started")
    )
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")
    run, _ = serving
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):  # the reloader's socket
        result = run("--dev", "--with-trainer", "--port", str(port))
    assert result.exit_code == 0, result.output
    assert served == [port]


def test_the_development_server_serves_on_any_loopback_address_and_no_other(serving, monkeypatch):
    """`--host [::1]` (brackets, as RS_HOST and gunicorn's bind take IPv6) was refused as not
    127.0.0.1, and werkzeug would not have bound it with them."""
    from flask import Flask

    import entrypoints.cli.serve as serve_module

    served: list[str] = []
    monkeypatch.setattr(Flask, "run", lambda self, host, port, **_: served.append(host))
    run, _ = serving
    for host, bound in [("[::1]", "::1"), ("::1", "::1"), ("localhost", "localhost")]:
        result = run("--dev", "--host", host, "--port", str(free_port()))
        assert result.exit_code == 0, result.output
        assert served.pop() == bound
    monkeypatch.setattr(
        serve_module, "KeptRunning", lambda *a, **k: pytest.fail("a trainer started")
    )
    refused = run("--dev", "--with-trainer", "--host", "0.0.0.0", "--port", str(free_port()))
    assert refused.exit_code == 2
    assert "serve it on a loopback address" in refused.output
    assert served == []


def test_a_publish_onto_a_full_disk_is_one_line_and_the_published_versions_stay(
    database, tmp_path, monkeypatch
):
    import adapters.fs_artifacts

    assert CliRunner().invoke(cli, ["train-two-tower", "--epochs", "1"]).exit_code == 0
    for _ in range(2):
        assert CliRunner().invoke(cli, ["trainer", "--once", "--force"]).exit_code == 0
    before = sorted(p.name for p in (tmp_path / "models").glob("*/versions/*"))

    def disk_full(path, data):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(adapters.fs_artifacts, "_write", disk_full)
    trained = CliRunner().invoke(cli, ["train-two-tower", "--epochs", "1"])
    assert trained.exit_code == 1
    # found before hours of training, not after
    assert trained.output.endswith(
        "is not writable: No space left on device; nothing was trained\n"
    )
    for command, what in [
        (["export-embeddings"], "two_tower"),
        (["rebuild-index"], "two_tower"),
        (["rollback", "item_cf"], "item_cf"),
        (["update-online-model", "--recount"], "bandit"),
    ]:
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 1, (command, result.output)
        assert result.output.endswith(
            f"Error: {what} could not be published: No space left on device; "
            "its published version stays\n"
        ), command
    assert sorted(p.name for p in (tmp_path / "models").glob("*/versions/*")) == before


def test_an_export_that_fails_midway_leaves_the_file_that_was_there_as_it_was(
    database, tmp_path, monkeypatch
):
    """Not a cut-off export in its place (said to be "nothing was exported")."""
    import csv

    import entrypoints.cli.models

    output = tmp_path / "events.csv"
    output.write_text("event_id,user_id\nlast-week,u1\n")
    writer = csv.writer

    class FillsTheDisk:
        def __init__(self, handle):  # type: ignore[no-untyped-def]
            self.writer, self.rows = writer(handle), 0

        def writerow(self, row):  # type: ignore[no-untyped-def]
            self.rows += 1
            if self.rows > 3:
                raise OSError(28, "No space left on device")
            self.writer.writerow(row)

    monkeypatch.setattr(entrypoints.cli.models.csv, "writer", FillsTheDisk)
    result = CliRunner().invoke(cli, ["prepare-training-data", "--output", str(output)])
    assert result.exit_code == 1
    assert result.output.endswith("No space left on device; nothing was exported\n")
    assert output.read_text() == "event_id,user_id\nlast-week,u1\n"
    assert [p.name for p in tmp_path.iterdir() if "events" in p.name] == ["events.csv"]
