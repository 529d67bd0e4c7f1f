"""The whole Celery worker (main process and pool children) SIGKILLed in the middle of a
job: the broker would hand the message out again only after its visibility timeout (an
hour on Redis; never on the filesystem broker, which deleted it on delivery). The sweeper,
sent by beat, finds the job's lease run out and queues it again; a new worker finishes it,
once (issue 15: it stayed `running` for the hour, then would have run again)."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from tests.harness.downstreams import scripted_downstream
from tests.harness.servers import api_token

pytestmark = pytest.mark.e2e

LEASE_SECONDS = 8
# The lease, one sweep interval, and the second attempt (2 s downstream), with room to spare.
BOUND_SECONDS = 60


def test_a_job_whose_whole_worker_is_killed_is_requeued_and_finishes_once(stack):
    base_url = stack.start_web()
    durability = {
        "PROCESSING_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "PROCESSING_SWEEP_INTERVAL_SECONDS": "2",
    }
    with scripted_downstream(delay=2.0) as downstream:
        worker = stack.start_worker(PROCESSING_DOWNSTREAM_URL=downstream.url, **durability)
        token = api_token(base_url, stack)
        client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=15
        )
        queued = client.post("/api/jobs", json={"data": "survive a whole-worker crash"}).json()
        assert downstream.started.wait(30), stack.logs()
        os.killpg(worker.popen.pid, signal.SIGKILL)  # the main process and its pool children
        worker.popen.wait(10)
        killed = time.monotonic()
        assert client.get(queued["url"]).json()["status"] == "running"

        second = stack.start_worker(PROCESSING_DOWNSTREAM_URL=downstream.url, **durability)
        stack.start_beat(**durability)
        while (job := client.get(queued["url"]).json())["status"] not in ("succeeded", "failed"):
            assert time.monotonic() - killed < BOUND_SECONDS, f"job stuck: {job}\n{stack.logs()}"
            time.sleep(0.5)
        print(
            f"job final {time.monotonic() - killed:.1f} s after the kill (lease {LEASE_SECONDS} s)"
        )

    assert job["status"] == "succeeded", stack.logs()
    assert job["attempts"] == 2
    assert downstream.calls == 2
    logs = worker.output() + second.output()
    assert "job re-queued by the sweeper" in second.output()
    assert logs.count('"message": "job succeeded"') == 1
