"""The store under load in a real gunicorn: past its bound it keeps the newest traces and its
file stops growing; made unwritable mid-load (another process holds its write lock past the
writers' busy timeout), every request still succeeds, each process says so once, and writing
resumes when the lock goes."""

from __future__ import annotations

import sqlite3
import threading
import time

import httpx
import pytest

from tests.harness.telemetry_fixtures import new_traceparent
from tests.telemetry.explorer.e2e_support import (
    QUICK_BATCHES,
    query_store,
    store_path,
    wait_for_store,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("untraced_test_process")]
BOUND = 1500
BOUNDS = {
    "TELEMETRY_LOCAL_STORE_MAX_SPANS": str(BOUND),
    "TELEMETRY_LOCAL_STORE_MAX_LOG_RECORDS": str(BOUND),
}
ENRICH = {"words": 3, "sha256": "cd" * 32}


def send(client: httpx.Client, count: int) -> list[str]:
    """`count` traced requests (each its own trace); their trace ids, in order."""
    trace_ids = []
    for _ in range(count):
        trace_id, _, traceparent = new_traceparent()
        response = client.post(
            "/api/downstream/enrich", json=ENRICH, headers={"traceparent": traceparent}
        )
        assert response.status_code == 200, response.text
        trace_ids.append(trace_id)
    return trace_ids


def stored_traces(stack, trace_ids: list[str]) -> set[str]:
    found = set()
    for first in range(0, len(trace_ids), 500):
        chunk = trace_ids[first : first + 500]
        marks = ",".join("?" * len(chunk))
        rows = query_store(
            stack,
            f"SELECT DISTINCT trace_id FROM telemetry_storedspan WHERE trace_id IN ({marks})",
            tuple(chunk),
        )
        found |= {trace_id for (trace_id,) in rows}
    return found


def store_size(stack) -> int:
    """The store file's size once its write-ahead log is checkpointed into it."""
    with sqlite3.connect(store_path(stack), timeout=10) as store:
        store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return store_path(stack).stat().st_size


def span_count(stack) -> int:
    return query_store(stack, "SELECT COUNT(*) FROM telemetry_storedspan")[0][0]


def test_past_its_bound_the_store_keeps_the_newest_traces_and_its_size(stack):
    base_url = stack.start_web(**QUICK_BATCHES, **BOUNDS)
    with httpx.Client(base_url=base_url, timeout=20) as client:
        first = send(client, 2 * BOUND)  # a server span or more each: past the bound
        wait_for_store(
            stack, "the first traces", lambda: first[-1] in stored_traces(stack, first[-1:])
        )
        size_at_bound = store_size(stack)
        later = send(client, 3 * BOUND)
    wait_for_store(stack, "the last trace", lambda: later[-1] in stored_traces(stack, later[-1:]))

    # Within the bound (plus at most a batch another worker wrote since its last prune).
    assert span_count(stack) <= BOUND + 2 * 512
    assert not stored_traces(stack, first), "the oldest traces are gone"
    kept = stored_traces(stack, later[-200:])
    assert len(kept) >= 190, "the newest are kept"
    # Deleted rows free pages that the next inserts reuse: the file stays the size it had.
    assert store_size(stack) <= 1.5 * size_at_bound, (size_at_bound, store_size(stack))


def test_a_store_made_unwritable_mid_load_leaves_every_request_succeeding(stack):
    base_url = stack.start_web(**QUICK_BATCHES)
    statuses: list[int] = []
    latencies: list[float] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while not stop.is_set():
                _, _, traceparent = new_traceparent()
                started = time.perf_counter()
                response = client.post(
                    "/api/downstream/enrich", json=ENRICH, headers={"traceparent": traceparent}
                )
                latencies.append(time.perf_counter() - started)
                statuses.append(response.status_code)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        time.sleep(3)
        # Another process takes the store's write lock and keeps it past the busy timeout (5 s).
        holder = sqlite3.connect(store_path(stack), timeout=10)
        holder.execute("BEGIN EXCLUSIVE")
        locked_at = len(statuses)
        time.sleep(14)
        holder.rollback()
        holder.close()
        unlocked_at = len(statuses)
        time.sleep(3)
    finally:
        stop.set()
        loader.join(60)
    with httpx.Client(base_url=base_url, timeout=20) as client:
        (after,) = send(client, 1)

    assert statuses and set(statuses) == {200}, sorted(set(statuses))
    assert unlocked_at - locked_at > 10, "requests went on while the store was locked"
    ordered = sorted(latencies)
    assert ordered[int(len(ordered) * 0.95)] < 1.0  # no request waited on the store
    wait_for_store(
        stack, "writes after the lock went", lambda: after in stored_traces(stack, [after])
    )
    output = "".join(process.output() for process in stack.processes)
    failures = output.count("local telemetry store: cannot write")
    assert 1 <= failures <= 2, failures  # once per gunicorn worker (2), not per batch
    assert "database is locked" in output and "requests are not affected" in output
    assert 1 <= output.count("local telemetry store: writing to") <= 2  # and once when it can
