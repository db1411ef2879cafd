"""Under gunicorn with 2 workers: /metrics adds up every worker's counters, and every log line is
JSON carrying the request id the response echoes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_readme import free_port, wait_until_up
from tests.processes import PATIENCE, stopped

REQUESTS = 60


def _get(port: int, path: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    with urllib.request.urlopen(request, timeout=PATIENCE) as response:
        return response.status, dict(response.headers), response.read()


def _post(port: int, path: str, body: object) -> dict:  # type: ignore[type-arg]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=PATIENCE) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def _samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    _, _, body = _get(port, "/metrics")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("observed")
    port = free_port()
    env = {
        **os.environ,
        "RS_DATABASE_URL": f"sqlite:///{folder}/recsys.db",
        "RS_MODELS_DIR": str(folder / "models"),
        "RS_PORT": str(port),
        "RS_ADMIN_TOKEN": "",
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
    }
    (folder / "metrics").mkdir()
    recsys = [sys.executable, "-m", "entrypoints.cli"]
    subprocess.run([*recsys, "init-db"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*recsys, "demo-data", "--learners", "20"], env=env, check=True, capture_output=True
    )
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [*recsys, "serve", "--workers", "2", "--threads", "1"], env=env, stdout=log, stderr=log
    )
    wait_until_up(port, process)
    # The first worker answers while the second may still be starting: wait until both have
    # answered (each writes its own counter file), so the test sees both at work.
    deadline = time.monotonic() + PATIENCE
    while len(_worker_files(folder)) < 2 and time.monotonic() < deadline:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: _get(port, "/healthz"), range(8)))
    yield port, folder
    stopped(process)
    log.close()


def test_counters_add_up_across_two_gunicorn_workers(served):
    port, folder = served
    before = _samples(port)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: _get(port, "/healthz"), range(REQUESTS)))
        list(
            pool.map(
                lambda n: _get(
                    port, f"/api/v1/recommendations/home?user_id=user{n}&strategy=popularity"
                ),
                range(10),
            )
        )
    event = {
        "event_id": "obs-1",
        "user_id": "user1",
        "course_id": "course_python_basic",
        "event_type": "view",
        "occurred_at": "2026-11-01T10:00:00Z",  # a retry must be the same event, time included
    }
    assert _post(port, "/api/v1/interactions", event)["accepted"] == 1
    assert _post(port, "/api/v1/interactions", event)["duplicates"] == 1
    after = _samples(port)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    ok = {"method": "GET", "route": "/healthz", "status": "200"}
    assert grew("recsys_http_requests_total", **ok) == REQUESTS
    assert grew("recsys_http_request_duration_seconds_count", **ok) == REQUESTS
    home = {"endpoint": "home", "strategy": "popularity"}
    assert grew("recsys_recommendations_served_total", **home) == 10
    assert grew("recsys_events_total", outcome="accepted") == 1
    assert grew("recsys_events_total", outcome="duplicate") == 1
    assert len(_worker_files(folder)) == 2, "both workers answered and wrote their own counters"


def _worker_files(folder):  # type: ignore[no-untyped-def]
    return {p.stem.split("_")[-1] for p in (folder / "metrics").glob("counter_*.db")}


def test_logs_are_json_lines_with_the_request_id_the_response_echoes(served):
    port, folder = served
    _, headers, _ = _get(port, "/healthz", {"X-Request-ID": "trace-42.a"})
    assert headers["X-Request-ID"] == "trace-42.a"
    _, generated, _ = _get(port, "/healthz", {"X-Request-ID": "bad id; forged=1"})
    assert len(generated["X-Request-ID"]) == 32 and " " not in generated["X-Request-ID"]
    lines = [json.loads(line) for line in (folder / "server.log").read_text().splitlines()]
    ours = [entry for entry in lines if entry.get("request_id") == "trace-42.a"]
    assert ours and ours[0]["logger"] == "recsys.access" and ours[0]["status"] == 200
    assert ours[0]["duration_ms"] >= 0 and ours[0]["path"] == "/healthz"
    assert any(e.get("request_id") == generated["X-Request-ID"] for e in lines)
    assert any(e["logger"] == "gunicorn.error" for e in lines), "gunicorn's own lines too"


def test_serve_counts_requests_in_its_own_metrics_folder_as_make_run_starts_it(tmp_path):
    """No PROMETHEUS_MULTIPROC_DIR given: serve makes the folder before anything imports
    prometheus_client, so the workers' counters reach /metrics."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"} | {
        "RS_DATABASE_URL": f"sqlite:///{tmp_path}/recsys.db",
        "RS_MODELS_DIR": str(tmp_path / "models"),
        "RS_PORT": str(port),
        "RS_ADMIN_TOKEN": "",
    }
    recsys = [sys.executable, "-m", "entrypoints.cli"]
    subprocess.run([*recsys, "init-db"], env=env, check=True, capture_output=True)
    process = subprocess.Popen(
        [*recsys, "serve", "--workers", "1", "--threads", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(port, process)
        for _ in range(5):
            _get(port, "/healthz")
        counted = _samples(port).get(
            (
                "recsys_http_requests_total",
                (("method", "GET"), ("route", "/healthz"), ("status", "200")),
            ),
            0.0,
        )
        assert counted >= 5
    finally:
        stopped(process)


def test_what_a_trainer_on_another_host_fitted_and_ran_is_in_every_scrape(served):
    port, folder = served
    (folder / "quick.yaml").write_text(
        "members: 1\nepochs: 2\nbatch_size: 64\nembedding_dim: 16\nhidden_dims: [32]\n"
    )
    # the trainer writes no metrics folder of the server's: only the database is shared
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"} | {
        "RS_DATABASE_URL": f"sqlite:///{folder}/recsys.db",
        "RS_MODELS_DIR": str(folder / "models"),
        "RS_TWO_TOWER_CONFIG": str(folder / "quick.yaml"),
        "RS_TUNING_BUDGET_SECONDS": "0",
    }
    trainer = [sys.executable, "-m", "entrypoints.cli", "trainer", "--once"]
    subprocess.run(trainer, env=env, check=True, capture_output=True, timeout=PATIENCE)
    reindex = urllib.request.Request(
        f"http://127.0.0.1:{port}/admin/recommendations/reindex", data=b"", method="POST"
    )
    with urllib.request.urlopen(reindex, timeout=PATIENCE) as response:
        assert response.status == 202
    subprocess.run(trainer, env=env, check=True, capture_output=True, timeout=PATIENCE)

    samples = _samples(port)
    named = {name for name, _ in samples}
    fits = {
        dict(labels)["strategy"]: value
        for (name, labels), value in samples.items()
        if name == "recsys_trainer_fits_total" and dict(labels)["outcome"] == "published"
    }
    assert {"popularity", "content", "item_cf", "sequence", "two_tower"} <= set(fits)
    jobs = [
        dict(labels)
        for (name, labels), value in samples.items()
        if name == "recsys_trainer_jobs_total" and value == 1
    ]
    assert [(j["kind"], j["outcome"]) for j in jobs] == [("reindex", "succeeded")]
    assert {
        "recsys_trainer_last_fit_duration_seconds",
        "recsys_trainer_last_publish_duration_seconds",
        "recsys_trainer_seen_timestamp_seconds",
    } <= named


def test_the_development_server_logs_no_secret_sent_in_a_query_string(tmp_path):
    """`recsys serve --dev` wrote werkzeug's own line for each request beside the service's
    masked one, with the query string as sent: a token sent as ?token= sat in the log."""
    port = free_port()
    env = {
        **os.environ,
        "RS_DATABASE_URL": f"sqlite:///{tmp_path}/recsys.db",
        "RS_MODELS_DIR": str(tmp_path / "models"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "RS_ADMIN_TOKEN": "",
        "RS_API_KEY": "",
        "RS_LOG_FORMAT": "console",
        "ENV": "dev",
    }
    recsys = [sys.executable, "-m", "entrypoints.cli"]
    subprocess.run([*recsys, "init-db"], env=env, check=True, capture_output=True)
    with (tmp_path / "server.log").open("w") as log:
        process = subprocess.Popen(
            [*recsys, "serve", "--dev", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        try:
            wait_until_up(port, process)
            for line in (
                b"GET /api/v1/courses?limit=2&api_key=s3cret-key HTTP/1.1",
                b"GET /healthz?token=s3cret token HTTP/1.1",  # a space werkzeug refuses
                b"GET /healthz?q=data science&api_key=s3cret HTTP/1.1",  # a secret after it
            ):
                with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as conn:
                    conn.sendall(line + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
                    assert conn.recv(64).startswith(b"HTTP/1.1 400")
        finally:
            stopped(process)
    written = (tmp_path / "server.log").read_text()
    assert "s3cret" not in written
    assert "recsys.access: GET /api/v1/courses?limit=2&api_key=*** 400" in written
    assert "Bad request syntax ('GET /healthz?token=*** token HTTP/1.1')" in written
    assert "Bad request syntax ('GET /healthz?q=data science&api_key=*** HTTP/1.1')" in written
