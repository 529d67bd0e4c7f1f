"""A worker process killed (SIGKILL) in the middle of a job: the message was not yet
acknowledged (acks_late), so the broker hands it out again, the job finishes once, and both
attempts belong to the request's trace."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from tests.harness.downstreams import scripted_downstream
from tests.harness.log_lines import json_records
from tests.harness.servers import api_token

pytestmark = pytest.mark.e2e


def test_a_job_whose_worker_child_is_killed_is_redelivered_and_finishes_once(stack):
    base_url = stack.start_web()
    with scripted_downstream(delay=2.0) as downstream:
        worker = stack.start_worker(PROCESSING_DOWNSTREAM_URL=downstream.url)
        token = api_token(base_url, stack)
        client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=15
        )
        queued = client.post("/api/jobs", json={"data": "survive a crash"}).json()

        assert downstream.started.wait(30), stack.logs()
        [first] = [r for r in json_records(worker.output()) if r["message"] == "processing data"]
        os.kill(first["pid"], signal.SIGKILL)  # the pool child that holds the task

        deadline = time.monotonic() + 60
        while (job := client.get(queued["url"]).json())["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, f"job stuck: {job}\n{stack.logs()}"
            time.sleep(0.3)

    assert job["status"] == "succeeded", stack.logs()
    assert job["attempts"] == 2
    assert downstream.calls == 2
    records = json_records(worker.output())
    attempts = [r for r in records if r["message"] == "processing data"]
    assert len(attempts) == 2
    assert attempts[1]["pid"] != first["pid"]
    # Both attempts continue the trace of the request that queued the job.
    assert {r.get("trace_id") for r in attempts} == {job["trace_id"]}
    assert sum(r["message"] == "job succeeded" for r in records) == 1
