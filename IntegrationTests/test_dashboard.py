"""The live dashboard (`GET /dashboard`) in a real browser: headless Chromium from Debian (`chromium`,
`chromium-driver`) driven by selenium, against a real router in front of two real replicas, and against one
`shoal serve`.

Without Chromium the tests skip, unless SHOAL_REQUIRE_BROWSER=1 (scripts/test sets it in CI), when they fail.
Screenshots go to $SHOAL_ARTIFACTS_DIR (default: an `artifacts` folder in the test's tmp dir).
Synchronisation is by polling the DOM (WebDriverWait) and the JSON endpoint, never by sleeping."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Iterator

import pytest
import requests

from conftest import HTTP_TIMEOUT_S, MODEL_NAME, READY_DEADLINE_S, RouterProcess, poll_until

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - reported by the fixture
    webdriver = None

# Seconds the page may take to show a change (the router notices a dead replica after two failed probes
# 0.5 s apart; the dashboard samples every 0.5 s and the page polls as often).
DOM_DEADLINE_S = 15.0


@pytest.fixture(scope="module")
def browser() -> Iterator["webdriver.Chrome"]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    missing = [name for name, found in (("selenium (pip)", webdriver), ("chromium", chromium),
                                        ("chromedriver (chromium-driver)", driver)) if not found]
    if missing:
        message = "the dashboard browser tests need " + ", ".join(missing)
        if os.environ.get("SHOAL_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    options = Options()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,900",
                     "--disable-gpu", "--no-first-run"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    instance = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        yield instance
    finally:
        instance.quit()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SHOAL_ARTIFACTS_DIR") or tmp_path / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def rows(browser) -> dict[str, dict[str, str]]:
    """The table's rows by id: each cell's text by its data-field, plus the row's data-status."""
    found = {}
    for row in browser.find_elements(By.CSS_SELECTOR, "#rows tr[data-row-id]"):
        cells = {cell.get_attribute("data-field"): cell.text for cell in row.find_elements(By.CSS_SELECTOR, "td")}
        cells["data-status"] = row.get_attribute("data-status")
        found[row.get_attribute("data-row-id")] = cells
    return found


def number(text: str) -> float:
    """A cell's number (`1,234`, `12.5`, `40.0%`); -1 for the en dash of a missing value."""
    cleaned = text.split("\n")[-1].replace(",", "").rstrip("%").strip()
    return -1 if cleaned in ("", "\u2013") else float(cleaned)


def wait_for(browser, condition, what: str):
    """Polls `condition(browser)` in the page until it is truthy; fails with `what` and the rows seen."""
    try:
        return WebDriverWait(browser, DOM_DEADLINE_S, poll_frequency=0.1).until(condition)
    except Exception as error:  # selenium's TimeoutException, with what the page showed
        raise AssertionError(f"timed out waiting for {what}; rows: {rows(browser)}") from error


def open_page(browser, url: str) -> None:
    """Loads `url` after dropping what earlier pages logged (a page left polling a stopped server)."""
    browser.get("about:blank")
    browser.get_log("browser")
    browser.get(url)


def assert_no_console_errors(browser) -> None:
    severe = [entry for entry in browser.get_log("browser") if entry.get("level") == "SEVERE"]
    assert not severe, f"the page logged errors: {severe}"


def complete(url: str, prompt: str) -> dict:
    response = requests.post(f"{url}/v1/completions", timeout=HTTP_TIMEOUT_S,
                             json={"model": MODEL_NAME, "prompt": prompt, "max_tokens": 8, "temperature": 0})
    assert response.status_code == 200, response.text
    return response.json()


