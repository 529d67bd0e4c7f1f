"""Continuous profiling across real processes: switched on in the admin (over HTTP, with the
CSRF token), it reaches every gunicorn worker and Celery pool process within seconds; their
windows appear; the console's range view names the view and the task functions that did the
work and lists sampled traces; switched off, the samples stop."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest

from tests.harness.servers import admin_session, api_token

pytestmark = pytest.mark.e2e

WEB_WORKERS = 2
POOL_PROCESSES = 2
PAGE = "/admin/telemetry/continuousprofilewindow/"
SETTINGS_URL = "/admin/telemetry/continuousprofiling/"
# Many words: the view and the task spend milliseconds in the analysis, where samples land.
DATA = " ".join(f"word{i % 700}" for i in range(7_000))


def wait_for(condition, what: str, timeout: float = 30, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def post_form(client: httpx.Client, base_url: str, url: str, **fields: str) -> httpx.Response:
    form = client.get(url)
    assert form.status_code == 200, form.text[:2000]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    return client.post(
        url, data={"csrfmiddlewaretoken": token, **fields}, headers={"Referer": base_url + url}
    )


def processes_on_page(page: str) -> set[str]:
    return set(re.findall(r'<option value="((?:web|worker):[^"]+)"', page))


def samples_on_page(page: str) -> int:
    summary = re.search(r'id="continuous-summary">(.*?)</p>', page, re.S).group(1)
    return int(re.search(r"(\d+) samples?", summary).group(1))


class Load:
    """Requests and jobs in a loop, from a thread, until stopped."""

    def __init__(self, api: httpx.Client) -> None:
        self.api = api
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                process = self.api.post("/api/process", json={"data": DATA})
                job = self.api.post("/api/jobs", json={"data": DATA})
                if process.status_code != 200 or job.status_code != 202:
                    self.errors.append(f"{process.status_code} {job.status_code}")
            except httpx.HTTPError as exc:
                self.errors.append(repr(exc))
            time.sleep(0.05)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(30)


def test_continuous_profiling_switched_in_the_admin_reaches_web_and_worker(stack):
    extra = {
        "PROFILING_CONTINUOUS_DEFAULT_ENABLED": "false",
        "PROFILING_CONTINUOUS_WINDOW_SECONDS": "5",
        "PROFILING_CONTINUOUS_FLUSH_SECONDS": "1",
    }
    base_url = stack.start_web(GUNICORN_WORKERS=str(WEB_WORKERS), **extra)
    stack.start_worker(concurrency=POOL_PROCESSES, **extra)
    admin, _, _ = admin_session(stack, base_url)
    api = httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Token {api_token(base_url, stack)}"},
        timeout=60,
    )
    assert "off (settings)" in admin.get(PAGE).text
    assert api.post("/api/process", json={"data": DATA}).status_code == 200  # warm up

    with Load(api) as load:
        switched = post_form(
            admin, base_url, f"{SETTINGS_URL}add/", enabled="on", sample_hz="50", mode="cpu"
        )
        assert switched.status_code == 302, switched.text[:3000]
        started = time.monotonic()
        # Every web worker and pool process samples and writes its window within seconds.
        page = wait_for(
            lambda: (
                (text := admin.get(PAGE, params={"last": "15"}).text)
                and sum(p.startswith("web:") for p in processes_on_page(text)) == WEB_WORKERS
                and sum(p.startswith("worker:") for p in processes_on_page(text)) == POOL_PROCESSES
                and text
            ),
            "every process to write a window",
            timeout=40,
        )
        assert time.monotonic() - started < 30
        # The range view names the view and the task that did the work.
        web = wait_for(
            lambda: (
                (t := admin.get(PAGE, params={"role": "web"}).text) and "ProcessApi.post" in t and t
            ),
            "the view function in the web processes' profile",
        )
        worker = wait_for(
            lambda: (
                (t := admin.get(PAGE, params={"role": "worker"}).text) and "process_job" in t and t
            ),
            "the task function in the workers' profile",
        )
        assert "process_job" not in web and "ProcessApi.post" not in worker
        # Samples taken inside requests and tasks are tied to their traces.
        assert re.search(r"<code>[0-9a-f]{32}</code>|>[0-9a-f]{32}</a>", page + web)
        assert "in this web process" in page and "on, 50 samples/s" in page

        change = admin.get(SETTINGS_URL).headers["location"]  # the one row's form
        assert re.fullmatch(rf"{SETTINGS_URL}\d+/change/", change), change
        off = post_form(admin, base_url, change, sample_hz="50", mode="cpu")  # unticked
        assert off.status_code == 302, off.text[:3000]
        time.sleep(4)  # a poll, the last flush, and a margin
        before = samples_on_page(admin.get(PAGE, params={"last": "15"}).text)
        time.sleep(4)  # the load goes on
        after = samples_on_page(admin.get(PAGE, params={"last": "15"}).text)
        assert after == before, "samples went on after switching off"
        assert "off (admin)" in admin.get(PAGE).text
    assert not load.errors, load.errors[:5]
