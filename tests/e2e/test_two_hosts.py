"""Two serving hosts and two trainers sharing one PostgreSQL database and one artifact directory.

Each host is a `recsys serve` on its own loopback address (127.0.0.2, 127.0.0.3); each has a
`recsys trainer` beside it, as the README's deployment describes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from adapters.demo_data import demo_data
from entrypoints.config import load_settings
from entrypoints.container import Container
from tests import processes
from tests.e2e.test_readme import free_port
from tests.unit.test_two_tower import FAST

pytestmark = pytest.mark.postgres
TOKEN = "two-hosts-token"
ROOT = Path(__file__).resolve().parents[2]


def call(url: str, method: str = "GET", body: dict | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=processes.PATIENCE) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def eventually(check):  # type: ignore[no-untyped-def]
    """What `check` returns once it is truthy, a host not answering yet (OSError) counting as not
    ready: patient, as a busy machine's hosts take long to start and to load a new index."""

    def answered():  # type: ignore[no-untyped-def]
        try:
            return check()
        except OSError:
            return None

    return processes.eventually(answered, check.__doc__ or str(check))


@pytest.fixture(params=["folder", "database"])
def hosts(request, postgres_url, tmp_path):  # type: ignore[no-untyped-def]
    """Two hosts sharing the models in a folder both mount, or in the database (RS_MODELS_STORE),
    each host then with a folder of its own that nothing is published into."""
    config = tmp_path / "two_tower.yaml"
    config.write_text(yaml.safe_dump(FAST))
    env = {
        **os.environ,
        "RS_DATABASE_URL": postgres_url,
        "RS_MODELS_STORE": request.param,
        "RS_MODELS_DIR": str(tmp_path / "models"),
        "RS_REFRESH_SECONDS": "1",
        "RS_FIT_INTERVAL": "1",
        "RS_KEEP_VERSIONS": "50",
        "RS_TWO_TOWER_CONFIG": str(config),
        "RS_ADMIN_TOKEN": TOKEN,
    }
    container = Container()
    container.config.from_dict({**load_settings(env), "database_url": postgres_url})
    data = demo_data(seed=3, learners=60)
    container.upsert_courses().execute(data.courses)
    container.log_interactions().execute(data.interactions)
    container.engine().dispose()
    recsys = [sys.executable, "-m", "entrypoints.cli"]
    started = []
    urls = []
    logs = []
    for host in ("127.0.0.2", "127.0.0.3"):
        port = free_port()
        if request.param == "database":
            env = {**env, "RS_MODELS_DIR": str(tmp_path / f"models-{host}")}
        log = open(tmp_path / f"{host}.log", "w")  # noqa: SIM115 - closed after the test
        logs.append(log)
        started.append(
            subprocess.Popen(
                [*recsys, "serve", "--host", host, "--port", str(port), "--workers", "1"],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        started.append(
            subprocess.Popen(
                [*recsys, "trainer"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        )
        urls.append(f"http://{host}:{port}")
    try:
        yield urls, env
    finally:
        try:
            processes.all_stopped(started)
        finally:
            for log in logs:
                log.close()


def two_tower_versions(env: dict[str, str]) -> list[str]:
    """The versions kept, as a host configured with `env` finds them."""
    container = Container()
    container.config.from_dict(load_settings(env))
    try:
        return container.artifact_store().versions("two_tower")
    finally:
        if container.backend() == "sqlalchemy":
            container.engine().dispose()


def test_two_hosts_serve_one_model_share_the_bandit_and_run_a_job_once(hosts):
    (a, b), env = hosts
    home = "/api/v1/recommendations/home?user_id=user1&strategy=two_tower"

    def both_ready():  # type: ignore[no-untyped-def]
        """both hosts are ready"""
        return all(call(f"{url}/readyz")[0] == 200 for url in (a, b))

    eventually(both_ready)

    def same_model():  # type: ignore[no-untyped-def]
        """both hosts answer with one model version"""
        seen = {call(f"{url}{home}")[1].get("model_version") for url in (a, b)}
        return seen.pop() if len(seen) == 1 and None not in seen else None

    first = eventually(same_model)
    published = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "export-embeddings"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    newer = published.split("version ")[1].split()[0]
    assert newer != first
    # a refresh is 1 s; how long it takes to load is benchmarks/serving.py's to measure
    assert eventually(lambda: same_model() == newer and newer) == newer

    # A job submitted on host A is run once, by one of the two trainers, and B reports it.
    before = two_tower_versions(env)
    status, job = call(f"{a}/admin/recommendations/reindex", "POST")
    assert status == 202

    def finished():  # type: ignore[no-untyped-def]
        """host B reports the job finished"""
        found = call(f"{b}/admin/recommendations/jobs/{job['job_id']}")[1]
        return found if found["status"] in ("succeeded", "failed") else None

    done = eventually(finished)
    assert done["status"] == "succeeded" and done["attempts"] == 1, done
    # a new version, answering now (an older copy of the same model may have been pruned)
    assert done["result"]["version"] not in before
    assert done["result"]["version"] in two_tower_versions(env)
    assert eventually(lambda: same_model() == done["result"]["version"])

    # Slates served by both hosts, clicks logged on B; the bandit both report agrees.
    clicks = []
    chosen = 0  # the bandit learns from the slates it chose, fallbacks included (for its arm)
    for n, url in enumerate((a, b, a, b), start=1):
        slate = call(f"{url}/api/v1/recommendations/home?user_id=user{n}&strategy=auto")[1]
        assert slate["selected_by"] == "bandit" and slate["items"], slate
        chosen += 1
        clicks.append(
            {
                "user_id": f"user{n}",
                "course_id": slate["items"][0]["course_id"],
                "event_type": "click",
                "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "recommendation_id": slate["recommendation_id"],
            }
        )
    assert call(f"{b}/api/v1/interactions", "POST", {"events": clicks})[0] == 200
    subprocess.run(
        [
            sys.executable,
            "-m",
            "entrypoints.cli",
            "update-online-model",
            "--settle-minutes",
            "0",
            "--min-interactions",
            "1",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    states = [call(f"{url}/admin/recommendations/bandit")[1] for url in (a, b)]
    assert states[0] == states[1] and states[0]["version"]
    assert sum(arm["pulls"] for arm in states[0]["arms"]) == chosen > 0
    if env["RS_MODELS_STORE"] == "database":  # no host wrote a model into a folder
        assert not any(Path(env["RS_MODELS_DIR"]).parent.glob("models*/*/versions"))
