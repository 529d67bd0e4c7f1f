"""The broker cut after a job's processing and before its follow-up step is queued: the job
was processed, its result is stored, so it ends succeeded with that result once the worker
can write it, instead of failed (issue 15)."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from tests.harness.downstreams import scripted_downstream
from tests.harness.servers import api_token
from tests.harness.tcp_proxy import relayed

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"),
        reason="the filesystem broker has no connection to cut; this runs in the Redis pass",
    ),
]


def test_a_processed_job_whose_follow_up_cannot_be_queued_still_succeeds(stack):
    proxy, via_proxy = relayed(stack.env["CELERY_BROKER_URL"], 6379)
    base_url = stack.start_web()
    with scripted_downstream(delay=4.0) as downstream:
        stack.start_worker(
            CELERY_BROKER_URL=via_proxy,
            PROCESSING_DOWNSTREAM_URL=downstream.url,
            TELEMETRY_CONTROL_REDIS_URL="",
        )
        token = api_token(base_url, stack)
        client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=15
        )
        queued = client.post("/api/jobs", json={"data": "processed, then cut off"}).json()
        assert downstream.started.wait(30), stack.logs()
        proxy.cut()  # while the downstream answers: the follow-up's publish meets no broker
        deadline = time.monotonic() + 60
        while (job := client.get(queued["url"]).json())["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, f"job stuck: {job}\n{stack.logs()}"
            time.sleep(0.5)
        proxy.start()

    assert job["status"] == "succeeded", f"{job}\n{stack.logs()}"
    assert job["result"]["enrichment"]["source"] == "scripted"
    assert downstream.calls == 1
