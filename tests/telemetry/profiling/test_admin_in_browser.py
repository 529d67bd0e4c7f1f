"""A finished run's admin page, as a real headless Chromium renders it: the page loads,
the icicle graph is drawn inline, and it names the run's hottest function."""

from __future__ import annotations

import time

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.harness.browser import browser_available, headless_chromium, log_in
from tests.harness.servers import create_superuser, login_token

pytestmark = pytest.mark.e2e


def test_the_run_page_shows_its_icicle_graph_in_a_real_browser(stack, tmp_path):
    assert browser_available(), "scripts/test.sh installs Debian's chromium and chromium-driver"
    base_url = stack.start_web()
    email, password = create_superuser(stack)
    token = login_token(base_url, email, password)
    api = httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=20)

    started = api.post(
        "/api/telemetry/profiling-runs",
        json={
            "target": "requests",
            "route_pattern": "^/api/process$",
            "sample_every": 1,
            "clock": "cpu",
            "max_captures": 4,
            "max_duration_seconds": 120,
        },
    )
    assert started.status_code == 201, started.text
    run = started.json()
    time.sleep(2.5)  # every process polls the run's marker about once a second
    text = " ".join(["browser", "profiling", "words"] * 300)
    deadline = time.monotonic() + 40
    while run["status"] == "running" and time.monotonic() < deadline:
        assert api.post("/api/process", json={"data": text}).status_code == 200
        time.sleep(0.3)
        run = api.get(run["url"]).json()
    assert run["status"] == "finished", run
    hottest = run["top_functions"][0]["function"]  # 'name (dir/file.py:line)'
    assert run["top_functions"][0]["own_seconds"] > 0

    with headless_chromium(tmp_path / "chromium-profile") as browser:
        log_in(browser, base_url, email, password)

        browser.get(f"{base_url}/admin/telemetry/profilingrun/{run['id']}/change/")
        svg = WebDriverWait(browser, 20).until(
            expected_conditions.visibility_of_element_located(
                (By.CSS_SELECTOR, "#profiling-flamegraph svg")
            )
        )
        browser.save_screenshot(str(tmp_path / "profiling-run.png"))
        svg.screenshot(str(tmp_path / "icicle.png"))
        # The summary picture fits the page: no scrolling sideways.
        container = browser.find_element(By.ID, "profiling-flamegraph")
        assert 800 <= svg.size["width"] <= container.size["width"] and svg.size["height"] > 60
        boxes = svg.find_elements(By.CSS_SELECTOR, "g.frame rect")
        assert len(boxes) > 10
        # The picture names the hottest function: in its heading and as a box of its own.
        assert hottest in svg.find_element(By.CSS_SELECTOR, "text.hottest").text
        assert svg.find_elements(By.CSS_SELECTOR, f'g.frame[data-function="{hottest}"]')
        assert "ProcessApi.post" in svg.get_attribute("innerHTML")
        table = browser.find_element(By.ID, "profiling-top-functions").text
        assert hottest in table
