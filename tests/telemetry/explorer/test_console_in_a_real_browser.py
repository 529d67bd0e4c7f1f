"""The console as a real headless Chromium shows it, on the default set-up (no OTLP endpoint:
the local store is on) with a real gunicorn and a real Celery worker: a job's trace in one
waterfall across web, worker and the downstream call, with its log records, reached from
the job's admin page; and a failing job found by filtering for errors, retries included."""

from __future__ import annotations

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from tests.harness.browser import browser_available, headless_chromium, log_in
from tests.harness.jobs import wait_for_job
from tests.harness.servers import create_superuser, free_port, login_token
from tests.harness.telemetry_fixtures import new_traceparent
from tests.telemetry.explorer.e2e_support import (
    QUICK_BATCHES,
    log_bodies,
    span_names,
    wait_for_store,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("untraced_test_process")]

WHOLE_STORY = {
    "POST /api/jobs",
    "apply_async/processing.process_job",
    "run/processing.process_job",
    "POST",  # the worker's downstream call (httpx)
    "POST /api/downstream/enrich",
    "apply_async/processing.complete_job",
    "run/processing.complete_job",
}


def queue_job(base_url: str, token: str, traceparent: str, data: str) -> dict:
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=20
    ) as api:
        response = api.post("/api/jobs", json={"data": data}, headers={"traceparent": traceparent})
        assert response.status_code == 202, response.text
        return wait_for_job(api, response.json()["url"])


def waterfall_rows(browser) -> list[dict]:
    return [
        {
            "span_id": row.get_attribute("data-span-id"),
            "parent_id": row.get_attribute("data-parent-id"),
            "name": row.get_attribute("data-name"),
            "kind": row.get_attribute("data-kind"),
            "role": row.get_attribute("data-role"),
            "status": row.get_attribute("data-status"),
            "element": row,
        }
        for row in browser.find_elements(By.CSS_SELECTOR, "#waterfall details.span")
    ]


def test_a_job_s_whole_trace_in_one_waterfall_reached_from_its_admin_page(stack, tmp_path):
    assert browser_available(), "scripts/test.sh installs Debian's chromium and chromium-driver"
    base_url = stack.start_web(**QUICK_BATCHES)
    stack.start_worker(**QUICK_BATCHES)
    email, password = create_superuser(stack)
    trace_id, parent_id, traceparent = new_traceparent()

    job = queue_job(base_url, login_token(base_url, email, password), traceparent, "one trace")

    assert job["status"] == "succeeded" and job["trace_id"] == trace_id, stack.logs()
    wait_for_store(
        stack,
        "the whole trace and its logs",
        lambda: (
            WHOLE_STORY <= set(span_names(stack, trace_id))
            and {"job queued", "processing data", "job succeeded"}
            <= set(log_bodies(stack, trace_id))
        ),
    )
    with headless_chromium(tmp_path / "chromium-profile") as browser:
        log_in(browser, base_url, email, password)
        browser.get(f"{base_url}/admin/processing/processingjob/{job['id']}/change/")
        link = browser.find_element(By.CSS_SELECTOR, "a.job-trace-link")
        assert link.text == trace_id
        link.click()
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "waterfall"))
        )
        assert browser.current_url == f"{base_url}/admin/telemetry/console/traces/{trace_id}/"
        browser.save_screenshot(str(tmp_path / "trace.png"))

        rows = waterfall_rows(browser)
        by_name = {}
        for row in rows:
            by_name.setdefault(row["name"], []).append(row)
        position = {row["span_id"]: n for n, row in enumerate(rows)}
        (server,) = by_name["POST /api/jobs"]
        assert (server["kind"], server["role"], server["parent_id"]) == ("server", "web", parent_id)
        # The database spans of the request, under its server span.
        database = [
            r for r in rows if r["kind"] == "client" and r["parent_id"] == server["span_id"]
        ]
        assert database and all(r["role"] == "web" for r in database)
        (producer,) = by_name["apply_async/processing.process_job"]
        assert producer["parent_id"] == server["span_id"] and producer["kind"] == "producer"
        (task,) = by_name["run/processing.process_job"]
        assert task["parent_id"] == producer["span_id"] and task["role"] == "worker"
        (call,) = [r for r in by_name["POST"] if r["parent_id"] == task["span_id"]]
        assert call["kind"] == "client" and call["role"] == "worker"
        (downstream,) = by_name["POST /api/downstream/enrich"]
        assert downstream["parent_id"] == call["span_id"] and downstream["role"] == "web"
        (complete,) = by_name["run/processing.complete_job"]
        (next_step,) = by_name["apply_async/processing.complete_job"]
        assert next_step["parent_id"] == task["span_id"]
        assert complete["parent_id"] == next_step["span_id"]
        # Tree order: every span below its parent.
        for row in rows:
            if row["parent_id"] in position:
                assert position[row["parent_id"]] < position[row["span_id"]], row["name"]
        # The bars sit on one time axis: the task starts after the request's span does.
        server_bar = server["element"].find_element(By.CSS_SELECTOR, ".bar")
        task_bar = task["element"].find_element(By.CSS_SELECTOR, ".bar")
        assert server_bar.size["width"] > 0 and task_bar.size["width"] > 0
        assert task_bar.location["x"] > server_bar.location["x"]

        # The log records of those spans, inline and in time order.
        logs = browser.find_element(By.ID, "trace-logs").text
        assert (
            logs.index("job queued") < logs.index("processing data") < logs.index("job succeeded")
        )
        task["element"].click()  # open the task's details: its attributes and its logs
        body = task["element"].find_element(By.CSS_SELECTOR, ".span-body")
        assert "processing data" in body.text and "celery" in body.text
        processes = browser.find_elements(By.CSS_SELECTOR, "details.process")
        assert len(processes) >= 2  # a gunicorn worker and a pool child at least
        jobs = browser.find_element(By.ID, "trace-jobs-link")
        jobs.click()
        WebDriverWait(browser, 20).until(expected_conditions.url_contains("/processingjob/"))
        assert job["id"] in browser.page_source  # the job's row in the filtered list


