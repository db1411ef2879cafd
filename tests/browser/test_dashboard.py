"""The dashboard in a real headless Chromium: every chart has data points, no console errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import IN_CI
from tests.e2e.test_readme import free_port, wait_until_up

CHARTS = ("daily-ctr", "strategy-share", "bandit-arms", "top-courses")


def _browser_or_skip() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        message = (
            "Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        )
        if IN_CI:
            pytest.fail(message + "; CI must run the browser test")
        pytest.skip(message)
    return chromium, driver


def call(port: int, path: str, body: object | None = None) -> dict:  # type: ignore[type-arg]
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def server(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("dashboard")
    port = free_port()
    env = {
        **os.environ,
        "RS_DATABASE_URL": f"sqlite:///{folder}/recsys.db",
        "RS_MODELS_DIR": str(folder / "models"),
        "RS_PORT": str(port),
        "RS_REFRESH_SECONDS": "0",
        "RS_ADMIN_TOKEN": "",
    }
    recsys = [sys.executable, "-m", "entrypoints.cli"]
    subprocess.run([*recsys, "init-db"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*recsys, "demo-data", "--learners", "200"], env=env, check=True, capture_output=True
    )
    process = subprocess.Popen(
        [*recsys, "serve", "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_up(port, process)
    for n in range(1, 41):
        # The bandit learns only from its own slates: half are strategy=auto.
        strategy = ("content", "auto", "item_cf", "auto")[n % 4]
        served = call(port, f"/api/v1/recommendations/home?user_id=user{n}&strategy={strategy}&k=5")
        kind = "enroll" if n % 3 == 0 else "click"
        call(
            port,
            "/api/v1/interactions",
            {
                "user_id": f"user{n}",
                "course_id": served["items"][n % 5]["course_id"],
                "event_type": kind,
                "recommendation_id": served["recommendation_id"],
            },
        )
    update = subprocess.run(
        [*recsys, "update-online-model", "--min-interactions", "1", "--settle-minutes", "0"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert "credited" in update.stdout
    yield port
    process.terminate()
    process.wait(timeout=20)


def test_the_dashboard_draws_every_chart_with_data(server, tmp_path):
    chromium, driver_path = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,1400",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        browser.get(f"http://127.0.0.1:{server}/dashboard")
        assert "operator dashboard" in browser.title
        for chart in CHARTS:
            points = browser.find_elements(By.CSS_SELECTOR, f'svg[data-chart="{chart}"] .point')
            assert points, f"{chart} has no data points"
            assert any(float(p.get_attribute("data-value")) > 0 for p in points), chart
        errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
        shot = tmp_path / "dashboard.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")
    finally:
        browser.quit()
