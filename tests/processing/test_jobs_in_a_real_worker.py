"""Jobs queued over HTTP run in a real Celery worker process, on the run's broker (the
filesystem broker in the SQLite pass, Redis in the PostgreSQL pass)."""

from __future__ import annotations

import httpx
import pytest

from tests.harness.downstreams import scripted_downstream
from tests.harness.jobs import wait_for_job
from tests.harness.servers import api_token, free_port

pytestmark = pytest.mark.e2e


def api_client(base_url: str, stack) -> httpx.Client:
    token = api_token(base_url, stack)
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=15)


def test_a_job_succeeds_through_the_real_worker(stack):
    base_url = stack.start_web()
    stack.start_worker()
    client = api_client(base_url, stack)

    response = client.post("/api/jobs", json={"data": "the quick brown fox jumps over the fox"})
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["status"] == "queued"
    assert response.headers["Location"] == queued["url"]

    job = wait_for_job(client, queued["url"])
    assert job["status"] == "succeeded", stack.logs()
    assert job["attempts"] == 1
    assert job["error"] == ""
    assert set(job["result"]) == {"analysis", "enrichment"}  # the result itself, not nested
    assert job["result"]["analysis"]["words"] == 8
    assert job["result"]["analysis"]["top_words"][0] == ["the", 2]
    # The worker really called the downstream service over HTTP.
    assert job["result"]["enrichment"]["size_class"] == "short"
    timings = job["timings"]
    assert timings["queue_wait_ms"] >= 0 and timings["run_ms"] > 0


def test_a_job_whose_downstream_is_down_is_retried_then_fails(stack):
    base_url = stack.start_web()
    dead_port = free_port()  # nothing listens there
    stack.start_worker(
        PROCESSING_DOWNSTREAM_URL=f"http://127.0.0.1:{dead_port}/enrich",
        PROCESSING_JOB_MAX_RETRIES="2",
        PROCESSING_JOB_RETRY_BACKOFF="0.2",
    )
    client = api_client(base_url, stack)

    queued = client.post("/api/jobs", json={"data": "doomed"}).json()
    job = wait_for_job(client, queued["url"])

    assert job["status"] == "failed"
    assert job["attempts"] == 3  # the first try and two retries
    assert "DownstreamUnavailable" in job["error"]
    assert f"127.0.0.1:{dead_port}" in job["error"]
    assert job["result"] is None
    assert job["timings"]["finished_at"] is not None


@pytest.fixture
def flaky_downstream():
    with scripted_downstream(failures=2) as downstream:
        yield downstream


def test_a_job_whose_downstream_recovers_succeeds_after_retries(stack, flaky_downstream):
    base_url = stack.start_web()
    stack.start_worker(
        PROCESSING_DOWNSTREAM_URL=flaky_downstream.url,
        PROCESSING_JOB_MAX_RETRIES="3",
        PROCESSING_JOB_RETRY_BACKOFF="0.2",
    )
    client = api_client(base_url, stack)

    queued = client.post("/api/jobs", json={"data": "worth retrying"}).json()
    job = wait_for_job(client, queued["url"])

    assert job["status"] == "succeeded", stack.logs()
    assert job["attempts"] == 3
    assert job["result"]["enrichment"]["source"] == "scripted"
    assert flaky_downstream.calls == 3
