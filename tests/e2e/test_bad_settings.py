"""Each bad setting stops `recsys serve` before it binds a port, with one line that names it."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_readme import free_port
from tests.processes import PATIENCE, eventually, stopped

BAD_SETTINGS = [
    ("RS_BANDIT_POLICY", "greedy", "'epsilon_greedy', 'ucb1' or 'thompson'"),
    ("DEFAULT_RECOMMENDER", "twotower", "'two_tower'"),
    ("ENV", "production", "'dev', 'test' or 'prod'"),
    ("HYBRID_WEIGHTS_ITEM_CF", "-0.5", "the weight of item_cf must be between 0 and 1000"),
    ("HYBRID_WEIGHTS_TWO_TOWER", "1e300", "the weight of two_tower must be between 0 and 1000"),
    ("RS_DIVERSITY_LAMBDA", "-1", "greater than or equal to 0"),
    ("RS_BANDIT_EPSILON", "1.5", "less than or equal to 1"),
    ("RS_DATABASE_URL", "mysql://db/lms", "postgresql+psycopg://"),
    # PostgreSQL would connect to the database named after the user (its maintenance database)
    ("RS_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/", "no database name"),
    ("RS_PORT", "70000", "less than or equal to 65535"),
    ("RS_DB_HOST", "127.0.0.1:5432", "without a port (the port is RS_DB_PORT)"),
    ("RS_DB_HOST", "evil host", "expected a host name or IP address"),
    ("EMBEDDING_DIM", "sixty-four", "valid integer"),
    ("RS_FIT_INTERVAL", "0.5", "greater than or equal to 1"),
    ("RS_TUNING_BUDGET_SECONDS", "-3", "greater than or equal to 0"),
    ("RS_REFRESH_SECONDS", "soon", "valid number"),
    ("RS_LOG_FORMAT", "xml", "'auto', 'json' or 'console'"),
    ("RS_TRUSTED_PROXIES", "11", "less than or equal to 10"),
    ("ENV", "prod", "RS_ADMIN_TOKEN=''"),
    ("RS_TWO_TOWER_CONFIG", "/nope.yaml", "no such file"),
    ("RS_XAPI_MAPPING", "/nope.yaml", "no mapping file"),
]


ALL_ZERO = {f"HYBRID_WEIGHTS_{n}": "0" for n in ("TWO_TOWER", "POPULARITY", "CONTENT", "ITEM_CF")}


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.05)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _serving(database: Path, port: int) -> dict[str, str]:
    """The environment of a server on its own SQLite file, models folder and port."""
    return {
        **os.environ,
        "RS_DATABASE_URL": f"sqlite:///{database}",
        "RS_MODELS_DIR": str(database.parent / "models"),
        "RS_PORT": str(port),
        "RS_ADMIN_TOKEN": "",
    }


@pytest.mark.parametrize(("variable", "value", "allowed"), BAD_SETTINGS)
def test_a_bad_setting_stops_the_server_before_it_binds(variable, value, allowed, tmp_path):
    port = free_port()
    env = _serving(tmp_path / "recsys.db", port) | {variable: value}
    process = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", "serve", "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    bound = False
    deadline = time.monotonic() + PATIENCE
    while process.poll() is None and time.monotonic() < deadline:
        bound = bound or _listening(port)
        time.sleep(0.02)
    if process.poll() is None:
        process.kill()
    out, err = process.communicate()
    assert process.returncode not in (0, None)
    assert not bound and not _listening(port)
    lines = (out + err).strip().splitlines()
    assert len(lines) == 1, lines
    assert f"{variable}={value!r}" in lines[0] and allowed in lines[0], lines[0]


@pytest.mark.parametrize(("variable", "value", "allowed"), BAD_SETTINGS)
def test_show_config_refuses_a_bad_setting_with_the_line_serve_stops_with(
    variable, value, allowed, tmp_path
):
    env = _serving(tmp_path / "recsys.db", free_port()) | {variable: value}
    command = [sys.executable, "-m", "entrypoints.cli", "show-config"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=PATIENCE)
    assert done.returncode == 1
    (line,) = (done.stdout + done.stderr).strip().splitlines()
    assert line.startswith("Error: invalid setting "), line
    assert f"{variable}={value!r}" in line and allowed in line, line


def _serve_refused(env: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    """`recsys serve` run with `env`: it exits 1 without ever listening on `port`."""
    command = [sys.executable, "-m", "entrypoints.cli", "serve", "--workers", "1"]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=PATIENCE)
    finally:
        assert not _listening(port)
    assert done.returncode == 1
    return done


def test_hybrid_weights_that_can_never_blend_stop_the_server_as_a_request_with_them_is_refused(
    tmp_path,
):
    port = free_port()
    env = _serving(tmp_path / "recsys.db", port) | ALL_ZERO | {"HYBRID_WEIGHTS_SEQUENCE": "0"}
    done = _serve_refused(env, port)
    (line,) = (done.stdout + done.stderr).strip().splitlines()
    assert line.startswith("Error: invalid setting HYBRID_WEIGHTS_TWO_TOWER=0, ")
    assert line.endswith(": at least one weight must be positive")


def test_serve_on_a_database_never_migrated_stops_before_it_binds_and_says_to_run_init_db(
    tmp_path,
):
    port = free_port()
    sqlite3.connect(tmp_path / "empty.db").close()  # a database, without our tables
    env = _serving(tmp_path / "empty.db", port)
    done = _serve_refused(env, port)
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: the database has no schema: run `recsys init-db`"
    )


@pytest.mark.parametrize(
    ("variable", "meant"),
    [
        ("RS_MODEL_DIR", "RS_MODELS_DIR"),
        ("RS_FIT_INTERVALL", "RS_FIT_INTERVAL"),
        ("HYBRID_WEIGHT_CONTENT", "HYBRID_WEIGHTS_CONTENT"),
        ("RS_DATABASE_URI", "RS_DATABASE_URL"),
    ],
)
def test_a_misspelt_variable_is_named_with_the_setting_meant_instead_of_silently_ignored(
    variable, meant, tmp_path
):
    """RS_MODEL_DIR=/mnt/recsys-models on one host left it publishing to ./models, on its own
    disk, and nothing said why the other hosts never saw its versions."""
    env = _serving(tmp_path / "recsys.db", free_port()) | {variable: "/mnt/recsys-models"}
    env["RS_LOG_FORMAT"] = "console"
    for command in (
        ["entrypoints.cli", "show-config"],
        ["entrypoints.update_online_model", "--help"],  # the original form, outside the group
    ):
        done = subprocess.run(
            [sys.executable, "-m", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=PATIENCE,
        )
        assert done.returncode == 0, done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert line.endswith(
            f"WARNING recsys.config: {variable} is no setting of this service and is ignored "
            f"(did you mean {meant}?)"
        ), line


def test_serve_with_its_trainer_warns_of_a_misspelt_variable_once(tmp_path):
    """The trainer `serve --with-trainer` starts read the same environment and said the same
    warning again, in the same log: two lines read as two mistakes."""
    from tests.e2e.test_readme import wait_until_up

    database, port = tmp_path / "recsys.db", free_port()
    env = _serving(database, port) | {"RS_MODEL_DIR": "/mnt/x", "RS_LOG_FORMAT": "console"}
    recsys = [sys.executable, "-m", "entrypoints.cli"]
    subprocess.run([*recsys, "init-db"], env=env, check=True, capture_output=True, timeout=PATIENCE)
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*recsys, "serve", "--workers", "1", "--with-trainer"], env=env, stderr=out
        )
    try:
        wait_until_up(port, process)

        def trainer_started() -> bool:  # and read the environment
            assert process.poll() is None
            return _trainer_seen(database)

        eventually(trainer_started, "the trainer started")
    finally:
        stopped(process)
    said = [line for line in log.read_text().splitlines() if "RS_MODEL_DIR" in line]
    assert len(said) == 1 and said[0].endswith("(did you mean RS_MODELS_DIR?)"), said


def _trainer_seen(database: Path) -> bool:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT count(*) FROM trainers").fetchone()[0] > 0


def test_only_variables_of_the_service_are_warned_of(tmp_path):
    env = _serving(tmp_path / "recsys.db", free_port()) | {
        "RS_DATA_DIR": str(tmp_path),
        "RS_TEST_DATABASE_URL": "sqlite://",
        "RS_LOG_LEVEL": "INFO",
        "HOME_DIR": "/x",
    }
    command = [sys.executable, "-m", "entrypoints.cli", "show-config"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=PATIENCE)
    assert done.returncode == 0 and done.stderr == "", done.stderr


@pytest.mark.parametrize("where", [".env", "RS_TWO_TOWER_CONFIG", "RS_XAPI_MAPPING"])
def test_a_settings_file_that_is_not_utf8_is_one_line_not_a_traceback(where, tmp_path):
    """A `.env` or YAML saved as Latin-1 (or binary) stopped every command with a
    UnicodeDecodeError traceback."""
    env = _serving(tmp_path / "recsys.db", free_port())
    bad = tmp_path / ("bad.yaml" if where != ".env" else ".env")
    bad.write_bytes(b"RS_LOG_LEVEL=info\n# caf\xe9\n")
    if where != ".env":
        env[where] = str(bad)
    command = [sys.executable, "-m", "entrypoints.cli", "show-config"]
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=PATIENCE
    )
    assert done.returncode == 1
    (line,) = (done.stdout + done.stderr).strip().splitlines()
    assert (
        line
        == f"Error: {bad.name if where == '.env' else bad} cannot be read: it is not UTF-8 text (byte 0xe9 at offset 23)"
    ), line
