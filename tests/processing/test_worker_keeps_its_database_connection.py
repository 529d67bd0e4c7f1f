"""A Celery worker keeps its PostgreSQL connection from task to task
(common.worker_connections), as the web server keeps its own from request to request, and
still gets over a connection the database dropped while it was idle.

The worker reaches PostgreSQL through a TCP relay that counts the connections it relays.
Celery's Django fix-up alone would connect twice a job (16 connections for these 8 jobs)."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.harness.jobs import wait_for_job
from tests.harness.servers import api_token
from tests.harness.tcp_proxy import relayed

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="SQLite connections are files opened per task by design (CONN_MAX_AGE 0); "
        "this runs in the PostgreSQL pass",
    ),
]

JOBS = 8


@pytest.fixture
def behind_a_relay(stack):
    """The stack's web server, and its worker connected to PostgreSQL through a relay."""
    proxy, via_proxy = relayed(stack.env["DATABASE_URL"], 5432)
    base_url = stack.start_web()
    worker = stack.start_worker(concurrency=1, DATABASE_URL=via_proxy)
    token = api_token(base_url, stack)
    client = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=15
    )
    yield proxy, client, worker
    client.close()
    proxy.cut()


def run_jobs(client: httpx.Client, count: int, what: str) -> list[dict]:
    urls = []
    for n in range(count):
        response = client.post("/api/jobs", json={"data": f"{what} {n}"})
        assert response.status_code == 202, response.text
        urls.append(response.json()["url"])
    return [wait_for_job(client, url) for url in urls]


def test_jobs_share_one_connection(behind_a_relay, stack):
    proxy, client, _ = behind_a_relay
    run_jobs(client, 1, "warm-up")  # the pool process's first connection
    before = proxy.accepted

    jobs = run_jobs(client, JOBS, "one connection")

    assert [job["status"] for job in jobs] == ["succeeded"] * JOBS, stack.logs()
    # One more at most: CONN_MAX_AGE (60 s) could end the first one during the run.
    assert proxy.accepted - before <= 1, f"{proxy.accepted - before} connections for {JOBS} jobs"


def test_a_connection_dropped_between_jobs_is_replaced_without_a_failed_attempt(
    behind_a_relay, stack
):
    proxy, client, worker = behind_a_relay
    run_jobs(client, 1, "before the drop")
    # The database ends the idle connection (a restart, a failover, an idle timeout): the
    # relay breaks it and listens again on the same port.
    proxy.cut()
    proxy.start()
    before = proxy.accepted

    jobs = run_jobs(client, 3, "after the drop")

    # The health check (CONN_HEALTH_CHECKS) found the broken connection before the task's
    # first query: every job ran once, and a new connection served them all.
    assert [(job["status"], job["attempts"]) for job in jobs] == [("succeeded", 1)] * 3, (
        stack.logs()
    )
    assert proxy.accepted - before == 1
    assert "database unavailable" not in worker.output()
