"""A long collector outage under load: the export queues stay bounded (memory flat over
20,000 requests), what they drop is counted in the SDK's own metric and logged once per
interval, not once per span, and the count arrives when the collector is back."""

from __future__ import annotations

import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.harness.collector import otlp_env

pytestmark = pytest.mark.e2e


REQUESTS = 20_000


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


def gunicorn_worker_pid(master_pid: int) -> int:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def hammer(base_url: str, count: int) -> None:
    def batch(n: int) -> None:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            for _ in range(n):
                # A sampled parent: every request records spans whatever the root policy.
                traceparent = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
                response = client.get("/", headers={"traceparent": traceparent})
                assert response.status_code == 200

    threads = 8
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(batch, [count // threads] * threads))


def test_memory_stays_flat_and_drops_are_counted_while_the_collector_is_down(collector, stack):
    stack.env.update(
        otlp_env(
            collector,
            GUNICORN_ACCESS_LOG="false",
            OTEL_BSP_MAX_QUEUE_SIZE="512",
            OTEL_METRIC_EXPORT_INTERVAL="2000",
        )
    )
    base_url = stack.start_web(GUNICORN_WORKERS="1", GUNICORN_THREADS="8")
    web = stack.processes[-1]
    worker_pid = gunicorn_worker_pid(web.popen.pid)
    collector.stop()

    hammer(base_url, 2_000)  # fill the queues and warm everything up
    before = rss_kib(worker_pid)
    started = time.monotonic()
    hammer(base_url, REQUESTS)
    elapsed = time.monotonic() - started
    after = rss_kib(worker_pid)
    print(
        f"\n{REQUESTS} requests in {elapsed:.1f} s with the collector down; worker RSS "
        f"{before / 1024:.1f} MiB -> {after / 1024:.1f} MiB ({(after - before) / 1024:+.1f} MiB)"
    )
    assert after - before < 16 * 1024, (before, after)

    drop_lines = web.output().count("Queue full, dropping")
    assert 1 <= drop_lines <= 1 + elapsed / 20 + 1, drop_lines  # once per 20 s, not per span

    collector.start()
    received = collector.wait_for(
        "the count of dropped spans",
        lambda r: any(
            m["name"] == "otel.sdk.processor.span.processed"
            and any(point.get("error.type") == "queue_full" for point in m["points"])
            for m in r.metrics
        ),
        timeout=60,
        since_last_start=True,
    )
    assert received.metrics
    # The printout gives each data point's value after its attributes.
    printout = collector.log_paths[-1].read_text(errors="replace")
    counted = [
        int(value)
        for value in re.findall(
            r"error\.type: Str\(queue_full\)\s+(?:.*\n)*?\s*Value: (\d+)", printout
        )
    ]
    print(f"spans dropped, as counted by the service: {max(counted)}")
    # Most of the 22,000 spans could not be queued while the collector was away.
    assert max(counted) >= REQUESTS // 2, counted
