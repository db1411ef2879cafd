"""The dashboard in a real headless Chromium: sign in with the token through the form, every chart
has titled axes and the demo data, the range switches, signing out closes it again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.conftest import IN_CI
from tests.e2e.test_readme import free_port, wait_until_up
from tests.processes import PATIENCE, stopped

CHARTS = ("daily-ctr", "strategy-share", "bandit-reward", "bandit-probability", "top-courses")
TOKEN = "browser-t0ken"


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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def _status(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with opener.open(request, timeout=PATIENCE) as response:
            return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


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
        "RS_ADMIN_TOKEN": TOKEN,
    }
    recsys = [sys.executable, "-m", "entrypoints.cli"]
    subprocess.run([*recsys, "init-db"], env=env, check=True, capture_output=True)
    loaded = subprocess.run(
        [*recsys, "demo-data", "--learners", "200"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert "credited" in loaded.stdout
    process = subprocess.Popen(
        [*recsys, "serve", "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_up(port, process)
    yield port
    stopped(process)


def test_without_the_cookie_or_the_token_the_dashboard_is_refused(server):
    status, location = _status(server, "/dashboard")
    assert status == 303 and location.endswith("/dashboard/login")
    assert _status(server, "/admin/recommendations/models")[0] == 401
    forged = {"Cookie": "recsys_session=eyJhZG1pbiI6InllcyJ9.forged.signature"}
    assert _status(server, "/dashboard", forged)[0] == 303
    assert _status(server, "/dashboard", {"Authorization": f"Bearer {TOKEN}"})[0] == 200


def _browser(tmp_path, width: int = 1400):  # type: ignore[no-untyped-def]
    chromium, driver_path = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

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
        f"--window-size={width},2200",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(driver_path), options=options)
    browser.implicitly_wait(10)  # a click returns before the next page has loaded
    return browser


def test_an_operator_signs_in_reads_every_chart_switches_range_and_signs_out(server, tmp_path):
    browser = _browser(tmp_path)
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base = f"http://127.0.0.1:{server}"

    def settles(check) -> None:  # type: ignore[no-untyped-def]
        WebDriverWait(browser, 10).until(lambda _: check())

    try:
        browser.get(f"{base}/dashboard")
        assert browser.current_url == f"{base}/dashboard/login"
        browser.find_element(By.ID, "token").send_keys("not-the-token")
        browser.find_element(By.ID, "sign-in").click()
        assert browser.find_element(By.ID, "login-error").is_displayed()
        browser.find_element(By.ID, "token").send_keys(TOKEN)
        browser.find_element(By.ID, "sign-in").click()
        settles(lambda: "operator dashboard" in browser.title)

        cookie = browser.get_cookie("recsys_session")
        assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert TOKEN not in cookie["value"]
        assert float(browser.find_element(By.ID, "ctr").text.rstrip("%")) > 0
        for chart in CHARTS:
            figure = browser.find_element(By.CSS_SELECTOR, f'figure[data-chart="{chart}"]')
            for axis in ("x", "y"):
                title = figure.find_element(By.CSS_SELECTOR, f'g[id="{chart}-{axis}-title"] text')
                assert title.get_attribute("textContent").strip(), f"{chart} {axis} axis"
            cells = figure.find_elements(By.CSS_SELECTOR, "table.chart-data tr td:last-child")
            values = [float(c.get_attribute("textContent")) for c in cells]
            assert values and max(values) > 0, f"{chart} has no demo data"
        ctr_axis = browser.find_element(By.CSS_SELECTOR, 'g[id="daily-ctr-y-title"] text')
        assert ctr_axis.get_attribute("textContent") == "CTR (%)"
        assert "As of" in browser.find_element(By.ID, "as-of").text
        browser.save_screenshot(str(tmp_path / "dashboard-30-days.png"))

        browser.find_element(By.CSS_SELECTOR, 'a[data-days="7"]').click()
        settles(lambda: "last 7 days" in browser.find_element(By.TAG_NAME, "h1").text)
        shot = tmp_path / "dashboard.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")

        browser.find_element(By.ID, "sign-out").click()
        settles(lambda: browser.current_url == f"{base}/dashboard/login")
        browser.get(f"{base}/dashboard")
        assert browser.current_url == f"{base}/dashboard/login"
        errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert [e for e in errors if "401" not in e["message"]] == []
    finally:
        browser.quit()


def test_on_a_phone_wide_window_every_chart_fits_the_screen(server, tmp_path):
    browser = _browser(tmp_path, width=480)
    from selenium.webdriver.common.by import By

    try:
        browser.get(f"http://127.0.0.1:{server}/dashboard/login")
        browser.find_element(By.ID, "token").send_keys(TOKEN)
        browser.find_element(By.ID, "sign-in").click()
        browser.find_element(By.CSS_SELECTOR, 'figure[data-chart="daily-ctr"]')
        width = browser.execute_script("return document.documentElement.clientWidth")
        for chart in CHARTS:
            figure = browser.find_element(By.CSS_SELECTOR, f'figure[data-chart="{chart}"]')
            right = browser.execute_script(
                "return arguments[0].getBoundingClientRect().right", figure
            )
            assert right <= width, f"{chart} reaches {right}px of a {width}px window"
        page = browser.execute_script("return document.documentElement.scrollWidth")
        assert page <= width, "the page scrolls sideways (a table is wider than the window)"
    finally:
        browser.quit()
