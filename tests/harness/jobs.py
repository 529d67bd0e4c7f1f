"""Jobs on a running stack, over its HTTP API, as a client would queue and follow them."""

from __future__ import annotations

import time

import httpx

from tests.harness.servers import Stack, api_token

TERMINAL = {"succeeded", "failed"}


def wait_for_job(client: httpx.Client, job_url: str, timeout: float = 60) -> dict:
    """Poll the job until it succeeded or failed; return its last representation."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(job_url).json()
        if job["status"] in TERMINAL:
            return job
        time.sleep(0.25)
    raise AssertionError(f"job did not finish in {timeout}s: {job}")


def queue_job(base_url: str, stack: Stack, traceparent: str, data: str) -> dict:
    """POST /api/jobs as a new staff user, in the trace of `traceparent`; wait for the job."""
    token = api_token(base_url, stack)
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=15
    ) as client:
        response = client.post(
            "/api/jobs", json={"data": data}, headers={"traceparent": traceparent}
        )
        assert response.status_code == 202, response.text
        return wait_for_job(client, response.json()["url"])
