"""Every documented way to serve the app starts telemetry once in each worker process,
after any fork, and flushes it at exit, with the same spans and metrics: gunicorn (sync,
gthread, the uvicorn worker class), uvicorn --workers, and the entry modules under other
servers (waitress for wsgi.py, hypercorn --workers for asgi.py). Against a real collector.

Spans leave a process only in batches of 4 or at exit (a minute's schedule delay), so the
test sees every worker's batches while it sends, and the last request's span only once the
server has stopped: flushed at exit.
"""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import pytest

from tests.harness.collector import otlp_env, spans_named
from tests.harness.telemetry_fixtures import new_traceparent
from tests.harness.web_servers import WEB_SERVERS, start_web_server

pytestmark = pytest.mark.e2e

ROUTE = "/api/users/{user_id}"
SPAN_NAME = f"GET {ROUTE}"
BATCHES_AND_EXIT = {
    "OTEL_BSP_SCHEDULE_DELAY": "60000",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4",
    "OTEL_METRIC_EXPORT_INTERVAL": "60000",
    "OTEL_BLRP_SCHEDULE_DELAY": "60000",
    # Anonymous requests by the hundred, on an API throttled per client address.
    "API_THROTTLE_ANON": "100000/min",
}


def traced_get(base_url: str, user_id: int, traceparent: str | None = None) -> httpx.Response:
    headers = {"traceparent": traceparent} if traceparent else {}
    # A connection per request, so the kernel hands them to any worker.
    with httpx.Client(timeout=20) as client:
        return client.get(f"{base_url}/api/users/{user_id}", headers=headers)


def pids(spans: list[dict]) -> set[int]:
    return {s["resource"]["process.pid"] for s in spans}


def send_until_every_worker_exported(collector, base_url: str, workers: int) -> list[dict]:
    """Send waves of concurrent requests until spans from `workers` processes arrived."""
    deadline = time.monotonic() + 90
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        while True:
            statuses = list(pool.map(lambda n: traced_get(base_url, n).status_code, range(16)))
            assert set(statuses) <= {401, 403}, statuses
            received = collector.received()
            served = spans_named(received.spans, SPAN_NAME)
            if len(pids(served)) >= workers:
                return served
            assert time.monotonic() < deadline, f"spans from {pids(served)} only"
            time.sleep(0.5)


def a_span_held_until_exit(collector, base_url: str) -> tuple[str, str]:
    """(trace id, parent span id) of a request whose span has not left its process after a
    few seconds (it would have if it had filled a batch: then try another)."""
    for _ in range(6):
        trace_id, parent_id, traceparent = new_traceparent()
        assert traced_get(base_url, 7, traceparent).status_code in (401, 403)
        time.sleep(3)
        if not collector.received().spans_in(trace_id):
            return trace_id, parent_id
    raise AssertionError("every request's span left its process before exit")


@pytest.mark.parametrize(
    ("server_name", "extra_env"),
    [
        ("gunicorn-sync", {}),
        ("gunicorn-gthread", {}),
        ("gunicorn-uvicorn", {}),
        ("uvicorn", {}),
        ("uvicorn", {"TELEMETRY_FAST_PATHS": "off"}),
        ("hypercorn", {}),
        ("waitress", {}),
    ],
    ids=[
        "gunicorn-sync",
        "gunicorn-gthread",
        "gunicorn-uvicorn",
        "uvicorn",
        "uvicorn-stock-components",
        "hypercorn",
        "waitress",
    ],
)
def test_it_traces_every_worker_and_flushes_at_exit(collector, stack, server_name, extra_env):
    server = WEB_SERVERS[server_name]
    workers = server.worker_processes(2)
    stack.env.update(otlp_env(collector, **BATCHES_AND_EXIT))
    base_url, proc = start_web_server(stack, server, workers=2, **extra_env)
    # The first request continues the caller's trace.
    first_trace, first_parent, traceparent = new_traceparent()
    response = traced_get(base_url, 1, traceparent)
    assert response.status_code in (401, 403)
    assert response.headers["traceresponse"].startswith(f"00-{first_trace}-")

    served = send_until_every_worker_exported(collector, base_url, workers)
    trace_id, parent_id = a_span_held_until_exit(collector, base_url)
    proc.stop()

    received = collector.wait_for(
        "the span flushed at exit", lambda r: bool(r.spans_in(trace_id)), timeout=30
    )
    (last,) = received.spans_in(trace_id)
    assert last["name"] == SPAN_NAME and last["kind"] == "SPAN_KIND_SERVER"
    assert last["parent_id"] == parent_id
    assert last["attributes"]["http.route"] == ROUTE
    assert last["attributes"]["http.request.method"] == "GET"
    (first,) = received.spans_in(first_trace)
    assert first["parent_id"] == first_parent and first["name"] == SPAN_NAME
    # One instance per worker process, none of them the server's main process unless it is
    # the only one.
    served = spans_named(received.spans, SPAN_NAME)
    resources = [span["resource"] for span in served]
    instances = {(r["process.pid"], r["service.instance.id"]) for r in resources}
    assert len(instances) == workers == len(pids(served)), instances
    if server.processes != "single":
        assert proc.popen.pid not in pids(served)
    else:
        assert pids(served) == {proc.popen.pid}
    # Each worker said once where its telemetry goes.
    announcement = f"traces: OTLP grpc {collector.grpc_endpoint}"
    assert proc.output().count(announcement) == workers, proc.output()[-3000:]
    # The request metrics, flushed at exit too, named by the same route.
    durations = [
        point
        for metric in received.metrics
        if metric["name"] == "http.server.request.duration"
        and metric["resource"]["process.pid"] == last["resource"]["process.pid"]
        for point in metric["points"]
    ]
    assert any(p.get("http.route") == ROUTE for p in durations), durations
