"""150 accepted jobs, PostgreSQL cut for 15 s under the worker: every job still ends in a
final state once the database is back (issue 15: 33 of them stayed queued or running)."""

from __future__ import annotations

import os
import time
from collections import Counter

import httpx
import psycopg
import pytest

from tests.harness.servers import api_token
from tests.harness.tcp_proxy import relayed

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="SQLite is a file with no server to lose; this runs in the PostgreSQL pass",
    ),
]

JOBS = 150
OUTAGE_SECONDS = 15
# After the database is back: the tasks' database wait ends within its backoff (5 s), the
# backlog then drains; the sweeper (every 2 s here, leases of 20 s) settles any stragglers.
BOUND_SECONDS = 180


def test_every_accepted_job_ends_final_after_a_database_outage(stack):
    proxy, via_proxy = relayed(stack.env["DATABASE_URL"], 5432)
    base_url = stack.start_web()
    token = api_token(base_url, stack)
    client = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=30
    )
    urls = []
    for n in range(JOBS):
        response = client.post("/api/jobs", json={"data": f"job {n} of the outage"})
        assert response.status_code == 202, response.text
        urls.append(response.json()["url"])

    durability = {
        "DATABASE_URL": via_proxy,
        "PROCESSING_JOB_LEASE_SECONDS": "20",
        "PROCESSING_JOB_QUEUED_TIMEOUT_SECONDS": "60",
        "PROCESSING_SWEEP_INTERVAL_SECONDS": "2",
    }
    stack.start_worker(concurrency=2, **durability)
    stack.start_beat(**durability)
    # Cut as soon as the worker is into the backlog: the count is read straight from the
    # database (a millisecond), not through the API's pages, which take longer than the
    # worker needs for dozens of jobs once it keeps its connection (CI saw 103 done at a cut
    # decided by the API).
    _wait_for_succeeded(stack.env["DATABASE_URL"], at_least=10, within=60, logs=stack.logs)
    proxy.cut()
    # The web reaches the database directly, so what it shows now is the state at the cut.
    at_cut = _statuses(client, urls)
    # The outage meets a backlog: many jobs are not final when the database goes (queued, or
    # processed with their follow-up step waiting behind the rest of the queue).
    assert at_cut["queued"] + at_cut["running"] >= JOBS // 3, at_cut
    time.sleep(OUTAGE_SECONDS)
    proxy.start()
    restored = time.monotonic()

    while (statuses := _statuses(client, urls))["queued"] + statuses["running"]:
        assert time.monotonic() - restored < BOUND_SECONDS, f"{statuses}\n{stack.logs()}"
        time.sleep(1)
    settled_in = time.monotonic() - restored
    print(
        f"at the cut: {dict(at_cut)}; all {JOBS} jobs final {settled_in:.1f} s after the "
        f"database came back: {dict(statuses)}"
    )
    # Nothing failed: the outage was shorter than the tasks' database wait.
    assert statuses == Counter({"succeeded": JOBS}), statuses
    jobs = [client.get(url).json() for url in urls]
    assert all(job["result"]["enrichment"] for job in jobs)


def _wait_for_succeeded(database_url: str, *, at_least: int, within: float, logs) -> None:
    deadline = time.monotonic() + within
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            (succeeded,) = conn.execute(
                "SELECT count(*) FROM processing_processingjob WHERE status = 'succeeded'"
            ).fetchone()
            if succeeded >= at_least:
                return
            assert time.monotonic() < deadline, logs()
            time.sleep(0.02)


def _statuses(client: httpx.Client, urls: list[str]) -> Counter:
    counts: Counter = Counter()
    page = client.get("/api/jobs").json()
    while True:
        counts.update(job["status"] for job in page["results"])
        if not page["next"]:
            return counts
        page = client.get(page["next"]).json()