def test_router_dashboard_shows_each_replica_and_a_killed_one_turning_unhealthy(start_server, browser, artifacts):
    first, second = start_server(), start_server()
    flags = ("--policy", "round-robin", "--health-interval", "0.5", "--health-timeout", "0.5",
             "--unhealthy-threshold", "2", "--dashboard-interval", "0.5")
    with RouterProcess(first.url, second.url, args=flags) as router:
        # The dashboard has scraped both replicas once (a baseline before the traffic) ...
        def scraped_both() -> bool:
            data = requests.get(f"{router.url}/dashboard/data", timeout=5).json()
            return len(data["rows"]) == 2 and all("running" in row for row in data["rows"])
        poll_until(scraped_both, READY_DEADLINE_S, "two scraped rows in /dashboard/data")
        # ... then traffic, alternating between the two replicas.
        for i in range(6):
            assert complete(router.url, f"Count to {i + 3}:")["usage"]["completion_tokens"] > 0

        page = requests.get(f"{router.url}/dashboard", timeout=5)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert "<script src" not in page.text and "<link" not in page.text, "the page must be self-contained"

        open_page(browser, f"{router.url}/dashboard")
        assert browser.title == "Shoal router"
        wait_for(browser, lambda b: len(rows(b)) == 2 and all(r["data-status"] == "healthy" for r in rows(b).values()),
                 "two healthy rows")
        wait_for(browser, lambda b: all(number(r["finished_requests"]) >= 3 and number(r["generation_tokens"]) > 0
                                        for r in rows(b).values()), "requests and tokens on both rows")
        shown = rows(browser)
        assert set(shown) == {first.url, second.url}
        for replica in shown.values():
            assert replica["status"].startswith("healthy")
            assert replica["breaker"] == "closed"
            assert replica["models"] == MODEL_NAME
            assert number(replica["errors"]) == 0 and number(replica["migrations"]) == 0
            assert 0 <= number(replica["kv_cache_usage"]) <= 100
            # TTFT percentiles over the window, from the histogram's bucket differences.
            assert re.fullmatch(r"[0-9.]+ (ms|s)", replica["ttft_p50_seconds"]), replica
            assert re.fullmatch(r"[0-9.]+ (ms|s)", replica["ttft_p99_seconds"]), replica
        totals = browser.find_element(By.CSS_SELECTOR, '#totals td[data-total-field="finished_requests"]').text
        assert number(totals) >= 6
        assert len(browser.find_elements(By.CSS_SELECTOR, "#cards svg path")) >= 2, "sparklines are drawn"
        assert_no_console_errors(browser)
        browser.save_screenshot(str(artifacts / "dashboard-router.png"))

        second.process.kill()  # SIGKILL: no drain, the replica just vanishes
        second.process.wait(timeout=10)
        wait_for(browser, lambda b: rows(b).get(second.url, {}).get("data-status") == "unhealthy",
                 "the killed replica's row to turn unhealthy")
        after = rows(browser)
        assert after[first.url]["data-status"] == "healthy"
        assert "metrics:" in after[second.url]["status"], "the failed scrape is shown"
        wait_for(browser, lambda b: b.find_element(By.CSS_SELECTOR, '[data-total="healthy_replicas"]').text == "1/2",
                 "the healthy count to drop to 1/2")
        browser.save_screenshot(str(artifacts / "dashboard-router-replica-killed.png"))
        assert_no_console_errors(browser)


def test_server_dashboard_shows_its_model(start_server, browser, artifacts):
    server = start_server()
    complete(server.url, "The capital of France is")
    open_page(browser, f"{server.url}/dashboard")
    assert browser.title == "Shoal server"
    wait_for(browser, lambda b: rows(b).get(MODEL_NAME, {}).get("data-status") == "healthy", "the model's row")
    wait_for(browser, lambda b: number(rows(b)[MODEL_NAME]["finished_requests"]) >= 1
             and number(rows(b)[MODEL_NAME]["generation_tokens"]) > 0, "the completion counted")
    row = rows(browser)[MODEL_NAME]
    assert set(rows(browser)) == {MODEL_NAME}
    assert row["breaker"] == "\u2013" and row["migrations"] == "\u2013", "a server has no breaker or migrations"
    assert number(row["in_flight"]) == 0 and number(row["running"]) == 0
    assert_no_console_errors(browser)
    browser.save_screenshot(str(artifacts / "dashboard-server.png"))


def test_dashboard_is_open_when_the_server_requires_an_api_key(start_server):
    server = start_server(env={"SHOAL_API_KEY": "secret"}, ready_headers={"Authorization": "Bearer secret"})
    assert requests.get(f"{server.url}/v1/models", timeout=5).status_code == 401
    page = requests.get(f"{server.url}/dashboard", timeout=5)
    assert page.status_code == 200 and "<table" in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    data = requests.get(f"{server.url}/dashboard/data", timeout=5).json()
    assert data["kind"] == "server" and [row["id"] for row in data["rows"]] == [MODEL_NAME]
