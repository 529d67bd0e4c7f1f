"""The service does not wait for its collector: while the collector is unreachable every
request is answered as fast as before (export happens in background threads, with bounded
queues), and telemetry resumes by itself when the collector is back."""

from __future__ import annotations

import statistics
import time

import httpx
import pytest

from tests.harness.collector import otlp_env
from tests.harness.telemetry_fixtures import new_traceparent

pytestmark = pytest.mark.e2e


def timed_requests(client: httpx.Client, count: int, pause: float = 0.0) -> list[float]:
    """Latencies in milliseconds of `count` sequential GET / (a traced, cheap view)."""
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get("/")
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        if pause:
            time.sleep(pause)
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def summary(latencies: list[float]) -> str:
    return (
        f"median {statistics.median(latencies):.2f} ms, p95 {percentile(latencies, 0.95):.2f} "
        f"ms, max {max(latencies):.2f} ms over {len(latencies)} requests"
    )


def test_requests_are_not_slowed_while_the_collector_is_down_and_export_resumes(collector, stack):
    stack.env.update(otlp_env(collector, GUNICORN_ACCESS_LOG="false"))
    base_url = stack.start_web(GUNICORN_WORKERS="1")
    client = httpx.Client(base_url=base_url, timeout=10)
    timed_requests(client, 30)  # warm up: connections, imports, first exports
    trace_id, _, traceparent = new_traceparent()
    client.get("/", headers={"traceparent": traceparent})
    collector.wait_for("a span while up", lambda r: r.spans_in(trace_id))

    # Spread over ~4 s, so that exports (every 0.2 s for spans, 1 s for metrics) happen
    # during the measurement in both states.
    up = timed_requests(client, 150, pause=0.02)
    collector.stop()
    down = timed_requests(client, 150, pause=0.02)

    print(f"\ncollector up:   {summary(up)}\ncollector down: {summary(down)}")
    # No request waits for an export: that would take the exporter's retry backoff or its
    # timeout, a second or more. (How much the outage costs per request, a matter of
    # microseconds, is bench/overhead.py's "collector down" mode: timing bounds tight
    # enough to see it would fail on a loaded machine.)
    assert max(down) < 1000, (summary(up), summary(down))
    assert statistics.median(down) < 2 * statistics.median(up) + 50, (summary(up), summary(down))

    collector.start()  # same ports
    trace_id, _, traceparent = new_traceparent()

    def resumed(received) -> bool:
        # Keep sending: the exporter's batch from the outage may be dropped, new ones go.
        client.get("/", headers={"traceparent": traceparent})
        return bool(received.spans_in(trace_id)) and bool(received.logs + received.metrics)

    started = time.monotonic()
    received = collector.wait_for(
        "spans, metrics or logs after it came back", resumed, timeout=50, since_last_start=True
    )
    print(f"telemetry resumed {time.monotonic() - started:.1f} s after the collector restarted")
    assert (
        "http.server.request.duration"
        in collector.wait_for(
            "metrics after it came back",
            lambda r: "http.server.request.duration" in r.metric_names(),
            since_last_start=True,
        ).metric_names()
    )
    assert received.spans_in(trace_id)[0]["name"] == "GET /"


def test_a_service_stops_promptly_while_the_collector_is_down(collector, stack):
    stack.env.update(otlp_env(collector))
    base_url = stack.start_web()
    worker = stack.start_worker()
    for _ in range(20):
        assert httpx.get(f"{base_url}/", timeout=10).status_code == 200
    collector.stop()
    for _ in range(20):
        assert httpx.get(f"{base_url}/", timeout=10).status_code == 200

    started = time.monotonic()
    worker.stop()
    worker_seconds = time.monotonic() - started
    (web,) = [p for p in stack.processes if p is not worker]
    started = time.monotonic()
    stack.stop()
    web_seconds = time.monotonic() - started

    print(f"\nstopped, collector down: worker {worker_seconds:.1f} s, web {web_seconds:.1f} s")
    # The flush at exit waits 3 s at most, so each stops by itself, well before the harness's
    # SIGKILL at 15 s (a killed process would have lost its flush): its exit status says so.
    assert worker.popen.returncode == 0, worker.output()[-3000:]
    assert web.popen.returncode == 0, web.output()[-3000:]
    assert worker_seconds < 15 and web_seconds < 15
