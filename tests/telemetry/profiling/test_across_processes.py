"""A profiling run started in the admin (as an admin user, over HTTP, with the CSRF token)
is picked up by every real gunicorn worker and Celery pool process, captures requests and
tasks in both, ends by itself at its capture limit, and its stored table names the view and
task functions that did the work, with no frame of the profiler and no cumulative time above
the run's total. Its downloads load with pstats and read with Valgrind's callgrind_annotate."""

from __future__ import annotations

import pstats
import re
import time

import httpx
import pytest

from tests.harness.servers import admin_session, api_token
from tests.telemetry.profiling.support import assert_parses_as_callgrind

pytestmark = pytest.mark.e2e


WEB_WORKERS = 2
POOL_PROCESSES = 2


def start_run_in_admin(client: httpx.Client, base_url: str, **fields: str) -> int:
    add_url = "/admin/telemetry/profilingrun/add/"
    form = client.get(add_url)
    assert form.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    response = client.post(
        add_url,
        data={"csrfmiddlewaretoken": token, **fields},
        headers={"Referer": f"{base_url}{add_url}"},
    )
    assert response.status_code == 302, response.text[:3000]
    listing = client.get("/admin/telemetry/profilingrun/")
    return int(re.search(r"/admin/telemetry/profilingrun/(\d+)/change/", listing.text).group(1))


def run_state(api: httpx.Client, run_id: int) -> dict:
    response = api.get(f"/api/telemetry/profiling-runs/{run_id}")
    assert response.status_code == 200, response.text
    return response.json()


def seen_state(seen: list, api: httpx.Client, run_id: int) -> dict:
    """The run's state, also kept in `seen` so that a timeout can say what it last was."""
    seen.append(state := run_state(api, run_id))
    return state


def wait_for(condition, what: str, timeout: float = 30, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        value = condition(seen)
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last seen: {seen[-1:]}")


def test_a_run_started_in_the_admin_profiles_web_and_worker_processes(stack, tmp_path):
    base_url = stack.start_web(GUNICORN_WORKERS=str(WEB_WORKERS))
    stack.start_worker(concurrency=POOL_PROCESSES)
    admin, _, _ = admin_session(stack, base_url)
    api = httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Token {api_token(base_url, stack)}"},
        timeout=20,
    )

    run_id = start_run_in_admin(
        admin,
        base_url,
        name="e2e",
        target="requests_and_tasks",
        route_pattern=r"^/api/(process|jobs)$",
        task_pattern=r"^processing\.",
        sample_every="1",
        clock="wall",
        max_duration_seconds="300",
        max_captures="8",
    )
    started = time.monotonic()
    # Every web worker and every pool process joins within seconds (it reports a row).
    state = wait_for(
        lambda seen: (
            (s := seen_state(seen, api, run_id))
            and sum(p["process"].startswith("web:") for p in s["processes"]) == WEB_WORKERS
            and sum(p["process"].startswith("worker:") for p in s["processes"]) == POOL_PROCESSES
            and s
        ),
        "every process to join the run",
        timeout=15,
    )
    assert time.monotonic() - started < 10
    assert state["status"] == "running"

    # 3 synchronous requests and 2 jobs: 5 captured requests (< 8), then the 4 tasks of
    # the jobs' chains take the run over its limit of 8.
    for i in range(3):
        response = api.post("/api/process", json={"data": f"profile me please {i}"})
        assert response.status_code == 200, response.text
    for i in range(2):
        response = api.post("/api/jobs", json={"data": f"a job to profile {i}"})
        assert response.status_code == 202, response.text

    state = wait_for(
        lambda seen: (s := seen_state(seen, api, run_id))["status"] != "running" and s,
        "the run to end by itself",
        timeout=40,
    )
    assert state["status"] == "finished", state
    assert state["status_reason"] == "reached 8 captures"
    assert state["captures"] >= 8
    captured = {p["process"].split(":")[0]: 0 for p in state["processes"]}
    for process in state["processes"]:
        captured[process["process"].split(":")[0]] += process["captures"]
    assert captured["web"] >= 5 and captured["worker"] >= 1, state["processes"]

    # The table names the view and the task that did the work (and the work itself).
    pstat_path = tmp_path / "run.pstat"
    download = admin.get(f"/admin/telemetry/profilingrun/{run_id}/download/pstat/")
    assert download.status_code == 200
    pstat_path.write_bytes(download.content)
    stats = pstats.Stats(str(pstat_path))
    names = {name for (_, _, name) in stats.stats}
    # The profiler never reports itself, and no cumulative time exceeds the run's total.
    assert not [key for key in stats.stats if "/telemetry/profiling/" in key[0]]
    assert max(ct for (_, _, _, ct, _) in stats.stats.values()) <= stats.total_tt * 1.0001
    assert "ProcessApi.post" in names
    assert "JobListCreateApi.post" in names
    # yappi names a bound task's function by its task class: process_job.process_job.
    assert "process_job.process_job" in names
    assert "complete_job" in names
    assert "analyze" in names

    # Every captured request carried a trace, and the run kept its trace ids.
    assert len(state["trace_ids"]) >= 5
    assert all(re.fullmatch(r"[0-9a-f]{32}", t["trace_id"]) for t in state["trace_ids"])

    callgrind = admin.get(f"/admin/telemetry/profilingrun/{run_id}/download/callgrind/")
    assert callgrind.status_code == 200
    inclusive = assert_parses_as_callgrind(callgrind.text, tmp_path / "callgrind.out")
    assert "process_job.process_job" in inclusive and "ProcessApi.post" in inclusive

    page = admin.get(f"/admin/telemetry/profilingrun/{run_id}/change/")
    assert page.status_code == 200
    assert "<svg" in page.text and "ProcessApi.post" in page.text
