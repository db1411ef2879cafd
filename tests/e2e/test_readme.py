"""The README's curl examples work as written against a server started like `make run` does."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.processes import PATIENCE, stopped

ROOT = Path(__file__).resolve().parents[2]


def readme_curls() -> list[str]:
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        current = ""
        for line in block.replace("\\\n", " ").splitlines():
            if current:  # inside a quoted JSON body that spans lines
                current += " " + line.strip()
            elif line.startswith("curl "):
                current = line.split("  #")[0].strip()
            if current and current.count("'") % 2 == 0:
                commands.append(current)
                current = ""
    return commands


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(port: int, process: subprocess.Popen) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + PATIENCE
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                stopped(process, signal.SIGKILL)
                pytest.fail("the server did not start")
            time.sleep(0.2)


@pytest.fixture(scope="module")
def server(tmp_path_factory):  # type: ignore[no-untyped-def]
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    port = free_port()
    folder = tmp_path_factory.mktemp("readme")
    env = {
        **os.environ,
        "RS_DATABASE_URL": f"sqlite:///{folder}/recsys.db",
        "RS_MODELS_DIR": str(folder / "models"),
        "RS_PORT": str(port),
        "RS_REFRESH_SECONDS": "0",
    }
    recsys = [sys.executable, "-m", "entrypoints.cli"]
    subprocess.run([*recsys, "init-db"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*recsys, "demo-data", "--learners", "300"], env=env, check=True, capture_output=True
    )
    subprocess.run(
        [*recsys, "train-two-tower", "--epochs", "3"], env=env, check=True, capture_output=True
    )
    subprocess.run([*recsys, "trainer", "--once"], env=env, check=True, capture_output=True)
    process = subprocess.Popen(
        [*recsys, "serve", "--workers", "1", "--with-trainer"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_up(port, process)
    yield port
    stopped(process)


def test_the_readme_has_curl_examples_for_every_endpoint():
    text = " ".join(readme_curls())
    for path in (
        "/recommendations/home",
        "/recommendations/similar/",
        "/interactions",
        "/courses",
        "/healthz",
        "/readyz",
    ):
        assert path in text


def test_every_readme_curl_example_works_in_the_order_a_reader_runs_them(server):
    """One test, in the README's order: an example may change what a later one reads (a course
    made, then retired), so they must not be spread over pytest-xdist's workers."""
    for command in readme_curls():
        command = command.replace("localhost:8002", f"127.0.0.1:{server}").replace(
            "127.0.0.1:8002", f"127.0.0.1:{server}"
        )
        result = subprocess.run(
            f"{command} -s -w '\\n%{{http_code}}'",
            shell=True,
            capture_output=True,
            text=True,
            timeout=PATIENCE,
        )
        body, status = result.stdout.rsplit("\n", 1)
        assert status in ("200", "202"), (command, body)
        assert "error" not in json.loads(body), (command, body)
