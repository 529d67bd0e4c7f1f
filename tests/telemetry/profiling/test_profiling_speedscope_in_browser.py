"""A run opens in the console's own copy of speedscope, in a real headless Chromium: from
the run page's "Open in speedscope" button to the viewer (served to staff by the service,
from the npm package's files, nothing from outside), which loads the run's export, draws
its flame chart, and finds the view function's frame with its search in the sandwich view
(the view's total and self time on one row)."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.harness.browser import browser_available, headless_chromium
from tests.harness.servers import create_superuser, login_token

pytestmark = pytest.mark.e2e

VIEW = "ProcessApi.post"


def wait_for(browser, condition, what: str, timeout: float = 30):
    """WebDriverWait, failing with what the page showed (and a screenshot next to it)."""
    try:
        return WebDriverWait(browser, timeout).until(condition)
    except TimeoutException:
        text = browser.find_element(By.TAG_NAME, "body").text[:1500]
        page = f"the page ({browser.title}):\n{text}"
        raise AssertionError(f"timed out waiting for {what}; {page}") from None


def finished_run(base_url: str, token: str) -> dict:
    api = httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=20)
    started = api.post(
        "/api/telemetry/profiling-runs",
        json={"route_pattern": "^/api/process$", "sample_every": 1, "max_captures": 3},
    )
    assert started.status_code == 201, started.text
    run = started.json()
    time.sleep(2.5)  # every process polls the run's marker about once a second
    deadline = time.monotonic() + 40
    while run["status"] == "running" and time.monotonic() < deadline:
        response = api.post("/api/process", json={"data": "speedscope " * 200})
        assert response.status_code == 200
        time.sleep(0.3)
        run = api.get(run["url"]).json()
    assert run["status"] == "finished", run
    return run


def test_a_run_opens_in_the_served_speedscope_and_shows_the_view_function(stack, tmp_path):
    assert browser_available(), "scripts/test.sh installs Debian's chromium and chromium-driver"
    base_url = stack.start_web()
    email, password = create_superuser(stack)
    run = finished_run(base_url, login_token(base_url, email, password))

    # Staff only: without a session the viewer's files are the admin's login redirect.
    anonymous = httpx.get(f"{base_url}/admin/telemetry/profilingrun/speedscope/index.html")
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous.headers["location"]

    with headless_chromium(tmp_path / "chromium-profile") as browser:
        browser.get(f"{base_url}/admin/login/?next=/admin/")
        browser.find_element(By.NAME, "username").send_keys(email)
        browser.find_element(By.NAME, "password").send_keys(password)
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        WebDriverWait(browser, 20).until(lambda b: "/login/" not in b.current_url)

        browser.get(f"{base_url}/admin/telemetry/profilingrun/{run['id']}/change/")
        link = (
            WebDriverWait(browser, 20)
            .until(expected_conditions.presence_of_element_located((By.ID, "open-speedscope")))
            .get_attribute("href")
        )
        assert link.startswith(f"{base_url}/admin/telemetry/profilingrun/speedscope/index.html#")
        browser.get(link)
        # speedscope names the page after the profile once it loaded it.
        wait_for(browser, lambda b: b.title.startswith(f"Profiling run {run['id']}"), "the profile")
        assert browser.find_elements(By.TAG_NAME, "canvas")
        # The sandwich view lists every function; its search (Ctrl+F) narrows the list.
        browser.find_element(By.XPATH, "//*[contains(text(), 'Sandwich')]").click()
        wait_for(browser, lambda b: "Symbol Name" in b.page_source, "the sandwich view")
        ActionChains(browser).key_down(Keys.CONTROL).send_keys("f").key_up(Keys.CONTROL).perform()
        search = wait_for(
            browser,
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "input")),
            "the search box",
        )
        search.send_keys(VIEW)
        row = re.compile(rf"\d+(\.\d+)?\w?s \([\d.]+%\)\s+\S+ \([\d.]+%\)\s+{re.escape(VIEW)}")
        wait_for(
            browser,
            lambda b: row.search(b.find_element(By.TAG_NAME, "body").text),
            f"{VIEW}'s row in the sandwich view",
        )
        browser.save_screenshot(str(tmp_path / "speedscope-sandwich.png"))
        # Nothing came from outside the service.
        resources = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        assert resources and all(name.startswith(base_url) for name in resources), resources