def test_a_failing_job_is_found_by_filtering_for_errors_with_its_retries(stack, tmp_path):
    assert browser_available(), "scripts/test.sh installs Debian's chromium and chromium-driver"
    base_url = stack.start_web(**QUICK_BATCHES)
    dead = f"http://127.0.0.1:{free_port()}/enrich"  # nothing listens there
    stack.start_worker(
        PROCESSING_DOWNSTREAM_URL=dead,
        PROCESSING_JOB_MAX_RETRIES="2",
        PROCESSING_JOB_RETRY_BACKOFF="0.2",
        **QUICK_BATCHES,
    )
    email, password = create_superuser(stack)
    trace_id, _, traceparent = new_traceparent()

    job = queue_job(base_url, login_token(base_url, email, password), traceparent, "doomed")

    assert job["status"] == "failed" and job["attempts"] == 3, stack.logs()
    wait_for_store(
        stack,
        "three attempts",
        lambda: span_names(stack, trace_id).count("run/processing.process_job") == 3,
    )
    with headless_chromium(tmp_path / "chromium-profile") as browser:
        log_in(browser, base_url, email, password)
        browser.get(f"{base_url}/admin/telemetry/console/traces/")
        Select(browser.find_element(By.NAME, "status")).select_by_value("error")
        browser.find_element(By.CSS_SELECTOR, "#console-search input[type=submit]").click()
        WebDriverWait(browser, 20).until(expected_conditions.url_contains("status=error"))
        listed = [
            row.get_attribute("data-trace-id")
            for row in browser.find_elements(By.CSS_SELECTOR, "#trace-results tr.trace-row")
        ]
        assert trace_id in listed
        browser.find_element(
            By.CSS_SELECTOR, f'tr[data-trace-id="{trace_id}"] a.trace-link'
        ).click()
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "waterfall"))
        )
        browser.save_screenshot(str(tmp_path / "failed-trace.png"))

        rows = waterfall_rows(browser)
        attempts = [r for r in rows if r["name"] == "run/processing.process_job"]
        assert len(attempts) == 3  # the first attempt and its two retries, in one trace
        assert attempts[-1]["status"] == "error"  # the last one failed for good
        refused = [r for r in rows if r["kind"] == "client" and r["status"] == "error"]
        assert len(refused) >= 3  # each attempt's call to the dead downstream
        refused[0]["element"].click()
        assert "exception" in refused[0]["element"].find_element(By.CSS_SELECTOR, ".span-body").text
        logs = browser.find_element(By.ID, "trace-logs").text
        # Each attempt says so before it asks for a retry (the last is refused one).
        assert logs.count("downstream unavailable, will retry") == 3
